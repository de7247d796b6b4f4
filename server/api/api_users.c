/*
 * Users: GET /api/users (every account, or a page with limit and cursor)
 * and POST /api/users (operators create users, admins anyone), PATCH and
 * DELETE /api/users/:username (admins). A change to an
 * account ends its tokens at once; the last enabled admin stays one.
 * Passwords are hashed on the password threads (api_password_work()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_query.h"
#include "log.h"
#include "timeutil.h"

static int write_user(const struct user_rec *u, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    jsonw_kint(w, "id", u->id);
    jsonw_kstr(w, "username", u->username);
    jsonw_kstr(w, "role", role_name(u->role));
    jsonw_kbool(w, "disabled", u->disabled);
    jsonw_ktime(w, "created_at", u->created_ms);
    jsonw_obj_end(w);
    return 0;
}

/* Writes each user of a page, keeping the last one for the next page's cursor. */
struct page_writer {
    struct jsonw *w;
    struct user_rec *last;
};

static int write_user_page(const struct user_rec *u, void *ctx)
{
    struct page_writer *pw = ctx;
    *pw->last = *u;
    return write_user(u, pw->w);
}

#define USER_PAGE_LIMIT_DEFAULT 100
#define USER_CURSOR_MAX         (2 * USERNAME_MAX)

/* GET /api/users with limit or cursor: a page, the total and the next page's cursor. */
static void users_page(struct api_call *c)
{
    int64_t limit;
    char after[USERNAME_MAX + 1] = "";
    const char *v = http_query(c->req, "cursor");
    if (api_query_limit(c, USER_PAGE_LIMIT_DEFAULT, &limit))
        return;
    if (v && api_cursor_decode(v, after, sizeof(after)))
        return (void)api_error(c, 400, "cursor is not one this server handed out (next_cursor)");
    struct store *st = api_store(c);
    if (!st)
        return;
    int64_t total = 0;
    int r = api_store_result(c, store_user_count(st, &total));
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "users");
    jsonw_arr_begin(&w);
    struct user_rec last = {0};
    struct page_writer pw = {.w = &w, .last = &last};
    bool more = false;
    r = api_store_result(c, store_user_page(st, after, (size_t)limit, write_user_page, &pw, &more));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    char cursor[USER_CURSOR_MAX + 1];
    api_cursor_encode(last.username, cursor, sizeof(cursor));
    api_write_page_end(&w, total, limit, more && last.username[0] ? cursor : NULL);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_users_list(struct api_call *c)
{
    /* Without limit or cursor: every account, as before paging (docs/api.md). */
    if (http_query(c->req, "limit") || http_query(c->req, "cursor")) {
        users_page(c);
        return;
    }
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

/* A password that will do for an account: 0, or answers 400 naming field. */
static int check_password(struct api_call *c, const char *field, const char *password)
{
    if (strlen(password) < API_PASSWORD_MIN)
        return api_error(c, 400, "%s must have at least %d characters", field, API_PASSWORD_MIN);
    return 0;
}

/* A new account on its way through the password threads. */
struct create_work {
    struct api_pw base;
    char username[USERNAME_MAX + 1];
    enum role role;
    char password[AUTH_PASSWORD_MAX + 1];
};

static void create_finish(struct api_call *c, struct api_pw *pw)
{
    struct create_work *w = (struct create_work *)pw;
    struct store *st = api_store(c);
    if (!st)
        return;
    int64_t id;
    int r =
        api_store_result(c, store_user_add(st, w->username, w->base.job.new_hash, w->role, &id));
    if (r == -EEXIST) {
        api_error(c, 409, "user %s already exists", w->username);
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    log_info("api: %s created %s %s", c->user.username, role_name(w->role), w->username);
    api_audit(c, "user.create", w->username, "role=%s", role_name(w->role));
    struct jsonw jw;
    api_success(c, 201, &jw);
    jsonw_kint(&jw, "id", id);
    jsonw_kstr(&jw, "username", w->username);
    jsonw_kstr(&jw, "role", role_name(w->role));
    jsonw_obj_end(&jw);
    api_json_done(c, &jw);
}

void api_user_create(struct api_call *c)
{
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *username, *password, *role_s = "user";
    enum role role;
    if (api_body_strings(c, body, "username", USERNAME_MAX, &username, "password",
                         AUTH_PASSWORD_MAX, &password))
        goto out;
    if (json_object_get(body, "role") && !(role_s = api_body_string(c, body, "role", 16)))
        goto out;
    if (!username_valid(username)) {
        api_error(c, 400, "username must be 1 to %d of A-Z a-z 0-9 _ - . @", USERNAME_MAX);
        goto out;
    }
    if (check_password(c, "password", password))
        goto out;
    if (role_parse(role_s, &role)) {
        api_error(c, 400, "role must be admin, operator or user");
        goto out;
    }
    if (role != ROLE_USER && c->user.role != ROLE_ADMIN) {
        api_error(c, 403, "only admins may create operators and admins");
        goto out;
    }
    struct create_work *w = api_pw_new(c, sizeof(*w));
    if (!w)
        goto out;
    snprintf(w->username, sizeof(w->username), "%s", username);
    snprintf(w->password, sizeof(w->password), "%s", password);
    w->role = role;
    w->base.job.hash_password = w->password;
    api_password_work(c, &w->base, create_finish);
out:
    json_decref(body);
}

/* The account a path names; 0, or answers 404 (or 503) and returns -1. */
static int target_user(struct api_call *c, const char *username, struct user_rec *ret)
{
    if (!username_valid(username))
        return api_error(c, 404, "user not found");
    struct store *st = api_store(c);
    if (!st)
        return -1;
    int r = api_store_result(c, store_user_by_name(st, username, ret));
    if (r == -ENOENT)
        return api_error(c, 404, "user not found");
    return r ? api_store_error(c, r) : 0;
}

/* What a PATCH asks for, read and checked. */
struct patch {
    struct user_change ch;
    const char *password; /* NULL: unchanged */
};

/* Reads {"role"?, "disabled"?, "password"?}; 0, or answers 400 and returns -1. */
static int read_patch(struct api_call *c, json_t *body, struct patch *ret)
{
    memset(ret, 0, sizeof(*ret));
    json_t *v = json_object_get(body, "role");
    if (v && !json_is_null(v)) {
        const char *role_s = api_body_string(c, body, "role", 16);
        if (!role_s)
            return -1;
        if (role_parse(role_s, &ret->ch.role))
            return api_error(c, 400, "role must be admin, operator or user");
        ret->ch.set_role = true;
    }
    v = json_object_get(body, "disabled");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return api_error(c, 400, "disabled must be true or false");
        ret->ch.set_disabled = true;
        ret->ch.disabled = json_is_true(v);
    }
    v = json_object_get(body, "password");
    if (v && !json_is_null(v)) {
        ret->password = api_body_string(c, body, "password", AUTH_PASSWORD_MAX);
        if (!ret->password || check_password(c, "password", ret->password))
            return -1;
    }
    if (!ret->ch.set_role && !ret->ch.set_disabled && !ret->password)
        return api_error(c, 400, "nothing to change: give role, disabled or password");
    return 0;
}

/* Applies a checked change to the account id (named username) and answers it. */
static void apply_patch(struct api_call *c, int64_t id, const char *username,
                        struct user_change *ch, bool password)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    struct user_rec u;
    /* SPEC: any change to an account ends its existing tokens. */
    ch->revoke_tokens_ms = time_now_ms();
    int r = api_store_result(c, store_user_update(st, id, ch, &u));
    if (r == -ENOENT) {
        api_error(c, 404, "user not found");
        return;
    }
    if (r == -EPERM) {
        api_error(c, 409, "%s is the last enabled admin: make another admin first", username);
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    log_info("api: %s changed user %s", c->user.username, u.username);
    api_audit(c, "user.update", u.username, "%s%s%s%s", ch->set_role ? "role=" : "",
              ch->set_role ? role_name(ch->role) : "",
              !ch->set_disabled ? ""
              : ch->disabled    ? " disabled=true"
                                : " disabled=false",
              password ? " password=changed" : "");
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kint(&w, "id", u.id);
    jsonw_kstr(&w, "username", u.username);
    jsonw_kstr(&w, "role", role_name(u.role));
    jsonw_kbool(&w, "disabled", u.disabled);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* A change with a new password, hashed on the password threads first. */
struct update_work {
    struct api_pw base;
    int64_t id;
    char username[USERNAME_MAX + 1];
    struct user_change ch;
    char password[AUTH_PASSWORD_MAX + 1];
};

static void update_finish(struct api_call *c, struct api_pw *pw)
{
    struct update_work *w = (struct update_work *)pw;
    w->ch.password_hash = w->base.job.new_hash;
    apply_patch(c, w->id, w->username, &w->ch, true);
}

void api_user_update(struct api_call *c)
{
    struct user_rec u;
    struct patch p;
    json_t *body = api_body_object(c);
    if (!body)
        return;
    if (read_patch(c, body, &p) || target_user(c, c->params[0], &u))
        goto out;
    if (!p.password) {
        apply_patch(c, u.id, u.username, &p.ch, false);
        goto out;
    }
    struct update_work *w = api_pw_new(c, sizeof(*w));
    if (!w)
        goto out;
    w->id = u.id;
    snprintf(w->username, sizeof(w->username), "%s", u.username);
    w->ch = p.ch;
    snprintf(w->password, sizeof(w->password), "%s", p.password);
    w->base.job.hash_password = w->password;
    api_password_work(c, &w->base, update_finish);
out:
    json_decref(body);
}

void api_user_delete(struct api_call *c)
{
    struct user_rec u;
    if (target_user(c, c->params[0], &u))
        return;
    int r = api_store_result(c, store_user_delete(c->store, u.id));
    if (r == -ENOENT) {
        api_error(c, 404, "user not found");
        return;
    }
    if (r == -EPERM) {
        api_error(c, 409, "%s is the last enabled admin: make another admin first", u.username);
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    log_info("api: %s deleted user %s", c->user.username, u.username);
    api_audit(c, "user.delete", u.username, "role=%s", role_name(u.role));
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
