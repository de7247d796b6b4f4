/* ops_audit: the audit log of operators' and admins' actions (store.h "The audit log"). */
#include <errno.h>
#include <string.h>

#include "ops.h"

int ops_audit_add(struct store *s, const struct audit_rec *e)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_AUDIT_ADD,
                     "INSERT INTO audit_log (at_ms, actor, action, target, address, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, e->at_ms);
    db_bind_text(st, e->actor);
    db_bind_text(st, e->action);
    db_bind_text(st, e->target);
    db_bind_text(st, e->address);
    db_bind_text(st, e->detail);
    return sql_run(q, st, "add audit entry");
}

static int read_entry(struct sql_store *q, struct db_stmt *st, struct audit_rec *e)
{
    memset(e, 0, sizeof(*e));
    e->id = db_col_int(st, 0);
    e->at_ms = db_col_int(st, 1);
    int r = sql_text(q, st, 2, e->actor, sizeof(e->actor));
    if (!r)
        r = sql_text(q, st, 3, e->action, sizeof(e->action));
    if (!r)
        r = sql_text(q, st, 4, e->target, sizeof(e->target));
    if (!r)
        r = sql_text(q, st, 5, e->address, sizeof(e->address));
    if (!r)
        r = sql_text(q, st, 6, e->detail, sizeof(e->detail));
    return r;
}

int ops_audit_list(struct store *s, int64_t before_id, size_t limit, store_audit_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_AUDIT_LIST,
                     "SELECT id, at_ms, actor, action, target, address, detail FROM audit_log "
                     "WHERE id < ? ORDER BY id DESC LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, before_id > 0 ? before_id : INT64_MAX);
    sql_bind_limit(st, limit);
    while ((r = sql_step(q, st, "list audit entries")) == 1) {
        struct audit_rec e;
        r = read_entry(q, st, &e);
        if (!r)
            r = cb(&e, ctx);
        if (r)
            break;
    }
    db_reset(st);
    return r;
}
