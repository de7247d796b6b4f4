#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_query.h"
#include "jsonutil.h"
#include "log.h"
#include "static.h"
#include "timeutil.h"

/* ACCESS_METRICS: an admin, or the bearer token of metrics_token_file (api_metrics.c). */
enum access { ACCESS_PUBLIC, ACCESS_USER, ACCESS_STAFF, ACCESS_ADMIN, ACCESS_METRICS };

struct route {
    const char *method;
    const char *pattern; /* segments; ":name" matches one segment */
    void (*fn)(struct api_call *c);
    enum access access;
};

static const struct route routes[] = {
    {"POST", "/api/login", api_login, ACCESS_PUBLIC},
    {"POST", "/api/logout", api_logout, ACCESS_USER},
    {"GET", "/api/me", api_me, ACCESS_USER},
    {"POST", "/api/me/password", api_me_password, ACCESS_USER},
    {"POST", "/api/login/wechat", api_login_wechat, ACCESS_PUBLIC},
    {"POST", "/api/me/wechat", api_me_wechat_bind, ACCESS_USER},
    {"DELETE", "/api/me/wechat", api_me_wechat_unbind, ACCESS_USER},
    {"POST", "/api/device/data", api_data_upload, ACCESS_PUBLIC}, /* device secret, checked there */
    {"GET", "/api/device/data/:id", api_data_query, ACCESS_USER},
    {"POST", "/api/device/recharge/:id", api_recharge, ACCESS_USER},
    {"GET", "/api/devices", api_devices_list, ACCESS_USER},
    {"GET", "/api/devices/summary", api_devices_summary, ACCESS_USER},
    {"POST", "/api/devices/import", api_devices_import, ACCESS_ADMIN},
    {"POST", "/api/devices", api_device_create, ACCESS_STAFF},
    {"GET", "/api/devices/:id", api_device_detail, ACCESS_USER},
    {"DELETE", "/api/devices/:id", api_device_delete, ACCESS_STAFF},
    {"POST", "/api/devices/:id/secret", api_device_secret, ACCESS_STAFF},
    {"GET", "/api/devices/:id/ledger", api_ledger, ACCESS_USER},
    {"GET", "/api/devices/:id/energy", api_device_energy, ACCESS_USER},
    {"GET", "/api/devices/:id/demand", api_device_demand, ACCESS_USER},
    {"POST", "/api/devices/:id/bindings", api_binding_add, ACCESS_STAFF},
    {"DELETE", "/api/devices/:id/bindings/:username", api_binding_remove, ACCESS_STAFF},
    /* Users answer 404 for devices they may not see before the role is checked (403). */
    {"POST", "/api/devices/:id/captures", api_capture_create, ACCESS_USER},
    {"GET", "/api/devices/:id/captures", api_captures_list, ACCESS_USER},
    {"GET", "/api/devices/:id/captures/:cid", api_capture_detail, ACCESS_USER},
    {"GET", "/api/devices/:id/captures/:cid/samples", api_capture_samples, ACCESS_USER},
    {"GET", "/api/devices/:id/captures/:cid/comtrade.cfg", api_capture_comtrade_cfg, ACCESS_USER},
    {"GET", "/api/devices/:id/captures/:cid/comtrade.dat", api_capture_comtrade_dat, ACCESS_USER},
    /* Relay commands (api_relay.c); users see 404 for devices they may not see, then 403. */
    {"POST", "/api/devices/:id/relay", api_relay_request, ACCESS_USER},
    {"GET", "/api/devices/:id/commands/:cid", api_command_detail, ACCESS_USER},
    {"GET", "/api/devices/:id/commands", api_commands_list, ACCESS_USER},
    {"GET", "/api/devices/:id/events", api_device_events, ACCESS_USER},
    /* Device metadata and remote operations (api_device_meta.c, api_operations.c); users see
       404 for devices they may not see, then 403. */
    {"PATCH", "/api/devices/:id", api_device_meta_patch, ACCESS_USER},
    {"POST", "/api/devices/:id/operations", api_operation_request, ACCESS_USER},
    {"GET", "/api/site/calendar", api_site_calendar_get, ACCESS_STAFF},
    {"PUT", "/api/site/calendar", api_site_calendar_put, ACCESS_STAFF},
    {"GET", "/api/site/tariff", api_site_tariff_get, ACCESS_STAFF},
    {"PUT", "/api/site/tariff", api_site_tariff_put, ACCESS_STAFF},
    {"GET", "/api/users", api_users_list, ACCESS_STAFF},
    {"POST", "/api/users", api_user_create, ACCESS_STAFF},
    {"PATCH", "/api/users/:username", api_user_update, ACCESS_ADMIN},
    {"DELETE", "/api/users/:username", api_user_delete, ACCESS_ADMIN},
    {"GET", "/api/audit", api_audit_list, ACCESS_ADMIN},
    {"GET", "/api/health", api_health, ACCESS_PUBLIC},
    {"GET", "/api/stats", api_stats, ACCESS_STAFF},
    /* Prepaid billing (api_tariff.c, api_statement.c). */
    {"PUT", "/api/devices/:id/tariff", api_tariff_put, ACCESS_USER},
    {"GET", "/api/devices/:id/tariff", api_tariff_get, ACCESS_USER},
    {"PUT", "/api/devices/:id/billing", api_billing_put, ACCESS_USER},
    {"GET", "/api/devices/:id/billing", api_billing_get, ACCESS_USER},
    {"GET", "/api/devices/:id/statement", api_statement, ACCESS_USER},
    /* WeChat Pay: the notification carries its own signature, checked there. */
    {"POST", "/api/devices/:id/payments", api_payment_create, ACCESS_USER},
    {"GET", "/api/devices/:id/payments", api_payments_list, ACCESS_USER},
    {"GET", "/api/devices/:id/payments/:out_trade_no", api_payment_get, ACCESS_USER},
    {"POST", "/api/payments/wechat/notify", api_payment_notify, ACCESS_PUBLIC},
    /* Alarms (api_alarms.c): users see their devices' alarms; acknowledging is staff's. */
    {"GET", "/api/alarms", api_alarms_list, ACCESS_USER},
    {"GET", "/api/alarms/stream", api_alarms_stream, ACCESS_USER},
    {"GET", "/api/alarms/:id", api_alarm_get, ACCESS_USER},
    {"POST", "/api/alarms/:id/ack", api_alarm_ack, ACCESS_STAFF},
    {"GET", "/api/devices/:id/alarm-rules", api_alarm_rules_get, ACCESS_USER},
    {"PUT", "/api/devices/:id/alarm-rules", api_alarm_rules_put, ACCESS_USER},
    /* Prometheus metrics (api_metrics.c); also on metrics_listen without authentication. */
    {"GET", "/metrics", api_metrics, ACCESS_METRICS},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

size_t api_route_labels(void)
{
    return NROUTES + 2; /* the table, then API_ROUTE_WEB and API_ROUTE_OTHER */
}

int api_route_label(size_t label, const char **ret_method, const char **ret_pattern)
{
    if (label < NROUTES) {
        *ret_method = routes[label].method;
        *ret_pattern = routes[label].pattern;
    } else if (label == api_route_web()) {
        *ret_method = "GET";
        *ret_pattern = "web";
    } else if (label == api_route_other()) {
        *ret_method = "other";
        *ret_pattern = "other";
    } else {
        return -ENOENT;
    }
    return 0;
}

size_t api_route_web(void)
{
    return NROUTES;
}

size_t api_route_other(void)
{
    return NROUTES + 1;
}

size_t api_route_metrics(void)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (routes[i].fn == api_metrics)
            return i;
    return api_route_other();
}

/*
 * Matches path against pattern, copying parameters into c->param_buf.
 * Returns true on a match.
 */
static bool match(const char *pattern, const char *path, struct api_call *c)
{
    size_t used = 0;
    int np = 0;
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        size_t plen = strcspn(p, "/"), qlen = strcspn(q, "/");
        if (*p == ':') {
            if (qlen == 0 || np >= API_MAX_PARAMS || used + qlen + 1 > sizeof(c->param_buf))
                return false;
            memcpy(c->param_buf + used, q, qlen);
            c->param_buf[used + qlen] = '\0';
            c->params[np++] = c->param_buf + used;
            used += qlen + 1;
        } else if (plen != qlen || strncmp(p, q, plen) != 0) {
            return false;
        }
        p += plen;
        q += qlen;
    }
    /* allow one trailing slash on the request */
    if (q[0] == '/' && q[1] == '\0')
        q++;
    return *p == '\0' && *q == '\0';
}

const char *api_client_address(const struct api_call *c)
{
    return http_client_address(c->req);
}

int api_error(struct api_call *c, int status, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct jsonw w;
    dynbuf_reset(&c->res->body);
    c->res->status = status;
    jsonw_init(&w, &c->res->body);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "status", "error");
    jsonw_kstr(&w, "message", msg);
    jsonw_obj_end(&w);
    return -1;
}

int api_store_error(struct api_call *c, int r)
{
    if (r == -ENOTCONN || r == -EBUSY) {
        log_warn("api: database unavailable: %s", c->store ? store_errmsg(c->store) : "");
        http_response_header(c->res, "Retry-After", "5");
        return api_error(c, 503, "database unavailable, try again shortly");
    }
    log_error("api: %s %s: database error: %s", c->req->method, c->req->path,
              c->store ? store_errmsg(c->store) : "");
    return api_error(c, 500, "internal error");
}

int api_too_many(struct api_call *c, int64_t retry_ms, const char *what)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%lld", (long long)((retry_ms + 999) / 1000));
    http_response_header(c->res, "Retry-After", secs);
    return api_error(c, 429, "%s; try again in %s seconds", what, secs);
}

void api_audit(struct api_call *c, const char *action, const char *target, const char *fmt, ...)
{
    struct audit_rec e = {.at_ms = time_now_ms()};
    snprintf(e.actor, sizeof(e.actor), "%s", c->user.username);
    snprintf(e.action, sizeof(e.action), "%s", action);
    snprintf(e.target, sizeof(e.target), "%s", target);
    snprintf(e.address, sizeof(e.address), "%s", api_client_address(c));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    struct store *st = api_store(c);
    int r = st ? api_store_result(c, store_audit_add(st, &e)) : -ENOTCONN;
    if (r)
        log_error("api: audit entry %s %s %s not written: %s", e.actor, e.action, e.target,
                  st ? store_errmsg(st) : "database unavailable");
}

struct jsonw *api_json(struct api_call *c, int status, struct jsonw *w)
{
    c->res->status = status;
    dynbuf_reset(&c->res->body);
    jsonw_init(w, &c->res->body);
    return w;
}

void api_json_done(struct api_call *c, struct jsonw *w)
{
    int r = jsonw_error(w);
    if (r == -E2BIG)
        api_error(c, 500, "response too large; narrow the query");
    else if (r)
        api_error(c, 500, "internal error");
}

void api_write_page_end(struct jsonw *w, int64_t total, int64_t limit, const char *next_cursor)
{
    jsonw_kint(w, "total", total);
    jsonw_kint(w, "limit", limit);
    jsonw_key(w, "next_cursor");
    if (next_cursor)
        jsonw_str(w, next_cursor);
    else
        jsonw_null(w);
}

struct jsonw *api_success(struct api_call *c, int status, struct jsonw *w)
{
    api_json(c, status, w);
    jsonw_obj_begin(w);
    jsonw_kstr(w, "status", "success");
    return w;
}

struct store *api_store(struct api_call *c)
{
    if (!c->store) {
        char err[STORE_ERR_LEN];
        c->store = store_pool_get(c->app->pool, err);
        if (!c->store) {
            log_warn("api: database unavailable: %s", err);
            http_response_header(c->res, "Retry-After", "5");
            api_error(c, 503, "database unavailable, try again shortly");
            return NULL;
        }
        c->store_result = 0;
    }
    return c->store;
}

int api_store_result(struct api_call *c, int r)
{
    if (r == -ENOTCONN)
        c->store_result = r;
    return r;
}

json_t *api_body_object(struct api_call *c)
{
    char err[JSON_ERR_LEN];
    json_t *root;
    if (c->req->body_len == 0) {
        api_error(c, 400, "request body must be a JSON object");
        return NULL;
    }
    if (json_load_limited(c->req->body, c->req->body_len, API_JSON_MAX_DEPTH, &root, err)) {
        api_error(c, 400, "%s", err);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_error(c, 400, "request body must be a JSON object");
        return NULL;
    }
    return root;
}

const char *api_body_string(struct api_call *c, json_t *obj, const char *name, size_t max_len)
{
    json_t *v = json_object_get(obj, name);
    if (!v) {
        api_error(c, 400, "%s is missing", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        api_error(c, 400, "%s must be a string", name);
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) > max_len || strlen(s) != json_string_length(v)) {
        api_error(c, 400, "%s must be at most %zu bytes without NUL characters", name, max_len);
        return NULL;
    }
    return s;
}

int api_body_strings(struct api_call *c, json_t *obj, const char *name1, size_t max1,
                     const char **ret1, const char *name2, size_t max2, const char **ret2)
{
    const char *a = api_body_string(c, obj, name1, max1);
    const char *b = a ? api_body_string(c, obj, name2, max2) : NULL;
    if (!b)
        return -1;
    *ret1 = a;
    *ret2 = b;
    return 0;
}

int api_device_for_caller(struct api_call *c, const char *device_id, struct device_rec *ret)
{
    if (!device_id_valid(device_id))
        return api_error(c, 404, "device not found");
    struct store *st = api_store(c);
    if (!st)
        return -1;
    int r = api_store_result(c, store_device_by_name(st, device_id, ret));
    if (r == -ENOENT)
        return api_error(c, 404, "device not found");
    if (r)
        return api_store_error(c, r);
    if (api_is_staff(c))
        return 0;
    r = api_store_result(c, store_binding_check(st, c->user.id, ret->id));
    if (r == -ENOENT)
        return api_error(c, 404, "device not found");
    if (r)
        return api_store_error(c, r);
    return 0;
}

void api_json_value(struct jsonw *w, const json_t *v)
{
    json_t *obj = (json_t *)v; /* jansson's iterators take a non-const object */
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        jsonw_obj_begin(w);
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
            jsonw_key(w, json_object_iter_key(it));
            api_json_value(w, json_object_iter_value(it));
        }
        jsonw_obj_end(w);
        break;
    case JSON_ARRAY:
        jsonw_arr_begin(w);
        for (size_t k = 0; k < json_array_size(v); k++)
            api_json_value(w, json_array_get(v, k));
        jsonw_arr_end(w);
        break;
    case JSON_STRING:
        jsonw_strn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jsonw_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        jsonw_double(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        jsonw_bool(w, json_is_true(v));
        break;
    default:
        jsonw_null(w);
        break;
    }
}

int api_query_limit(struct api_call *c, int64_t def, int64_t *ret)
{
    const char *ls = http_query(c->req, "limit");
    *ret = def;
    if (ls && api_parse_count(ls, 1, 1000, ret))
        return api_error(c, 400, "limit must be an integer from 1 to 1000");
    return 0;
}

void api_device_list_answer(struct api_call *c, const char *key, int64_t default_limit,
                            api_list_fill fill)
{
    struct device_rec dev;
    int64_t limit;
    if (api_device_for_caller(c, c->params[0], &dev) || api_query_limit(c, default_limit, &limit))
        return;
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_key(&w, key);
    jsonw_arr_begin(&w);
    int r = api_store_result(c, fill(c, &dev, (size_t)limit, &w));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_write_reading(struct jsonw *w, const struct reading *r)
{
    jsonw_obj_begin(w);
    jsonw_ktime(w, "timestamp", r->ts_ms);
    jsonw_key(w, "seq");
    jsonw_uint(w, r->seq);
    telemetry_encode_fields(w, r);
    jsonw_obj_end(w);
}

static int unauthorized(struct api_call *c, const char *why)
{
    http_response_header(c->res, "WWW-Authenticate", "Bearer");
    return api_error(c, 401, "%s", why);
}

/* Authenticates the bearer token and loads the caller. Returns 0 or answers 401. */
static int authenticate(struct api_call *c)
{
    const char *h = http_header(c->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return unauthorized(c, "missing bearer token (Authorization: Bearer <token>)");
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    struct auth_claims claims;
    const char *why = "invalid token";
    int64_t now_s = time_now_ms() / 1000;
    if (auth_token_verify(&c->app->key, token, now_s, &claims, &why))
        return unauthorized(c, why);
    struct store *st = api_store(c);
    if (!st)
        return -1;
    int r = api_store_result(c, store_user_by_id(st, claims.user_id, &c->user));
    if (r == -ENOENT)
        return unauthorized(c, "the account of this token no longer exists");
    if (r)
        return api_store_error(c, r);
    if (!auth_token_current(&claims, &c->user, &why))
        return unauthorized(c, why);
    return 0;
}

/* One request against limiter rl under key; 0, or -1 after answering 429. */
static int metered(struct api_call *c, struct ratelimit *rl, const char *key)
{
    int64_t retry_ms = 0;
    if (!rl || ratelimit_take(rl, key, time_mono_ms(), NULL, &retry_ms) == 0)
        return 0;
    return api_too_many(c, retry_ms, "too many requests");
}

/*
 * Password work: what a handler defers to a password thread (api.h). The
 * continuation below runs there once the job is done.
 */
static void password_done(struct pwpool_job *job)
{
    struct api_pw *pw = (struct api_pw *)job;
    struct api_call c = {.app = pw->app,
                         .req = &pw->req,
                         .user = pw->caller,
                         .res = http_deferred_response(pw->answer)};
    bool hashed = job->hash_password && (!job->verify || job->verified);
    if (hashed && job->hash_result) {
        if (pw->has_slot)
            api_login_settle(pw->app, &pw->slot, API_LOGIN_NOT_CHECKED);
        api_error(&c, 500, "internal error");
    } else {
        pw->finish(&c, pw);
    }
    if (c.store)
        store_pool_put(c.app->pool, c.store, c.store_result);
    http_resume(pw->answer);
    api_pw_free(pw);
}

void *api_pw_new(struct api_call *c, size_t size)
{
    struct api_pw *pw = calloc(1, size);
    if (!pw) {
        api_error(c, 500, "out of memory");
        return NULL;
    }
    pw->size = size;
    return pw;
}

void api_pw_free(struct api_pw *pw)
{
    if (!pw)
        return;
    auth_wipe(pw, pw->size);
    free(pw);
}

int api_password_work(struct api_call *c, struct api_pw *pw,
                      void (*finish)(struct api_call *c, struct api_pw *pw))
{
    pw->finish = finish;
    pw->app = c->app;
    pw->caller = c->user;
    snprintf(pw->method, sizeof(pw->method), "%s", c->req->method);
    snprintf(pw->path, sizeof(pw->path), "%s", c->req->path);
    pw->req = (struct http_request){.method = pw->method, .path = pw->path, .body = ""};
    snprintf(pw->req.peer_addr, sizeof(pw->req.peer_addr), "%s", api_client_address(c));
    pw->job.done = password_done;
    pw->answer = http_defer(c->req);
    int r = pw->answer ? pwpool_submit(c->app->passwords, &pw->job) : -ESHUTDOWN;
    if (!r)
        return 0;
    if (pw->has_slot)
        api_login_settle(c->app, &pw->slot, API_LOGIN_NOT_CHECKED);
    if (pw->answer) {
        /* Deferred already: the refusal goes out as the deferred answer. */
        struct api_call d = {
            .app = c->app, .req = c->req, .res = http_deferred_response(pw->answer)};
        http_response_header(d.res, "Retry-After", "1");
        api_error(&d, 503, "too many password checks under way; try again shortly");
        http_resume(pw->answer);
    } else {
        http_response_header(c->res, "Retry-After", "1");
        api_error(c, 503, "the server is stopping; try again shortly");
    }
    api_pw_free(pw);
    return -1;
}

/* Whether a path belongs to the API ("/api" or under "/api/"); everything else is the dashboard. */
static bool is_api_path(const char *path)
{
    return strncmp(path, "/api", 4) == 0 && (path[4] == '\0' || path[4] == '/');
}

void api_handle(void *app, const struct http_request *req, struct http_response *res)
{
    struct api_call c = {.app = app, .req = req, .res = res};
    if (c.app->web && !is_api_path(req->path) && strcmp(req->path, "/metrics") != 0) {
        http_request_label(req, (int)api_route_web());
        static_serve(c.app->web, req, res);
        return;
    }
    const struct route *found = NULL;
    char allow[64] = "";

    http_request_label(req, (int)api_route_other());
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, req->path, &c))
            continue;
        if (strcmp(routes[i].method, req->method) == 0) {
            found = &routes[i];
            break;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", routes[i].method);
    }
    if (found)
        http_request_label(req, (int)(found - routes));
    if (!found) {
        if (allow[0]) {
            http_response_header(res, "Allow", allow);
            api_error(&c, 405, "method %s not allowed here (allowed: %s)", req->method, allow);
        } else {
            api_error(&c, 404, "not found");
        }
        return;
    }
    /* Limits per address come first (a bad token costs too), per user once it is known. */
    char key[96];
    snprintf(key, sizeof(key), "a:%s", api_client_address(&c));
    if (found->fn != api_health && metered(&c, c.app->address_requests, key))
        goto out;
    if (found->access == ACCESS_METRICS && api_metrics_token_ok(&c)) {
        /* the metrics token: no account behind it */
    } else if (found->access != ACCESS_PUBLIC) {
        if (authenticate(&c))
            goto out;
        snprintf(key, sizeof(key), "u:%lld", (long long)c.user.id);
        if (metered(&c, c.app->user_requests, key))
            goto out;
        if (found->access == ACCESS_STAFF && !api_is_staff(&c)) {
            api_error(&c, 403, "operator or admin role required");
            goto out;
        }
        if ((found->access == ACCESS_ADMIN || found->access == ACCESS_METRICS) &&
            c.user.role != ROLE_ADMIN) {
            api_error(&c, 403, "admin role required");
            goto out;
        }
    }
    found->fn(&c);
out:
    if (c.store)
        store_pool_put(c.app->pool, c.store, c.store_result);
}
