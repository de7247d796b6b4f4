/*
 * store_internal: what a storage backend implements. Only store.c and the
 * backends (store_sqlite.c, store_mysql.c) include this.
 */
#ifndef SMARTMETER_STORE_INTERNAL_H
#define SMARTMETER_STORE_INTERNAL_H

#include <stdarg.h>

#include "store.h"

struct migration {
    int version;
    const char *name;
    const char *sql; /* statements separated by ';' at the end of a line */
};

/* Generated at build time from sql/<dialect>/NNN_name.sql; ends with {0}. */
extern const struct migration migrations_sqlite[];
extern const struct migration migrations_mysql[];

struct store_ops {
    const char *name;
    void (*close)(struct store *s);
    int (*schema_version)(struct store *s, int *ret_version);
    int (*migrate)(struct store *s, int *ret_applied);
    int (*user_add)(struct store *s, const char *username, const char *password_hash,
                    enum role role, int64_t *ret_id);
    int (*user_get)(struct store *s, const char *username, int64_t id, struct user_rec *ret);
    int (*user_list)(struct store *s, store_user_cb cb, void *ctx);
    int (*device_add)(struct store *s, const char *device_id, const char *secret_hash,
                      int64_t owner_user_id, int64_t *ret_id);
    int (*device_by_name)(struct store *s, const char *device_id, struct device_rec *ret);
    int (*device_list)(struct store *s, int64_t user_id, store_device_cb cb, void *ctx);
    int (*device_set_status)(struct store *s, int64_t device_pk, enum device_status status,
                             int64_t at_ms);
    int (*binding_add)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_remove)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_check)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_users)(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx);
    /* store_readings_insert_batch(); n > 0, every item's inserted false on entry. */
    int (*readings_insert_batch)(struct store *s, struct store_batch_item *items, size_t n,
                                 size_t *ret_inserted);
    int (*dedicate_to_batches)(struct store *s); /* NULL: nothing to do */
    int (*rollup_get)(struct store *s, int64_t device_pk, enum rollup_period period,
                      int64_t bucket_ms, struct rollup_delta *ret);
    int (*readings_query)(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                          size_t limit, store_reading_cb cb, void *ctx);
    int (*readings_buckets)(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                            int64_t bucket_ms, size_t limit, store_bucket_cb cb, void *ctx);
    int (*reading_latest)(struct store *s, int64_t device_pk, struct reading *ret);
    int (*recharge)(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                    const char *idempotency_key, struct recharge_result *ret);
    int (*ledger_list)(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                       void *ctx);
    /* Captures: capture_get finds by id, or by request_id when that is not NULL. */
    int (*capture_create)(struct store *s, int64_t device_pk, const char *request_id,
                          int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                          int64_t *ret_id);
    int (*capture_complete)(struct store *s, int64_t device_pk, const char *request_id,
                            const struct capture_data *d, const void *data, size_t data_len);
    int (*capture_fail)(struct store *s, int64_t device_pk, const char *request_id,
                        const char *message, int64_t at_ms);
    int (*capture_get)(struct store *s, int64_t device_pk, int64_t capture_id,
                       const char *request_id, bool with_samples, struct capture_rec *ret);
    int (*capture_list)(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                        void *ctx);
    /* WeChat bindings: wechat_get finds by openid (with appid) when openid is not NULL,
       else by user_id. */
    int (*wechat_bind)(struct store *s, int64_t user_id, const char *appid, const char *openid,
                       int64_t at_ms);
    int (*wechat_get)(struct store *s, const char *appid, const char *openid, int64_t user_id,
                      struct wechat_binding_rec *ret);
    int (*wechat_unbind)(struct store *s, int64_t user_id);
    /* History (store_history.c checks the arguments first). */
    int (*rollups_query)(struct store *s, int64_t device_pk, enum rollup_period period,
                         int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                         store_rollup_cb cb, void *ctx);
    /* The newest counters in rows with from_ms <= bucket_ms < before_ms. */
    int (*rollup_counters_before)(struct store *s, int64_t device_pk, enum rollup_period period,
                                  int64_t from_ms, int64_t before_ms, struct rollup_counters *ret);
    int (*readings_delete_before)(struct store *s, int64_t device_pk, int64_t before_ms,
                                  size_t max_rows, size_t *ret_deleted);
    /* Runs SQL without parameters or rows (store_testing.h: tests only). */
    int (*exec_sql)(struct store *s, const char *sql);
};

/* Every backend's connection struct starts with this. */
struct store {
    const struct store_ops *ops;
    const struct migration *migrations;
    char errmsg[STORE_ERR_LEN];
};

/* Records the last error message; returns err so callers can `return store_fail(...)`. */
int store_fail(struct store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backend constructors: "rest" is the URL after "sqlite:" / the whole mysql:// URL. */
int store_sqlite_open(const char *path, const char *query, struct store **ret,
                      char err[STORE_ERR_LEN]);
int store_mysql_open(const char *url, struct store **ret, char err[STORE_ERR_LEN]);

/* Number of migrations in a list, i.e. the latest version. */
int store_migrations_latest(const struct migration *m);

/*
 * Splits a migration script into statements at ';' that ends a line.
 * Calls fn for each non-empty statement (NUL-terminated copy); stops on error.
 */
int store_split_sql(const char *sql, int (*fn)(const char *stmt, void *ctx), void *ctx);

/* The highest seq the batch holds for device_pk (0 when none carries one). */
int64_t store_batch_device_max_seq(const struct store_batch_item *items, size_t n,
                                   int64_t device_pk);

/*
 * The device_pk of every item marked inserted, ascending and each once, in a
 * new array (*ret, freed by the caller; NULL when *ret_n is 0): the devices
 * whose data_version the batch moves, in one lock order for every writer.
 * Returns 0 or -ENOMEM.
 */
/*
 * The rollup deltas of the items marked inserted (rollup_build(), sorted by
 * key; *ret freed by the caller). Returns 0 or -ENOMEM.
 */
int store_batch_rollup_deltas(const struct store_batch_item *items, size_t n,
                              struct rollup_delta **ret, size_t *ret_n);
int store_batch_inserted_devices(const struct store_batch_item *items, size_t n, int64_t **ret,
                                 size_t *ret_n);

/* The readings table's NOT NULL columns are all present (SQLite's OR IGNORE would skip it). */
bool store_reading_complete(const struct reading *r);

/* The rollups columns after device_pk, period, bucket_ms, in the order backends bind them:
   n, first_ts_ms, last_ts_ms, then per metric [<m>_n,] <m>_sum, <m>_min, <m>_max, then energy
   min/max pairs. */
const char *store_rollup_columns(void);
/* How many values store_rollup_columns() lists. */
int store_rollup_ncols(void);
/*
 * The update half of the rollup upsert: "col = <how it combines>" for every
 * column of store_rollup_columns(), NULL-aware. excluded is what goes before
 * and after a column's name to name its new value ({"excluded.", ""} for
 * SQLite, {"VALUES(", ")"} for MariaDB); least and
 * greatest are the two-argument min and max ("min"/"max", "LEAST"/"GREATEST").
 * Returns a string the caller frees, or NULL on ENOMEM.
 */
char *store_rollup_update_sql(const char *const excluded[2], const char *least,
                              const char *greatest);

/* SELECT list of the readings columns in table order: seq, ts_ms, reals..., counters... */
const char *store_reading_columns(void);

/* Capture samples in the database: v,i pairs interleaved as little-endian float32. */
#define CAPTURE_PAIR_BYTES 8
/* Fills ret->v and ret->i (allocated) from a blob of n pairs; -EIO when its size is wrong. */
int store_capture_unpack(const void *blob, size_t len, size_t n, struct capture_rec *ret);
/* "pending", "complete", "failed" back to the enum; unknown text reads as failed. */
enum capture_status store_capture_status_parse(const char *text);

/*
 * SELECT list of a rollup row in struct rollup_rec order: bucket_ms, n,
 * first_ts_ms, last_ts_ms, then per metric n, sum, min, max, then the energy
 * import min, max and export min, max (4 + 4 * RM__COUNT + 4 columns).
 */
const char *store_rollup_select_columns(void);
#define STORE_ROLLUP_NCOLS (4 + 4 * RM__COUNT + 4)

#endif
