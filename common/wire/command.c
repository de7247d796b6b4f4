#include "command.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "jsonw.h"
#include "timeutil.h"
#include "topic.h"

#define COMMAND_JSON_MAX_DEPTH 4
_Static_assert(COMMAND_ERR_LEN == JSON_ERR_LEN, "JSON errors go straight into err");

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

/* --- the kinds: each parses and writes its own fields ------------------------------------- */

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
    return 0;
}

static void write_capture(struct jsonw *w, const struct command *c)
{
    jsonw_kint(w, "duration_ms", c->duration_ms);
}

static int parse_relay(const json_t *root, struct command *c)
{
    const char *state = json_string_value(json_object_get(root, "state"));
    if (!state || (strcmp(state, "on") != 0 && strcmp(state, "off") != 0))
        return invalid(c, -EINVAL, "state must be \"on\" or \"off\"");
    c->relay_on = state[1] == 'n';
    return 0;
}

static void write_relay(struct jsonw *w, const struct command *c)
{
    jsonw_kstr(w, "state", c->relay_on ? "on" : "off");
}

static int parse_read_status(const json_t *root, struct command *c)
{
    (void)root;
    (void)c;
    return 0;
}

static void write_nothing(struct jsonw *w, const struct command *c)
{
    (void)w;
    (void)c;
}

int command_interval_ms(double seconds, uint32_t *ret_ms)
{
    double ms = round(seconds * 1000.0);
    /* NaN fails every comparison: refused with the bounds. */
    if (!(ms >= COMMAND_INTERVAL_MIN_MS && ms <= COMMAND_INTERVAL_MAX_MS) ||
        fabs(seconds * 1000.0 - ms) > 1e-9 * ms)
        return -EINVAL;
    *ret_ms = (uint32_t)ms;
    return 0;
}

/* "interval_s": seconds with at most 3 decimals, within meterd's --interval bounds. */
static int parse_set_interval(const json_t *root, struct command *c)
{
    const json_t *v = json_object_get(root, "interval_s");
    double s;
    if (!v || !json_number(v, &s) || command_interval_ms(s, &c->interval_ms))
        return invalid(c, -EINVAL, "interval_s must be a number from %g to %g, 3 decimals at most",
                       COMMAND_INTERVAL_MIN_MS / 1000.0, COMMAND_INTERVAL_MAX_MS / 1000.0);
    return 0;
}

static void write_set_interval(struct jsonw *w, const struct command *c)
{
    jsonw_key(w, "interval_s");
    jsonw_milli(w, c->interval_ms);
}

static int parse_sync_clock(const json_t *root, struct command *c)
{
    const json_t *v = json_object_get(root, "server_ms");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return invalid(c, -EINVAL, "server_ms must be the server's time in epoch milliseconds");
    c->server_ms = (int64_t)json_integer_value(v);
    return 0;
}

static void write_sync_clock(struct jsonw *w, const struct command *c)
{
    jsonw_kint(w, "server_ms", c->server_ms);
}

struct command_desc {
    const char *name; /* "cmd" on the wire */
    /* Reads the kind's fields from the command object; 0, or invalid()'s result. */
    int (*parse)(const json_t *root, struct command *c);
    /* Writes the kind's fields (between "cmd" and "ts"). */
    void (*write)(struct jsonw *w, const struct command *c);
};

static const struct command_desc kinds[COMMAND__COUNT] = {
    [COMMAND_CAPTURE] = {"capture", parse_capture, write_capture},
    [COMMAND_RELAY] = {"relay", parse_relay, write_relay},
    [COMMAND_READ_STATUS] = {"read_status", parse_read_status, write_nothing},
    [COMMAND_SET_INTERVAL] = {"set_interval", parse_set_interval, write_set_interval},
    [COMMAND_SYNC_CLOCK] = {"sync_clock", parse_sync_clock, write_sync_clock},
};

const char *command_name(enum command_kind kind)
{
    return kind > COMMAND_INVALID && kind < COMMAND__COUNT ? kinds[kind].name : NULL;
}

/* The kind named name, or COMMAND_INVALID. */
static enum command_kind kind_named(const char *name)
{
    for (int k = COMMAND_INVALID + 1; k < COMMAND__COUNT; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return (enum command_kind)k;
    return COMMAND_INVALID;
}

/* --- the envelope ------------------------------------------------------------------------- */

bool command_id_valid(const char *id)
{
    return wire_name_valid(id, COMMAND_ID_MAX, "_-");
}

/* Command names share the id alphabet, so they are safe to echo in replies and logs. */
static bool name_valid(const char *name)
{
    return wire_name_valid(name, COMMAND_NAME_MAX, "_-");
}

int command_init(struct command *ret, enum command_kind kind, const char *id, int64_t ts_ms)
{
    const char *name = command_name(kind);
    if (!name || !command_id_valid(id))
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    ret->kind = kind;
    memcpy(ret->id, id, strlen(id) + 1);
    memcpy(ret->name, name, strlen(name) + 1);
    ret->ts_ms = ts_ms;
    return 0;
}

int command_encode(const struct command *c, struct dynbuf *out)
{
    const char *name = command_name(c->kind);
    if (!name || !command_id_valid(c->id))
        return -EINVAL;
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "id", c->id);
    jsonw_kstr(&w, "cmd", name);
    kinds[c->kind].write(&w, c);
    jsonw_ktime(&w, "ts", c->ts_ms);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
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

int command_parse(const void *payload, size_t len, int64_t now_ms, struct command *ret)
{
    char err[JSON_ERR_LEN];
    json_t *root = NULL;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (len > COMMAND_PAYLOAD_MAX)
        return invalid(ret, -EINVAL, "command of %zu bytes (at most %d)", len, COMMAND_PAYLOAD_MAX);
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
    /* Differences of two int64 as uint64: exact for any pair, in the order tested. */
    if (ret->ts_ms < now_ms &&
        (uint64_t)now_ms - (uint64_t)ret->ts_ms > (uint64_t)COMMAND_MAX_AGE_MS) {
        r = invalid(ret, -ETIME, "command expired (issued %llu s ago)",
                    (unsigned long long)(((uint64_t)now_ms - (uint64_t)ret->ts_ms) / 1000));
        goto out;
    }
    if (ret->ts_ms > now_ms &&
        (uint64_t)ret->ts_ms - (uint64_t)now_ms > (uint64_t)COMMAND_MAX_AHEAD_MS) {
        r = invalid(ret, -ETIME, "command dated %llu s ahead of the meter's clock",
                    (unsigned long long)(((uint64_t)ret->ts_ms - (uint64_t)now_ms) / 1000));
        goto out;
    }

    enum command_kind kind = kind_named(name);
    if (kind == COMMAND_INVALID)
        r = invalid(ret, -ENOTSUP, "unknown command '%s'", name);
    else if ((r = kinds[kind].parse(root, ret)) == 0)
        ret->kind = kind;
out:
    json_decref(root);
    return r;
}

/* --- replies ------------------------------------------------------------------------------ */

static void write_opt_str(struct jsonw *w, const char *key, const char *v)
{
    jsonw_key(w, key);
    if (v)
        jsonw_str(w, v);
    else
        jsonw_null(w);
}

/* A counter as a JSON integer any reader takes (int64: jansson refuses more), capped. */
static void write_count(struct jsonw *w, const char *key, uint64_t v)
{
    jsonw_kint(w, key, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void write_status(struct jsonw *w, const struct command_status *s)
{
    jsonw_kint(w, "uptime_s", s->uptime_s);
    write_opt_str(w, "version", s->version);
    jsonw_kint(w, "clock_offset_ms", s->clock_offset_ms);
    jsonw_key(w, "adc");
    jsonw_obj_begin(w);
    write_opt_str(w, "driver", s->adc);
    jsonw_kbool(w, "ok", s->adc_ok);
    write_count(w, "samples", s->adc_samples);
    write_count(w, "read_errors", s->adc_read_errors);
    jsonw_kdouble(w, "rate_hz", s->rate_hz);
    jsonw_obj_end(w);
    write_count(w, "overruns", s->overruns);
    write_count(w, "samples_dropped", s->samples_dropped);
    jsonw_kdouble(w, "interval_s", s->interval_s);
    write_count(w, "seq", s->seq);
    jsonw_kint(w, "boot", s->boot);
    write_count(w, "spool_depth", s->spool_depth);
    write_opt_str(w, "relay", s->relay < 0 ? NULL : s->relay ? "on" : "off");
    jsonw_key(w, "link");
    jsonw_obj_begin(w);
    write_opt_str(w, "kind", s->link);
    jsonw_kbool(w, "connected", s->link_up);
    jsonw_obj_end(w);
}

static void write_result(struct jsonw *w, const struct command_result *r)
{
    jsonw_key(w, "result");
    jsonw_obj_begin(w);
    switch (r->kind) {
    case COMMAND_READ_STATUS:
        write_status(w, &r->u.status);
        break;
    case COMMAND_SET_INTERVAL:
        jsonw_key(w, "interval_s");
        jsonw_milli(w, r->u.interval.interval_ms);
        jsonw_key(w, "previous_s");
        jsonw_milli(w, r->u.interval.previous_ms);
        jsonw_kbool(w, "persisted", r->u.interval.persisted);
        break;
    case COMMAND_SYNC_CLOCK:
        jsonw_kint(w, "offset_ms", r->u.clock.offset_ms);
        write_opt_str(w, "action", r->u.clock.action);
        write_opt_str(w, "note", r->u.clock.note);
        break;
    default:
        break;
    }
    jsonw_obj_end(w);
}

int command_reply_encode(const struct command *c, bool ok, const char *message, int64_t now_ms,
                         struct dynbuf *out)
{
    return command_reply_encode_result(c, ok, message, NULL, now_ms, out);
}

int command_reply_encode_result(const struct command *c, bool ok, const char *message,
                                const struct command_result *res, int64_t now_ms,
                                struct dynbuf *out)
{
    if (res &&
        (res->kind != c->kind || res->kind < COMMAND_READ_STATUS || res->kind >= COMMAND__COUNT))
        return -EINVAL;
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
    if (res)
        write_result(&w, res);
    jsonw_ktime(&w, "ts", now_ms);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}

int command_reply_parse(const void *payload, size_t len, struct command_reply *ret,
                        char err[COMMAND_ERR_LEN])
{
    json_t *root;
    if (json_load_limited(payload, len, COMMAND_JSON_MAX_DEPTH, &root, err))
        return -EINVAL;
    const char *id = json_string_value(json_object_get(root, "id"));
    const char *status = json_string_value(json_object_get(root, "status"));
    const char *message = json_string_value(json_object_get(root, "message"));
    json_t *result = json_object_get(root, "result");
    bool ok = status && strcmp(status, "ok") == 0;
    int r = 0;
    char *text = NULL;
    if (!json_is_object(root) || !id || !command_id_valid(id) ||
        !(ok || (status && strcmp(status, "error") == 0))) {
        snprintf(err, COMMAND_ERR_LEN, "%s",
                 id ? "status must be \"ok\" or \"error\"" : "id is missing or not a request id");
        r = -EINVAL;
    } else if (result && !json_is_null(result) &&
               (!json_is_object(result) ||
                !(text = json_dumps(result, JSON_COMPACT | JSON_ENSURE_ASCII)) ||
                strlen(text) > COMMAND_RESULT_MAX)) {
        snprintf(err, COMMAND_ERR_LEN, "result must be an object of at most %d bytes",
                 COMMAND_RESULT_MAX);
        r = -EINVAL;
    } else {
        ret->has_result = text != NULL;
        snprintf(ret->result, sizeof(ret->result), "%s", text ? text : "");
        memcpy(ret->id, id, strlen(id) + 1);
        ret->ok = ok;
        ret->has_message = message != NULL;
        snprintf(ret->message, sizeof(ret->message), "%s", message ? message : "");
    }
    free(text);
    json_decref(root);
    return r;
}
