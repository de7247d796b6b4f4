/*
 * store: everything meter-server keeps, behind one backend-neutral interface.
 *
 * Two backends implement it: SQLite (the embedded default, "sqlite:PATH") and
 * MySQL/MariaDB through libmariadb ("mysql://USER[:PASS]@HOST[:PORT]/DB").
 * One contract test suite runs against both.
 *
 * A struct store is one database connection: use it from one thread at a
 * time (store_pool hands them out to threads). Every function returns 0 or a
 * negative errno:
 *   -ENOENT    the user/device/reading does not exist
 *   -EEXIST    a unique name is taken, a binding exists, or an idempotency
 *              key was reused for a different request
 *   -ERANGE    a balance would leave its allowed range
 *   -EPERM     the change would leave no enabled admin
 *   -ENOTCONN  the connection to the database was lost; close the store and
 *              open a new one (store_pool does this)
 *   -EDEADLK   a deadlock ended the transaction (rolled back); the call may be
 *              tried again
 *   -EIO       any other database error; store_errmsg() says what
 * Functions never log; the caller logs once. Messages never contain secrets.
 *
 * Money is integer fen (1/100 yuan), energy integer mWh, time integer ms
 * since the Unix epoch (UTC).
 */
#ifndef SMARTMETER_STORE_H
#define SMARTMETER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_meta.h"
#include "reading_fields.h"
#include "rollup.h"
#include "telemetry.h"

struct store;

enum role { ROLE_USER = 0, ROLE_OPERATOR = 1, ROLE_ADMIN = 2 };
const char *role_name(enum role role);
/* User names are 1..64 of [A-Za-z0-9_.@-]. */
bool username_valid(const char *name);
int role_parse(const char *name, enum role *ret_role);

#define USERNAME_MAX        64
#define PASSWORD_HASH_MAX   160
#define SECRET_HASH_LEN     64 /* hex of a 32-byte hash */
#define IDEMPOTENCY_KEY_MAX 128
/* Largest balance we hold: 10^11 yuan, so any balance prints exactly as a double too. */
#define STORE_BALANCE_MAX_FEN INT64_C(10000000000000)

struct user_rec {
    int64_t id;
    char username[USERNAME_MAX + 1];
    char password_hash[PASSWORD_HASH_MAX + 1];
    enum role role;
    int64_t tokens_valid_after_ms; /* tokens issued up to this instant are refused */
    int64_t created_ms;            /* tokens issued before this are refused too */
    bool disabled;                 /* may not log in; its tokens are refused */
};

enum device_status { DEVICE_STATUS_UNKNOWN = 0, DEVICE_STATUS_ONLINE, DEVICE_STATUS_OFFLINE };
const char *device_status_name(enum device_status status);

struct device_rec {
    int64_t id; /* internal key */
    char device_id[DEVICE_ID_MAX + 1];
    char secret_hash[SECRET_HASH_LEN + 1];
    int64_t balance_fen;
    enum device_status status;
    int64_t status_ms;
    int64_t created_ms;
    int64_t data_version; /* moves whenever the device's stored readings change */
};

/* One bucket of downsampled history. */
struct reading_bucket {
    int64_t start_ms;
    int64_t count;
    uint64_t real_present; /* bit f: avg/min/max[f] are set */
    double avg[RR__COUNT], min[RR__COUNT], max[RR__COUNT];
    uint64_t counter_present; /* bit c: counter_last[c] is the bucket's highest value */
    int64_t counter_last[RC__COUNT];
};

struct recharge_result {
    int64_t ledger_id;
    int64_t new_balance_fen;
    bool replayed; /* the idempotency key had been used: nothing was credited now */
};

struct ledger_entry {
    int64_t id;
    int64_t amount_fen;
    int64_t balance_after_fen;
    char kind[16];
    char actor[USERNAME_MAX + 1]; /* empty when the actor was deleted */
    int64_t created_ms;
};

/* Callbacks return 0 to continue or a negative errno to stop (which is returned). */
typedef int (*store_user_cb)(const struct user_rec *u, void *ctx);
typedef int (*store_device_cb)(const struct device_rec *d, void *ctx);
typedef int (*store_reading_cb)(const struct reading *r, void *ctx);
typedef int (*store_bucket_cb)(const struct reading_bucket *b, void *ctx);
typedef int (*store_ledger_cb)(const struct ledger_entry *e, void *ctx);
typedef int (*store_name_cb)(const char *name, void *ctx);

#define STORE_ERR_LEN 256

/*
 * Opens a connection. Returns 0, or -EINVAL for a bad URL and -EIO/-ENOTCONN
 * when the database cannot be reached, with a message in err (no password).
 */
int store_open(const char *url, struct store **ret, char err[STORE_ERR_LEN]);

/*
 * Where a component that keeps its own connection (the writer, MQTT ingest,
 * retention) gets it, and a new one after -ENOTCONN: a URL, or (in tests) a
 * function that hands out a store of its own, a fake one included.
 */
struct store_source {
    const char *url; /* used when open is NULL */
    int (*open)(void *ctx, struct store **ret, char err[STORE_ERR_LEN]);
    void *ctx;
};
/* Opens a connection from src: store_open(src->url), or src->open(src->ctx). */
int store_source_open(const struct store_source *src, struct store **ret, char err[STORE_ERR_LEN]);
/* Copies src into *dst, the URL duplicated: 0, -EINVAL (neither url nor open) or -ENOMEM. */
int store_source_copy(struct store_source *dst, const struct store_source *src);
/* Frees what store_source_copy() allocated. */
void store_source_clear(struct store_source *src);
void store_close(struct store *s);                /* NULL is fine */
const char *store_backend(const struct store *s); /* "sqlite" or "mysql" */
const char *store_errmsg(const struct store *s);

/* Highest schema version this build knows, and the database's current one. */
int store_schema_latest(const struct store *s);
int store_schema_version(struct store *s, int *ret_version);
/* Applies missing migrations in order; idempotent and safe to run concurrently. */
int store_migrate(struct store *s, int *ret_applied);

/* Users */
int store_user_add(struct store *s, const char *username, const char *password_hash, enum role role,
                   int64_t *ret_id);
int store_user_by_name(struct store *s, const char *username, struct user_rec *ret);
int store_user_by_id(struct store *s, int64_t id, struct user_rec *ret);
int store_user_list(struct store *s, store_user_cb cb, void *ctx);
/*
 * A page of the accounts: cb for at most limit (1..10000) users with
 * username > after ("" or NULL from the start), ascending (a keyset, as
 * store_device_page()); *ret_more is set when another comes after the last
 * one given.
 */
int store_user_page(struct store *s, const char *after, size_t limit, store_user_cb cb, void *ctx,
                    bool *ret_more);
/* How many accounts there are. */
int store_user_count(struct store *s, int64_t *ret_total);

/* A change to an account for store_user_update(): each part applies when its flag is set. */
struct user_change {
    bool set_role;
    enum role role;
    bool set_disabled;
    bool disabled;
    const char *password_hash; /* NULL: unchanged */
    int64_t revoke_tokens_ms;  /* tokens issued up to this instant stop working (0: none) */
};
/*
 * Changes an account in one transaction; tokens_valid_after_ms only moves
 * forward. -ENOENT when it does not exist; -EPERM when the change would leave
 * no enabled admin (the last one cannot be demoted or disabled), with nothing
 * changed. *ret (optional) gets the account as it now is.
 */
int store_user_update(struct store *s, int64_t user_id, const struct user_change *ch,
                      struct user_rec *ret);
/*
 * Deletes an account: its bindings and WeChat binding go with it; ledger rows
 * and captures it made stay, their actor unset. Ids are never handed out
 * again. -ENOENT when it does not exist; -EPERM for the last enabled admin.
 */
int store_user_delete(struct store *s, int64_t user_id);

/* Devices */
/* Adds a device and, when owner_user_id is not 0, binds it to that user, in one transaction. */
int store_device_add(struct store *s, const char *device_id, const char *secret_hash,
                     int64_t owner_user_id, int64_t *ret_id);
int store_device_by_name(struct store *s, const char *device_id, struct device_rec *ret);
/* All devices (user_id 0) or those bound to user_id, ordered by device_id. */
int store_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx);
/*
 * The same devices in a new array (*ret, the caller frees it; *ret_n of them),
 * for a caller that queries the store about each: a connection runs one
 * statement at a time. -E2BIG when there are more than max; nothing is
 * written to *ret and *ret_n on failure.
 */
int store_device_array(struct store *s, int64_t user_id, size_t max, struct device_rec **ret,
                       size_t *ret_n);
int store_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                            int64_t at_ms);

/*
 * Lists that scale (docs/api.md "GET /api/devices"): a page of the devices
 * user_id may see (0: every device) that pass a filter, in device_id order
 * after a key, and how many pass it in all. Filters combine with AND; a
 * filter left at its zero value does not filter.
 */
#define DEVICE_QUERY_MAX       64                     /* characters of a search */
#define DEVICE_QUERY_BYTES_MAX (4 * DEVICE_QUERY_MAX) /* its UTF-8 at most */
struct device_filter {
    bool has_status;
    enum device_status status;
    const char *site; /* device_meta.site equal to this; NULL: any */
    bool has_balance_below;
    int64_t balance_below_fen; /* balance < this */
    bool open_alarms;          /* has a raised or acknowledged alarm */
    /* A substring of device_id or of the name, ASCII case-insensitive
       (a prefix of the id is a substring too); NULL or "": any. At most
       DEVICE_QUERY_BYTES_MAX bytes, no control character (-EINVAL). */
    const char *query;
};
/* A device of a page: its row, with the name and site its list shows. */
struct device_page_item {
    struct device_rec d;
    struct device_meta names; /* DM_NAME and DM_SITE only (present says which are set) */
};
typedef int (*store_device_page_cb)(const struct device_page_item *it, void *ctx);
/*
 * Calls cb for at most limit (1..10000) devices with device_id > after
 * ("" from the start), ascending: a keyset, so devices added while a caller
 * walks the pages never shift the rest. Sets *ret_more when a device past
 * the last one given passes the filter too.
 */
int store_device_page(struct store *s, int64_t user_id, const struct device_filter *f,
                      const char *after, size_t limit, store_device_page_cb cb, void *ctx,
                      bool *ret_more);
/* How many of the devices user_id may see pass f. */
int store_device_count(struct store *s, int64_t user_id, const struct device_filter *f,
                       int64_t *ret_total);

/*
 * Fleet counts of the devices user_id may see (0: every device). In arrears
 * is what the cut-off rule cuts (docs/billing.md): a balance at or below the
 * device's cutoff_at (BILLING_CUTOFF_AT_DEFAULT_FEN without settings).
 */
struct device_summary {
    int64_t total, online, offline, unknown;
    int64_t in_arrears;
    int64_t with_open_alarms; /* devices with at least one open alarm */
    int64_t open_alarms;      /* open (raised or acknowledged) alarms of those devices */
};
int store_device_summary(struct store *s, int64_t user_id, struct device_summary *ret);

/*
 * Bulk provisioning: adds every row's device (secret hash, owner's binding,
 * name and site) in ONE transaction: all or none. owner, name and site may be
 * NULL. On failure nothing is stored, *ret_bad is the index of the row that
 * failed (n when the failure was not a row's) and the store's message says
 * why: -EEXIST (the device exists), -ENOENT (the owner is not a user),
 * -EINVAL (a field out of bounds). by names who imports, for device_meta.
 */
struct device_import_row {
    const char *device_id;
    const char *secret_hash;
    const char *owner;
    const char *name, *site;
};
int store_devices_import(struct store *s, const struct device_import_row *rows, size_t n,
                         const char *by, size_t *ret_bad);

/*
 * Device credentials and the log of their changes (migration 009). Every
 * operation that adds a device, deletes one or gives one a new secret logs
 * the device id in device_changes in the same transaction (store_device_add()
 * too); the broker provisioning (server/broker/broker.h) follows the log to
 * keep the broker's accounts in step. Code that changes devices.secret_hash or
 * deletes devices must go through these functions, or the broker keeps the
 * old account until its next full reconciliation.
 */
/*
 * Deletes a device and everything stored for it (readings, rollups,
 * captures, ledger, bindings) in one transaction. Ids are never handed out
 * again. -ENOENT when there is none.
 */
int store_device_delete(struct store *s, const char *device_id);
/* Gives a device a new secret hash (SECRET_HASH_LEN hex). -ENOENT when there is none. */
int store_device_set_secret(struct store *s, const char *device_id, const char *secret_hash);

struct device_change {
    int64_t id; /* ascending in the order of the changes' transactions' writes */
    char device_id[DEVICE_ID_MAX + 1];
    int64_t changed_ms;
};
typedef int (*store_change_cb)(const struct device_change *c, void *ctx);
/* Logged changes with id > after_id, by id, at most limit (1..10000). */
int store_device_changes(struct store *s, int64_t after_id, size_t limit, store_change_cb cb,
                         void *ctx);
/* The newest logged change's id; 0 when none is logged. */
int store_device_changes_latest(struct store *s, int64_t *ret_id);
/* Forgets changes logged before before_ms; *ret_deleted (may be NULL) counts them. */
int store_device_changes_prune(struct store *s, int64_t before_ms, size_t *ret_deleted);

/* Bindings between users and devices: who may see a device. */
int store_binding_add(struct store *s, int64_t user_id, int64_t device_pk);
int store_binding_remove(struct store *s, int64_t user_id, int64_t device_pk);
/* 0 when bound, -ENOENT when not. */
int store_binding_check(struct store *s, int64_t user_id, int64_t device_pk);
int store_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx);

/*
 * Stores one device's readings: store_readings_insert_batch() for a single
 * device (one transaction, rollups included). A (device, seq) already stored
 * is skipped, so replays are harmless; *ret_inserted counts new rows.
 * Readings without has_seq are numbered after both the device's highest
 * stored seq and the highest seq in the batch.
 */
int store_readings_insert(struct store *s, int64_t device_pk, const struct reading *r, size_t n,
                          size_t *ret_inserted);
/* One reading of a batch for store_readings_insert_batch(). */
struct store_batch_item {
    int64_t device_pk;
    struct reading reading; /* without has_seq, the store numbers it and writes the seq back */
    bool inserted;          /* set by the insert: stored by this call (not already there) */
    /* Set by the insert: a reading without seq found none left to take (the device's highest
       stored or batch seq is READING_SEQ_MAX) and was not stored; has_seq stays false. */
    bool no_seq_left;
};

/*
 * Stores readings of any number of devices in ONE transaction, with
 * multi-row inserts, and keeps the rollups table up to date in the same
 * transaction (only rows actually inserted count, so a replay changes no
 * rollup). A (device, seq) already stored, or repeated within the batch, is
 * skipped (inserted stays false). Readings without has_seq are numbered per
 * device after both its highest stored seq and its highest seq in the batch;
 * one that would pass READING_SEQ_MAX is not stored and is marked no_seq_left
 * (seqs never wrap or go out of range).
 * *ret_inserted counts the new rows. On any error nothing is stored and no
 * item is marked. Each device with a row inserted gets its devices.data_version
 * bumped by one in the same transaction (a pure replay bumps nothing). Items
 * of a device that no longer exists (deleted while a cache still knew it)
 * are skipped like duplicates.
 */
int store_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                size_t *ret_inserted);
/*
 * Promises that s serves only store_readings_insert_batch() from now on, so
 * the backend may begin its transactions implicitly (MariaDB: autocommit off,
 * which spares one START TRANSACTION round trip per batch). 0, or a negative
 * errno with store_errmsg() set.
 */
int store_dedicate_to_batches(struct store *s);

/* The rollup row of (device, period, bucket_ms) as stored; -ENOENT when there is none. */
int store_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period,
                     int64_t bucket_ms, struct rollup_delta *ret);

/* Readings with from_ms <= ts < to_ms, newest first, at most limit. */
int store_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                         size_t limit, store_reading_cb cb, void *ctx);
/* The same range in buckets of bucket_ms (aligned to the epoch), newest first, aggregating the
   fields of the group only (the others absent from every bucket). */
int store_readings_buckets_of(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                              int64_t bucket_ms, enum reading_fields fields, size_t limit,
                              store_bucket_cb cb, void *ctx);
/* As store_readings_buckets_of() with every field (READING_FIELDS_ALL). */
int store_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                           int64_t bucket_ms, size_t limit, store_bucket_cb cb, void *ctx);
/* The reading with the highest seq; -ENOENT when there is none. */
int store_reading_latest(struct store *s, int64_t device_pk, struct reading *ret);
/* Returns 0 to go on, or a negative errno that stops the walk and is returned. */
typedef int (*store_latest_of_cb)(int64_t device_pk, const struct reading *r, void *ctx);
/*
 * store_reading_latest() for each of device_pks[0..n) at once, in a few
 * statements (SQL_BULK_MAX devices each) rather than one a device: what a
 * list of devices shows. cb gets each device that has a reading, with it,
 * in no particular order; a device without readings (or without a row) is
 * left out.
 */
int store_readings_latest_of(struct store *s, const int64_t *device_pks, size_t n,
                             store_latest_of_cb cb, void *ctx);

/*
 * Credits amount_fen (> 0) to a device and records it in the ledger, in one
 * transaction. With an idempotency key, the first call credits and later
 * calls with the same actor and key return the first result with replayed
 * set; the same key for another device or amount gives -EEXIST.
 */
int store_recharge(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                   const char *idempotency_key, struct recharge_result *ret);
/* Newest first. */
int store_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                      void *ctx);
/*
 * A page of a device's ledger, newest first: at most limit (1..10000)
 * entries with id < before_id (0: from the newest), a keyset on the id;
 * *ret_more is set when an older entry follows the last one given.
 */
int store_ledger_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                      store_ledger_cb cb, void *ctx, bool *ret_more);
/* How many entries a device's ledger has. */
int store_ledger_count(struct store *s, int64_t device_pk, int64_t *ret_total);

/*
 * Waveform captures (docs/protocol.md, "Waveform capture"). A capture is
 * created pending when an operator asks for it, then completed once with the
 * meter's samples and their analysis, or failed with a message. Only pending
 * captures change: completing or failing one that is not pending (or does
 * not exist) is -ENOENT. Request ids are unique per device (-EEXIST).
 */
#define CAPTURE_REQUEST_ID_MAX 64
#define CAPTURE_MESSAGE_MAX    255
/* Channels of a multi-channel capture and the length of a channel's name ("vab"). */
#define CAPTURE_CHANNELS_MAX     6
#define CAPTURE_CHANNEL_NAME_MAX 3

enum capture_status { CAPTURE_PENDING = 0, CAPTURE_COMPLETE, CAPTURE_FAILED };
const char *capture_status_name(enum capture_status status);

struct capture_rec {
    int64_t id;
    int64_t device_pk;
    char request_id[CAPTURE_REQUEST_ID_MAX + 1];
    char requested_by[USERNAME_MAX + 1]; /* user name; empty when none or the account is gone */
    int64_t requested_ms;
    int32_t duration_ms; /* as requested */
    enum capture_status status;
    char message[CAPTURE_MESSAGE_MAX + 1]; /* why it failed, or a note on a complete one */
    /* Set once complete (0 before): */
    double rate_hz, nominal_hz;
    int64_t start_ms;    /* wall-clock time of the first sample */
    int64_t received_ms; /* when it completed or failed */
    size_t samples;      /* samples per channel */
    /* The channels, in order: single phase "1p2w" with v, i (every capture before three-phase
       metering); three-phase as the meter sent them (docs/protocol.md). */
    char wiring[8];
    size_t channels;
    char channel[CAPTURE_CHANNELS_MAX][CAPTURE_CHANNEL_NAME_MAX + 1];
    /* Owned by the record, freed by capture_rec_clear(); NULL when absent or not asked for: */
    char *analysis;                 /* JSON object text */
    float *x[CAPTURE_CHANNELS_MAX]; /* channel k's samples, volts or amperes, `samples` each */
    float *v, *i;                   /* single phase: x[0] and x[1]; NULL for three-phase */
};
/* Frees analysis and the samples (and sets them NULL). NULL is fine. */
void capture_rec_clear(struct capture_rec *c);

/* What a meter sent, for store_capture_complete(). */
struct capture_data {
    double rate_hz, nominal_hz;
    int64_t start_ms, received_ms;
    size_t samples;
    const float *v, *i; /* single phase (channels 0): volts and amperes */
    /* Multi-channel (channels 2..CAPTURE_CHANNELS_MAX): the wiring ("3p4w"), each channel's
       name (letters, at most CAPTURE_CHANNEL_NAME_MAX) and samples; v and i are then unused. */
    const char *wiring;
    size_t channels;
    const char *channel[CAPTURE_CHANNELS_MAX];
    const float *x[CAPTURE_CHANNELS_MAX];
    const char *analysis; /* JSON object text, or NULL when the capture was too short */
    const char *message;  /* NULL, or a note ("too short to analyse") */
};

typedef int (*store_capture_cb)(const struct capture_rec *c, void *ctx);

int store_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                         int64_t requested_by_user_id, int32_t duration_ms, int64_t requested_ms,
                         int64_t *ret_id);
int store_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                           const struct capture_data *d);
/* The message is kept as printable UTF-8 (anything else as '?'), cut at a character boundary to
   at most CAPTURE_MESSAGE_MAX bytes. */
int store_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                       const char *message, int64_t at_ms);
/* One capture of a device with its analysis, and its samples when with_samples. */
int store_capture_get(struct store *s, int64_t device_pk, int64_t capture_id, bool with_samples,
                      struct capture_rec *ret);
/* The capture a request id names, without analysis or samples. */
int store_capture_by_request(struct store *s, int64_t device_pk, const char *request_id,
                             struct capture_rec *ret);
/* A device's captures, newest first, without analysis or samples. */
int store_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                       void *ctx);
/* A page of them, newest first: at most limit (1..10000) with id < before_id (0: from the
   newest), a keyset on the id; *ret_more is set when an older one follows the last given. */
int store_capture_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                       store_capture_cb cb, void *ctx, bool *ret_more);
/* How many captures a device has. */
int store_capture_count(struct store *s, int64_t device_pk, int64_t *ret_total);

/*
 * Maximum demand per device and month (migration 010, docs/api.md "Maximum
 * demand"), kept as readings are stored, in the same transaction: the
 * largest demand_w a stored reading carried in the month (in the site's time
 * zone) and that reading's time, and the largest demand_max_w the meter
 * itself reported for the month with the time it gave (demand_max_ts; the
 * reading's own time when it gave none). A replayed duplicate changes
 * nothing; a larger value replaces a smaller one, an equal one keeps the
 * earlier time.
 */
#define DEMAND_MONTH_LEN 7 /* "YYYY-MM" */

struct demand_month {
    char month[DEMAND_MONTH_LEN + 1];
    bool has_demand; /* demand_max_w, demand_max_ms are set */
    double demand_max_w;
    int64_t demand_max_ms;
    bool has_meter; /* meter_max_w, meter_max_ms are set */
    double meter_max_w;
    int64_t meter_max_ms;
    int64_t readings; /* stored readings of the month that carried either */
};
typedef int (*store_demand_cb)(const struct demand_month *d, void *ctx);

/* The month "YYYY-MM" of a device; -ENOENT when no reading of it carried demand. */
int store_demand_month(struct store *s, int64_t device_pk, const char *month,
                       struct demand_month *ret);
/* A device's months, newest first, at most limit. */
int store_demand_list(struct store *s, int64_t device_pk, size_t limit, store_demand_cb cb,
                      void *ctx);

/*
 * WeChat logins (migration 005): at most one WeChat user (openid, under one
 * appid) per account and one account per openid. Only the openid and appid
 * are kept; WeChat's session_key never reaches the store.
 */
#define STORE_OPENID_MAX 64
#define STORE_APPID_MAX  64

struct wechat_binding_rec {
    int64_t user_id;
    char appid[STORE_APPID_MAX + 1];
    char openid[STORE_OPENID_MAX + 1];
    int64_t created_ms;
};

/*
 * Binds openid (of appid) to user_id. -EEXIST when the openid is bound to
 * any account or the account has a WeChat user bound already (the caller
 * tells which with the lookups below); -ENOENT when the user does not exist;
 * -EINVAL when appid or openid is empty or longer than its maximum.
 */
int store_wechat_bind(struct store *s, int64_t user_id, const char *appid, const char *openid,
                      int64_t at_ms);
/* The binding of an openid under appid; -ENOENT when there is none. */
int store_wechat_by_openid(struct store *s, const char *appid, const char *openid,
                           struct wechat_binding_rec *ret);
/* The binding of an account (under any appid); -ENOENT when there is none. */
int store_wechat_by_user(struct store *s, int64_t user_id, struct wechat_binding_rec *ret);
/* Removes the account's binding; -ENOENT when there was none. */
int store_wechat_unbind(struct store *s, int64_t user_id);

/*
 * The audit log (migration 008): what operators and admins did, by whom,
 * from which address, to what. Names, not ids, so entries outlive accounts
 * and devices. Never a secret: the caller writes what changed, not to what.
 */
#define AUDIT_ACTION_MAX  32
#define AUDIT_TARGET_MAX  128
#define AUDIT_ADDRESS_MAX 64
#define AUDIT_DETAIL_MAX  255

struct audit_rec {
    int64_t id; /* set by the store */
    int64_t at_ms;
    char actor[USERNAME_MAX + 1];        /* who: a user name, or "(cli)" */
    char action[AUDIT_ACTION_MAX + 1];   /* what: "user.delete", "device.secret", ... */
    char target[AUDIT_TARGET_MAX + 1];   /* to what: a user name, a device id */
    char address[AUDIT_ADDRESS_MAX + 1]; /* from where: the client address, or "local" */
    char detail[AUDIT_DETAIL_MAX + 1];   /* how: "role=operator", "amount=10.00", or "" */
};

typedef int (*store_audit_cb)(const struct audit_rec *e, void *ctx);

/* Appends an entry (its id is ignored). -EINVAL when a field is empty where it may not be. */
int store_audit_add(struct store *s, const struct audit_rec *e);
/* Entries with an id below before_id (0: from the newest), newest first, at most limit. */
int store_audit_list(struct store *s, int64_t before_id, size_t limit, store_audit_cb cb,
                     void *ctx);

/*
 * History: rollups and raw retention (sql/<dialect>/004_rollups.sql). The
 * ingest path keeps rollups up to date; these functions only read them, and
 * delete raw readings past their retention (rollups are kept).
 */
/* Periods and metrics: rollup.h (enum rollup_period, enum rollup_metric, rollup_metric_real). */

/* One rollup row. */
struct rollup_rec {
    int64_t bucket_ms; /* start of the UTC minute or hour, or the local midnight of a day */
    int64_t n;         /* readings in the bucket */
    int64_t first_ts_ms, last_ts_ms;
    int64_t metric_n[RM__COUNT]; /* readings that carried the metric (n for voltage, current) */
    double sum[RM__COUNT];
    double min[RM__COUNT], max[RM__COUNT]; /* meaningful only where metric_n > 0 */
    bool has_import, has_export;           /* the energy counters below are set */
    int64_t import_min_mwh, import_max_mwh;
    int64_t export_min_mwh, export_max_mwh;
};

/* The newest energy counter values before an instant (for the first bucket's energy). */
struct rollup_counters {
    bool has_import, has_export;
    int64_t import_max_mwh, export_max_mwh;
};

typedef int (*store_rollup_cb)(const struct rollup_rec *r, void *ctx);

/*
 * A device's rollup rows of one period with from_ms <= bucket_ms < to_ms,
 * oldest first (newest first when newest_first), at most limit. A range
 * scan of the rollups primary key; raw readings are never read.
 */
int store_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                        int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                        store_rollup_cb cb, void *ctx);
/* As store_rollups_query(), reading only the metrics of field group fields (the others read
   0): a single-phase history need not read the per-phase columns. */
int store_rollups_query_of(struct store *s, int64_t device_pk, enum rollup_period period,
                           int64_t from_ms, int64_t to_ms, bool newest_first,
                           enum reading_fields fields, size_t limit, store_rollup_cb cb, void *ctx);
/*
 * The largest import and export counters of the newest rows of period with
 * bucket_ms < before_ms that carry them (each counter on its own: the newest
 * row with an import counter, the newest with an export counter). A counter
 * no earlier row carries is left unset; never -ENOENT. Minute and hour rows
 * are searched over the local days holding the last two days before
 * before_ms; earlier, the day rows answer (the same value, as counters never
 * decrease), so a counter a device never sends costs no long walk.
 */
int store_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                                 int64_t before_ms, struct rollup_counters *ret);
/*
 * For lists of devices, in a few statements (SQL_BULK_MAX devices each)
 * rather than one or two a device. ret[i] is what
 * store_rollup_counters_before(device_pks[i], ROLLUP_1D, before_ms) answers
 * (no counter for a pk that names no device); ret has n entries.
 */
int store_day_counters_before_of(struct store *s, const int64_t *device_pks, size_t n,
                                 int64_t before_ms, struct rollup_counters *ret);
/* Returns 0 to go on, or a negative errno that stops the walk and is returned. */
typedef int (*store_rollup_of_cb)(int64_t device_pk, const struct rollup_rec *r, void *ctx);
/*
 * Every rollup row of period with from_ms <= bucket_ms < to_ms of each of
 * device_pks[0..n) (distinct), every metric read: a device's rows come
 * together, oldest first, as store_rollups_query() gives them; devices in no
 * particular order. The caller keeps the range short (a day's row, an
 * hour's): there is no limit.
 */
int store_rollups_of(struct store *s, const int64_t *device_pks, size_t n,
                     enum rollup_period period, int64_t from_ms, int64_t to_ms,
                     store_rollup_of_cb cb, void *ctx);
/*
 * Deletes at most max_rows (1..100000) of a device's raw readings with
 * ts_ms < before_ms, oldest first, in one statement; *ret_deleted counts
 * them (fewer than max_rows: none older are left). Rollups are untouched.
 * When rows were deleted, the device's data_version moves in the same transaction.
 */
int store_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                 size_t max_rows, size_t *ret_deleted);

/*
 * Prepaid billing (docs/billing.md): tariff versions, each device's billing
 * run over its readings, the charge rows it adds to, and the settings the
 * cut-off rules read. device_pk STORE_PARK names the park's default tariff,
 * which a device without versions of its own is billed at (and one with its
 * own, until its first own version starts).
 */
#define STORE_PARK 0
/* The settings of a device that has set none (yuan 20.00 and 0.00, not protected). */
#define BILLING_LOW_BALANCE_DEFAULT_FEN INT64_C(2000)
#define BILLING_CUTOFF_AT_DEFAULT_FEN   INT64_C(0)

struct billing_settings {
    int64_t low_balance_fen; /* warn the user at or below this balance */
    int64_t cutoff_at_fen;   /* cut the supply off at or below this balance */
    bool is_protected;       /* never cut off automatically (a hospital, a pump) */
    /* No-cut-off time (cutoff.h): local minutes [from, to) of every day (from == to: none), */
    int no_cutoff_from_min, no_cutoff_to_min;
    bool no_cutoff_weekends; /* weekend days that the site calendar does not make working days */
    bool no_cutoff_holidays; /* the site calendar's holidays */
    bool is_default;         /* nothing was set: the defaults above */
    int64_t updated_ms;      /* 0 when is_default */
};

/* A change: only the fields whose has_ flag is set. */
struct billing_settings_change {
    bool has_low_balance, has_cutoff_at, has_protected;
    bool has_no_cutoff_hours, has_no_cutoff_weekends, has_no_cutoff_holidays;
    int64_t low_balance_fen, cutoff_at_fen;
    bool is_protected;
    int no_cutoff_from_min, no_cutoff_to_min; /* 0..1439 each */
    bool no_cutoff_weekends, no_cutoff_holidays;
};

/* What one billing run of a device did (store_billing_run()). */
struct billing_run_result {
    size_t readings;     /* readings billing dealt with */
    int64_t energy_mwh;  /* billed now */
    int64_t fen;         /* charged now (one ledger entry of kind "charge" when > 0) */
    int64_t balance_fen; /* the balance after it (set when fen > 0) */
    size_t events;       /* billing events recorded */
    bool waiting;        /* stopped at a gap of seq: run again at wait_until_ms */
    int64_t wait_until_ms;
    bool more; /* readings remain after the frontier: run again now */
};

/* A charge row: what a device consumed in a wall-clock hour at one price. */
struct charge_row {
    int64_t hour_ms;
    int64_t version_ms; /* effective_from of the tariff version, INT64_MIN when unpriced */
    uint32_t period;
    char label[16];
    int64_t price; /* 0.0001 yuan/kWh units */
    int64_t energy_mwh;
    int64_t amount_nfen; /* energy_mwh * price: 10^-8 fen */
    int64_t fen;         /* whole fen charged for it */
    int64_t first_ms, last_ms;
};
typedef int (*store_charge_cb)(const struct charge_row *c, void *ctx);

struct tariff;

/*
 * Adds tariff version t for a device (or STORE_PARK). Refuses with -ESTALE a
 * version starting at or before what billing has already billed for the
 * device (for the park: for any device), since billed consumption is never
 * priced again; -EEXIST when a version starts at the same instant.
 */
int store_tariff_add(struct store *s, int64_t device_pk, const struct tariff *t);
/*
 * The tariff versions a device is billed at, ascending (its own, after the
 * park's until its first own one starts): at most max of them, the newest
 * ones, or all those after the one in force at from_ms when fewer.
 * *ret_n counts them. 0 or a negative errno (-EIO for a stored version that
 * does not read back).
 */
int store_tariff_versions(struct store *s, int64_t device_pk, int64_t from_ms, struct tariff *v,
                          size_t max, size_t *ret_n);
/* The settings of a device (the defaults when it has set none). */
int store_billing_settings_get(struct store *s, int64_t device_pk, struct billing_settings *ret);
/* Changes the settings; *ret (optional) gets them as they are now. -ERANGE past the money range. */
int store_billing_settings_set(struct store *s, int64_t device_pk,
                               const struct billing_settings_change *ch,
                               struct billing_settings *ret);
/*
 * Bills the device's readings after its billing frontier (at most
 * CHARGE_MAX_BATCH of them), in one transaction: the billing state row
 * locked, charge_advance() (charge.h) with gap_wait_ms, the charge rows
 * grown, the fen charged written to the ledger as one entry of kind
 * "charge", the events and the new state saved. Running it again after a
 * crash at any point neither bills twice nor misses anything.
 */
int store_billing_run(struct store *s, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                      struct billing_run_result *ret);
/* A device's charge rows with from_ms <= hour_ms < to_ms, ascending, at most limit. */
int store_charges_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                        size_t limit, store_charge_cb cb, void *ctx);

/*
 * WeChat Pay orders (migration 013): one row per order a tenant placed for a
 * device, by out_trade_no. state moves created -> paid, created -> closed
 * (expired unpaid, closed at WeChat Pay) or created -> failed (the order was
 * never placed); a notification or query that proves payment moves any
 * unpaid state to paid, exactly once. Amounts in fen.
 */
#define PAYMENT_TRADE_NO_MAX  32
#define PAYMENT_PREPAY_ID_MAX 64

enum payment_state {
    PAYMENT_CREATED = 0,
    PAYMENT_PAID,
    PAYMENT_CLOSED,
    PAYMENT_FAILED,
};
/* "created", "paid", "closed", "failed" */
const char *payment_state_name(enum payment_state st);

struct payment_rec {
    int64_t id;
    char out_trade_no[PAYMENT_TRADE_NO_MAX + 1];
    char transaction_id[PAYMENT_TRADE_NO_MAX + 1]; /* "" until paid */
    int64_t device_pk;
    char device_id[DEVICE_ID_MAX + 1]; /* read only */
    int64_t user_id;                   /* 0 when the payer's account was deleted */
    int64_t amount_fen;
    char prepay_id[PAYMENT_PREPAY_ID_MAX + 1]; /* "" until WeChat Pay answered */
    enum payment_state state;
    int64_t created_ms, expires_ms, updated_ms;
    int64_t paid_ms;   /* 0 until paid */
    int64_t ledger_id; /* the payment's ledger row; 0 until paid */
};

struct payment_credit {
    int64_t ledger_id;
    int64_t new_balance_fen;
    int64_t device_pk;
    bool already; /* it had been credited before: nothing was credited now */
};

typedef int (*store_payment_cb)(const struct payment_rec *p, void *ctx);

/*
 * Records a new order in state created (p's out_trade_no, device_pk,
 * user_id, amount_fen, created_ms, expires_ms; the rest is ignored).
 * -EEXIST when out_trade_no is taken, -ERANGE for an amount out of range.
 */
int store_payment_create(struct store *s, const struct payment_rec *p, int64_t *ret_id);
/* An order by out_trade_no; -ENOENT when there is none. */
int store_payment_get(struct store *s, const char *out_trade_no, struct payment_rec *ret);
/* Keeps WeChat Pay's prepay_id of an order still created; -ENOENT otherwise. */
int store_payment_set_prepay(struct store *s, const char *out_trade_no, const char *prepay_id,
                             int64_t at_ms);
/* Moves an order still created to closed or failed; -ENOENT when it is not created. */
int store_payment_finish(struct store *s, const char *out_trade_no, enum payment_state state,
                         int64_t at_ms);
/*
 * Credits a paid order, in one transaction: locks the order, and when it is
 * not paid yet moves it to paid with transaction_id and writes the ledger
 * entry of kind "payment" (the ledger's one operation); when it is paid
 * already, credits nothing and answers already (the same transaction_id) or
 * -EEXIST (another one). -ENOENT for an unknown order, -ERANGE when the
 * balance would leave its range.
 */
int store_payment_credit(struct store *s, const char *out_trade_no, const char *transaction_id,
                         int64_t paid_ms, struct payment_credit *ret);
/* A device's orders, newest first, at most limit; user_id > 0: only that user's. */
int store_payments_of_device(struct store *s, int64_t device_pk, int64_t user_id, size_t limit,
                             store_payment_cb cb, void *ctx);
/* Orders still created with created_ms < created_before_ms, oldest first, at most limit. */
int store_payments_open(struct store *s, int64_t created_before_ms, size_t limit,
                        store_payment_cb cb, void *ctx);

/*
 * Commands to meters (server/commands/, migration 012): each kept until it
 * is done, failed or expired, with who asked for it (a user name or a rule,
 * "rule:cutoff") and why. States: queued -> sent (again while unanswered) ->
 * acknowledged (the meter answered "ok") -> done (a reading confirms it);
 * failed (the meter refused, or a newer relay command of the device took its
 * place); expired (not acknowledged before expires_ms). Ids are the request
 * ids on the wire, unique over all devices (-EEXIST).
 */
#define STORE_COMMAND_ID_MAX     64
#define STORE_COMMAND_ACTOR_MAX  128
#define STORE_COMMAND_REASON_MAX 512
#define STORE_COMMAND_MSG_MAX    255
/* Remote operations' kinds (migration 015): "read_status", "set_interval", "sync_clock". */
#define STORE_COMMAND_RESULT_MAX 2048
/* Outstanding commands one store_commands_due() call hands out at most. */
#define STORE_COMMANDS_DUE_MAX 256

enum command_state {
    CMD_QUEUED = 0,
    CMD_SENT,
    CMD_ACKNOWLEDGED,
    CMD_DONE,
    CMD_FAILED,
    CMD_EXPIRED,
    CMD__COUNT
};
/* "queued", "sent", ...; NULL out of range. */
const char *command_state_name(enum command_state s);
#define CMD_BIT(s) (1u << (s))

struct command_rec {
    char id[STORE_COMMAND_ID_MAX + 1];
    char device_id[DEVICE_ID_MAX + 1];
    char kind[16];       /* "relay", "capture", or a remote operation's (below) */
    bool relay_on;       /* kind "relay" */
    int32_t duration_ms; /* kind "capture" */
    int32_t interval_ms; /* kind "set_interval" */
    enum command_state state;
    char actor[STORE_COMMAND_ACTOR_MAX + 1];
    char reason[STORE_COMMAND_REASON_MAX + 1];
    int64_t created_ms, expires_ms;
    int64_t sent_ms; /* the last send, 0 before any */
    int64_t sends;
    int64_t finished_ms;                     /* 0 while outstanding */
    char message[STORE_COMMAND_MSG_MAX + 1]; /* why it failed, from the meter or the server */
    /* A remote operation's result: the meter's reply's "result" object as JSON text, "" before. */
    char result[STORE_COMMAND_RESULT_MAX + 1];
};

typedef int (*store_command_cb)(const struct command_rec *c, void *ctx);

/*
 * Queues c (state, sent_ms, sends, finished_ms ignored). A relay command
 * takes the place of the device's outstanding relay commands (they become
 * failed, "superseded by <id>") in the same transaction: the newest intent
 * wins. A capture command (its id the capture's request id) stands alone.
 * -EINVAL for a bad id, kind, duration or text.
 */
int store_command_add(struct store *s, const struct command_rec *c);
/* By id, of device_id when that is not NULL (-ENOENT otherwise). */
int store_command_get(struct store *s, const char *device_id, const char *id,
                      struct command_rec *ret);
/*
 * Moves command id from one of the states in from_mask (CMD_BIT) to state
 * `to` at at_ms (finished_ms set for done, failed and expired; sent_ms and
 * sends for sent); message may be NULL. -ENOENT when it is not in those states.
 */
int store_command_move(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                       int64_t at_ms, const char *message);
/*
 * Outstanding commands due for sending at now_ms: queued ones, and sent ones
 * last sent before resend_before_ms, of devices that are online, not past
 * expires_ms; oldest first, at most STORE_COMMANDS_DUE_MAX.
 */
int store_commands_due(struct store *s, int64_t now_ms, int64_t resend_before_ms,
                       store_command_cb cb, void *ctx);
/* Queued and sent commands past expires_ms become expired; *ret_n counts them (may be NULL). */
int store_commands_expire(struct store *s, int64_t now_ms, size_t *ret_n);
/* The device's newest command of kind (its current intent, for "relay"); -ENOENT: none. */
int store_command_latest(struct store *s, const char *device_id, const char *kind,
                         struct command_rec *ret);
/*
 * The relay as the device's newest reading that carries one reported it:
 * *ret_on, and *ret_ts_ms that reading's time. -ENOENT: no reading has it.
 */
int store_device_relay(struct store *s, int64_t device_pk, bool *ret_on, int64_t *ret_ts_ms);
/* Records an event of device_id (kind "balance.low", detail up to 255 bytes of text). */
int store_device_event_add(struct store *s, const char *device_id, int64_t at_ms, const char *kind,
                           const char *detail);

#define STORE_EVENT_KIND_MAX   32
#define STORE_EVENT_DETAIL_MAX 255
struct device_event {
    int64_t id;
    int64_t at_ms;
    char kind[STORE_EVENT_KIND_MAX + 1];
    char detail[STORE_EVENT_DETAIL_MAX + 1];
};
typedef int (*store_event_cb)(const struct device_event *e, void *ctx);
/*
 * device_id's events newest first, at most limit; only those whose kind
 * starts with kind_prefix when that is not NULL ("balance." for the
 * low-balance alert's state).
 */
int store_device_events(struct store *s, const char *device_id, const char *kind_prefix,
                        size_t limit, store_event_cb cb, void *ctx);
/* What a device may have that the rounds over every device look at (store_devices_having()). */
enum device_having {
    DEVICES_HAVING_COMMANDS, /* a command, of any kind */
    DEVICES_HAVING_EVENTS,   /* an event */
    DEVICES_HAVING_MONEY,    /* an entry on its ledger, or billing settings of its own */
    DEVICES_HAVING__COUNT
};
/*
 * The pks of the devices that have what, ascending, in a new array (*ret, the
 * caller frees it; *ret_n of them). One statement, whose cost grows with the
 * devices found, not with their rows: the rounds over every device (alarms,
 * the cut-off rules) skip the others without a query each. Nothing is written
 * on failure.
 */
int store_devices_having(struct store *s, enum device_having what, int64_t **ret, size_t *ret_n);
/* Whether pk is among pks[0..n), ascending (store_devices_having()). */
bool device_pks_have(const int64_t *pks, size_t n, int64_t pk);
/*
 * As store_command_move(), and records result (a JSON object's text, at
 * most STORE_COMMAND_RESULT_MAX bytes; NULL keeps the stored one) in the
 * same statement: a remote operation's answer.
 */
int store_command_finish(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                         int64_t at_ms, const char *message, const char *result);
/*
 * How many commands are in each state now (ret_by_state indexed by enum
 * command_state; 0 for a state none is in), in one statement: GET /metrics.
 * -ENOTSUP from a store without commands.
 */
int store_commands_count(struct store *s, uint64_t ret_by_state[CMD__COUNT]);
/* device_id's commands newest first (every kind), at most limit. */
int store_commands_of_device(struct store *s, const char *device_id, size_t limit,
                             store_command_cb cb, void *ctx);

/* --- The site calendar (holidays and working weekend days, for the no-cut-off time) --- */

#define STORE_CALENDAR_MAX 1000 /* days the calendar holds at most */
enum calendar_kind { CALENDAR_HOLIDAY = 1, CALENDAR_WORKDAY = 2 };
struct calendar_day {
    char day[11]; /* YYYY-MM-DD, the site's local date */
    enum calendar_kind kind;
};
typedef int (*store_calendar_cb)(const struct calendar_day *d, void *ctx);
/* Every listed day, ascending. */
int store_calendar_list(struct store *s, store_calendar_cb cb, void *ctx);
/* Replaces the calendar by days[0..n) in one transaction (-EINVAL: a bad day or kind, a day twice).
 */
int store_calendar_set(struct store *s, const struct calendar_day *days, size_t n);
/* What the calendar says of day: *ret_kind, or 0 when it does not list it. */
int store_calendar_day(struct store *s, const char *day, int *ret_kind);

/* --- Alarms of the state analysis (server/alarms/, migration 016; docs/alarms.md) --- */

#define STORE_ALARM_KIND_MAX     32
#define STORE_ALARM_SEVERITY_MAX 16
#define STORE_ALARM_SITE_MAX     256
#define STORE_ALARM_TEXT_MAX     255  /* message and acknowledgement note, bytes of UTF-8 */
#define STORE_ALARMS_MAX         1000 /* rows one store_alarms_list() call answers at most */

enum alarm_state { ALARM_RAISED, ALARM_ACKNOWLEDGED, ALARM_CLEARED, ALARM__COUNT };
#define ALARM_BIT(s)    (1u << (s))
#define ALARM_OPEN_MASK (ALARM_BIT(ALARM_RAISED) | ALARM_BIT(ALARM_ACKNOWLEDGED))
/* "raised", "acknowledged", "cleared". */
const char *alarm_state_name(enum alarm_state s);
/* The state named name; -EINVAL when it is none. */
int alarm_state_parse(const char *name, enum alarm_state *ret);

struct alarm_rec {
    int64_t id;
    char device_id[DEVICE_ID_MAX + 1];
    char kind[STORE_ALARM_KIND_MAX + 1];
    char severity[STORE_ALARM_SEVERITY_MAX + 1];
    enum alarm_state state;
    char site[STORE_ALARM_SITE_MAX + 1];
    bool has_value, has_limit;
    double value, limit; /* what was measured when it was raised, and the limit it crossed */
    char message[STORE_ALARM_TEXT_MAX + 1];
    int64_t raised_ms;
    int64_t acked_ms; /* 0: not acknowledged */
    char acked_by[USERNAME_MAX + 1];
    char ack_note[STORE_ALARM_TEXT_MAX + 1];
    int64_t cleared_ms; /* 0: not cleared */
};
typedef int (*store_alarm_cb)(const struct alarm_rec *a, void *ctx);

/*
 * Raises an alarm of a->device_id and a->kind (severity, site, value, limit,
 * message, raised_ms from a) unless one of them is open (raised or
 * acknowledged): then nothing changes. *ret_id (may be NULL) gets the new
 * alarm's id or the open one's; *ret_new (may be NULL) says which. 0,
 * -EINVAL, or the store's error.
 */
int store_alarm_raise(struct store *s, const struct alarm_rec *a, int64_t *ret_id, bool *ret_new);
/*
 * Clears the open alarm of device_id and kind at at_ms. *ret_id (may be
 * NULL) gets its id. -ENOENT when none is open.
 */
int store_alarm_clear(struct store *s, const char *device_id, const char *kind, int64_t at_ms,
                      int64_t *ret_id);
/*
 * Acknowledges alarm id (raised -> acknowledged) by user (a name) with note
 * (may be ""). -ENOENT: no such alarm; -EALREADY: acknowledged or cleared
 * already (nothing changes).
 */
int store_alarm_ack(struct store *s, int64_t id, const char *user, const char *note, int64_t at_ms);
/* Alarm id; -ENOENT when there is none. */
int store_alarm_get(struct store *s, int64_t id, struct alarm_rec *ret);

struct alarm_filter {
    int64_t user_id;       /* 0: every device's; else only devices bound to this user */
    const char *device_id; /* NULL: any */
    const char *site;      /* NULL: any */
    const char *severity;  /* NULL: any */
    unsigned state_mask;   /* ALARM_BIT()s; 0: any */
    int64_t since_ms;      /* raised at or after (0: any) */
    int64_t until_ms;      /* raised before (0: any) */
    int64_t before_id;     /* only ids below (paging; 0: any) */
    size_t limit;          /* 1..STORE_ALARMS_MAX */
};
/* The alarms that pass f, newest (highest id) first. */
int store_alarms_list(struct store *s, const struct alarm_filter *f, store_alarm_cb cb, void *ctx);
/* How many alarms pass f on every page together (f's before_id and limit aside). */
int store_alarms_count(struct store *s, const struct alarm_filter *f, int64_t *ret);

/* A device's setting of one rule over the site defaults; has_* false: the default. */
struct alarm_rule_override {
    char kind[STORE_ALARM_KIND_MAX + 1];
    bool has_enabled, has_limit, has_min_duration, has_hysteresis;
    bool enabled;
    double limit;
    int64_t min_duration_ms;
    double hysteresis;
};
typedef int (*store_alarm_rule_cb)(const struct alarm_rule_override *o, void *ctx);
/* device_id's overrides, by kind. */
int store_alarm_rules_get(struct store *s, const char *device_id, store_alarm_rule_cb cb,
                          void *ctx);
/*
 * Replaces device_id's overrides by o[0..n) in one transaction (an override
 * with nothing set is dropped). -EINVAL for a kind twice or a bad kind.
 */
int store_alarm_rules_set(struct store *s, const char *device_id,
                          const struct alarm_rule_override *o, size_t n, int64_t at_ms);
/* --- Device metadata (migration 015; the fields, units and bounds: device_meta.h) --- */

/*
 * device_pk's metadata into *ret: every field it was told, the others unset
 * (ret->present says which). A device nobody described, or none at all,
 * gives present == 0 and returns 0. Other errors: the store's.
 */
int store_device_meta_get(struct store *s, int64_t device_pk, struct device_meta *ret);
/*
 * Changes device_pk's metadata in one transaction: the fields in
 * clear_mask (DM_BIT) are cleared, then those present in set are set; the
 * others keep their values. actor (a user name) and now_ms are recorded.
 * *ret (may be NULL) gets the metadata as it now is. -ENOENT: no such device;
 * -EINVAL: a value out of its bounds (the message names it, nothing changed);
 * -EEXIST: another device has the same dtu_id and modbus_unit.
 */
int store_device_meta_update(struct store *s, int64_t device_pk, const struct device_meta *set,
                             uint32_t clear_mask, const char *actor, int64_t now_ms,
                             struct device_meta *ret);

#endif
