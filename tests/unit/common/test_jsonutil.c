#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "jsonutil.h"

/*
 * Found by fuzz_api_body and fuzz_command: jansson quotes the text near an error and may
 * stop inside a UTF-8 character, and the message went into JSON answers as it was.
 */
static void test_errors_are_ascii(void **state)
{
    (void)state;
    const char *bad[] = {"{\"role\": \"\\ud83\xe7\x94\xb5\"}", "{\"id\":\"x18\\u0\xe7\x94\xb5\"}",
                         "{\"a\":\xff}", "[\"\xe7\x94\xb5\xe8\xa1\xa8\" x]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *root = NULL;
        char err[JSON_ERR_LEN];
        assert_int_equal(json_load_limited(bad[i], strlen(bad[i]), 8, &root, err), -EINVAL);
        assert_null(root);
        assert_non_null(strstr(err, "malformed JSON at line 1"));
        for (const char *p = err; *p; p++)
            if ((unsigned char)*p >= 0x80)
                fail_msg("%s: byte 0x%02x in '%s'", bad[i], (unsigned char)*p, err);
    }
}

static void test_depth_is_refused_before_parsing(void **state)
{
    (void)state;
    json_t *root = NULL;
    char err[JSON_ERR_LEN];
    assert_int_equal(json_load_limited("[[[1]]]", 7, 2, &root, err), -EINVAL);
    assert_string_equal(err, "JSON nested deeper than 2 levels");
    assert_int_equal(json_load_limited("[[1]]", 5, 2, &root, err), 0);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_are_ascii),
        cmocka_unit_test(test_depth_is_refused_before_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
