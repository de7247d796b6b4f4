/*
 * The queue of the server's acks (meters/<id>/ack): every malformed one is
 * counted, never crashing it; a full queue drops (acks are only an
 * optimisation of resending). Parsing itself: tests/unit/common/wire/test_ack.c.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_queue_counts_bad_acks_and_drops_when_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
