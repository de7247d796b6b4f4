/*
 * store_mysql: the MySQL/MariaDB backend through libmariadb. The only file
 * that includes mysql.h. One connection per struct store; every statement
 * with parameters is prepared once per connection (binary protocol) and
 * cached; transactions run at READ COMMITTED and take explicit row locks
 * wherever a read decides a write.
 *
 * Money is DECIMAL(15,2) in the tables and integer fen in the C API: the two
 * meet as decimal text, converted exactly here, never through a double.
 *
 * A lost connection is reported as -ENOTCONN and never repaired here:
 * prepared statements die with their connection, so the caller closes the
 * store and opens a new one (automatic reconnect stays off).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "dynbuf.h"
#include "store_internal.h"
#include "timeutil.h"
#include "url.h"

#define CONNECT_TIMEOUT_S 5
#define IO_TIMEOUT_S      30
/* Below IO_TIMEOUT_S, so a long lock wait ends as an error and not as a dropped connection. */
#define LOCK_WAIT_TIMEOUT_S 20
#define MIGRATE_LOCK_WAIT_S 60
#define MIGRATE_LOCK_STEP_S 10 /* each GET_LOCK wait stays below IO_TIMEOUT_S */
#define RECHARGE_ATTEMPTS   3
/* Sized from the reading field tables: an insert binds every field, a bucket row has 3 per real. */
#define MAX_PARAMS   (8 + RR__COUNT + RC__COUNT)
#define MAX_COLS     (8 + 3 * RR__COUNT + RC__COUNT)
#define FEN_TEXT_LEN 24 /* "-92233720368547758.07" and the NUL */
#define STR_(x)      #x
#define STR(x)       STR_(x)

enum stmt_id {
    ST_USER_ADD,
    ST_USER_BY_NAME,
    ST_USER_BY_ID,
    ST_USER_LIST,
    ST_DEVICE_ADD,
    ST_DEVICE_BY_NAME,
    ST_DEVICE_LIST_ALL,
    ST_DEVICE_LIST_USER,
    ST_DEVICE_STATUS,
    ST_DEVICE_LOCK,
    ST_DEVICE_BALANCE,
    ST_DEVICE_SET_BALANCE,
    ST_BINDING_ADD,
    ST_BINDING_REMOVE,
    ST_BINDING_CHECK,
    ST_BINDING_USERS,
    ST_READING_MAX_SEQ,
    ST_READING_QUERY,
    ST_READING_BUCKETS,
    ST_READING_LATEST,
    ST_ROLLUP_GET,
    ST_LEDGER_BY_KEY,
    ST_LEDGER_INSERT,
    ST_LEDGER_LIST,
    ST_MIGRATION_RECORD,
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

/*
 * Multi-row statements are prepared for each row count up to BULK_MAX when
 * first needed and kept: a batch goes in as few statements as it can (one
 * round trip each), BULK_MAX rows at a time.
 */
#define BULK_MAX 64u

enum bulk_kind { BULK_READINGS, BULK_ROLLUPS, BULK_VERSIONS, BULK__COUNT };

struct mdb_store {
    struct store base;
    MYSQL *db;
    MYSQL_STMT *st[ST__COUNT];
    MYSQL_STMT *bulk[BULK__COUNT][BULK_MAX + 1]; /* by row count */
    bool in_tx;
    bool implicit_tx;   /* autocommit is off: the first statement after COMMIT begins one */
    unsigned last_code; /* MySQL error code of the last database failure */
};

#define DEVICE_COLS                                                                                \
    "d.id, d.device_id, d.secret_hash, d.balance, d.status, d.status_ms, d.created_ms, "           \
    "d.data_version"
#define USER_COLS    "id, username, password_hash, role, tokens_valid_after_ms, created_ms"
#define MIGRATE_LOCK "'smartmeter_migrate'"
/* A capture's metadata (bind_capture); analysis and data follow where a statement needs them. */
#define CAPTURE_COLS                                                                               \
    "c.id, c.device_pk, c.request_id, COALESCE(u.username, ''), c.requested_ms, c.duration_ms, "   \
    "c.status, COALESCE(c.message, ''), c.rate_hz, c.nominal_hz, c.start_ms, c.samples, "          \
    "c.received_ms"
#define CAPTURE_FROM " FROM captures c LEFT JOIN users u ON u.id = c.requested_by "

static struct mdb_store *M(struct store *s)
{
    return (struct mdb_store *)s;
}

/* --- money ------------------------------------------------------------------------------- */

/* 10030 -> "100.30", -5 -> "-0.05". */
static void fen_to_decimal(int64_t fen, char out[FEN_TEXT_LEN])
{
    uint64_t mag = fen < 0 ? 0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(out, FEN_TEXT_LEN, "%s%" PRIu64 ".%02" PRIu64, fen < 0 ? "-" : "", mag / 100,
             mag % 100);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses "[-]D+[.D[D]]" exactly; anything else (a third decimal too) is -EINVAL. */
static int decimal_to_fen(const char *s, int64_t *ret_fen)
{
    const char *p = s + (*s == '-');
    uint64_t yuan = 0, cents = 0;
    if (!is_digit(*p))
        return -EINVAL;
    for (; is_digit(*p); p++) {
        yuan = yuan * 10 + (uint64_t)(*p - '0');
        if (yuan > (uint64_t)INT64_MAX / 100)
            return -ERANGE;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -EINVAL;
        cents = (uint64_t)(*p++ - '0') * 10;
        if (is_digit(*p))
            cents += (uint64_t)(*p++ - '0');
    }
    if (*p)
        return -EINVAL;
    uint64_t mag = yuan * 100 + cents;
    if (mag > (uint64_t)INT64_MAX)
        return -ERANGE;
    *ret_fen = *s == '-' ? -(int64_t)mag : (int64_t)mag;
    return 0;
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

static int fail_code(struct mdb_store *m, unsigned code, const char *msg, const char *what)
{
    m->last_code = code;
    return store_fail(&m->base, code_to_errno(code), "%s: %s (MySQL error %u)", what, msg, code);
}

static int db_fail(struct mdb_store *m, const char *what)
{
    return fail_code(m, mysql_errno(m->db), mysql_error(m->db), what);
}

static int stmt_fail(struct mdb_store *m, MYSQL_STMT *st, const char *what)
{
    return fail_code(m, mysql_stmt_errno(st), mysql_stmt_error(st), what);
}

/* --- parameters and results of prepared statements --------------------------------------- */

struct params {
    MYSQL_BIND bind[MAX_PARAMS];
    union {
        long long i;
        double d;
        char text[FEN_TEXT_LEN];
    } val[MAX_PARAMS];
    unsigned long len[MAX_PARAMS];
    unsigned n;
};

static unsigned param(struct params *p, enum enum_field_types type)
{
    assert(p->n < MAX_PARAMS);
    unsigned i = p->n++;
    memset(&p->bind[i], 0, sizeof(p->bind[i]));
    p->bind[i].buffer_type = type;
    p->bind[i].buffer = &p->val[i];
    return i;
}

static void p_int(struct params *p, int64_t v)
{
    p->val[param(p, MYSQL_TYPE_LONGLONG)].i = v;
}

static void p_double(struct params *p, double v)
{
    p->val[param(p, MYSQL_TYPE_DOUBLE)].d = v;
}

static void p_null(struct params *p)
{
    param(p, MYSQL_TYPE_NULL);
}

/* The string must outlive the statement's execution; NULL binds SQL NULL. */
static void p_str(struct params *p, const char *s)
{
    if (!s) {
        p_null(p);
        return;
    }
    unsigned i = param(p, MYSQL_TYPE_STRING);
    p->len[i] = strlen(s);
    p->bind[i].buffer = (void *)s;
    p->bind[i].buffer_length = p->len[i];
    p->bind[i].length = &p->len[i];
}

/* Binary data; it must outlive the statement's execution. */
static void p_blob(struct params *p, const void *data, size_t len)
{
    unsigned i = param(p, MYSQL_TYPE_BLOB);
    p->len[i] = (unsigned long)len;
    p->bind[i].buffer = (void *)data;
    p->bind[i].buffer_length = p->len[i];
    p->bind[i].length = &p->len[i];
}

/* Sent as decimal text, which the server converts to DECIMAL exactly. */
static void p_fen(struct params *p, int64_t fen)
{
    unsigned i = param(p, MYSQL_TYPE_STRING);
    fen_to_decimal(fen, p->val[i].text);
    p->len[i] = strlen(p->val[i].text);
    p->bind[i].buffer_length = p->len[i];
    p->bind[i].length = &p->len[i];
}

/* LIMIT takes a signed 64-bit placeholder here; no caller wants more rows than that. */
static void p_limit(struct params *p, size_t limit)
{
    p_int(p, limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
}

enum col_kind { COL_INT, COL_DOUBLE, COL_TEXT, COL_FEN, COL_LONG };

/* Where each column of a fetched row goes; targets must outlive the fetches. */
struct results {
    MYSQL_BIND bind[MAX_COLS];
    my_bool is_null[MAX_COLS];
    my_bool error[MAX_COLS];
    unsigned long len[MAX_COLS];
    enum col_kind kind[MAX_COLS];
    int64_t *fen[MAX_COLS];
    char fen_text[MAX_COLS][FEN_TEXT_LEN];
    unsigned n;
};

static unsigned col(struct results *r, enum col_kind kind, enum enum_field_types type, void *buf,
                    size_t size)
{
    assert(r->n < MAX_COLS);
    unsigned i = r->n++;
    MYSQL_BIND *b = &r->bind[i];
    memset(b, 0, sizeof(*b));
    b->buffer_type = type;
    b->buffer = buf;
    b->buffer_length = (unsigned long)size;
    b->is_null = &r->is_null[i];
    b->error = &r->error[i];
    b->length = &r->len[i];
    r->kind[i] = kind;
    return i;
}

static void r_int(struct results *r, int64_t *out)
{
    col(r, COL_INT, MYSQL_TYPE_LONGLONG, out, sizeof(*out));
}

static void r_double(struct results *r, double *out)
{
    col(r, COL_DOUBLE, MYSQL_TYPE_DOUBLE, out, sizeof(*out));
}

/* size counts the NUL; a longer value fails the fetch instead of being cut short. */
static void r_text(struct results *r, char *out, size_t size)
{
    col(r, COL_TEXT, MYSQL_TYPE_STRING, out, size - 1);
}

/* DECIMAL columns arrive as text and are parsed into fen. */
static void r_fen(struct results *r, int64_t *out)
{
    unsigned i = col(r, COL_FEN, MYSQL_TYPE_STRING, NULL, FEN_TEXT_LEN - 1);
    r->bind[i].buffer = r->fen_text[i];
    r->fen[i] = out;
}

/*
 * A column of any length (TEXT, BLOB): nothing is copied by the fetch; read it
 * afterwards with fetch_long(). Returns the column's index.
 */
static unsigned r_long(struct results *r)
{
    return col(r, COL_LONG, MYSQL_TYPE_BLOB, NULL, 0);
}

/* Terminates text, parses money and zeroes NULL targets once a row is fetched. */
static int finish_row(struct mdb_store *m, struct results *r, const char *what)
{
    for (unsigned i = 0; i < r->n; i++) {
        MYSQL_BIND *b = &r->bind[i];
        bool null = r->is_null[i];
        if (r->kind[i] == COL_LONG) /* always "truncated": fetch_long() reads it */
            continue;
        bool text = r->kind[i] == COL_TEXT || r->kind[i] == COL_FEN;
        if (r->error[i] || (text && !null && r->len[i] > b->buffer_length))
            return store_fail(&m->base, -EIO, "%s: column %u does not fit its field", what, i + 1);
        if (text)
            ((char *)b->buffer)[null ? 0 : r->len[i]] = '\0';
        else if (null && r->kind[i] == COL_INT)
            *(int64_t *)b->buffer = 0;
        else if (null)
            *(double *)b->buffer = 0;
        if (r->kind[i] == COL_FEN) {
            *r->fen[i] = 0;
            if (!null && decimal_to_fen(r->fen_text[i], r->fen[i]))
                return store_fail(&m->base, -EIO, "%s: '%s' is not an amount in fen", what,
                                  r->fen_text[i]);
        }
    }
    return 0;
}

/* --- SQL ---------------------------------------------------------------------------------- */

static void sql_addf(struct dynbuf *b, int *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sql_addf(struct dynbuf *b, int *r, const char *fmt, ...)
{
    if (*r)
        return;
    va_list ap;
    va_start(ap, fmt);
    *r = dynbuf_vaddf(b, fmt, ap);
    va_end(ap);
}

/* Builds the SQL of statements whose text depends on the reading field tables; NULL on error. */
static char *reading_sql(enum stmt_id id)
{
    struct dynbuf b;
    int r = 0;
    dynbuf_init(&b, 8192);
    switch (id) {
    case ST_READING_QUERY:
        sql_addf(&b, &r,
                 "SELECT %s FROM readings WHERE device_pk = ? AND ts_ms >= ? AND ts_ms < ? "
                 "ORDER BY ts_ms DESC, seq DESC LIMIT ?",
                 store_reading_columns());
        break;
    case ST_READING_LATEST:
        sql_addf(&b, &r, "SELECT %s FROM readings WHERE device_pk = ? ORDER BY seq DESC LIMIT 1",
                 store_reading_columns());
        break;
    case ST_ROLLUP_GET:
        sql_addf(&b, &r,
                 "SELECT %s FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms = ?",
                 store_rollup_columns());
        break;
    case ST_READING_BUCKETS:
        sql_addf(&b, &r, "SELECT (ts_ms DIV ?) * ? AS bucket, COUNT(*)");
        for (int f = 0; f < RR__COUNT; f++) {
            const char *c = reading_reals[f].column;
            sql_addf(&b, &r, ", AVG(%s), MIN(%s), MAX(%s)", c, c, c);
        }
        for (int c = 0; c < RC__COUNT; c++)
            sql_addf(&b, &r, ", MAX(%s)", reading_counters[c].column);
        sql_addf(&b, &r,
                 " FROM readings WHERE device_pk = ? AND ts_ms >= ? AND ts_ms < ? "
                 "GROUP BY bucket ORDER BY bucket DESC LIMIT ?");
        break;
    default:
        r = -EINVAL;
        break;
    }
    if (r) {
        dynbuf_free(&b);
        return NULL;
    }
    return dynbuf_steal(&b, NULL);
}

static const char *const fixed_sql[ST__COUNT] = {
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
    [ST_DEVICE_LOCK] = "SELECT id FROM devices WHERE id = ? FOR UPDATE",
    [ST_DEVICE_BALANCE] = "SELECT balance FROM devices WHERE id = ? FOR UPDATE",
    [ST_DEVICE_SET_BALANCE] = "UPDATE devices SET balance = ? WHERE id = ?",
    [ST_BINDING_ADD] = "INSERT INTO user_devices (user_id, device_pk, created_ms) VALUES (?, ?, ?)",
    [ST_BINDING_REMOVE] = "DELETE FROM user_devices WHERE user_id = ? AND device_pk = ?",
    [ST_BINDING_CHECK] = "SELECT 1 FROM user_devices WHERE user_id = ? AND device_pk = ?",
    [ST_BINDING_USERS] = "SELECT u.username FROM user_devices b JOIN users u ON u.id = b.user_id "
                         "WHERE b.device_pk = ? ORDER BY u.username",
    [ST_READING_MAX_SEQ] = "SELECT COALESCE(MAX(seq), 0) FROM readings WHERE device_pk = ?",
    [ST_LEDGER_BY_KEY] = "SELECT id, device_pk, amount, balance_after FROM ledger "
                         "WHERE actor_user_id = ? AND idem_key = ? FOR UPDATE",
    [ST_LEDGER_INSERT] = "INSERT INTO ledger (device_pk, kind, amount, balance_after, "
                         "actor_user_id, idem_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_LEDGER_LIST] = "SELECT l.id, l.amount, l.balance_after, l.kind, COALESCE(u.username, ''), "
                       "l.created_ms FROM ledger l LEFT JOIN users u ON u.id = l.actor_user_id "
                       "WHERE l.device_pk = ? ORDER BY l.id DESC LIMIT ?",
    [ST_MIGRATION_RECORD] = "INSERT INTO schema_migrations (version, name, applied_ms) "
                            "VALUES (?, ?, ?)",
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

/* --- running statements ------------------------------------------------------------------- */

/* A new statement prepared from sql (NULL: out of memory, reported as such); closed again on
   failure. Returns 0 with *ret set, or a negative errno. */
static int stmt_new(struct mdb_store *m, const char *sql, const char *what, MYSQL_STMT **ret)
{
    if (!sql)
        return store_fail(&m->base, -ENOMEM, "%s: out of memory", what);
    MYSQL_STMT *st = mysql_stmt_init(m->db);
    if (!st)
        return db_fail(m, what);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
        int r = stmt_fail(m, st, what);
        mysql_stmt_close(st);
        return r;
    }
    *ret = st;
    return 0;
}

static int prepare(struct mdb_store *m, enum stmt_id id, const char *what, MYSQL_STMT **ret)
{
    if (m->st[id]) {
        *ret = m->st[id];
        return 0;
    }
    char *dyn = fixed_sql[id] ? NULL : reading_sql(id);
    MYSQL_STMT *st;
    int r = stmt_new(m, fixed_sql[id] ? fixed_sql[id] : dyn, what, &st);
    free(dyn);
    if (r)
        return r;
    m->st[id] = st;
    *ret = st;
    return 0;
}

/*
 * Runs a cached statement with the parameters p. With res, the rows are
 * buffered on the client (so callbacks may use the store again) and fetch()
 * walks them; done() releases them.
 */
static int exec(struct mdb_store *m, enum stmt_id id, struct params *p, struct results *res,
                const char *what)
{
    MYSQL_STMT *st = NULL;
    int r = prepare(m, id, what, &st);
    if (r)
        return r;
    if (mysql_stmt_param_count(st) != p->n || mysql_stmt_field_count(st) != (res ? res->n : 0))
        return store_fail(&m->base, -EIO, "%s: statement and bindings disagree", what);
    if (p->n && mysql_stmt_bind_param(st, p->bind))
        return stmt_fail(m, st, what);
    if (mysql_stmt_execute(st))
        return stmt_fail(m, st, what);
    if (res && (mysql_stmt_bind_result(st, res->bind) || mysql_stmt_store_result(st))) {
        r = stmt_fail(m, st, what);
        mysql_stmt_free_result(st);
    }
    return r;
}

/* 1 with the next row in res's targets, 0 after the last row, or a negative errno. */
static int fetch(struct mdb_store *m, enum stmt_id id, struct results *res, const char *what)
{
    int rc = mysql_stmt_fetch(m->st[id]);
    if (rc == MYSQL_NO_DATA)
        return 0;
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) /* truncation is reported per column */
        return stmt_fail(m, m->st[id], what);
    int r = finish_row(m, res, what);
    return r ? r : 1;
}

static void done(struct mdb_store *m, enum stmt_id id)
{
    /* Only frees the client-side rows: it cannot fail in a way worth reporting. */
    if (m->st[id])
        mysql_stmt_free_result(m->st[id]);
}

/* For lookups of at most one row: 1 found, 0 none, or a negative errno. */
static int query_row(struct mdb_store *m, enum stmt_id id, struct params *p, struct results *res,
                     const char *what)
{
    int r = exec(m, id, p, res, what);
    if (!r)
        r = fetch(m, id, res, what);
    done(m, id);
    return r;
}

/* Runs SQL without parameters through the text protocol, discarding any rows. */
static int exec_text(struct mdb_store *m, const char *sql, const char *what)
{
    if (mysql_real_query(m->db, sql, (unsigned long)strlen(sql)))
        return db_fail(m, what);
    MYSQL_RES *rows = mysql_store_result(m->db);
    if (rows)
        mysql_free_result(rows);
    else if (mysql_field_count(m->db))
        return db_fail(m, what);
    return 0;
}

/* A text query whose answer is one integer; *ret_null tells an SQL NULL apart. */
static int query_text_int(struct mdb_store *m, const char *sql, const char *what, int64_t *ret,
                          bool *ret_null)
{
    if (mysql_real_query(m->db, sql, (unsigned long)strlen(sql)))
        return db_fail(m, what);
    MYSQL_RES *rows = mysql_store_result(m->db);
    if (!rows)
        return db_fail(m, what);
    MYSQL_ROW row = mysql_fetch_row(rows);
    int r = 0;
    if (!row || mysql_num_fields(rows) != 1) {
        r = store_fail(&m->base, -EIO, "%s: no answer", what);
    } else if (!row[0]) {
        *ret = 0;
        *ret_null = true;
    } else {
        char *end;
        errno = 0;
        long long v = strtoll(row[0], &end, 10);
        if (errno || end == row[0] || *end) {
            r = store_fail(&m->base, -EIO, "%s: '%s' is not an integer", what, row[0]);
        } else {
            *ret = v;
            *ret_null = false;
        }
    }
    mysql_free_result(rows);
    return r;
}

static int begin(struct mdb_store *m)
{
    if (m->implicit_tx) {
        m->in_tx = true;
        return 0;
    }
    int r = exec_text(m, "START TRANSACTION", "begin");
    m->in_tx = !r;
    return r;
}

static int commit(struct mdb_store *m)
{
    if (mysql_commit(m->db))
        return db_fail(m, "commit"); /* still in_tx: the caller rolls back */
    m->in_tx = false;
    return 0;
}

static void rollback(struct mdb_store *m)
{
    if (!m->in_tx)
        return;
    m->in_tx = false;
    /* The first error is the one reported; if ROLLBACK fails the connection is gone,
       and the server rolls back on its own. */
    (void)mysql_rollback(m->db);
}

/* --- schema ------------------------------------------------------------------------------- */

static void mdb_close(struct store *s)
{
    struct mdb_store *m = M(s);
    for (int i = 0; i < ST__COUNT; i++)
        if (m->st[i])
            mysql_stmt_close(m->st[i]); /* frees the handle even when the server is gone */
    for (int k = 0; k < BULK__COUNT; k++)
        for (unsigned i = 0; i <= BULK_MAX; i++)
            if (m->bulk[k][i])
                mysql_stmt_close(m->bulk[k][i]);
    mysql_close(m->db);
    free(m);
}

static int mdb_schema_version(struct store *s, int *ret_version)
{
    struct mdb_store *m = M(s);
    int64_t version = 0;
    bool null = false;
    m->last_code = 0;
    int r = query_text_int(m, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                           "schema version", &version, &null);
    if (r && m->last_code == ER_NO_SUCH_TABLE)
        version = 0;
    else if (r)
        return r;
    *ret_version = (int)version;
    return 0;
}

struct migration_run {
    struct mdb_store *m;
    char what[160];
};

static int migration_stmt(const char *sql, void *ctx)
{
    struct migration_run *run = ctx;
    return exec_text(run->m, sql, run->what);
}

/* MySQL commits DDL at once, so a migration that fails half-way stays half-applied;
   ours are written to be re-run (CREATE ... IF NOT EXISTS). */
static int apply_migration(struct mdb_store *m, const struct migration *mig)
{
    struct migration_run run = {.m = m};
    snprintf(run.what, sizeof(run.what), "migration %03d_%s", mig->version, mig->name);
    int r = store_split_sql(mig->sql, migration_stmt, &run);
    if (r)
        return r;
    struct params p = {0};
    p_int(&p, mig->version);
    p_str(&p, mig->name);
    p_int(&p, time_now_ms());
    return exec(m, ST_MIGRATION_RECORD, &p, NULL, "record migration");
}

/* Serialises migrators on the server; a lock wait never outlasts the read timeout. */
static int migrate_lock(struct mdb_store *m)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "SELECT GET_LOCK(" MIGRATE_LOCK ", %d)", MIGRATE_LOCK_STEP_S);
    for (int waited = 0; waited < MIGRATE_LOCK_WAIT_S; waited += MIGRATE_LOCK_STEP_S) {
        int64_t got = 0;
        bool null = false;
        int r = query_text_int(m, sql, "migration lock", &got, &null);
        if (r)
            return r;
        if (!null && got == 1)
            return 0;
    }
    return store_fail(&m->base, -EIO, "migration lock: another migration held it for %d s",
                      MIGRATE_LOCK_WAIT_S);
}

static int mdb_migrate(struct store *s, int *ret_applied)
{
    static const char release[] = "DO RELEASE_LOCK(" MIGRATE_LOCK ")";
    struct mdb_store *m = M(s);
    int version = 0, applied = 0;
    int r = migrate_lock(m);
    if (r)
        return r;
    r = exec_text(m,
                  "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, "
                  "name VARCHAR(100) NOT NULL, applied_ms BIGINT NOT NULL) ENGINE=InnoDB",
                  "create schema_migrations");
    if (!r)
        r = mdb_schema_version(s, &version);
    for (const struct migration *mig = s->migrations; !r && mig->sql; mig++) {
        if (mig->version <= version)
            continue;
        r = apply_migration(m, mig);
        applied += !r;
    }
    if (!r)
        r = exec_text(m, release, "release migration lock");
    else /* keeps the first error; should this fail too, the lock ends with the connection */
        (void)mysql_real_query(m->db, release, sizeof(release) - 1);
    if (!r)
        *ret_applied = applied;
    return r;
}

/* --- users and devices -------------------------------------------------------------------- */

static void bind_user(struct results *res, struct user_rec *u, char *role, size_t role_size)
{
    memset(u, 0, sizeof(*u));
    r_int(res, &u->id);
    r_text(res, u->username, sizeof(u->username));
    r_text(res, u->password_hash, sizeof(u->password_hash));
    r_text(res, role, role_size);
    r_int(res, &u->tokens_valid_after_ms);
    r_int(res, &u->created_ms);
}

static int mdb_user_add(struct store *s, const char *username, const char *password_hash,
                        enum role role, int64_t *ret_id)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    p_str(&p, username);
    p_str(&p, password_hash);
    p_str(&p, role_name(role));
    p_int(&p, time_now_ms());
    int r = exec(m, ST_USER_ADD, &p, NULL, "add user");
    if (r == -EEXIST)
        return store_fail(s, r, "user '%s' already exists", username);
    if (!r && ret_id)
        *ret_id = (int64_t)mysql_stmt_insert_id(m->st[ST_USER_ADD]);
    return r;
}

static int mdb_user_get(struct store *s, const char *username, int64_t id, struct user_rec *ret)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct user_rec u;
    char role[16];
    if (username)
        p_str(&p, username);
    else
        p_int(&p, id);
    bind_user(&res, &u, role, sizeof(role));
    int r = query_row(m, username ? ST_USER_BY_NAME : ST_USER_BY_ID, &p, &res, "get user");
    if (r == 0)
        return store_fail(s, -ENOENT, "no such user");
    if (r < 0)
        return r;
    if (role_parse(role, &u.role))
        u.role = ROLE_USER;
    *ret = u;
    return 0;
}

static int mdb_user_list(struct store *s, store_user_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct user_rec u;
    char role[16];
    bind_user(&res, &u, role, sizeof(role));
    int r = exec(m, ST_USER_LIST, &p, &res, "list users");
    while (!r && (r = fetch(m, ST_USER_LIST, &res, "list users")) == 1) {
        if (role_parse(role, &u.role))
            u.role = ROLE_USER;
        r = cb(&u, ctx);
    }
    done(m, ST_USER_LIST);
    return r;
}

static int mdb_binding_add(struct store *s, int64_t user_id, int64_t device_pk);

static int mdb_device_add(struct store *s, const char *device_id, const char *secret_hash,
                          int64_t owner_user_id, int64_t *ret_id)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    p_str(&p, device_id);
    p_str(&p, secret_hash);
    p_int(&p, time_now_ms());
    int r = begin(m);
    if (!r)
        r = exec(m, ST_DEVICE_ADD, &p, NULL, "add device");
    if (r == -EEXIST)
        store_fail(s, r, "device '%s' already exists", device_id);
    int64_t id = r ? 0 : (int64_t)mysql_stmt_insert_id(m->st[ST_DEVICE_ADD]);
    if (!r && owner_user_id)
        r = mdb_binding_add(s, owner_user_id, id);
    if (!r)
        r = commit(m);
    if (r) {
        rollback(m);
        return r;
    }
    if (ret_id)
        *ret_id = id;
    return 0;
}

static void bind_device(struct results *res, struct device_rec *d, char *status, size_t status_size)
{
    memset(d, 0, sizeof(*d));
    r_int(res, &d->id);
    r_text(res, d->device_id, sizeof(d->device_id));
    r_text(res, d->secret_hash, sizeof(d->secret_hash));
    r_fen(res, &d->balance_fen);
    r_text(res, status, status_size);
    r_int(res, &d->status_ms);
    r_int(res, &d->created_ms);
    r_int(res, &d->data_version);
}

static void parse_status(struct device_rec *d, const char *status)
{
    d->status = DEVICE_STATUS_UNKNOWN;
    if (strcmp(status, "online") == 0)
        d->status = DEVICE_STATUS_ONLINE;
    else if (strcmp(status, "offline") == 0)
        d->status = DEVICE_STATUS_OFFLINE;
}

static int mdb_device_by_name(struct store *s, const char *device_id, struct device_rec *ret)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct device_rec d;
    char status[16];
    p_str(&p, device_id);
    bind_device(&res, &d, status, sizeof(status));
    int r = query_row(m, ST_DEVICE_BY_NAME, &p, &res, "get device");
    if (r == 0)
        return store_fail(s, -ENOENT, "no such device");
    if (r < 0)
        return r;
    parse_status(&d, status);
    *ret = d;
    return 0;
}

static int mdb_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    enum stmt_id id = user_id ? ST_DEVICE_LIST_USER : ST_DEVICE_LIST_ALL;
    struct params p = {0};
    struct results res = {0};
    struct device_rec d;
    char status[16];
    if (user_id)
        p_int(&p, user_id);
    bind_device(&res, &d, status, sizeof(status));
    int r = exec(m, id, &p, &res, "list devices");
    while (!r && (r = fetch(m, id, &res, "list devices")) == 1) {
        parse_status(&d, status);
        r = cb(&d, ctx);
    }
    done(m, id);
    return r;
}

static int mdb_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                                 int64_t at_ms)
{
    struct params p = {0};
    p_str(&p, device_status_name(status));
    p_int(&p, at_ms);
    p_int(&p, device_pk);
    p_int(&p, at_ms);
    return exec(M(s), ST_DEVICE_STATUS, &p, NULL, "set device status");
}

/* --- bindings ----------------------------------------------------------------------------- */

static int mdb_binding_add(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct params p = {0};
    p_int(&p, user_id);
    p_int(&p, device_pk);
    p_int(&p, time_now_ms());
    return exec(M(s), ST_BINDING_ADD, &p, NULL, "bind device");
}

static int mdb_binding_remove(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    p_int(&p, user_id);
    p_int(&p, device_pk);
    int r = exec(m, ST_BINDING_REMOVE, &p, NULL, "unbind device");
    if (!r && mysql_stmt_affected_rows(m->st[ST_BINDING_REMOVE]) == 0)
        r = store_fail(s, -ENOENT, "device is not bound to that user");
    return r;
}

static int mdb_binding_check(struct store *s, int64_t user_id, int64_t device_pk)
{
    struct params p = {0};
    struct results res = {0};
    int64_t one;
    p_int(&p, user_id);
    p_int(&p, device_pk);
    r_int(&res, &one);
    int r = query_row(M(s), ST_BINDING_CHECK, &p, &res, "check binding");
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

static int mdb_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    char name[USERNAME_MAX + 1];
    p_int(&p, device_pk);
    r_text(&res, name, sizeof(name));
    int r = exec(m, ST_BINDING_USERS, &p, &res, "list bound users");
    while (!r && (r = fetch(m, ST_BINDING_USERS, &res, "list bound users")) == 1)
        r = cb(name, ctx);
    done(m, ST_BINDING_USERS);
    return r;
}

/* --- readings ----------------------------------------------------------------------------- */

/* Result columns of store_reading_columns(), straight into *rd (seq via *seq). */
static void bind_reading_cols(struct results *res, struct reading *rd, int64_t *seq)
{
    memset(rd, 0, sizeof(*rd));
    r_int(res, seq);
    r_int(res, &rd->ts_ms);
    for (int f = 0; f < RR__COUNT; f++)
        r_double(res, &rd->real[f]);
    for (int c = 0; c < RC__COUNT; c++)
        r_int(res, &rd->counter[c]);
}

/* After a fetch: the presence bits follow the NULLs. */
static void finish_reading(const struct results *res, struct reading *rd, int64_t seq)
{
    rd->seq = (uint64_t)seq;
    rd->has_seq = true;
    rd->real_present = 0;
    rd->counter_present = 0;
    unsigned i = 2;
    for (int f = 0; f < RR__COUNT; f++, i++)
        if (!res->is_null[i])
            rd->real_present |= 1u << f;
    for (int c = 0; c < RC__COUNT; c++, i++)
        if (!res->is_null[i])
            rd->counter_present |= 1u << c;
}

/*
 * The device's highest seq + 1. The device row is locked first so that
 * concurrent inserts without seq take turns; at READ COMMITTED the MAX that
 * follows then sees every earlier one.
 */
static int next_seq(struct mdb_store *m, int64_t device_pk, int64_t *ret)
{
    struct params p = {0};
    struct results res = {0};
    int64_t v = 0;
    p_int(&p, device_pk);
    r_int(&res, &v);
    int r = query_row(m, ST_DEVICE_LOCK, &p, &res, "lock device");
    if (r < 0)
        return r;
    r = query_row(m, ST_READING_MAX_SEQ, &p, &res, "max seq");
    if (r == 0)
        r = store_fail(&m->base, -EIO, "max seq: no answer");
    if (r < 0)
        return r;
    *ret = v + 1;
    return 0;
}

/* --- batches of readings and their rollups --------------------------------------------- */

/* Parameters of a multi-row statement: ints, doubles, NULLs and short text, on the heap. */
struct bulk_params {
    MYSQL_BIND *bind;
    union {
        long long i;
        double d;
    } * val;
    unsigned long *len;
    unsigned n, cap;
};

static int bulk_params_init(struct bulk_params *p, unsigned cap)
{
    memset(p, 0, sizeof(*p));
    p->bind = calloc(cap, sizeof(*p->bind));
    p->val = calloc(cap, sizeof(*p->val));
    p->len = calloc(cap, sizeof(*p->len));
    p->cap = cap;
    return p->bind && p->val && p->len ? 0 : -ENOMEM;
}

static void bulk_params_free(struct bulk_params *p)
{
    free(p->bind);
    free(p->val);
    free(p->len);
}

static MYSQL_BIND *bulk_param(struct bulk_params *p, enum enum_field_types type)
{
    assert(p->n < p->cap);
    unsigned i = p->n++;
    MYSQL_BIND *b = &p->bind[i];
    memset(b, 0, sizeof(*b));
    b->buffer_type = type;
    b->buffer = &p->val[i];
    b->length = &p->len[i];
    return b;
}

static void b_int(struct bulk_params *p, int64_t v)
{
    *(long long *)bulk_param(p, MYSQL_TYPE_LONGLONG)->buffer = v;
}

static void b_double(struct bulk_params *p, double v)
{
    *(double *)bulk_param(p, MYSQL_TYPE_DOUBLE)->buffer = v;
}

static void b_null(struct bulk_params *p)
{
    bulk_param(p, MYSQL_TYPE_NULL);
}

/* s must outlive the execution. */
static void b_str(struct bulk_params *p, const char *s)
{
    MYSQL_BIND *b = bulk_param(p, MYSQL_TYPE_STRING);
    *b->length = strlen(s);
    b->buffer = (void *)s;
    b->buffer_length = *b->length;
}

static int reading_params(void)
{
    return 4 + RR__COUNT + RC__COUNT;
}

static int rollup_params(void)
{
    return 3 + store_rollup_ncols();
}

/* The SQL of a multi-row statement for rows rows. */
static char *bulk_sql(enum bulk_kind kind, unsigned rows)
{
    struct dynbuf b;
    int r = 0;
    int per_row = kind == BULK_READINGS ? reading_params() : rollup_params();
    dynbuf_init(&b, 1u << 20);
    if (kind == BULK_VERSIONS) {
        sql_addf(&b, &r, "UPDATE devices SET data_version = data_version + 1 WHERE id IN (");
        for (unsigned k = 0; k < rows; k++)
            sql_addf(&b, &r, "%s?", k ? ", " : "");
        sql_addf(&b, &r, ")");
    } else if (kind == BULK_READINGS)
        sql_addf(&b, &r, "INSERT IGNORE INTO readings (device_pk, received_ms, %s) VALUES ",
                 store_reading_columns());
    else
        sql_addf(&b, &r, "INSERT INTO rollups (device_pk, period, bucket_ms, %s) VALUES ",
                 store_rollup_columns());
    for (unsigned k = 0; k < rows && kind != BULK_VERSIONS; k++) {
        sql_addf(&b, &r, "%s(?", k ? ", " : "");
        for (int i = 1; i < per_row; i++)
            sql_addf(&b, &r, ", ?");
        sql_addf(&b, &r, ")");
    }
    if (kind == BULK_READINGS) {
        /* Only rows actually inserted come back: an ignored duplicate does not. */
        sql_addf(&b, &r, " RETURNING device_pk, seq");
    } else if (kind == BULK_ROLLUPS) {
        char *set =
            store_rollup_update_sql((const char *const[2]){"VALUES(", ")"}, "LEAST", "GREATEST");
        if (!set)
            r = -ENOMEM;
        sql_addf(&b, &r, " ON DUPLICATE KEY UPDATE %s", set ? set : "");
        free(set);
    }
    if (r) {
        dynbuf_free(&b);
        return NULL;
    }
    return dynbuf_steal(&b, NULL);
}

/* The cached statement for rows rows. */
static int bulk_prepare(struct mdb_store *m, enum bulk_kind kind, unsigned rows, MYSQL_STMT **ret)
{
    if (m->bulk[kind][rows]) {
        *ret = m->bulk[kind][rows];
        return 0;
    }
    const char *what = kind == BULK_READINGS  ? "insert readings"
                       : kind == BULK_ROLLUPS ? "update rollups"
                                              : "bump data versions";
    char *sql = bulk_sql(kind, rows);
    MYSQL_STMT *st;
    int r = stmt_new(m, sql, what, &st);
    free(sql);
    if (r)
        return r;
    m->bulk[kind][rows] = st;
    *ret = st;
    return 0;
}

/* Rows of the next chunk when left remain (left >= 1). */
static unsigned chunk_rows(size_t left)
{
    return left < BULK_MAX ? (unsigned)left : BULK_MAX;
}

static void bind_batch_reading(struct bulk_params *p, int64_t device_pk, int64_t now,
                               const struct reading *rd)
{
    b_int(p, device_pk);
    b_int(p, now);
    b_int(p, (int64_t)rd->seq);
    b_int(p, rd->ts_ms);
    for (int f = 0; f < RR__COUNT; f++) {
        if (reading_has_real(rd, (enum reading_real)f))
            b_double(p, rd->real[f]);
        else
            b_null(p);
    }
    for (int c = 0; c < RC__COUNT; c++) {
        if (reading_has_counter(rd, (enum reading_counter)c))
            b_int(p, rd->counter[c]);
        else
            b_null(p);
    }
}

/* Inserts chunk[0..n) (all complete, n <= BULK_MAX) and marks those RETURNING names. */
static int insert_chunk(struct mdb_store *m, struct store_batch_item **chunk, size_t n, int64_t now,
                        struct bulk_params *p, size_t *inserted)
{
    MYSQL_STMT *st;
    int r = bulk_prepare(m, BULK_READINGS, (unsigned)n, &st);
    if (r)
        return r;
    p->n = 0;
    for (size_t k = 0; k < n; k++)
        bind_batch_reading(p, chunk[k]->device_pk, now, &chunk[k]->reading);
    if (mysql_stmt_param_count(st) != p->n)
        return store_fail(&m->base, -EIO, "insert readings: statement and bindings disagree");
    int64_t device_pk = 0, seq = 0;
    MYSQL_BIND res[2];
    memset(res, 0, sizeof(res));
    res[0].buffer_type = res[1].buffer_type = MYSQL_TYPE_LONGLONG;
    res[0].buffer = &device_pk;
    res[1].buffer = &seq;
    if (mysql_stmt_bind_param(st, p->bind) || mysql_stmt_execute(st) ||
        mysql_stmt_bind_result(st, res) || mysql_stmt_store_result(st)) {
        r = stmt_fail(m, st, "insert readings");
        mysql_stmt_free_result(st);
        return r;
    }
    int rc;
    while ((rc = mysql_stmt_fetch(st)) == 0) {
        for (size_t k = 0; k < n; k++) {
            if (!chunk[k]->inserted && chunk[k]->device_pk == device_pk &&
                chunk[k]->reading.seq == (uint64_t)seq) {
                chunk[k]->inserted = true;
                (*inserted)++;
                break;
            }
        }
    }
    if (rc != MYSQL_NO_DATA)
        r = stmt_fail(m, st, "insert readings");
    mysql_stmt_free_result(st);
    return r;
}

/* Numbers the readings without a seq, per device (the device row locked, see next_seq()). */
static int mdb_number_readings(struct mdb_store *m, struct store_batch_item *items, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (items[k].reading.has_seq)
            continue;
        int64_t next = 0;
        int r = next_seq(m, items[k].device_pk, &next);
        if (r)
            return r;
        int64_t batch = store_batch_device_max_seq(items, n, items[k].device_pk);
        if (next <= batch)
            next = batch + 1;
        for (size_t j = k; j < n; j++) {
            if (items[j].device_pk != items[k].device_pk || items[j].reading.has_seq)
                continue;
            items[j].reading.seq = (uint64_t)next++;
            items[j].reading.has_seq = true;
        }
    }
    return 0;
}

static int insert_readings(struct mdb_store *m, struct store_batch_item *items, size_t n,
                           size_t *ret_inserted)
{
    struct store_batch_item *chunk[BULK_MAX];
    struct bulk_params p;
    int64_t now = time_now_ms();
    int r = bulk_params_init(&p, BULK_MAX * (unsigned)reading_params());
    if (r) {
        bulk_params_free(&p);
        return store_fail(&m->base, r, "out of memory");
    }
    size_t k = 0;
    while (!r && k < n) {
        /* IGNORE would turn a missing NOT NULL value into a zero: such readings are skipped
           (SQLite's OR IGNORE does the same). */
        size_t complete = 0;
        for (size_t j = k; j < n; j++)
            complete += store_reading_complete(&items[j].reading);
        if (complete == 0)
            break;
        unsigned rows = chunk_rows(complete);
        size_t got = 0;
        while (got < rows) {
            if (store_reading_complete(&items[k].reading))
                chunk[got++] = &items[k];
            k++;
        }
        r = insert_chunk(m, chunk, got, now, &p, ret_inserted);
    }
    bulk_params_free(&p);
    return r;
}

static void bind_rollup(struct bulk_params *p, const struct rollup_delta *d)
{
    b_int(p, d->device_pk);
    b_str(p, rollup_period_name(d->period));
    b_int(p, d->bucket_ms);
    b_int(p, d->n);
    b_int(p, d->first_ts_ms);
    b_int(p, d->last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        const struct rollup_stat *s = &d->m[k];
        if (rollup_metrics[k].counted)
            b_int(p, s->n);
        b_double(p, s->sum);
        if (s->n > 0) {
            b_double(p, s->min);
            b_double(p, s->max);
        } else {
            b_null(p);
            b_null(p);
        }
    }
    for (int k = 0; k < RE__COUNT; k++) {
        if (d->e[k].present) {
            b_int(p, d->e[k].min);
            b_int(p, d->e[k].max);
        } else {
            b_null(p);
            b_null(p);
        }
    }
}

/* Binds row k of a bulk statement's rows. */
typedef void (*bulk_bind_fn)(struct bulk_params *p, const void *rows, size_t k);

/*
 * Runs a statement of kind (without a result) over n rows, BULK_MAX at a
 * time; per_row parameters each, bound by bind.
 */
static int exec_bulk(struct mdb_store *m, enum bulk_kind kind, unsigned per_row, const void *rows,
                     size_t n, bulk_bind_fn bind, const char *what)
{
    struct bulk_params p;
    int r = bulk_params_init(&p, BULK_MAX * per_row);
    if (r) {
        bulk_params_free(&p);
        return store_fail(&m->base, r, "out of memory");
    }
    size_t k = 0;
    while (!r && k < n) {
        unsigned chunk = chunk_rows(n - k);
        MYSQL_STMT *st;
        r = bulk_prepare(m, kind, chunk, &st);
        if (r)
            break;
        p.n = 0;
        for (size_t j = 0; j < chunk; j++)
            bind(&p, rows, k + j);
        k += chunk;
        if (mysql_stmt_param_count(st) != p.n)
            r = store_fail(&m->base, -EIO, "%s: statement and bindings disagree", what);
        else if (mysql_stmt_bind_param(st, p.bind) || mysql_stmt_execute(st))
            r = stmt_fail(m, st, what);
    }
    bulk_params_free(&p);
    return r;
}

static void bind_rollup_delta(struct bulk_params *p, const void *rows, size_t k)
{
    bind_rollup(p, &((const struct rollup_delta *)rows)[k]);
}

/* Upserts the deltas (sorted by key, so concurrent writers lock rows in the same order). */
static int upsert_rollups(struct mdb_store *m, const struct rollup_delta *d, size_t n)
{
    return exec_bulk(m, BULK_ROLLUPS, (unsigned)rollup_params(), d, n, bind_rollup_delta,
                     "update rollups");
}

static int mdb_update_rollups(struct mdb_store *m, const struct store_batch_item *items, size_t n)
{
    struct rollup_delta *d;
    size_t nd;
    int r = store_batch_rollup_deltas(items, n, &d, &nd);
    if (r)
        r = store_fail(&m->base, r, "out of memory");
    else
        r = upsert_rollups(m, d, nd);
    free(d);
    return r;
}

/* Moves data_version of the device device_pk (its readings changed in this transaction). */
static int mdb_bump_data_version(struct mdb_store *m, int64_t device_pk)
{
    struct params p = {0};
    p_int(&p, device_pk);
    return exec(m, ST_DEVICE_BUMP_VERSION, &p, NULL, "bump data version");
}

static void bind_pk_row(struct bulk_params *p, const void *rows, size_t k)
{
    b_int(p, ((const int64_t *)rows)[k]);
}

/*
 * Bumps data_version once per device with at least one item inserted, in
 * device order (so concurrent writers lock device rows in the same order),
 * BULK_MAX devices per statement.
 */
static int mdb_bump_inserted_versions(struct mdb_store *m, const struct store_batch_item *items,
                                      size_t n)
{
    int64_t *pk;
    size_t npk;
    if (store_batch_inserted_devices(items, n, &pk, &npk))
        return store_fail(&m->base, -ENOMEM, "out of memory");
    int r = exec_bulk(m, BULK_VERSIONS, 1, pk, npk, bind_pk_row, "bump data versions");
    free(pk);
    return r;
}

static int mdb_dedicate_to_batches(struct store *s)
{
    struct mdb_store *m = M(s);
    if (m->in_tx)
        return store_fail(s, -EBUSY, "dedicate to batches: a transaction is open");
    if (mysql_autocommit(m->db, 0))
        return db_fail(m, "turn autocommit off");
    m->implicit_tx = true;
    return 0;
}

/*
 * One transaction: multi-row INSERT IGNORE ... RETURNING (MariaDB 10.5+) in
 * chunks of up to BULK_MAX rows, so each row's fate is known exactly even
 * when another writer inserts the same (device, seq) concurrently (the unique
 * key makes the second wait for the first and then skip), then multi-row
 * rollup upserts.
 */
static int mdb_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                     size_t *ret_inserted)
{
    struct mdb_store *m = M(s);
    size_t inserted = 0;
    int r = begin(m);
    if (!r)
        r = mdb_number_readings(m, items, n);
    if (!r)
        r = insert_readings(m, items, n, &inserted);
    if (!r && inserted)
        r = mdb_update_rollups(m, items, n);
    if (!r && inserted)
        r = mdb_bump_inserted_versions(m, items, n);
    if (!r)
        r = commit(m);
    if (r) {
        rollback(m);
        for (size_t k = 0; k < n; k++)
            items[k].inserted = false;
        return r;
    }
    *ret_inserted = inserted;
    return 0;
}

static int mdb_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period,
                          int64_t bucket_ms, struct rollup_delta *ret)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct rollup_delta d;
    int64_t e[RE__COUNT][2];
    memset(&d, 0, sizeof(d));
    p_int(&p, device_pk);
    p_str(&p, rollup_period_name(period));
    p_int(&p, bucket_ms);
    r_int(&res, &d.n);
    r_int(&res, &d.first_ts_ms);
    r_int(&res, &d.last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        if (rollup_metrics[k].counted)
            r_int(&res, &d.m[k].n);
        r_double(&res, &d.m[k].sum);
        r_double(&res, &d.m[k].min);
        r_double(&res, &d.m[k].max);
    }
    unsigned energy_col = res.n;
    for (int k = 0; k < RE__COUNT; k++) {
        r_int(&res, &e[k][0]);
        r_int(&res, &e[k][1]);
    }
    int r = query_row(m, ST_ROLLUP_GET, &p, &res, "read rollup");
    if (r < 0)
        return r;
    if (r == 0)
        return -ENOENT;
    for (int k = 0; k < RM__COUNT; k++)
        if (!rollup_metrics[k].counted)
            d.m[k].n = d.n;
    for (int k = 0; k < RE__COUNT; k++) {
        d.e[k].present = !res.is_null[energy_col + 2 * k];
        d.e[k].min = e[k][0];
        d.e[k].max = e[k][1];
    }
    d.device_pk = device_pk;
    d.period = period;
    d.bucket_ms = bucket_ms;
    *ret = d;
    return 0;
}

static int mdb_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                              size_t limit, store_reading_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct reading rd;
    int64_t seq;
    p_int(&p, device_pk);
    p_int(&p, from_ms);
    p_int(&p, to_ms);
    p_limit(&p, limit);
    bind_reading_cols(&res, &rd, &seq);
    int r = exec(m, ST_READING_QUERY, &p, &res, "query readings");
    while (!r && (r = fetch(m, ST_READING_QUERY, &res, "query readings")) == 1) {
        finish_reading(&res, &rd, seq);
        r = cb(&rd, ctx);
    }
    done(m, ST_READING_QUERY);
    return r;
}

static int mdb_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                                int64_t bucket_ms, size_t limit, store_bucket_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct reading_bucket b;
    p_int(&p, bucket_ms);
    p_int(&p, bucket_ms);
    p_int(&p, device_pk);
    p_int(&p, from_ms);
    p_int(&p, to_ms);
    p_limit(&p, limit);
    memset(&b, 0, sizeof(b));
    r_int(&res, &b.start_ms);
    r_int(&res, &b.count);
    for (int f = 0; f < RR__COUNT; f++) {
        r_double(&res, &b.avg[f]);
        r_double(&res, &b.min[f]);
        r_double(&res, &b.max[f]);
    }
    for (int c = 0; c < RC__COUNT; c++)
        r_int(&res, &b.counter_last[c]);
    int r = exec(m, ST_READING_BUCKETS, &p, &res, "query buckets");
    while (!r && (r = fetch(m, ST_READING_BUCKETS, &res, "query buckets")) == 1) {
        b.real_present = 0;
        b.counter_present = 0;
        for (int f = 0; f < RR__COUNT; f++)
            if (!res.is_null[2 + 3 * f])
                b.real_present |= 1u << f;
        for (int c = 0; c < RC__COUNT; c++)
            if (!res.is_null[2 + 3 * RR__COUNT + c])
                b.counter_present |= 1u << c;
        r = cb(&b, ctx);
    }
    done(m, ST_READING_BUCKETS);
    return r;
}

static int mdb_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    struct params p = {0};
    struct results res = {0};
    struct reading rd;
    int64_t seq;
    p_int(&p, device_pk);
    bind_reading_cols(&res, &rd, &seq);
    int r = query_row(M(s), ST_READING_LATEST, &p, &res, "latest reading");
    if (r == 0)
        return -ENOENT;
    if (r < 0)
        return r;
    finish_reading(&res, &rd, seq);
    *ret = rd;
    return 0;
}

/* --- money -------------------------------------------------------------------------------- */

/*
 * One attempt. The device row is locked before the key is looked up, so
 * retries of one recharge queue on it and each sees the ledger row of the one
 * before (a locking read sees the latest committed row).
 */
static int recharge_tx(struct mdb_store *m, int64_t device_pk, int64_t amount_fen,
                       int64_t actor_user_id, const char *key, struct recharge_result *ret)
{
    struct params p = {0};
    struct results res = {0};
    struct recharge_result out = {0};
    int64_t balance = 0;
    int r = begin(m);
    if (r)
        return r;

    p_int(&p, device_pk);
    r_fen(&res, &balance);
    r = query_row(m, ST_DEVICE_BALANCE, &p, &res, "lock device");
    if (r == 0)
        r = store_fail(&m->base, -ENOENT, "no such device");
    if (r < 0)
        goto out;

    if (key) {
        int64_t dev = 0, amount = 0;
        memset(&p, 0, sizeof(p));
        memset(&res, 0, sizeof(res));
        p_int(&p, actor_user_id);
        p_str(&p, key);
        r_int(&res, &out.ledger_id);
        r_int(&res, &dev);
        r_fen(&res, &amount);
        r_fen(&res, &out.new_balance_fen);
        r = query_row(m, ST_LEDGER_BY_KEY, &p, &res, "look up idempotency key");
        if (r < 0)
            goto out;
        if (r == 1) {
            out.replayed = true;
            r = dev == device_pk && amount == amount_fen
                    ? 0
                    : store_fail(&m->base, -EEXIST, "idempotency key was used for another request");
            goto out;
        }
    }

    if (balance > STORE_BALANCE_MAX_FEN - amount_fen) {
        r = store_fail(&m->base, -ERANGE, "balance would exceed the maximum");
        goto out;
    }
    out.new_balance_fen = balance + amount_fen;

    memset(&p, 0, sizeof(p));
    p_fen(&p, out.new_balance_fen);
    p_int(&p, device_pk);
    r = exec(m, ST_DEVICE_SET_BALANCE, &p, NULL, "update balance");
    if (r)
        goto out;

    memset(&p, 0, sizeof(p));
    p_int(&p, device_pk);
    p_str(&p, "recharge");
    p_fen(&p, amount_fen);
    p_fen(&p, out.new_balance_fen);
    if (actor_user_id)
        p_int(&p, actor_user_id);
    else
        p_null(&p);
    p_str(&p, key);
    p_int(&p, time_now_ms());
    r = exec(m, ST_LEDGER_INSERT, &p, NULL, "write ledger");
    if (r)
        goto out;
    out.ledger_id = (int64_t)mysql_stmt_insert_id(m->st[ST_LEDGER_INSERT]);
    r = commit(m);
out:
    rollback(m); /* after a commit or on the read-only replay path: nothing to undo */
    if (!r)
        *ret = out;
    return r;
}

static int mdb_recharge(struct store *s, int64_t device_pk, int64_t amount_fen,
                        int64_t actor_user_id, const char *key, struct recharge_result *ret)
{
    struct mdb_store *m = M(s);
    for (int attempt = 1;; attempt++) {
        m->last_code = 0;
        int r = recharge_tx(m, device_pk, amount_fen, actor_user_id, key, ret);
        /*
         * Retried after the rollback: a deadlock, and the same actor's first
         * use of the key on another device committing while we ran (our
         * ledger INSERT hit the unique key). The next attempt reads that row
         * and answers replay or -EEXIST.
         */
        bool retry = m->last_code == ER_LOCK_DEADLOCK || (key && m->last_code == ER_DUP_ENTRY);
        if (!r || !retry || attempt == RECHARGE_ATTEMPTS)
            return r;
    }
}

static int mdb_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                           void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct ledger_entry e;
    p_int(&p, device_pk);
    p_limit(&p, limit);
    memset(&e, 0, sizeof(e));
    r_int(&res, &e.id);
    r_fen(&res, &e.amount_fen);
    r_fen(&res, &e.balance_after_fen);
    r_text(&res, e.kind, sizeof(e.kind));
    r_text(&res, e.actor, sizeof(e.actor));
    r_int(&res, &e.created_ms);
    int r = exec(m, ST_LEDGER_LIST, &p, &res, "list ledger");
    while (!r && (r = fetch(m, ST_LEDGER_LIST, &res, "list ledger")) == 1)
        r = cb(&e, ctx);
    done(m, ST_LEDGER_LIST);
    return r;
}

/* --- captures ------------------------------------------------------------------------------ */

static int mdb_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                              int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                              int64_t *ret_id)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    p_int(&p, device_pk);
    p_str(&p, request_id);
    if (requested_by)
        p_int(&p, requested_by);
    else
        p_null(&p);
    p_int(&p, requested_ms);
    p_int(&p, duration_ms);
    int r = exec(m, ST_CAPTURE_ADD, &p, NULL, "add capture");
    if (r == -EEXIST)
        return store_fail(s, r, "request id '%s' was already used for this device", request_id);
    if (r == -ENOENT)
        return store_fail(s, r, "no such device or user");
    if (!r && ret_id)
        *ret_id = (int64_t)mysql_stmt_insert_id(m->st[ST_CAPTURE_ADD]);
    return r;
}

/* Runs a capture UPDATE that only applies to a pending capture. */
static int update_pending(struct mdb_store *m, enum stmt_id id, struct params *p, const char *what)
{
    int r = exec(m, id, p, NULL, what);
    if (!r && mysql_stmt_affected_rows(m->st[id]) == 0)
        r = store_fail(&m->base, -ENOENT, "no pending capture with that request id");
    return r;
}

static int mdb_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                                const struct capture_data *d, const void *data, size_t data_len)
{
    struct params p = {0};
    if (data_len > UINT32_MAX)
        return store_fail(s, -EINVAL, "capture too large");
    p_str(&p, d->message);
    p_double(&p, d->rate_hz);
    p_double(&p, d->nominal_hz);
    p_int(&p, d->start_ms);
    p_int(&p, (int64_t)d->samples);
    p_blob(&p, data, data_len);
    p_str(&p, d->analysis);
    p_int(&p, d->received_ms);
    p_int(&p, device_pk);
    p_str(&p, request_id);
    return update_pending(M(s), ST_CAPTURE_COMPLETE, &p, "complete capture");
}

static int mdb_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                            const char *message, int64_t at_ms)
{
    struct params p = {0};
    p_str(&p, message);
    p_int(&p, at_ms);
    p_int(&p, device_pk);
    p_str(&p, request_id);
    return update_pending(M(s), ST_CAPTURE_FAIL, &p, "fail capture");
}

/* Where CAPTURE_COLS go; status is parsed and samples converted after the fetch. */
struct capture_row {
    struct capture_rec c;
    char status[16];
    int64_t duration_ms, samples;
};

static void bind_capture(struct results *res, struct capture_row *row)
{
    memset(row, 0, sizeof(*row));
    r_int(res, &row->c.id);
    r_int(res, &row->c.device_pk);
    r_text(res, row->c.request_id, sizeof(row->c.request_id));
    r_text(res, row->c.requested_by, sizeof(row->c.requested_by));
    r_int(res, &row->c.requested_ms);
    r_int(res, &row->duration_ms);
    r_text(res, row->status, sizeof(row->status));
    r_text(res, row->c.message, sizeof(row->c.message));
    r_double(res, &row->c.rate_hz);
    r_double(res, &row->c.nominal_hz);
    r_int(res, &row->c.start_ms);
    r_int(res, &row->samples);
    r_int(res, &row->c.received_ms);
}

static void finish_capture(struct capture_row *row)
{
    row->c.duration_ms = (int32_t)row->duration_ms;
    row->c.status = store_capture_status_parse(row->status);
    row->c.samples = row->samples > 0 ? (size_t)row->samples : 0;
}

/* Copies a COL_LONG column of the current row into a new buffer (NUL-terminated); NULL stays. */
static int fetch_long(struct mdb_store *m, enum stmt_id id, const struct results *res,
                      unsigned col_index, char **ret, size_t *ret_len)
{
    *ret = NULL;
    *ret_len = 0;
    if (res->is_null[col_index])
        return 0;
    size_t len = res->len[col_index];
    char *buf = malloc(len + 1);
    if (!buf)
        return store_fail(&m->base, -ENOMEM, "out of memory");
    if (len > 0) {
        MYSQL_BIND b;
        unsigned long got = 0;
        memset(&b, 0, sizeof(b));
        b.buffer_type = MYSQL_TYPE_BLOB;
        b.buffer = buf;
        b.buffer_length = (unsigned long)len;
        b.length = &got;
        if (mysql_stmt_fetch_column(m->st[id], &b, col_index, 0)) {
            free(buf);
            return stmt_fail(m, m->st[id], "read capture");
        }
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return 0;
}

static int mdb_capture_get(struct store *s, int64_t device_pk, int64_t capture_id,
                           const char *request_id, bool with_samples, struct capture_rec *ret)
{
    struct mdb_store *m = M(s);
    enum stmt_id id = with_samples ? ST_CAPTURE_GET_DATA : ST_CAPTURE_GET;
    if (request_id)
        id = ST_CAPTURE_BY_REQUEST;
    struct params p = {0};
    struct results res = {0};
    struct capture_row row;
    unsigned analysis_col = 0, data_col = 0;
    p_int(&p, device_pk);
    if (request_id)
        p_str(&p, request_id);
    else
        p_int(&p, capture_id);
    bind_capture(&res, &row);
    if (!request_id)
        analysis_col = r_long(&res);
    if (id == ST_CAPTURE_GET_DATA)
        data_col = r_long(&res);
    int r = exec(m, id, &p, &res, "get capture");
    if (!r)
        r = fetch(m, id, &res, "get capture");
    if (r == 0)
        r = store_fail(s, -ENOENT, "no such capture");
    if (r < 0)
        goto out;
    r = 0;
    finish_capture(&row);
    size_t len;
    if (analysis_col)
        r = fetch_long(m, id, &res, analysis_col, &row.c.analysis, &len);
    if (!r && data_col) {
        char *blob = NULL;
        r = fetch_long(m, id, &res, data_col, &blob, &len);
        if (!r && blob) {
            r = store_capture_unpack(blob, len, row.c.samples, &row.c);
            if (r)
                r = store_fail(s, r, "capture %lld: stored samples do not match their count",
                               (long long)row.c.id);
        }
        free(blob);
    }
    if (r)
        capture_rec_clear(&row.c);
    else
        *ret = row.c;
out:
    done(m, id);
    return r;
}

static int mdb_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                            void *ctx)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    struct results res = {0};
    struct capture_row row;
    p_int(&p, device_pk);
    p_limit(&p, limit);
    bind_capture(&res, &row);
    int r = exec(m, ST_CAPTURE_LIST, &p, &res, "list captures");
    while (!r && (r = fetch(m, ST_CAPTURE_LIST, &res, "list captures")) == 1) {
        finish_capture(&row);
        r = cb(&row.c, ctx);
    }
    done(m, ST_CAPTURE_LIST);
    return r;
}

/* --- WeChat bindings --------------------------------------------------------------------- */

static int mdb_wechat_bind(struct store *s, int64_t user_id, const char *appid, const char *openid,
                           int64_t at_ms)
{
    struct params p = {0};
    p_str(&p, openid);
    p_int(&p, user_id);
    p_str(&p, appid);
    p_int(&p, at_ms);
    return exec(M(s), ST_WECHAT_BIND, &p, NULL, "bind WeChat user");
}

static int mdb_wechat_get(struct store *s, const char *appid, const char *openid, int64_t user_id,
                          struct wechat_binding_rec *ret)
{
    struct params p = {0};
    struct results res = {0};
    struct wechat_binding_rec b;
    memset(&b, 0, sizeof(b));
    enum stmt_id id = openid ? ST_WECHAT_BY_OPENID : ST_WECHAT_BY_USER;
    if (openid) {
        p_str(&p, openid);
        p_str(&p, appid);
    } else {
        p_int(&p, user_id);
    }
    r_int(&res, &b.user_id);
    r_text(&res, b.appid, sizeof(b.appid));
    r_text(&res, b.openid, sizeof(b.openid));
    r_int(&res, &b.created_ms);
    int r = query_row(M(s), id, &p, &res, "get WeChat binding");
    if (r == 0)
        return store_fail(s, -ENOENT, "no such WeChat binding");
    if (r < 0)
        return r;
    *ret = b;
    return 0;
}

static int mdb_wechat_unbind(struct store *s, int64_t user_id)
{
    struct mdb_store *m = M(s);
    struct params p = {0};
    p_int(&p, user_id);
    int r = exec(m, ST_WECHAT_UNBIND, &p, NULL, "unbind WeChat user");
    if (!r && mysql_stmt_affected_rows(m->st[ST_WECHAT_UNBIND]) == 0)
        r = store_fail(s, -ENOENT, "no WeChat user is bound to that account");
    return r;
}

/* --- history: rollups read back, raw retention ------------------------------------------ */

/*
 * History statements are prepared per call (one round trip more per API request or
 * retention chunk), so the cached statement list stays as it is. Runs sql with p; with
 * res the rows are buffered for fetch_once(). *ret is closed by the caller (also on error).
 */
static int exec_once(struct mdb_store *m, const char *sql, struct params *p, struct results *res,
                     const char *what, MYSQL_STMT **ret)
{
    MYSQL_STMT *st = mysql_stmt_init(m->db);
    *ret = st;
    if (!st)
        return db_fail(m, what);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)))
        return stmt_fail(m, st, what);
    if (mysql_stmt_param_count(st) != p->n || mysql_stmt_field_count(st) != (res ? res->n : 0))
        return store_fail(&m->base, -EIO, "%s: statement and bindings disagree", what);
    if (p->n && mysql_stmt_bind_param(st, p->bind))
        return stmt_fail(m, st, what);
    if (mysql_stmt_execute(st))
        return stmt_fail(m, st, what);
    if (res && (mysql_stmt_bind_result(st, res->bind) || mysql_stmt_store_result(st)))
        return stmt_fail(m, st, what);
    return 0;
}

/* 1 with the next row in res's targets, 0 after the last row, or a negative errno. */
static int fetch_once(struct mdb_store *m, MYSQL_STMT *st, struct results *res, const char *what)
{
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA)
        return 0;
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
        return stmt_fail(m, st, what);
    int r = finish_row(m, res, what);
    return r ? r : 1;
}

static void close_once(MYSQL_STMT *st)
{
    if (st)
        mysql_stmt_close(st);
}

static void bind_rollup_row(struct results *res, struct rollup_rec *r)
{
    r_int(res, &r->bucket_ms);
    r_int(res, &r->n);
    r_int(res, &r->first_ts_ms);
    r_int(res, &r->last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        r_int(res, &r->metric_n[k]);
        r_double(res, &r->sum[k]);
        r_double(res, &r->min[k]);
        r_double(res, &r->max[k]);
    }
    r_int(res, &r->import_min_mwh);
    r_int(res, &r->import_max_mwh);
    r_int(res, &r->export_min_mwh);
    r_int(res, &r->export_max_mwh);
}

static void finish_rollup(const struct results *res, struct rollup_rec *r)
{
    unsigned e = 4 + 4 * RM__COUNT;
    r->has_import = !res->is_null[e + 1];
    r->has_export = !res->is_null[e + 3];
    if (r->has_import && res->is_null[e])
        r->import_min_mwh = r->import_max_mwh;
    if (r->has_export && res->is_null[e + 2])
        r->export_min_mwh = r->export_max_mwh;
}

static int mdb_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                             int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                             store_rollup_cb cb, void *ctx)
{
    struct mdb_store *m = M(s);
    char sql[2560];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms >= ? "
             "AND bucket_ms < ? ORDER BY bucket_ms %s LIMIT ?",
             store_rollup_select_columns(), newest_first ? "DESC" : "ASC");
    struct params p = {0};
    struct results res = {0};
    struct rollup_rec row;
    p_int(&p, device_pk);
    p_str(&p, rollup_period_name(period));
    p_int(&p, from_ms);
    p_int(&p, to_ms);
    p_limit(&p, limit);
    memset(&row, 0, sizeof(row));
    bind_rollup_row(&res, &row);
    MYSQL_STMT *st;
    int r = exec_once(m, sql, &p, &res, "query rollups", &st);
    while (!r && (r = fetch_once(m, st, &res, "query rollups")) == 1) {
        finish_rollup(&res, &row);
        r = cb(&row, ctx);
    }
    close_once(st);
    return r;
}

static int mdb_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                                      int64_t from_ms, int64_t before_ms,
                                      struct rollup_counters *ret)
{
    struct mdb_store *m = M(s);
    /* Each subquery walks the primary key backwards from before_ms to the first row with
       the counter, never past from_ms. */
    static const char sql[] =
        "SELECT (SELECT energy_import_max_mwh FROM rollups WHERE device_pk = ? AND period = ? "
        "AND bucket_ms >= ? AND bucket_ms < ? AND energy_import_max_mwh IS NOT NULL ORDER BY "
        "bucket_ms DESC LIMIT 1), (SELECT energy_export_max_mwh FROM rollups WHERE "
        "device_pk = ? AND period = ? AND bucket_ms >= ? AND bucket_ms < ? AND "
        "energy_export_max_mwh IS NOT NULL ORDER BY bucket_ms DESC LIMIT 1)";
    struct params p = {0};
    struct results res = {0};
    struct rollup_counters c;
    memset(&c, 0, sizeof(c));
    for (int k = 0; k < 2; k++) {
        p_int(&p, device_pk);
        p_str(&p, rollup_period_name(period));
        p_int(&p, from_ms);
        p_int(&p, before_ms);
    }
    r_int(&res, &c.import_max_mwh);
    r_int(&res, &c.export_max_mwh);
    MYSQL_STMT *st;
    int r = exec_once(m, sql, &p, &res, "rollup counters", &st);
    if (!r)
        r = fetch_once(m, st, &res, "rollup counters");
    if (r == 1) {
        c.has_import = !res.is_null[0];
        c.has_export = !res.is_null[1];
        *ret = c;
        r = 0;
    } else if (r == 0) {
        r = store_fail(&m->base, -EIO, "rollup counters: no answer");
    }
    close_once(st);
    return r;
}

static int mdb_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                      size_t max_rows, size_t *ret_deleted)
{
    struct mdb_store *m = M(s);
    /* Walks readings_by_time (device_pk, ts_ms) from the oldest; each chunk is its own short
       transaction (with the data_version bump), so ingest never waits long on its row locks. */
    static const char sql[] = "DELETE FROM readings WHERE device_pk = ? AND ts_ms < ? "
                              "ORDER BY ts_ms LIMIT ?";
    struct params p = {0};
    p_int(&p, device_pk);
    p_int(&p, before_ms);
    p_limit(&p, max_rows);
    int r = begin(m);
    if (r)
        return r;
    MYSQL_STMT *st;
    size_t deleted = 0;
    r = exec_once(m, sql, &p, NULL, "delete old readings", &st);
    if (!r) {
        my_ulonglong n = mysql_stmt_affected_rows(st);
        deleted = n == (my_ulonglong)-1 ? 0 : (size_t)n;
    }
    close_once(st);
    if (!r && deleted)
        r = mdb_bump_data_version(m, device_pk);
    if (!r)
        r = commit(m);
    if (r) {
        rollback(m);
        return r;
    }
    *ret_deleted = deleted;
    return 0;
}

static int mdb_exec_sql(struct store *s, const char *sql)
{
    return exec_text(M(s), sql, "exec");
}

static const struct store_ops mysql_ops = {
    .name = "mysql",
    .close = mdb_close,
    .schema_version = mdb_schema_version,
    .migrate = mdb_migrate,
    .user_add = mdb_user_add,
    .user_get = mdb_user_get,
    .user_list = mdb_user_list,
    .device_add = mdb_device_add,
    .device_by_name = mdb_device_by_name,
    .device_list = mdb_device_list,
    .device_set_status = mdb_device_set_status,
    .binding_add = mdb_binding_add,
    .binding_remove = mdb_binding_remove,
    .binding_check = mdb_binding_check,
    .binding_users = mdb_binding_users,
    .readings_insert_batch = mdb_readings_insert_batch,
    .dedicate_to_batches = mdb_dedicate_to_batches,
    .rollup_get = mdb_rollup_get,
    .readings_query = mdb_readings_query,
    .readings_buckets = mdb_readings_buckets,
    .reading_latest = mdb_reading_latest,
    .recharge = mdb_recharge,
    .ledger_list = mdb_ledger_list,
    .capture_create = mdb_capture_create,
    .capture_complete = mdb_capture_complete,
    .capture_fail = mdb_capture_fail,
    .capture_get = mdb_capture_get,
    .capture_list = mdb_capture_list,
    .wechat_bind = mdb_wechat_bind,
    .wechat_get = mdb_wechat_get,
    .wechat_unbind = mdb_wechat_unbind,
    .rollups_query = mdb_rollups_query,
    .rollup_counters_before = mdb_rollup_counters_before,
    .readings_delete_before = mdb_readings_delete_before,
    .exec_sql = mdb_exec_sql,
};

/* --- opening ------------------------------------------------------------------------------ */

/* Formats into err (cut at STORE_ERR_LEN) and returns code. */
static int set_err(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, STORE_ERR_LEN, fmt, ap);
    va_end(ap);
    return code;
}

#define URL_FORM "mysql://USER[:PASS]@HOST[:PORT]/DB[?socket=PATH]"

/* Checks the URL beyond url_parse(): scheme, user, database and the options we know. */
static int check_url(const struct url *u, char *socket_path, size_t socket_len,
                     char err[STORE_ERR_LEN])
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

/* Strict values, UTC, and READ COMMITTED, which the locking reads above rely on. */
static const char *const session_sql[] = {
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', "
    "innodb_lock_wait_timeout = " STR(LOCK_WAIT_TIMEOUT_S),
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
};

static int connect_db(struct mdb_store *m, const struct url *u, const char *socket_path,
                      char err[STORE_ERR_LEN])
{
    char where[256]; /* names the server in messages; never the password */
    if (socket_path[0])
        snprintf(where, sizeof(where), "%.64s@%.120s/%.64s", u->user, socket_path, u->path);
    else
        snprintf(where, sizeof(where), "%.64s@%.100s:%d/%.64s", u->user, u->host,
                 u->port ? u->port : 3306, u->path);
    if (set_options(m->db, socket_path[0]))
        return set_err(err, -EIO, "cannot set MySQL options: %s", mysql_error(m->db));
    if (!mysql_real_connect(m->db, socket_path[0] ? NULL : u->host, u->user,
                            u->has_password ? u->password : NULL, u->path, (unsigned)u->port,
                            socket_path[0] ? socket_path : NULL, 0)) {
        unsigned code = mysql_errno(m->db);
        return set_err(err, code_to_errno(code) == -ENOTCONN ? -ENOTCONN : -EIO,
                       "cannot connect to MySQL %s: %s (MySQL error %u)", where, mysql_error(m->db),
                       code);
    }
    for (size_t i = 0; i < sizeof(session_sql) / sizeof(session_sql[0]); i++) {
        int r = exec_text(m, session_sql[i], "set up session");
        if (r)
            return set_err(err, r == -ENOTCONN ? r : -EIO, "MySQL %s: %s", where,
                           store_errmsg(&m->base));
    }
    return 0;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

static void library_init(void)
{
    library_rc = mysql_library_init(0, NULL, NULL);
}

int store_mysql_open(const char *url, struct store **ret, char err[STORE_ERR_LEN])
{
    struct url u;
    char msg[200], socket_path[256];
    if (url_parse(url, &u, msg, sizeof(msg))) {
        url_clear(&u);
        return set_err(err, -EINVAL, "bad database URL: %s", msg);
    }
    int r = check_url(&u, socket_path, sizeof(socket_path), err);
    if (r) {
        url_clear(&u);
        return r;
    }
    if (pthread_once(&library_once, library_init) != 0 || library_rc != 0) {
        url_clear(&u);
        return set_err(err, -EIO, "cannot initialise the MySQL client library");
    }
    struct mdb_store *m = calloc(1, sizeof(*m));
    if (m)
        m->db = mysql_init(NULL);
    if (!m || !m->db) {
        url_clear(&u);
        free(m);
        return set_err(err, -ENOMEM, "out of memory");
    }
    m->base.ops = &mysql_ops;
    m->base.migrations = migrations_mysql;
    r = connect_db(m, &u, socket_path, err);
    url_clear(&u);
    if (r) {
        mdb_close(&m->base);
        return r;
    }
    *ret = &m->base;
    return 0;
}
