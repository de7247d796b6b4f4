/*
 * WeChat login (docs/api.md): POST /api/login/wechat exchanges a wx.login
 * code for our own token; POST and DELETE /api/me/wechat bind and unbind the
 * caller's WeChat user. Codes go to WeChat through wechat.h; only the openid
 * comes back, and it is kept in the store's binding table alone: never
 * logged, never answered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "timeutil.h"
#include "wechat.h"

#define NOT_BOUND_MESSAGE                                                                          \
    "no account is bound to this WeChat user; log in with your user name and password, then "      \
    "bind WeChat to your account"
#define OPENID_TAKEN_MESSAGE "this WeChat user is already bound to another account"

/*
 * Reads {"code"} and exchanges it with WeChat, the check reserved against the
 * caller's address in the login throttle (/api/login shares the budget).
 * Returns 0 with *ret and the reservation in *slot for the caller to settle,
 * or -1 after answering (settled here: failures that are the client's, a bad
 * code or a blocked WeChat user, keep it). invalid_code_status is 401 for the
 * login and 400 for binding, where a 401 would mean the session's token is bad.
 */
static int exchange_code(struct api_call *c, int invalid_code_status, struct api_login_slot *slot,
                         struct wechat_session *ret)
{
    if (!c->app->wechat)
        return api_error(c, 503, "WeChat login is not enabled on this server");
    if (api_login_reserve(c, NULL, slot))
        return -1;
    enum api_login_outcome outcome = API_LOGIN_NOT_CHECKED;
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
        outcome = API_LOGIN_FAILED;
        log_info("api: WeChat code from %s refused: %s (%s)", api_client_address(c),
                 wechat_error_name(e), detail);
    } else if (e == WECHAT_CONFIG) {
        log_error("api: WeChat refused this server's credentials (%s): check wechat_appid and "
                  "wechat_secret_file",
                  detail);
    } else {
        log_warn("api: WeChat code from %s not exchanged: %s (%s)", api_client_address(c),
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
    if (r)
        api_login_settle(c->app, slot, outcome);
    json_decref(body);
    return r;
}

void api_login_wechat(struct api_call *c)
{
    struct api_login_slot slot;
    struct wechat_session ws;
    enum api_login_outcome outcome = API_LOGIN_NOT_CHECKED;
    if (exchange_code(c, 401, &slot, &ws))
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
        outcome = API_LOGIN_FAILED;
        log_info("api: WeChat login from %s: no account is bound to this WeChat user",
                 api_client_address(c));
        api_error(c, 403, NOT_BOUND_MESSAGE);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: WeChat login of user '%s' from %s", user.username, api_client_address(c));
    outcome = API_LOGIN_OK;
    api_login_answer(c, &user);
out:
    api_login_settle(c->app, &slot, outcome);
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
    struct api_login_slot slot;
    struct wechat_session ws;
    if (exchange_code(c, 400, &slot, &ws))
        return;
    api_login_settle(c->app, &slot, API_LOGIN_OK);
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
