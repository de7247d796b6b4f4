/* ops_devices: devices, their status, and who may see which (store.h "Devices", "Bindings"). */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

#define DEVICE_SELECT                                                                              \
    "SELECT d.id, d.device_id, d.secret_hash, d.balance, d.status, d.status_ms, d.created_ms, "    \
    "d.data_version FROM devices d "

int ops_read_device(struct sql_store *q, struct db_stmt *st, struct device_rec *d)
{
    char status[16];
    memset(d, 0, sizeof(*d));
    d->id = db_col_int(st, 0);
    int r = sql_text(q, st, 1, d->device_id, sizeof(d->device_id));
    if (!r)
        r = sql_text(q, st, 2, d->secret_hash, sizeof(d->secret_hash));
    if (!r && (r = db_col_money(st, 3, &d->balance_fen)))
        r = sql_fail(q, r, "read balance");
    if (!r)
        r = sql_text(q, st, 4, status, sizeof(status));
    d->status = DEVICE_STATUS_UNKNOWN;
    if (!r && strcmp(status, "online") == 0)
        d->status = DEVICE_STATUS_ONLINE;
    else if (!r && strcmp(status, "offline") == 0)
        d->status = DEVICE_STATUS_OFFLINE;
    d->status_ms = db_col_int(st, 5);
    d->created_ms = db_col_int(st, 6);
    d->data_version = db_col_int(st, 7);
    return r;
}

int ops_device_add(struct store *s, const char *device_id, const char *secret_hash,
                   int64_t owner_user_id, int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int64_t id = 0;
    int r = sql_stmt(q, SQL_DEVICE_ADD,
                     "INSERT INTO devices (device_id, secret_hash, created_ms, search_key) "
                     "VALUES (?, ?, ?, LOWER(?))",
                     NULL, &st);
    if (!r)
        r = sql_begin(q);
    if (!r) {
        db_bind_text(st, device_id);
        db_bind_text(st, secret_hash);
        db_bind_int(st, time_now_ms());
        db_bind_text(st, device_id); /* its search_key (ops_search_text()): no name yet */
        r = sql_run(q, st, "add device");
        if (r == -EEXIST)
            store_fail(s, r, "device '%s' already exists", device_id);
        id = r ? 0 : db_last_id(st);
    }
    if (!r && owner_user_id)
        r = ops_binding_add(s, owner_user_id, id);
    r = ops_device_change_commit(q, r, device_id);
    if (r)
        return r;
    if (ret_id)
        *ret_id = id;
    return 0;
}

int ops_device_delete(struct store *s, const char *device_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *find = NULL, *readings = NULL, *del = NULL;
    int r = sql_stmt(q, SQL_DEVICE_FIND_FOR_DELETE,
                     "SELECT id FROM devices WHERE device_id = ? {FOR_UPDATE}", NULL, &find);
    if (!r)
        r = sql_stmt(q, SQL_DEVICE_DELETE_READINGS, "DELETE FROM readings WHERE device_pk = ?",
                     NULL, &readings);
    if (!r)
        r = sql_stmt(q, SQL_DEVICE_DELETE, "DELETE FROM devices WHERE id = ?", NULL, &del);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    db_bind_text(find, device_id);
    r = sql_row(q, find, "find device", "no such device");
    int64_t pk = r ? 0 : db_col_int(find, 0);
    if (!r)
        db_reset(find);
    /* Readings have no foreign key (their table is keyed for inserts); the rest cascades. */
    if (!r) {
        db_bind_int(readings, pk);
        r = sql_run(q, readings, "delete the device's readings");
    }
    if (!r) {
        db_bind_int(del, pk);
        r = sql_run(q, del, "delete device");
    }
    return ops_device_change_commit(q, r, device_id);
}

int ops_device_set_secret(struct store *s, const char *device_id, const char *secret_hash)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEVICE_SET_SECRET,
                     "UPDATE devices SET secret_hash = ? WHERE device_id = ?", NULL, &st);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    db_bind_text(st, secret_hash);
    db_bind_text(st, device_id);
    r = sql_run(q, st, "set device secret");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no such device");
    return ops_device_change_commit(q, r, device_id);
}

int ops_device_by_name(struct store *s, const char *device_id, struct device_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEVICE_BY_NAME, DEVICE_SELECT "WHERE d.device_id = ?", NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    r = sql_row(q, st, "get device", "no such device");
    if (r)
        return r;
    struct device_rec d;
    r = ops_read_device(q, st, &d);
    db_reset(st);
    if (!r)
        *ret = d;
    return r;
}

int ops_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = user_id
                ? sql_stmt(q, SQL_DEVICE_LIST_USER,
                           DEVICE_SELECT "JOIN user_devices b ON b.device_pk = d.id "
                                         "WHERE b.user_id = ? ORDER BY d.device_id",
                           NULL, &st)
                : sql_stmt(q, SQL_DEVICE_LIST_ALL, DEVICE_SELECT "ORDER BY d.device_id", NULL, &st);
    if (!r && user_id)
        db_bind_int(st, user_id);
    while (!r && (r = sql_step(q, st, "list devices")) == 1) {
        struct device_rec d;
        r = ops_read_device(q, st, &d);
        if (!r)
            r = cb(&d, ctx);
    }
    db_reset(st);
    return r;
}

int ops_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                          int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEVICE_STATUS,
                     "UPDATE devices SET status = ?, status_ms = ? WHERE id = ? AND status_ms <= ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_status_name(status));
    db_bind_int(st, at_ms);
    db_bind_int(st, device_pk);
    db_bind_int(st, at_ms);
    return sql_run(q, st, "set device status");
}

/* The statement of a binding's (user, device) pair, bound: for add, remove and check. */
static int binding_stmt(struct sql_store *q, enum sql_id id, const char *sql, int64_t user_id,
                        int64_t device_pk, struct db_stmt **ret)
{
    int r = sql_stmt(q, id, sql, NULL, ret);
    if (r)
        return r;
    db_bind_int(*ret, user_id);
    db_bind_int(*ret, device_pk);
    return 0;
}

int ops_binding_add(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = binding_stmt(q, SQL_BINDING_ADD,
                         "INSERT INTO user_devices (user_id, device_pk, created_ms, device_id) "
                         "VALUES (?, ?, ?, COALESCE((SELECT d.device_id FROM devices d "
                         "WHERE d.id = ?), ''))",
                         user_id, device_pk, &st);
    if (r)
        return r;
    db_bind_int(st, time_now_ms());
    /* The device's id, for a user's page (ops_device_lists.c); a device_pk that names no
       device stays the foreign-key error it was. */
    db_bind_int(st, device_pk);
    return sql_run(q, st, "bind device");
}

int ops_binding_remove(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = binding_stmt(q, SQL_BINDING_REMOVE,
                         "DELETE FROM user_devices WHERE user_id = ? AND device_pk = ?", user_id,
                         device_pk, &st);
    if (!r)
        r = sql_run(q, st, "unbind device");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "device is not bound to that user");
    return r;
}

int ops_binding_check(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = binding_stmt(q, SQL_BINDING_CHECK,
                         "SELECT 1 FROM user_devices WHERE user_id = ? AND device_pk = ?", user_id,
                         device_pk, &st);
    if (r)
        return r;
    r = sql_step(q, st, "check binding");
    db_reset(st);
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

int ops_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BINDING_USERS,
                     "SELECT u.username FROM user_devices b JOIN users u ON u.id = b.user_id "
                     "WHERE b.device_pk = ? ORDER BY u.username",
                     NULL, &st);
    if (!r)
        db_bind_int(st, device_pk);
    while (!r && (r = sql_step(q, st, "list bound users")) == 1) {
        char name[USERNAME_MAX + 1];
        r = sql_text(q, st, 0, name, sizeof(name));
        if (!r)
            r = cb(name, ctx);
    }
    db_reset(st);
    return r;
}
