#include "ack.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "log.h"
#include "telemetry.h"
#include "timeutil.h"

#define ACK_JSON_MAX_DEPTH 4
#define BAD_LOG_PERIOD_MS  60000

/* Parses an array of [first,last] pairs: ascending, disjoint, within 1..READING_SEQ_MAX. */
static int parse_ranges(const json_t *a, const char *key, struct ack_range_pair *out, size_t *ret_n,
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
        out[k] = (struct ack_range_pair){(uint64_t)fi, (uint64_t)li};
        prev_last = (uint64_t)li;
    }
    *ret_n = n;
    return 0;
}

/* True when [f,l] lies inside the union of the sorted, disjoint ranges. */
static bool covered(const struct ack_range_pair *r, size_t n, uint64_t f, uint64_t l)
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

struct ack_queue {
    pthread_mutex_t lock;
    struct ack_msg *slots;
    struct ack_msg scratch; /* parse target on the library's thread, under the lock */
    size_t cap, head, len;
    uint64_t bad, dropped, bad_logged;
    int64_t bad_log_ms;
};

int ack_queue_new(size_t capacity, struct ack_queue **ret)
{
    struct ack_queue *q = calloc(1, sizeof(*q));
    if (!q || capacity == 0 || !(q->slots = calloc(capacity, sizeof(*q->slots)))) {
        free(q);
        return capacity == 0 ? -EINVAL : -ENOMEM;
    }
    if (pthread_mutex_init(&q->lock, NULL)) {
        free(q->slots);
        free(q);
        return -ENOMEM;
    }
    q->cap = capacity;
    q->bad_log_ms = INT64_MIN / 2;
    *ret = q;
    return 0;
}

void ack_queue_free(struct ack_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    free(q->slots);
    free(q);
}

void ack_queue_handler(const void *payload, size_t len, void *ctx)
{
    struct ack_queue *q = ctx;
    char err[ACK_ERR_LEN];
    pthread_mutex_lock(&q->lock);
    int r = ack_parse(payload, len, &q->scratch, err);
    if (r) {
        q->bad++;
        int64_t now = time_now_ms();
        if (now - q->bad_log_ms >= BAD_LOG_PERIOD_MS) {
            log_warn("bad ack ignored: %s (%llu bad acks so far)", err, (unsigned long long)q->bad);
            q->bad_log_ms = now;
        }
    } else if (q->len == q->cap) {
        if (q->dropped++ == 0)
            log_warn("ack queue full: an ack was dropped (its readings will be resent)");
    } else {
        q->slots[(q->head + q->len) % q->cap] = q->scratch;
        q->len++;
    }
    pthread_mutex_unlock(&q->lock);
}

bool ack_queue_pop(struct ack_queue *q, struct ack_msg *ret)
{
    bool got = false;
    pthread_mutex_lock(&q->lock);
    if (q->len) {
        *ret = q->slots[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        got = true;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

void ack_queue_counts(struct ack_queue *q, uint64_t *ret_bad, uint64_t *ret_dropped)
{
    pthread_mutex_lock(&q->lock);
    *ret_bad = q->bad;
    *ret_dropped = q->dropped;
    pthread_mutex_unlock(&q->lock);
}
