/*
 * The queue of the server's acks (meters/<id>/ack): every malformed one is
 * counted, never crashing it; a full queue drops (acks are only an
 * optimisation of resending); with the device's key, only the server's
 * signed acks are taken. Parsing itself: tests/unit/common/wire/test_ack.c.
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

#include "ack_queue.h"

static void test_the_queue_counts_bad_acks_and_drops_when_full(void **state)
{
    (void)state;
    struct ack_queue *q = NULL;
    assert_int_equal(ack_queue_new(2, &q), 0);
    const char *good = "{\"seqs\":[[1,3]]}";
    ack_queue_handler("junk", 4, q);
    ack_queue_handler(good, strlen(good), q);
    ack_queue_handler(good, strlen(good), q);
    ack_queue_handler(good, strlen(good), q);
    uint64_t bad = 0, dropped = 0;
    ack_queue_counts(q, &bad, &dropped);
    assert_int_equal(bad, 1);
    assert_int_equal(dropped, 1);
    struct ack_msg *m = malloc(sizeof(*m));
    assert_non_null(m);
    assert_true(ack_queue_pop(q, m));
    assert_int_equal(m->seqs[0].last, 3);
    assert_true(ack_queue_pop(q, m));
    assert_false(ack_queue_pop(q, m));
    free(m);
    ack_queue_free(q);
    ack_queue_free(NULL);
}

static void signed_ack(const char *secret, const char *topic, const char *ack, struct dynbuf *out)
{
    struct sign_key k;
    sign_key_from_secret(secret, strlen(secret), &k);
    dynbuf_reset(out);
    assert_int_equal(dynbuf_addstr(out, ack), 0);
    assert_int_equal(sign_payload(&k, topic, out), 0);
}

/*
 * F2 of the 2026-12-07 audit: a forged ack made the meter delete readings the server never
 * stored; so did the acks of a second server with a database of its own. With the key, an
 * unsigned ack, one signed with another key (another secret: another database) or for
 * another topic is refused and counted; the server's signed ack is taken.
 */
static void test_only_the_servers_signed_acks_are_taken(void **state)
{
    (void)state;
    const char *secret = "the-secret-of-m1", *topic = "meters/m1/ack";
    const char *ack = "{\"seqs\":[[1,1000000]]}";
    struct sign_key k;
    struct ack_queue *q = NULL;
    struct dynbuf b;
    sign_key_from_secret(secret, strlen(secret), &k);
    assert_int_equal(ack_queue_new(4, &q), 0);
    ack_queue_require_signature(q, &k, topic);
    dynbuf_init(&b, ACK_PAYLOAD_MAX);
    struct ack_msg *m = malloc(sizeof(*m));
    assert_non_null(m);

    ack_queue_handler(ack, strlen(ack), q);
    signed_ack("another database's secret", topic, ack, &b);
    ack_queue_handler(b.buf, b.len, q);
    signed_ack(secret, "meters/m2/ack", ack, &b);
    ack_queue_handler(b.buf, b.len, q);
    assert_false(ack_queue_pop(q, m));
    assert_int_equal(ack_queue_refused(q), 3);

    signed_ack(secret, topic, "{\"seqs\":[[1,3]]}", &b);
    ack_queue_handler(b.buf, b.len, q);
    assert_true(ack_queue_pop(q, m));
    assert_int_equal(m->n_seqs, 1);
    assert_int_equal(m->seqs[0].last, 3);
    assert_int_equal(ack_queue_refused(q), 3);
    uint64_t bad = 0, dropped = 0;
    ack_queue_counts(q, &bad, &dropped);
    assert_int_equal(bad + dropped, 0);
    free(m);
    dynbuf_free(&b);
    ack_queue_free(q);
}

static int setup(void **state)
{
    (void)state;
    return sign_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_queue_counts_bad_acks_and_drops_when_full),
        cmocka_unit_test(test_only_the_servers_signed_acks_are_taken),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
