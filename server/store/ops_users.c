/*
 * ops_users: accounts (store.h "Users").
 *
 * A change that could take away an admin (a role, disabling, a delete)
 * first locks the rows of every enabled admin, then the account's own row,
 * always in that order, so two admins demoting each other take turns and the
 * second sees the first's change: the last enabled admin stays.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

#define USER_SELECT                                                                                \
    "SELECT id, username, password_hash, role, tokens_valid_after_ms, created_ms, disabled "       \
    "FROM users "

static int read_user(struct sql_store *q, struct db_stmt *st, struct user_rec *u)
{
    char role[16];
    memset(u, 0, sizeof(*u));
    u->id = db_col_int(st, 0);
    int r = sql_text(q, st, 1, u->username, sizeof(u->username));
    if (!r)
        r = sql_text(q, st, 2, u->password_hash, sizeof(u->password_hash));
    if (!r)
        r = sql_text(q, st, 3, role, sizeof(role));
    if (r || role_parse(role, &u->role))
        u->role = ROLE_USER;
    u->tokens_valid_after_ms = db_col_int(st, 4);
    u->created_ms = db_col_int(st, 5);
    u->disabled = db_col_int(st, 6) != 0;
    return r;
}

int ops_user_add(struct store *s, const char *username, const char *password_hash, enum role role,
                 int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_USER_ADD,
                     "INSERT INTO users (username, password_hash, role, created_ms) "
                     "VALUES (?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, username);
    db_bind_text(st, password_hash);
    db_bind_text(st, role_name(role));
    db_bind_int(st, time_now_ms());
    r = sql_run(q, st, "add user");
    if (r == -EEXIST)
        return store_fail(s, r, "user '%s' already exists", username);
    if (!r && ret_id)
        *ret_id = db_last_id(st);
    return r;
}

/* The one account statement id (text) finds by username, or by id when username is NULL. */
static int user_row(struct sql_store *q, enum sql_id sid, const char *text, const char *username,
                    int64_t id, struct user_rec *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, sid, text, NULL, &st);
    if (r)
        return r;
    if (username)
        db_bind_text(st, username);
    else
        db_bind_int(st, id);
    r = sql_row(q, st, "get user", "no such user");
    if (r)
        return r;
    struct user_rec u;
    r = read_user(q, st, &u);
    db_reset(st);
    if (!r)
        *ret = u;
    return r;
}

int ops_user_get(struct store *s, const char *username, int64_t id, struct user_rec *ret)
{
    struct sql_store *q = SQL(s);
    return username
               ? user_row(q, SQL_USER_BY_NAME, USER_SELECT "WHERE username = ?", username, 0, ret)
               : user_row(q, SQL_USER_BY_ID, USER_SELECT "WHERE id = ?", NULL, id, ret);
}

int ops_user_list(struct store *s, store_user_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_USER_LIST, USER_SELECT "ORDER BY username", NULL, &st);
    while (!r && (r = sql_step(q, st, "list users")) == 1) {
        struct user_rec u;
        r = read_user(q, st, &u);
        if (!r)
            r = cb(&u, ctx);
    }
    db_reset(st);
    return r;
}

int ops_user_page(struct store *s, const char *after, size_t limit, store_user_cb cb, void *ctx,
                  bool *ret_more)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_USER_PAGE, USER_SELECT "WHERE username > ? ORDER BY username LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, after);
    sql_bind_limit(st, limit + 1);
    size_t n = 0;
    bool more = false;
    while ((r = sql_step(q, st, "list users")) == 1) {
        if (n == limit) {
            more = true;
            break;
        }
        struct user_rec u;
        r = read_user(q, st, &u);
        if (!r)
            r = cb(&u, ctx);
        if (r)
            break;
        n++;
    }
    db_reset(st);
    if (r < 0)
        return r;
    if (ret_more)
        *ret_more = more;
    return 0;
}

int ops_user_count(struct store *s, int64_t *ret_total)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_USER_COUNT, "SELECT COUNT(*) FROM users", NULL, &st);
    if (!r)
        r = sql_row(q, st, "count users", "no count");
    if (r)
        return r;
    *ret_total = db_col_int(st, 0);
    db_reset(st);
    return 0;
}

/* Locks every enabled admin's row; *ret_count counts them. */
static int lock_admins(struct sql_store *q, int64_t *ret_count)
{
    struct db_stmt *st = NULL;
    int64_t n = 0;
    int r = sql_stmt(q, SQL_ADMINS_LOCK,
                     "SELECT id FROM users WHERE role = 'admin' AND disabled = 0{FOR_UPDATE}", NULL,
                     &st);
    while (!r && (r = sql_step(q, st, "lock admins")) == 1) {
        n++;
        r = 0;
    }
    db_reset(st);
    if (!r)
        *ret_count = n;
    return r;
}

/* The account, its row locked. */
static int lock_user(struct sql_store *q, int64_t id, struct user_rec *ret)
{
    return user_row(q, SQL_USER_LOCK, USER_SELECT "WHERE id = ?{FOR_UPDATE}", NULL, id, ret);
}

static bool enabled_admin(const struct user_rec *u)
{
    return u->role == ROLE_ADMIN && !u->disabled;
}

/* Locks what a change of id needs: the admins first when admin rights may go, then the row. */
static int lock_for_change(struct sql_store *q, int64_t id, bool rights_may_go, int64_t *ret_admins,
                           struct user_rec *ret)
{
    int r = rights_may_go ? lock_admins(q, ret_admins) : 0;
    return r ? r : lock_user(q, id, ret);
}

int ops_user_update(struct store *s, int64_t user_id, const struct user_change *ch,
                    struct user_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct user_rec u;
    int64_t admins = 0;
    int r = sql_begin(q);
    if (!r)
        r = lock_for_change(q, user_id, ch->set_role || ch->set_disabled, &admins, &u);
    if (r)
        goto out;
    bool was_admin = enabled_admin(&u);
    if (ch->set_role)
        u.role = ch->role;
    if (ch->set_disabled)
        u.disabled = ch->disabled;
    if (ch->password_hash)
        snprintf(u.password_hash, sizeof(u.password_hash), "%s", ch->password_hash);
    if (ch->revoke_tokens_ms > u.tokens_valid_after_ms)
        u.tokens_valid_after_ms = ch->revoke_tokens_ms;
    if (was_admin && !enabled_admin(&u) && admins <= 1) {
        r = store_fail(s, -EPERM, "%s is the last enabled admin", u.username);
        goto out;
    }
    struct db_stmt *st = NULL;
    r = sql_stmt(q, SQL_USER_UPDATE,
                 "UPDATE users SET role = ?, disabled = ?, password_hash = ?, "
                 "tokens_valid_after_ms = ? WHERE id = ?",
                 NULL, &st);
    if (r)
        goto out;
    db_bind_text(st, role_name(u.role));
    db_bind_int(st, u.disabled);
    db_bind_text(st, u.password_hash);
    db_bind_int(st, u.tokens_valid_after_ms);
    db_bind_int(st, user_id);
    r = sql_run(q, st, "update user");
    if (!r)
        r = sql_commit(q);
out:
    if (r) {
        sql_rollback(q);
        return r;
    }
    if (ret)
        *ret = u;
    return 0;
}

int ops_user_delete(struct store *s, int64_t user_id)
{
    struct sql_store *q = SQL(s);
    struct user_rec u;
    int64_t admins = 0;
    int r = sql_begin(q);
    if (!r)
        r = lock_for_change(q, user_id, true, &admins, &u);
    if (!r && enabled_admin(&u) && admins <= 1)
        r = store_fail(s, -EPERM, "%s is the last enabled admin", u.username);
    struct db_stmt *st = NULL;
    if (!r)
        r = sql_stmt(q, SQL_USER_DELETE, "DELETE FROM users WHERE id = ?", NULL, &st);
    if (!r) {
        db_bind_int(st, user_id);
        r = sql_run(q, st, "delete user");
    }
    if (!r)
        r = sql_commit(q);
    if (r)
        sql_rollback(q);
    return r;
}
