/* devcache: hits within the TTL, misses after it, forget, the oldest entry gives way, threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "devcache.h"
#include "sign.h"

static struct device_rec dev(int64_t pk, const char *id, char hash_char)
{
    struct device_rec d;
    memset(&d, 0, sizeof(d));
    d.id = pk;
    snprintf(d.device_id, sizeof(d.device_id), "%s", id);
    memset(d.secret_hash, hash_char, SECRET_HASH_LEN);
    d.balance_fen = 12345; /* not kept */
    return d;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct devcache *c = (struct devcache *)1;
    assert_int_equal(devcache_new(0, 1000, &c), -EINVAL);
    assert_null(c);
    assert_int_equal(devcache_new(16, 0, &c), -EINVAL);
    struct device_rec out;
    /* A disabled (NULL) cache never hits and ignores the rest. */
    struct device_rec d = dev(1, "m-1", 'a');
    devcache_put(NULL, &d, 0);
    assert_int_equal(devcache_get(NULL, "m-1", 0, &out, NULL, NULL), -ENOENT);
    devcache_forget(NULL, "m-1");
    devcache_free(NULL);
}

static void test_hit_until_ttl(void **state)
{
    (void)state;
    struct devcache *c = NULL;
    assert_int_equal(devcache_new(64, 1000, &c), 0);
    struct device_rec out, d = dev(7, "meter-07", 'b');
    assert_int_equal(devcache_get(c, "meter-07", 100, &out, NULL, NULL), -ENOENT);
    devcache_put(c, &d, 100);
    assert_int_equal(devcache_get(c, "meter-07", 100, &out, NULL, NULL), 0);
    assert_int_equal(out.id, 7);
    assert_string_equal(out.device_id, "meter-07");
    assert_memory_equal(out.secret_hash, d.secret_hash, SECRET_HASH_LEN + 1);
    assert_int_equal(out.balance_fen, 0); /* only the key, id and hash are kept */
    assert_int_equal(devcache_get(c, "meter-07", 1099, &out, NULL, NULL), 0);
    assert_int_equal(devcache_get(c, "meter-07", 1100, &out, NULL, NULL), -ENOENT); /* TTL over */
    assert_int_equal(devcache_get(c, "meter-07", 99, &out, NULL, NULL),
                     -ENOENT); /* clock went back */
    assert_int_equal(devcache_get(c, "meter-08", 100, &out, NULL, NULL), -ENOENT);
    /* A fresh read replaces the entry (a new secret hash). */
    struct device_rec d2 = dev(7, "meter-07", 'c');
    devcache_put(c, &d2, 2000);
    assert_int_equal(devcache_get(c, "meter-07", 2000, &out, NULL, NULL), 0);
    assert_int_equal(out.secret_hash[0], 'c');
    /* The acks' key, derived when the entry was put, is the hash's. */
    struct sign_key key, want;
    bool keyed = false;
    assert_int_equal(devcache_get(c, "meter-07", 2000, &out, &key, &keyed), 0);
    assert_true(keyed);
    assert_int_equal(sign_key_from_hex(d2.secret_hash, &want), 0);
    assert_memory_equal(&key, &want, sizeof(key));
    /* A hash that is no hex gives none. */
    struct device_rec d3 = dev(8, "meter-08", 'z');
    devcache_put(c, &d3, 2000);
    assert_int_equal(devcache_get(c, "meter-08", 2000, &out, &key, &keyed), 0);
    assert_false(keyed);
    devcache_forget(c, "meter-07");
    assert_int_equal(devcache_get(c, "meter-07", 2000, &out, NULL, NULL), -ENOENT);
    devcache_free(c);
}

static void test_full_table_evicts_oldest(void **state)
{
    (void)state;
    struct devcache *c = NULL;
    assert_int_equal(devcache_new(4, 100000, &c), 0); /* 4 slots: every id shares them */
    char id[32];
    for (int k = 0; k < 4; k++) {
        snprintf(id, sizeof(id), "dev-%d", k);
        struct device_rec d = dev(k + 1, id, 'a');
        devcache_put(c, &d, 10 + k);
    }
    struct device_rec out;
    for (int k = 0; k < 4; k++) {
        snprintf(id, sizeof(id), "dev-%d", k);
        assert_int_equal(devcache_get(c, id, 20, &out, NULL, NULL), 0);
        assert_int_equal(out.id, k + 1);
    }
    struct device_rec d = dev(99, "dev-new", 'z');
    devcache_put(c, &d, 30);
    assert_int_equal(devcache_get(c, "dev-new", 30, &out, NULL, NULL), 0);
    assert_int_equal(devcache_get(c, "dev-0", 30, &out, NULL, NULL),
                     -ENOENT); /* the oldest gave way */
    for (int k = 1; k < 4; k++) {
        snprintf(id, sizeof(id), "dev-%d", k);
        assert_int_equal(devcache_get(c, id, 30, &out, NULL, NULL), 0);
    }
    /* A forgotten slot in the middle does not hide the entries after it. */
    devcache_forget(c, "dev-2");
    assert_int_equal(devcache_get(c, "dev-3", 30, &out, NULL, NULL), 0);
    assert_int_equal(devcache_get(c, "dev-new", 30, &out, NULL, NULL), 0);
    devcache_free(c);
}

struct worker {
    struct devcache *c;
    int base;
    int bad;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char id[32];
    for (int round = 0; round < 2000; round++) {
        int k = w->base + round % 50;
        snprintf(id, sizeof(id), "t-%d", k);
        struct device_rec out, d = dev(k, id, (char)('a' + k % 26));
        devcache_put(w->c, &d, round);
        if (devcache_get(w->c, id, round, &out, NULL, NULL) == 0 &&
            (out.id != k || strcmp(out.device_id, id) != 0 || out.secret_hash[0] != 'a' + k % 26))
            w->bad++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct devcache *c = NULL;
    assert_int_equal(devcache_new(64, 1000000, &c), 0);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.c = c, .base = 1 + i * 100};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    devcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_hit_until_ttl),
        cmocka_unit_test(test_full_table_evicts_oldest),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
