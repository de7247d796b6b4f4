/*
 * db: the driver interface the store's operations are written on, once for
 * every database (after FreeRADIUS's rlm_sql and Kamailio's srdb1). A driver
 * (driver_sqlite.c, driver_mysql.c) is the only file that includes its
 * client library's header; it knows nothing about users, devices or readings.
 *
 * What a driver gives:
 *   - connections (struct db) from a URL, with transactions;
 *   - prepared statements (struct db_stmt): parameters bound in order with
 *     `?` placeholders, run with db_step(), columns read by index;
 *   - its dialect: a table of the few SQL fragments that really differ, which
 *     the operations write as {TOKEN} or {TOKEN:argument} (db_expand());
 *   - its numbered migrations (sql/<dialect>/NNN_name.sql, same names and
 *     numbers in every dialect);
 *   - errors as negative errno with a message (db_errmsg()), never logged:
 *       -EEXIST    a unique key was violated
 *       -ENOENT    a foreign key names a row that does not exist
 *       -ENOTCONN  the connection is lost: close it and open a new one
 *       -EDEADLK   a deadlock or lock wait ended the transaction (rolled back)
 *       -ENOMEM, -EIO  anything else.
 *
 * Money columns hold integer fen in SQLite and DECIMAL(15,2) yuan in MySQL;
 * db_bind_money() and db_col_money() convert exactly, never through a double.
 * SQL text therefore never holds a money literal other than 0: bind it.
 *
 * Ownership and lifetime: db_close() and db_finalize() accept NULL. Text and
 * blobs bound to a statement must stay valid until its db_step() returned
 * the last row or an error. A column's text or blob stays valid until the
 * next db_step() or db_reset() of its statement. db_changes() and
 * db_last_id() describe the statement's last run, also after db_reset().
 * A connection is used by one thread at a time.
 */
#ifndef SMARTMETER_STORE_DB_H
#define SMARTMETER_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrations.h"

#define DB_ERR_LEN 256

struct db_driver;

/* Every driver's connection and statement structs start with these. */
struct db {
    const struct db_driver *drv;
};
struct db_stmt {
    const struct db_driver *drv;
};

/*
 * One entry of a dialect: {NAME} in SQL text becomes text; {NAME:arg}
 * becomes text with each '%' replaced by arg. A dialect ends with {NULL}.
 */
struct db_token {
    const char *name;
    const char *text;
};

struct db_driver {
    const char *name;               /* "sqlite", "mysql": store_backend() */
    const struct db_token *dialect; /* the tokens below, in every dialect */
    const struct migration *migrations;

    /* Opens url ("sqlite:PATH[?sync=full|normal]", "mysql://..."); err never holds a password. */
    int (*open)(const char *url, struct db **ret, char err[DB_ERR_LEN]);
    void (*close)(struct db *db);
    const char *(*errmsg)(struct db *db);
    /* Runs SQL without parameters, discarding any rows. */
    int (*exec)(struct db *db, const char *sql);
    /* A transaction that will write (SQLite takes the write lock at once). */
    int (*begin)(struct db *db);
    int (*commit)(struct db *db);    /* on failure the transaction is still open: roll back */
    void (*rollback)(struct db *db); /* nothing to do outside a transaction */
    /* Serialises migrations between processes: held from schema_lock to schema_unlock. */
    int (*schema_lock)(struct db *db);
    int (*schema_unlock)(struct db *db, bool ok); /* ok false: undo what can be undone */
    /* The connection only writes batches from now on: transactions may begin implicitly
       (NULL: nothing to change). */
    int (*batches_only)(struct db *db);

    int (*prepare)(struct db *db, const char *sql, struct db_stmt **ret);
    void (*finalize)(struct db_stmt *st);
    void (*bind_int)(struct db_stmt *st, int64_t v);
    void (*bind_double)(struct db_stmt *st, double v);
    void (*bind_text)(struct db_stmt *st, const char *s); /* NULL binds NULL */
    void (*bind_blob)(struct db_stmt *st, const void *p, size_t len);
    void (*bind_null)(struct db_stmt *st);
    void (*bind_money)(struct db_stmt *st, int64_t fen);
    /* 1: a row is ready; 0: done; or a negative errno. Runs the statement on the first call. */
    int (*step)(struct db_stmt *st);
    /* Forgets rows and bindings: the statement can be bound and run again. */
    void (*reset)(struct db_stmt *st);
    bool (*is_null)(struct db_stmt *st, unsigned col);
    int64_t (*col_int)(struct db_stmt *st, unsigned col);
    double (*col_double)(struct db_stmt *st, unsigned col);
    /* NULL for SQL NULL; *ret_len (optional) counts the bytes without the NUL. */
    const char *(*col_text)(struct db_stmt *st, unsigned col, size_t *ret_len);
    const void *(*col_blob)(struct db_stmt *st, unsigned col, size_t *ret_len);
    /* 0 (NULL reads as 0) or -EIO when the column is not an amount in fen. */
    int (*col_money)(struct db_stmt *st, unsigned col, int64_t *ret_fen);
    int64_t (*changes)(struct db_stmt *st); /* rows its last run wrote */
    int64_t (*last_id)(struct db_stmt *st); /* AUTO_INCREMENT / rowid of its last insert */
};

extern const struct db_driver db_driver_sqlite;
extern const struct db_driver db_driver_mysql;

/*
 * db_expand: sql with every {TOKEN} and {TOKEN:arg} of the dialect replaced,
 * in a new string the caller frees. Returns 0, -ENOMEM, or -EINVAL for a
 * token the dialect lacks (a programmer error; the message names it).
 */
int db_expand(const struct db_token *dialect, const char *sql, char **ret, char err[DB_ERR_LEN]);

/* Calls through the statement's driver. */
static inline void db_bind_int(struct db_stmt *st, int64_t v)
{
    st->drv->bind_int(st, v);
}
static inline void db_bind_double(struct db_stmt *st, double v)
{
    st->drv->bind_double(st, v);
}
static inline void db_bind_text(struct db_stmt *st, const char *s)
{
    st->drv->bind_text(st, s);
}
static inline void db_bind_blob(struct db_stmt *st, const void *p, size_t len)
{
    st->drv->bind_blob(st, p, len);
}
static inline void db_bind_null(struct db_stmt *st)
{
    st->drv->bind_null(st);
}
static inline void db_bind_money(struct db_stmt *st, int64_t fen)
{
    st->drv->bind_money(st, fen);
}
/* An id that 0 means "none" for: 0 binds NULL. */
static inline void db_bind_id(struct db_stmt *st, int64_t id)
{
    if (id)
        st->drv->bind_int(st, id);
    else
        st->drv->bind_null(st);
}
static inline void db_reset(struct db_stmt *st)
{
    if (st)
        st->drv->reset(st);
}
static inline bool db_is_null(struct db_stmt *st, unsigned col)
{
    return st->drv->is_null(st, col);
}
static inline int64_t db_col_int(struct db_stmt *st, unsigned col)
{
    return st->drv->col_int(st, col);
}
static inline double db_col_double(struct db_stmt *st, unsigned col)
{
    return st->drv->col_double(st, col);
}
static inline const char *db_col_text(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    return st->drv->col_text(st, col, ret_len);
}
static inline const void *db_col_blob(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    return st->drv->col_blob(st, col, ret_len);
}
static inline int db_col_money(struct db_stmt *st, unsigned col, int64_t *ret_fen)
{
    return st->drv->col_money(st, col, ret_fen);
}
static inline int64_t db_changes(struct db_stmt *st)
{
    return st->drv->changes(st);
}
static inline int64_t db_last_id(struct db_stmt *st)
{
    return st->drv->last_id(st);
}

#endif
