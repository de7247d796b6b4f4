/* Users: GET /api/users and POST /api/users (operators create users, admins anyone). */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "log.h"

#define PASSWORD_MIN 8

static int write_user(const struct user_rec *u, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    jsonw_kint(w, "id", u->id);
    jsonw_kstr(w, "username", u->username);
    jsonw_kstr(w, "role", role_name(u->role));
    jsonw_ktime(w, "created_at", u->created_ms);
    jsonw_obj_end(w);
    return 0;
}

void api_users_list(struct api_call *c)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "users");
    jsonw_arr_begin(&w);
    int r = api_store_result(c, store_user_list(st, write_user, &w));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_user_create(struct api_call *c)
{
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *username = api_body_string(c, body, "username", USERNAME_MAX);
    const char *password =
        username ? api_body_string(c, body, "password", AUTH_PASSWORD_MAX) : NULL;
    const char *role_s = "user";
    enum role role;
    if (!username || !password)
        goto out;
    if (json_object_get(body, "role") && !(role_s = api_body_string(c, body, "role", 16)))
        goto out;
    if (!username_valid(username)) {
        api_error(c, 400, "username must be 1 to %d of A-Z a-z 0-9 _ - . @", USERNAME_MAX);
        goto out;
    }
    if (strlen(password) < PASSWORD_MIN) {
        api_error(c, 400, "password must have at least %d characters", PASSWORD_MIN);
        goto out;
    }
    if (role_parse(role_s, &role)) {
        api_error(c, 400, "role must be admin, operator or user");
        goto out;
    }
    if (role != ROLE_USER && c->user.role != ROLE_ADMIN) {
        api_error(c, 403, "only admins may create operators and admins");
        goto out;
    }
    char hash[PASSWORD_HASH_MAX + 1];
    sem_wait(&c->app->password_slots);
    int r = auth_password_hash(password, hash);
    sem_post(&c->app->password_slots);
    if (r) {
        api_error(c, 500, "internal error");
        goto out;
    }
    struct store *st = api_store(c);
    if (!st)
        goto out;
    int64_t id;
    r = api_store_result(c, store_user_add(st, username, hash, role, &id));
    if (r == -EEXIST) {
        api_error(c, 409, "user %s already exists", username);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: %s created %s %s", c->user.username, role_name(role), username);
    struct jsonw w;
    api_success(c, 201, &w);
    jsonw_kint(&w, "id", id);
    jsonw_kstr(&w, "username", username);
    jsonw_kstr(&w, "role", role_name(role));
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    json_decref(body);
}
