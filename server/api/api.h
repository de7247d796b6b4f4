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
#include "store.h"

#define API_MAX_PARAMS     3
#define API_JSON_MAX_DEPTH 8

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

/* Answers {"status":"error","message":...} with status. Returns -1 for `return api_error(...)`. */
int api_error(struct api_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers a store failure: 503 when the database is unreachable, 500 otherwise (logged). */
int api_store_error(struct api_call *c, int r);

/* Starts a JSON answer with status; write the body with the returned writer. */
struct jsonw *api_json(struct api_call *c, int status, struct jsonw *w);
/* Finishes a JSON answer; turns writer errors into a 500. */
void api_json_done(struct api_call *c, struct jsonw *w);
/* {"status":"success"} plus whatever the caller adds before api_json_done(). */
struct jsonw *api_success(struct api_call *c, int status, struct jsonw *w);

/* The call's database connection, or NULL after answering 503. */
struct store *api_store(struct api_call *c);
/* Records a store result so a lost connection is not reused. Returns r. */
int api_store_result(struct api_call *c, int r);

/* Parses the body as a JSON object; NULL after answering 400. Caller decrefs. */
json_t *api_body_object(struct api_call *c);
/* Required string member: NULL after answering 400 naming the field. */
const char *api_body_string(struct api_call *c, json_t *obj, const char *name, size_t max_len);

/*
 * Loads a device the caller may see: operators and admins see every device,
 * users the ones bound to them. Answers 404 and returns -1 otherwise.
 */
int api_device_for_caller(struct api_call *c, const char *device_id, struct device_rec *ret);

static inline bool api_is_staff(const struct api_call *c)
{
    return c->user.role == ROLE_OPERATOR || c->user.role == ROLE_ADMIN;
}

/* Writes one reading as an API row ({"timestamp", "seq", "voltage", ...}). */
void api_write_reading(struct jsonw *w, const struct reading *r);

/* Answers a successful login of user: {"status":"success","token",...,"username","role"}. */
void api_login_answer(struct api_call *c, const struct user_rec *user);

/* Endpoint handlers. */
void api_login(struct api_call *c);
void api_me(struct api_call *c);
void api_data_upload(struct api_call *c);
void api_data_query(struct api_call *c);
void api_recharge(struct api_call *c);
void api_ledger(struct api_call *c);
void api_devices_list(struct api_call *c);
void api_device_detail(struct api_call *c);
void api_device_create(struct api_call *c);
void api_binding_add(struct api_call *c);
void api_binding_remove(struct api_call *c);
void api_users_list(struct api_call *c);
void api_user_create(struct api_call *c);
void api_health(struct api_call *c);
void api_stats(struct api_call *c);
void api_capture_create(struct api_call *c);
void api_captures_list(struct api_call *c);
void api_capture_detail(struct api_call *c);
void api_capture_samples(struct api_call *c);
void api_capture_comtrade_cfg(struct api_call *c);
void api_capture_comtrade_dat(struct api_call *c);
void api_login_wechat(struct api_call *c);
void api_me_wechat_bind(struct api_call *c);
void api_me_wechat_unbind(struct api_call *c);
void api_device_energy(struct api_call *c);

#endif
