#include "ack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

size_t ack_ranges(uint64_t *seqs, size_t n, struct ack_range *out)
{
    if (n == 0)
        return 0;
    qsort(seqs, n, sizeof(*seqs), cmp_u64);
    size_t k = 0;
    out[0].first = out[0].last = seqs[0];
    for (size_t i = 1; i < n; i++) {
        if (seqs[i] <= out[k].last + 1 && seqs[i] >= out[k].first) {
            if (seqs[i] > out[k].last)
                out[k].last = seqs[i];
        } else {
            k++;
            out[k].first = out[k].last = seqs[i];
        }
    }
    return k + 1;
}

static int add_range(struct dynbuf *out, bool comma, uint64_t first, uint64_t last)
{
    return dynbuf_addf(out, "%s[%" PRIu64 ",%" PRIu64 "]", comma ? "," : "", first, last);
}

int ack_encode_next(const struct ack_range *acked, size_t n_acked, const struct ack_range *rejected,
                    size_t n_rejected, struct ack_cursor *cur, struct dynbuf *out)
{
    if (cur->acked >= n_acked)
        return 0;
    dynbuf_reset(out);
    int r = dynbuf_addstr(out, "{\"seqs\":[");
    size_t n_a = 0, n_r = 0, ir = cur->rejected;
    while (!r && cur->acked < n_acked && n_a < ACK_MAX_RANGES) {
        const struct ack_range *a = &acked[cur->acked];
        uint64_t from = cur->started ? cur->from : a->first;
        uint64_t to = a->last;
        bool cut = false;
        /* The rejected ranges inside this acked range must travel in the same message. */
        while (ir < n_rejected && rejected[ir].first <= a->last) {
            if (n_r == ACK_MAX_RANGES) {
                cut = true;
                break;
            }
            n_r++;
            ir++;
        }
        if (cut) {
            if (rejected[ir].first == from)
                break; /* nothing of this range fits: the next message starts with it */
            to = rejected[ir].first - 1;
        }
        r = add_range(out, n_a > 0, from, to);
        n_a++;
        if (cut) {
            cur->from = to + 1;
            cur->started = 1;
            break;
        }
        cur->acked++;
        cur->started = 0;
    }
    if (!r)
        r = dynbuf_addc(out, ']');
    if (!r && n_r > 0) {
        r = dynbuf_addstr(out, ",\"rejected\":[");
        for (size_t i = cur->rejected; !r && i < ir; i++)
            r = add_range(out, i > cur->rejected, rejected[i].first, rejected[i].last);
        if (!r)
            r = dynbuf_addc(out, ']');
    }
    if (!r)
        r = dynbuf_addc(out, '}');
    cur->rejected = ir;
    return r ? -ENOMEM : 1;
}
