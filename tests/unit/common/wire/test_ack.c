/*
 * Acks (meters/<id>/ack): the server's side turns seqs into ranges and ranges
 * into payloads of at most 256 ranges each; the meter's side parses valid
 * payloads to their ranges and refuses every malformed one with a reason;
 * whatever the encoder writes, the parser reads back.
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

#include "ack.h"
#include "telemetry.h"

static void test_seqs_merge_into_ascending_disjoint_ranges(void **state)
{
    (void)state;
    uint64_t seqs[] = {9, 3, 4, 4, 10, 1, 5, 12, 2};
    struct ack_range r[9];
    size_t n = ack_ranges(seqs, 9, r);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].first, 1);
    assert_int_equal(r[0].last, 5);
    assert_int_equal(r[1].first, 9);
    assert_int_equal(r[1].last, 10);
    assert_int_equal(r[2].first, 12);
    assert_int_equal(r[2].last, 12);
    assert_int_equal(ack_ranges(seqs, 0, r), 0);
}

static void test_one_message_with_rejected_subset(void **state)
{
    (void)state;
    struct ack_range acked[] = {{1, 5}, {7, 7}};
    struct ack_range rej[] = {{2, 2}, {7, 7}};
    struct ack_cursor cur = {0};
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    assert_int_equal(ack_encode_next(acked, 2, rej, 2, &cur, &b), 1);
    assert_string_equal(dynbuf_str(&b), "{\"seqs\":[[1,5],[7,7]],\"rejected\":[[2,2],[7,7]]}");
    assert_int_equal(ack_encode_next(acked, 2, rej, 2, &cur, &b), 0);

    struct ack_cursor cur2 = {0};
    assert_int_equal(ack_encode_next(acked, 2, NULL, 0, &cur2, &b), 1);
    assert_string_equal(dynbuf_str(&b), "{\"seqs\":[[1,5],[7,7]]}");
    dynbuf_free(&b);
}

/* Decodes every message and checks the protocol's rules; returns the seqs covered. */
static size_t check_messages(const struct ack_range *acked, size_t na, const struct ack_range *rej,
                             size_t nr, uint64_t *covered, uint64_t *rejected, size_t *ret_nrej,
                             size_t *ret_messages)
{
    struct ack_cursor cur = {0};
    struct dynbuf b;
    size_t nc = 0, nrej = 0, messages = 0;
    dynbuf_init(&b, 1 << 20);
    int r;
    while ((r = ack_encode_next(acked, na, rej, nr, &cur, &b)) == 1) {
        messages++;
        json_error_t e;
        json_t *root = json_loads(dynbuf_str(&b), 0, &e);
        assert_non_null(root);
        json_t *seqs = json_object_get(root, "seqs"), *rj = json_object_get(root, "rejected");
        assert_true(json_array_size(seqs) >= 1 && json_array_size(seqs) <= ACK_RANGES_MAX);
        assert_true(json_array_size(rj) <= ACK_RANGES_MAX);
        uint64_t prev_last = 0;
        for (size_t i = 0; i < json_array_size(seqs); i++) {
            uint64_t f = (uint64_t)json_integer_value(json_array_get(json_array_get(seqs, i), 0));
            uint64_t l = (uint64_t)json_integer_value(json_array_get(json_array_get(seqs, i), 1));
            assert_true(f <= l);
            if (i > 0)
                assert_true(f > prev_last); /* ascending, disjoint */
            prev_last = l;
            for (uint64_t s = f; s <= l; s++)
                covered[nc++] = s;
        }
        for (size_t i = 0; i < json_array_size(rj); i++) {
            uint64_t f = (uint64_t)json_integer_value(json_array_get(json_array_get(rj, i), 0));
            uint64_t l = (uint64_t)json_integer_value(json_array_get(json_array_get(rj, i), 1));
            /* a rejected range lies inside this very message's acked ranges */
            int inside = 0;
            for (size_t j = 0; j < json_array_size(seqs); j++) {
                uint64_t af =
                    (uint64_t)json_integer_value(json_array_get(json_array_get(seqs, j), 0));
                uint64_t al =
                    (uint64_t)json_integer_value(json_array_get(json_array_get(seqs, j), 1));
                inside |= af <= f && l <= al;
            }
            assert_true(inside);
            for (uint64_t s = f; s <= l; s++)
                rejected[nrej++] = s;
        }
        json_decref(root);
    }
    assert_int_equal(r, 0);
    dynbuf_free(&b);
    *ret_nrej = nrej;
    *ret_messages = messages;
    return nc;
}

static void test_many_ranges_split_into_messages_of_256(void **state)
{
    (void)state;
    enum { N = 600 };
    /* every other seq: 600 single-seq ranges -> 256 + 256 + 88 */
    struct ack_range acked[N];
    for (int k = 0; k < N; k++)
        acked[k] = (struct ack_range){2 * (uint64_t)k, 2 * (uint64_t)k};
    uint64_t *covered = calloc(2 * N, sizeof(uint64_t)), *rej = calloc(2 * N, sizeof(uint64_t));
    size_t nrej, messages;
    size_t nc = check_messages(acked, N, NULL, 0, covered, rej, &nrej, &messages);
    assert_int_equal(messages, 3);
    assert_int_equal(nc, N);
    for (int k = 0; k < N; k++)
        assert_int_equal(covered[k], 2 * (uint64_t)k);
    assert_int_equal(nrej, 0);
    free(covered);
    free(rej);
}

static void test_a_range_with_many_rejected_splits_and_covers_everything(void **state)
{
    (void)state;
    enum { SPAN = 1200 };
    /* one acked range 0..1199, every third seq rejected: 400 rejected ranges */
    struct ack_range acked[1] = {{0, SPAN - 1}};
    struct ack_range rej[SPAN / 3];
    for (int k = 0; k < SPAN / 3; k++)
        rej[k] = (struct ack_range){3 * (uint64_t)k + 1, 3 * (uint64_t)k + 1};
    uint64_t *covered = calloc(SPAN, sizeof(uint64_t)), *rejected = calloc(SPAN, sizeof(uint64_t));
    size_t nrej, messages;
    size_t nc = check_messages(acked, 1, rej, SPAN / 3, covered, rejected, &nrej, &messages);
    assert_int_equal(messages, 2);
    assert_int_equal(nc, SPAN);
    for (int k = 0; k < SPAN; k++)
        assert_int_equal(covered[k], (uint64_t)k); /* each seq exactly once, in order */
    assert_int_equal(nrej, SPAN / 3);
    for (int k = 0; k < SPAN / 3; k++)
        assert_int_equal(rejected[k], 3 * (uint64_t)k + 1);
    free(covered);
    free(rejected);
}

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

/*
 * Runs every message the encoder writes for acked/rejected through the
 * meter's parser; returns how many messages there were. The parsed ranges,
 * joined in order, must be exactly the input (a range split between two
 * messages joins up again).
 */
static size_t round_trip(const struct ack_range *acked, size_t na, const struct ack_range *rej,
                         size_t nr)
{
    static struct ack_msg m;
    struct ack_range *got = calloc(na + nr + 1, sizeof(*got)),
                     *got_rej = calloc(nr + 1, sizeof(*got_rej));
    size_t ng = 0, ngr = 0, messages = 0;
    struct ack_cursor cur = {0};
    struct dynbuf b;
    int r;
    assert_non_null(got);
    assert_non_null(got_rej);
    dynbuf_init(&b, ACK_PAYLOAD_MAX);
    while ((r = ack_encode_next(acked, na, rej, nr, &cur, &b)) == 1) {
        messages++;
        if (ack_parse(b.buf, b.len, &m, err))
            fail_msg("message %zu refused: %s", messages, err);
        for (size_t k = 0; k < m.n_seqs; k++) {
            if (ng > 0 && got[ng - 1].last + 1 == m.seqs[k].first)
                got[ng - 1].last = m.seqs[k].last; /* continued from the previous message */
            else
                got[ng++] = m.seqs[k];
        }
        for (size_t k = 0; k < m.n_rejected; k++)
            got_rej[ngr++] = m.rejected[k];
    }
    assert_int_equal(r, 0);
    assert_int_equal(ng, na);
    assert_memory_equal(got, acked, na * sizeof(*acked));
    assert_int_equal(ngr, nr);
    if (nr)
        assert_memory_equal(got_rej, rej, nr * sizeof(*rej));
    dynbuf_free(&b);
    free(got);
    free(got_rej);
    return messages;
}

static void test_what_the_server_encodes_the_meter_parses(void **state)
{
    (void)state;
    enum { N = 700 };
    struct ack_range *acked = calloc(N, sizeof(*acked)), *rej = calloc(N, sizeof(*rej));
    assert_non_null(acked);
    assert_non_null(rej);

    acked[0] = (struct ack_range){1, 5};
    assert_int_equal(round_trip(acked, 1, NULL, 0), 1);
    rej[0] = (struct ack_range){2, 3};
    assert_int_equal(round_trip(acked, 1, rej, 1), 1);

    /* 700 single seqs with gaps: 256 + 256 + 188 ranges */
    for (size_t k = 0; k < N; k++)
        acked[k] = (struct ack_range){3 * k + 1, 3 * k + 1};
    assert_int_equal(round_trip(acked, N, NULL, 0), 3);

    /* one long range, every other seq of it rejected: split where the rejected ones overflow */
    acked[0] = (struct ack_range){10, 10 + 2 * N};
    for (size_t k = 0; k < N; k++)
        rej[k] = (struct ack_range){11 + 2 * k, 11 + 2 * k};
    assert_int_equal(round_trip(acked, 1, rej, N), 3);

    /* the highest seqs a reading may carry */
    acked[0] = (struct ack_range){READING_SEQ_MAX - 9, READING_SEQ_MAX};
    rej[0] = (struct ack_range){READING_SEQ_MAX, READING_SEQ_MAX};
    assert_int_equal(round_trip(acked, 1, rej, 1), 1);
    free(acked);
    free(rej);
}

static void test_the_fullest_message_fits_what_the_meter_reads(void **state)
{
    (void)state;
    /* ACK_RANGES_MAX acked ranges holding ACK_RANGES_MAX rejected ones, at the longest seqs */
    static struct ack_range acked[ACK_RANGES_MAX], rej[ACK_RANGES_MAX];
    static struct ack_msg m;
    for (uint64_t k = 0; k < ACK_RANGES_MAX; k++) {
        uint64_t first = READING_SEQ_MAX - 4 * (ACK_RANGES_MAX - k);
        acked[k] = (struct ack_range){first, first + 2};
        rej[k] = (struct ack_range){first + 1, first + 1};
    }
    struct ack_cursor cur = {0};
    struct dynbuf b;
    dynbuf_init(&b, ACK_PAYLOAD_MAX);
    assert_int_equal(ack_encode_next(acked, ACK_RANGES_MAX, rej, ACK_RANGES_MAX, &cur, &b), 1);
    assert_true(b.len <= ACK_PAYLOAD_MAX);
    if (ack_parse(b.buf, b.len, &m, err))
        fail_msg("refused: %s", err);
    assert_int_equal(m.n_seqs, ACK_RANGES_MAX);
    assert_int_equal(m.n_rejected, ACK_RANGES_MAX);
    assert_int_equal(ack_encode_next(acked, ACK_RANGES_MAX, rej, ACK_RANGES_MAX, &cur, &b), 0);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqs_merge_into_ascending_disjoint_ranges),
        cmocka_unit_test(test_one_message_with_rejected_subset),
        cmocka_unit_test(test_many_ranges_split_into_messages_of_256),
        cmocka_unit_test(test_a_range_with_many_rejected_splits_and_covers_everything),
        cmocka_unit_test(test_valid_acks_parse_to_their_ranges),
        cmocka_unit_test(test_malformed_acks_are_refused_with_a_reason),
        cmocka_unit_test(test_what_the_server_encodes_the_meter_parses),
        cmocka_unit_test(test_the_fullest_message_fits_what_the_meter_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
