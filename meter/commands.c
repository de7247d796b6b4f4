#include "commands.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* --- running commands ---------------------------------------------------------------------- */

static int send_reply_result(const struct command *c, const struct command_env *env,
                             const char *error, const struct command_result *res, int64_t now_ms)
{
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    int r = command_reply_encode_result(c, !error, error, res, now_ms, &b);
    if (!r)
        r = env->send(env->ctx, TOPIC_REPLY, b.buf, b.len);
    dynbuf_free(&b);
    return r;
}

static int send_reply(const struct command *c, const struct command_env *env, const char *error,
                      int64_t now_ms)
{
    struct dynbuf b;
    dynbuf_init(&b, 1024);
    int r = command_reply_encode(c, !error, error, now_ms, &b);
    if (!r)
        r = env->send(env->ctx, TOPIC_REPLY, b.buf, b.len);
    dynbuf_free(&b);
    return r;
}

/* Says why samples could not be taken; returns r. */
static int snapshot_failed(int r, char *why, size_t whylen)
{
    if (r == -ENODATA)
        snprintf(why, whylen, "not enough samples yet");
    else if (r == -ERANGE)
        snprintf(why, whylen, "duration_ms is longer than the sample ring holds");
    else
        snprintf(why, whylen, "cannot take the samples: %s", strerror(-r));
    return r;
}

/* A three-phase meter's capture: every channel of env->layout. */
static int run_capture_set(const struct command *c, const struct command_env *env, size_t n,
                           char *why, size_t whylen)
{
    const struct capture_layout *l = env->layout;
    float *x[CAPTURE_MAX_CHANNELS] = {0};
    struct dynbuf b;
    int64_t first_ms = 0;
    int r = 0;

    for (size_t k = 0; k < l->count && !r; k++) {
        x[k] = malloc(n * sizeof(float));
        if (!x[k])
            r = -ENOMEM;
    }
    if (!r)
        r = env->snapshot_set(env->ctx, n, x, &first_ms);
    dynbuf_init(&b, capture_payload_max_set(n, l->count));
    if (r) {
        snapshot_failed(r, why, whylen);
    } else {
        struct capture_meta m = {.id = c->id,
                                 .rate_hz = env->rate_hz,
                                 .start_ms = first_ms,
                                 .nominal_hz = env->nominal_hz};
        r = capture_encode_set(&m, l, (const float *const *)x, n, &b);
        if (r)
            snprintf(why, whylen, "cannot encode the capture: %s", strerror(-r));
        else if ((r = env->send(env->ctx, TOPIC_CAPTURE, b.buf, b.len)))
            snprintf(why, whylen, "cannot send the capture: %s", strerror(-r));
    }
    dynbuf_free(&b);
    for (size_t k = 0; k < CAPTURE_MAX_CHANNELS; k++)
        free(x[k]);
    return r;
}

/* Sends the capture; returns 0 or -errno with why set. */
static int run_capture(const struct command *c, const struct command_env *env, char *why,
                       size_t whylen)
{
    double want = (double)c->duration_ms * env->rate_hz / 1000.0;
    size_t n = want < 1 ? 1 : (size_t)llround(want);
    if (env->layout && env->layout->wiring != CAPTURE_WIRING_1P2W)
        return run_capture_set(c, env, n, why, whylen);
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    struct dynbuf b;
    int64_t first_ms = 0;
    int r = v && i ? env->snapshot(env->ctx, n, v, i, &first_ms) : -ENOMEM;

    dynbuf_init(&b, capture_payload_max(n));
    if (r) {
        snapshot_failed(r, why, whylen);
    } else {
        struct capture_meta m = {.id = c->id,
                                 .rate_hz = env->rate_hz,
                                 .start_ms = first_ms,
                                 .nominal_hz = env->nominal_hz,
                                 .phase_cal_deg = env->phase_cal_deg};
        r = capture_encode(&m, v, i, n, &b);
        if (r)
            snprintf(why, whylen, "cannot encode the capture: %s", strerror(-r));
        else if ((r = env->send(env->ctx, TOPIC_CAPTURE, b.buf, b.len)))
            snprintf(why, whylen, "cannot send the capture: %s", strerror(-r));
    }
    dynbuf_free(&b);
    free(v);
    free(i);
    return r;
}

/* --- remote operations, each run once per id ---------------------------------------------- */

struct remembered {
    char id[COMMAND_ID_MAX + 1];
    int r; /* 0: answered ok */
    char msg[COMMAND_MESSAGE_MAX];
    bool has_result;
    struct command_result res;
};

struct command_memory {
    struct remembered items[COMMAND_MEMORY_MAX];
    size_t next, count; /* a ring: the oldest answer is forgotten first */
};

int command_memory_new(struct command_memory **ret)
{
    *ret = calloc(1, sizeof(**ret));
    return *ret ? 0 : -ENOMEM;
}

void command_memory_free(struct command_memory *m)
{
    free(m);
}

static const struct remembered *recall(const struct command_memory *m, const char *id)
{
    for (size_t k = 0; m && k < m->count; k++)
        if (strcmp(m->items[k].id, id) == 0)
            return &m->items[k];
    return NULL;
}

static void remember(struct command_memory *m, const struct remembered *a)
{
    if (!m)
        return;
    m->items[m->next] = *a;
    m->next = (m->next + 1) % COMMAND_MEMORY_MAX;
    if (m->count < COMMAND_MEMORY_MAX)
        m->count++;
}

/* Acts on an operation; 0 with a->res filled, or -errno with a->msg. */
static int act(const struct command *c, const struct command_env *env, int64_t now_ms,
               struct remembered *a)
{
    a->res.kind = c->kind;
    a->has_result = true;
    switch (c->kind) {
    case COMMAND_READ_STATUS:
        if (!env->status)
            break;
        a->r = env->status(env->ctx, now_ms, &a->res.u.status);
        if (a->r)
            snprintf(a->msg, sizeof(a->msg), "cannot read the status: %s", strerror(-a->r));
        /* The command's "ts" is the server's clock when it sent it: the transit is in it. */
        a->res.u.status.clock_offset_ms = c->ts_ms - now_ms;
        return a->r;
    case COMMAND_SET_INTERVAL:
        if (!env->set_interval)
            break;
        return a->r = env->set_interval(env->ctx, c, &a->res.u.interval, a->msg, sizeof(a->msg));
    case COMMAND_SYNC_CLOCK:
        if (!env->sync_clock)
            break;
        return a->r = env->sync_clock(env->ctx, c, now_ms, &a->res.u.clock, a->msg, sizeof(a->msg));
    default:
        break;
    }
    a->has_result = false;
    snprintf(a->msg, sizeof(a->msg), "this meter cannot %s", c->name);
    return a->r = -ENOTSUP;
}

static int run_operation(const struct command *c, const struct command_env *env, int64_t now_ms,
                         char *msg, size_t msglen)
{
    const struct remembered *seen = recall(env->memory, c->id);
    struct remembered a = {.r = 0};
    if (seen) {
        a = *seen; /* answered before: the same answer, nothing done again */
    } else {
        snprintf(a.id, sizeof(a.id), "%s", c->id);
        act(c, env, now_ms, &a);
        remember(env->memory, &a);
    }
    send_reply_result(c, env, a.r ? a.msg : NULL, a.has_result ? &a.res : NULL, now_ms);
    snprintf(msg, msglen, "%s", a.msg);
    return a.r;
}

int command_run(const struct command *c, const struct command_env *env, int64_t now_ms, char *why,
                size_t whylen)
{
    char msg[COMMAND_MESSAGE_MAX] = "";
    int r;
    switch (c->kind) {
    case COMMAND_READ_STATUS:
    case COMMAND_SET_INTERVAL:
    case COMMAND_SYNC_CLOCK:
        r = run_operation(c, env, now_ms, msg, sizeof(msg));
        if (why && whylen)
            snprintf(why, whylen, "%s", msg);
        return r;
    case COMMAND_CAPTURE:
        r = run_capture(c, env, msg, sizeof(msg));
        break;
    case COMMAND_RELAY:
        if (env->relay) {
            r = env->relay(env->ctx, c, msg, sizeof(msg));
        } else {
            r = -ENOTSUP;
            snprintf(msg, sizeof(msg), "this meter has no load relay");
        }
        break;
    default:
        r = -EINVAL;
        snprintf(msg, sizeof(msg), "%s", c->message[0] ? c->message : "invalid command");
        break;
    }
    /* The reply goes out even when the capture could not: the server is waiting for one. */
    send_reply(c, env, r ? msg : NULL, now_ms);
    if (why && whylen)
        snprintf(why, whylen, "%s", msg);
    return r;
}

/* --- the queue between the MQTT library's thread and the main loop ----------------------- */

/* A command id taken, until forget_ms. */
struct seen_id {
    char id[COMMAND_ID_MAX + 1];
    int64_t forget_ms;
};

struct command_queue {
    pthread_mutex_t lock;
    size_t capacity, head, count;
    uint64_t dropped, bad_signature, replayed;
    bool keyed; /* only signed commands are taken */
    struct sign_key key;
    char topic[TOPIC_MAX];
    struct seen_id seen[COMMAND_REMEMBER_MAX];
    size_t n_seen;
    struct command items[];
};

int command_queue_new(size_t capacity, struct command_queue **ret)
{
    if (capacity == 0 || capacity > 1024)
        return -EINVAL;
    struct command_queue *q = calloc(1, sizeof(*q) + capacity * sizeof(q->items[0]));
    if (!q)
        return -ENOMEM;
    if (pthread_mutex_init(&q->lock, NULL)) {
        free(q);
        return -ENOMEM;
    }
    q->capacity = capacity;
    *ret = q;
    return 0;
}

void command_queue_free(struct command_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    sign_key_wipe(&q->key);
    free(q);
}

void command_queue_require_signature(struct command_queue *q, const struct sign_key *key,
                                     const char *topic)
{
    /* Before the handler runs (publisher_start() starts its thread after this). */
    q->key = *key;
    snprintf(q->topic, sizeof(q->topic), "%s", topic);
    q->keyed = true;
}

int command_queue_push(struct command_queue *q, const struct command *c)
{
    int r = 0;
    pthread_mutex_lock(&q->lock);
    if (q->count == q->capacity) {
        q->dropped++;
        r = -ENOBUFS;
    } else {
        q->items[(q->head + q->count) % q->capacity] = *c;
        q->count++;
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

bool command_queue_pop(struct command_queue *q, struct command *ret)
{
    bool got = false;
    pthread_mutex_lock(&q->lock);
    if (q->count > 0) {
        *ret = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        got = true;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

uint64_t command_queue_dropped(struct command_queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void command_queue_refused(struct command_queue *q, uint64_t *ret_bad_signature,
                           uint64_t *ret_replayed)
{
    pthread_mutex_lock(&q->lock);
    *ret_bad_signature = q->bad_signature;
    *ret_replayed = q->replayed;
    pthread_mutex_unlock(&q->lock);
}

/*
 * Under the lock: remembers id at now_ms. False when it was taken before (a
 * replay, or a copy the broker delivered twice) or no room is left.
 */
static bool first_time(struct command_queue *q, const char *id, int64_t now_ms)
{
    size_t keep = 0;
    bool seen = false;
    for (size_t k = 0; k < q->n_seen; k++) {
        if (q->seen[k].forget_ms <= now_ms)
            continue;
        seen = seen || strcmp(q->seen[k].id, id) == 0;
        q->seen[keep++] = q->seen[k];
    }
    q->n_seen = keep;
    if (seen || keep == COMMAND_REMEMBER_MAX)
        return false;
    snprintf(q->seen[keep].id, sizeof(q->seen[keep].id), "%s", id);
    q->seen[keep].forget_ms = now_ms + COMMAND_REMEMBER_MS;
    q->n_seen++;
    return true;
}

void command_queue_handler(const void *payload, size_t len, void *ctx)
{
    struct command_queue *q = ctx;
    /* Unanswered: an answer would let anyone who can publish here fail a pending request. */
    if (q->keyed && sign_check(&q->key, q->topic, payload, len)) {
        pthread_mutex_lock(&q->lock);
        q->bad_signature++;
        pthread_mutex_unlock(&q->lock);
        return;
    }
    command_queue_handler_authenticated(payload, len, ctx);
}

void command_queue_handler_authenticated(const void *payload, size_t len, void *ctx)
{
    struct command_queue *q = ctx;
    struct command c;
    int64_t now = time_now_ms();
    command_parse(payload, len, now, &c);
    /* Relay commands and remote operations answer a repeated id themselves (relay.h, the
       command memory): the server resends until it has an answer. */
    bool answers_again = c.kind == COMMAND_RELAY || c.kind == COMMAND_READ_STATUS ||
                         c.kind == COMMAND_SET_INTERVAL || c.kind == COMMAND_SYNC_CLOCK;
    if (c.id[0] && !answers_again) {
        pthread_mutex_lock(&q->lock);
        bool fresh = first_time(q, c.id, now);
        q->replayed += !fresh;
        pthread_mutex_unlock(&q->lock);
        if (!fresh)
            return;
    }
    /* A full queue drops the command: the server sees no answer and times the request out. */
    command_queue_push(q, &c);
}
