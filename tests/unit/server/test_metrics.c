/*
 * The metrics library: the exposition writer's lines and escaping, the
 * histogram's buckets (cumulative, +Inf equal to the count, the sum in
 * seconds), and the requests by route and status code.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expo.h"
#include "histogram.h"
#include "route_stats.h"

static void test_family_and_samples_are_written_as_the_format_says(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct expo e;
    expo_init(&e, &b);
    expo_family(&e, "smartmeter_x_total", "counter", "Things.");
    expo_u64(&e, "smartmeter_x_total", NULL, 0, 18446744073709551615u);
    struct expo_label l[] = {{"a", "1"}, {"b", "two"}};
    expo_u64(&e, "smartmeter_x_total", l, 2, 7);
    expo_double(&e, "smartmeter_y", NULL, 0, 0.25);
    assert_int_equal(expo_error(&e), 0);
    assert_string_equal(dynbuf_str(&b), "# HELP smartmeter_x_total Things.\n"
                                        "# TYPE smartmeter_x_total counter\n"
                                        "smartmeter_x_total 18446744073709551615\n"
                                        "smartmeter_x_total{a=\"1\",b=\"two\"} 7\n"
                                        "smartmeter_y 0.25\n");
    dynbuf_free(&b);
}

static void test_label_values_and_help_are_escaped(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct expo e;
    expo_init(&e, &b);
    expo_family(&e, "m", "gauge", "back\\slash \"quoted\"\nnext");
    struct expo_label l[] = {{"route", "a\\b\"c\nd"}, {"empty", ""}, {"null", NULL}};
    expo_u64(&e, "m", l, 3, 1);
    assert_int_equal(expo_error(&e), 0);
    /* HELP escapes backslash and newline only; label values the double quote too. */
    assert_string_equal(dynbuf_str(&b), "# HELP m back\\\\slash \"quoted\"\\nnext\n"
                                        "# TYPE m gauge\n"
                                        "m{route=\"a\\\\b\\\"c\\nd\",empty=\"\",null=\"\"} 1\n");
    dynbuf_free(&b);
}

static void test_special_values_are_spelled_as_prometheus_reads_them(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct expo e;
    expo_init(&e, &b);
    expo_double(&e, "a", NULL, 0, 1.0 / 0.0);
    expo_double(&e, "b", NULL, 0, -1.0 / 0.0);
    expo_double(&e, "c", NULL, 0, 0.0 / 0.0);
    assert_string_equal(dynbuf_str(&b), "a +Inf\nb -Inf\nc NaN\n");
    dynbuf_free(&b);
}

static void test_histogram_buckets_are_cumulative_and_inf_is_the_count(void **state)
{
    (void)state;
    struct histogram h = {0};
    /* 0.2 ms, exactly 1 ms (le is inclusive), 3 ms twice, 20 s (above every bound) */
    uint64_t obs[] = {200000, 1000000, 3000000, 3000000, 20000000000u};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        histogram_observe_ns(&h, obs[i]);
    struct histogram_snapshot s;
    histogram_read(&h, &s);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.sum_ns, 20007200000u);
    assert_int_equal(s.cumulative[0], 1);                    /* le 0.0005 */
    assert_int_equal(s.cumulative[1], 2);                    /* le 0.001 */
    assert_int_equal(s.cumulative[2], 2);                    /* le 0.0025 */
    assert_int_equal(s.cumulative[3], 4);                    /* le 0.005 */
    assert_int_equal(s.cumulative[HISTOGRAM_BOUNDS - 1], 4); /* le 10 */
    assert_int_equal(s.cumulative[HISTOGRAM_BOUNDS], 5);

    struct dynbuf b;
    dynbuf_init(&b, 8192);
    struct expo e;
    expo_init(&e, &b);
    struct expo_label l[] = {{"route", "/x"}};
    expo_histogram(&e, "d_seconds", l, 1, &s);
    assert_int_equal(expo_error(&e), 0);
    const char *out = dynbuf_str(&b);
    assert_non_null(strstr(out, "d_seconds_bucket{route=\"/x\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(out, "d_seconds_bucket{route=\"/x\",le=\"0.001\"} 2\n"));
    assert_non_null(strstr(out, "d_seconds_bucket{route=\"/x\",le=\"0.005\"} 4\n"));
    assert_non_null(strstr(out, "d_seconds_bucket{route=\"/x\",le=\"10\"} 4\n"));
    assert_non_null(strstr(out, "d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(out, "d_seconds_sum{route=\"/x\"} 20.0072"));
    assert_non_null(strstr(out, "d_seconds_count{route=\"/x\"} 5\n"));
    /* every bucket line, in ascending order of le, and never a count that falls */
    unsigned lines = 0;
    uint64_t last = 0;
    for (const char *p = strstr(out, "_bucket"); p; p = strstr(p + 1, "_bucket")) {
        const char *v = strchr(p, '}');
        assert_non_null(v);
        uint64_t n = strtoull(v + 2, NULL, 10);
        assert_true(n >= last);
        last = n;
        lines++;
    }
    assert_int_equal(lines, HISTOGRAM_BUCKETS);
    dynbuf_free(&b);
}

static void test_a_full_buffer_is_reported_once(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 40);
    struct expo e;
    expo_init(&e, &b);
    expo_family(&e, "smartmeter_long_name_total", "counter", "A help text past the cap.");
    expo_u64(&e, "smartmeter_long_name_total", NULL, 0, 1);
    assert_int_equal(expo_error(&e), -E2BIG);
    assert_true(b.len <= 40);
    dynbuf_free(&b);
}

static void test_requests_are_counted_by_route_and_code(void **state)
{
    (void)state;
    struct route_stats *rs;
    assert_int_equal(route_stats_new(3, &rs), 0);
    route_stats_observe(rs, 0, 200, 1000);
    route_stats_observe(rs, 0, 200, 1000);
    route_stats_observe(rs, 0, 404, 1000);
    route_stats_observe(rs, 2, 500, 2000000);
    route_stats_observe(rs, 3, 200, 1000); /* out of range: ignored */
    assert_int_equal(rs->routes[0].codes[0].code, 200);
    assert_int_equal(rs->routes[0].codes[0].n, 2);
    assert_int_equal(rs->routes[0].codes[1].code, 404);
    assert_int_equal(rs->routes[0].codes[1].n, 1);
    assert_int_equal(rs->routes[1].codes[0].code, 0);
    assert_int_equal(rs->routes[2].codes[0].n, 1);
    struct histogram_snapshot s;
    histogram_read(&rs->routes[0].duration, &s);
    assert_int_equal(s.count, 3);
    histogram_read(&rs->routes[2].duration, &s);
    assert_int_equal(s.cumulative[3], 1); /* 2 ms: le 0.0025 */
    assert_int_equal(s.cumulative[1], 0);
    route_stats_free(rs);
}

static void test_codes_past_the_slots_count_as_other(void **state)
{
    (void)state;
    struct route_stats *rs;
    assert_int_equal(route_stats_new(1, &rs), 0);
    for (unsigned code = 100; code < 100 + ROUTE_STATS_CODES + 3; code++)
        route_stats_observe(rs, 0, code, 1);
    route_stats_observe(rs, 0, 100, 1); /* a code with a slot still finds it */
    assert_int_equal(rs->routes[0].codes[0].n, 2);
    assert_int_equal(rs->routes[0].other_codes, 3);
    route_stats_free(rs);
}

#define THREADS    4
#define PER_THREAD 20000

static void *observe_many(void *arg)
{
    struct route_stats *rs = arg;
    for (unsigned i = 0; i < PER_THREAD; i++)
        route_stats_observe(rs, 0, i % 2 ? 200 : 503, (uint64_t)(i % 7) * 1000000u);
    return NULL;
}

static void test_concurrent_observations_are_all_counted(void **state)
{
    (void)state;
    struct route_stats *rs;
    assert_int_equal(route_stats_new(1, &rs), 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observe_many, rs), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t total = 0;
    unsigned used = 0;
    for (unsigned k = 0; k < ROUTE_STATS_CODES; k++) {
        total += rs->routes[0].codes[k].n;
        used += rs->routes[0].codes[k].code != 0;
    }
    assert_int_equal(used, 2); /* one slot per code, however the threads raced for them */
    assert_int_equal(total, THREADS * PER_THREAD);
    struct histogram_snapshot s;
    histogram_read(&rs->routes[0].duration, &s);
    assert_int_equal(s.count, THREADS * PER_THREAD);
    route_stats_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples_are_written_as_the_format_says),
        cmocka_unit_test(test_label_values_and_help_are_escaped),
        cmocka_unit_test(test_special_values_are_spelled_as_prometheus_reads_them),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_and_inf_is_the_count),
        cmocka_unit_test(test_a_full_buffer_is_reported_once),
        cmocka_unit_test(test_requests_are_counted_by_route_and_code),
        cmocka_unit_test(test_codes_past_the_slots_count_as_other),
        cmocka_unit_test(test_concurrent_observations_are_all_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
