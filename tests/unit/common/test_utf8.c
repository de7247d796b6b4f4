/* utf8_clean: printable, well-formed UTF-8 kept; everything else '?'; never a cut character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

static void clean(const char *in, const char *want, size_t size)
{
    char out[64];
    assert_true(size <= sizeof(out));
    size_t n = utf8_clean(in, out, size);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_printable_text_in_any_script_is_kept(void **state)
{
    (void)state;
    clean("plain text", "plain text", 64);
    clean("\xe6\xa0\xb7\xe6\x9c\xac caf\xc3\xa9 \xf0\x9f\x94\x8c",
          "\xe6\xa0\xb7\xe6\x9c\xac caf\xc3\xa9 \xf0\x9f\x94\x8c", 64);
}

static void test_controls_and_malformed_bytes_become_question_marks(void **state)
{
    (void)state;
    clean("a\nb\tc\x1b[31m\x7f", "a?b?c?[31m?", 64);
    clean("\xc2\x85", "??", 64);           /* C1 control (NEL) */
    clean("\xc0\x80x", "??x", 64);         /* overlong NUL */
    clean("\xed\xa0\x80", "???", 64);      /* a surrogate */
    clean("\xe6\xa0", "??", 64);           /* cut short */
    clean("\xf4\x90\x80\x80", "????", 64); /* past U+10FFFF */
    clean("\xff\xfe", "??", 64);
}

static void test_a_character_is_never_cut_in_two(void **state)
{
    (void)state;
    clean("ab\xe6\xa0\xb7", "ab", 5); /* 4 bytes of room: the 3-byte character does not fit */
    clean("ab\xe6\xa0\xb7", "ab\xe6\xa0\xb7", 6);
    clean("anything", "", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_text_in_any_script_is_kept),
        cmocka_unit_test(test_controls_and_malformed_bytes_become_question_marks),
        cmocka_unit_test(test_a_character_is_never_cut_in_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
