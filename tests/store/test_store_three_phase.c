/*
 * The storage contract of three-phase metering, on every backend like
 * test_store_contract.c: per-phase rollups, bucket queries of a field group,
 * the month's maximum demand, multi-channel captures.
 * Usage: test_store_three_phase URL   (sqlite:PATH or mysql://...; the
 * database must be empty; a sqlite file is removed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sitetime.h"
#include "store.h"
#include "store_fixture.h"
#include "timeutil.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* 2026-11-30T23:00:00Z: an hour before December in UTC */
#define T0_MS INT64_C(1796079600000)
#define HOUR  INT64_C(3600000)

static int64_t add_device(const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    return id;
}

/* A 3p4w reading: phase k at 230 - k V, 10 + k A, 2000 + 100 k W; the aggregates beside. */
static struct reading three_phase(uint64_t seq, int64_t ts, double scale)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, 229 * scale);
    reading_set_real(&r, RR_CURRENT, 11 * scale);
    reading_set_real(&r, RR_POWER_W, 6300 * scale);
    static const enum reading_real v[3] = {RR_VOLTAGE_A, RR_VOLTAGE_B, RR_VOLTAGE_C};
    static const enum reading_real i[3] = {RR_CURRENT_A, RR_CURRENT_B, RR_CURRENT_C};
    static const enum reading_real p[3] = {RR_POWER_W_A, RR_POWER_W_B, RR_POWER_W_C};
    for (int k = 0; k < 3; k++) {
        reading_set_real(&r, v[k], (230 - k) * scale);
        reading_set_real(&r, i[k], (10 + k) * scale);
        reading_set_real(&r, p[k], (2000 + 100 * k) * scale);
    }
    reading_set_real(&r, RR_VOLTAGE_AB, 398 * scale);
    reading_set_counter(&r, RC_ENERGY_IMPORT_A, (int64_t)(seq * 1000));
    assert_int_equal(reading_set_label(&r, RL_WIRING, "3p4w"), 0);
    return r;
}

static struct reading single_phase(uint64_t seq, int64_t ts)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, 231);
    reading_set_real(&r, RR_CURRENT, 5);
    return r;
}

static int group_setup(void **state)
{
    (void)state;
    return store_fixture_open(url, STORE_FIXTURE_MIGRATE | STORE_FIXTURE_UTC, &st);
}

static int group_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

static void test_per_phase_rollups_keep_each_phase(void **state)
{
    (void)state;
    int64_t d = add_device("r3");
    struct reading r[3] = {three_phase(1, T0_MS + 1000, 1), three_phase(2, T0_MS + 2000, 1.1),
                           single_phase(3, T0_MS + 3000)};
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(st, d, r, 3, &inserted), 0);
    assert_int_equal(inserted, 3);
    /* A replay changes nothing. */
    assert_int_equal(store_readings_insert(st, d, r, 3, &inserted), 0);
    assert_int_equal(inserted, 0);

    struct rollup_delta m;
    assert_int_equal(store_rollup_get(st, d, ROLLUP_1M, T0_MS, &m), 0);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.m[RM_VOLTAGE_A].n, 2); /* the single-phase reading has none */
    assert_true(m.m[RM_VOLTAGE_A].sum == 230 + 230 * 1.1);
    assert_true(m.m[RM_VOLTAGE_B].min == 229 && m.m[RM_VOLTAGE_B].max == 229 * 1.1);
    assert_true(m.m[RM_CURRENT_C].max == 12 * 1.1);
    assert_true(m.m[RM_POWER_W_B].sum == 2100 + 2100 * 1.1);
    assert_int_equal(m.m[RM_POWER_W_C].n, 2);
    assert_true(m.m[RM_VOLTAGE].sum == 229 + 229 * 1.1 + 231);

    /* Per-phase rollups outlive the raw readings. */
    size_t deleted = 0;
    assert_int_equal(store_readings_delete_before(st, d, T0_MS + HOUR, 1000, &deleted), 0);
    assert_true(deleted >= 3);
    assert_int_equal(store_rollup_get(st, d, ROLLUP_1H, T0_MS, &m), 0);
    assert_int_equal(m.m[RM_CURRENT_A].n, 2);
    assert_true(m.m[RM_CURRENT_A].min == 10);
}

struct seen_rollups {
    size_t n;
    struct rollup_rec r;
};

static int first_rollup(const struct rollup_rec *r, void *ctx)
{
    struct seen_rollups *s = ctx;
    if (s->n++ == 0)
        s->r = *r;
    return 0;
}

static void test_a_rollup_query_reads_only_its_field_group(void **state)
{
    (void)state;
    int64_t d = add_device("rq3");
    struct reading r[2] = {three_phase(1, T0_MS + 1000, 1), three_phase(2, T0_MS + 61000, 2)};
    assert_int_equal(store_readings_insert(st, d, r, 2, NULL), 0);
    struct seen_rollups s = {0};
    assert_int_equal(store_rollups_query_of(st, d, ROLLUP_1M, T0_MS, T0_MS + HOUR, true,
                                            READING_FIELDS_PHASE_B, 10, first_rollup, &s),
                     0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.r.bucket_ms, T0_MS + 60000); /* newest first */
    assert_int_equal(s.r.n, 1);
    assert_int_equal(s.r.metric_n[RM_VOLTAGE_B], 1);
    assert_true(s.r.sum[RM_VOLTAGE_B] == 229 * 2);
    assert_true(s.r.max[RM_POWER_W_B] == 2100 * 2);
    assert_int_equal(s.r.metric_n[RM_VOLTAGE], 0); /* not read */
    assert_int_equal(s.r.metric_n[RM_VOLTAGE_A], 0);

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_rollups_query_of(st, d, ROLLUP_1M, T0_MS, T0_MS + HOUR, false,
                                            READING_FIELDS_SYSTEM, 10, first_rollup, &s),
                     0);
    assert_int_equal(s.r.bucket_ms, T0_MS);
    assert_int_equal(s.r.metric_n[RM_VOLTAGE], 1);
    assert_true(s.r.sum[RM_POWER_W] == 6300);
    assert_int_equal(s.r.metric_n[RM_CURRENT_C], 0);

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_rollups_query_of(st, d, ROLLUP_1M, T0_MS, T0_MS + HOUR, false,
                                            READING_FIELDS_ALL, 10, first_rollup, &s),
                     0);
    assert_int_equal(s.r.metric_n[RM_VOLTAGE], 1);
    assert_int_equal(s.r.metric_n[RM_CURRENT_C], 1);
}

struct seen_buckets {
    size_t n;
    struct reading_bucket b[4];
};

static int collect(const struct reading_bucket *b, void *ctx)
{
    struct seen_buckets *s = ctx;
    if (s->n < 4)
        s->b[s->n] = *b;
    s->n++;
    return 0;
}

static bool has_real(const struct reading_bucket *b, enum reading_real f)
{
    return b->real_present & (UINT64_C(1) << f);
}

static void test_a_bucket_query_aggregates_only_its_field_group(void **state)
{
    (void)state;
    int64_t d = add_device("b3");
    struct reading r[2] = {three_phase(1, T0_MS + 1000, 1), three_phase(2, T0_MS + 2000, 1.5)};
    assert_int_equal(store_readings_insert(st, d, r, 2, NULL), 0);

    struct seen_buckets s = {0};
    assert_int_equal(store_readings_buckets_of(st, d, T0_MS, T0_MS + 60000, 10000,
                                               READING_FIELDS_PHASE_B, 10, collect, &s),
                     0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.b[0].count, 2);
    assert_true(has_real(&s.b[0], RR_VOLTAGE_B));
    assert_true(s.b[0].avg[RR_VOLTAGE_B] == 229 * 1.25);
    assert_true(s.b[0].max[RR_CURRENT_B] == 11 * 1.5);
    assert_false(has_real(&s.b[0], RR_VOLTAGE_A));
    assert_false(has_real(&s.b[0], RR_VOLTAGE));
    assert_false(s.b[0].counter_present & (UINT64_C(1) << RC_ENERGY_IMPORT_A));

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_readings_buckets_of(st, d, T0_MS, T0_MS + 60000, 10000,
                                               READING_FIELDS_PHASE_A, 10, collect, &s),
                     0);
    assert_true(s.b[0].counter_present & (UINT64_C(1) << RC_ENERGY_IMPORT_A));
    assert_int_equal(s.b[0].counter_last[RC_ENERGY_IMPORT_A], 2000);

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_readings_buckets_of(st, d, T0_MS, T0_MS + 60000, 10000,
                                               READING_FIELDS_SINGLE, 10, collect, &s),
                     0);
    assert_true(has_real(&s.b[0], RR_VOLTAGE) && has_real(&s.b[0], RR_POWER_W));
    assert_false(has_real(&s.b[0], RR_VOLTAGE_AB) || has_real(&s.b[0], RR_VOLTAGE_A));

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_readings_buckets_of(st, d, T0_MS, T0_MS + 60000, 10000,
                                               READING_FIELDS_SYSTEM, 10, collect, &s),
                     0);
    assert_true(has_real(&s.b[0], RR_VOLTAGE) && has_real(&s.b[0], RR_VOLTAGE_AB));
    assert_false(has_real(&s.b[0], RR_VOLTAGE_C));

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_readings_buckets(st, d, T0_MS, T0_MS + 60000, 10000, 10, collect, &s),
                     0);
    assert_true(has_real(&s.b[0], RR_VOLTAGE) && has_real(&s.b[0], RR_VOLTAGE_C));
    assert_true(s.b[0].min[RR_POWER_W_C] == 2200);
}

static struct reading with_demand(uint64_t seq, int64_t ts, double demand_w, double meter_max_w,
                                  int64_t meter_max_ms)
{
    struct reading r = single_phase(seq, ts);
    if (demand_w >= 0)
        reading_set_real(&r, RR_DEMAND_W, demand_w);
    if (meter_max_w >= 0) {
        reading_set_real(&r, RR_DEMAND_MAX_W, meter_max_w);
        if (meter_max_ms)
            reading_set_counter(&r, RC_DEMAND_MAX_TS, meter_max_ms);
    }
    return r;
}

static void test_the_months_maximum_demand_is_kept_with_its_time(void **state)
{
    (void)state;
    int64_t d = add_device("md"), other = add_device("md-other");
    /* November's last hour, then December. */
    struct reading r[5] = {
        with_demand(1, T0_MS + 60000, 5000, 5200, T0_MS - 5 * HOUR),
        with_demand(2, T0_MS + 120000, 5100, 5200, T0_MS - 5 * HOUR),
        with_demand(3, T0_MS + HOUR + 60000, 4000, 4000, T0_MS + HOUR + 60000),
        with_demand(4, T0_MS + 2 * HOUR, 4500, 4500, T0_MS + 2 * HOUR),
        with_demand(5, T0_MS + 3 * HOUR, 4500, -1, 0), /* equal: the earlier time stays */
    };
    assert_int_equal(store_readings_insert(st, d, r, 2, NULL), 0);
    assert_int_equal(store_readings_insert(st, d, r + 2, 3, NULL), 0);
    struct reading lower = with_demand(1, T0_MS + 600000, 100, -1, 0);
    assert_int_equal(store_readings_insert(st, other, &lower, 1, NULL), 0);
    /* A replayed batch counts once. */
    assert_int_equal(store_readings_insert(st, d, r, 5, NULL), 0);

    struct demand_month m;
    assert_int_equal(store_demand_month(st, d, "2026-11", &m), 0);
    assert_string_equal(m.month, "2026-11");
    assert_true(m.has_demand && m.demand_max_w == 5100);
    assert_int_equal(m.demand_max_ms, T0_MS + 120000);
    assert_true(m.has_meter && m.meter_max_w == 5200);
    assert_int_equal(m.meter_max_ms, T0_MS - 5 * HOUR);
    assert_int_equal(m.readings, 2);

    assert_int_equal(store_demand_month(st, d, "2026-12", &m), 0);
    assert_true(m.demand_max_w == 4500);
    assert_int_equal(m.demand_max_ms, T0_MS + 2 * HOUR);
    assert_true(m.meter_max_w == 4500);
    assert_int_equal(m.readings, 3);
    assert_int_equal(store_demand_month(st, d, "2026-10", &m), -ENOENT);
    assert_int_equal(store_demand_month(st, other, "2026-11", &m), 0);
    assert_true(m.demand_max_w == 100 && !m.has_meter);

    /* A larger value later replaces it. */
    struct reading peak = with_demand(6, T0_MS + 4 * HOUR, 6000, -1, 0);
    assert_int_equal(store_readings_insert(st, d, &peak, 1, NULL), 0);
    assert_int_equal(store_demand_month(st, d, "2026-12", &m), 0);
    assert_true(m.demand_max_w == 6000);
    assert_int_equal(m.demand_max_ms, T0_MS + 4 * HOUR);
    assert_true(m.meter_max_w == 4500);
}

static void test_a_deleted_device_takes_its_demand_and_rollups(void **state)
{
    (void)state;
    int64_t d = add_device("md-gone");
    struct reading r = with_demand(1, T0_MS + 60000, 700, 700, T0_MS + 60000);
    assert_int_equal(store_readings_insert(st, d, &r, 1, NULL), 0);
    struct demand_month m;
    assert_int_equal(store_demand_month(st, d, "2026-11", &m), 0);
    assert_int_equal(store_device_delete(st, "md-gone"), 0);
    assert_int_equal(store_demand_month(st, d, "2026-11", &m), -ENOENT);
    struct rollup_delta roll;
    assert_int_equal(store_rollup_get(st, d, ROLLUP_1M, T0_MS + 60000, &roll), -ENOENT);
}

struct months {
    size_t n;
    char month[4][8];
};

static int collect_month(const struct demand_month *d, void *ctx)
{
    struct months *m = ctx;
    if (m->n < 4)
        memcpy(m->month[m->n], d->month, sizeof(m->month[0]));
    m->n++;
    return 0;
}

static void test_demand_months_list_newest_first(void **state)
{
    (void)state;
    int64_t d = add_device("md-list");
    struct reading r[3] = {
        with_demand(1, T0_MS - 40 * 24 * HOUR, 10, -1, 0), /* October */
        with_demand(2, T0_MS, 20, -1, 0),                  /* November */
        with_demand(3, T0_MS + 2 * HOUR, 30, -1, 0),       /* December */
    };
    assert_int_equal(store_readings_insert(st, d, r, 3, NULL), 0);
    struct months m = {0};
    assert_int_equal(store_demand_list(st, d, 10, collect_month, &m), 0);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.month[0], "2026-12");
    assert_string_equal(m.month[2], "2026-10");
    memset(&m, 0, sizeof(m));
    assert_int_equal(store_demand_list(st, d, 2, collect_month, &m), 0);
    assert_int_equal(m.n, 2);
}

static void test_a_six_channel_capture_round_trips_with_its_channels(void **state)
{
    (void)state;
    int64_t d = add_device("cap3");
    int64_t id = 0;
    assert_int_equal(store_capture_create(st, d, "six", 0, 1000, T0_MS, &id), 0);
    enum { N = 777 };
    static float x[6][N];
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < N; j++)
            x[k][j] = (float)(k * 1000 + j) * (k % 2 ? -0.5f : 0.25f);
    struct capture_data data = {.rate_hz = 6400,
                                .nominal_hz = 50,
                                .start_ms = T0_MS,
                                .received_ms = T0_MS + 2000,
                                .samples = N,
                                .wiring = "3p4w",
                                .channels = 6,
                                .channel = {"va", "vb", "vc", "ia", "ib", "ic"},
                                .x = {x[0], x[1], x[2], x[3], x[4], x[5]},
                                .analysis = "{\"wiring\":\"3p4w\"}"};
    struct capture_data bad = data;
    bad.channel[2] = "v c";
    assert_int_equal(store_capture_complete(st, d, "six", &bad), -EINVAL);
    bad = data;
    bad.channels = 7;
    assert_int_equal(store_capture_complete(st, d, "six", &bad), -EINVAL);
    assert_int_equal(store_capture_complete(st, d, "six", &data), 0);

    struct capture_rec c;
    assert_int_equal(store_capture_get(st, d, id, true, &c), 0);
    assert_string_equal(c.wiring, "3p4w");
    assert_int_equal(c.channels, 6);
    assert_string_equal(c.channel[0], "va");
    assert_string_equal(c.channel[4], "ib");
    assert_null(c.v);
    assert_null(c.i);
    for (int k = 0; k < 6; k++)
        assert_memory_equal(c.x[k], x[k], sizeof(x[k]));
    capture_rec_clear(&c);
    assert_null(c.x[0]);

    /* A single-phase capture reads as v and i, as it always did. */
    int64_t id1 = 0;
    assert_int_equal(store_capture_create(st, d, "one", 0, 1000, T0_MS, &id1), 0);
    struct capture_data one = {
        .rate_hz = 6400, .nominal_hz = 50, .samples = N, .v = x[0], .i = x[3]};
    assert_int_equal(store_capture_complete(st, d, "one", &one), 0);
    assert_int_equal(store_capture_get(st, d, id1, true, &c), 0);
    assert_string_equal(c.wiring, "1p2w");
    assert_int_equal(c.channels, 2);
    assert_string_equal(c.channel[1], "i");
    assert_memory_equal(c.v, x[0], sizeof(x[0]));
    assert_memory_equal(c.i, x[3], sizeof(x[3]));
    assert_ptr_equal(c.x[1], c.i);
    capture_rec_clear(&c);
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_phase_rollups_keep_each_phase),
        cmocka_unit_test(test_a_bucket_query_aggregates_only_its_field_group),
        cmocka_unit_test(test_a_rollup_query_reads_only_its_field_group),
        cmocka_unit_test(test_the_months_maximum_demand_is_kept_with_its_time),
        cmocka_unit_test(test_demand_months_list_newest_first),
        cmocka_unit_test(test_a_deleted_device_takes_its_demand_and_rollups),
        cmocka_unit_test(test_a_six_channel_capture_round_trips_with_its_channels),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
