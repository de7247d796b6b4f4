/*
 * store_sqlite: the embedded default backend. The only file that includes
 * sqlite3.h. One sqlite3 connection per struct store, WAL mode so readers
 * never wait for the writer, writes in BEGIN IMMEDIATE transactions.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fileutil.h"
#include "store_internal.h"
#include "timeutil.h"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_USER_ADD,
    ST_USER_BY_NAME,
    ST_USER_BY_ID,
    ST_USER_LIST,
    ST_DEVICE_ADD,
    ST_DEVICE_BY_NAME,
    ST_DEVICE_LIST_ALL,
    ST_DEVICE_LIST_USER,
    ST_DEVICE_STATUS,
    ST_BINDING_ADD,
    ST_BINDING_REMOVE,
    ST_BINDING_CHECK,
    ST_BINDING_USERS,
    ST_READING_MAX_SEQ,
    ST_READING_INSERT,
    ST_READING_QUERY,
    ST_READING_BUCKETS,
    ST_READING_LATEST,
    ST_ROLLUP_UPSERT,
    ST_ROLLUP_GET,
    ST_LEDGER_BY_KEY,
    ST_DEVICE_BALANCE,
    ST_DEVICE_SET_BALANCE,
    ST_LEDGER_INSERT,
    ST_LEDGER_LIST,
    ST_CAPTURE_ADD,
    ST_CAPTURE_COMPLETE,
    ST_CAPTURE_FAIL,
    ST_CAPTURE_GET,
    ST_CAPTURE_GET_DATA,
    ST_CAPTURE_BY_REQUEST,
    ST_CAPTURE_LIST,
    ST_WECHAT_BIND,
    ST_WECHAT_BY_OPENID,
    ST_WECHAT_BY_USER,
    ST_WECHAT_UNBIND,
    ST_DEVICE_BUMP_VERSION,
    ST__COUNT
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
};

#define DEVICE_COLS                                                                                \
    "d.id, d.device_id, d.secret_hash, d.balance_fen, d.status, d.status_ms, d.created_ms, "       \
    "d.data_version"
#define USER_COLS "id, username, password_hash, role, tokens_valid_after_ms, created_ms"
/* A capture's metadata (read_capture); analysis and data follow where a statement needs them. */
#define CAPTURE_COLS                                                                               \
    "c.id, c.device_pk, c.request_id, COALESCE(u.username, ''), c.requested_ms, c.duration_ms, "   \
    "c.status, COALESCE(c.message, ''), c.rate_hz, c.nominal_hz, c.start_ms, c.samples, "          \
    "c.received_ms"
#define CAPTURE_FROM " FROM captures c LEFT JOIN users u ON u.id = c.requested_by "

static struct sqlite_store *S(struct store *s)
{
    return (struct sqlite_store *)s;
}

static int db_fail(struct sqlite_store *q, const char *what)
{
    int code = sqlite3_extended_errcode(q->db);
    int err = -EIO;
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        err = -EEXIST;
    else if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
        err = -ENOENT;
    return store_fail(&q->base, err, "%s: %s", what, sqlite3_errmsg(q->db));
}

/* Builds the SQL of statements whose text depends on the reading field tables. */
static char *reading_sql(enum stmt_id id)
{
    struct dynbuf b;
    dynbuf_init(&b, 8192);
    switch (id) {
    case ST_READING_INSERT:
        dynbuf_addf(
            &b, "INSERT OR IGNORE INTO readings (device_pk, received_ms, %s) VALUES (?, ?, ?, ?",
            store_reading_columns());
        for (int i = 0; i < RR__COUNT + RC__COUNT; i++)
            dynbuf_addstr(&b, ", ?");
        dynbuf_addstr(&b, ")");
        break;
    case ST_READING_QUERY:
        dynbuf_addf(&b,
                    "SELECT %s FROM readings WHERE device_pk = ? AND ts_ms >= ? AND ts_ms < ? "
                    "ORDER BY ts_ms DESC, seq DESC LIMIT ?",
                    store_reading_columns());
        break;
    case ST_READING_LATEST:
        dynbuf_addf(&b, "SELECT %s FROM readings WHERE device_pk = ? ORDER BY seq DESC LIMIT 1",
                    store_reading_columns());
        break;
    case ST_READING_BUCKETS:
        dynbuf_addstr(&b, "SELECT (ts_ms / ?1) * ?1 AS bucket, COUNT(*)");
        for (int f = 0; f < RR__COUNT; f++) {
            const char *c = reading_reals[f].column;
            dynbuf_addf(&b, ", AVG(%s), MIN(%s), MAX(%s)", c, c, c);
        }
        for (int c = 0; c < RC__COUNT; c++)
            dynbuf_addf(&b, ", MAX(%s)", reading_counters[c].column);
        dynbuf_addstr(&b, " FROM readings WHERE device_pk = ?2 AND ts_ms >= ?3 AND ts_ms < ?4 "
                          "GROUP BY bucket ORDER BY bucket DESC LIMIT ?5");
        break;
    case ST_ROLLUP_UPSERT: {
        char *set = store_rollup_update_sql((const char *const[2]){"excluded.", ""}, "min", "max");
        if (!set) {
            dynbuf_free(&b);
            return NULL;
        }
        dynbuf_addf(&b, "INSERT INTO rollups (device_pk, period, bucket_ms, %s) VALUES (?, ?, ?",
                    store_rollup_columns());
        for (int i = 0; i < store_rollup_ncols(); i++)
            dynbuf_addstr(&b, ", ?");
        dynbuf_addf(&b, ") ON CONFLICT (device_pk, period, bucket_ms) DO UPDATE SET %s", set);
        free(set);
        break;
    }
    case ST_ROLLUP_GET:
        dynbuf_addf(&b,
                    "SELECT %s FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms = ?",
                    store_rollup_columns());
        break;
    default:
        break;
    }
    return dynbuf_steal(&b, NULL);
}

static const char *const fixed_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_USER_ADD] =
        "INSERT INTO users (username, password_hash, role, created_ms) VALUES (?, ?, ?, ?)",
    [ST_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?",
    [ST_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?",
    [ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
    [ST_DEVICE_ADD] = "INSERT INTO devices (device_id, secret_hash, created_ms) VALUES (?, ?, ?)",
    [ST_DEVICE_BY_NAME] = "SELECT " DEVICE_COLS " FROM devices d WHERE d.device_id = ?",
    [ST_DEVICE_LIST_ALL] = "SELECT " DEVICE_COLS " FROM devices d ORDER BY d.device_id",
    [ST_DEVICE_LIST_USER] = "SELECT " DEVICE_COLS " FROM devices d JOIN user_devices b "
                            "ON b.device_pk = d.id WHERE b.user_id = ? ORDER BY d.device_id",
    [ST_DEVICE_STATUS] =
        "UPDATE devices SET status = ?, status_ms = ? WHERE id = ? AND status_ms <= ?",
    [ST_BINDING_ADD] = "INSERT INTO user_devices (user_id, device_pk, created_ms) VALUES (?, ?, ?)",
    [ST_BINDING_REMOVE] = "DELETE FROM user_devices WHERE user_id = ? AND device_pk = ?",
    [ST_BINDING_CHECK] = "SELECT 1 FROM user_devices WHERE user_id = ? AND device_pk = ?",
    [ST_BINDING_USERS] = "SELECT u.username FROM user_devices b JOIN users u ON u.id = b.user_id "
                         "WHERE b.device_pk = ? ORDER BY u.username",
    [ST_READING_MAX_SEQ] = "SELECT COALESCE(MAX(seq), 0) FROM readings WHERE device_pk = ?",
    [ST_LEDGER_BY_KEY] = "SELECT id, device_pk, amount_fen, balance_after_fen FROM ledger "
                         "WHERE actor_user_id = ? AND idem_key = ?",
    [ST_DEVICE_BALANCE] = "SELECT balance_fen FROM devices WHERE id = ?",
    [ST_DEVICE_SET_BALANCE] = "UPDATE devices SET balance_fen = ? WHERE id = ?",
    [ST_LEDGER_INSERT] = "INSERT INTO ledger (device_pk, kind, amount_fen, balance_after_fen, "
                         "actor_user_id, idem_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_LEDGER_LIST] = "SELECT l.id, l.amount_fen, l.balance_after_fen, l.kind, "
                       "COALESCE(u.username, ''), l.created_ms FROM ledger l LEFT JOIN users u "
                       "ON u.id = l.actor_user_id WHERE l.device_pk = ? ORDER BY l.id DESC LIMIT ?",
    [ST_CAPTURE_ADD] = "INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, "
                       "duration_ms) VALUES (?, ?, ?, ?, ?)",
    [ST_CAPTURE_COMPLETE] = "UPDATE captures SET status = 'complete', message = ?, rate_hz = ?, "
                            "nominal_hz = ?, start_ms = ?, samples = ?, data = ?, analysis = ?, "
                            "received_ms = ? WHERE device_pk = ? AND request_id = ? AND "
                            "status = 'pending'",
    [ST_CAPTURE_FAIL] = "UPDATE captures SET status = 'failed', message = ?, received_ms = ? "
                        "WHERE device_pk = ? AND request_id = ? AND status = 'pending'",
    [ST_CAPTURE_GET] =
        "SELECT " CAPTURE_COLS ", c.analysis" CAPTURE_FROM "WHERE c.device_pk = ? AND c.id = ?",
    [ST_CAPTURE_GET_DATA] = "SELECT " CAPTURE_COLS ", c.analysis, c.data" CAPTURE_FROM
                            "WHERE c.device_pk = ? AND c.id = ?",
    [ST_CAPTURE_BY_REQUEST] =
        "SELECT " CAPTURE_COLS CAPTURE_FROM "WHERE c.device_pk = ? AND c.request_id = ?",
    [ST_CAPTURE_LIST] =
        "SELECT " CAPTURE_COLS CAPTURE_FROM "WHERE c.device_pk = ? ORDER BY c.id DESC LIMIT ?",
    [ST_WECHAT_BIND] = "INSERT INTO wechat_bindings (openid, user_id, appid, created_ms) "
                       "VALUES (?, ?, ?, ?)",
    [ST_WECHAT_BY_OPENID] = "SELECT user_id, appid, openid, created_ms FROM wechat_bindings "
                            "WHERE openid = ? AND appid = ?",
    [ST_WECHAT_BY_USER] =
        "SELECT user_id, appid, openid, created_ms FROM wechat_bindings WHERE user_id = ?",
    [ST_WECHAT_UNBIND] = "DELETE FROM wechat_bindings WHERE user_id = ?",
    [ST_DEVICE_BUMP_VERSION] = "UPDATE devices SET data_version = data_version + 1 WHERE id = ?",
};

/* Returns the prepared statement, reset and unbound, or NULL with errmsg set. */
static sqlite3_stmt *stmt(struct sqlite_store *q, enum stmt_id id)
{
    if (!q->st[id]) {
        char *dyn = fixed_sql[id] ? NULL : reading_sql(id);
        const char *sql = fixed_sql[id] ? fixed_sql[id] : dyn;
        if (!sql) {
            store_fail(&q->base, -ENOMEM, "out of memory");
            return NULL;
        }
        int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st[id], NULL);
        free(dyn);
        if (rc != SQLITE_OK) {
            db_fail(q, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(q->st[id]);
        sqlite3_clear_bindings(q->st[id]);
    }
    return q->st[id];
}

static void done(sqlite3_stmt *st)
{
    if (st)
        sqlite3_reset(st);
}

/* Runs a statement that returns no rows. */
static int step_done(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : db_fail(q, what);
    sqlite3_reset(st);
    return r;
}

static int exec_fixed(struct sqlite_store *q, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(q, id);
    if (!st)
        return -EIO;
    return step_done(q, st, fixed_sql[id]);
}

static int begin(struct sqlite_store *q)
{
    return exec_fixed(q, ST_BEGIN);
}

static int commit(struct sqlite_store *q)
{
    return exec_fixed(q, ST_COMMIT);
}

static void rollback(struct sqlite_store *q)
{
    if (!sqlite3_get_autocommit(q->db))
        exec_fixed(q, ST_ROLLBACK);
}

static void copy_text(char *dst, size_t dstlen, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, dstlen, "%s", t ? t : "");
}

static void sqlite_close(struct store *s)
{
    struct sqlite_store *q = S(s);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close_v2(q->db);
    free(q);
}

static int sqlite_schema_version(struct store *s, int *ret_version)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(q->db,
                                "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'schema_migrations'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_fail(q, "schema version");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *ret_version = 0;
        return 0;
    }
    if (rc != SQLITE_ROW)
        return db_fail(q, "schema version");
    rc = sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                            &st, NULL);
    if (rc != SQLITE_OK)
        return db_fail(q, "schema version");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ret_version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(q, "schema version");
}

static int sqlite_migrate(struct store *s, int *ret_applied)
{
    struct sqlite_store *q = S(s);
    int version = 0, applied = 0, r;

    /* SQLite runs DDL inside transactions: a migration applies completely or not at all. */
    r = begin(q);
    if (r)
        return r;
    if (sqlite3_exec(q->db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        r = db_fail(q, "create schema_migrations");
        goto out;
    }
    r = sqlite_schema_version(s, &version);
    if (r)
        goto out;
    for (const struct migration *m = s->migrations; m->sql; m++) {
        if (m->version <= version)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(q->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            r = store_fail(s, -EIO, "migration %03d_%s: %s", m->version, m->name,
                           msg ? msg : "failed");
            sqlite3_free(msg);
            goto out;
        }
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(q->db,
                               "INSERT INTO schema_migrations (version, name, applied_ms) "
                               "VALUES (?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK) {
            r = db_fail(q, "record migration");
            goto out;
        }
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, time_now_ms());
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            r = db_fail(q, "record migration");
            goto out;
        }
        applied++;
    }
    r = commit(q);
out:
    if (r)
        rollback(q);
    else
        *ret_applied = applied;
    return r;
}

static void read_user(sqlite3_stmt *st, struct user_rec *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    copy_text(u->username, sizeof(u->username), st, 1);
    copy_text(u->password_hash, sizeof(u->password_hash), st, 2);
    const char *role = (const char *)sqlite3_column_text(st, 3);
    if (!role || role_parse(role, &u->role))
        u->role = ROLE_USER;
    u->tokens_valid_after_ms = sqlite3_column_int64(st, 4);
    u->created_ms = sqlite3_column_int64(st, 5);
}

static int sqlite_user_add(struct store *s, const char *username, const char *password_hash,
                           enum role role, int64_t *ret_id)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_USER_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    int r = step_done(q, st, "add user");
    if (r == -EEXIST)
        return store_fail(s, r, "user '%s' already exists", username);
    if (!r && ret_id)
        *ret_id = sqlite3_last_insert_rowid(q->db);
    return r;
}

static int sqlite_user_get(struct store *s, const char *username, int64_t id, struct user_rec *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, username ? ST_USER_BY_NAME : ST_USER_BY_ID);
    if (!st)
        return -EIO;
    if (username)
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW)
        read_user(st, ret);
    else if (rc == SQLITE_DONE)
        r = store_fail(s, -ENOENT, "no such user");
    else
        r = db_fail(q, "get user");
    done(st);
    return r;
}

static int sqlite_user_list(struct store *s, store_user_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_USER_LIST);
    if (!st)
        return -EIO;
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct user_rec u;
        read_user(st, &u);
        r = cb(&u, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "list users");
    done(st);
    return r;
}

static int sqlite_binding_add(struct store *s, int64_t user_id, int64_t device_pk);

static int sqlite_device_add(struct store *s, const char *device_id, const char *secret_hash,
                             int64_t owner_user_id, int64_t *ret_id)
{
    struct sqlite_store *q = S(s);
    int r = begin(q);
    if (r)
        return r;
    sqlite3_stmt *st = stmt(q, ST_DEVICE_ADD);
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, secret_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time_now_ms());
    r = step_done(q, st, "add device");
    if (r == -EEXIST) {
        store_fail(s, r, "device '%s' already exists", device_id);
        goto out;
    }
    if (r)
        goto out;
    int64_t id = sqlite3_last_insert_rowid(q->db);
    if (owner_user_id && (r = sqlite_binding_add(s, owner_user_id, id)))
        goto out;
    r = commit(q);
    if (!r && ret_id)
        *ret_id = id;
out:
    if (r)
        rollback(q);
    return r;
}

static void read_device(sqlite3_stmt *st, struct device_rec *d)
{
    memset(d, 0, sizeof(*d));
    d->id = sqlite3_column_int64(st, 0);
    copy_text(d->device_id, sizeof(d->device_id), st, 1);
    copy_text(d->secret_hash, sizeof(d->secret_hash), st, 2);
    d->balance_fen = sqlite3_column_int64(st, 3);
    const char *status = (const char *)sqlite3_column_text(st, 4);
    d->status = DEVICE_STATUS_UNKNOWN;
    if (status && strcmp(status, "online") == 0)
        d->status = DEVICE_STATUS_ONLINE;
    else if (status && strcmp(status, "offline") == 0)
        d->status = DEVICE_STATUS_OFFLINE;
    d->status_ms = sqlite3_column_int64(st, 5);
    d->created_ms = sqlite3_column_int64(st, 6);
    d->data_version = sqlite3_column_int64(st, 7);
}

static int sqlite_device_by_name(struct store *s, const char *device_id, struct device_rec *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_DEVICE_BY_NAME);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW)
        read_device(st, ret);
    else if (rc == SQLITE_DONE)
        r = store_fail(s, -ENOENT, "no such device");
    else
        r = db_fail(q, "get device");
    done(st);
    return r;
}

static int sqlite_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, user_id ? ST_DEVICE_LIST_USER : ST_DEVICE_LIST_ALL);
    if (!st)
        return -EIO;
    if (user_id)
        sqlite3_bind_int64(st, 1, user_id);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct device_rec d;
        read_device(st, &d);
        r = cb(&d, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "list devices");
    done(st);
    return r;
}

static int sqlite_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                                    int64_t at_ms)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_DEVICE_STATUS);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, device_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_int64(st, 3, device_pk);
    sqlite3_bind_int64(st, 4, at_ms);
    return step_done(q, st, "set device status");
}

static int sqlite_binding_add(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_BINDING_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, device_pk);
    sqlite3_bind_int64(st, 3, time_now_ms());
    return step_done(q, st, "bind device");
}

static int sqlite_binding_remove(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_BINDING_REMOVE);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, device_pk);
    int r = step_done(q, st, "unbind device");
    if (!r && sqlite3_changes(q->db) == 0)
        r = store_fail(s, -ENOENT, "device is not bound to that user");
    return r;
}

static int sqlite_binding_check(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_BINDING_CHECK);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, device_pk);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW)
        r = 0;
    else if (rc == SQLITE_DONE)
        r = -ENOENT;
    else
        r = db_fail(q, "check binding");
    done(st);
    return r;
}

static int sqlite_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_BINDING_USERS);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW)
        r = cb((const char *)sqlite3_column_text(st, 0), ctx);
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "list bound users");
    done(st);
    return r;
}

/* Binds seq, ts and the field tables' values from position first on. */
static void bind_reading(sqlite3_stmt *st, int first, const struct reading *rd)
{
    int i = first;
    sqlite3_bind_int64(st, i++, (sqlite3_int64)rd->seq);
    sqlite3_bind_int64(st, i++, rd->ts_ms);
    for (int f = 0; f < RR__COUNT; f++, i++)
        if (reading_has_real(rd, (enum reading_real)f))
            sqlite3_bind_double(st, i, rd->real[f]);
    for (int c = 0; c < RC__COUNT; c++, i++)
        if (reading_has_counter(rd, (enum reading_counter)c))
            sqlite3_bind_int64(st, i, rd->counter[c]);
}

/* Reads the columns of store_reading_columns() starting at column 0. */
static void read_reading(sqlite3_stmt *st, struct reading *rd)
{
    memset(rd, 0, sizeof(*rd));
    rd->seq = (uint64_t)sqlite3_column_int64(st, 0);
    rd->has_seq = true;
    rd->ts_ms = sqlite3_column_int64(st, 1);
    int i = 2;
    for (int f = 0; f < RR__COUNT; f++, i++)
        if (sqlite3_column_type(st, i) != SQLITE_NULL)
            reading_set_real(rd, (enum reading_real)f, sqlite3_column_double(st, i));
    for (int c = 0; c < RC__COUNT; c++, i++)
        if (sqlite3_column_type(st, i) != SQLITE_NULL)
            reading_set_counter(rd, (enum reading_counter)c, sqlite3_column_int64(st, i));
}

/* The device's next free seq: after its highest stored one and its highest in the batch. */
static int next_free_seq(struct sqlite_store *q, const struct store_batch_item *items, size_t n,
                         int64_t device_pk, int64_t *ret)
{
    sqlite3_stmt *mx = stmt(q, ST_READING_MAX_SEQ);
    if (!mx)
        return -EIO;
    sqlite3_bind_int64(mx, 1, device_pk);
    int r = 0;
    if (sqlite3_step(mx) == SQLITE_ROW) {
        int64_t stored = sqlite3_column_int64(mx, 0);
        int64_t batch = store_batch_device_max_seq(items, n, device_pk);
        *ret = (stored > batch ? stored : batch) + 1;
    } else {
        r = db_fail(q, "max seq");
    }
    done(mx);
    return r;
}

/* Numbers the readings that came without a seq, per device, in batch order. */
static int number_readings(struct sqlite_store *q, struct store_batch_item *items, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (items[k].reading.has_seq)
            continue;
        int64_t next = 0;
        int r = next_free_seq(q, items, n, items[k].device_pk, &next);
        if (r)
            return r;
        for (size_t j = k; j < n; j++) {
            if (items[j].device_pk != items[k].device_pk || items[j].reading.has_seq)
                continue;
            items[j].reading.seq = (uint64_t)next++;
            items[j].reading.has_seq = true;
        }
    }
    return 0;
}

static void bind_opt_double(sqlite3_stmt *st, int i, bool present, double v)
{
    if (present)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int upsert_rollup(struct sqlite_store *q, const struct rollup_delta *d)
{
    sqlite3_stmt *st = stmt(q, ST_ROLLUP_UPSERT);
    if (!st)
        return -EIO;
    int i = 1;
    sqlite3_bind_int64(st, i++, d->device_pk);
    sqlite3_bind_text(st, i++, rollup_period_name(d->period), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, d->bucket_ms);
    sqlite3_bind_int64(st, i++, d->n);
    sqlite3_bind_int64(st, i++, d->first_ts_ms);
    sqlite3_bind_int64(st, i++, d->last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        const struct rollup_stat *m = &d->m[k];
        if (rollup_metrics[k].counted)
            sqlite3_bind_int64(st, i++, m->n);
        sqlite3_bind_double(st, i++, m->sum);
        bind_opt_double(st, i++, m->n > 0, m->min);
        bind_opt_double(st, i++, m->n > 0, m->max);
    }
    for (int k = 0; k < RE__COUNT; k++) {
        for (int j = 0; j < 2; j++, i++) {
            if (d->e[k].present)
                sqlite3_bind_int64(st, i, j ? d->e[k].max : d->e[k].min);
            else
                sqlite3_bind_null(st, i);
        }
    }
    return step_done(q, st, "update rollups");
}

/* Adds the inserted items to the rollups. */
static int update_rollups(struct sqlite_store *q, const struct store_batch_item *items, size_t n)
{
    struct rollup_delta *d;
    size_t nd;
    int r = store_batch_rollup_deltas(items, n, &d, &nd);
    if (r)
        r = store_fail(&q->base, r, "out of memory");
    for (size_t k = 0; !r && k < nd; k++)
        r = upsert_rollup(q, &d[k]);
    free(d);
    return r;
}

/* Moves data_version of the device device_pk (its readings changed in this transaction). */
static int bump_data_version(struct sqlite_store *q, int64_t device_pk)
{
    sqlite3_stmt *st = stmt(q, ST_DEVICE_BUMP_VERSION);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    return step_done(q, st, "bump data version");
}

/* Bumps data_version once per device with at least one item inserted, in device order. */
static int bump_inserted_versions(struct sqlite_store *q, const struct store_batch_item *items,
                                  size_t n)
{
    int64_t *pk;
    size_t npk;
    if (store_batch_inserted_devices(items, n, &pk, &npk))
        return store_fail(&q->base, -ENOMEM, "out of memory");
    int r = 0;
    for (size_t k = 0; k < npk && !r; k++)
        r = bump_data_version(q, pk[k]);
    free(pk);
    return r;
}

/*
 * One transaction: a prepared INSERT OR IGNORE per reading (no round trips in
 * an embedded database; sqlite3_changes() says whether the row was new), then
 * one upsert per touched rollup row.
 */
static int sqlite_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                        size_t *ret_inserted)
{
    struct sqlite_store *q = S(s);
    size_t inserted = 0;
    int64_t now = time_now_ms();
    int r = begin(q);
    if (r)
        return r;
    r = number_readings(q, items, n);
    for (size_t k = 0; k < n && !r; k++) {
        sqlite3_stmt *st = stmt(q, ST_READING_INSERT);
        if (!st) {
            r = -EIO;
            break;
        }
        sqlite3_bind_int64(st, 1, items[k].device_pk);
        sqlite3_bind_int64(st, 2, now);
        bind_reading(st, 3, &items[k].reading);
        r = step_done(q, st, "insert reading");
        if (!r && sqlite3_changes(q->db) > 0) {
            items[k].inserted = true;
            inserted++;
        }
    }
    if (!r && inserted)
        r = update_rollups(q, items, n);
    if (!r && inserted)
        r = bump_inserted_versions(q, items, n);
    if (!r)
        r = commit(q);
    if (r) {
        rollback(q);
        for (size_t k = 0; k < n; k++)
            items[k].inserted = false;
        return r;
    }
    *ret_inserted = inserted;
    return 0;
}

static double column_opt_double(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? 0 : sqlite3_column_double(st, col);
}

static int sqlite_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period,
                             int64_t bucket_ms, struct rollup_delta *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_ROLLUP_GET);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_text(st, 2, rollup_period_name(period), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, bucket_ms);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW) {
        struct rollup_delta *d = ret;
        memset(d, 0, sizeof(*d));
        d->device_pk = device_pk;
        d->period = period;
        d->bucket_ms = bucket_ms;
        int i = 0;
        d->n = sqlite3_column_int64(st, i++);
        d->first_ts_ms = sqlite3_column_int64(st, i++);
        d->last_ts_ms = sqlite3_column_int64(st, i++);
        for (int k = 0; k < RM__COUNT; k++) {
            struct rollup_stat *m = &d->m[k];
            m->n = rollup_metrics[k].counted ? sqlite3_column_int64(st, i++) : d->n;
            m->sum = sqlite3_column_double(st, i++);
            m->min = column_opt_double(st, i++);
            m->max = column_opt_double(st, i++);
        }
        for (int k = 0; k < RE__COUNT; k++, i += 2) {
            d->e[k].present = sqlite3_column_type(st, i) != SQLITE_NULL;
            d->e[k].min = sqlite3_column_int64(st, i);
            d->e[k].max = sqlite3_column_int64(st, i + 1);
        }
    } else if (rc == SQLITE_DONE) {
        r = -ENOENT;
    } else {
        r = db_fail(q, "read rollup");
    }
    done(st);
    return r;
}

static int sqlite_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                                 size_t limit, store_reading_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_READING_QUERY);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_int64(st, 2, from_ms);
    sqlite3_bind_int64(st, 3, to_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reading rd;
        read_reading(st, &rd);
        r = cb(&rd, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "query readings");
    done(st);
    return r;
}

static int sqlite_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms,
                                   int64_t to_ms, int64_t bucket_ms, size_t limit,
                                   store_bucket_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_READING_BUCKETS);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, bucket_ms);
    sqlite3_bind_int64(st, 2, device_pk);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reading_bucket b;
        memset(&b, 0, sizeof(b));
        b.start_ms = sqlite3_column_int64(st, 0);
        b.count = sqlite3_column_int64(st, 1);
        int i = 2;
        for (int f = 0; f < RR__COUNT; f++, i += 3) {
            if (sqlite3_column_type(st, i) == SQLITE_NULL)
                continue;
            b.real_present |= 1u << f;
            b.avg[f] = sqlite3_column_double(st, i);
            b.min[f] = sqlite3_column_double(st, i + 1);
            b.max[f] = sqlite3_column_double(st, i + 2);
        }
        for (int c = 0; c < RC__COUNT; c++, i++) {
            if (sqlite3_column_type(st, i) == SQLITE_NULL)
                continue;
            b.counter_present |= 1u << c;
            b.counter_last[c] = sqlite3_column_int64(st, i);
        }
        r = cb(&b, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "query buckets");
    done(st);
    return r;
}

static int sqlite_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_READING_LATEST);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW)
        read_reading(st, ret);
    else if (rc == SQLITE_DONE)
        r = -ENOENT;
    else
        r = db_fail(q, "latest reading");
    done(st);
    return r;
}

static int sqlite_recharge(struct store *s, int64_t device_pk, int64_t amount_fen,
                           int64_t actor_user_id, const char *key, struct recharge_result *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st;
    int rc, r = begin(q);
    if (r)
        return r;

    if (key) {
        st = stmt(q, ST_LEDGER_BY_KEY);
        if (!st) {
            r = -EIO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, actor_user_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            bool same = sqlite3_column_int64(st, 1) == device_pk &&
                        sqlite3_column_int64(st, 2) == amount_fen;
            ret->ledger_id = sqlite3_column_int64(st, 0);
            ret->new_balance_fen = sqlite3_column_int64(st, 3);
            ret->replayed = true;
            done(st);
            r = same ? 0 : store_fail(s, -EEXIST, "idempotency key was used for another request");
            rollback(q);
            return r;
        }
        done(st);
        if (rc != SQLITE_DONE) {
            r = db_fail(q, "look up idempotency key");
            goto out;
        }
    }

    st = stmt(q, ST_DEVICE_BALANCE);
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, device_pk);
    rc = sqlite3_step(st);
    int64_t balance = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    done(st);
    if (rc == SQLITE_DONE) {
        r = store_fail(s, -ENOENT, "no such device");
        goto out;
    }
    if (rc != SQLITE_ROW) {
        r = db_fail(q, "read balance");
        goto out;
    }
    if (balance > STORE_BALANCE_MAX_FEN - amount_fen) {
        r = store_fail(s, -ERANGE, "balance would exceed the maximum");
        goto out;
    }
    int64_t new_balance = balance + amount_fen;

    st = stmt(q, ST_DEVICE_SET_BALANCE);
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, new_balance);
    sqlite3_bind_int64(st, 2, device_pk);
    r = step_done(q, st, "update balance");
    if (r)
        goto out;

    st = stmt(q, ST_LEDGER_INSERT);
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_text(st, 2, "recharge", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, amount_fen);
    sqlite3_bind_int64(st, 4, new_balance);
    if (actor_user_id)
        sqlite3_bind_int64(st, 5, actor_user_id);
    if (key)
        sqlite3_bind_text(st, 6, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, time_now_ms());
    r = step_done(q, st, "write ledger");
    if (r)
        goto out;
    ret->ledger_id = sqlite3_last_insert_rowid(q->db);
    ret->new_balance_fen = new_balance;
    ret->replayed = false;
    r = commit(q);
out:
    if (r)
        rollback(q);
    return r;
}

static int sqlite_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                              void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_LEDGER_LIST);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct ledger_entry e;
        memset(&e, 0, sizeof(e));
        e.id = sqlite3_column_int64(st, 0);
        e.amount_fen = sqlite3_column_int64(st, 1);
        e.balance_after_fen = sqlite3_column_int64(st, 2);
        copy_text(e.kind, sizeof(e.kind), st, 3);
        copy_text(e.actor, sizeof(e.actor), st, 4);
        e.created_ms = sqlite3_column_int64(st, 5);
        r = cb(&e, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "list ledger");
    done(st);
    return r;
}

/* --- captures ------------------------------------------------------------------------------ */

static int sqlite_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                                 int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                                 int64_t *ret_id)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_CAPTURE_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_text(st, 2, request_id, -1, SQLITE_STATIC);
    if (requested_by)
        sqlite3_bind_int64(st, 3, requested_by);
    sqlite3_bind_int64(st, 4, requested_ms);
    sqlite3_bind_int(st, 5, duration_ms);
    int r = step_done(q, st, "add capture");
    if (r == -EEXIST)
        return store_fail(s, r, "request id '%s' was already used for this device", request_id);
    if (r == -ENOENT)
        return store_fail(s, r, "no such device or user");
    if (!r && ret_id)
        *ret_id = sqlite3_last_insert_rowid(q->db);
    return r;
}

/* Runs a capture UPDATE that only applies to a pending capture. */
static int update_pending(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
    int r = step_done(q, st, what);
    if (!r && sqlite3_changes(q->db) == 0)
        r = store_fail(&q->base, -ENOENT, "no pending capture with that request id");
    return r;
}

static int sqlite_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                                   const struct capture_data *d, const void *data, size_t data_len)
{
    struct sqlite_store *q = S(s);
    if (data_len > INT32_MAX)
        return store_fail(s, -EINVAL, "capture too large for SQLite");
    sqlite3_stmt *st = stmt(q, ST_CAPTURE_COMPLETE);
    if (!st)
        return -EIO;
    if (d->message)
        sqlite3_bind_text(st, 1, d->message, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, d->rate_hz);
    sqlite3_bind_double(st, 3, d->nominal_hz);
    sqlite3_bind_int64(st, 4, d->start_ms);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)d->samples);
    sqlite3_bind_blob(st, 6, data, (int)data_len, SQLITE_STATIC);
    if (d->analysis)
        sqlite3_bind_text(st, 7, d->analysis, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, d->received_ms);
    sqlite3_bind_int64(st, 9, device_pk);
    sqlite3_bind_text(st, 10, request_id, -1, SQLITE_STATIC);
    return update_pending(q, st, "complete capture");
}

static int sqlite_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                               const char *message, int64_t at_ms)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_CAPTURE_FAIL);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_int64(st, 3, device_pk);
    sqlite3_bind_text(st, 4, request_id, -1, SQLITE_STATIC);
    return update_pending(q, st, "fail capture");
}

/* Reads CAPTURE_COLS from column 0. */
static void read_capture(sqlite3_stmt *st, struct capture_rec *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, 0);
    c->device_pk = sqlite3_column_int64(st, 1);
    copy_text(c->request_id, sizeof(c->request_id), st, 2);
    copy_text(c->requested_by, sizeof(c->requested_by), st, 3);
    c->requested_ms = sqlite3_column_int64(st, 4);
    c->duration_ms = sqlite3_column_int(st, 5);
    const char *status = (const char *)sqlite3_column_text(st, 6);
    c->status = store_capture_status_parse(status ? status : "");
    copy_text(c->message, sizeof(c->message), st, 7);
    c->rate_hz = sqlite3_column_double(st, 8);
    c->nominal_hz = sqlite3_column_double(st, 9);
    c->start_ms = sqlite3_column_int64(st, 10);
    sqlite3_int64 n = sqlite3_column_int64(st, 11);
    c->samples = n > 0 ? (size_t)n : 0;
    c->received_ms = sqlite3_column_int64(st, 12);
}

#define CAPTURE_NCOLS 13

static int sqlite_capture_get(struct store *s, int64_t device_pk, int64_t capture_id,
                              const char *request_id, bool with_samples, struct capture_rec *ret)
{
    struct sqlite_store *q = S(s);
    enum stmt_id id = with_samples ? ST_CAPTURE_GET_DATA : ST_CAPTURE_GET;
    if (request_id)
        id = ST_CAPTURE_BY_REQUEST;
    sqlite3_stmt *st = stmt(q, id);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    if (request_id)
        sqlite3_bind_text(st, 2, request_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, capture_id);
    struct capture_rec c;
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_DONE) {
        r = store_fail(s, -ENOENT, "no such capture");
        goto out;
    }
    if (rc != SQLITE_ROW) {
        r = db_fail(q, "get capture");
        goto out;
    }
    read_capture(st, &c);
    if (!request_id && sqlite3_column_type(st, CAPTURE_NCOLS) != SQLITE_NULL) {
        c.analysis = strdup((const char *)sqlite3_column_text(st, CAPTURE_NCOLS));
        if (!c.analysis) {
            r = store_fail(s, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (with_samples && !request_id && sqlite3_column_type(st, CAPTURE_NCOLS + 1) != SQLITE_NULL) {
        const void *blob = sqlite3_column_blob(st, CAPTURE_NCOLS + 1);
        size_t len = (size_t)sqlite3_column_bytes(st, CAPTURE_NCOLS + 1);
        r = store_capture_unpack(blob, len, c.samples, &c);
        if (r) {
            capture_rec_clear(&c);
            r = store_fail(s, r, "capture %lld: stored samples do not match their count",
                           (long long)c.id);
            goto out;
        }
    }
    *ret = c;
out:
    done(st);
    return r;
}

static int sqlite_capture_list(struct store *s, int64_t device_pk, size_t limit,
                               store_capture_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_CAPTURE_LIST);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int rc, r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct capture_rec c;
        read_capture(st, &c);
        r = cb(&c, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "list captures");
    done(st);
    return r;
}

/* --- WeChat bindings --------------------------------------------------------------------- */

static int sqlite_wechat_bind(struct store *s, int64_t user_id, const char *appid,
                              const char *openid, int64_t at_ms)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_WECHAT_BIND);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, openid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, appid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, at_ms);
    return step_done(q, st, "bind WeChat user");
}

static int sqlite_wechat_get(struct store *s, const char *appid, const char *openid,
                             int64_t user_id, struct wechat_binding_rec *ret)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, openid ? ST_WECHAT_BY_OPENID : ST_WECHAT_BY_USER);
    if (!st)
        return -EIO;
    if (openid) {
        sqlite3_bind_text(st, 1, openid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, appid, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, user_id);
    }
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW) {
        memset(ret, 0, sizeof(*ret));
        ret->user_id = sqlite3_column_int64(st, 0);
        copy_text(ret->appid, sizeof(ret->appid), st, 1);
        copy_text(ret->openid, sizeof(ret->openid), st, 2);
        ret->created_ms = sqlite3_column_int64(st, 3);
    } else if (rc == SQLITE_DONE) {
        r = store_fail(s, -ENOENT, "no such WeChat binding");
    } else {
        r = db_fail(q, "get WeChat binding");
    }
    done(st);
    return r;
}

static int sqlite_wechat_unbind(struct store *s, int64_t user_id)
{
    struct sqlite_store *q = S(s);
    sqlite3_stmt *st = stmt(q, ST_WECHAT_UNBIND);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, user_id);
    int r = step_done(q, st, "unbind WeChat user");
    if (!r && sqlite3_changes(q->db) == 0)
        r = store_fail(s, -ENOENT, "no WeChat user is bound to that account");
    return r;
}

/* --- history: rollups read back, raw retention ------------------------------------------ */

/* History statements are prepared per call: they run once per API request or retention
   chunk, where preparing costs microseconds, and keep the cached statement list as it is. */
static int prepare_once(struct sqlite_store *q, const char *sql, sqlite3_stmt **ret,
                        const char *what)
{
    if (sqlite3_prepare_v2(q->db, sql, -1, ret, NULL) != SQLITE_OK)
        return db_fail(q, what);
    return 0;
}

static void read_rollup(sqlite3_stmt *st, struct rollup_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->bucket_ms = sqlite3_column_int64(st, 0);
    r->n = sqlite3_column_int64(st, 1);
    r->first_ts_ms = sqlite3_column_int64(st, 2);
    r->last_ts_ms = sqlite3_column_int64(st, 3);
    int i = 4;
    for (int m = 0; m < RM__COUNT; m++, i += 4) {
        r->metric_n[m] = sqlite3_column_int64(st, i);
        r->sum[m] = sqlite3_column_double(st, i + 1);
        r->min[m] = sqlite3_column_double(st, i + 2);
        r->max[m] = sqlite3_column_double(st, i + 3);
    }
    r->has_import = sqlite3_column_type(st, i + 1) != SQLITE_NULL;
    r->import_min_mwh = sqlite3_column_int64(st, i);
    r->import_max_mwh = sqlite3_column_int64(st, i + 1);
    r->has_export = sqlite3_column_type(st, i + 3) != SQLITE_NULL;
    r->export_min_mwh = sqlite3_column_int64(st, i + 2);
    r->export_max_mwh = sqlite3_column_int64(st, i + 3);
    if (r->has_import && sqlite3_column_type(st, i) == SQLITE_NULL)
        r->import_min_mwh = r->import_max_mwh;
    if (r->has_export && sqlite3_column_type(st, i + 2) == SQLITE_NULL)
        r->export_min_mwh = r->export_max_mwh;
}

static int sqlite_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                                int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                                store_rollup_cb cb, void *ctx)
{
    struct sqlite_store *q = S(s);
    char sql[2560];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM rollups WHERE device_pk = ?1 AND period = ?2 AND bucket_ms >= ?3 "
             "AND bucket_ms < ?4 ORDER BY bucket_ms %s LIMIT ?5",
             store_rollup_select_columns(), newest_first ? "DESC" : "ASC");
    sqlite3_stmt *st;
    int r = prepare_once(q, sql, &st, "query rollups");
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_text(st, 2, rollup_period_name(period), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    sqlite3_bind_int64(st, 5, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollup_rec row;
        read_rollup(st, &row);
        r = cb(&row, ctx);
    }
    if (!r && rc != SQLITE_DONE)
        r = db_fail(q, "query rollups");
    sqlite3_finalize(st);
    return r;
}

static int sqlite_rollup_counters_before(struct store *s, int64_t device_pk,
                                         enum rollup_period period, int64_t from_ms,
                                         int64_t before_ms, struct rollup_counters *ret)
{
    struct sqlite_store *q = S(s);
    /* Each subquery walks the primary key backwards from before_ms to the first row with
       the counter, never past from_ms. */
    static const char sql[] =
        "SELECT (SELECT energy_import_max_mwh FROM rollups WHERE device_pk = ?1 AND period = ?2 "
        "AND bucket_ms >= ?4 AND bucket_ms < ?3 AND energy_import_max_mwh IS NOT NULL ORDER BY "
        "bucket_ms DESC LIMIT 1), (SELECT energy_export_max_mwh FROM rollups WHERE "
        "device_pk = ?1 AND period = ?2 AND bucket_ms >= ?4 AND bucket_ms < ?3 AND "
        "energy_export_max_mwh IS NOT NULL ORDER BY bucket_ms DESC LIMIT 1)";
    sqlite3_stmt *st;
    int r = prepare_once(q, sql, &st, "rollup counters");
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_text(st, 2, rollup_period_name(period), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, before_ms);
    sqlite3_bind_int64(st, 4, from_ms);
    if (sqlite3_step(st) == SQLITE_ROW) {
        memset(ret, 0, sizeof(*ret));
        ret->has_import = sqlite3_column_type(st, 0) != SQLITE_NULL;
        ret->import_max_mwh = sqlite3_column_int64(st, 0);
        ret->has_export = sqlite3_column_type(st, 1) != SQLITE_NULL;
        ret->export_max_mwh = sqlite3_column_int64(st, 1);
    } else {
        r = db_fail(q, "rollup counters");
    }
    sqlite3_finalize(st);
    return r;
}

static int sqlite_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                         size_t max_rows, size_t *ret_deleted)
{
    struct sqlite_store *q = S(s);
    /* The subquery walks readings_by_time (device_pk, ts_ms); the delete finds each row by
       its primary key. The delete and the data_version bump share one transaction. */
    static const char sql[] =
        "DELETE FROM readings WHERE device_pk = ?1 AND seq IN (SELECT seq FROM readings "
        "WHERE device_pk = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
    sqlite3_stmt *st;
    int r = prepare_once(q, sql, &st, "delete old readings");
    if (r)
        return r;
    if ((r = begin(q))) {
        sqlite3_finalize(st);
        return r;
    }
    size_t deleted = 0;
    sqlite3_bind_int64(st, 1, device_pk);
    sqlite3_bind_int64(st, 2, before_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max_rows);
    if (sqlite3_step(st) == SQLITE_DONE)
        deleted = (size_t)sqlite3_changes(q->db);
    else
        r = db_fail(q, "delete old readings");
    sqlite3_finalize(st);
    if (!r && deleted)
        r = bump_data_version(q, device_pk);
    if (!r)
        r = commit(q);
    if (r) {
        rollback(q);
        return r;
    }
    *ret_deleted = deleted;
    return 0;
}

static int sqlite_exec_sql(struct store *s, const char *sql)
{
    struct sqlite_store *q = S(s);
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int r = store_fail(s, -EIO, "exec: %s", msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .migrate = sqlite_migrate,
    .user_add = sqlite_user_add,
    .user_get = sqlite_user_get,
    .user_list = sqlite_user_list,
    .device_add = sqlite_device_add,
    .device_by_name = sqlite_device_by_name,
    .device_list = sqlite_device_list,
    .device_set_status = sqlite_device_set_status,
    .binding_add = sqlite_binding_add,
    .binding_remove = sqlite_binding_remove,
    .binding_check = sqlite_binding_check,
    .binding_users = sqlite_binding_users,
    .readings_insert_batch = sqlite_readings_insert_batch,
    .rollup_get = sqlite_rollup_get,
    .readings_query = sqlite_readings_query,
    .readings_buckets = sqlite_readings_buckets,
    .reading_latest = sqlite_reading_latest,
    .recharge = sqlite_recharge,
    .ledger_list = sqlite_ledger_list,
    .capture_create = sqlite_capture_create,
    .capture_complete = sqlite_capture_complete,
    .capture_fail = sqlite_capture_fail,
    .capture_get = sqlite_capture_get,
    .capture_list = sqlite_capture_list,
    .wechat_bind = sqlite_wechat_bind,
    .wechat_get = sqlite_wechat_get,
    .wechat_unbind = sqlite_wechat_unbind,
    .rollups_query = sqlite_rollups_query,
    .rollup_counters_before = sqlite_rollup_counters_before,
    .readings_delete_before = sqlite_readings_delete_before,
    .exec_sql = sqlite_exec_sql,
};

/* Reads "name=value" pairs of the URL query. */
static int query_option(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            snprintf(out, outlen, "%.*s", (int)(len - nlen - 1), p + nlen + 1);
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

int store_sqlite_open(const char *path, const char *query, struct store **ret,
                      char err[STORE_ERR_LEN])
{
    char sync[16] = "full";
    if (query_option(query, "sync", sync, sizeof(sync)) && strcmp(sync, "full") != 0 &&
        strcmp(sync, "normal") != 0) {
        snprintf(err, STORE_ERR_LEN, "bad database URL: sync must be full or normal");
        return -EINVAL;
    }
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        if (strncmp(p, "sync=", 5) != 0) {
            snprintf(err, STORE_ERR_LEN, "bad database URL: unknown sqlite option '%.*s'", (int)len,
                     p);
            return -EINVAL;
        }
        p += len + (p[len] == '&');
    }

    /* The default path ./var/meter.db lives in a folder we may have to create. */
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    const char *dir = dirname(copy);
    int r = strcmp(dir, ".") ? file_mkdirs(dir, 0750) : 0;
    if (r) {
        snprintf(err, STORE_ERR_LEN, "cannot create database folder %s: %s", dir, strerror(-r));
        free(copy);
        return r;
    }
    free(copy);

    struct sqlite_store *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->base.ops = &sqlite_ops;
    q->base.migrations = migrations_sqlite;
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, STORE_ERR_LEN, "cannot open database %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(q->db);
        free(q);
        return -EIO;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, 10000);
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;", sync);
    char *msg = NULL;
    if (sqlite3_exec(q->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, STORE_ERR_LEN, "cannot open database %s: %s", path, msg ? msg : "pragma");
        sqlite3_free(msg);
        sqlite3_close_v2(q->db);
        free(q);
        return -EIO;
    }
    *ret = &q->base;
    return 0;
}
