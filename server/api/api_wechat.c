/*
 * WeChat login (docs/api.md): POST /api/login/wechat exchanges a wx.login
 * code for our own token; POST and DELETE /api/me/wechat bind and unbind the
 * caller's WeChat user. Codes go to WeChat through wechat.h; only the openid
 * comes back, and it is kept in the store's binding table alone: never
 * logged, never answered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "timeutil.h"
#include "wechat.h"

#define IP_KEY_LEN 80

#define NOT_BOUND_MESSAGE                                                                          \
    "no account is bound to this WeChat user; log in with your user name and password, then "      \
    "bind WeChat to your account"
#define OPENID_TAKEN_MESSAGE "this WeChat user is already bound to another account"

/* The key /api/login counts failures under per client address: both logins share one budget. */
static void ip_key(const struct api_call *c, char key[IP_KEY_LEN])
{
    snprintf(key, IP_KEY_LEN, "ip:%s", http_client_address(c->req));
}

static void count_failure(struct api_call *c, const char *key)
{
    ratelimit_hit(c->app->login_failures, key, time_mono_ms(), NULL, NULL);
}

/* Answers 429 and returns true when the address has failed too often. */
static bool throttled(struct api_call *c, const char *key)
{
    int64_t retry_ms = 0;
    if (!ratelimit_blocked(c->app->login_failures, key, time_mono_ms(), &retry_ms))
        return false;
    char secs[24];
    snprintf(secs, sizeof(secs), "%" PRId64, retry_ms / 1000 + 1);
    http_response_header(c->res, "Retry-After", secs);
    api_error(c, 429, "too many failed logins; try again in %s seconds", secs);
    return true;
}

/*
 * Reads {"code"} and exchanges it with WeChat. Returns 0 with *ret, or -1
 * after answering. Failures that are the client's (a bad code, a blocked
 * WeChat user) count against its address. invalid_code_status is 401 for the
 * login and 400 for binding, where a 401 would mean the session's token is bad.
 */
static int exchange_code(struct api_call *c, const char *key, int invalid_code_status,
                         struct wechat_session *ret)
{
    if (!c->app->wechat)
        return api_error(c, 503, "WeChat login is not enabled on this server");
    json_t *body = api_body_object(c);
    if (!body)
        return -1;
    int r = -1;
    const char *code = api_body_string(c, body, "code", WECHAT_CODE_MAX);
    if (!code)
        goto out;
    if (!wechat_code_valid(code)) {
        api_error(c, 400, "code must be 1 to %d printable characters without spaces",
                  WECHAT_CODE_MAX);
        goto out;
    }
    char detail[WECHAT_ERR_LEN];
    enum wechat_error e = wechat_code2session(c->app->wechat, code, ret, detail);
    if (e == WECHAT_OK) {
        r = 0;
        goto out;
    }
    if (e == WECHAT_CODE_INVALID || e == WECHAT_BLOCKED) {
        count_failure(c, key);
        log_info("api: WeChat code from %s refused: %s (%s)", http_client_address(c->req),
                 wechat_error_name(e), detail);
    } else if (e == WECHAT_CONFIG) {
        log_error("api: WeChat refused this server's credentials (%s): check wechat_appid and "
                  "wechat_secret_file",
                  detail);
    } else {
        log_warn("api: WeChat code from %s not exchanged: %s (%s)", http_client_address(c->req),
                 wechat_error_name(e), detail);
    }
    const char *message;
    int retry_s;
    int status = wechat_error_status(e, &message, &retry_s);
    if (status == 401)
        status = invalid_code_status;
    if (retry_s > 0) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", retry_s);
        http_response_header(c->res, "Retry-After", secs);
    }
    api_error(c, status, "%s", message);
out:
    json_decref(body);
    return r;
}

void api_login_wechat(struct api_call *c)
{
    char key[IP_KEY_LEN];
    struct wechat_session ws;
    ip_key(c, key);
    if (throttled(c, key) || exchange_code(c, key, 401, &ws))
        return;
    struct store *st = api_store(c);
    if (!st)
        goto out;
    struct wechat_binding_rec b;
    struct user_rec user;
    int r =
        api_store_result(c, store_wechat_by_openid(st, c->app->opt->wechat_appid, ws.openid, &b));
    if (!r)
        r = api_store_result(c, store_user_by_id(st, b.user_id, &user));
    if (r == -ENOENT) {
        count_failure(c, key);
        log_info("api: WeChat login from %s: no account is bound to this WeChat user",
                 http_client_address(c->req));
        api_error(c, 403, NOT_BOUND_MESSAGE);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: WeChat login of user '%s' from %s", user.username, http_client_address(c->req));
    api_login_answer(c, &user);
out:
    memset(&ws, 0, sizeof(ws));
}

static void answer_bound(struct api_call *c, int status, bool bound)
{
    struct jsonw w;
    api_success(c, status, &w);
    jsonw_kbool(&w, "wechat_bound", bound);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_me_wechat_bind(struct api_call *c)
{
    char key[IP_KEY_LEN];
    struct wechat_session ws;
    ip_key(c, key);
    if (throttled(c, key) || exchange_code(c, key, 400, &ws))
        return;
    const char *appid = c->app->opt->wechat_appid;
    struct store *st = api_store(c);
    if (!st)
        goto out;
    struct wechat_binding_rec b;
    int r = api_store_result(c, store_wechat_by_openid(st, appid, ws.openid, &b));
    if (!r && b.user_id == c->user.id) {
        answer_bound(c, 200, true); /* bound already: binding again changes nothing */
        goto out;
    }
    if (!r) {
        api_error(c, 409, OPENID_TAKEN_MESSAGE);
        goto out;
    }
    if (r != -ENOENT) {
        api_store_error(c, r);
        goto out;
    }
    r = api_store_result(c, store_wechat_by_user(st, c->user.id, &b));
    if (!r) {
        api_error(c, 409,
                  "your account is already bound to another WeChat user; unbind it first "
                  "(DELETE /api/me/wechat)");
        goto out;
    }
    if (r == -ENOENT)
        r = api_store_result(c, store_wechat_bind(st, c->user.id, appid, ws.openid, time_now_ms()));
    if (r == -EEXIST) { /* a concurrent binding won */
        api_error(c, 409, OPENID_TAKEN_MESSAGE);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: user '%s' bound a WeChat user", c->user.username);
    answer_bound(c, 201, true);
out:
    memset(&ws, 0, sizeof(ws));
}

void api_me_wechat_unbind(struct api_call *c)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    int r = api_store_result(c, store_wechat_unbind(st, c->user.id));
    if (r == -ENOENT) {
        api_error(c, 404, "no WeChat user is bound to your account");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    log_info("api: user '%s' unbound their WeChat user", c->user.username);
    answer_bound(c, 200, false);
}
