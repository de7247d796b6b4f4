/*
 * ops_billing: prepaid billing in the store (store.h, "Prepaid billing";
 * docs/billing.md). The rules are charge.h's; this file keeps them
 * transactional.
 *
 * A billing run of a device, in one transaction:
 *   1. its device row is locked, then its billing_state row is created when
 *      missing and locked ({FOR_UPDATE}; SQLite's write lock holds already): runs of one device
 *      queue on it, and a tariff version added meanwhile is checked against
 *      the frontier it leaves;
 *   2. its tariff versions and at most CHARGE_MAX_BATCH readings after the
 *      frontier are read, and charge_advance() bills them;
 *   3. the deltas are added to the charge rows, the events recorded, the fen
 *      written to the ledger as one "charge" entry (ops_ledger_append(), the
 *      device row locked already), and
 *      the new state saved.
 * A crash before the commit leaves the state as it was, so the next run bills
 * the same readings the same way (charge.h, I4); after it, they are behind
 * the frontier and never billed again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "charge.h"
#include "jsonw.h"
#include "ops.h"
#include "tariff.h"
#include "timeutil.h"

/* Most stored versions one device's lookup reads (each list: its own, the park's). */
#define VERSIONS_SCAN_MAX 100000

/*
 * Locks the device row, then creates its state row when missing and reads it
 * locked. The device row comes first, as for every writer of the ledger and
 * of readings (whose foreign keys take shared locks on it): one lock order.
 */
static int lock_state(struct sql_store *q, int64_t device_pk, struct charge_state *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BILLING_DEVICE_LOCK, "SELECT id FROM devices WHERE id = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_row(q, st, "lock device", "no such device");
    db_reset(st);
    if (!r)
        r = sql_stmt(q, SQL_BILLING_STATE_ENSURE,
                     "{INSERT_IGNORE} INTO billing_state (device_pk) VALUES (?)", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_run(q, st, "create billing state");
    if (r == -ENOENT)
        return store_fail(&q->base, -ENOENT, "no such device");
    if (!r)
        r = sql_stmt(q, SQL_BILLING_STATE_LOCK,
                     "SELECT started, seq, ts_ms, import_mwh, remainder_nfen, waiting_since_ms, "
                     "exchange_next FROM billing_state WHERE device_pk = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_row(q, st, "lock billing state", "no such device");
    if (r)
        return r;
    memset(ret, 0, sizeof(*ret));
    ret->started = db_col_int(st, 0) != 0;
    int64_t seq = db_col_int(st, 1);
    ret->ts_ms = db_col_int(st, 2);
    ret->import_mwh = db_col_int(st, 3);
    ret->remainder_nfen = db_col_int(st, 4);
    ret->waiting_since_ms = db_col_int(st, 5);
    ret->exchange_next = db_col_int(st, 6) != 0;
    db_reset(st);
    if (seq < 0 || ret->import_mwh < 0 || ret->remainder_nfen < 0 ||
        ret->remainder_nfen >= CHARGE_NANOFEN_PER_FEN)
        return store_fail(&q->base, -EIO, "billing state of device %lld is out of range",
                          (long long)device_pk);
    ret->seq = (uint64_t)seq;
    return 0;
}

static int save_state(struct sql_store *q, int64_t device_pk, const struct charge_state *cs,
                      int64_t now_ms)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BILLING_STATE_SAVE,
                     "UPDATE billing_state SET started = ?, seq = ?, ts_ms = ?, import_mwh = ?, "
                     "remainder_nfen = ?, waiting_since_ms = ?, exchange_next = ?, updated_ms = ? "
                     "WHERE device_pk = ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, cs->started);
    db_bind_int(st, (int64_t)cs->seq);
    db_bind_int(st, cs->ts_ms);
    db_bind_int(st, cs->import_mwh);
    db_bind_int(st, cs->remainder_nfen);
    db_bind_int(st, cs->waiting_since_ms);
    db_bind_int(st, cs->exchange_next);
    db_bind_int(st, now_ms);
    db_bind_int(st, device_pk);
    return sql_run(q, st, "save billing state");
}

/*
 * Keeps in v[0..*n) (ascending) the version t: a version starting at or
 * before from_ms replaces every earlier one (only the last such is in force
 * at the frontier); later ones are appended while there is room (the first
 * ones after the frontier are those billing needs first).
 */
static void keep_version(struct tariff *v, size_t max, size_t *n, int64_t from_ms,
                         const struct tariff *t)
{
    if (t->effective_from_ms <= from_ms) {
        v[0] = *t;
        *n = 1;
    } else if (*n < max) {
        v[(*n)++] = *t;
    }
}

/* Reads the versions of owner (a device, or STORE_PARK) through keep_version(). */
static int read_versions(struct sql_store *q, int64_t owner, int64_t from_ms, struct tariff *v,
                         size_t max, size_t *ret_n, int64_t *ret_first_ms)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_TARIFF_VERSIONS,
                     "SELECT effective_from_ms, tariff FROM tariff_versions "
                     "WHERE COALESCE(device_pk, 0) = ? ORDER BY effective_from_ms LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, owner);
    db_bind_int(st, VERSIONS_SCAN_MAX);
    size_t n = 0;
    *ret_first_ms = INT64_MAX;
    while ((r = sql_step(q, st, "read tariff versions")) == 1) {
        size_t len = 0;
        const char *text = db_col_text(st, 1, &len);
        struct tariff t;
        char err[TARIFF_ERR_LEN];
        if (!text || tariff_parse(text, len, 0, &t, err) ||
            t.effective_from_ms != db_col_int(st, 0)) {
            db_reset(st);
            return store_fail(&q->base, -EIO, "a stored tariff version does not read back");
        }
        if (*ret_first_ms == INT64_MAX)
            *ret_first_ms = t.effective_from_ms;
        keep_version(v, max, &n, from_ms, &t);
    }
    db_reset(st);
    *ret_n = n;
    return r;
}

/* The device's versions: the park's until its own first one starts, then its own. */
static int load_versions(struct sql_store *q, int64_t device_pk, int64_t from_ms, struct tariff *v,
                         size_t max, size_t *ret_n)
{
    struct tariff *own = malloc(max * sizeof(*own));
    struct tariff *park = malloc(max * sizeof(*park));
    size_t n_own = 0, n_park = 0, n = 0;
    int64_t own_first = INT64_MAX, park_first = INT64_MAX;
    int r = own && park ? 0 : store_fail(&q->base, -ENOMEM, "tariff versions: out of memory");
    if (!r && device_pk != STORE_PARK)
        r = read_versions(q, device_pk, from_ms, own, max, &n_own, &own_first);
    if (!r)
        r = read_versions(q, STORE_PARK, from_ms, park, max, &n_park, &park_first);
    for (size_t i = 0; !r && i < n_park && park[i].effective_from_ms < own_first; i++)
        keep_version(v, max, &n, from_ms, &park[i]);
    for (size_t i = 0; !r && i < n_own; i++)
        keep_version(v, max, &n, from_ms, &own[i]);
    free(own);
    free(park);
    if (!r)
        *ret_n = n;
    return r;
}

int ops_tariff_versions(struct store *s, int64_t device_pk, int64_t from_ms, struct tariff *v,
                        size_t max, size_t *ret_n)
{
    return load_versions(SQL(s), device_pk, from_ms, v, max, ret_n);
}

/* The latest instant billed for any device (the park's versions reach them all). */
static int park_frontier(struct sql_store *q, struct charge_state *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BILLING_FRONTIER_MAX,
                     "SELECT MAX(ts_ms) FROM billing_state WHERE started = 1", NULL, &st);
    if (r)
        return r;
    r = sql_step(q, st, "read billing frontiers");
    memset(ret, 0, sizeof(*ret));
    if (r == 1 && !db_is_null(st, 0)) {
        ret->started = true;
        ret->ts_ms = db_col_int(st, 0);
    }
    db_reset(st);
    return r < 0 ? r : 0;
}

static int tariff_add_tx(struct sql_store *q, int64_t device_pk, const struct tariff *t,
                         const char *text)
{
    struct charge_state cs;
    int r = sql_begin(q);
    if (!r)
        r = device_pk == STORE_PARK ? park_frontier(q, &cs) : lock_state(q, device_pk, &cs);
    if (!r && !charge_version_allowed(&cs, t->effective_from_ms))
        r = store_fail(&q->base, -ESTALE, "effective_from must be after what is already billed");
    struct db_stmt *st = NULL;
    /* UNIQUE (device_pk, effective_from_ms) does not hold for the park's NULL key: asked here. */
    if (!r && device_pk == STORE_PARK)
        r = sql_stmt(q, SQL_TARIFF_PARK_TAKEN,
                     "SELECT 1 FROM tariff_versions WHERE device_pk IS NULL AND "
                     "effective_from_ms = ?",
                     NULL, &st);
    if (!r && device_pk == STORE_PARK) {
        db_bind_int(st, t->effective_from_ms);
        r = sql_step(q, st, "read the park's versions");
        db_reset(st);
        r = r == 1 ? store_fail(&q->base, -EEXIST, "a tariff version starts at that instant already")
                   : r;
    }
    if (!r)
        r = sql_stmt(q, SQL_TARIFF_ADD,
                     "INSERT INTO tariff_versions (device_pk, effective_from_ms, tariff, "
                     "created_ms) VALUES (?, ?, ?, ?)",
                     NULL, &st);
    if (!r) {
        db_bind_id(st, device_pk);
        db_bind_int(st, t->effective_from_ms);
        db_bind_text(st, text);
        db_bind_int(st, time_now_ms());
        r = sql_run(q, st, "add tariff version");
        if (r == -EEXIST)
            r = store_fail(&q->base, -EEXIST, "a tariff version starts at that instant already");
    }
    if (!r)
        r = sql_commit(q);
    sql_rollback(q);
    return r;
}

int ops_tariff_add(struct store *s, int64_t device_pk, const struct tariff *t)
{
    struct sql_store *q = SQL(s);
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, TARIFF_BODY_MAX);
    jsonw_init(&w, &b);
    tariff_write_json(&w, t);
    int r = jsonw_error(&w) ? store_fail(s, -ENOMEM, "tariff: out of memory") : 0;
    for (int attempt = 1; !r; attempt++) {
        r = tariff_add_tx(q, device_pk, t, dynbuf_str(&b));
        if (!sql_retry_deadlock(r, attempt))
            break;
        r = 0;
    }
    dynbuf_free(&b);
    return r;
}

static int read_readings(struct sql_store *q, int64_t device_pk, const struct charge_state *cs,
                         struct charge_reading *rd, size_t max, size_t *ret_n)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BILLING_READINGS,
                     "SELECT seq, ts_ms, energy_import_mwh FROM readings WHERE device_pk = ? "
                     "AND seq > ? AND energy_import_mwh IS NOT NULL ORDER BY seq LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, cs->started ? (int64_t)cs->seq : -1);
    sql_bind_limit(st, max);
    size_t n = 0;
    while ((r = sql_step(q, st, "read readings to bill")) == 1) {
        int64_t seq = db_col_int(st, 0);
        rd[n].seq = seq < 0 ? 0 : (uint64_t)seq;
        rd[n].ts_ms = db_col_int(st, 1);
        rd[n].import_mwh = db_col_int(st, 2);
        n++;
    }
    db_reset(st);
    *ret_n = n;
    return r;
}

/* Adds a run of deltas of one key to its charge row. */
static int add_charge(struct sql_store *q, int64_t device_pk, const struct charge_delta *d)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHARGE_ADD,
                     "INSERT INTO charges (device_pk, hour_ms, version_ms, period, label, price, "
                     "energy_mwh, amount_nfen, fen, first_ms, last_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "{ON_CONFLICT:device_pk, hour_ms, version_ms, period} "
                     "energy_mwh = energy_mwh + {NEW:energy_mwh}, "
                     "amount_nfen = amount_nfen + {NEW:amount_nfen}, fen = fen + {NEW:fen}, "
                     "first_ms = {LEAST}(first_ms, {NEW:first_ms}), "
                     "last_ms = {GREATEST}(last_ms, {NEW:last_ms})",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, d->hour_ms);
    db_bind_int(st, d->version_ms);
    db_bind_int(st, d->period);
    db_bind_text(st, tariff_label_name(d->label));
    db_bind_int(st, d->price);
    db_bind_int(st, d->energy_mwh);
    db_bind_int(st, d->amount_nfen);
    db_bind_int(st, d->fen);
    db_bind_int(st, d->first_ms);
    db_bind_int(st, d->last_ms);
    return sql_run(q, st, "add to charges");
}

static bool same_key(const struct charge_delta *a, const struct charge_delta *b)
{
    return a->hour_ms == b->hour_ms && a->version_ms == b->version_ms && a->period == b->period;
}

/* The deltas summed per key (consecutive ones share it), each sum added to its row. */
static int add_charges(struct sql_store *q, int64_t device_pk, const struct charge_result *res)
{
    int r = 0;
    for (size_t i = 0; !r && i < res->n_delta;) {
        struct charge_delta sum = res->delta[i++];
        for (; i < res->n_delta && same_key(&sum, &res->delta[i]); i++) {
            const struct charge_delta *d = &res->delta[i];
            if (__builtin_add_overflow(sum.energy_mwh, d->energy_mwh, &sum.energy_mwh) ||
                __builtin_add_overflow(sum.amount_nfen, d->amount_nfen, &sum.amount_nfen) ||
                __builtin_add_overflow(sum.fen, d->fen, &sum.fen))
                return store_fail(&q->base, -ERANGE, "a charge row overflows");
            sum.first_ms = sum.first_ms < d->first_ms ? sum.first_ms : d->first_ms;
            sum.last_ms = sum.last_ms > d->last_ms ? sum.last_ms : d->last_ms;
        }
        r = add_charge(q, device_pk, &sum);
    }
    return r;
}

static int add_events(struct sql_store *q, int64_t device_pk, const struct charge_result *res,
                      int64_t now_ms)
{
    int r = 0;
    for (size_t i = 0; !r && i < res->n_event; i++) {
        const struct charge_event *e = &res->event[i];
        struct db_stmt *st = NULL;
        r = sql_stmt(q, SQL_BILLING_EVENT_ADD,
                     "INSERT INTO billing_events (device_pk, kind, from_seq, to_seq, from_ts_ms, "
                     "to_ts_ms, from_import_mwh, to_import_mwh, created_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     NULL, &st);
        if (r)
            break;
        db_bind_int(st, device_pk);
        db_bind_text(st, charge_event_name(e->kind));
        db_bind_int(st, (int64_t)e->from_seq);
        db_bind_int(st, (int64_t)e->to_seq);
        db_bind_int(st, e->from_ts_ms);
        db_bind_int(st, e->to_ts_ms);
        db_bind_int(st, e->from_import_mwh);
        db_bind_int(st, e->to_import_mwh);
        db_bind_int(st, now_ms);
        r = sql_run(q, st, "record billing event");
    }
    return r;
}

static bool state_equal(const struct charge_state *a, const struct charge_state *b)
{
    return a->started == b->started && a->seq == b->seq && a->ts_ms == b->ts_ms &&
           a->import_mwh == b->import_mwh && a->remainder_nfen == b->remainder_nfen &&
           a->waiting_since_ms == b->waiting_since_ms && a->exchange_next == b->exchange_next;
}

/* What one run needs in memory, allocated once per call. */
struct run_buf {
    struct tariff v[CHARGE_MAX_VERSIONS];
    struct charge_reading rd[CHARGE_MAX_BATCH];
    struct charge_result res;
};

static int billing_tx(struct sql_store *q, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                      struct run_buf *b, struct billing_run_result *ret)
{
    struct charge_state cs = {0}, before;
    size_t nv = 0, n = 0;
    bool more = false;
    memset(ret, 0, sizeof(*ret));
    int r = sql_begin(q);
    if (!r)
        r = lock_state(q, device_pk, &cs);
    before = cs;
    if (!r)
        r = read_readings(q, device_pk, &cs, b->rd, CHARGE_MAX_BATCH, &n);
    if (!r && n == 0 && cs.waiting_since_ms == CHARGE_NOT_WAITING)
        goto out; /* nothing to bill */
    if (!r)
        r = load_versions(q, device_pk, cs.ts_ms, b->v, CHARGE_MAX_VERSIONS, &nv);
    if (!r) {
        struct charge_config cfg = {.gap_wait_ms = gap_wait_ms};
        r = charge_advance(&cs, b->v, nv, b->rd, n, now_ms, &cfg, &b->res);
        more = !r && b->res.more;
        if (r)
            r = store_fail(&q->base, r, "billing device %lld: %s", (long long)device_pk,
                           r == -ENOMEM ? "out of memory" : "a reading or tariff is out of range");
    }
    if (r || state_equal(&cs, &before))
        goto out;
    r = add_charges(q, device_pk, &b->res);
    if (!r)
        r = add_events(q, device_pk, &b->res, now_ms);
    if (!r && b->res.fen > 0)
        r = ops_ledger_append(q, device_pk, "charge", -b->res.fen, 0, NULL, NULL,
                              &ret->balance_fen);
    if (!r)
        r = save_state(q, device_pk, &cs, now_ms);
    if (!r)
        r = sql_commit(q);
    if (!r) {
        ret->readings = b->res.consumed;
        ret->energy_mwh = b->res.energy_mwh;
        ret->fen = b->res.fen;
        ret->events = b->res.n_event;
    }
out:
    if (!r) {
        ret->waiting = cs.waiting_since_ms != CHARGE_NOT_WAITING;
        ret->wait_until_ms = ret->waiting ? cs.waiting_since_ms + gap_wait_ms : 0;
        ret->more = (n == CHARGE_MAX_BATCH && !ret->waiting) || more;
    }
    sql_rollback(q); /* after a commit, or when nothing changed: nothing to undo */
    return r;
}

int ops_billing_run(struct store *s, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                    struct billing_run_result *ret)
{
    struct run_buf *b = malloc(sizeof(*b));
    if (!b)
        return store_fail(s, -ENOMEM, "billing: out of memory");
    charge_result_init(&b->res);
    int r;
    for (int attempt = 1;; attempt++) {
        r = billing_tx(SQL(s), device_pk, now_ms, gap_wait_ms, b, ret);
        if (!sql_retry_deadlock(r, attempt))
            break;
    }
    charge_result_free(&b->res);
    free(b);
    return r;
}

int ops_billing_settings_get(struct store *s, int64_t device_pk, struct billing_settings *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_BILLING_SETTINGS_GET,
                     "SELECT low_balance, cutoff_at, protected, updated_ms, no_cutoff_from_min, "
                     "no_cutoff_to_min, no_cutoff_weekends, no_cutoff_holidays FROM "
                     "billing_settings WHERE device_pk = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_step(q, st, "read billing settings");
    if (r < 0)
        return r;
    struct billing_settings out = {.low_balance_fen = BILLING_LOW_BALANCE_DEFAULT_FEN,
                                   .cutoff_at_fen = BILLING_CUTOFF_AT_DEFAULT_FEN,
                                   .is_default = true};
    if (r == 1) {
        r = db_col_money(st, 0, &out.low_balance_fen);
        if (!r)
            r = db_col_money(st, 1, &out.cutoff_at_fen);
        out.is_protected = db_col_int(st, 2) != 0;
        out.updated_ms = db_col_int(st, 3);
        int64_t from = db_col_int(st, 4), to = db_col_int(st, 5);
        /* Out of range is a row nobody wrote through the API: no quiet hours. */
        if (from >= 0 && from < 1440 && to >= 0 && to < 1440) {
            out.no_cutoff_from_min = (int)from;
            out.no_cutoff_to_min = (int)to;
        }
        out.no_cutoff_weekends = db_col_int(st, 6) != 0;
        out.no_cutoff_holidays = db_col_int(st, 7) != 0;
        out.is_default = false;
        if (r)
            r = sql_fail(q, r, "read billing settings");
    }
    db_reset(st);
    if (!r)
        *ret = out;
    return r;
}

static int settings_set_tx(struct sql_store *q, int64_t device_pk,
                           const struct billing_settings_change *ch, struct billing_settings *out)
{
    int r = sql_begin(q);
    if (!r)
        r = ops_billing_settings_get(&q->base, device_pk, out);
    if (r)
        goto out;
    if (ch->has_low_balance)
        out->low_balance_fen = ch->low_balance_fen;
    if (ch->has_cutoff_at)
        out->cutoff_at_fen = ch->cutoff_at_fen;
    if (ch->has_protected)
        out->is_protected = ch->is_protected;
    if (ch->has_no_cutoff_hours) {
        out->no_cutoff_from_min = ch->no_cutoff_from_min;
        out->no_cutoff_to_min = ch->no_cutoff_to_min;
    }
    if (ch->has_no_cutoff_weekends)
        out->no_cutoff_weekends = ch->no_cutoff_weekends;
    if (ch->has_no_cutoff_holidays)
        out->no_cutoff_holidays = ch->no_cutoff_holidays;
    out->is_default = false;
    out->updated_ms = time_now_ms();
    struct db_stmt *st = NULL;
    r = sql_stmt(q, SQL_BILLING_SETTINGS_PUT,
                 "INSERT INTO billing_settings (device_pk, low_balance, cutoff_at, protected, "
                 "updated_ms, no_cutoff_from_min, no_cutoff_to_min, no_cutoff_weekends, "
                 "no_cutoff_holidays) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                 "{ON_CONFLICT:device_pk} low_balance = {NEW:low_balance}, "
                 "cutoff_at = {NEW:cutoff_at}, protected = {NEW:protected}, "
                 "updated_ms = {NEW:updated_ms}, no_cutoff_from_min = {NEW:no_cutoff_from_min}, "
                 "no_cutoff_to_min = {NEW:no_cutoff_to_min}, "
                 "no_cutoff_weekends = {NEW:no_cutoff_weekends}, "
                 "no_cutoff_holidays = {NEW:no_cutoff_holidays}",
                 NULL, &st);
    if (r)
        goto out;
    db_bind_int(st, device_pk);
    db_bind_money(st, out->low_balance_fen);
    db_bind_money(st, out->cutoff_at_fen);
    db_bind_int(st, out->is_protected);
    db_bind_int(st, out->updated_ms);
    db_bind_int(st, out->no_cutoff_from_min);
    db_bind_int(st, out->no_cutoff_to_min);
    db_bind_int(st, out->no_cutoff_weekends);
    db_bind_int(st, out->no_cutoff_holidays);
    r = sql_run(q, st, "save billing settings");
    if (r == -ENOENT)
        r = store_fail(&q->base, -ENOENT, "no such device");
    if (!r)
        r = sql_commit(q);
out:
    sql_rollback(q);
    return r;
}

int ops_billing_settings_set(struct store *s, int64_t device_pk,
                             const struct billing_settings_change *ch, struct billing_settings *ret)
{
    struct billing_settings out;
    int r;
    for (int attempt = 1;; attempt++) {
        r = settings_set_tx(SQL(s), device_pk, ch, &out);
        if (!sql_retry_deadlock(r, attempt))
            break;
    }
    if (!r && ret)
        *ret = out;
    return r;
}

int ops_charges_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                      size_t limit, store_charge_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CHARGES_QUERY,
                     "SELECT hour_ms, version_ms, period, label, price, energy_mwh, amount_nfen, "
                     "fen, first_ms, last_ms FROM charges WHERE device_pk = ? AND hour_ms >= ? "
                     "AND hour_ms < ? ORDER BY hour_ms, version_ms, period LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, from_ms);
    db_bind_int(st, to_ms);
    sql_bind_limit(st, limit);
    while ((r = sql_step(q, st, "list charges")) == 1) {
        struct charge_row c;
        memset(&c, 0, sizeof(c));
        c.hour_ms = db_col_int(st, 0);
        c.version_ms = db_col_int(st, 1);
        c.period = (uint32_t)db_col_int(st, 2);
        r = sql_text(q, st, 3, c.label, sizeof(c.label));
        c.price = db_col_int(st, 4);
        c.energy_mwh = db_col_int(st, 5);
        c.amount_nfen = db_col_int(st, 6);
        c.fen = db_col_int(st, 7);
        c.first_ms = db_col_int(st, 8);
        c.last_ms = db_col_int(st, 9);
        if (!r)
            r = cb(&c, ctx);
        if (r)
            break;
    }
    db_reset(st);
    return r;
}
