/*
 * hub: the live alarm stream (hub.h). Streams are a list under one lock;
 * each holds its backlog of SSE text and the devices it may see, sorted for
 * a binary search.
 */
#include "hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alarm_json.h"
#include "dynbuf.h"
#include "jsonw.h"
#include "timeutil.h"

struct alarm_stream {
    struct alarm_hub *hub;
    struct alarm_stream *next;
    bool all;
    char **devices; /* sorted */
    size_t n_devices;
    struct dynbuf backlog;
    size_t taken; /* bytes of backlog already read */
    bool ended;
    int64_t last_write_ms;
    void (*wake)(void *ctx);
    void *wake_ctx;
};

struct alarm_hub {
    pthread_mutex_t mu;
    struct alarm_stream *streams;
    unsigned n, max;
    int64_t keepalive_ms;
    bool closed;
};

int alarm_hub_new(unsigned max_streams, int64_t keepalive_ms, struct alarm_hub **ret)
{
    struct alarm_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->max = max_streams ? max_streams : 1;
    h->keepalive_ms = keepalive_ms > 0 ? keepalive_ms : ALARM_HUB_KEEPALIVE_MS;
    *ret = h;
    return 0;
}

static void wake(struct alarm_stream *s)
{
    if (s->wake)
        s->wake(s->wake_ctx);
}

void alarm_hub_shutdown(struct alarm_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    for (struct alarm_stream *s = h->streams; s; s = s->next) {
        s->ended = true;
        wake(s);
    }
    pthread_mutex_unlock(&h->mu);
}

void alarm_hub_free(struct alarm_hub *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool may_see(const struct alarm_stream *s, const char *device_id)
{
    return s->all || (s->n_devices && bsearch(&device_id, s->devices, s->n_devices,
                                              sizeof(*s->devices), cmp_str) != NULL);
}

/* Appends text to the stream's backlog; a stream past its cap ends (its client reconnects). */
static void append(struct alarm_stream *s, const char *text, size_t len, int64_t now_ms)
{
    if (s->ended)
        return;
    if (s->taken == s->backlog.len) { /* all read: start again at the front */
        dynbuf_reset(&s->backlog);
        s->taken = 0;
    }
    if (dynbuf_add(&s->backlog, text, len)) {
        s->ended = true;
    }
    s->last_write_ms = now_ms;
    wake(s);
}

void alarm_hub_publish(struct alarm_hub *h, const struct alarm_rec *a)
{
    if (!h)
        return;
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 8192);
    dynbuf_addf(&b, "id: %lld\nevent: alarm\ndata: ", (long long)a->id);
    jsonw_init(&w, &b);
    alarm_json_write(&w, a);
    dynbuf_add(&b, "\n\n", 2);
    if (jsonw_error(&w) || !b.buf) {
        dynbuf_free(&b);
        return;
    }
    int64_t now = time_now_ms();
    pthread_mutex_lock(&h->mu);
    for (struct alarm_stream *s = h->streams; s; s = s->next)
        if (may_see(s, a->device_id))
            append(s, b.buf, b.len, now);
    pthread_mutex_unlock(&h->mu);
    dynbuf_free(&b);
}

void alarm_hub_tick(struct alarm_hub *h, int64_t now_ms)
{
    static const char ka[] = ": keep-alive\n\n";
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    for (struct alarm_stream *s = h->streams; s; s = s->next)
        if (now_ms - s->last_write_ms >= h->keepalive_ms)
            append(s, ka, sizeof(ka) - 1, now_ms);
    pthread_mutex_unlock(&h->mu);
}

static void stream_free(struct alarm_stream *s)
{
    for (size_t i = 0; i < s->n_devices; i++)
        free(s->devices[i]);
    free(s->devices);
    dynbuf_free(&s->backlog);
    free(s);
}

int alarm_hub_subscribe(struct alarm_hub *h, bool all, const char *const *devices, size_t n,
                        int64_t now_ms, struct alarm_stream **ret)
{
    struct alarm_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->hub = h;
    s->all = all;
    dynbuf_init(&s->backlog, ALARM_STREAM_BACKLOG_MAX);
    if (!all && n) {
        s->devices = calloc(n, sizeof(*s->devices));
        if (!s->devices) {
            stream_free(s);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            s->devices[i] = strdup(devices[i]);
            if (!s->devices[i]) {
                stream_free(s);
                return -ENOMEM;
            }
            s->n_devices++;
        }
        qsort(s->devices, s->n_devices, sizeof(*s->devices), cmp_str);
    }
    /* The first line tells the browser how soon to reconnect; it opens the answer at once. */
    static const char hello[] = "retry: 5000\n: alarms\n\n";
    if (dynbuf_add(&s->backlog, hello, sizeof(hello) - 1)) {
        stream_free(s);
        return -ENOMEM;
    }
    s->last_write_ms = now_ms;
    pthread_mutex_lock(&h->mu);
    int r = h->closed ? -ESHUTDOWN : h->n >= h->max ? -EBUSY : 0;
    if (!r) {
        s->next = h->streams;
        h->streams = s;
        h->n++;
    }
    pthread_mutex_unlock(&h->mu);
    if (r) {
        stream_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void alarm_stream_set_waker(struct alarm_stream *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->hub->mu);
    s->wake = fn;
    s->wake_ctx = ctx;
    pthread_mutex_unlock(&s->hub->mu);
}

ssize_t alarm_stream_read(struct alarm_stream *s, char *buf, size_t max)
{
    ssize_t n;
    pthread_mutex_lock(&s->hub->mu);
    size_t left = s->backlog.len - s->taken;
    if (left) {
        n = (ssize_t)(left < max ? left : max);
        memcpy(buf, s->backlog.buf + s->taken, (size_t)n);
        s->taken += (size_t)n;
    } else {
        n = s->ended ? -1 : 0;
    }
    pthread_mutex_unlock(&s->hub->mu);
    return n;
}

void alarm_stream_close(struct alarm_stream *s)
{
    if (!s)
        return;
    struct alarm_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    for (struct alarm_stream **p = &h->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            h->n--;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    stream_free(s);
}

unsigned alarm_hub_streams(struct alarm_hub *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}
