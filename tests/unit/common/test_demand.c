/*
 * Maximum demand: sliding and fixed-block averages over whole minutes, the
 * month's maximum with its time, the month boundary in local time, gaps and
 * clock jitter.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "demand.h"

#define MIN_MS 60000
/* 2026-12-07T00:00:00Z, a Monday, and the month it is in (UTC). */
#define T0          INT64_C(1796601600000)
#define MONTH_DEC   INT64_C(1796083200000)
#define MONTH_JAN   INT64_C(1798761600000)

/* Feeds power_w(t) in 1 s intervals from t0 for n seconds. */
static int feed(struct demand *d, int64_t t0, int n, double (*power_w)(int64_t), int64_t month,
                int64_t offset)
{
    int fresh = 0;
    for (int k = 1; k <= n; k++) {
        int64_t end = t0 + (int64_t)k * 1000;
        fresh += demand_add(d, end, 1000, power_w(end) / 3600.0, month, offset);
    }
    return fresh;
}

static double constant_1000(int64_t t)
{
    (void)t;
    return 1000;
}

/* 1 kW, but 7 kW during minutes 27..31 after T0 (across the 00:30 block boundary). */
static double step(int64_t t)
{
    int64_t m = (t - 1 - T0) / MIN_MS;
    return m >= 27 && m < 32 ? 7000 : 1000;
}

static void test_periods_are_checked(void **state)
{
    (void)state;
    assert_true(demand_period_valid(5) && demand_period_valid(15) && demand_period_valid(30) &&
                demand_period_valid(60));
    assert_false(demand_period_valid(0) || demand_period_valid(10) || demand_period_valid(61));
}

static void test_constant_power_gives_its_demand_after_one_period(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 15);
    /* 14 minutes: no value yet. */
    assert_int_equal(feed(&d, T0, 14 * 60, constant_1000, MONTH_DEC, 0), 0);
    assert_false(d.has_sliding);
    assert_int_equal(feed(&d, T0 + 14 * MIN_MS, 60, constant_1000, MONTH_DEC, 0), 1);
    assert_true(d.has_sliding && fabs(d.sliding_w - 1000) < 1e-9);
    assert_true(d.sliding_end_ms == T0 + 15 * MIN_MS);
    /* :15 is a block boundary. */
    assert_true(d.has_block && d.block_end_ms == T0 + 15 * MIN_MS);
    assert_true(d.has_max && fabs(d.max_w - 1000) < 1e-9);
}

static void test_sliding_catches_a_peak_that_blocks_split(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 15);
    /* A 5-minute peak from 00:27 to 00:32: the blocks 00:15-00:30 and 00:30-00:45 each see part
       of it, the sliding window all of it. */
    feed(&d, T0, 60 * 60, step, MONTH_DEC, 0);
    double block_peak = 1000 + 6000 * 5.0 / 15.0; /* the whole peak inside one window */
    assert_true(fabs(d.max_w - block_peak) < 1e-6);
    /* The max is the first window holding the whole peak: the one ending at 00:32. */
    assert_true(d.max_ts_ms == T0 + 32 * MIN_MS);
    /* The last block (00:45-01:00) is back to 1 kW. */
    assert_true(d.block_end_ms == T0 + 60 * MIN_MS && fabs(d.block_w - 1000) < 1e-6);
    assert_true(fabs(d.sliding_w - 1000) < 1e-6);

    /* Blocks alone would see less than the sliding maximum when the peak straddles one. */
    struct demand b;
    demand_init(&b, 15);
    double best_block = 0;
    for (int k = 1; k <= 3600; k++) {
        int64_t end = T0 + (int64_t)k * 1000;
        demand_add(&b, end, 1000, step(end) / 3600.0, MONTH_DEC, 0);
        if (b.has_block && b.block_end_ms == end && b.block_w > best_block)
            best_block = b.block_w;
    }
    assert_true(fabs(best_block - (1000 + 6000 * 3.0 / 15.0)) < 1e-6);
    assert_true(best_block < b.max_w - 1);
}

static void test_blocks_follow_the_local_clock(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 60);
    /* At UTC+5:45 local hours start at :15 UTC. */
    int64_t offset = (5 * 60 + 45) * (int64_t)MIN_MS;
    feed(&d, T0, 2 * 3600, constant_1000, MONTH_DEC, offset);
    assert_true(d.has_block);
    assert_int_equal((d.block_end_ms + offset) % (60 * MIN_MS), 0);
    assert_int_equal(d.block_end_ms % (60 * MIN_MS), 15 * MIN_MS);
}

static void test_a_gap_restarts_the_window_and_a_new_month_clears_the_maximum(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 5);
    feed(&d, T0, 10 * 60, constant_1000, MONTH_DEC, 0);
    assert_true(d.has_max && fabs(d.max_w - 1000) < 1e-9);
    /* Off for 30 s of a minute, then on: the window needs 5 measured minutes again. */
    int64_t back = T0 + 10 * MIN_MS + 30000;
    assert_int_equal(feed(&d, back, 30 + 4 * 60, constant_1000, MONTH_DEC, 0), 0);
    assert_false(d.has_sliding); /* no present value until the window is whole again */
    assert_int_equal(feed(&d, back + (30 + 4 * 60) * 1000, 60, constant_1000, MONTH_DEC, 0), 1);

    /* The next interval is in January: December's maximum goes. */
    demand_restore_max(&d, 9999, T0, MONTH_DEC);
    demand_add(&d, T0 + 20 * MIN_MS, 1000, 1000 / 3600.0, MONTH_JAN, 0);
    assert_false(d.has_max && d.max_w == 9999);
}

static void test_a_restored_maximum_stays_within_its_month(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 5);
    demand_restore_max(&d, 5000, T0 - 3600000, MONTH_DEC);
    feed(&d, T0, 10 * 60, constant_1000, MONTH_DEC, 0);
    assert_true(d.max_w == 5000 && d.max_ts_ms == T0 - 3600000);
}

static void test_jitter_and_long_intervals_keep_the_energy(void **state)
{
    (void)state;
    struct demand d;
    demand_init(&d, 15);
    /* Ends a few ms off the 1 s grid, lengths from the sample clock: overlaps are trimmed. */
    int64_t prev = T0;
    for (int k = 1; k <= 15 * 60; k++) {
        int64_t end = T0 + (int64_t)k * 1000 + (k % 3 == 0 ? 4 : -3);
        demand_add(&d, end, 1000, 2000 / 3600.0, MONTH_DEC, 0);
        prev = end;
    }
    (void)prev;
    demand_add(&d, T0 + 15 * MIN_MS + 1000, 1000, 2000 / 3600.0, MONTH_DEC, 0);
    assert_true(d.has_sliding);
    assert_true(fabs(d.sliding_w - 2000) < 2000 * 0.001);

    /* One five-minute interval spreads over its minutes. */
    struct demand e;
    demand_init(&e, 5);
    assert_true(demand_add(&e, T0 + 5 * MIN_MS, 5 * MIN_MS, 3000 * 5 / 60.0, MONTH_DEC, 0));
    assert_true(fabs(e.sliding_w - 3000) < 1e-6);

    /* Bad input restarts instead of poisoning the window. */
    assert_false(demand_add(&e, T0 + 6 * MIN_MS, 1000, NAN, MONTH_DEC, 0));
    assert_int_equal(e.count, 0);
    assert_false(demand_add(&e, T0 + 6 * MIN_MS, 0, 1, MONTH_DEC, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods_are_checked),
        cmocka_unit_test(test_constant_power_gives_its_demand_after_one_period),
        cmocka_unit_test(test_sliding_catches_a_peak_that_blocks_split),
        cmocka_unit_test(test_blocks_follow_the_local_clock),
        cmocka_unit_test(test_a_gap_restarts_the_window_and_a_new_month_clears_the_maximum),
        cmocka_unit_test(test_a_restored_maximum_stays_within_its_month),
        cmocka_unit_test(test_jitter_and_long_intervals_keep_the_energy),
    };
    return cmocka_run_group_tests_name("demand", tests, NULL, NULL);
}
