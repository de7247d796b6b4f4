#include "link_batch.h"

#include <errno.h>

#include "link.h"

/* Encodes r[0..k) into out (capped at one frame's payload). 0, -E2BIG or -ENOMEM. */
static int encode(const struct reading *r, size_t k, bool as_array, struct dynbuf *out)
{
    dynbuf_reset(out);
    out->max = LINK_PAYLOAD_MAX;
    return telemetry_encode_payload(r, k, as_array, out);
}

int link_batch_next(const struct reading *r, size_t n, bool as_array, struct dynbuf *out,
                    size_t *ret_used)
{
    if (n == 0)
        return -EINVAL;
    if (!as_array)
        n = 1;
    /* The sizes of the objects say how many fit: "[" a "," b "]". Then the array itself is
       encoded, one fewer each time it still does not fit (it should, the first time). */
    size_t k = 0, total = 1;
    for (; k < n; k++) {
        int r1 = encode(&r[k], 1, false, out);
        if (r1 == -ENOMEM)
            return r1;
        if (r1 || out->len + total + 1 > LINK_PAYLOAD_MAX)
            break;
        total += out->len + 1;
    }
    if (k == 0)
        k = 1; /* r[0] alone: encoded below, so the error says why */
    for (; k > 0; k--) {
        int r2 = encode(r, k, as_array, out);
        if (r2 == 0) {
            *ret_used = k;
            return 0;
        }
        if (r2 == -ENOMEM)
            return r2;
    }
    dynbuf_reset(out);
    return -EMSGSIZE;
}
