/*
 * The telemetry decoder (common/wire/telemetry.c, telemetry_decode) on one
 * object or an array of them, with the options of both of the server's
 * callers: MQTT ingest (seq and ts required, the device from the topic) and
 * the HTTP upload (both optional, the device's own id checked).
 *
 * Checks: the counts add up; every valid reading has its required fields and
 * every value in its table's range; and the valid readings, encoded as the
 * meter encodes them (telemetry_encode_payload), decode again to the same
 * readings: seq, ts and counters exactly (energy to the mWh below 2^50 mWh),
 * reals to the encoder's six decimals.
 *
 * And the tree-less decoder (telemetry_fast.c): whenever it answers, the general one
 * (jansson's tree, telemetry_decode_json) finds the same readings, byte for byte, all valid.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dynbuf.h"
#include "fuzz.h"
#include "jsonutil.h"
#include "telemetry.h"
#include "timeutil.h"

#define MAX_ITEMS  64
#define MAX_FUTURE (24 * 3600 * 1000)

static const struct telemetry_opts mqtt_opts = {
    .device_id = "meter-a",
    .now_ms = FUZZ_NOW_MS,
    .max_future_ms = MAX_FUTURE,
    .require_seq_ts = true,
    .max_items = MAX_ITEMS,
};

static const struct telemetry_opts http_opts = {
    .device_id = "meter-a",
    .now_ms = FUZZ_NOW_MS,
    .max_future_ms = MAX_FUTURE,
    .require_seq_ts = false,
    .max_items = MAX_ITEMS,
};

static void check_ranges(const struct reading *r)
{
    FUZZ_CHECK(r->ts_ms >= TIME_MIN_VALID_MS && r->ts_ms <= FUZZ_NOW_MS + MAX_FUTURE);
    FUZZ_CHECK(!r->has_seq || r->seq <= READING_SEQ_MAX);
    for (int f = 0; f < RR__COUNT; f++) {
        const struct reading_real_desc *d = &reading_reals[f];
        if (!reading_has_real(r, (enum reading_real)f)) {
            FUZZ_CHECK(!d->required);
            continue;
        }
        FUZZ_CHECK(isfinite(r->real[f]) && r->real[f] >= d->min && r->real[f] <= d->max);
    }
    for (int c = 0; c < RC__COUNT; c++) {
        const struct reading_counter_desc *d = &reading_counters[c];
        if (reading_has_counter(r, (enum reading_counter)c))
            FUZZ_CHECK(r->counter[c] >= 0 && r->counter[c] <= d->max * d->scale);
    }
}

/* Six decimals, plus what a double holds of values up to 1e10. */
static bool same_real(double a, double b)
{
    return fabs(a - b) <= 1e-6 + fabs(a) * 1e-12;
}

/* Exact while a decimal of Wh converts back exactly (below 2^50 mWh), then nearly. */
static bool same_counter(int64_t a, int64_t b)
{
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
    return d <= (uint64_t)a >> 50;
}

static void check_same(const struct reading *a, const struct reading *b)
{
    /* The encoder always writes a seq; without one the reading had seq 0. */
    FUZZ_CHECK(b->has_seq && b->seq == a->seq);
    FUZZ_CHECK(b->ts_ms == a->ts_ms);
    FUZZ_CHECK(b->real_present == a->real_present && b->counter_present == a->counter_present);
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_has_real(a, (enum reading_real)f))
            FUZZ_CHECK(same_real(a->real[f], b->real[f]));
    for (int c = 0; c < RC__COUNT; c++)
        if (reading_has_counter(a, (enum reading_counter)c))
            FUZZ_CHECK(same_counter(a->counter[c], b->counter[c]));
}

static void decode_and_check(const uint8_t *data, size_t size, const struct telemetry_opts *o)
{
    static struct reading out[MAX_ITEMS], again[MAX_ITEMS];
    struct telemetry_result res, res2;

    if (telemetry_decode((const char *)data, size, o, out, MAX_ITEMS, &res)) {
        FUZZ_CHECK(res.n_valid == 0 && res.first_error[0]);
        return;
    }
    FUZZ_CHECK(res.n_valid + res.n_invalid >= 1 && res.n_valid + res.n_invalid <= MAX_ITEMS);
    FUZZ_CHECK(res.n_invalid == 0 || res.first_error[0]);
    if (res.n_valid == 0)
        return;
    for (size_t k = 0; k < res.n_valid; k++)
        check_ranges(&out[k]);

    struct dynbuf b;
    dynbuf_init(&b, 1 << 20);
    FUZZ_CHECK(telemetry_encode_payload(out, res.n_valid, true, &b) == 0);
    FUZZ_CHECK(telemetry_decode(dynbuf_str(&b), b.len, &mqtt_opts, again, MAX_ITEMS, &res2) == 0);
    FUZZ_CHECK(res2.n_valid == res.n_valid && res2.n_invalid == 0);
    for (size_t k = 0; k < res.n_valid; k++)
        check_same(&out[k], &again[k]);
    dynbuf_free(&b);
}

static void fast_agrees(const uint8_t *data, size_t size, const struct telemetry_opts *o)
{
    static struct reading fast[MAX_ITEMS], slow[MAX_ITEMS];
    struct telemetry_result rf, rs;
    if (!telemetry_decode_fast((const char *)data, size, o, fast, MAX_ITEMS, &rf))
        return;
    json_t *root;
    char err[JSON_ERR_LEN];
    FUZZ_CHECK(json_load_limited((const char *)data, size, TELEMETRY_MAX_DEPTH, &root, err) == 0);
    FUZZ_CHECK(telemetry_decode_json(root, o, slow, MAX_ITEMS, &rs) == 0);
    json_decref(root);
    FUZZ_CHECK(rf.n_invalid == 0 && rs.n_invalid == 0 && rs.n_valid == rf.n_valid);
    FUZZ_CHECK(memcmp(fast, slow, rf.n_valid * sizeof(fast[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fast_agrees(data, size, &mqtt_opts);
    fast_agrees(data, size, &http_opts);
    decode_and_check(data, size, &mqtt_opts);
    decode_and_check(data, size, &http_opts);
    return 0;
}
