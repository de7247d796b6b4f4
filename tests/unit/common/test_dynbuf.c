#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynbuf.h"

static void test_appends_grow_until_the_cap(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 1000);
    for (int i = 0; i < 100; i++)
        assert_int_equal(dynbuf_addstr(&b, "0123456789"), 0);
    assert_int_equal(b.len, 1000);
    assert_int_equal(dynbuf_addc(&b, 'x'), -E2BIG);
    assert_int_equal(b.len, 1000);
    assert_int_equal(strlen(dynbuf_str(&b)), 1000);
    dynbuf_free(&b);
}

static void test_formatted_appends_longer_than_the_stack_buffer(void **state)
{
    (void)state;
    struct dynbuf b;
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dynbuf_init(&b, 4096);
    assert_int_equal(dynbuf_addf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 601);
    assert_int_equal(dynbuf_str(&b)[600], '>');
    assert_int_equal(dynbuf_addf(&b, "%s%s%s%s%s%s%s", big, big, big, big, big, big, big), -E2BIG);
    assert_int_equal(b.len, 601);
    size_t len;
    char *p = dynbuf_steal(&b, &len);
    assert_int_equal(len, 601);
    assert_null(b.buf);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_grow_until_the_cap),
        cmocka_unit_test(test_formatted_appends_longer_than_the_stack_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
