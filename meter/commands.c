#include "commands.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "f32le.h"
#include "jsonutil.h"
#include "jsonw.h"
#include "timeutil.h"

#define COMMAND_JSON_MAX_DEPTH 4
/* Floats packed and encoded per step: 3072 bytes, a multiple of 3, so the chunks join cleanly. */
#define ENCODE_CHUNK 768

bool command_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= COMMAND_ID_MAX)
            return false;
    }
    return n > 0;
}

/* Command names share the id alphabet, so they are safe to echo in replies and logs. */
static bool name_valid(const char *name)
{
    return strlen(name) <= COMMAND_NAME_MAX && command_id_valid(name);
}

static int invalid(struct command *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(struct command *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    c->kind = COMMAND_INVALID;
    return err;
}

/* "ts": RFC 3339 text or integer epoch milliseconds. */
static int parse_ts(const json_t *v, int64_t *ret_ms)
{
    if (json_is_string(v))
        return time_parse_rfc3339(json_string_value(v), ret_ms);
    if (json_is_integer(v)) {
        *ret_ms = (int64_t)json_integer_value(v);
        return 0;
    }
    return -EINVAL;
}

static int parse_capture(const json_t *root, struct command *c)
{
    const json_t *d = json_object_get(root, "duration_ms");
    if (!d)
        return invalid(c, -EINVAL, "duration_ms is missing");
    if (!json_is_integer(d) || json_integer_value(d) < CAPTURE_MIN_MS ||
        json_integer_value(d) > CAPTURE_MAX_MS)
        return invalid(c, -EINVAL, "duration_ms must be an integer from %d to %d", CAPTURE_MIN_MS,
                       CAPTURE_MAX_MS);
    c->duration_ms = (uint32_t)json_integer_value(d);
    c->kind = COMMAND_CAPTURE;
    return 0;
}

int command_parse(const void *payload, size_t len, int64_t now_ms, struct command *ret)
{
    char err[JSON_ERR_LEN];
    json_t *root = NULL;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (json_load_limited(payload, len, COMMAND_JSON_MAX_DEPTH, &root, err))
        return invalid(ret, -EINVAL, "%s", err);
    if (!json_is_object(root)) {
        r = invalid(ret, -EINVAL, "a command must be a JSON object");
        goto out;
    }
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!id || !command_id_valid(id)) {
        r = invalid(ret, -EINVAL, "id must be 1 to %d of A-Z a-z 0-9 _ -", COMMAND_ID_MAX);
        goto out;
    }
    memcpy(ret->id, id, strlen(id) + 1);

    const char *name = json_string_value(json_object_get(root, "cmd"));
    if (!name) {
        r = invalid(ret, -EINVAL, "cmd is missing or not a string");
        goto out;
    }
    if (!name_valid(name)) {
        r = invalid(ret, -ENOTSUP, "unknown command");
        goto out;
    }
    memcpy(ret->name, name, strlen(name) + 1);

    const json_t *ts = json_object_get(root, "ts");
    if (!ts || parse_ts(ts, &ret->ts_ms)) {
        r = invalid(ret, -EINVAL, "ts must be an RFC 3339 time or epoch milliseconds");
        goto out;
    }
    if (now_ms - ret->ts_ms > COMMAND_MAX_AGE_MS) {
        r = invalid(ret, -ETIME, "command expired (issued %lld s ago)",
                    (long long)((now_ms - ret->ts_ms) / 1000));
        goto out;
    }

    if (strcmp(name, "capture") == 0)
        r = parse_capture(root, ret);
    else
        r = invalid(ret, -ENOTSUP, "unknown command '%s'", name);
out:
    json_decref(root);
    return r;
}

int command_reply_encode(const struct command *c, bool ok, const char *message, int64_t now_ms,
                         struct dynbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "id");
    if (c->id[0])
        jsonw_str(&w, c->id);
    else
        jsonw_null(&w);
    jsonw_key(&w, "cmd");
    if (c->name[0])
        jsonw_str(&w, c->name);
    else
        jsonw_null(&w);
    jsonw_kstr(&w, "status", ok ? "ok" : "error");
    if (message)
        jsonw_kstr(&w, "message", message);
    jsonw_ktime(&w, "ts", now_ms);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}

size_t capture_payload_max(size_t n)
{
    return 2 * base64_encoded_len(4 * n) + 1024;
}

/* Writes "key":"<base64 of the samples as f32le>" without a second copy of the bytes. */
static int write_channel(struct jsonw *w, const char *key, const float *x, size_t n)
{
    size_t chars = base64_encoded_len(4 * n);
    char *text = malloc(chars + 1);
    if (!text)
        return -ENOMEM;
    unsigned char bytes[4 * ENCODE_CHUNK];
    size_t at = 0;
    for (size_t k = 0; k < n; k += ENCODE_CHUNK) {
        size_t m = n - k < ENCODE_CHUNK ? n - k : ENCODE_CHUNK;
        f32le_pack(x + k, m, bytes);
        base64_encode(bytes, 4 * m, text + at);
        at += base64_encoded_len(4 * m);
    }
    jsonw_key(w, key);
    jsonw_strn(w, text, chars);
    free(text);
    return 0;
}

int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out)
{
    if (n == 0 || !isfinite(m->rate_hz) || m->rate_hz <= 0)
        return -EINVAL;
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "id", m->id);
    jsonw_kdouble(&w, "rate_hz", m->rate_hz);
    jsonw_ktime(&w, "start", m->start_ms);
    jsonw_kint(&w, "samples", (int64_t)n);
    jsonw_key(&w, "channels");
    jsonw_arr_begin(&w);
    jsonw_str(&w, "v");
    jsonw_str(&w, "i");
    jsonw_arr_end(&w);
    jsonw_key(&w, "units");
    jsonw_arr_begin(&w);
    jsonw_str(&w, "V");
    jsonw_str(&w, "A");
    jsonw_arr_end(&w);
    jsonw_kstr(&w, "encoding", "f32le-base64");
    jsonw_kdouble(&w, "nominal_hz", m->nominal_hz);
    jsonw_kdouble(&w, "phase_cal_deg", m->phase_cal_deg);
    int r = write_channel(&w, "v", v, n);
    if (!r)
        r = write_channel(&w, "i", i, n);
    jsonw_obj_end(&w);
    return r ? r : jsonw_error(&w);
}

/* --- running commands ---------------------------------------------------------------------- */

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

/* Sends the capture; returns 0 or -errno with why set. */
static int run_capture(const struct command *c, const struct command_env *env, char *why,
                       size_t whylen)
{
    double want = (double)c->duration_ms * env->rate_hz / 1000.0;
    size_t n = want < 1 ? 1 : (size_t)llround(want);
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    struct dynbuf b;
    int64_t first_ms = 0;
    int r = v && i ? env->snapshot(env->ctx, n, v, i, &first_ms) : -ENOMEM;

    dynbuf_init(&b, capture_payload_max(n));
    if (r == -ENODATA) {
        snprintf(why, whylen, "not enough samples yet");
    } else if (r == -ERANGE) {
        snprintf(why, whylen, "duration_ms is longer than the sample ring holds");
    } else if (r) {
        snprintf(why, whylen, "cannot take the samples: %s", strerror(-r));
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

int command_run(const struct command *c, const struct command_env *env, int64_t now_ms, char *why,
                size_t whylen)
{
    char msg[COMMAND_MESSAGE_MAX] = "";
    int r;
    switch (c->kind) {
    case COMMAND_CAPTURE:
        r = run_capture(c, env, msg, sizeof(msg));
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

struct command_queue {
    pthread_mutex_t lock;
    size_t capacity, head, count;
    uint64_t dropped;
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
    free(q);
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

void command_queue_handler(const void *payload, size_t len, void *ctx)
{
    struct command c;
    command_parse(payload, len, time_now_ms(), &c);
    /* A full queue drops the command: the server sees no answer and times the request out. */
    command_queue_push(ctx, &c);
}
