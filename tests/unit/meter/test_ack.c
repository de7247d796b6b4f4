/*
 * The server's acks (meters/<id>/ack): valid payloads parse to their ranges;
 * every malformed one is refused with a reason and counted by the queue,
 * never crashing it; a full queue drops (acks are only an optimisation of
 * resending).
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

#include "ack.h"

static struct ack_msg msg;
static char err[ACK_ERR_LEN];

static int parse(const char *s)
{
    return ack_parse(s, strlen(s), &msg, err);
}

static void test_valid_acks_parse_to_their_ranges(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"seqs\":[[1,5],[7,7],[9,1000]]}"), 0);
    assert_int_equal(msg.n_seqs, 3);
    assert_int_equal(msg.seqs[0].first, 1);
    assert_int_equal(msg.seqs[0].last, 5);
    assert_int_equal(msg.seqs[2].last, 1000);
    assert_int_equal(msg.n_rejected, 0);

    assert_int_equal(parse("{\"seqs\":[[1,2],[3,9]],\"rejected\":[[2,4]],\"v\":1}"), 0);
    assert_int_equal(msg.n_rejected, 1);
    assert_int_equal(msg.rejected[0].first, 2);
    assert_int_equal(msg.rejected[0].last, 4);

    assert_int_equal(parse("{\"seqs\":[[9223372036854775807,9223372036854775807]]}"), 0);
}

static void test_malformed_acks_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"seqs\":[]}",
        "{\"seqs\":{}}",
        "{\"seqs\":[[1]]}",
        "{\"seqs\":[[1,2,3]]}",
        "{\"seqs\":[[\"1\",2]]}",
        "{\"seqs\":[[1.5,2]]}",
        "{\"seqs\":[[0,2]]}",
        "{\"seqs\":[[-3,2]]}",
        "{\"seqs\":[[5,4]]}",
        "{\"seqs\":[[1,5],[5,9]]}",
        "{\"seqs\":[[6,9],[1,2]]}",
        "{\"seqs\":[[1,5]],\"rejected\":[[6,6]]}",
        "{\"seqs\":[[1,5],[7,9]],\"rejected\":[[5,7]]}",
        "{\"seqs\":[[1,5]],\"rejected\":7}",
        "{\"seqs\":[[1,9223372036854775808]]}",
        "{\"seqs\":[[[[[1]]]]]}",
        "{\"seqs\":[[1,2]]",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = '\0';
        int r = parse(bad[k]);
        if (r != -EINVAL)
            fail_msg("accepted (%d): %s", r, bad[k]);
        assert_true(strlen(err) > 0);
    }
    /* More than ACK_RANGES_MAX ranges, and an oversized payload. */
    char *big = malloc(ACK_PAYLOAD_MAX + 2);
    assert_non_null(big);
    size_t n = (size_t)snprintf(big, ACK_PAYLOAD_MAX, "{\"seqs\":[");
    for (int k = 0; k <= ACK_RANGES_MAX; k++)
        n += (size_t)snprintf(big + n, ACK_PAYLOAD_MAX - n, "%s[%d,%d]", k ? "," : "", 2 * k + 1,
                              2 * k + 1);
    n += (size_t)snprintf(big + n, ACK_PAYLOAD_MAX - n, "]}");
    assert_int_equal(ack_parse(big, n, &msg, err), -EINVAL);
    memset(big, ' ', ACK_PAYLOAD_MAX + 1);
    assert_int_equal(ack_parse(big, ACK_PAYLOAD_MAX + 1, &msg, err), -EMSGSIZE);
    free(big);
}

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
        cmocka_unit_test(test_valid_acks_parse_to_their_ranges),
        cmocka_unit_test(test_malformed_acks_are_refused_with_a_reason),
        cmocka_unit_test(test_the_queue_counts_bad_acks_and_drops_when_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
