/*
 * api: the REST API. api.c routes a request to its handler and provides the
 * helpers every handler uses: authentication, access to a device, the
 * database connection, JSON bodies and error answers. The handlers live in
 * api_*.c, one file per resource; docs/api.md describes each endpoint.
 *
 * Error answers are {"status":"error","message":"..."}. A device a caller may
 * not see answers 404 exactly like a device that does not exist.
 */
#ifndef SMARTMETER_API_H
#define SMARTMETER_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "http.h"
#include "jsonw.h"
#include "pwpool.h"
#include "store.h"

#define API_MAX_PARAMS     3
#define API_JSON_MAX_DEPTH 8
#define API_PASSWORD_MIN   8 /* characters of a new password */

struct api_call {
    struct app *app;
    const struct http_request *req;
    struct http_response *res;
    const char *params[API_MAX_PARAMS]; /* path parameters, in order */
    char param_buf[256];
    struct user_rec user; /* the caller, when the route needs a login */
    struct store *store;  /* borrowed on first use, returned after the handler */
    int store_result;
};

/* The HTTP handler: routing, authentication, then the endpoint. */
void api_handle(void *app, const struct http_request *req, struct http_response *res);

/*
 * The labels api_handle() gives requests (http_request_label()), for the
 * metrics by route: one per entry of the route table, then the dashboard's
 * files (api_route_web()) and everything that matched no route
 * (api_route_other()); api_route_labels() of them. api_route_label() names
 * one by its method and route pattern (never a raw path: the count is
 * bounded); -ENOENT past the end.
 */
size_t api_route_labels(void);
int api_route_label(size_t label, const char **ret_method, const char **ret_pattern);
size_t api_route_web(void);
size_t api_route_other(void);
size_t api_route_metrics(void); /* GET /metrics */

/*
 * GET /metrics (api_metrics.c, docs/metrics.md): the Prometheus text format.
 * api_metrics_collect() appends every metric to out (0, or -E2BIG past its
 * cap), borrowing a pooled connection for the few that come from the
 * database (left out while it is unreachable). api_metrics_observe() is the
 * HTTP servers' http_observe_fn. api_metrics_listener() is the handler of
 * the metrics_listen listener: GET /metrics without authentication, 404 for
 * every other path. api_metrics_token_ok(): whether the call carries the
 * metrics_token_file token (compared in constant time).
 */
int api_metrics_collect(struct app *app, struct dynbuf *out);
void api_metrics_observe(void *app, int label, int status, uint64_t duration_ns);
void api_metrics_listener(void *app, const struct http_request *req, struct http_response *res);
bool api_metrics_token_ok(const struct api_call *c);
void api_metrics(struct api_call *c);

/*
 * The caller's address, as the request limits, the login throttle and the
 * audit log know it: the TCP peer (a trusted reverse proxy's forwarded
 * address, where one is configured, belongs here and nowhere else).
 */
const char *api_client_address(const struct api_call *c);

/* Answers {"status":"error","message":...} with status. Returns -1 for `return api_error(...)`. */
int api_error(struct api_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers a store failure: 503 when the database is unreachable, 500 otherwise (logged). */
int api_store_error(struct api_call *c, int r);

/*
 * Answers 429 with Retry-After (retry_ms in whole seconds, rounded up) and
 * "<what>; try again in N seconds". Returns -1.
 */
int api_too_many(struct api_call *c, int64_t retry_ms, const char *what);

/*
 * Records what the caller (a staff member, or a user acting on their own
 * account) just did in the audit log: action ("user.delete"), target (a user
 * name, a device id), detail (printf-style; what changed, never a secret).
 * Best effort: a failure to write it is logged, the action stands.
 */
void api_audit(struct api_call *c, const char *action, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Starts a JSON answer with status; write the body with the returned writer. */
struct jsonw *api_json(struct api_call *c, int status, struct jsonw *w);
/* Finishes a JSON answer; turns writer errors into a 500. */
void api_json_done(struct api_call *c, struct jsonw *w);
/* {"status":"success"} plus whatever the caller adds before api_json_done(). */
struct jsonw *api_success(struct api_call *c, int status, struct jsonw *w);
/* A page's end, the same in every paged list: "total", "limit" and "next_cursor" (null: none). */
void api_write_page_end(struct jsonw *w, int64_t total, int64_t limit, const char *next_cursor);

/* The call's database connection, or NULL after answering 503. */
struct store *api_store(struct api_call *c);
/* Records a store result so a lost connection is not reused. Returns r. */
int api_store_result(struct api_call *c, int r);

/* Parses the body as a JSON object; NULL after answering 400. Caller decrefs. */
json_t *api_body_object(struct api_call *c);
/* Required string member: NULL after answering 400 naming the field. */
const char *api_body_string(struct api_call *c, json_t *obj, const char *name, size_t max_len);
/* Two required string members (a name and a password, say): 0, or -1 after answering 400. */
int api_body_strings(struct api_call *c, json_t *obj, const char *name1, size_t max1,
                     const char **ret1, const char *name2, size_t max2, const char **ret2);

/*
 * Loads a device the caller may see: operators and admins see every device,
 * users the ones bound to them. Answers 404 and returns -1 otherwise.
 */
int api_device_for_caller(struct api_call *c, const char *device_id, struct device_rec *ret);
/* Writes v, a parsed JSON value (a stored analysis, a meter's result), with our writer. */
void api_json_value(struct jsonw *w, const json_t *v);
/* The "limit" query parameter, 1..1000, def when absent: 0 with *ret, or -1 after answering 400. */
int api_query_limit(struct api_call *c, int64_t def, int64_t *ret);
/*
 * GET /api/devices/:id/<key>: a device's list, newest first. Answers
 * {"status":"success","device_id":...,"<key>":[...]} where fill() writes the
 * elements into w (at most limit of them; 0, or a store error, then answered
 * as api_store_error answers it); 404 and 400 for the device and the limit.
 */
typedef int (*api_list_fill)(struct api_call *c, const struct device_rec *dev, size_t limit,
                             struct jsonw *w);
void api_device_list_answer(struct api_call *c, const char *key, int64_t default_limit,
                            api_list_fill fill);

static inline bool api_is_staff(const struct api_call *c)
{
    return c->user.role == ROLE_OPERATOR || c->user.role == ROLE_ADMIN;
}

/*
 * The login throttle (docs/api.md, "Login throttling"): a password (or
 * WeChat code) check is reserved against the caller's address, and against
 * (user name, address) when username is not NULL, before it runs, so that
 * however many run at once, no more than login_max_failures per window are
 * checked. Returns 0, or -1 after answering 429.
 */
struct api_login_slot {
    struct ratelimit_ticket addr, pair;
    bool has_pair;
    char pair_key[USERNAME_MAX + 80];
};
int api_login_reserve(struct api_call *c, const char *username, struct api_login_slot *ret);
/* How a reserved check ended: failures keep their reservation, the rest give it back. */
enum api_login_outcome { API_LOGIN_FAILED, API_LOGIN_OK, API_LOGIN_NOT_CHECKED };
void api_login_settle(struct app *app, const struct api_login_slot *slot,
                      enum api_login_outcome outcome);

/*
 * Password work (Argon2id) off the HTTP threads. A handler gets a struct of
 * its own that starts with struct api_pw (and holds the passwords the job
 * points at) from api_pw_new(), fills pw->job (and pw->slot, when the check
 * was reserved against the login throttle), and calls api_password_work():
 * the answer is deferred, the job runs on a password thread (pwpool.h), and
 * then finish(c, pw) answers, on that thread, with a call whose store, user
 * and answer work as in a handler but whose request holds only the method,
 * path and client address (no headers, no body). A hash that fails is
 * answered 500 without finish. The struct is wiped and freed after.
 */
struct api_pw {
    struct pwpool_job job; /* first: the pool gives it back */
    void (*finish)(struct api_call *c, struct api_pw *pw);
    size_t size; /* of the handler's whole struct */
    struct app *app;
    struct http_deferred *answer;
    struct user_rec caller;
    struct http_request req;
    char method[16], path[256];
    struct api_login_slot slot; /* a reservation of the login throttle, when has_slot */
    bool has_slot;
};
/* A zeroed struct of size bytes that starts with struct api_pw; NULL after answering 500. */
void *api_pw_new(struct api_call *c, size_t size);
/*
 * api_pw_new() for a password check reserved against the login throttle (api_login_reserve(),
 * for username and the caller's address), carried in the struct's slot: NULL after answering
 * 500 or 429.
 */
void *api_pw_new_reserved(struct api_call *c, size_t size, const char *username);
/* Wipes and frees a struct api_pw_new() gave and that was not handed over; NULL is fine. */
void api_pw_free(struct api_pw *pw);
/*
 * Hands pw over. Returns 0, or -1 after answering 503 (the queue is full, or
 * the server stops) with pw's reservation given back and pw freed. Either
 * way pw is no longer the caller's.
 */
int api_password_work(struct api_call *c, struct api_pw *pw,
                      void (*finish)(struct api_call *c, struct api_pw *pw));

/* Writes one reading as an API row ({"timestamp", "seq", "voltage", ...}). */
void api_write_reading(struct jsonw *w, const struct reading *r);

/*
 * Answers a successful login of user: {"status":"success","token",...,"username","role"};
 * 403 for a disabled account.
 */
void api_login_answer(struct api_call *c, const struct user_rec *user);

/*
 * Tells whoever keeps a device's credentials that they changed (new_secret_hash) or that the
 * device is gone (NULL): the upload cache, MQTT ingest's device cache, and the broker's
 * account for it (broker_device_changed()).
 */
void api_device_credentials_changed(struct app *app, const char *device_id,
                                    const char *new_secret_hash);

/* Endpoint handlers. */
void api_login(struct api_call *c);
void api_me(struct api_call *c);
void api_data_upload(struct api_call *c);
void api_data_query(struct api_call *c);
void api_recharge(struct api_call *c);
void api_payment_create(struct api_call *c);
void api_payment_get(struct api_call *c);
void api_payments_list(struct api_call *c);
void api_payment_notify(struct api_call *c);
void api_ledger(struct api_call *c);
void api_devices_list(struct api_call *c);
/* GET /api/devices with any of limit, cursor or a filter: a page (api_device_lists.c). */
bool api_devices_paged(const struct api_call *c);
void api_devices_page(struct api_call *c);
void api_devices_summary(struct api_call *c);
void api_devices_import(struct api_call *c);
void api_device_detail(struct api_call *c);
void api_device_create(struct api_call *c);
void api_binding_add(struct api_call *c);
void api_binding_remove(struct api_call *c);
void api_users_list(struct api_call *c);
void api_user_create(struct api_call *c);
void api_health(struct api_call *c);
void api_stats(struct api_call *c);
void api_capture_create(struct api_call *c);
/* api_relay.c */
void api_relay_request(struct api_call *c);
void api_command_detail(struct api_call *c);
/* Answers 202 for command id just queued for device_id (Location: the command), with
   "command_id", "state":"queued", "device_id" and key: value (api_relay.c). */
void api_command_queued(struct api_call *c, const char *device_id, const char *id, const char *key,
                        const char *value);
void api_captures_list(struct api_call *c);
void api_capture_detail(struct api_call *c);
void api_capture_samples(struct api_call *c);
void api_capture_comtrade_cfg(struct api_call *c);
void api_capture_comtrade_dat(struct api_call *c);
void api_login_wechat(struct api_call *c);
void api_me_wechat_bind(struct api_call *c);
void api_me_wechat_unbind(struct api_call *c);
void api_device_energy(struct api_call *c);
/* GET /api/devices/:id/demand (api_demand.c) */
void api_device_demand(struct api_call *c);
void api_logout(struct api_call *c);
void api_me_password(struct api_call *c);
void api_user_update(struct api_call *c);
void api_user_delete(struct api_call *c);
void api_device_delete(struct api_call *c);
void api_device_secret(struct api_call *c);
void api_audit_list(struct api_call *c);
/* Prepaid billing (api_tariff.c, api_statement.c). */
void api_tariff_put(struct api_call *c);
void api_tariff_get(struct api_call *c);
void api_billing_put(struct api_call *c);
void api_billing_get(struct api_call *c);
void api_statement(struct api_call *c);
/* The park's default tariff (api_tariff.c), the site calendar and device events (api_site.c),
   a device's commands (api_relay.c). */
void api_site_tariff_put(struct api_call *c);
void api_site_tariff_get(struct api_call *c);
void api_site_calendar_get(struct api_call *c);
void api_site_calendar_put(struct api_call *c);
void api_device_events(struct api_call *c);
void api_commands_list(struct api_call *c);

/* Alarms of the state analysis (api_alarms.c). */
void api_alarms_list(struct api_call *c);
void api_alarms_stream(struct api_call *c);
void api_alarm_get(struct api_call *c);
void api_alarm_ack(struct api_call *c);
void api_alarm_rules_get(struct api_call *c);
void api_alarm_rules_put(struct api_call *c);
/* Device metadata and remote operations (api_device_meta.c, api_operations.c). */
void api_device_meta_patch(struct api_call *c);
void api_operation_request(struct api_call *c);
/*
 * Reads a PATCH body's metadata: *set gets the fields given a value (their
 * bits in set->present), *clear the bits of those given null. 0, or -EINVAL
 * with err (an unknown field, a wrong type, a value out of its bounds, or
 * nothing at all). Pure: body is the caller's.
 */
int api_device_meta_parse(json_t *body, struct device_meta *set, uint32_t *clear,
                          char err[DEVICE_META_ERR_LEN]);
/* Writes m's fields as members ("name": ... or null); names_only: just "name" and "site". */
void api_write_device_meta(struct jsonw *w, const struct device_meta *m, bool names_only);
/* "result": a remote operation's result as the meter answered it, or null; nothing for other kinds.
 */
void api_write_command_result(struct jsonw *w, const struct command_rec *cmd);

#endif
