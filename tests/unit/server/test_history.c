/*
 * The pure parts of history answers (server/history.c): which rollups serve
 * an interval, the nice interval for a number of points, buckets in the
 * site's days, and rollup rows combined into buckets with their energy.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"
#include "sitetime.h"
#include "timeutil.h"

#define MIN  HISTORY_MINUTE_MS
#define HOUR HISTORY_HOUR_MS
#define DAY  HISTORY_DAY_MS

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
    return ms;
}

static void set_zone(const char *zone)
{
    char err[256];
    assert_int_equal(sitetime_set_zone(zone, err, sizeof(err)), 0);
}

static struct rollup_rec row(int64_t bucket_ms, int64_t n, double v, int64_t imin, int64_t imax)
{
    struct rollup_rec r;
    memset(&r, 0, sizeof(r));
    r.bucket_ms = bucket_ms;
    r.n = n;
    r.metric_n[RM_VOLTAGE] = n;
    r.sum[RM_VOLTAGE] = v * (double)n;
    r.min[RM_VOLTAGE] = v - 1;
    r.max[RM_VOLTAGE] = v + 1;
    r.has_import = imax >= 0;
    r.import_min_mwh = imin;
    r.import_max_mwh = imax;
    return r;
}

static void test_whole_minutes_hours_and_days_pick_their_rollups(void **state)
{
    (void)state;
    enum rollup_period p;
    assert_int_equal(history_period_for(MIN, &p), 0);
    assert_int_equal(p, ROLLUP_1M);
    assert_int_equal(history_period_for(59 * MIN, &p), 0);
    assert_int_equal(p, ROLLUP_1M);
    assert_int_equal(history_period_for(90 * MIN, &p), 0);
    assert_int_equal(p, ROLLUP_1M);
    assert_int_equal(history_period_for(2 * HOUR, &p), 0);
    assert_int_equal(p, ROLLUP_1H);
    assert_int_equal(history_period_for(36 * HOUR, &p), 0);
    assert_int_equal(p, ROLLUP_1H);
    assert_int_equal(history_period_for(DAY, &p), 0);
    assert_int_equal(p, ROLLUP_1D);
    assert_int_equal(history_period_for(7 * DAY, &p), 0);
    assert_int_equal(p, ROLLUP_1D);
    assert_int_equal(history_period_for(30 * 1000, &p), -ENOENT);
    assert_int_equal(history_period_for(90 * 1000, &p), -ENOENT);
}

static void test_points_pick_the_smallest_nice_interval_that_fits(void **state)
{
    (void)state;
    set_zone("UTC");
    int64_t iv = 0, from = at("2026-03-10T00:00:00Z");
    assert_int_equal(history_pick_interval(from, from + DAY, 500, &iv), 0);
    assert_int_equal(iv, 5 * MIN); /* 2 min would be 720 buckets */
    assert_int_equal(history_pick_interval(from, from + 30 * DAY, 500, &iv), 0);
    assert_int_equal(iv, 2 * HOUR); /* 1 h would be 720 */
    assert_int_equal(history_pick_interval(from, from + DAY, 1440, &iv), 0);
    assert_int_equal(iv, MIN);
    assert_int_equal(history_pick_interval(from, from + DAY, 24, &iv), 0);
    assert_int_equal(iv, HOUR);
    /* An unaligned range touches one bucket more. */
    assert_int_equal(history_pick_interval(from + 1, from + DAY + 1, 24, &iv), 0);
    assert_int_equal(iv, 2 * HOUR);
    assert_int_equal(history_pick_interval(from, from + 400 * DAY, 10, &iv), 0);
    assert_int_equal(iv, 91 * DAY);
    assert_int_equal(history_pick_interval(0, at("2100-01-01T00:00:00Z"), 1, &iv), -ERANGE);
}

static void test_day_buckets_follow_the_site_days_across_dst(void **state)
{
    (void)state;
    set_zone("Europe/Berlin");
    /* 2026-03-29 lasts 23 hours: 23:00Z to 22:00Z. */
    assert_int_equal(history_bucket_start(at("2026-03-29T12:00:00Z"), DAY),
                     at("2026-03-28T23:00:00Z"));
    assert_int_equal(history_bucket_start(at("2026-03-29T21:59:59Z"), DAY),
                     at("2026-03-28T23:00:00Z"));
    assert_int_equal(history_bucket_start(at("2026-03-29T22:00:00Z"), DAY),
                     at("2026-03-29T22:00:00Z"));
    /* 2026-10-25 lasts 25 hours. */
    assert_int_equal(history_bucket_start(at("2026-10-25T22:30:00Z"), DAY),
                     at("2026-10-24T22:00:00Z"));
    assert_int_equal(
        history_bucket_count(at("2026-03-28T23:00:00Z"), at("2026-03-31T22:00:00Z"), DAY), 3);
    /* Sub-day buckets stay aligned to the epoch. */
    assert_int_equal(history_bucket_start(at("2026-03-29T01:47:00Z"), 15 * MIN),
                     at("2026-03-29T01:45:00Z"));
    set_zone("Asia/Kolkata");
    assert_int_equal(history_bucket_start(at("2026-11-22T18:29:59Z"), DAY),
                     at("2026-11-21T18:30:00Z"));
    assert_int_equal(history_bucket_start(at("2026-11-22T18:30:00Z"), DAY),
                     at("2026-11-22T18:30:00Z"));
    /* Runs of 2 days are counted from 1970-01-01: 2026-11-23 is day 20780, a run's first. */
    int64_t s = history_bucket_start(at("2026-11-22T20:00:00Z"), 2 * DAY);
    assert_int_equal(s, at("2026-11-22T18:30:00Z"));
    assert_int_equal(history_bucket_start(at("2026-11-22T18:00:00Z"), 2 * DAY), s - 2 * DAY);
    assert_int_equal(history_bucket_start(s + DAY + HOUR, 2 * DAY), s);
    assert_int_equal(history_bucket_start(s + 2 * DAY, 2 * DAY), s + 2 * DAY);
    set_zone("UTC");
}

static void test_energy_counts_from_the_previous_bucket_or_its_own_start(void **state)
{
    (void)state;
    assert_int_equal(history_energy_mwh(true, 1000, 1200, 1500), 500);
    assert_int_equal(history_energy_mwh(false, 0, 1200, 1500), 300);
    /* A counter that went back (a replaced meter) gives no negative energy. */
    assert_int_equal(history_energy_mwh(true, 9000, 10, 500), 0);
}

static void test_rows_combine_into_buckets_with_avg_min_max_and_energy(void **state)
{
    (void)state;
    set_zone("UTC");
    struct rollup_counters before = {.has_import = true, .import_max_mwh = 900};
    struct history_combiner c;
    history_combiner_init(&c, 15 * MIN, 10);
    int64_t t0 = at("2026-03-10T10:00:00Z");
    struct rollup_rec a = row(t0, 2, 230, 1000, 1100);
    struct rollup_rec b = row(t0 + 5 * MIN, 6, 240, 1100, 1400);
    b.min[RM_VOLTAGE] = 200; /* the bucket's min is the smallest of its rows' */
    struct rollup_rec d = row(t0 + 15 * MIN, 4, 220, 1400, 1450);
    d.metric_n[RM_PF] = 1;
    d.sum[RM_PF] = 0.9;
    d.min[RM_PF] = d.max[RM_PF] = 0.9;
    /* Newest first, as the store reads them. */
    assert_int_equal(history_combiner_add(&c, &d), 0);
    assert_int_equal(history_combiner_add(&c, &b), 0);
    assert_int_equal(history_combiner_add(&c, &a), 0);
    assert_int_equal(c.oldest_row_ms, t0);
    history_combiner_finish(&c, &before);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.b[0].start_ms, t0);
    assert_int_equal(c.b[1].start_ms, t0 + 15 * MIN);
    assert_int_equal(c.b[0].n, 8);
    assert_int_equal(c.b[0].import_used_mwh, 1400 - 900);
    assert_int_equal(c.b[1].import_used_mwh, 50);

    struct reading_bucket rb;
    history_bucket_to_reading_bucket(&c.b[0], &rb);
    assert_int_equal(rb.count, 8);
    assert_true(rb.real_present & (UINT64_C(1) << RR_VOLTAGE));
    assert_false(rb.real_present & (UINT64_C(1) << RR_PF));
    assert_float_equal(rb.avg[RR_VOLTAGE], (230.0 * 2 + 240.0 * 6) / 8, 1e-9);
    assert_float_equal(rb.min[RR_VOLTAGE], 200, 0);
    assert_float_equal(rb.max[RR_VOLTAGE], 241, 0);
    assert_int_equal(rb.counter_last[RC_ENERGY_IMPORT], 1400);
    history_bucket_to_reading_bucket(&c.b[1], &rb);
    assert_true(rb.real_present & (UINT64_C(1) << RR_PF));
    assert_float_equal(rb.avg[RR_PF], 0.9, 1e-12);
    history_combiner_free(&c);
}

static void test_the_combiner_stops_at_its_newest_buckets(void **state)
{
    (void)state;
    set_zone("UTC");
    struct history_combiner c;
    history_combiner_init(&c, HOUR, 2);
    int64_t t0 = at("2026-03-10T00:00:00Z");
    int added = 0;
    for (int h = 4; h >= 0; h--) {
        struct rollup_rec r = row(t0 + h * HOUR, 60, 230, 1000 * h, 1000 * h + 700);
        int rc = history_combiner_add(&c, &r);
        if (rc == HISTORY_COMBINER_FULL)
            break;
        assert_int_equal(rc, 0);
        added++;
    }
    assert_int_equal(added, 2);
    assert_int_equal(c.oldest_row_ms, t0 + 3 * HOUR);
    /* The counters before the oldest row kept: hour 2's. */
    struct rollup_counters before = {.has_import = true, .import_max_mwh = 2700};
    history_combiner_finish(&c, &before);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.b[0].start_ms, t0 + 3 * HOUR);
    assert_int_equal(c.b[0].import_used_mwh, 1000);
    assert_int_equal(c.b[1].import_used_mwh, 1000);
    history_combiner_free(&c);
}

static void test_buckets_without_counters_do_not_break_the_chain(void **state)
{
    (void)state;
    struct history_combiner c;
    history_combiner_init(&c, HOUR, 10);
    int64_t t0 = at("2026-03-10T00:00:00Z");
    struct rollup_rec r0 = row(t0, 1, 230, 100, 200);
    struct rollup_rec r1 = row(t0 + HOUR, 1, 230, 0, -1); /* no energy counter */
    struct rollup_rec r2 = row(t0 + 2 * HOUR, 1, 230, 250, 300);
    assert_int_equal(history_combiner_add(&c, &r2), 0);
    assert_int_equal(history_combiner_add(&c, &r1), 0);
    assert_int_equal(history_combiner_add(&c, &r0), 0);
    history_combiner_finish(&c, NULL);
    assert_int_equal(c.b[0].import_used_mwh, 100); /* nothing before: its own min */
    assert_false(c.b[1].has_import);
    assert_int_equal(c.b[2].import_used_mwh, 100);
    history_combiner_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_minutes_hours_and_days_pick_their_rollups),
        cmocka_unit_test(test_points_pick_the_smallest_nice_interval_that_fits),
        cmocka_unit_test(test_day_buckets_follow_the_site_days_across_dst),
        cmocka_unit_test(test_energy_counts_from_the_previous_bucket_or_its_own_start),
        cmocka_unit_test(test_rows_combine_into_buckets_with_avg_min_max_and_energy),
        cmocka_unit_test(test_the_combiner_stops_at_its_newest_buckets),
        cmocka_unit_test(test_buckets_without_counters_do_not_break_the_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
