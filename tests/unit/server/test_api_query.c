#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api_query.h"

static void test_instants_are_rfc3339_or_epoch_ms(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(api_parse_instant("2026-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, INT64_C(1767225600000));
    assert_int_equal(api_parse_instant("1767225600000", &ms), 0);
    assert_int_equal(ms, INT64_C(1767225600000));
    assert_int_equal(api_parse_instant("yesterday", &ms), -EINVAL);
    assert_int_equal(api_parse_instant("-5", &ms), -EINVAL);
    assert_int_equal(api_parse_instant("", &ms), -EINVAL);
}

static void test_durations_take_units(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(api_parse_duration("60", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(api_parse_duration("15m", &ms), 0);
    assert_int_equal(ms, 900000);
    assert_int_equal(api_parse_duration("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(api_parse_duration("1d", &ms), 0);
    assert_int_equal(ms, 86400000);
    assert_int_equal(api_parse_duration("0", &ms), -EINVAL);
    assert_int_equal(api_parse_duration("5w", &ms), -EINVAL);
    assert_int_equal(api_parse_duration("1.5h", &ms), -EINVAL);
    assert_int_equal(api_parse_duration("367d", &ms), -ERANGE);
    assert_int_equal(api_parse_duration("99999999999999999999", &ms), -EINVAL);
}

static void test_counts_are_bounded(void **state)
{
    (void)state;
    int64_t n;
    assert_int_equal(api_parse_count("10", 1, 100, &n), 0);
    assert_int_equal(n, 10);
    assert_int_equal(api_parse_count("0", 1, 100, &n), -ERANGE);
    assert_int_equal(api_parse_count("101", 1, 100, &n), -ERANGE);
    assert_int_equal(api_parse_count("1e2", 1, 100, &n), -EINVAL);
    assert_int_equal(api_parse_count("", 1, 100, &n), -EINVAL);
}

static void test_a_cursor_gives_back_the_key_it_was_made_of(void **state)
{
    (void)state;
    char cursor[2 * 16 + 1], key[17];
    api_cursor_encode("ops-Zz.9", cursor, sizeof(cursor));
    assert_string_equal(cursor, "6f70732d5a7a2e39");
    assert_int_equal(api_cursor_decode(cursor, key, sizeof(key)), 0);
    assert_string_equal(key, "ops-Zz.9");
    /* a key too long for the cursor is cut, never overrun */
    char small[7];
    api_cursor_encode("abcdef", small, sizeof(small));
    assert_string_equal(small, "616263");
}

static void test_a_cursor_not_made_here_is_refused(void **state)
{
    (void)state;
    char key[5];
    static const char *const bad[] = {"", "6", "6G", "6F", "zz", "0a61", "7f61", "6162636465"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(api_cursor_decode(bad[i], key, sizeof(key)), -EINVAL);
    assert_int_equal(api_cursor_decode("61626364", key, sizeof(key)), 0);
    assert_string_equal(key, "abcd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instants_are_rfc3339_or_epoch_ms),
        cmocka_unit_test(test_durations_take_units),
        cmocka_unit_test(test_counts_are_bounded),
        cmocka_unit_test(test_a_cursor_gives_back_the_key_it_was_made_of),
        cmocka_unit_test(test_a_cursor_not_made_here_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
