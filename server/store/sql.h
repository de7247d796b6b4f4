/*
 * sql: the store for every SQL database: one connection of a driver (db.h),
 * its prepared statements kept for the life of the connection, and the few
 * helpers the operations (ops_*.c, each written once for every dialect) run
 * their statements with. Statement text is written with `?` placeholders and
 * the dialect's {TOKENS}; it is expanded and prepared the first time a
 * connection runs it.
 *
 * Error handling: every helper returns 0 (or 1 for a row) or a negative errno
 * from db.h, with the store's message set to "<what>: <the driver's message>".
 */
#ifndef SMARTMETER_STORE_SQL_H
#define SMARTMETER_STORE_SQL_H

#include "db.h"
#include "dynbuf.h"
#include "store_impl.h"

/* Every cached statement of a connection, by operation file. */
enum sql_id {
    /* ops_schema.c */
    SQL_MIGRATION_RECORD,
    SQL_SCHEMA_EXISTS,
    SQL_SCHEMA_VERSION,
    /* ops_users.c */
    SQL_USER_ADD,
    SQL_USER_BY_NAME,
    SQL_USER_BY_ID,
    SQL_USER_LIST,
    SQL_ADMINS_LOCK,
    SQL_USER_LOCK,
    SQL_USER_UPDATE,
    SQL_USER_DELETE,
    SQL_USER_PAGE,
    SQL_USER_COUNT,
    /* ops_devices.c */
    SQL_DEVICE_ADD,
    SQL_DEVICE_BY_NAME,
    SQL_DEVICE_LIST_ALL,
    SQL_DEVICE_LIST_USER,
    SQL_DEVICE_STATUS,
    SQL_BINDING_ADD,
    SQL_BINDING_REMOVE,
    SQL_BINDING_CHECK,
    SQL_BINDING_USERS,
    SQL_DEVICE_FIND_FOR_DELETE,
    SQL_DEVICE_DELETE_READINGS,
    SQL_DEVICE_DELETE,
    SQL_DEVICE_SET_SECRET,
    /* ops_device_lists.c */
    /* a page and a count per scope (all, a user's) and set of filters (ops_device_lists.c) */
    SQL_DEVICE_PAGE,
    SQL_DEVICE_PAGE_LAST = SQL_DEVICE_PAGE + 2 * 32 - 1,
    SQL_DEVICE_COUNT,
    SQL_DEVICE_COUNT_LAST = SQL_DEVICE_COUNT + 2 * 32 - 1,
    SQL_DEVICE_SUMMARY,
    SQL_DEVICE_SUMMARY_ALARMS,
    SQL_IMPORT_OWNER,
    SQL_IMPORT_DEVICE,
    SQL_IMPORT_META,
    SQL_SEARCH_KEY_SET,
    /* ops_device_changes.c */
    SQL_CHANGE_LOG,
    SQL_CHANGES_SINCE,
    SQL_CHANGES_LATEST,
    SQL_CHANGES_PRUNE,
    /* ops_readings.c */
    SQL_READING_MAX_SEQ,
    SQL_READING_QUERY,
    SQL_READING_BUCKETS, /* then one per enum reading_fields, in its order */
    SQL_READING_BUCKETS_SINGLE,
    SQL_READING_BUCKETS_SYSTEM,
    SQL_READING_BUCKETS_PHASE_A,
    SQL_READING_BUCKETS_PHASE_B,
    SQL_READING_BUCKETS_PHASE_C,
    SQL_READING_LATEST,
    SQL_READING_DELETE_OLD,
    SQL_DEVICE_EXISTS,
    /* ops_rollups.c */
    SQL_ROLLUP_GET,
    SQL_ROLLUPS_ASC,
    SQL_ROLLUPS_DESC,
    SQL_ROLLUP_COUNTERS,
    /* a range query per field group and order (ops_rollups_query_of) */
    SQL_ROLLUPS_GROUP,
    SQL_ROLLUPS_GROUP_LAST = SQL_ROLLUPS_GROUP + 2 * READING_FIELDS__COUNT - 1,
    /* ops_ledger.c */
    SQL_DEVICE_BALANCE,
    SQL_DEVICE_SET_BALANCE,
    SQL_LEDGER_BY_KEY,
    SQL_LEDGER_INSERT,
    SQL_LEDGER_LIST,
    SQL_LEDGER_PAGE,
    SQL_LEDGER_COUNT,
    /* ops_captures.c */
    SQL_CAPTURE_ADD,
    SQL_CAPTURE_COMPLETE,
    SQL_CAPTURE_FAIL,
    SQL_CAPTURE_GET,
    SQL_CAPTURE_GET_DATA,
    SQL_CAPTURE_BY_REQUEST,
    SQL_CAPTURE_LIST,
    SQL_CAPTURE_PAGE,
    SQL_CAPTURE_COUNT,
    /* ops_wechat.c */
    SQL_WECHAT_BIND,
    SQL_WECHAT_BY_OPENID,
    SQL_WECHAT_BY_USER,
    SQL_WECHAT_UNBIND,
    /* ops_demand.c */
    SQL_DEMAND_UPSERT,
    SQL_DEMAND_GET,
    SQL_DEMAND_LIST,
    /* ops_audit.c */
    SQL_AUDIT_ADD,
    SQL_AUDIT_LIST,
    /* ops_billing.c */
    SQL_BILLING_DEVICE_LOCK,
    SQL_BILLING_STATE_ENSURE,
    SQL_BILLING_STATE_LOCK,
    SQL_BILLING_STATE_SAVE,
    SQL_BILLING_FRONTIER_MAX,
    SQL_TARIFF_ADD,
    SQL_TARIFF_PARK_TAKEN,
    SQL_TARIFF_VERSIONS,
    SQL_BILLING_READINGS,
    SQL_CHARGE_ADD,
    SQL_BILLING_EVENT_ADD,
    SQL_BILLING_SETTINGS_GET,
    SQL_BILLING_SETTINGS_PUT,
    SQL_CHARGES_QUERY,
    /* ops_payments.c */
    SQL_PAYMENT_ADD,
    SQL_PAYMENT_GET,
    SQL_PAYMENT_LOCK,
    SQL_PAYMENT_PREPAY,
    SQL_PAYMENT_FINISH,
    SQL_PAYMENT_PAID,
    SQL_PAYMENTS_OPEN,
    SQL_PAYMENTS_OF_DEVICE,
    SQL_PAYMENTS_OF_USER,
    /* ops_commands.c */
    SQL_COMMAND_ADD,
    SQL_COMMAND_SUPERSEDE,
    SQL_COMMAND_GET,
    SQL_COMMAND_MOVE,
    SQL_COMMANDS_DUE,
    SQL_COMMANDS_EXPIRE,
    SQL_COMMAND_LATEST,
    SQL_DEVICE_RELAY,
    SQL_DEVICE_EVENT_ADD,
    SQL_DEVICE_EVENTS,
    SQL_DEVICES_HAVING_COMMANDS,
    SQL_DEVICES_HAVING_EVENTS,
    SQL_DEVICES_HAVING_MONEY,
    SQL_COMMANDS_OF_DEVICE,
    SQL_COMMAND_FINISH,
    SQL_COMMANDS_COUNT,
    /* ops_calendar.c */
    SQL_CALENDAR_LIST,
    SQL_CALENDAR_CLEAR,
    SQL_CALENDAR_ADD,
    SQL_CALENDAR_DAY,
    /* ops_alarms.c */
    SQL_ALARM_OPEN,
    SQL_ALARM_ADD,
    SQL_ALARM_CLEAR,
    SQL_ALARM_ACK,
    SQL_ALARM_GET,
    SQL_ALARMS_LIST,
    SQL_ALARMS_COUNT,
    SQL_ALARM_RULES_GET,
    SQL_ALARM_RULES_CLEAR,
    SQL_ALARM_RULES_ADD,
    /* ops_device_meta.c */
    SQL_DEVICE_META_GET,
    SQL_DEVICE_META_LOCK,
    SQL_DEVICE_META_INSERT,
    SQL_DEVICE_META_UPDATE,
    SQL__COUNT
};

/*
 * Multi-row statements, prepared for each row count up to SQL_BULK_MAX when
 * first needed: a batch goes in as few statements as it can (one round trip
 * each on a server database), SQL_BULK_MAX rows at a time.
 */
#define SQL_BULK_MAX 64u
/*
 * Past SQL_BULK_STEP rows a statement takes a multiple of SQL_BULK_STEP: 15
 * sizes in all (1..8, 16, 24 .. 64) rather than 64, each at most two
 * statements a chunk. A prepared statement holds its parameters' buffers
 * (100 to 200 KB at 64 rows of a reading), and a connection keeps one per
 * size it has run: the sizes a busy stream forms would otherwise add about
 * 15 MB per writing connection.
 */
#define SQL_BULK_STEP 8u
/* The rows of the next multi-row statement for remaining rows (> 0) of a chunk. */
unsigned sql_bulk_rows(size_t remaining);
enum sql_bulk {
    SQL_BULK_READINGS,
    SQL_BULK_READINGS_SINGLE, /* single-phase readings: their columns only */
    SQL_BULK_ROLLUPS,
    SQL_BULK_ROLLUPS_SINGLE, /* rollup deltas without per-phase metrics */
    SQL_BULK_VERSIONS,
    SQL_BULK_LOCK_DEVICES,    /* a batch's device rows, for update */
    SQL_BULK_LATEST_OF,       /* the newest reading of each device of a list */
    SQL_BULK_DAY_COUNTERS_OF, /* the day counters before an instant of each */
    SQL_BULK_ROLLUPS_OF,      /* rollup rows in a range of each */
    SQL_BULK__COUNT
};

struct sql_store {
    struct store base;
    const struct db_driver *drv;
    struct db *db;
    struct db_stmt *st[SQL__COUNT];
    struct db_stmt *bulk[SQL_BULK__COUNT][SQL_BULK_MAX + 1]; /* by row count */
};

static inline struct sql_store *SQL(struct store *s)
{
    return (struct sql_store *)s;
}

/* Opens a connection of drv to url as a store (store.c's table of schemes names these). */
int sql_store_open(const struct db_driver *drv, const char *url, struct store **ret,
                   char err[STORE_ERR_LEN]);

/* Builds statement text (with tokens) in a new string; NULL on ENOMEM. */
typedef char *(*sql_build_fn)(unsigned rows);

/* Statement text being built: appends stop at the first failure, which sql_buf_end() reports. */
struct sql_buf {
    struct dynbuf b;
    int r;
};
void sql_buf_init(struct sql_buf *s);
void sql_add(struct sql_buf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "(?, ?, ...)" rows times, per_row placeholders each, comma-separated. */
void sql_add_rows(struct sql_buf *s, unsigned rows, unsigned per_row);
/* The text in a new string (the caller frees it), or NULL when an append failed. */
char *sql_buf_end(struct sql_buf *s);

/*
 * The cached statement id, reset and unbound: prepared from text the first
 * time (or from what build(0) returns, when text is NULL).
 */
int sql_stmt(struct sql_store *q, enum sql_id id, const char *text, sql_build_fn build,
             struct db_stmt **ret);
/*
 * The cached multi-row statement of kind for rows rows (a size sql_bulk_rows()
 * gives: -EINVAL for another), from build(rows).
 */
int sql_bulk(struct sql_store *q, enum sql_bulk kind, unsigned rows, sql_build_fn build,
             struct db_stmt **ret);

/* One step: 1 with a row, 0 when done, or a negative errno (the statement is then reset). */
int sql_step(struct sql_store *q, struct db_stmt *st, const char *what);
/* Runs a statement that returns no rows to its end and resets it. */
int sql_run(struct sql_store *q, struct db_stmt *st, const char *what);
/* For lookups of one row: 0 with the row ready, -ENOENT (message not_found) when there is none. */
int sql_row(struct sql_store *q, struct db_stmt *st, const char *what, const char *not_found);

int sql_begin(struct sql_store *q);
int sql_commit(struct sql_store *q);
void sql_rollback(struct sql_store *q);
/*
 * Whether a transaction that ended with r on its attempt-th try is tried
 * again: r is -EDEADLK (the database chose it as a deadlock's victim) and
 * fewer than SQL_DEADLOCK_ATTEMPTS tries were made. Before answering true it
 * waits a little, longer with each try and jittered, so the transactions that
 * collided do not collide again in step.
 */
#define SQL_DEADLOCK_ATTEMPTS 8
bool sql_retry_deadlock(int r, int attempt);

/* Sets the message "<what>: <the driver's message>" and returns err. */
int sql_fail(struct sql_store *q, int err, const char *what);

/* Copies a text column into dst (size counts the NUL; NULL reads as ""); -EIO when it is longer. */
int sql_text(struct sql_store *q, struct db_stmt *st, unsigned col, char *dst, size_t size);

/* LIMIT takes a signed 64-bit placeholder; no caller wants more rows than that. */
static inline void sql_bind_limit(struct db_stmt *st, size_t limit)
{
    db_bind_int(st, limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit);
}

#endif
