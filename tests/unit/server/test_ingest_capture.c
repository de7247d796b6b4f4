/*
 * Ingest of command replies and waveform captures against a real SQLite
 * database. Payloads are built with the encoder meterd uses (common/wire/),
 * so both ends of the protocol are checked against each other.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "sqlite_fixture.h"

#include "capture.h"
#include "captures.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"

#define RATE 6400.0

static struct sqlite_fixture db;
static struct store *st;
static struct ingest *ing;
static struct server_counters stats;
static int64_t dev_pk;

static int setup(void **state)
{
    (void)state;
    log_set_level(LOGL_ERROR);
    if (sqlite_fixture_open(&db, "test_ingest_capture", (const char *[]){"m1", NULL}, &dev_pk))
        return -1;
    st = db.st;
    /* Readings are small, captures are not: the two caps are separate. */
    struct ingest_limits lim = {
        .max_payload_bytes = 4096, .max_batch = 10, .max_capture_bytes = 1 << 20};
    ing = ingest_new(&(struct store_source){.url = db.url}, &lim, &stats);
    return ing ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ingest_free(ing);
    sqlite_fixture_close(&db);
    return 0;
}

static void request(const char *id, int64_t requested_ms)
{
    assert_int_equal(store_capture_create(st, dev_pk, id, 0, 1000, requested_ms, NULL), 0);
}

static struct capture_rec get(const char *id)
{
    struct capture_rec c;
    assert_int_equal(store_capture_by_request(st, dev_pk, id, &c), 0);
    assert_int_equal(store_capture_get(st, dev_pk, c.id, false, &c), 0);
    return c;
}

/* 230 V, 10 A lagging 36.87 degrees at 50 Hz: P = 1840 W, PF 0.8. */
static void signal(float *v, float *i, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double th = 2 * M_PI * 50.0 * (double)k / RATE;
        v[k] = (float)(230 * M_SQRT2 * sin(th));
        i[k] = (float)(10 * M_SQRT2 * sin(th - 36.87 * M_PI / 180));
    }
}

/* A capture payload from meterd's encoder; the caller frees it. */
static char *capture_payload(const char *id, size_t n, size_t *ret_len)
{
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    assert_non_null(v);
    assert_non_null(i);
    signal(v, i, n);
    struct capture_meta m = {.id = id,
                             .rate_hz = RATE,
                             .start_ms = time_now_ms() - 1000,
                             .nominal_hz = 50,
                             .phase_cal_deg = 0};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(n));
    assert_int_equal(capture_encode(&m, v, i, n, &b), 0);
    free(v);
    free(i);
    return dynbuf_steal(&b, ret_len);
}

static enum ingest_result send_capture(const char *payload, size_t len)
{
    return ingest_message(ing, "meters/m1/capture", payload, len);
}

static enum ingest_result send_reply(const char *payload)
{
    return ingest_message(ing, "meters/m1/reply", payload, strlen(payload));
}

static double analysis_number(const struct capture_rec *c, const char *key)
{
    json_error_t err;
    json_t *root = json_loads(c->analysis, 0, &err);
    assert_non_null(root);
    double x = json_number_value(json_object_get(root, key));
    json_decref(root);
    return x;
}

static void test_a_capture_completes_its_request_with_an_analysis(void **state)
{
    (void)state;
    request("good", time_now_ms());
    size_t len;
    char *p = capture_payload("good", 6400, &len);
    assert_true(len > 4096); /* beyond max_payload_bytes, within max_capture_bytes */
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.captures_stored), 1);

    struct capture_rec c = get("good");
    assert_int_equal(c.status, CAPTURE_COMPLETE);
    assert_int_equal(c.samples, 6400);
    assert_true(c.rate_hz == RATE);
    assert_true(c.nominal_hz == 50);
    assert_non_null(c.analysis);
    assert_true(fabs(analysis_number(&c, "vrms") - 230) < 0.23);
    assert_true(fabs(analysis_number(&c, "irms") - 10) < 0.01);
    assert_true(fabs(analysis_number(&c, "p_w") - 1840) < 3.7);
    assert_true(fabs(analysis_number(&c, "pf") - 0.8) < 0.002);
    assert_true(fabs(analysis_number(&c, "frequency_hz") - 50) < 0.01);
    capture_rec_clear(&c);

    /* the meter's "ok", which follows its capture, is the normal end: nothing to count */
    assert_int_equal(send_reply("{\"id\":\"good\",\"cmd\":\"capture\",\"status\":\"ok\"}"),
                     INGEST_DONE);
    assert_int_equal(atomic_load(&stats.unknown_request), 0);
    assert_int_equal(atomic_load(&stats.invalid), 0);
    /* delivered again (QoS 1): counted, the stored capture stays as it was */
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.unknown_request), 1);
    assert_int_equal(atomic_load(&stats.captures_stored), 1);
    free(p);
}

static void test_captures_and_replies_without_a_pending_request_are_dropped(void **state)
{
    (void)state;
    uint64_t unknown = atomic_load(&stats.unknown_request);
    size_t len;
    char *p = capture_payload("never-asked", 640, &len);
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    free(p);
    assert_int_equal(send_reply("{\"id\":\"never-asked\",\"status\":\"error\",\"message\":\"x\"}"),
                     INGEST_DONE);
    assert_int_equal(atomic_load(&stats.unknown_request), unknown + 2);
    struct capture_rec c;
    assert_int_equal(store_capture_by_request(st, dev_pk, "never-asked", &c), -ENOENT);

    /* for an unknown device */
    uint64_t devices = atomic_load(&stats.unknown_device);
    const char *ok = "{\"id\":\"a\",\"status\":\"ok\"}";
    assert_int_equal(ingest_message(ing, "meters/ghost/reply", ok, strlen(ok)), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.unknown_device), devices + 1);
}

static void test_an_error_reply_fails_the_capture_and_ok_changes_nothing(void **state)
{
    (void)state;
    request("refused", time_now_ms());
    request("accepted", time_now_ms());
    assert_int_equal(send_reply("{\"id\":\"accepted\",\"cmd\":\"capture\",\"status\":\"ok\"}"),
                     INGEST_DONE);
    struct capture_rec c = get("accepted");
    assert_int_equal(c.status, CAPTURE_PENDING);
    assert_int_equal(send_reply("{\"id\":\"refused\",\"cmd\":\"capture\",\"status\":\"error\","
                                "\"message\":\"not enough samples yet\"}"),
                     INGEST_DONE);
    c = get("refused");
    assert_int_equal(c.status, CAPTURE_FAILED);
    assert_string_equal(c.message, "the meter refused: not enough samples yet");

    uint64_t invalid = atomic_load(&stats.invalid);
    assert_int_equal(send_reply("{\"id\":\"accepted\",\"status\":\"maybe\"}"), INGEST_DONE);
    assert_int_equal(send_reply("{\"id\":null,\"status\":\"error\"}"), INGEST_DONE);
    assert_int_equal(send_reply("nonsense"), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.invalid), invalid + 3);
    c = get("accepted");
    assert_int_equal(c.status, CAPTURE_PENDING);
}

/* Replaces the first occurrence of from in a payload (the payload is reallocated). */
static char *edit(char *p, const char *from, const char *to)
{
    char *at = strstr(p, from);
    assert_non_null(at);
    size_t head = (size_t)(at - p), flen = strlen(from), tlen = strlen(to), len = strlen(p);
    char *out = malloc(len - flen + tlen + 1);
    assert_non_null(out);
    memcpy(out, p, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, len - head - flen + 1);
    free(p);
    return out;
}

static void test_an_invalid_capture_fails_its_request_with_the_reason(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"\"rate_hz\":6400", "\"rate_hz\":99", "rate_hz must be"},
        {"\"rate_hz\":6400", "\"rate_hz\":204801", "rate_hz must be"},
        {"\"samples\":640", "\"samples\":641", "holds 3416 bytes of base64, not 641 samples"},
        {"\"samples\":640", "\"samples\":0", "samples must be"},
        {"\"encoding\":\"f32le-base64\"", "\"encoding\":\"f64\"", "encoding must be"},
        {"\"channels\":[\"v\",\"i\"]", "\"channels\":[\"i\",\"v\"]", "channels must be"},
        {"\"units\":[\"V\",\"A\"]", "\"units\":[\"kV\",\"A\"]", "units must be"},
        {"\"nominal_hz\":50", "\"nominal_hz\":55", "nominal_hz must be"},
        {"\"start\":\"", "\"start\":\"x", "start must be"},
        {"\"v\":\"A", "\"v\":\"*", "v is not valid base64"},
        {"\"i\":\"", "\"i\":\"AAAA", "i holds"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char id[16];
        size_t len;
        snprintf(id, sizeof(id), "bad-%zu", k);
        request(id, time_now_ms());
        char *p = capture_payload(id, 640, &len);
        p = edit(p, cases[k].from, cases[k].to);
        assert_int_equal(send_capture(p, strlen(p)), INGEST_DONE);
        free(p);
        struct capture_rec c = get(id);
        if (c.status != CAPTURE_FAILED || !strstr(c.message, cases[k].reason))
            fail_msg("case %zu: state %d message '%s'", k, c.status, c.message);
    }
}

static void test_non_finite_samples_are_refused(void **state)
{
    (void)state;
    float v[700], i[700];
    signal(v, i, 700);
    i[699] = NAN;
    struct capture_meta m = {
        .id = "nan", .rate_hz = RATE, .start_ms = time_now_ms(), .nominal_hz = 50};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(700));
    assert_int_equal(capture_encode(&m, v, i, 700, &b), 0);
    request("nan", time_now_ms());
    assert_int_equal(send_capture(b.buf, b.len), INGEST_DONE);
    dynbuf_free(&b);
    struct capture_rec c = get("nan");
    assert_int_equal(c.status, CAPTURE_FAILED);
    assert_non_null(strstr(c.message, "i[699] is not finite"));
}

static void test_a_late_capture_times_its_request_out(void **state)
{
    (void)state;
    request("late", time_now_ms() - CAPTURES_TIMEOUT_MS - 1000);
    size_t len;
    char *p = capture_payload("late", 640, &len);
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    free(p);
    struct capture_rec c = get("late");
    assert_int_equal(c.status, CAPTURE_FAILED);
    assert_string_equal(c.message, "the meter did not answer within 30 s");
}

static void test_a_short_capture_is_kept_without_an_analysis(void **state)
{
    (void)state;
    request("short", time_now_ms());
    size_t len;
    char *p = capture_payload("short", 640, &len); /* 100 ms: less than one 10-cycle window */
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    free(p);
    struct capture_rec c = get("short");
    assert_int_equal(c.status, CAPTURE_COMPLETE);
    assert_int_equal(c.samples, 640);
    assert_null(c.analysis);
    assert_non_null(strstr(c.message, "too short"));
}

static void test_an_oversized_capture_is_counted_and_dropped(void **state)
{
    (void)state;
    uint64_t big = atomic_load(&stats.too_large);
    size_t len = (1 << 20) + 1;
    char *p = malloc(len);
    assert_non_null(p);
    memset(p, ' ', len);
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    free(p);
    assert_int_equal(atomic_load(&stats.too_large), big + 1);
}

/*
 * Three phases at 50 Hz, sequence abc, each current lagging its voltage by 30 degrees:
 * va 230 V, vb 207 V (90 %), vc 230 V; ia 10 A, ib 12 A, ic 8 A.
 */
static const double PH_V[3] = {230, 207, 230}, PH_I[3] = {10, 12, 8};
#define LAG (30 * M_PI / 180)

static double phase_angle(int p)
{
    return -2 * M_PI / 3 * p; /* a 0, b -120, c +120 (= -240) degrees */
}

/* A 3p4w (or, three_wire, Aron 3p3w: vab, vbc, ia, ic) capture payload; the caller frees it. */
static char *capture3_payload(const char *id, size_t n, bool three_wire, size_t *ret_len)
{
    struct capture_layout l;
    float *x[CAPTURE_MAX_CHANNELS];
    if (three_wire)
        l = (struct capture_layout){
            .wiring = CAPTURE_WIRING_3P3W,
            .count = 4,
            .ch = {CAPTURE_CH_VAB, CAPTURE_CH_VBC, CAPTURE_CH_IA, CAPTURE_CH_IC}};
    else
        capture_layout_3p4w(&l);
    for (size_t c = 0; c < l.count; c++) {
        x[c] = malloc(n * sizeof(float));
        assert_non_null(x[c]);
    }
    for (size_t k = 0; k < n; k++) {
        double th = 2 * M_PI * 50.0 * (double)k / RATE, v[3], i[3];
        for (int p = 0; p < 3; p++) {
            v[p] = PH_V[p] * M_SQRT2 * sin(th + phase_angle(p));
            i[p] = PH_I[p] * M_SQRT2 * sin(th + phase_angle(p) - LAG);
        }
        if (three_wire) {
            x[0][k] = (float)(v[0] - v[1]);
            x[1][k] = (float)(v[1] - v[2]);
            x[2][k] = (float)i[0];
            x[3][k] = (float)i[2];
        } else {
            for (int p = 0; p < 3; p++) {
                x[p][k] = (float)v[p];
                x[3 + p][k] = (float)i[p];
            }
        }
    }
    struct capture_meta m = {
        .id = id, .rate_hz = RATE, .start_ms = time_now_ms() - 1000, .nominal_hz = 50};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max_set(n, l.count));
    const float *cx[CAPTURE_MAX_CHANNELS];
    for (size_t c = 0; c < l.count; c++)
        cx[c] = x[c];
    assert_int_equal(capture_encode_set(&m, &l, cx, n, &b), 0);
    for (size_t c = 0; c < l.count; c++)
        free(x[c]);
    return dynbuf_steal(&b, ret_len);
}

static double path_number(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *t = json_object_get(root, a);
    if (b)
        t = json_object_get(t, b);
    if (c)
        t = json_object_get(t, c);
    if (!json_is_number(t))
        fail_msg("%s.%s.%s is not a number", a, b ? b : "", c ? c : "");
    return json_number_value(t);
}

static void assert_near(double got, double want, double rel)
{
    if (fabs(got - want) > rel * fabs(want))
        fail_msg("got %.6f, want %.6f (within %.3f %%)", got, want, rel * 100);
}

static void
test_a_three_phase_capture_is_stored_with_every_channel_and_analysed_per_phase(void **state)
{
    (void)state;
    request("three", time_now_ms());
    size_t len;
    char *p = capture3_payload("three", 6400, false, &len);
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    struct capture_rec c = get("three");
    assert_int_equal(c.status, CAPTURE_COMPLETE);
    if (!c.analysis)
        fail_msg("no analysis: %s", c.message);
    assert_string_equal(c.wiring, "3p4w");
    assert_int_equal(c.channels, 6);
    assert_string_equal(c.channel[0], "va");
    assert_string_equal(c.channel[5], "ic");

    json_error_t jerr;
    json_t *a = json_loads(c.analysis, 0, &jerr);
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "wiring")), "3p4w");
    assert_string_equal(json_string_value(json_object_get(a, "sequence")), "abc");
    static const char *const ph[3] = {"a", "b", "c"};
    double total = 0, in_re = 0, in_im = 0;
    for (int k = 0; k < 3; k++) {
        double pw = PH_V[k] * PH_I[k] * cos(LAG);
        total += pw;
        in_re += PH_I[k] * cos(phase_angle(k) - LAG);
        in_im += PH_I[k] * sin(phase_angle(k) - LAG);
        assert_near(path_number(a, "phases", ph[k], "vrms"), PH_V[k], 0.001);
        assert_near(path_number(a, "phases", ph[k], "irms"), PH_I[k], 0.001);
        assert_near(path_number(a, "phases", ph[k], "p_w"), pw, 0.002);
        assert_near(path_number(a, "phases", ph[k], "pf"), cos(LAG), 0.002);
    }
    assert_near(path_number(a, "p_w", NULL, NULL), total, 0.002);
    assert_near(path_number(a, "neutral_irms", NULL, NULL), hypot(in_re, in_im), 0.005);
    assert_near(path_number(a, "frequency_hz", NULL, NULL), 50, 0.0001);
    assert_true(path_number(a, "unbalance_u2_pct", NULL, NULL) > 2); /* vb at 90 % */
    json_decref(a);
    capture_rec_clear(&c);

    /* The samples come back as sent, channel by channel. */
    struct capture_rec full;
    assert_int_equal(store_capture_by_request(st, dev_pk, "three", &full), 0);
    int64_t id = full.id;
    assert_int_equal(store_capture_get(st, dev_pk, id, true, &full), 0);
    assert_null(full.v);
    for (int k = 0; k < 6; k++)
        assert_non_null(full.x[k]);
    assert_near(full.x[1][1600],
                PH_V[1] * M_SQRT2 * sin(2 * M_PI * 50.0 * 1600 / RATE + phase_angle(1)), 1e-6);
    capture_rec_clear(&full);
    free(p);
}

static void test_an_aron_capture_gives_the_true_total_power(void **state)
{
    (void)state;
    request("aron", time_now_ms());
    size_t len;
    char *p = capture3_payload("aron", 6400, true, &len);
    assert_int_equal(send_capture(p, len), INGEST_DONE);
    struct capture_rec c = get("aron");
    if (!c.analysis)
        fail_msg("no analysis: %s", c.message);
    assert_string_equal(c.wiring, "3p3w");
    assert_int_equal(c.channels, 4);
    assert_string_equal(c.channel[1], "vbc");
    assert_string_equal(c.channel[3], "ic");
    json_error_t jerr;
    json_t *a = json_loads(c.analysis, 0, &jerr);
    assert_non_null(a);
    /* What two wattmeters read on these samples, P = vab.ia + vcb.ic averaged. */
    double p2 = 0;
    for (int k = 0; k < 6400; k++) {
        double th = 2 * M_PI * 50.0 * k / RATE, v[3], i[3];
        for (int q = 0; q < 3; q++) {
            v[q] = PH_V[q] * M_SQRT2 * sin(th + phase_angle(q));
            i[q] = PH_I[q] * M_SQRT2 * sin(th + phase_angle(q) - LAG);
        }
        p2 += (v[0] - v[1]) * i[0] + (v[2] - v[1]) * i[2];
    }
    p2 /= 6400;
    assert_near(path_number(a, "p_w", NULL, NULL), p2, 0.002);
    assert_true(json_is_null(json_object_get(a, "neutral_irms")));
    json_decref(a);
    capture_rec_clear(&c);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capture_completes_its_request_with_an_analysis),
        cmocka_unit_test(test_captures_and_replies_without_a_pending_request_are_dropped),
        cmocka_unit_test(test_an_error_reply_fails_the_capture_and_ok_changes_nothing),
        cmocka_unit_test(test_an_invalid_capture_fails_its_request_with_the_reason),
        cmocka_unit_test(test_non_finite_samples_are_refused),
        cmocka_unit_test(test_a_late_capture_times_its_request_out),
        cmocka_unit_test(test_a_short_capture_is_kept_without_an_analysis),
        cmocka_unit_test(test_an_oversized_capture_is_counted_and_dropped),
        cmocka_unit_test(
            test_a_three_phase_capture_is_stored_with_every_channel_and_analysed_per_phase),
        cmocka_unit_test(test_an_aron_capture_gives_the_true_total_power),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
