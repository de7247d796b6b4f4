/*
 * Alarms of the state analysis (docs/api.md "Alarms", docs/alarms.md):
 *   GET  /api/alarms                       list, filtered (device, site, state, severity, time)
 *   GET  /api/alarms/stream                changes as server-sent events
 *   GET  /api/alarms/:id                   one alarm
 *   POST /api/alarms/:id/ack               acknowledge (operator, admin), with a note
 *   GET  /api/devices/:id/alarm-rules      a device's rules: the limits in force, its overrides
 *   PUT  /api/devices/:id/alarm-rules      replace its overrides (operator, admin)
 * A user sees the alarms of the devices bound to them; another device's answer 404.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm_json.h"
#include "alarms.h"
#include "api.h"
#include "api_query.h"
#include "rules_json.h"
#include "log.h"
#include "timeutil.h"

#define LIST_DEFAULT       100
#define STREAM_DEVICES_MAX 10000 /* devices a user's stream follows at most */

static int write_alarm(const struct alarm_rec *a, void *ctx)
{
    void **p = ctx;
    alarm_json_write(p[0], a);
    *(int64_t *)p[1] = a->id;
    return 0;
}

void api_alarms_list(struct api_call *c)
{
    struct alarm_filter f = {.limit = LIST_DEFAULT};
    struct device_rec dev;
    const char *device = http_query(c->req, "device");
    const char *site = http_query(c->req, "site");
    const char *severity = http_query(c->req, "severity");
    const char *state = http_query(c->req, "state");
    const char *since = http_query(c->req, "since");
    const char *until = http_query(c->req, "until");
    const char *before = http_query(c->req, "before");
    const char *limit = http_query(c->req, "limit");
    int64_t v;
    if (device) {
        if (api_device_for_caller(c, device, &dev))
            return;
        f.device_id = dev.device_id;
    }
    if (site) {
        if (strlen(site) > STORE_ALARM_SITE_MAX) {
            api_error(c, 400, "site is at most %d bytes", STORE_ALARM_SITE_MAX);
            return;
        }
        f.site = site;
    }
    if (severity) {
        if (strcmp(severity, "critical") && strcmp(severity, "major") &&
            strcmp(severity, "minor")) {
            api_error(c, 400, "severity must be critical, major or minor");
            return;
        }
        f.severity = severity;
    }
    if (state && alarm_states_parse(state, &f.state_mask)) {
        api_error(c, 400, "state must be raised, acknowledged, cleared or open (comma-separated)");
        return;
    }
    if (since && api_parse_instant(since, &f.since_ms)) {
        api_error(c, 400, "since must be an RFC 3339 time or epoch milliseconds");
        return;
    }
    if (until && api_parse_instant(until, &f.until_ms)) {
        api_error(c, 400, "until must be an RFC 3339 time or epoch milliseconds");
        return;
    }
    if (before) {
        if (api_parse_count(before, 1, INT64_MAX, &f.before_id)) {
            api_error(c, 400, "before must be an alarm id");
            return;
        }
    }
    if (limit) {
        if (api_parse_count(limit, 1, STORE_ALARMS_MAX, &v)) {
            api_error(c, 400, "limit must be an integer from 1 to %d", STORE_ALARMS_MAX);
            return;
        }
        f.limit = (size_t)v;
    }
    if (!api_is_staff(c))
        f.user_id = c->user.id;
    if (!api_store(c))
        return;
    /* Every page together, so a client can show how many there are. */
    int64_t total = 0;
    int r = api_store_result(c, store_alarms_count(c->store, &f, &total));
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    int64_t last = 0;
    api_success(c, 200, &w);
    jsonw_key(&w, "alarms");
    jsonw_arr_begin(&w);
    void *ctx[2] = {&w, &last};
    r = api_store_result(c, store_alarms_list(c->store, &f, write_alarm, ctx));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    /* The next page: the same query with before=<this>; null when this page is empty. */
    jsonw_key(&w, "next_before");
    if (last)
        jsonw_int(&w, last);
    else
        jsonw_null(&w);
    jsonw_kint(&w, "total", total);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* Loads alarm :id if the caller may see its device (404 otherwise). 0 or -1 after answering. */
static int alarm_for_caller(struct api_call *c, struct alarm_rec *ret)
{
    int64_t id;
    if (api_parse_count(c->params[0], 1, INT64_MAX, &id)) {
        api_error(c, 404, "no such alarm");
        return -1;
    }
    if (!api_store(c))
        return -1;
    int r = api_store_result(c, store_alarm_get(c->store, id, ret));
    if (r == -ENOENT) {
        api_error(c, 404, "no such alarm");
        return -1;
    }
    if (r) {
        api_store_error(c, r);
        return -1;
    }
    if (!api_is_staff(c)) {
        struct device_rec d;
        r = api_store_result(c, store_device_by_name(c->store, ret->device_id, &d));
        if (!r)
            r = api_store_result(c, store_binding_check(c->store, c->user.id, d.id));
        if (r) {
            if (r == -ENOENT)
                api_error(c, 404, "no such alarm");
            else
                api_store_error(c, r);
            return -1;
        }
    }
    return 0;
}

static void answer_alarm(struct api_call *c, const struct alarm_rec *a)
{
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "alarm");
    alarm_json_write(&w, a);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_alarm_get(struct api_call *c)
{
    struct alarm_rec a;
    if (alarm_for_caller(c, &a) == 0)
        answer_alarm(c, &a);
}

void api_alarm_ack(struct api_call *c)
{
    struct alarm_rec a;
    const char *note = "";
    json_t *body = NULL;
    if (c->req->body_len) {
        body = api_body_object(c);
        if (!body)
            return;
        const char *key;
        json_t *val;
        json_object_foreach(body, key, val)
        {
            if (strcmp(key, "note") != 0) {
                api_error(c, 400, "unknown field %.40s: note", key);
                json_decref(body);
                return;
            }
            if (!json_is_string(val) || json_string_length(val) > STORE_ALARM_TEXT_MAX) {
                api_error(c, 400, "note must be a string of at most %d bytes",
                          STORE_ALARM_TEXT_MAX);
                json_decref(body);
                return;
            }
            note = json_string_value(val);
        }
    }
    int r = alarm_for_caller(c, &a);
    if (!r) {
        r = api_store_result(
            c, store_alarm_ack(c->store, a.id, c->user.username, note, time_now_ms()));
        if (r == -EALREADY)
            api_error(c, 409, "%s", store_errmsg(c->store));
        else if (r)
            api_store_error(c, r);
    }
    json_decref(body);
    if (r)
        return;
    if (api_store_result(c, store_alarm_get(c->store, a.id, &a))) {
        api_store_error(c, c->store_result);
        return;
    }
    api_audit(c, "alarm.ack", a.device_id, "alarm=%lld kind=%s", (long long)a.id, a.kind);
    alarm_hub_publish(c->app->alarm_hub, &a);
    answer_alarm(c, &a);
}

/* --- the live stream --- */

struct device_ids {
    char **ids;
    size_t n, cap;
};

static int take_id(const struct device_rec *d, void *ctx)
{
    struct device_ids *l = ctx;
    if (l->n == STREAM_DEVICES_MAX)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->ids, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n] = strdup(d->device_id);
    if (!l->ids[l->n])
        return -ENOMEM;
    l->n++;
    return 0;
}

static ssize_t stream_read(void *ctx, char *buf, size_t max)
{
    return alarm_stream_read(ctx, buf, max);
}

static void stream_wake(void *ctx)
{
    http_stream_wake(ctx);
}

static void stream_attach(void *ctx, struct http_stream *h)
{
    alarm_stream_set_waker(ctx, stream_wake, h);
}

static void stream_free(void *ctx)
{
    alarm_stream_close(ctx);
}

void api_alarms_stream(struct api_call *c)
{
    struct alarm_hub *hub = c->app->alarm_hub;
    if (!hub) {
        api_error(c, 503, "the alarm service is not running");
        return;
    }
    struct device_ids l = {0};
    bool all = api_is_staff(c);
    if (!all) {
        if (!api_store(c))
            return;
        int r = api_store_result(c, store_device_list(c->store, c->user.id, take_id, &l));
        if (r) {
            for (size_t i = 0; i < l.n; i++)
                free(l.ids[i]);
            free(l.ids);
            api_store_error(c, r);
            return;
        }
    }
    struct alarm_stream *s = NULL;
    int r = alarm_hub_subscribe(hub, all, (const char *const *)l.ids, l.n, time_now_ms(), &s);
    for (size_t i = 0; i < l.n; i++)
        free(l.ids[i]);
    free(l.ids);
    if (r == -EBUSY) {
        http_response_header(c->res, "Retry-After", "30");
        api_error(c, 503, "too many alarm streams open; try again later");
        return;
    }
    if (r) {
        api_error(c, 503, "the alarm stream is not available");
        return;
    }
    c->res->status = 200;
    c->res->content_type = "text/event-stream";
    http_response_header(c->res, "X-Accel-Buffering", "no"); /* nginx: pass each event on */
    c->res->stream = (struct http_stream_source){
        .read = stream_read, .attach = stream_attach, .free = stream_free, .ctx = s};
}

/* --- per-device rules --- */

struct overrides {
    struct alarm_rule_override v[AK__COUNT];
    size_t n;
};

static int take_override(const struct alarm_rule_override *o, void *ctx)
{
    struct overrides *ov = ctx;
    if (ov->n < AK__COUNT)
        ov->v[ov->n++] = *o;
    return 0;
}

static void rules_of(struct api_call *c, const char *device_id, struct alarm_rule ret[AK__COUNT],
                     struct alarm_rule_override *ov, size_t *n_ov, int *r)
{
    struct overrides got = {.n = 0};
    const struct alarm_site_config *site = c->app->alarm_site;
    struct alarm_site_config defaults;
    if (!site) {
        alarm_site_defaults(&defaults);
        site = &defaults;
    }
    struct alarm_device_meta meta = site->meta;
    *r = 0;
    const struct alarm_meta_source *src = c->app->alarm_meta;
    if (src && src->get) {
        struct device_rec d;
        *r = api_store_result(c, store_device_by_name(c->store, device_id, &d));
        if (!*r)
            *r = src->get(src->ctx, c->store, &d, &meta);
    }
    if (!*r)
        *r = api_store_result(c, store_alarm_rules_get(c->store, device_id, take_override, &got));
    if (*r)
        return;
    struct reading latest;
    struct device_rec d;
    bool three = false;
    if (store_device_by_name(c->store, device_id, &d) == 0 &&
        store_reading_latest(c->store, d.id, &latest) == 0)
        three = alarm_reading_three_phase(&latest);
    alarm_rules_for(site, &meta, three, got.v, got.n, ret);
    memcpy(ov, got.v, got.n * sizeof(*ov));
    *n_ov = got.n;
}

static void rules_answer(struct api_call *c, const char *device_id)
{
    struct alarm_rule rules[AK__COUNT];
    struct alarm_rule_override ov[AK__COUNT];
    size_t n = 0;
    int r;
    rules_of(c, device_id, rules, ov, &n, &r);
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", device_id);
    jsonw_key(&w, "rules");
    jsonw_arr_begin(&w);
    for (int k = 0; k < AK__COUNT; k++) {
        const struct alarm_rule_override *o = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(ov[i].kind, alarm_kinds[k].name) == 0)
                o = &ov[i];
        jsonw_obj_begin(&w);
        jsonw_kstr(&w, "kind", alarm_kinds[k].name);
        jsonw_kstr(&w, "severity", alarm_kinds[k].severity);
        jsonw_kstr(&w, "unit", alarm_kinds[k].unit);
        jsonw_kstr(&w, "direction", alarm_kinds[k].direction == ALARM_ABOVE ? "above" : "below");
        jsonw_kbool(&w, "enabled", rules[k].enabled);
        jsonw_kdouble(&w, "limit", rules[k].limit);
        jsonw_kdouble(&w, "min_duration_s", (double)rules[k].min_duration_ms / 1000.0);
        jsonw_kdouble(&w, "hysteresis", rules[k].hysteresis);
        jsonw_key(&w, "override");
        if (o) {
            jsonw_obj_begin(&w);
            if (o->has_enabled)
                jsonw_kbool(&w, "enabled", o->enabled);
            if (o->has_limit)
                jsonw_kdouble(&w, "limit", o->limit);
            if (o->has_min_duration)
                jsonw_kdouble(&w, "min_duration_s", (double)o->min_duration_ms / 1000.0);
            if (o->has_hysteresis)
                jsonw_kdouble(&w, "hysteresis", o->hysteresis);
            jsonw_obj_end(&w);
        } else {
            jsonw_null(&w);
        }
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_alarm_rules_get(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    rules_answer(c, dev.device_id);
}

void api_alarm_rules_put(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "only operators and admins change alarm rules");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    struct alarm_rule_override ov[AK__COUNT];
    size_t n = 0;
    int r = 0;
    char err[ALARM_PARSE_ERR_LEN];
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "rules") != 0) {
            r = api_error(c, 400, "unknown field %.40s: rules", key);
            break;
        }
    }
    if (!r && alarm_overrides_parse(json_object_get(body, "rules"), ov, &n, err))
        r = api_error(c, 400, "%s", err);
    json_decref(body);
    if (r)
        return;
    r = api_store_result(c, store_alarm_rules_set(c->store, dev.device_id, ov, n, time_now_ms()));
    if (r == -EINVAL) {
        api_error(c, 400, "%s", store_errmsg(c->store));
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    alarms_rules_changed(c->app->alarms);
    api_audit(c, "alarm.rules", dev.device_id, "overrides=%zu", n);
    rules_answer(c, dev.device_id);
}
