/*
 * The meter's ack parser (common/wire/ack.c, ack_parse) on a meters/<id>/ack
 * payload.
 *
 * Checks: an accepted ack holds 1..ACK_RANGES_MAX ascending, disjoint ranges
 * of seqs in 1..READING_SEQ_MAX, and rejected ranges inside them; the
 * server's encoder (ack_encode_next) writes those ranges as exactly one
 * message, which parses back to the same ack.
 */
#include <errno.h>
#include <string.h>

#include "ack.h"
#include "fuzz.h"
#include "telemetry.h"

static void check_ranges(const struct ack_range *r, size_t n)
{
    FUZZ_CHECK(n <= ACK_RANGES_MAX);
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(r[k].first >= 1 && r[k].first <= r[k].last && r[k].last <= READING_SEQ_MAX);
        FUZZ_CHECK(k == 0 || r[k].first > r[k - 1].last);
    }
}

/* Whether seq lies in one of the ranges. */
static bool has_seq(const struct ack_range *r, size_t n, uint64_t seq)
{
    for (size_t k = 0; k < n; k++)
        if (seq >= r[k].first && seq <= r[k].last)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ack_msg m, again;
    char err[ACK_ERR_LEN];
    int r = ack_parse(data, size, &m, err);
    if (r) {
        FUZZ_CHECK((r == -EINVAL || r == -EMSGSIZE) && err[0]);
        return 0;
    }
    FUZZ_CHECK(m.n_seqs >= 1);
    check_ranges(m.seqs, m.n_seqs);
    check_ranges(m.rejected, m.n_rejected);
    for (size_t k = 0; k < m.n_rejected; k++)
        FUZZ_CHECK(has_seq(m.seqs, m.n_seqs, m.rejected[k].first) &&
                   has_seq(m.seqs, m.n_seqs, m.rejected[k].last));

    struct ack_cursor cur = {0};
    struct dynbuf b;
    dynbuf_init(&b, ACK_PAYLOAD_MAX);
    FUZZ_CHECK(ack_encode_next(m.seqs, m.n_seqs, m.rejected, m.n_rejected, &cur, &b) == 1);
    FUZZ_CHECK(ack_parse(b.buf, b.len, &again, err) == 0);
    FUZZ_CHECK(again.n_seqs == m.n_seqs && again.n_rejected == m.n_rejected);
    FUZZ_CHECK(memcmp(again.seqs, m.seqs, m.n_seqs * sizeof(m.seqs[0])) == 0);
    FUZZ_CHECK(memcmp(again.rejected, m.rejected, m.n_rejected * sizeof(m.rejected[0])) == 0);
    FUZZ_CHECK(ack_encode_next(m.seqs, m.n_seqs, m.rejected, m.n_rejected, &cur, &b) == 0);
    dynbuf_free(&b);
    return 0;
}
