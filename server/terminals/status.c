/*
 * The devices' online/offline status, stored off the event loop: the loop
 * posts each change (a session opened or ended) and goes on; this thread
 * stores them in order through an ingest of its own (the MQTT status path),
 * retrying while the database is unavailable. So ten thousand terminals
 * reconnecting at once (after a server restart) wait for no database write
 * in their handshakes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"
#include "terminals_internal.h"
#include "timeutil.h"
#include "topic.h"

struct status_item {
    struct status_item *next;
    bool online;
    int64_t at_ms;
    char device_id[DEVICE_ID_MAX + 1];
};

struct term_status {
    struct ingest *ing;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct status_item *head, *tail;
    size_t n, max;
    bool stopping;
    int64_t drain_until; /* monotonic: give up what is left after it */
    uint64_t dropped;
};

/* One change into the database. false: unavailable (try again). */
static bool store_one(struct term_status *s, const struct status_item *it)
{
    char topic[TOPIC_MAX];
    struct dynbuf b;
    if (topic_build(topic, it->device_id, TOPIC_STATUS))
        return true;
    dynbuf_init(&b, 256);
    bool ok = status_encode(it->online, 0, it->at_ms, &b) != 0 ||
              ingest_message(s->ing, topic, b.buf, b.len) == INGEST_DONE;
    dynbuf_free(&b);
    return ok;
}

static void *status_main(void *arg)
{
    struct term_status *s = arg;
    int64_t backoff = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!s->head || (s->stopping && time_mono_ms() >= s->drain_until))
            break;
        struct status_item *it = s->head;
        pthread_mutex_unlock(&s->lock);
        bool ok = store_one(s, it);
        pthread_mutex_lock(&s->lock);
        if (ok) {
            s->head = it->next;
            if (!s->head)
                s->tail = NULL;
            s->n--;
            free(it);
            backoff = 0;
            continue;
        }
        /* The database is away: the same change again, 100 ms doubling to 2 s. */
        backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2) : 100;
        struct timespec until = time_mono_deadline(backoff);
        pthread_cond_timedwait(&s->cond, &s->lock, &until);
    }
    size_t left = s->n;
    pthread_mutex_unlock(&s->lock);
    if (left)
        log_warn("terminals: %zu device statuses not stored at shutdown", left);
    return NULL;
}

int term_status_start(const struct store_source *db, const struct ingest_limits *limits,
                      struct server_counters *stats, size_t max, struct term_status **ret)
{
    struct term_status *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->max = max;
    s->ing = ingest_new(db, limits, stats);
    pthread_mutex_init(&s->lock, NULL);
    time_cond_init_monotonic(&s->cond);
    int r = s->ing ? -pthread_create(&s->thread, NULL, status_main, s) : -ENOMEM;
    if (r) {
        ingest_free(s->ing);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void term_status_post(struct term_status *s, const char *device_id, bool online, int64_t at_ms)
{
    struct status_item *it = calloc(1, sizeof(*it));
    if (!it)
        return;
    it->online = online;
    it->at_ms = at_ms;
    memcpy(it->device_id, device_id, strnlen(device_id, DEVICE_ID_MAX));
    pthread_mutex_lock(&s->lock);
    if (s->n >= s->max || s->stopping) {
        /* Bounded: a change that finds the queue full is lost (logged once in a while). */
        if (s->dropped++ % 1000 == 0)
            log_warn("terminals: device status queue full: '%s' %s not stored", device_id,
                     online ? "online" : "offline");
        pthread_mutex_unlock(&s->lock);
        free(it);
        return;
    }
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->n++;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void term_status_stop(struct term_status *s, int64_t drain_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    s->drain_until = time_mono_ms() + drain_ms;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    while (s->head) {
        struct status_item *it = s->head;
        s->head = it->next;
        free(it);
    }
    ingest_free(s->ing);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
