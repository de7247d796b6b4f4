/*
 * Sessions: POST /api/login, POST /api/logout, GET /api/me, POST
 * /api/me/password, the token answer the WeChat login shares, and the login
 * throttle both logins use.
 *
 * Passwords are checked on the password threads (api_password_work()), never
 * on an HTTP thread. A check is reserved against the login throttle before it
 * is queued and given back when it turns out right, so however many arrive at
 * once, at most login_max_failures fail per address (and per user name and
 * address) in a window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "timeutil.h"

int api_login_reserve(struct api_call *c, const char *username, struct api_login_slot *ret)
{
    struct ratelimit *rl = c->app->login_failures;
    char addr_key[96];
    int64_t now = time_mono_ms(), retry_ms = 0;
    memset(ret, 0, sizeof(*ret));
    snprintf(addr_key, sizeof(addr_key), "ip:%s", api_client_address(c));
    if (ratelimit_take(rl, addr_key, now, &ret->addr, &retry_ms))
        return api_too_many(c, retry_ms, "too many failed logins");
    if (!username)
        return 0;
    /*
     * Per (user name, address) too: an attacker elsewhere cannot lock the real
     * user out by failing on purpose.
     */
    snprintf(ret->pair_key, sizeof(ret->pair_key), "user:%s|%s", username, api_client_address(c));
    if (ratelimit_take(rl, ret->pair_key, now, &ret->pair, &retry_ms)) {
        ratelimit_refund(rl, &ret->addr);
        return api_too_many(c, retry_ms, "too many failed logins");
    }
    ret->has_pair = true;
    return 0;
}

void *api_pw_new_reserved(struct api_call *c, size_t size, const char *username)
{
    struct api_pw *pw = api_pw_new(c, size);
    if (pw && api_login_reserve(c, username, &pw->slot)) {
        api_pw_free(pw);
        return NULL;
    }
    if (pw)
        pw->has_slot = true;
    return pw;
}

void api_login_settle(struct app *app, const struct api_login_slot *slot,
                      enum api_login_outcome outcome)
{
    if (outcome == API_LOGIN_FAILED)
        return;
    ratelimit_refund(app->login_failures, &slot->addr);
    if (!slot->has_pair)
        return;
    if (outcome == API_LOGIN_OK)
        ratelimit_clear(app->login_failures, slot->pair_key); /* the user is back */
    else
        ratelimit_refund(app->login_failures, &slot->pair);
}

/* Answers with a fresh token for user, issued after its last revocation. */
static void token_answer(struct api_call *c, const struct user_rec *user)
{
    char *token = NULL;
    int64_t issued_ms = auth_token_issue_time(user, time_now_ms());
    if (auth_token_issue(&c->app->key, user, issued_ms, c->app->opt->token_ttl, &token)) {
        api_error(c, 500, "internal error");
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "token", token);
    jsonw_kstr(&w, "token_type", "Bearer");
    jsonw_kint(&w, "expires_in", c->app->opt->token_ttl);
    jsonw_kstr(&w, "username", user->username);
    jsonw_kstr(&w, "role", role_name(user->role));
    jsonw_obj_end(&w);
    api_json_done(c, &w);
    auth_wipe(token, strlen(token));
    free(token);
}

void api_login_answer(struct api_call *c, const struct user_rec *user)
{
    if (user->disabled) {
        api_error(c, 403, "account disabled");
        return;
    }
    token_answer(c, user);
}

/* A login on its way through the password threads. */
struct login_work {
    struct api_pw base;
    struct user_rec user; /* when the user name names an account */
    char username[USERNAME_MAX + 1];
    char password[AUTH_PASSWORD_MAX + 1];
};

static void login_finish(struct api_call *c, struct api_pw *pw)
{
    struct login_work *w = (struct login_work *)pw;
    if (!w->base.job.verified) {
        log_info("api: failed login for user name '%s' from %s",
                 username_valid(w->username) ? w->username : "(invalid)", api_client_address(c));
        api_login_settle(c->app, &pw->slot, API_LOGIN_FAILED);
        api_error(c, 401, "Invalid credentials");
        return;
    }
    api_login_settle(c->app, &pw->slot, API_LOGIN_OK);
    api_login_answer(c, &w->user);
}

/* Looks the account up for a login: 0 (known or not), or answers 5xx and returns -1. */
static int login_account(struct api_call *c, const char *username, struct login_work *w)
{
    if (!username_valid(username))
        return 0;
    struct store *st = api_store(c);
    if (!st)
        return -1;
    int r = api_store_result(c, store_user_by_name(st, username, &w->user));
    if (r && r != -ENOENT)
        return api_store_error(c, r);
    /* An unknown name costs a check too: the answer and its time are the same. */
    w->base.job.verify_hash = r ? NULL : w->user.password_hash;
    return 0;
}

void api_login(struct api_call *c)
{
    struct login_work *w = NULL;
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *username, *password;
    if (api_body_strings(c, body, "username", USERNAME_MAX, &username, "password",
                         AUTH_PASSWORD_MAX, &password) ||
        !(w = api_pw_new_reserved(c, sizeof(*w), username)))
        goto out;
    if (login_account(c, username, w)) {
        api_login_settle(c->app, &w->base.slot, API_LOGIN_NOT_CHECKED);
        goto out;
    }
    snprintf(w->username, sizeof(w->username), "%s", username);
    snprintf(w->password, sizeof(w->password), "%s", password);
    w->base.job.verify = true;
    w->base.job.password = w->password;
    api_password_work(c, &w->base, login_finish);
    w = NULL;
out:
    api_pw_free(w ? &w->base : NULL);
    json_decref(body);
}

void api_me(struct api_call *c)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    struct wechat_binding_rec wb;
    int r = api_store_result(c, store_wechat_by_user(st, c->user.id, &wb));
    if (r && r != -ENOENT) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kint(&w, "id", c->user.id);
    jsonw_kstr(&w, "username", c->user.username);
    jsonw_kstr(&w, "role", role_name(c->user.role));
    jsonw_ktime(&w, "created_at", c->user.created_ms);
    jsonw_kbool(&w, "wechat_bound", r == 0);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* Ends every token of the caller's account issued until now (SPEC: logout ends them all). */
void api_logout(struct api_call *c)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    struct user_change ch = {.revoke_tokens_ms = time_now_ms()};
    int r = api_store_result(c, store_user_update(st, c->user.id, &ch, NULL));
    if (r == -ENOENT) {
        api_error(c, 401, "the account of this token no longer exists");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* A password change on its way through the password threads. */
struct password_work {
    struct api_pw base;
    char old_password[AUTH_PASSWORD_MAX + 1];
    char new_password[AUTH_PASSWORD_MAX + 1];
};

static void password_finish(struct api_call *c, struct api_pw *pw)
{
    if (!pw->job.verified) {
        log_info("api: wrong old password for '%s' from %s", c->user.username,
                 api_client_address(c));
        api_login_settle(c->app, &pw->slot, API_LOGIN_FAILED);
        api_error(c, 403, "old_password is wrong");
        return;
    }
    api_login_settle(c->app, &pw->slot, API_LOGIN_NOT_CHECKED);
    struct store *st = api_store(c);
    if (!st)
        return;
    struct user_rec u;
    struct user_change ch = {.password_hash = pw->job.new_hash, .revoke_tokens_ms = time_now_ms()};
    int r = api_store_result(c, store_user_update(st, c->user.id, &ch, &u));
    if (r == -ENOENT) {
        api_error(c, 401, "the account of this token no longer exists");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    api_audit(c, "me.password", u.username, "%s", "");
    /* Every earlier token ends; this one, issued after, carries on. */
    token_answer(c, &u);
}

void api_me_password(struct api_call *c)
{
    struct password_work *w = NULL;
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *old_pw, *new_pw;
    if (api_body_strings(c, body, "old_password", AUTH_PASSWORD_MAX, &old_pw, "new_password",
                         AUTH_PASSWORD_MAX, &new_pw))
        goto out;
    if (strlen(new_pw) < API_PASSWORD_MIN) {
        api_error(c, 400, "new_password must have at least %d characters", API_PASSWORD_MIN);
        goto out;
    }
    /* The old password is a password check like a login's: a stolen token cannot guess it. */
    if (!(w = api_pw_new_reserved(c, sizeof(*w), c->user.username)))
        goto out;
    snprintf(w->old_password, sizeof(w->old_password), "%s", old_pw);
    snprintf(w->new_password, sizeof(w->new_password), "%s", new_pw);
    w->base.job.verify = true;
    w->base.job.verify_hash = c->user.password_hash;
    w->base.job.password = w->old_password;
    w->base.job.hash_password = w->new_password;
    api_password_work(c, &w->base, password_finish);
    w = NULL;
out:
    api_pw_free(w ? &w->base : NULL);
    json_decref(body);
}
