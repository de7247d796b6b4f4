/* Site days and months across DST changes and in a half-hour-offset zone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sitetime.h"
#include "timeutil.h"

#define H (3600 * INT64_C(1000))

static int64_t utc(const char *s)
{
    int64_t ms;
    assert_int_equal(time_parse_rfc3339(s, &ms), 0);
    return ms;
}

static void use(const char *zone)
{
    char err[128];
    assert_int_equal(sitetime_set_zone(zone, err, sizeof(err)), 0);
    assert_string_equal(sitetime_zone(), zone);
}

static void test_rejects_unknown_zones(void **state)
{
    (void)state;
    char err[160];
    assert_int_equal(sitetime_set_zone("Mars/Olympus_Mons", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "Mars/Olympus_Mons"));
    assert_int_equal(sitetime_set_zone("../../etc/passwd", err, sizeof(err)), -EINVAL);
    assert_int_equal(sitetime_set_zone("", err, sizeof(err)), -EINVAL);
    assert_int_equal(sitetime_set_zone("Asia/Shanghai; rm", err, sizeof(err)), -EINVAL);
}

static void test_utc_and_shanghai(void **state)
{
    (void)state;
    use("UTC");
    int64_t t = utc("2026-11-23T18:24:30.123Z");
    assert_int_equal(sitetime_day_start(t), utc("2026-11-23T00:00:00Z"));
    use("Asia/Shanghai");
    /* 18:24 UTC is 02:24 on the 24th in Shanghai; the day began at 16:00 UTC. */
    assert_int_equal(sitetime_day_start(t), utc("2026-11-23T16:00:00Z"));
    assert_int_equal(sitetime_next_day(sitetime_day_start(t)), utc("2026-11-24T16:00:00Z"));
    char d[11], m[8];
    sitetime_format_day(t, d);
    sitetime_format_month(t, m);
    assert_string_equal(d, "2026-11-24");
    assert_string_equal(m, "2026-11");
    assert_int_equal(sitetime_month_start(t), utc("2026-10-31T16:00:00Z"));
    assert_int_equal(sitetime_next_month(sitetime_month_start(t)), utc("2026-11-30T16:00:00Z"));
}

static void test_berlin_dst_days_are_23_and_25_hours(void **state)
{
    (void)state;
    use("Europe/Berlin");
    int64_t spring = sitetime_day_start(utc("2026-03-29T12:00:00Z"));
    assert_int_equal(spring, utc("2026-03-28T23:00:00Z"));
    assert_int_equal(sitetime_next_day(spring) - spring, 23 * H);
    int64_t autumn = sitetime_day_start(utc("2026-10-25T12:00:00Z"));
    assert_int_equal(autumn, utc("2026-10-24T22:00:00Z"));
    assert_int_equal(sitetime_next_day(autumn) - autumn, 25 * H);
    /* The last instant of a 25-hour day still belongs to it. */
    assert_int_equal(sitetime_day_start(sitetime_next_day(autumn) - 1), autumn);
    /* March 2026 in Berlin is 31 days less one hour long. */
    int64_t march = sitetime_month_start(utc("2026-03-15T00:00:00Z"));
    assert_int_equal(sitetime_next_month(march) - march, (31 * 24 - 1) * H);
    int64_t ms;
    assert_int_equal(sitetime_parse_day("2026-10-25", &ms), 0);
    assert_int_equal(ms, autumn);
}

static void test_half_hour_offset(void **state)
{
    (void)state;
    use("Asia/Kolkata");                     /* UTC+05:30 */
    int64_t t = utc("2026-06-30T18:29:59Z"); /* 23:59:59 local */
    assert_int_equal(sitetime_day_start(t), utc("2026-06-29T18:30:00Z"));
    assert_int_equal(sitetime_day_start(t + 1000), utc("2026-06-30T18:30:00Z"));
    assert_int_equal(sitetime_month_start(t + 1000), utc("2026-06-30T18:30:00Z"));
    char m[8];
    sitetime_format_month(t + 1000, m);
    assert_string_equal(m, "2026-07");
}

static void test_parse_day(void **state)
{
    (void)state;
    use("UTC");
    int64_t ms;
    assert_int_equal(sitetime_parse_day("2026-02-28", &ms), 0);
    assert_int_equal(ms, utc("2026-02-28T00:00:00Z"));
    assert_int_equal(sitetime_parse_day("2026-02-30", &ms), -EINVAL);
    assert_int_equal(sitetime_parse_day("2026-2-3", &ms), -EINVAL);
    assert_int_equal(sitetime_parse_day("2026- 2-03", &ms), -EINVAL); /* sscanf alone took it */
    assert_int_equal(sitetime_parse_day("2026-+2-03", &ms), -EINVAL);
    assert_int_equal(sitetime_parse_day("2026-02-28x", &ms), -EINVAL);
    assert_int_equal(sitetime_parse_day("1999-12-31", &ms), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_unknown_zones),
        cmocka_unit_test(test_utc_and_shanghai),
        cmocka_unit_test(test_berlin_dst_days_are_23_and_25_hours),
        cmocka_unit_test(test_half_hour_offset),
        cmocka_unit_test(test_parse_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
