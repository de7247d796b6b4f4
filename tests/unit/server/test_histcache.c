/* histcache: hits and misses by (device, version, query), the byte bound, LRU, threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "histcache.h"

static struct histcache *make(size_t max_bytes)
{
    struct histcache *c = NULL;
    assert_int_equal(histcache_new(max_bytes, &c), 0);
    assert_non_null(c);
    return c;
}

/* The body cached for the key, or "" on a miss (into buf). */
static const char *get(struct histcache *c, int64_t dev, int64_t ver, const char *q,
                       struct dynbuf *buf)
{
    dynbuf_reset(buf);
    int r = histcache_get(c, dev, ver, q, buf);
    if (r == -ENOENT)
        return "";
    assert_int_equal(r, 0);
    return dynbuf_str(buf);
}

static void test_a_put_answer_is_found_by_its_whole_key_only(void **state)
{
    (void)state;
    struct histcache *c = make(1 << 20);
    struct dynbuf b;
    dynbuf_init(&b, 1 << 20);
    assert_string_equal(get(c, 1, 5, "limit=10", &b), "");
    assert_int_equal(histcache_put(c, 1, 5, "limit=10", "[1,2]", 5), 0);
    assert_string_equal(get(c, 1, 5, "limit=10", &b), "[1,2]");
    assert_string_equal(get(c, 1, 6, "limit=10", &b), ""); /* the data changed */
    assert_string_equal(get(c, 2, 5, "limit=10", &b), ""); /* another device */
    assert_string_equal(get(c, 1, 5, "limit=11", &b), ""); /* another query */
    /* A put of the same key replaces the body. */
    assert_int_equal(histcache_put(c, 1, 5, "limit=10", "[3]", 3), 0);
    assert_string_equal(get(c, 1, 5, "limit=10", &b), "[3]");

    struct histcache_stats s;
    histcache_get_stats(c, &s);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 4);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.inserts, 2);
    assert_true(s.bytes >= 3 + sizeof("limit=10") && s.bytes <= s.max_bytes);
    dynbuf_free(&b);
    histcache_free(c);
}

static void test_the_least_recently_used_go_first_when_bytes_run_out(void **state)
{
    (void)state;
    char body[1000];
    memset(body, 'x', sizeof(body));
    struct histcache *c = make(4000); /* room for three 1000-byte bodies with bookkeeping */
    struct dynbuf b;
    dynbuf_init(&b, 1 << 20);
    assert_int_equal(histcache_put(c, 1, 1, "q", body, sizeof(body)), 0);
    assert_int_equal(histcache_put(c, 2, 1, "q", body, sizeof(body)), 0);
    assert_int_equal(histcache_put(c, 3, 1, "q", body, sizeof(body)), 0);
    assert_int_equal(strlen(get(c, 1, 1, "q", &b)), 1000); /* device 1 is now the newest */
    assert_int_equal(histcache_put(c, 4, 1, "q", body, sizeof(body)), 0);

    assert_int_equal(strlen(get(c, 2, 1, "q", &b)), 0); /* the oldest went */
    assert_int_equal(strlen(get(c, 1, 1, "q", &b)), 1000);
    assert_int_equal(strlen(get(c, 3, 1, "q", &b)), 1000);
    assert_int_equal(strlen(get(c, 4, 1, "q", &b)), 1000);
    struct histcache_stats s;
    histcache_get_stats(c, &s);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.evictions, 1);
    assert_true(s.bytes <= 4000);

    /* An answer larger than the whole cache is refused and evicts nothing. */
    char big[5000];
    memset(big, 'y', sizeof(big));
    assert_int_equal(histcache_put(c, 5, 1, "q", big, sizeof(big)), -E2BIG);
    histcache_get_stats(c, &s);
    assert_int_equal(s.entries, 3);
    dynbuf_free(&b);
    histcache_free(c);
}

static void test_many_entries_grow_the_table_and_stay_findable(void **state)
{
    (void)state;
    struct histcache *c = make(64 << 20);
    struct dynbuf b;
    dynbuf_init(&b, 1 << 20);
    char q[32], body[32];
    for (int k = 0; k < 5000; k++) {
        snprintf(q, sizeof(q), "limit=%d", k);
        snprintf(body, sizeof(body), "[%d]", k);
        assert_int_equal(histcache_put(c, k % 7, k, q, body, strlen(body)), 0);
    }
    for (int k = 0; k < 5000; k += 499) {
        snprintf(q, sizeof(q), "limit=%d", k);
        snprintf(body, sizeof(body), "[%d]", k);
        assert_string_equal(get(c, k % 7, k, q, &b), body);
    }
    dynbuf_free(&b);
    histcache_free(c);
}

static void test_a_disabled_cache_never_hits(void **state)
{
    (void)state;
    struct histcache *c = NULL;
    assert_int_equal(histcache_new(0, &c), -EINVAL);
    struct dynbuf b;
    dynbuf_init(&b, 1024);
    assert_int_equal(histcache_put(NULL, 1, 1, "q", "[]", 2), -EINVAL);
    assert_int_equal(histcache_get(NULL, 1, 1, "q", &b), -ENOENT);
    struct histcache_stats s;
    histcache_get_stats(NULL, &s);
    assert_int_equal(s.hits + s.misses + s.entries, 0);
    histcache_free(NULL);
    dynbuf_free(&b);
}

#define THREADS 4
#define ROUNDS  2000

struct worker {
    struct histcache *c;
    int id;
    int wrong; /* bodies that did not belong to the key looked up */
};

/* Puts and gets keys shared with the other threads; a hit must hold the key's own body. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    char q[32], body[64];
    for (int k = 0; k < ROUNDS; k++) {
        int dev = (k * 7 + w->id) % 50, ver = k % 3;
        snprintf(q, sizeof(q), "limit=%d", k % 11);
        snprintf(body, sizeof(body), "[%d,%d,\"%s\"]", dev, ver, q);
        if ((k + w->id) % 2)
            histcache_put(w->c, dev, ver, q, body, strlen(body));
        dynbuf_reset(&b);
        if (histcache_get(w->c, dev, ver, q, &b) == 0 && strcmp(dynbuf_str(&b), body) != 0)
            w->wrong++;
    }
    dynbuf_free(&b);
    return NULL;
}

static void test_threads_share_the_cache_safely(void **state)
{
    (void)state;
    struct histcache *c = make(16 << 10); /* small: evictions happen all the time */
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].wrong, 0);
    }
    struct histcache_stats s;
    histcache_get_stats(c, &s);
    assert_int_equal(s.hits + s.misses, THREADS * ROUNDS);
    assert_true(s.hits > 0);
    assert_true(s.evictions > 0);
    assert_true(s.bytes <= s.max_bytes);
    histcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_put_answer_is_found_by_its_whole_key_only),
        cmocka_unit_test(test_the_least_recently_used_go_first_when_bytes_run_out),
        cmocka_unit_test(test_many_entries_grow_the_table_and_stay_findable),
        cmocka_unit_test(test_a_disabled_cache_never_hits),
        cmocka_unit_test(test_threads_share_the_cache_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
