#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "money.h"

static void test_decimal_text_parses_to_exact_fen(void **state)
{
    (void)state;
    int64_t fen;
    assert_int_equal(money_parse("100.10", &fen), 0);
    assert_int_equal(fen, 10010);
    assert_int_equal(money_parse("0.2", &fen), 0);
    assert_int_equal(fen, 20);
    assert_int_equal(money_parse("7", &fen), 0);
    assert_int_equal(fen, 700);
    assert_int_equal(money_parse("-0.05", &fen), 0);
    assert_int_equal(fen, -5);
    assert_int_equal(money_parse("0.001", &fen), -EINVAL);
    assert_int_equal(money_parse("1.", &fen), -EINVAL);
    assert_int_equal(money_parse(".5", &fen), -EINVAL);
    assert_int_equal(money_parse("1e3", &fen), -EINVAL);
    assert_int_equal(money_parse("", &fen), -EINVAL);
    assert_int_equal(money_parse("99999999999999999999", &fen), -ERANGE);
}

static void test_json_doubles_must_be_whole_fen(void **state)
{
    (void)state;
    int64_t fen;
    assert_int_equal(money_from_double(100.10, &fen), 0);
    assert_int_equal(fen, 10010);
    assert_int_equal(money_from_double(0.20, &fen), 0);
    assert_int_equal(fen, 20);
    assert_int_equal(money_from_double(10030.0 / 100.0, &fen), 0);
    assert_int_equal(fen, 10030);
    assert_int_equal(money_from_double(9999999.99, &fen), 0);
    assert_int_equal(fen, 999999999);
    assert_int_equal(money_from_double(0.001, &fen), -EINVAL);
    assert_int_equal(money_from_double(100.105, &fen), -EINVAL);
    assert_int_equal(money_from_double(12345.678, &fen), -EINVAL);
    assert_int_equal(money_from_double(9999999.999, &fen), -EINVAL);
    assert_int_equal(money_from_double(1e300, &fen), -ERANGE);
}

static void test_a_number_a_hair_off_whole_fen_is_refused_not_rounded(void **state)
{
    (void)state;
    int64_t fen = 7;
    /* What JSON numbers with digits below one fen parse to: refused, never rounded. */
    const double off[] = {0.30000000000000004, 100.000009, 0.0099999, 0.019999, 1.0000001,
                          -0.0099999};
    for (size_t k = 0; k < sizeof(off) / sizeof(off[0]); k++)
        assert_int_equal(money_from_double(off[k], &fen), -EINVAL);
    assert_int_equal(fen, 7);
    assert_int_equal(money_from_double(0.3, &fen), 0);
    assert_int_equal(fen, 30);
    assert_int_equal(money_from_double(-0.05, &fen), 0);
    assert_int_equal(fen, -5);
    assert_int_equal(money_from_double(100.0, &fen), 0);
    assert_int_equal(fen, 10000);
}

static void test_format_keeps_two_places(void **state)
{
    (void)state;
    char buf[MONEY_TEXT_LEN];
    money_format(10030, buf);
    assert_string_equal(buf, "100.30");
    money_format(-5, buf);
    assert_string_equal(buf, "-0.05");
    money_format(0, buf);
    assert_string_equal(buf, "0.00");
    money_format(INT64_MIN, buf);
    assert_string_equal(buf, "-92233720368547758.08");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_text_parses_to_exact_fen),
        cmocka_unit_test(test_json_doubles_must_be_whole_fen),
        cmocka_unit_test(test_a_number_a_hair_off_whole_fen_is_refused_not_rounded),
        cmocka_unit_test(test_format_keeps_two_places),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
