#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_limit_applies_per_key_and_window(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 1000, 3);
    uint32_t count;
    int64_t retry;
    for (int i = 1; i <= 3; i++)
        assert_true(ratelimit_hit(rl, "a", 100, &count, NULL));
    assert_false(ratelimit_blocked(rl, "b", 100, NULL));
    assert_true(ratelimit_blocked(rl, "a", 500, &retry));
    assert_int_equal(retry, 600);
    assert_false(ratelimit_hit(rl, "a", 500, &count, NULL));
    assert_int_equal(count, 4);
    assert_true(ratelimit_hit(rl, "b", 500, NULL, NULL));
    /* a new window forgives */
    assert_false(ratelimit_blocked(rl, "a", 1100, NULL));
    assert_true(ratelimit_hit(rl, "a", 1100, &count, NULL));
    assert_int_equal(count, 1);
    ratelimit_free(rl);
}

static void test_clear_forgets_a_key(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 60000, 1);
    ratelimit_hit(rl, "k", 0, NULL, NULL);
    ratelimit_hit(rl, "k", 0, NULL, NULL);
    assert_true(ratelimit_blocked(rl, "k", 1, NULL));
    ratelimit_clear(rl, "k");
    assert_false(ratelimit_blocked(rl, "k", 1, NULL));
    ratelimit_free(rl);
}

static void test_memory_stays_bounded_under_many_keys(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(16, 60000, 2);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        ratelimit_hit(rl, key, i, NULL, NULL);
    }
    /* the newest keys are still tracked */
    ratelimit_hit(rl, "key-99999", 100000, NULL, NULL);
    assert_false(ratelimit_hit(rl, "key-99999", 100000, NULL, NULL));
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_applies_per_key_and_window),
        cmocka_unit_test(test_clear_forgets_a_key),
        cmocka_unit_test(test_memory_stays_bounded_under_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
