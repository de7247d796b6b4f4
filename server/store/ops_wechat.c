/*
 * ops_wechat: which WeChat user (openid under an appid) may log in as which
 * account (store.h "WeChat logins"). Only the openid and appid are kept.
 */
#include <errno.h>
#include <string.h>

#include "ops.h"

#define WECHAT_SELECT "SELECT user_id, appid, openid, created_ms FROM wechat_bindings "

int ops_wechat_bind(struct store *s, int64_t user_id, const char *appid, const char *openid,
                    int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_WECHAT_BIND,
                     "INSERT INTO wechat_bindings (openid, user_id, appid, created_ms) "
                     "VALUES (?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, openid);
    db_bind_int(st, user_id);
    db_bind_text(st, appid);
    db_bind_int(st, at_ms);
    return sql_run(q, st, "bind WeChat user");
}

int ops_wechat_get(struct store *s, const char *appid, const char *openid, int64_t user_id,
                   struct wechat_binding_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = openid ? sql_stmt(q, SQL_WECHAT_BY_OPENID,
                              WECHAT_SELECT "WHERE openid = ? AND appid = ?", NULL, &st)
                   : sql_stmt(q, SQL_WECHAT_BY_USER, WECHAT_SELECT "WHERE user_id = ?", NULL, &st);
    if (r)
        return r;
    if (openid) {
        db_bind_text(st, openid);
        db_bind_text(st, appid);
    } else {
        db_bind_int(st, user_id);
    }
    r = sql_row(q, st, "get WeChat binding", "no such WeChat binding");
    if (r)
        return r;
    struct wechat_binding_rec b;
    memset(&b, 0, sizeof(b));
    b.user_id = db_col_int(st, 0);
    r = sql_text(q, st, 1, b.appid, sizeof(b.appid));
    if (!r)
        r = sql_text(q, st, 2, b.openid, sizeof(b.openid));
    b.created_ms = db_col_int(st, 3);
    db_reset(st);
    if (!r)
        *ret = b;
    return r;
}

int ops_wechat_unbind(struct store *s, int64_t user_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r =
        sql_stmt(q, SQL_WECHAT_UNBIND, "DELETE FROM wechat_bindings WHERE user_id = ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, user_id);
    r = sql_run(q, st, "unbind WeChat user");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no WeChat user is bound to that account");
    return r;
}
