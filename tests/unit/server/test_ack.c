/* ack.c: seqs -> ranges -> meters/<id>/ack payloads of at most 256 ranges each. */
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
        assert_true(json_array_size(seqs) >= 1 && json_array_size(seqs) <= ACK_MAX_RANGES);
        assert_true(json_array_size(rj) <= ACK_MAX_RANGES);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqs_merge_into_ascending_disjoint_ranges),
        cmocka_unit_test(test_one_message_with_rejected_subset),
        cmocka_unit_test(test_many_ranges_split_into_messages_of_256),
        cmocka_unit_test(test_a_range_with_many_rejected_splits_and_covers_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
