/*
 * The terminal link transport's pure parts: the --link address, the
 * reconnect backoff with its jitter, and readings cut into TELEMETRY
 * payloads that each fit in one frame and together carry every reading once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "link.h"
#include "link_backoff.h"
#include "link_batch.h"
#include "link_url.h"

static void test_the_address_is_tcp_host_port_and_nothing_else(void **state)
{
    (void)state;
    struct link_addr a;
    char err[256];
    assert_int_equal(link_url_parse("tcp://gw.example.com:7000", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "gw.example.com");
    assert_int_equal(a.port, 7000);
    assert_int_equal(link_url_parse("tcp://[2001:db8::1]:65535", &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, "2001:db8::1");
    assert_int_equal(a.port, 65535);
    assert_int_equal(link_url_parse("tcp://10.0.0.1:1/", &a, err, sizeof(err)), 0);

    static const char *const bad[] = {
        "tcp://gw.example.com",      /* no port */
        "ssl://gw.example.com:7000", /* another scheme */
        "mqtt://gw:1",               /* likewise */
        "tcp://user:pw@gw:7000",     /* credentials */
        "tcp://gw:7000/path",        /* a path */
        "tcp://gw:7000?x=1",         /* a query */
        "tcp://gw:0",                /* port out of range */
        "tcp://gw:65536",            /* likewise */
        "tcp://:7000",               /* no host */
        "tcp://@gw:7000",            /* an empty user */
        "tcp://g\xc3\xa9w:7000",     /* not a host name */
        "gw:7000",                   /* no scheme */
        "",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = '\0';
        if (link_url_parse(bad[k], &a, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted '%s'", bad[k]);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(link_url_parse(NULL, &a, err, sizeof(err)), -EINVAL);
}

static void test_the_backoff_doubles_with_jitter_and_starts_over(void **state)
{
    (void)state;
    struct link_backoff b;
    link_backoff_init(&b, 1000, 30000);
    /* The lowest and the highest random values bound each wait: [ceiling/2, ceiling]. */
    int64_t ceilings[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t k = 0; k < sizeof(ceilings) / sizeof(ceilings[0]); k++) {
        struct link_backoff lo = b, hi = b;
        assert_int_equal(link_backoff_next(&lo, 0), ceilings[k] / 2);
        assert_int_equal(link_backoff_next(&hi, (uint32_t)(ceilings[k] - ceilings[k] / 2)),
                         ceilings[k]);
        int64_t w = link_backoff_next(&b, 12345);
        assert_true(w >= ceilings[k] / 2 && w <= ceilings[k]);
    }
    /* Spread: different random values give different waits. */
    struct link_backoff c1 = b, c2 = b;
    assert_int_not_equal(link_backoff_next(&c1, 1), link_backoff_next(&c2, 7777));
    link_backoff_reset(&b);
    int64_t w = link_backoff_next(&b, 999);
    assert_true(w >= 500 && w <= 1000);
    /* Nonsense bounds are made sane. */
    link_backoff_init(&b, 0, -5);
    assert_true(link_backoff_next(&b, 3) <= 1);
}

static void reading_at(struct reading *r, uint64_t seq)
{
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = INT64_C(1796630400000) + (int64_t)seq * 1000;
    reading_set_real(r, RR_VOLTAGE, 230.5);
    reading_set_real(r, RR_CURRENT, 4.25);
    reading_set_real(r, RR_POWER_W, 979.6);
    reading_set_counter(r, RC_ENERGY_IMPORT, (int64_t)seq * 271);
    reading_set_label(r, RL_RELAY, "on");
}

/* The seqs a TELEMETRY payload carries, appended to seen[*n]. */
static void collect(const struct dynbuf *p, bool as_array, uint64_t *seen, size_t *n)
{
    json_error_t e;
    json_t *doc = json_loadb(p->buf, p->len, 0, &e);
    assert_non_null(doc);
    if (!as_array) {
        assert_true(json_is_object(doc));
        seen[(*n)++] = (uint64_t)json_integer_value(json_object_get(doc, "seq"));
    } else {
        assert_true(json_is_array(doc));
        size_t k;
        json_t *v;
        json_array_foreach(doc, k, v) seen[(*n)++] =
            (uint64_t)json_integer_value(json_object_get(v, "seq"));
    }
    json_decref(doc);
}

static void test_a_backlog_batch_is_cut_into_frames_that_fit(void **state)
{
    (void)state;
    enum { N = 100 };
    struct reading *r = calloc(N, sizeof(*r));
    uint64_t seen[N];
    size_t n_seen = 0, frames = 0;
    assert_non_null(r);
    for (size_t k = 0; k < N; k++)
        reading_at(&r[k], 1000 + k);
    struct dynbuf p;
    dynbuf_init(&p, LINK_PAYLOAD_MAX);
    for (size_t k = 0; k < N;) {
        size_t used = 0;
        assert_int_equal(link_batch_next(&r[k], N - k, true, &p, &used), 0);
        assert_true(used >= 1 && used <= N - k);
        assert_true(p.len <= LINK_PAYLOAD_MAX);
        /* As many as fit: one more would not have. */
        if (k + used < N) {
            struct dynbuf more;
            dynbuf_init(&more, LINK_PAYLOAD_MAX);
            assert_int_not_equal(telemetry_encode_payload(&r[k], used + 1, true, &more), 0);
            dynbuf_free(&more);
        }
        collect(&p, true, seen, &n_seen);
        k += used;
        frames++;
    }
    assert_int_equal(n_seen, N);
    for (size_t k = 0; k < N; k++)
        assert_int_equal(seen[k], 1000 + k); /* each once, in order */
    assert_true(frames > 1 && frames < N);

    /* A live reading is one object, whatever n says. */
    size_t used = 0;
    n_seen = 0;
    assert_int_equal(link_batch_next(r, N, false, &p, &used), 0);
    assert_int_equal(used, 1);
    collect(&p, false, seen, &n_seen);
    assert_int_equal(seen[0], 1000);
    assert_int_equal(link_batch_next(r, 0, true, &p, &used), -EINVAL);
    dynbuf_free(&p);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_address_is_tcp_host_port_and_nothing_else),
        cmocka_unit_test(test_the_backoff_doubles_with_jitter_and_starts_over),
        cmocka_unit_test(test_a_backlog_batch_is_cut_into_frames_that_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
