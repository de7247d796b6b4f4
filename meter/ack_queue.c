#include "ack_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "topic.h"

#define BAD_LOG_PERIOD_MS 60000

struct ack_queue {
    pthread_mutex_t lock;
    struct ack_msg *slots;
    struct ack_msg scratch; /* parse target on the library's thread, under the lock */
    size_t cap, head, len;
    uint64_t bad, dropped, bad_logged, refused;
    int64_t bad_log_ms;
    int64_t refused_log_ms[2]; /* unsigned, badly signed: each its own minute */
    bool keyed;                /* only signed acks are taken */
    struct sign_key key;
    char topic[TOPIC_MAX];
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
    q->refused_log_ms[0] = q->refused_log_ms[1] = INT64_MIN / 2;
    *ret = q;
    return 0;
}

void ack_queue_free(struct ack_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    sign_key_wipe(&q->key);
    free(q->slots);
    free(q);
}

void ack_queue_require_signature(struct ack_queue *q, const struct sign_key *key, const char *topic)
{
    /* Before the handler runs (publisher_start() starts its thread after this). */
    q->key = *key;
    snprintf(q->topic, sizeof(q->topic), "%s", topic);
    q->keyed = true;
}

uint64_t ack_queue_refused(struct ack_queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->refused;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Under the lock: false (counted, logged at a bounded rate) when the ack is not the server's. */
static bool signed_by_server(struct ack_queue *q, const void *payload, size_t len)
{
    int r = q->keyed ? sign_check(&q->key, q->topic, payload, len) : 0;
    if (!r)
        return true;
    q->refused++;
    int64_t now = time_now_ms(), *last = &q->refused_log_ms[r == -EBADMSG ? 0 : 1];
    if (now - *last >= BAD_LOG_PERIOD_MS) {
        log_warn("ack refused: %s (%llu refused so far); its readings stay in the spool",
                 r == -EBADMSG ? "not signed"
                               : "signed with another key (another server's database, or forged)",
                 (unsigned long long)q->refused);
        *last = now;
    }
    return false;
}

/* Under the lock: queues a copy of a, or counts it dropped when the queue is full. */
static void put(struct ack_queue *q, const struct ack_msg *a)
{
    if (q->len == q->cap) {
        if (q->dropped++ == 0)
            log_warn("ack queue full: an ack was dropped (its readings will be resent)");
        return;
    }
    q->slots[(q->head + q->len) % q->cap] = *a;
    q->len++;
}

void ack_queue_handler(const void *payload, size_t len, void *ctx)
{
    struct ack_queue *q = ctx;
    char err[ACK_ERR_LEN];
    pthread_mutex_lock(&q->lock);
    if (!signed_by_server(q, payload, len)) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    int r = ack_parse(payload, len, &q->scratch, err);
    if (r) {
        q->bad++;
        int64_t now = time_now_ms();
        if (now - q->bad_log_ms >= BAD_LOG_PERIOD_MS) {
            log_warn("bad ack ignored: %s (%llu bad acks so far)", err, (unsigned long long)q->bad);
            q->bad_log_ms = now;
        }
    } else {
        put(q, &q->scratch);
    }
    pthread_mutex_unlock(&q->lock);
}

void ack_queue_push(struct ack_queue *q, const struct ack_msg *a)
{
    pthread_mutex_lock(&q->lock);
    put(q, a);
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
