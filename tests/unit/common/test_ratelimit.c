#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "siphash.h"

static const uint8_t key_a[SIPHASH_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t key_b[SIPHASH_KEY_LEN] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2};

static void test_siphash_matches_the_reference_vectors(void **state)
{
    (void)state;
    /* The paper's key 00..0f over messages 00, 00 01, ...: the reference's first outputs. */
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    assert_true(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
    assert_true(siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
    assert_true(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
    assert_true(siphash24(key, msg, 63) == 0x958a324ceb064572ULL);
}

static void test_limit_applies_per_key_and_window(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 1000, 3);
    assert_non_null(rl);
    int64_t retry = 0;
    for (int i = 1; i <= 3; i++)
        assert_int_equal(ratelimit_take(rl, "a", 100, NULL, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "a", 500, NULL, &retry), -EAGAIN);
    assert_int_equal(retry, 600);
    assert_int_equal(ratelimit_take(rl, "b", 500, NULL, NULL), 0);
    /* a new window forgives */
    assert_int_equal(ratelimit_take(rl, "a", 1100, NULL, NULL), 0);
    ratelimit_free(rl);
}

static void test_a_refund_gives_back_one_reservation_of_its_window(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 1000, 2);
    struct ratelimit_ticket t1, t2, old;
    assert_int_equal(ratelimit_take(rl, "ip", 0, &t1, NULL), 0);
    assert_int_equal(ratelimit_take(rl, "ip", 1, &t2, NULL), 0);
    assert_int_equal(ratelimit_take(rl, "ip", 2, NULL, NULL), -EAGAIN);
    ratelimit_refund(rl, &t1);
    assert_int_equal(ratelimit_take(rl, "ip", 3, &old, NULL), 0);
    assert_int_equal(ratelimit_take(rl, "ip", 4, NULL, NULL), -EAGAIN);
    /* A ticket of an ended window gives nothing back in the next one. */
    assert_int_equal(ratelimit_take(rl, "ip", 1500, NULL, NULL), 0);
    assert_int_equal(ratelimit_take(rl, "ip", 1501, NULL, NULL), 0);
    ratelimit_refund(rl, &old);
    ratelimit_refund(rl, &t2);
    assert_int_equal(ratelimit_take(rl, "ip", 1502, NULL, NULL), -EAGAIN);
    ratelimit_free(rl);
}

static void test_a_full_table_refuses_and_never_forgets_a_live_count(void **state)
{
    (void)state;
    /* 16 slots: one neighbourhood, every key competes for the same slots. */
    struct ratelimit *rl = ratelimit_new_keyed(16, 60000, 2, key_a);
    char key[32];
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "live-%d", i);
        assert_int_equal(ratelimit_take(rl, key, 0, NULL, NULL), 0);
        assert_int_equal(ratelimit_take(rl, key, 0, NULL, NULL), 0);
    }
    /* The audit's bypass: fail with fresh names until one's own counter is evicted. */
    int64_t retry = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "filler-%d", i);
        assert_int_equal(ratelimit_take(rl, key, 10 + i, NULL, &retry), -ENOSPC);
        assert_true(retry > 0 && retry <= 60000);
        assert_false(ratelimit_hit(rl, key, 10 + i, NULL));
    }
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "live-%d", i);
        assert_int_equal(ratelimit_take(rl, key, 2000, NULL, NULL), -EAGAIN);
    }
    /* Once their windows end, the slots serve other keys. */
    assert_int_equal(ratelimit_take(rl, "filler-0", 60000, NULL, NULL), 0);
    ratelimit_free(rl);
}

static void test_keys_are_filed_under_the_tables_own_key(void **state)
{
    (void)state;
    struct ratelimit *a = ratelimit_new_keyed(1024, 1000, 1, key_a);
    struct ratelimit *a2 = ratelimit_new_keyed(1024, 1000, 1, key_a);
    struct ratelimit *b = ratelimit_new_keyed(1024, 1000, 1, key_b);
    struct ratelimit *r1 = ratelimit_new(1024, 1000, 1), *r2 = ratelimit_new(1024, 1000, 1);
    assert_true(ratelimit_key_hash(a, "ip:127.0.0.8") == ratelimit_key_hash(a2, "ip:127.0.0.8"));
    assert_true(ratelimit_key_hash(a, "ip:127.0.0.8") != ratelimit_key_hash(b, "ip:127.0.0.8"));
    assert_true(ratelimit_key_hash(r1, "ip:127.0.0.8") != ratelimit_key_hash(r2, "ip:127.0.0.8"));
    /* Not FNV-1a, whose values the audit's script computed ahead. */
    uint64_t fnv = 1469598103934665603ULL;
    for (const char *p = "ip:127.0.0.8"; *p; p++)
        fnv = (fnv ^ (unsigned char)*p) * 1099511628211ULL;
    assert_true(ratelimit_key_hash(a, "ip:127.0.0.8") != fnv);
    ratelimit_free(a);
    ratelimit_free(a2);
    ratelimit_free(b);
    ratelimit_free(r1);
    ratelimit_free(r2);
}

static void test_clear_forgets_a_key(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 60000, 1);
    assert_int_equal(ratelimit_take(rl, "k", 0, NULL, NULL), 0);
    assert_int_equal(ratelimit_take(rl, "k", 1, NULL, NULL), -EAGAIN);
    ratelimit_clear(rl, "k");
    assert_int_equal(ratelimit_take(rl, "k", 1, NULL, NULL), 0);
    ratelimit_free(rl);
}

static void test_hit_counts_past_the_limit(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 60000, 1);
    uint32_t count = 0;
    assert_true(ratelimit_hit(rl, "dev", 0, &count));
    assert_int_equal(count, 1);
    assert_false(ratelimit_hit(rl, "dev", 1, &count));
    assert_int_equal(count, 2);
    assert_true(ratelimit_hit(rl, "dev", 60000, &count));
    assert_int_equal(count, 1);
    ratelimit_free(rl);
}

static void test_memory_stays_bounded_under_many_keys(void **state)
{
    (void)state;
    /* Keys whose windows ended give their slots up: the newest are tracked. */
    struct ratelimit *rl = ratelimit_new(16, 10, 2);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        ratelimit_hit(rl, key, i, NULL);
    }
    assert_true(ratelimit_hit(rl, "key-99999", 100000, NULL));
    assert_false(ratelimit_hit(rl, "key-99999", 100000, NULL));
    ratelimit_free(rl);
}

#define RACERS     8
#define RACE_TRIES 2000
#define RACE_LIMIT 100

struct race {
    struct ratelimit *rl;
    int kept; /* granted and not given back */
};

static void *racer(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < RACE_TRIES; i++) {
        struct ratelimit_ticket t;
        if (ratelimit_take(r->rl, "ip:10.0.0.1", 5, &t, NULL) != 0)
            continue;
        /* Half of what is granted turns out right and is given back. */
        if (i % 2)
            ratelimit_refund(r->rl, &t);
        else
            r->kept++;
    }
    return NULL;
}

static void test_concurrent_takes_never_pass_the_limit(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(64, 60000, RACE_LIMIT);
    pthread_t th[RACERS];
    struct race races[RACERS];
    for (int i = 0; i < RACERS; i++) {
        races[i] = (struct race){.rl = rl};
        pthread_create(&th[i], NULL, racer, &races[i]);
    }
    int kept = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        kept += races[i].kept;
    }
    /* What was kept (not refunded) is exactly the limit: never more, and no count lost. */
    assert_int_equal(kept, RACE_LIMIT);
    assert_int_equal(ratelimit_take(rl, "ip:10.0.0.1", 6, NULL, NULL), -EAGAIN);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_matches_the_reference_vectors),
        cmocka_unit_test(test_limit_applies_per_key_and_window),
        cmocka_unit_test(test_a_refund_gives_back_one_reservation_of_its_window),
        cmocka_unit_test(test_a_full_table_refuses_and_never_forgets_a_live_count),
        cmocka_unit_test(test_keys_are_filed_under_the_tables_own_key),
        cmocka_unit_test(test_clear_forgets_a_key),
        cmocka_unit_test(test_hit_counts_past_the_limit),
        cmocka_unit_test(test_memory_stays_bounded_under_many_keys),
        cmocka_unit_test(test_concurrent_takes_never_pass_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
