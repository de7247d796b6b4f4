/*
 * ops_device_changes: the log of changes to devices' credentials (store.h
 * "Device credentials and the log of their changes", migration 009), which
 * the broker provisioning follows.
 */
#include <errno.h>

#include "ops.h"
#include "timeutil.h"

int ops_device_change_log(struct sql_store *q, const char *device_id)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHANGE_LOG,
                     "INSERT INTO device_changes (device_id, changed_ms) VALUES (?, ?)", NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    db_bind_int(st, time_now_ms());
    return sql_run(q, st, "log device change");
}

int ops_device_change_commit(struct sql_store *q, int r, const char *device_id)
{
    if (!r)
        r = ops_device_change_log(q, device_id);
    if (!r)
        r = sql_commit(q);
    if (r)
        sql_rollback(q);
    return r;
}

int ops_device_changes(struct store *s, int64_t after_id, size_t limit, store_change_cb cb,
                       void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHANGES_SINCE,
                     "SELECT id, device_id, changed_ms FROM device_changes WHERE id > ? "
                     "ORDER BY id LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, after_id);
    sql_bind_limit(st, limit);
    while ((r = sql_step(q, st, "read device changes")) == 1) {
        struct device_change c;
        c.id = db_col_int(st, 0);
        c.changed_ms = db_col_int(st, 2);
        r = sql_text(q, st, 1, c.device_id, sizeof(c.device_id));
        if (!r)
            r = cb(&c, ctx);
        if (r)
            break;
    }
    db_reset(st);
    return r;
}

int ops_device_changes_latest(struct store *s, int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHANGES_LATEST, "SELECT COALESCE(MAX(id), 0) FROM device_changes", NULL,
                     &st);
    if (!r)
        r = sql_row(q, st, "latest device change", "latest device change: no answer");
    if (r)
        return r;
    *ret_id = db_col_int(st, 0);
    db_reset(st);
    return 0;
}

int ops_device_changes_prune(struct store *s, int64_t before_ms, size_t *ret_deleted)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHANGES_PRUNE, "DELETE FROM device_changes WHERE changed_ms < ?", NULL,
                     &st);
    if (r)
        return r;
    db_bind_int(st, before_ms);
    r = sql_run(q, st, "prune device changes");
    if (!r)
        *ret_deleted = (size_t)db_changes(st);
    return r;
}
