#include "ack_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

#define BAD_LOG_PERIOD_MS 60000

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
