#include "ack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "jsonutil.h"
#include "telemetry.h"

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
    while (!r && cur->acked < n_acked && n_a < ACK_RANGES_MAX) {
        const struct ack_range *a = &acked[cur->acked];
        uint64_t from = cur->started ? cur->from : a->first;
        uint64_t to = a->last;
        bool cut = false;
        /* The rejected ranges inside this acked range must travel in the same message. */
        while (ir < n_rejected && rejected[ir].first <= a->last) {
            if (n_r == ACK_RANGES_MAX) {
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

/* --- parsing, on the meter ------------------------------------------------------------------ */

#define ACK_JSON_MAX_DEPTH 4

/* Parses an array of [first,last] pairs: ascending, disjoint, within 1..READING_SEQ_MAX. */
static int parse_ranges(const json_t *a, const char *key, struct ack_range *out, size_t *ret_n,
                        char err[ACK_ERR_LEN])
{
    if (!json_is_array(a)) {
        snprintf(err, ACK_ERR_LEN, "\"%s\" must be an array of [first,last] pairs", key);
        return -EINVAL;
    }
    size_t n = json_array_size(a);
    if (n > ACK_RANGES_MAX) {
        snprintf(err, ACK_ERR_LEN, "\"%s\" has %zu ranges (at most %d)", key, n, ACK_RANGES_MAX);
        return -EINVAL;
    }
    uint64_t prev_last = 0;
    for (size_t k = 0; k < n; k++) {
        const json_t *p = json_array_get(a, k);
        const json_t *f = json_array_get(p, 0), *l = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(f) ||
            !json_is_integer(l)) {
            snprintf(err, ACK_ERR_LEN, "\"%s\"[%zu] must be [first,last] (two integers)", key, k);
            return -EINVAL;
        }
        json_int_t fi = json_integer_value(f), li = json_integer_value(l);
        if (fi < 1 || li < fi || (uint64_t)li > READING_SEQ_MAX) {
            snprintf(err, ACK_ERR_LEN, "\"%s\"[%zu]: [%lld,%lld] is not a range of seqs", key, k,
                     (long long)fi, (long long)li);
            return -EINVAL;
        }
        if (k > 0 && (uint64_t)fi <= prev_last) {
            snprintf(err, ACK_ERR_LEN, "\"%s\"[%zu]: ranges must be ascending and disjoint", key,
                     k);
            return -EINVAL;
        }
        out[k] = (struct ack_range){(uint64_t)fi, (uint64_t)li};
        prev_last = (uint64_t)li;
    }
    *ret_n = n;
    return 0;
}

/* True when [f,l] lies inside the union of the sorted, disjoint ranges. */
static bool covered(const struct ack_range *r, size_t n, uint64_t f, uint64_t l)
{
    uint64_t need = f;
    for (size_t k = 0; k < n && need <= l; k++) {
        if (r[k].last < need)
            continue;
        if (r[k].first > need)
            return false;
        if (r[k].last >= l)
            return true;
        need = r[k].last + 1;
    }
    return false;
}

int ack_parse(const void *payload, size_t len, struct ack_msg *ret, char err[ACK_ERR_LEN])
{
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN];
    int r;
    if (len > ACK_PAYLOAD_MAX) {
        snprintf(err, ACK_ERR_LEN, "payload of %zu bytes (at most %d)", len, ACK_PAYLOAD_MAX);
        return -EMSGSIZE;
    }
    if (json_load_limited(payload, len, ACK_JSON_MAX_DEPTH, &root, jerr)) {
        snprintf(err, ACK_ERR_LEN, "not JSON: %.120s", jerr);
        return -EINVAL;
    }
    if (!json_is_object(root)) {
        snprintf(err, ACK_ERR_LEN, "not a JSON object");
        r = -EINVAL;
        goto out;
    }
    const json_t *seqs = json_object_get(root, "seqs");
    if (!seqs) {
        snprintf(err, ACK_ERR_LEN, "no \"seqs\"");
        r = -EINVAL;
        goto out;
    }
    ret->n_rejected = 0;
    if ((r = parse_ranges(seqs, "seqs", ret->seqs, &ret->n_seqs, err)))
        goto out;
    if (ret->n_seqs == 0) {
        snprintf(err, ACK_ERR_LEN, "\"seqs\" is empty");
        r = -EINVAL;
        goto out;
    }
    const json_t *rej = json_object_get(root, "rejected");
    if (rej && (r = parse_ranges(rej, "rejected", ret->rejected, &ret->n_rejected, err)))
        goto out;
    for (size_t k = 0; k < ret->n_rejected; k++) {
        if (!covered(ret->seqs, ret->n_seqs, ret->rejected[k].first, ret->rejected[k].last)) {
            snprintf(err, ACK_ERR_LEN, "\"rejected\"[%zu] is not part of \"seqs\"", k);
            r = -EINVAL;
            goto out;
        }
    }
    r = 0;
out:
    json_decref(root);
    return r;
}
