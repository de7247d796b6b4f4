/* POST /api/login and GET /api/me (and the token answer the WeChat login shares). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "timeutil.h"

#define LOGIN_WINDOW_MS (5 * 60 * 1000)

static int too_many(struct api_call *c, int64_t retry_ms)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%" PRId64, retry_ms / 1000 + 1);
    http_response_header(c->res, "Retry-After", secs);
    return api_error(c, 429, "too many failed logins; try again in %s seconds", secs);
}

void api_login(struct api_call *c)
{
    struct app *app = c->app;
    char ip_key[80], user_key[USERNAME_MAX + 80];
    int64_t now = time_mono_ms(), retry_ms = 0;

    snprintf(ip_key, sizeof(ip_key), "ip:%s", http_client_address(c->req));
    if (ratelimit_blocked(app->login_failures, ip_key, now, &retry_ms)) {
        too_many(c, retry_ms);
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *username = api_body_string(c, body, "username", USERNAME_MAX);
    const char *password =
        username ? api_body_string(c, body, "password", AUTH_PASSWORD_MAX) : NULL;
    if (!username || !password)
        goto out;
    /*
     * Failures count per address and per (user name, address): an attacker
     * elsewhere cannot lock the real user out by failing on purpose.
     */
    snprintf(user_key, sizeof(user_key), "user:%s|%s", username, http_client_address(c->req));
    if (ratelimit_blocked(app->login_failures, user_key, now, &retry_ms)) {
        too_many(c, retry_ms);
        goto out;
    }
    struct store *st = api_store(c);
    if (!st)
        goto out;
    struct user_rec user;
    int r = -ENOENT;
    if (username_valid(username))
        r = api_store_result(c, store_user_by_name(st, username, &user));
    if (r && r != -ENOENT) {
        api_store_error(c, r);
        goto out;
    }
    /* Argon2id takes ~64 MiB per run: bound how many run at once. */
    sem_wait(&app->password_slots);
    bool ok;
    if (r == -ENOENT) {
        auth_password_burn(password);
        ok = false;
    } else {
        ok = auth_password_verify(user.password_hash, password);
    }
    sem_post(&app->password_slots);

    if (!ok) {
        ratelimit_hit(app->login_failures, ip_key, now, NULL, NULL);
        ratelimit_hit(app->login_failures, user_key, now, NULL, NULL);
        log_info("api: failed login for user name '%s' from %s",
                 username_valid(username) ? username : "(invalid)", http_client_address(c->req));
        api_error(c, 401, "Invalid credentials");
        goto out;
    }
    ratelimit_clear(app->login_failures, user_key);
    api_login_answer(c, &user);
out:
    json_decref(body);
}

void api_login_answer(struct api_call *c, const struct user_rec *user)
{
    int64_t now_s = time_now_ms() / 1000;
    char *token = NULL;
    if (auth_token_issue(&c->app->key, user, now_s, c->app->opt->token_ttl, &token)) {
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
