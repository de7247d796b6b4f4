/*
 * driver_sqlite: the embedded default database (db.h). The only file that
 * includes sqlite3.h. One sqlite3 connection per struct db, WAL mode so
 * readers never wait for the writer, writes in BEGIN IMMEDIATE transactions
 * (one writer at a time: what MySQL does with row locks, SQLite does by
 * taking the write lock first). Money is integer fen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "fileutil.h"

#define BUSY_TIMEOUT_MS 10000

enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX__COUNT };
static const char *const tx_sql[TX__COUNT] = {"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};

struct sqlite_db {
    struct db base;
    sqlite3 *db;
    sqlite3_stmt *tx[TX__COUNT];
    char errmsg[DB_ERR_LEN];
};

struct sqlite_stmt {
    struct db_stmt base;
    struct sqlite_db *conn;
    sqlite3_stmt *st;
    int next; /* parameters bound so far */
    int64_t changes, last_id;
};

static struct sqlite_db *D(struct db *db)
{
    return (struct sqlite_db *)db;
}

static struct sqlite_stmt *S(struct db_stmt *st)
{
    return (struct sqlite_stmt *)st;
}

/* Maps the connection's last error to an errno and keeps its message. */
static int fail(struct sqlite_db *d)
{
    int code = sqlite3_extended_errcode(d->db);
    snprintf(d->errmsg, sizeof(d->errmsg), "%s", sqlite3_errmsg(d->db));
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        return -EEXIST;
    if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
        return -ENOENT;
    if (code == SQLITE_NOMEM)
        return -ENOMEM;
    return -EIO;
}

static const char *sqlite_errmsg(struct db *db)
{
    return D(db)->errmsg;
}

static int sqlite_exec(struct db *db, const char *sql)
{
    struct sqlite_db *d = D(db);
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    int r = fail(d);
    if (msg)
        snprintf(d->errmsg, sizeof(d->errmsg), "%s", msg);
    sqlite3_free(msg);
    return r;
}

static int run_tx(struct sqlite_db *d, int which)
{
    if (!d->tx[which] && sqlite3_prepare_v3(d->db, tx_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &d->tx[which], NULL) != SQLITE_OK)
        return fail(d);
    int rc = sqlite3_step(d->tx[which]);
    int r = rc == SQLITE_DONE ? 0 : fail(d);
    sqlite3_reset(d->tx[which]);
    return r;
}

static int sqlite_begin(struct db *db)
{
    return run_tx(D(db), TX_BEGIN);
}

static int sqlite_commit(struct db *db)
{
    return run_tx(D(db), TX_COMMIT);
}

static void sqlite_rollback(struct db *db)
{
    /* The first error is the one reported; a failed ROLLBACK leaves nothing to add. */
    if (!sqlite3_get_autocommit(D(db)->db))
        (void)run_tx(D(db), TX_ROLLBACK);
}

/*
 * Migrations run with foreign keys off, so one may rebuild a table that others
 * point at (create the new one, copy, drop the old, rename: SQLite's own
 * recipe) without the drop cascading or failing; the pragma is a no-op inside
 * a transaction, hence before BEGIN. Before the commit every foreign key is
 * checked. SQLite runs DDL inside transactions: a migration applies completely
 * or not at all.
 */
static int sqlite_schema_lock(struct db *db)
{
    int r = sqlite_exec(db, "PRAGMA foreign_keys = OFF");
    if (!r)
        r = sqlite_begin(db);
    if (r)
        (void)sqlite_exec(db, "PRAGMA foreign_keys = ON");
    return r;
}

static int first_row(void *errmsg, int n, char **values, char **names)
{
    (void)names;
    snprintf(errmsg, DB_ERR_LEN, "rows of %s break a foreign key",
             n && values[0] ? values[0] : "?");
    return 1; /* the first is enough: stops with SQLITE_ABORT */
}

static int sqlite_schema_unlock(struct db *db, bool ok)
{
    struct sqlite_db *d = D(db);
    int r = 0;
    if (ok) { /* no row may break a foreign key */
        d->errmsg[0] = '\0';
        int rc = sqlite3_exec(d->db, "PRAGMA foreign_key_check", first_row, d->errmsg, NULL);
        r = d->errmsg[0] ? -EIO : rc != SQLITE_OK ? fail(d) : sqlite_commit(db);
    }
    if (!ok || r)
        sqlite_rollback(db);
    /* Foreign keys on again whatever happened; the first error is the one reported. */
    if (r)
        (void)sqlite3_exec(d->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return r ? r : sqlite_exec(db, "PRAGMA foreign_keys = ON");
}

static int sqlite_prepare(struct db *db, const char *sql, struct db_stmt **ret)
{
    struct sqlite_db *d = D(db);
    struct sqlite_stmt *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(d->errmsg, sizeof(d->errmsg), "out of memory");
        return -ENOMEM;
    }
    if (sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
        int r = fail(d);
        free(s);
        return r;
    }
    s->base.drv = db->drv;
    s->conn = d;
    *ret = &s->base;
    return 0;
}

static void sqlite_finalize(struct db_stmt *st)
{
    if (!st)
        return;
    sqlite3_finalize(S(st)->st);
    free(st);
}

static void sqlite_bind_int(struct db_stmt *st, int64_t v)
{
    sqlite3_bind_int64(S(st)->st, ++S(st)->next, v);
}

static void sqlite_bind_double(struct db_stmt *st, double v)
{
    sqlite3_bind_double(S(st)->st, ++S(st)->next, v);
}

static void sqlite_bind_null(struct db_stmt *st)
{
    sqlite3_bind_null(S(st)->st, ++S(st)->next);
}

static void sqlite_bind_text(struct db_stmt *st, const char *s)
{
    if (s)
        sqlite3_bind_text(S(st)->st, ++S(st)->next, s, -1, SQLITE_STATIC);
    else
        sqlite_bind_null(st);
}

static void sqlite_bind_blob(struct db_stmt *st, const void *p, size_t len)
{
    sqlite3_bind_blob64(S(st)->st, ++S(st)->next, p, len, SQLITE_STATIC);
}

static int sqlite_step(struct db_stmt *st)
{
    struct sqlite_stmt *s = S(st);
    if (s->next != sqlite3_bind_parameter_count(s->st)) {
        snprintf(s->conn->errmsg, sizeof(s->conn->errmsg),
                 "statement and bindings disagree (%d bound, %d expected)", s->next,
                 sqlite3_bind_parameter_count(s->st));
        return -EIO;
    }
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE)
        return fail(s->conn);
    s->changes = sqlite3_changes64(s->conn->db);
    s->last_id = sqlite3_last_insert_rowid(s->conn->db);
    return 0;
}

static void sqlite_reset(struct db_stmt *st)
{
    sqlite3_reset(S(st)->st);
    sqlite3_clear_bindings(S(st)->st);
    S(st)->next = 0;
}

static bool sqlite_is_null(struct db_stmt *st, unsigned col)
{
    return sqlite3_column_type(S(st)->st, (int)col) == SQLITE_NULL;
}

static int64_t sqlite_col_int(struct db_stmt *st, unsigned col)
{
    return sqlite3_column_int64(S(st)->st, (int)col);
}

static double sqlite_col_double(struct db_stmt *st, unsigned col)
{
    return sqlite3_column_double(S(st)->st, (int)col);
}

static const char *sqlite_col_text(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    const char *t = (const char *)sqlite3_column_text(S(st)->st, (int)col);
    if (ret_len)
        *ret_len = t ? (size_t)sqlite3_column_bytes(S(st)->st, (int)col) : 0;
    return t;
}

static const void *sqlite_col_blob(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    const void *p = sqlite3_column_blob(S(st)->st, (int)col);
    *ret_len = p ? (size_t)sqlite3_column_bytes(S(st)->st, (int)col) : 0;
    return p;
}

static int sqlite_col_money(struct db_stmt *st, unsigned col, int64_t *ret_fen)
{
    int type = sqlite3_column_type(S(st)->st, (int)col);
    if (type != SQLITE_INTEGER && type != SQLITE_NULL) {
        snprintf(S(st)->conn->errmsg, sizeof(S(st)->conn->errmsg),
                 "column %u is not an amount in fen", col + 1);
        return -EIO;
    }
    *ret_fen = sqlite3_column_int64(S(st)->st, (int)col);
    return 0;
}

static int64_t sqlite_changes(struct db_stmt *st)
{
    return S(st)->changes;
}

static int64_t sqlite_last_id(struct db_stmt *st)
{
    return S(st)->last_id;
}

static void sqlite_close(struct db *db)
{
    if (!db)
        return;
    struct sqlite_db *d = D(db);
    for (int i = 0; i < TX__COUNT; i++)
        sqlite3_finalize(d->tx[i]);
    sqlite3_close_v2(d->db);
    free(d);
}

/* --- opening ------------------------------------------------------------------------------ */

/* Checks the URL's option ("sync=full|normal", the only one) and puts sync's value in sync. */
static int parse_options(const char *query, char sync[16], char err[DB_ERR_LEN])
{
    snprintf(sync, 16, "%s", *query ? query + 5 : "full");
    if (!*query || strcmp(query, "sync=full") == 0 || strcmp(query, "sync=normal") == 0)
        return 0;
    snprintf(err, DB_ERR_LEN,
             "bad database URL: '%.100s': the only sqlite option is "
             "sync=full or sync=normal",
             query);
    return -EINVAL;
}

static int sqlite_open(const char *url, struct db **ret, char err[DB_ERR_LEN])
{
    char path[4096], sync[16];
    const char *rest = url + strlen("sqlite:");
    const char *q = strchr(rest, '?');
    size_t n = q ? (size_t)(q - rest) : strlen(rest);
    if (strncmp(url, "sqlite:", 7) != 0 || n == 0 || n >= sizeof(path)) {
        snprintf(err, DB_ERR_LEN, "bad database URL: sqlite:PATH needs a path");
        return -EINVAL;
    }
    memcpy(path, rest, n);
    path[n] = '\0';
    int r = parse_options(q ? q + 1 : "", sync, err);
    if (r)
        return r;
    /* A new database is readable by its owner only (SQLite gives -wal and -shm its mode). */
    if ((r = file_create_private(path, 0750))) {
        snprintf(err, DB_ERR_LEN, "cannot create database %.200s: %s", path, strerror(-r));
        return r;
    }

    struct sqlite_db *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->base.drv = &db_driver_sqlite;
    int rc = sqlite3_open_v2(
        path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, DB_ERR_LEN, "cannot open database %.200s: %s", path,
                 d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        sqlite_close(&d->base);
        return -EIO;
    }
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, BUSY_TIMEOUT_MS);
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;", sync);
    if (sqlite_exec(&d->base, pragmas)) {
        snprintf(err, DB_ERR_LEN, "cannot open database %.100s: %.100s", path, d->errmsg);
        sqlite_close(&d->base);
        return -EIO;
    }
    *ret = &d->base;
    return 0;
}

/* The dialect: what SQLite spells its own way (db.h). */
static const struct db_token sqlite_dialect[] = {
    {"INSERT_IGNORE", "INSERT OR IGNORE"},
    {"ON_CONFLICT", "ON CONFLICT (%) DO UPDATE SET"},
    {"NEW", "excluded.%"},
    {"LEAST", "min"},
    {"GREATEST", "max"},
    {"DIV", "/"},
    {"FOR_UPDATE", ""},
    {"INDEX", "INDEXED BY %"},
    {"TABLE_OPTIONS", ""},
    {"TABLE_EXISTS", "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '%'"},
    {NULL, NULL},
};

const struct db_driver db_driver_sqlite = {
    .name = "sqlite",
    .dialect = sqlite_dialect,
    .migrations = migrations_sqlite,
    .open = sqlite_open,
    .close = sqlite_close,
    .errmsg = sqlite_errmsg,
    .exec = sqlite_exec,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .schema_lock = sqlite_schema_lock,
    .schema_unlock = sqlite_schema_unlock,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .bind_int = sqlite_bind_int,
    .bind_double = sqlite_bind_double,
    .bind_text = sqlite_bind_text,
    .bind_blob = sqlite_bind_blob,
    .bind_null = sqlite_bind_null,
    .bind_money = sqlite_bind_int,
    .step = sqlite_step,
    .reset = sqlite_reset,
    .is_null = sqlite_is_null,
    .col_int = sqlite_col_int,
    .col_double = sqlite_col_double,
    .col_text = sqlite_col_text,
    .col_blob = sqlite_col_blob,
    .col_money = sqlite_col_money,
    .changes = sqlite_changes,
    .last_id = sqlite_last_id,
};
