/* ops_users: accounts (store.h "Users"). */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

#define USER_SELECT                                                                                \
    "SELECT id, username, password_hash, role, tokens_valid_after_ms, created_ms FROM users "

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

int ops_user_get(struct store *s, const char *username, int64_t id, struct user_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = username ? sql_stmt(q, SQL_USER_BY_NAME, USER_SELECT "WHERE username = ?", NULL, &st)
                     : sql_stmt(q, SQL_USER_BY_ID, USER_SELECT "WHERE id = ?", NULL, &st);
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
