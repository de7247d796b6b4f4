/* rollup.c: readings -> per (device, period, bucket) deltas, pure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rollup.h"
#include "sitetime.h"

#define T0_MS   INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define MIN_MS  INT64_C(60000)
#define HOUR_MS INT64_C(3600000)

static struct reading reading(int64_t ts, double v, double i)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, v);
    reading_set_real(&r, RR_CURRENT, i);
    return r;
}

static const struct rollup_delta *find(const struct rollup_delta *d, size_t n, int64_t dev,
                                       enum rollup_period p, int64_t bucket)
{
    for (size_t k = 0; k < n; k++)
        if (d[k].device_pk == dev && d[k].period == p && d[k].bucket_ms == bucket)
            return &d[k];
    return NULL;
}

static void test_buckets_are_utc_minutes_hours_and_site_days(void **state)
{
    (void)state;
    assert_int_equal(rollup_bucket(ROLLUP_1M, T0_MS + 59999), T0_MS);
    assert_int_equal(rollup_bucket(ROLLUP_1M, T0_MS + 60000), T0_MS + MIN_MS);
    assert_int_equal(rollup_bucket(ROLLUP_1H, T0_MS + HOUR_MS - 1), T0_MS);
    assert_int_equal(rollup_bucket(ROLLUP_1D, T0_MS + 23 * HOUR_MS), T0_MS);
    char err[128];
    assert_int_equal(sitetime_set_zone("Asia/Shanghai", err, sizeof(err)), 0);
    /* 2026-01-01T17:00Z is 01:00 on Jan 2 in Shanghai, whose day began at 16:00Z. */
    assert_int_equal(rollup_bucket(ROLLUP_1D, T0_MS + 17 * HOUR_MS), T0_MS + 16 * HOUR_MS);
    assert_int_equal(rollup_bucket(ROLLUP_1H, T0_MS + 17 * HOUR_MS), T0_MS + 17 * HOUR_MS);
    assert_int_equal(sitetime_set_zone("UTC", err, sizeof(err)), 0);
    assert_string_equal(rollup_period_name(ROLLUP_1M), "1m");
    assert_string_equal(rollup_period_name(ROLLUP_1H), "1h");
    assert_string_equal(rollup_period_name(ROLLUP_1D), "1d");
}

static void test_one_delta_per_key_sorted_with_sums_and_extremes(void **state)
{
    (void)state;
    struct reading r[4] = {reading(T0_MS + 1000, 230, 5), reading(T0_MS + 2000, 240, 7),
                           reading(T0_MS + MIN_MS, 220, 1), reading(T0_MS + 500, 100, 100)};
    reading_set_real(&r[0], RR_VOLTAGE_MIN, 225);
    reading_set_real(&r[1], RR_VOLTAGE_MAX, 250);
    reading_set_real(&r[1], RR_POWER_W, -50);
    reading_set_counter(&r[0], RC_ENERGY_IMPORT, 5000);
    reading_set_counter(&r[1], RC_ENERGY_IMPORT, 5200);
    reading_set_counter(&r[2], RC_ENERGY_EXPORT, 3);
    /* device 2 gets the last reading; inputs come unsorted */
    struct rollup_input in[4] = {{1, &r[2]}, {2, &r[3]}, {1, &r[0]}, {1, &r[1]}};
    struct rollup_delta *d = NULL;
    size_t n = 0;
    assert_int_equal(rollup_build(in, 4, &d, &n), 0);
    /* device 1: 2 minutes, 1 hour, 1 day; device 2: 1 each */
    assert_int_equal(n, 7);
    for (size_t k = 1; k < n; k++) {
        assert_true(d[k - 1].device_pk <= d[k].device_pk);
        if (d[k - 1].device_pk == d[k].device_pk)
            assert_true(d[k - 1].period < d[k].period ||
                        (d[k - 1].period == d[k].period && d[k - 1].bucket_ms < d[k].bucket_ms));
    }
    const struct rollup_delta *m0 = find(d, n, 1, ROLLUP_1M, T0_MS);
    assert_non_null(m0);
    assert_int_equal(m0->n, 2);
    assert_int_equal(m0->first_ts_ms, T0_MS + 1000);
    assert_int_equal(m0->last_ts_ms, T0_MS + 2000);
    assert_true(m0->m[RM_VOLTAGE].sum == 470);
    assert_true(m0->m[RM_VOLTAGE].min == 225);
    assert_true(m0->m[RM_VOLTAGE].max == 250);
    assert_int_equal(m0->m[RM_VOLTAGE].n, 2);
    assert_int_equal(m0->m[RM_POWER_W].n, 1);
    assert_true(m0->m[RM_POWER_W].min == -50 && m0->m[RM_POWER_W].max == -50);
    assert_int_equal(m0->m[RM_THD_V].n, 0);
    assert_true(m0->e[RE_IMPORT].present);
    assert_int_equal(m0->e[RE_IMPORT].min, 5000);
    assert_int_equal(m0->e[RE_IMPORT].max, 5200);
    assert_false(m0->e[RE_EXPORT].present);

    const struct rollup_delta *h0 = find(d, n, 1, ROLLUP_1H, T0_MS);
    assert_non_null(h0);
    assert_int_equal(h0->n, 3);
    assert_true(h0->m[RM_VOLTAGE].min == 220);
    assert_true(h0->e[RE_EXPORT].present);
    assert_int_equal(h0->e[RE_EXPORT].max, 3);
    const struct rollup_delta *other = find(d, n, 2, ROLLUP_1D, T0_MS);
    assert_non_null(other);
    assert_int_equal(other->n, 1);
    assert_true(other->m[RM_CURRENT].sum == 100);
    free(d);
}

static void test_merge_is_what_the_upsert_does(void **state)
{
    (void)state;
    struct reading a = reading(T0_MS + 10, 230, 1), b = reading(T0_MS + 5, 231, 2);
    reading_set_real(&b, RR_PF, 0.5);
    reading_set_counter(&b, RC_ENERGY_IMPORT, 42);
    struct rollup_input ia = {7, &a}, ib = {7, &b};
    struct rollup_delta *da, *db;
    size_t na, nb;
    assert_int_equal(rollup_build(&ia, 1, &da, &na), 0);
    assert_int_equal(rollup_build(&ib, 1, &db, &nb), 0);
    assert_int_equal(na, 3);
    rollup_merge(&da[0], &db[0]);
    assert_int_equal(da[0].n, 2);
    assert_int_equal(da[0].first_ts_ms, T0_MS + 5);
    assert_int_equal(da[0].last_ts_ms, T0_MS + 10);
    assert_int_equal(da[0].m[RM_PF].n, 1); /* absent + present = present */
    assert_true(da[0].m[RM_PF].min == 0.5);
    assert_true(da[0].e[RE_IMPORT].present);
    assert_int_equal(da[0].e[RE_IMPORT].min, 42);
    free(da);
    free(db);
}

static void test_nothing_in_nothing_out(void **state)
{
    (void)state;
    struct rollup_delta *d = (void *)1;
    size_t n = 9;
    assert_int_equal(rollup_build(NULL, 0, &d, &n), 0);
    assert_null(d);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_are_utc_minutes_hours_and_site_days),
        cmocka_unit_test(test_one_delta_per_key_sorted_with_sums_and_extremes),
        cmocka_unit_test(test_merge_is_what_the_upsert_does),
        cmocka_unit_test(test_nothing_in_nothing_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
