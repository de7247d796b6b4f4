#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timeutil.h"

static void test_format_has_milliseconds_and_z(void **state)
{
    (void)state;
    char buf[TIME_RFC3339_LEN];
    time_format_rfc3339_ms(INT64_C(1704110400123), buf);
    assert_string_equal(buf, "2024-01-01T12:00:00.123Z");
    time_format_rfc3339_ms(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    time_format_rfc3339_ms(INT64_C(951782400000), buf); /* leap day 2000 */
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
}

static void test_parse_accepts_offsets_and_fractions(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(time_parse_rfc3339("2024-01-01T12:00:00Z", &ms), 0);
    assert_int_equal(ms, INT64_C(1704110400000));
    assert_int_equal(time_parse_rfc3339("2024-01-01T20:00:00.5+08:00", &ms), 0);
    assert_int_equal(ms, INT64_C(1704110400500));
    assert_int_equal(time_parse_rfc3339("2024-01-01t12:00:00.123456789z", &ms), 0);
    assert_int_equal(ms, INT64_C(1704110400123));
    assert_int_equal(time_parse_rfc3339("2024-01-01T06:30:00-05:30", &ms), 0);
    assert_int_equal(ms, INT64_C(1704110400000));
}

static void test_parse_rejects_malformed_dates(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"",
                         "2024-01-01",
                         "2024-01-01T12:00:00",
                         "2024-13-01T00:00:00Z",
                         "2023-02-29T00:00:00Z",
                         "2024-01-01T24:00:00Z",
                         "2024-01-01T12:00:00.Z",
                         "2024-01-01T12:00:00Zjunk",
                         "2024-01-01T12:00:00+8:00",
                         "24-01-01T12:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(time_parse_rfc3339(bad[i], &ms), -EINVAL);
}

static void test_format_and_parse_round_trip(void **state)
{
    (void)state;
    for (int64_t t = INT64_C(946684800000); t < INT64_C(4102444800000); t += INT64_C(86399999123)) {
        char buf[TIME_RFC3339_LEN];
        int64_t back;
        time_format_rfc3339_ms(t, buf);
        assert_int_equal(time_parse_rfc3339(buf, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_a_leap_second_counts_only_where_there_was_one(void **state)
{
    (void)state;
    int64_t ms, next;
    /* The last leap second, in UTC and at +08:00: folded into the next second. */
    assert_int_equal(time_parse_rfc3339("2016-12-31T23:59:60Z", &ms), 0);
    assert_int_equal(time_parse_rfc3339("2017-01-01T00:00:00Z", &next), 0);
    assert_int_equal(ms, next);
    assert_int_equal(time_parse_rfc3339("2017-01-01T07:59:60.5+08:00", &ms), 0);
    assert_int_equal(ms, next + 500);
    assert_int_equal(time_parse_rfc3339("2015-06-30T23:59:60Z", &ms), 0);
    /* :60 on an ordinary day, or not at 23:59 UTC, is no time at all. */
    const char *bad[] = {"2026-12-07T23:59:60Z", "2016-12-31T22:59:60Z",
                         "2016-12-31T23:59:60+01:00", "2016-12-30T23:59:60Z",
                         "2024-06-30T23:59:60Z"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(time_parse_rfc3339(bad[k], &ms), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_leap_second_counts_only_where_there_was_one),
        cmocka_unit_test(test_format_has_milliseconds_and_z),
        cmocka_unit_test(test_parse_accepts_offsets_and_fractions),
        cmocka_unit_test(test_parse_rejects_malformed_dates),
        cmocka_unit_test(test_format_and_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
