#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jsonw.h"

static void test_writer_places_commas_and_escapes(void **state)
{
    (void)state;
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 4096);
    jsonw_init(&w, &b);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "s", "a\"b\\c\n\x01");
    jsonw_key(&w, "arr");
    jsonw_arr_begin(&w);
    jsonw_int(&w, -5);
    jsonw_null(&w);
    jsonw_bool(&w, true);
    jsonw_arr_end(&w);
    jsonw_kint(&w, "n", INT64_MIN);
    jsonw_obj_end(&w);
    assert_int_equal(jsonw_error(&w), 0);
    assert_string_equal(dynbuf_str(&b), "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"arr\":[-5,null,true],"
                                        "\"n\":-9223372036854775808}");
    dynbuf_free(&b);
}

static void test_money_always_has_two_decimals(void **state)
{
    (void)state;
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 4096);
    jsonw_init(&w, &b);
    jsonw_arr_begin(&w);
    jsonw_money(&w, 10030);
    jsonw_money(&w, 0);
    jsonw_money(&w, -5);
    jsonw_money(&w, 20000);
    jsonw_milli(&w, 12345);
    jsonw_milli(&w, 5000);
    jsonw_arr_end(&w);
    assert_string_equal(dynbuf_str(&b), "[100.30,0.00,-0.05,200.00,12.345,5]");
    dynbuf_free(&b);
}

static void test_doubles_are_short_and_never_nan(void **state)
{
    (void)state;
    char buf[32];
    jsonw_format_double(220.5, buf);
    assert_string_equal(buf, "220.5");
    jsonw_format_double(100.3, buf);
    assert_string_equal(buf, "100.3");
    jsonw_format_double(-0.875, buf);
    assert_string_equal(buf, "-0.875");
    jsonw_format_double(49.73, buf);
    assert_string_equal(buf, "49.73");
    jsonw_format_double(1e-7, buf);
    assert_string_equal(buf, "0");
    jsonw_format_double(-2.9e-6, buf);
    assert_string_equal(buf, "-0.000003");
    jsonw_format_double(0.0, buf);
    assert_string_equal(buf, "0");
    jsonw_format_double(2.5e13, buf);
    assert_string_equal(buf, "25000000000000");
    jsonw_format_double(NAN, buf);
    assert_string_equal(buf, "null");
    jsonw_format_double(INFINITY, buf);
    assert_string_equal(buf, "null");
}

static void test_cap_is_a_sticky_error(void **state)
{
    (void)state;
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 16);
    jsonw_init(&w, &b);
    jsonw_arr_begin(&w);
    for (int i = 0; i < 100; i++)
        jsonw_int(&w, 12345);
    jsonw_arr_end(&w);
    assert_int_equal(jsonw_error(&w), -E2BIG);
    assert_true(b.len <= 16);
    dynbuf_free(&b);
}

static void test_misuse_is_reported(void **state)
{
    (void)state;
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 1024);
    jsonw_init(&w, &b);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "a");
    jsonw_obj_end(&w); /* key without value */
    assert_int_equal(jsonw_error(&w), -EINVAL);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_places_commas_and_escapes),
        cmocka_unit_test(test_money_always_has_two_decimals),
        cmocka_unit_test(test_doubles_are_short_and_never_nan),
        cmocka_unit_test(test_cap_is_a_sticky_error),
        cmocka_unit_test(test_misuse_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
