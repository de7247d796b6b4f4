/*
 * driver_mysql: MySQL/MariaDB through libmariadb (db.h). The only file that
 * includes mysql.h. Every statement is prepared (binary protocol); rows are
 * buffered on the client (mysql_stmt_store_result) so a caller may run other
 * statements on the connection while it walks them. Sessions run at READ
 * COMMITTED in UTC with strict values; the operations take explicit row
 * locks ({FOR_UPDATE}) wherever a read decides a write.
 *
 * Money is DECIMAL(15,2) in the tables and integer fen in the interface: the
 * two meet as decimal text, converted exactly (money.h), never through a double.
 *
 * A lost connection is reported as -ENOTCONN and never repaired here:
 * prepared statements die with their connection, so the caller closes it and
 * opens a new one (automatic reconnect stays off).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "money.h"
#include "url.h"

#define CONNECT_TIMEOUT_S 5
#define IO_TIMEOUT_S      30
/* Below IO_TIMEOUT_S, so a long lock wait ends as an error and not as a dropped connection. */
#define LOCK_WAIT_TIMEOUT_S 20
#define SCHEMA_LOCK_WAIT_S  60
#define SCHEMA_LOCK_STEP_S  10 /* each GET_LOCK wait stays below IO_TIMEOUT_S */
#define SCHEMA_LOCK         "'smartmeter_migrate'"
#define TEXT_INLINE         256 /* longer text and blobs are fetched on demand */
#define STR_(x)             #x
#define STR(x)              STR_(x)

struct mysql_db {
    struct db base;
    MYSQL *db;
    bool in_tx;
    bool implicit_tx; /* autocommit is off: the first statement after COMMIT begins one */
    char errmsg[DB_ERR_LEN];
};

union param_value {
    long long i;
    double d;
    char text[MONEY_TEXT_LEN];
};

enum col_kind { COL_INT, COL_DOUBLE, COL_TEXT };

struct col {
    enum col_kind kind;
    long long i;
    double d;
    char *text; /* TEXT_INLINE bytes for COL_TEXT columns */
    unsigned long len;
    my_bool is_null, error;
    char *whole; /* the whole value of a longer column, once asked for */
    size_t whole_cap;
    bool whole_valid;
    char num[32]; /* a number as text, for col_text on a number */
};

struct mysql_stmt {
    struct db_stmt base;
    struct mysql_db *conn;
    MYSQL_STMT *st;
    unsigned nparams, next;
    MYSQL_BIND *params;
    union param_value *values;
    unsigned long *lengths;
    unsigned ncols; /* 0 until the first run that returns rows */
    MYSQL_BIND *binds;
    struct col *cols;
    bool executed, has_rows;
    int64_t changes, last_id;
};

static struct mysql_db *D(struct db *db)
{
    return (struct mysql_db *)db;
}

static struct mysql_stmt *S(struct db_stmt *st)
{
    return (struct mysql_stmt *)st;
}

/* --- errors ------------------------------------------------------------------------------ */

static int code_to_errno(unsigned code)
{
    switch (code) {
    case ER_DUP_ENTRY:
        return -EEXIST;
    case ER_NO_REFERENCED_ROW:
    case ER_NO_REFERENCED_ROW_2:
        return -ENOENT;
    case ER_LOCK_DEADLOCK:
        return -EDEADLK;
    case CR_OUT_OF_MEMORY:
        return -ENOMEM;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_STMT_CLOSED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NEW_ABORTING_CONNECTION:
        return -ENOTCONN;
    default:
        return -EIO;
    }
}

static int fail_code(struct mysql_db *d, unsigned code, const char *msg)
{
    snprintf(d->errmsg, sizeof(d->errmsg), "%s (MySQL error %u)", msg, code);
    return code_to_errno(code);
}

static int db_fail(struct mysql_db *d)
{
    return fail_code(d, mysql_errno(d->db), mysql_error(d->db));
}

static int stmt_fail(struct mysql_stmt *s)
{
    return fail_code(s->conn, mysql_stmt_errno(s->st), mysql_stmt_error(s->st));
}

static int fail_msg(struct mysql_db *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_msg(struct mysql_db *d, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

static const char *mysql_errmsg(struct db *db)
{
    return D(db)->errmsg;
}

/* --- text queries, transactions --------------------------------------------------------- */

/* Runs SQL without parameters through the text protocol, discarding any rows. */
static int mysql_exec(struct db *db, const char *sql)
{
    struct mysql_db *d = D(db);
    if (mysql_real_query(d->db, sql, (unsigned long)strlen(sql)))
        return db_fail(d);
    MYSQL_RES *rows = mysql_store_result(d->db);
    if (rows)
        mysql_free_result(rows);
    else if (mysql_field_count(d->db))
        return db_fail(d);
    return 0;
}

/* A text query whose answer is one integer; *ret_null tells an SQL NULL apart. */
static int query_int(struct mysql_db *d, const char *sql, int64_t *ret, bool *ret_null)
{
    if (mysql_real_query(d->db, sql, (unsigned long)strlen(sql)))
        return db_fail(d);
    MYSQL_RES *rows = mysql_store_result(d->db);
    if (!rows)
        return db_fail(d);
    MYSQL_ROW row = mysql_fetch_row(rows);
    int r = 0;
    *ret = 0;
    *ret_null = !row || !row[0];
    if (!row || mysql_num_fields(rows) != 1)
        r = fail_msg(d, -EIO, "no answer to %s", sql);
    else if (row[0])
        *ret = strtoll(row[0], NULL, 10);
    mysql_free_result(rows);
    return r;
}

static int mysql_begin(struct db *db)
{
    struct mysql_db *d = D(db);
    int r = d->implicit_tx ? 0 : mysql_exec(db, "START TRANSACTION");
    d->in_tx = !r;
    return r;
}

static int mysql_commit_tx(struct db *db)
{
    struct mysql_db *d = D(db);
    if (mysql_commit(d->db))
        return db_fail(d); /* still in_tx: the caller rolls back */
    d->in_tx = false;
    return 0;
}

static void mysql_rollback_tx(struct db *db)
{
    struct mysql_db *d = D(db);
    if (!d->in_tx)
        return;
    d->in_tx = false;
    /* The first error is the one reported; if ROLLBACK fails the connection is gone,
       and the server rolls back on its own. */
    (void)mysql_rollback(d->db);
}

/* Serialises migrators on the server; a lock wait never outlasts the read timeout. MySQL
   commits DDL at once, so migrations are written to be re-run (CREATE ... IF NOT EXISTS). */
static int mysql_schema_lock(struct db *db)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "SELECT GET_LOCK(" SCHEMA_LOCK ", %d)", SCHEMA_LOCK_STEP_S);
    for (int waited = 0; waited < SCHEMA_LOCK_WAIT_S; waited += SCHEMA_LOCK_STEP_S) {
        int64_t got = 0;
        bool null = false;
        int r = query_int(D(db), sql, &got, &null);
        if (r)
            return r;
        if (!null && got == 1)
            return 0;
    }
    return fail_msg(D(db), -EIO, "migration lock: another migration held it for %d s",
                    SCHEMA_LOCK_WAIT_S);
}

static int mysql_schema_unlock(struct db *db, bool ok)
{
    static const char release[] = "DO RELEASE_LOCK(" SCHEMA_LOCK ")";
    if (ok)
        return mysql_exec(db, release);
    /* keeps the first error; should this fail too, the lock ends with the connection */
    (void)mysql_real_query(D(db)->db, release, sizeof(release) - 1);
    return 0;
}

static int mysql_batches_only(struct db *db)
{
    struct mysql_db *d = D(db);
    if (d->in_tx)
        return fail_msg(d, -EBUSY, "a transaction is open");
    if (mysql_autocommit(d->db, 0))
        return db_fail(d);
    d->implicit_tx = true;
    return 0;
}

/* --- statements --------------------------------------------------------------------------- */

static void mysql_finalize(struct db_stmt *st)
{
    if (!st)
        return;
    struct mysql_stmt *s = S(st);
    mysql_stmt_close(s->st); /* frees the handle even when the server is gone */
    for (unsigned i = 0; i < s->ncols; i++) {
        free(s->cols[i].text);
        free(s->cols[i].whole);
    }
    free(s->params);
    free(s->values);
    free(s->lengths);
    free(s->binds);
    free(s->cols);
    free(s);
}

static int mysql_prepare(struct db *db, const char *sql, struct db_stmt **ret)
{
    struct mysql_db *d = D(db);
    struct mysql_stmt *s = calloc(1, sizeof(*s));
    if (!s || !(s->st = mysql_stmt_init(d->db))) {
        free(s);
        return fail_msg(d, -ENOMEM, "out of memory");
    }
    s->base.drv = db->drv;
    s->conn = d;
    int r = 0;
    if (mysql_stmt_prepare(s->st, sql, (unsigned long)strlen(sql)))
        r = stmt_fail(s);
    s->nparams = r ? 0 : (unsigned)mysql_stmt_param_count(s->st);
    if (!r && s->nparams) {
        s->params = calloc(s->nparams, sizeof(*s->params));
        s->values = calloc(s->nparams, sizeof(*s->values));
        s->lengths = calloc(s->nparams, sizeof(*s->lengths));
        if (!s->params || !s->values || !s->lengths)
            r = fail_msg(d, -ENOMEM, "out of memory");
    }
    if (r) {
        mysql_finalize(&s->base);
        return r;
    }
    *ret = &s->base;
    return 0;
}

/* The next parameter, of type, its value in values[]. NULL when more are bound than asked. */
static MYSQL_BIND *param(struct db_stmt *st, enum enum_field_types type)
{
    struct mysql_stmt *s = S(st);
    unsigned i = s->next++;
    if (i >= s->nparams)
        return NULL; /* step() reports the mismatch */
    MYSQL_BIND *b = &s->params[i];
    memset(b, 0, sizeof(*b));
    b->buffer_type = type;
    b->buffer = &s->values[i];
    b->length = &s->lengths[i];
    return b;
}

static void mysql_bind_int(struct db_stmt *st, int64_t v)
{
    MYSQL_BIND *b = param(st, MYSQL_TYPE_LONGLONG);
    if (b)
        *(long long *)b->buffer = v;
}

static void mysql_bind_double(struct db_stmt *st, double v)
{
    MYSQL_BIND *b = param(st, MYSQL_TYPE_DOUBLE);
    if (b)
        *(double *)b->buffer = v;
}

static void mysql_bind_null(struct db_stmt *st)
{
    param(st, MYSQL_TYPE_NULL);
}

/* Bytes that must outlive the statement's run. */
static void bind_bytes(struct db_stmt *st, enum enum_field_types type, const void *p, size_t len)
{
    MYSQL_BIND *b = param(st, type);
    if (!b)
        return;
    *b->length = (unsigned long)len;
    b->buffer = (void *)p;
    b->buffer_length = (unsigned long)len;
}

static void mysql_bind_text(struct db_stmt *st, const char *s)
{
    if (s)
        bind_bytes(st, MYSQL_TYPE_STRING, s, strlen(s));
    else
        mysql_bind_null(st);
}

static void mysql_bind_blob(struct db_stmt *st, const void *p, size_t len)
{
    bind_bytes(st, MYSQL_TYPE_BLOB, p, len);
}

/* Sent as decimal text, which the server converts to DECIMAL exactly. */
static void mysql_bind_money(struct db_stmt *st, int64_t fen)
{
    MYSQL_BIND *b = param(st, MYSQL_TYPE_STRING);
    if (!b)
        return;
    money_format(fen, ((union param_value *)b->buffer)->text);
    *b->length = (unsigned long)strlen(((union param_value *)b->buffer)->text);
    b->buffer_length = *b->length;
}

static enum col_kind kind_of(enum enum_field_types t)
{
    switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return COL_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return COL_DOUBLE;
    default: /* DECIMAL (money, exact), text, blobs, NULL */
        return COL_TEXT;
    }
}

/* Where each column of a row goes, from the result's metadata, once per statement. */
static int bind_columns(struct mysql_stmt *s)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
    if (!meta)
        return stmt_fail(s);
    unsigned n = mysql_num_fields(meta);
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    s->binds = calloc(n, sizeof(*s->binds));
    s->cols = calloc(n, sizeof(*s->cols));
    int r = s->binds && s->cols ? 0 : -ENOMEM;
    for (unsigned i = 0; !r && i < n; i++) {
        struct col *c = &s->cols[i];
        MYSQL_BIND *b = &s->binds[i];
        s->ncols = i + 1;
        c->kind = kind_of(f[i].type);
        b->is_null = &c->is_null;
        b->error = &c->error;
        b->length = &c->len;
        if (c->kind == COL_INT) {
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &c->i;
        } else if (c->kind == COL_DOUBLE) {
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &c->d;
        } else if ((c->text = malloc(TEXT_INLINE))) {
            b->buffer_type = MYSQL_TYPE_BLOB;
            b->buffer = c->text;
            b->buffer_length = TEXT_INLINE - 1;
        } else {
            r = -ENOMEM;
        }
    }
    mysql_free_result(meta);
    return r ? fail_msg(s->conn, r, "out of memory") : 0;
}

/* Runs the statement; with rows, binds and buffers them. */
static int execute(struct mysql_stmt *s)
{
    if (s->next != s->nparams)
        return fail_msg(s->conn, -EIO, "statement and bindings disagree (%u bound, %u expected)",
                        s->next, s->nparams);
    if ((s->nparams && mysql_stmt_bind_param(s->st, s->params)) || mysql_stmt_execute(s->st))
        return stmt_fail(s);
    s->executed = true;
    my_ulonglong changed = mysql_stmt_affected_rows(s->st);
    s->changes = changed == (my_ulonglong)-1 ? 0 : (int64_t)changed;
    s->last_id = (int64_t)mysql_stmt_insert_id(s->st);
    s->has_rows = mysql_stmt_field_count(s->st) > 0;
    if (!s->has_rows)
        return 0;
    int r = s->cols ? 0 : bind_columns(s);
    if (r)
        return r;
    if (mysql_stmt_bind_result(s->st, s->binds) || mysql_stmt_store_result(s->st))
        return stmt_fail(s);
    return 0;
}

static int mysql_step(struct db_stmt *st)
{
    struct mysql_stmt *s = S(st);
    if (!s->executed) {
        int r = execute(s);
        if (r)
            return r;
    }
    if (!s->has_rows)
        return 0;
    int rc = mysql_stmt_fetch(s->st);
    if (rc == MYSQL_NO_DATA)
        return 0;
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
        return stmt_fail(s);
    for (unsigned i = 0; i < s->ncols; i++) {
        struct col *c = &s->cols[i];
        c->whole_valid = false;
        if (c->kind != COL_TEXT && c->error)
            return fail_msg(s->conn, -EIO, "column %u does not fit its field", i + 1);
        if (c->kind == COL_TEXT && !c->is_null && c->len < TEXT_INLINE)
            c->text[c->len] = '\0';
        else if (c->is_null)
            c->i = 0, c->d = 0;
    }
    return 1;
}

static void mysql_reset(struct db_stmt *st)
{
    struct mysql_stmt *s = S(st);
    /* Only frees the client-side rows: no round trip, nothing worth reporting. */
    if (s->has_rows)
        mysql_stmt_free_result(s->st);
    s->executed = s->has_rows = false;
    s->next = 0;
}

static bool mysql_is_null(struct db_stmt *st, unsigned col)
{
    return col >= S(st)->ncols || S(st)->cols[col].is_null;
}

/* The whole text of a COL_TEXT column, fetched on demand when longer than the inline buffer. */
static const char *text_of(struct mysql_stmt *s, unsigned col, size_t *ret_len)
{
    struct col *c = &s->cols[col];
    if (ret_len)
        *ret_len = c->len;
    if (c->len < TEXT_INLINE)
        return c->text;
    if (c->whole_valid)
        return c->whole;
    if (c->whole_cap < (size_t)c->len + 1) {
        char *p = realloc(c->whole, (size_t)c->len + 1);
        if (!p) {
            fail_msg(s->conn, -ENOMEM, "out of memory");
            return NULL;
        }
        c->whole = p;
        c->whole_cap = (size_t)c->len + 1;
    }
    MYSQL_BIND b;
    unsigned long got = 0;
    memset(&b, 0, sizeof(b));
    b.buffer_type = MYSQL_TYPE_BLOB;
    b.buffer = c->whole;
    b.buffer_length = c->len;
    b.length = &got;
    if (mysql_stmt_fetch_column(s->st, &b, col, 0)) {
        stmt_fail(s);
        return NULL;
    }
    c->whole[c->len] = '\0';
    c->whole_valid = true;
    return c->whole;
}

static const char *mysql_col_text(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    struct mysql_stmt *s = S(st);
    if (ret_len)
        *ret_len = 0;
    if (mysql_is_null(st, col))
        return NULL;
    struct col *c = &s->cols[col];
    if (c->kind == COL_TEXT)
        return text_of(s, col, ret_len);
    if (c->kind == COL_INT)
        snprintf(c->num, sizeof(c->num), "%lld", c->i);
    else
        snprintf(c->num, sizeof(c->num), "%.17g", c->d);
    if (ret_len)
        *ret_len = strlen(c->num);
    return c->num;
}

static int64_t mysql_col_int(struct db_stmt *st, unsigned col)
{
    if (mysql_is_null(st, col))
        return 0;
    struct col *c = &S(st)->cols[col];
    if (c->kind == COL_INT)
        return c->i;
    if (c->kind == COL_DOUBLE)
        return (int64_t)c->d;
    return strtoll(c->text, NULL, 10);
}

static double mysql_col_double(struct db_stmt *st, unsigned col)
{
    if (mysql_is_null(st, col))
        return 0;
    struct col *c = &S(st)->cols[col];
    if (c->kind == COL_DOUBLE)
        return c->d;
    if (c->kind == COL_INT)
        return (double)c->i;
    return strtod(c->text, NULL);
}

static const void *mysql_col_blob(struct db_stmt *st, unsigned col, size_t *ret_len)
{
    *ret_len = 0;
    if (mysql_is_null(st, col) || S(st)->cols[col].kind != COL_TEXT)
        return NULL;
    return text_of(S(st), col, ret_len);
}

static int mysql_col_money(struct db_stmt *st, unsigned col, int64_t *ret_fen)
{
    const char *t = mysql_col_text(st, col, NULL);
    *ret_fen = 0;
    if (t && money_parse(t, ret_fen))
        return fail_msg(S(st)->conn, -EIO, "'%s' is not an amount in fen", t);
    return 0;
}

static int64_t mysql_changes(struct db_stmt *st)
{
    return S(st)->changes;
}

static int64_t mysql_last_id(struct db_stmt *st)
{
    return S(st)->last_id;
}

/* --- opening ------------------------------------------------------------------------------ */

static void mysql_close_db(struct db *db)
{
    if (!db)
        return;
    mysql_close(D(db)->db);
    free(db);
}

/* Formats into err (cut at DB_ERR_LEN) and returns code. */
static int set_err(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, DB_ERR_LEN, fmt, ap);
    va_end(ap);
    return code;
}

#define URL_FORM "mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH]"

/* Checks the URL beyond url_parse(): scheme, user, database and the options we know. */
static int check_url(const struct url *u, char *socket_path, size_t socket_len,
                     char err[DB_ERR_LEN])
{
    if (strcmp(u->scheme, "mysql") != 0 && strcmp(u->scheme, "mariadb") != 0)
        return set_err(err, -EINVAL, "bad database URL: expected " URL_FORM);
    if (!u->user[0])
        return set_err(err, -EINVAL, "bad database URL: " URL_FORM " needs a user");
    if (!u->path[0] || strchr(u->path, '/'))
        return set_err(err, -EINVAL, "bad database URL: " URL_FORM " needs a database name");
    socket_path[0] = '\0';
    for (const char *q = u->query; *q;) {
        size_t len = strcspn(q, "&");
        if (len < 7 || strncmp(q, "socket=", 7) != 0)
            return set_err(err, -EINVAL, "bad database URL: unknown mysql option '%.*s'", (int)len,
                           q);
        if (len == 7 || len - 7 >= socket_len)
            return set_err(err, -EINVAL, "bad database URL: socket= needs a path shorter than %zu",
                           socket_len);
        snprintf(socket_path, socket_len, "%.*s", (int)(len - 7), q + 7);
        q += len + (q[len] == '&');
    }
    if (socket_path[0] && strcmp(u->host, "localhost") != 0)
        return set_err(err, -EINVAL, "bad database URL: ?socket= needs the host localhost");
    return 0;
}

static int set_options(MYSQL *db, bool use_socket)
{
    unsigned connect_s = CONNECT_TIMEOUT_S, io_s = IO_TIMEOUT_S, local_infile = 0;
    unsigned protocol = MYSQL_PROTOCOL_SOCKET;
    my_bool reconnect = 0;
    return mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s) ||
           mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &io_s) ||
           mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &io_s) ||
           mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
           mysql_options(db, MYSQL_OPT_RECONNECT, &reconnect) ||
           mysql_options(db, MYSQL_OPT_LOCAL_INFILE, &local_infile) ||
           (use_socket && mysql_options(db, MYSQL_OPT_PROTOCOL, &protocol));
}

/* Strict values, UTC, and READ COMMITTED, which the locking reads rely on. */
static const char *const session_sql[] = {
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', "
    "innodb_lock_wait_timeout = " STR(LOCK_WAIT_TIMEOUT_S),
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
};

static int connect_db(struct mysql_db *d, const struct url *u, const char *socket_path,
                      char err[DB_ERR_LEN])
{
    char where[256]; /* names the server in messages; never the password */
    if (socket_path[0])
        snprintf(where, sizeof(where), "%.64s@%.120s/%.64s", u->user, socket_path, u->path);
    else
        snprintf(where, sizeof(where), "%.64s@%.100s:%d/%.64s", u->user, u->host,
                 u->port ? u->port : 3306, u->path);
    if (set_options(d->db, socket_path[0]))
        return set_err(err, -EIO, "cannot set MySQL options: %s", mysql_error(d->db));
    if (!mysql_real_connect(d->db, socket_path[0] ? NULL : u->host, u->user,
                            u->has_password ? u->password : NULL, u->path, (unsigned)u->port,
                            socket_path[0] ? socket_path : NULL, 0)) {
        unsigned code = mysql_errno(d->db);
        return set_err(err, code_to_errno(code) == -ENOTCONN ? -ENOTCONN : -EIO,
                       "cannot connect to MySQL %s: %s (MySQL error %u)", where, mysql_error(d->db),
                       code);
    }
    for (size_t i = 0; i < sizeof(session_sql) / sizeof(session_sql[0]); i++) {
        int r = mysql_exec(&d->base, session_sql[i]);
        if (r)
            return set_err(err, r == -ENOTCONN ? r : -EIO, "MySQL %s: set up session: %s", where,
                           d->errmsg);
    }
    return 0;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

static void library_init(void)
{
    library_rc = mysql_library_init(0, NULL, NULL);
}

static int mysql_open(const char *url, struct db **ret, char err[DB_ERR_LEN])
{
    struct url u;
    char msg[200], socket_path[256];
    int r = url_parse(url, &u, msg, sizeof(msg));
    if (r)
        r = set_err(err, -EINVAL, "bad database URL: %s", msg);
    if (!r)
        r = check_url(&u, socket_path, sizeof(socket_path), err);
    if (!r && (pthread_once(&library_once, library_init) != 0 || library_rc != 0))
        r = set_err(err, -EIO, "cannot initialise the MySQL client library");
    struct mysql_db *d = r ? NULL : calloc(1, sizeof(*d));
    if (!r && (!d || !(d->db = mysql_init(NULL)))) {
        free(d);
        d = NULL;
        r = set_err(err, -ENOMEM, "out of memory");
    }
    if (!r) {
        d->base.drv = &db_driver_mysql;
        r = connect_db(d, &u, socket_path, err);
        if (r)
            mysql_close_db(&d->base);
    }
    url_clear(&u);
    if (!r)
        *ret = &d->base;
    return r;
}

/* The dialect: what MySQL and MariaDB spell their own way (db.h). */
static const struct db_token mysql_dialect[] = {
    {"INSERT_IGNORE", "INSERT IGNORE"},
    {"ON_CONFLICT", "ON DUPLICATE KEY UPDATE"},
    {"NEW", "VALUES(%)"},
    {"LEAST", "LEAST"},
    {"GREATEST", "GREATEST"},
    {"DIV", "DIV"},
    {"FOR_UPDATE", " FOR UPDATE"},
    {"INDEX", "FORCE INDEX (%)"},
    {"TABLE_OPTIONS", " ENGINE=InnoDB"},
    {"TABLE_EXISTS", "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                     "DATABASE() AND table_name = '%'"},
    {NULL, NULL},
};

const struct db_driver db_driver_mysql = {
    .name = "mysql",
    .dialect = mysql_dialect,
    .migrations = migrations_mysql,
    .open = mysql_open,
    .close = mysql_close_db,
    .errmsg = mysql_errmsg,
    .exec = mysql_exec,
    .begin = mysql_begin,
    .commit = mysql_commit_tx,
    .rollback = mysql_rollback_tx,
    .schema_lock = mysql_schema_lock,
    .schema_unlock = mysql_schema_unlock,
    .batches_only = mysql_batches_only,
    .prepare = mysql_prepare,
    .finalize = mysql_finalize,
    .bind_int = mysql_bind_int,
    .bind_double = mysql_bind_double,
    .bind_text = mysql_bind_text,
    .bind_blob = mysql_bind_blob,
    .bind_null = mysql_bind_null,
    .bind_money = mysql_bind_money,
    .step = mysql_step,
    .reset = mysql_reset,
    .is_null = mysql_is_null,
    .col_int = mysql_col_int,
    .col_double = mysql_col_double,
    .col_text = mysql_col_text,
    .col_blob = mysql_col_blob,
    .col_money = mysql_col_money,
    .changes = mysql_changes,
    .last_id = mysql_last_id,
};
