/*
 * ops_rollups: the rollups table (sql/<dialect>/004_rollups.sql): what a
 * batch adds to it (multi-row upserts in the batch's transaction, rows in key
 * order so concurrent writers lock them in the same order), and reading it
 * back for history (store.h "History").
 *
 * Column order, from rollup_metrics[]: n, first_ts_ms, last_ts_ms, then per
 * metric [<m>_n,] <m>_sum, <m>_min, <m>_max, then the energy counters'
 * <e>_min_mwh, <e>_max_mwh.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sitetime.h"

/* What a rollup row is written as (after device_pk, period, bucket_ms), and read as into
   struct rollup_rec (bucket_ms first, and voltage and current counted by n). */
static char write_columns[2048], read_columns[2048], single_write_columns[2048];
static unsigned write_ncols, single_write_ncols;
static pthread_once_t columns_once = PTHREAD_ONCE_INIT;
/* The range queries that read only the metrics of a field group (newest first or not). */
static char group_query[READING_FIELDS__COUNT][2][2048];

/* Whether rollup metric m belongs to field group g. */
static bool metric_in(enum reading_fields g, int m)
{
    return reading_fields_reals(g) & (UINT64_C(1) << rollup_metric_real[m]);
}

static void build_group_query(enum reading_fields g, bool newest_first, char *out, size_t size)
{
    struct dynbuf b;
    dynbuf_init(&b, size - 1);
    dynbuf_addstr(&b, "SELECT bucket_ms, n, first_ts_ms, last_ts_ms");
    for (int k = 0; k < RM__COUNT; k++) {
        if (!metric_in(g, k))
            continue;
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted)
            dynbuf_addf(&b, ", %s_n", c);
        else
            dynbuf_addstr(&b, ", n");
        dynbuf_addf(&b, ", %s_sum, %s_min, %s_max", c, c, c);
    }
    for (int k = 0; k < RE__COUNT; k++) {
        const char *c = rollup_energy_columns[k];
        dynbuf_addf(&b, ", %s_min_mwh, %s_max_mwh", c, c);
    }
    dynbuf_addf(&b,
                " FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms >= ? AND "
                "bucket_ms < ? ORDER BY bucket_ms %s LIMIT ?",
                newest_first ? "DESC" : "ASC");
    memcpy(out, dynbuf_str(&b), b.len + 1);
    dynbuf_free(&b);
}

/* Whether metric m is one a single-phase reading may carry (not a per-phase one). */
static bool metric_single(int m)
{
    return metric_in(READING_FIELDS_SINGLE, m);
}

/* The write columns without the per-phase metrics: what a delta without them is upserted as. */
static unsigned write_single_columns(char *out, size_t size)
{
    struct dynbuf w;
    dynbuf_init(&w, size - 1);
    dynbuf_addstr(&w, "n, first_ts_ms, last_ts_ms");
    unsigned n = 3;
    for (int k = 0; k < RM__COUNT; k++) {
        if (!metric_single(k))
            continue;
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted) {
            dynbuf_addf(&w, ", %s_n", c);
            n++;
        }
        dynbuf_addf(&w, ", %s_sum, %s_min, %s_max", c, c, c);
        n += 3;
    }
    for (int k = 0; k < RE__COUNT; k++) {
        const char *c = rollup_energy_columns[k];
        dynbuf_addf(&w, ", %s_min_mwh, %s_max_mwh", c, c);
        n += 2;
    }
    memcpy(out, dynbuf_str(&w), w.len + 1);
    dynbuf_free(&w);
    return n;
}

static void build_columns(void)
{
    struct dynbuf w, rd;
    dynbuf_init(&w, sizeof(write_columns) - 1);
    dynbuf_init(&rd, sizeof(read_columns) - 1);
    dynbuf_addstr(&w, "n, first_ts_ms, last_ts_ms");
    dynbuf_addstr(&rd, "bucket_ms, n, first_ts_ms, last_ts_ms");
    unsigned n = 3;
    for (int k = 0; k < RM__COUNT; k++) {
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted) {
            dynbuf_addf(&w, ", %s_n", c);
            dynbuf_addf(&rd, ", %s_n", c);
            n++;
        } else {
            dynbuf_addstr(&rd, ", n");
        }
        dynbuf_addf(&w, ", %s_sum, %s_min, %s_max", c, c, c);
        dynbuf_addf(&rd, ", %s_sum, %s_min, %s_max", c, c, c);
        n += 3;
    }
    for (int k = 0; k < RE__COUNT; k++) {
        const char *c = rollup_energy_columns[k];
        dynbuf_addf(&w, ", %s_min_mwh, %s_max_mwh", c, c);
        dynbuf_addf(&rd, ", %s_min_mwh, %s_max_mwh", c, c);
        n += 2;
    }
    single_write_ncols = write_single_columns(single_write_columns, sizeof(single_write_columns));
    for (int g = 0; g < READING_FIELDS__COUNT; g++)
        for (int order = 0; order < 2; order++)
            build_group_query((enum reading_fields)g, order, group_query[g][order],
                              sizeof(group_query[g][order]));
    memcpy(write_columns, dynbuf_str(&w), w.len + 1);
    memcpy(read_columns, dynbuf_str(&rd), rd.len + 1);
    write_ncols = n;
    dynbuf_free(&w);
    dynbuf_free(&rd);
}

static const char *columns(bool for_read, unsigned *ret_n)
{
    pthread_once(&columns_once, build_columns);
    if (ret_n)
        *ret_n = write_ncols;
    return for_read ? read_columns : write_columns;
}

enum combine { ADD, LOW, HIGH };

/* "col = <how the stored and the new value combine>", NULL-aware for min and max. */
static void combine(struct sql_buf *b, bool first, const char *col, const char *suffix,
                    enum combine how)
{
    sql_add(b, "%s%s%s = ", first ? "" : ", ", col, suffix);
    if (how == ADD)
        sql_add(b, "%s%s + {NEW:%s%s}", col, suffix, col, suffix);
    else /* min or max of the two, taking whichever is not NULL */
        sql_add(b, "{%s}(COALESCE(%s%s, {NEW:%s%s}), COALESCE({NEW:%s%s}, %s%s))",
                how == LOW ? "LEAST" : "GREATEST", col, suffix, col, suffix, col, suffix, col,
                suffix);
}

/* The upsert of rows deltas; single: without the per-phase metrics (left as they are). */
static char *upsert_sql_of(unsigned rows, bool single)
{
    unsigned ncols;
    const char *cols = columns(false, &ncols);
    if (single) {
        cols = single_write_columns;
        ncols = single_write_ncols;
    }
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "INSERT INTO rollups (device_pk, period, bucket_ms, %s) VALUES ", cols);
    sql_add_rows(&b, rows, 3 + ncols);
    sql_add(&b, " {ON_CONFLICT:device_pk, period, bucket_ms} ");
    combine(&b, true, "n", "", ADD);
    combine(&b, false, "first_ts_ms", "", LOW);
    combine(&b, false, "last_ts_ms", "", HIGH);
    for (int k = 0; k < RM__COUNT; k++) {
        if (single && !metric_single(k))
            continue;
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted)
            combine(&b, false, c, "_n", ADD);
        combine(&b, false, c, "_sum", ADD);
        combine(&b, false, c, "_min", LOW);
        combine(&b, false, c, "_max", HIGH);
    }
    for (int k = 0; k < RE__COUNT; k++) {
        combine(&b, false, rollup_energy_columns[k], "_min_mwh", LOW);
        combine(&b, false, rollup_energy_columns[k], "_max_mwh", HIGH);
    }
    return sql_buf_end(&b);
}

static char *upsert_sql(unsigned rows)
{
    return upsert_sql_of(rows, false);
}

static char *upsert_single_sql(unsigned rows)
{
    return upsert_sql_of(rows, true);
}

static void bind_present(struct db_stmt *st, bool present, int64_t v)
{
    if (present)
        db_bind_int(st, v);
    else
        db_bind_null(st);
}

static void bind_delta(struct db_stmt *st, const struct rollup_delta *d, bool single)
{
    db_bind_int(st, d->device_pk);
    db_bind_text(st, rollup_period_name(d->period));
    db_bind_int(st, d->bucket_ms);
    db_bind_int(st, d->n);
    db_bind_int(st, d->first_ts_ms);
    db_bind_int(st, d->last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        if (single && !metric_single(k))
            continue;
        const struct rollup_stat *m = &d->m[k];
        if (rollup_metrics[k].counted)
            db_bind_int(st, m->n);
        db_bind_double(st, m->sum);
        if (m->n > 0) {
            db_bind_double(st, m->min);
            db_bind_double(st, m->max);
        } else {
            db_bind_null(st);
            db_bind_null(st);
        }
    }
    for (int k = 0; k < RE__COUNT; k++) {
        bind_present(st, d->e[k].present, d->e[k].min);
        bind_present(st, d->e[k].present, d->e[k].max);
    }
}

/* The delta carries no per-phase metric (a single-phase reading's). */
static bool delta_single(const struct rollup_delta *d)
{
    for (int k = 0; k < RM__COUNT; k++)
        if (d->m[k].n && !metric_single(k))
            return false;
    return true;
}

static int upsert(struct sql_store *q, const struct rollup_delta *d, size_t n)
{
    int r = 0;
    pthread_once(&columns_once, build_columns);
    for (size_t k = 0; !r && k < n;) {
        unsigned rows = sql_bulk_rows(n - k);
        bool single = true;
        for (unsigned j = 0; single && j < rows; j++)
            single = delta_single(&d[k + j]);
        struct db_stmt *st = NULL;
        r = single ? sql_bulk(q, SQL_BULK_ROLLUPS_SINGLE, rows, upsert_single_sql, &st)
                   : sql_bulk(q, SQL_BULK_ROLLUPS, rows, upsert_sql, &st);
        for (unsigned j = 0; !r && j < rows; j++)
            bind_delta(st, &d[k + j], single);
        k += rows;
        if (!r)
            r = sql_run(q, st, "update rollups");
    }
    return r;
}

int ops_rollups_add(struct sql_store *q, const struct store_batch_item *items, size_t n)
{
    struct rollup_input *in = malloc((n ? n : 1) * sizeof(*in));
    struct rollup_delta *d = NULL;
    size_t used = 0, nd = 0;
    int r = in ? 0 : -ENOMEM;
    for (size_t k = 0; !r && k < n; k++)
        if (items[k].inserted)
            in[used++] = (struct rollup_input){items[k].device_pk, &items[k].reading};
    if (!r)
        r = rollup_build(in, used, &d, &nd);
    free(in);
    if (r)
        r = store_fail(&q->base, r, "out of memory");
    else
        r = upsert(q, d, nd);
    free(d);
    return r;
}

static char *get_sql(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT %s FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms = ?",
            columns(false, NULL));
    return sql_buf_end(&b);
}

/* Reads a counter pair from column i: present when its max is not NULL. */
static struct rollup_counter read_counter(struct db_stmt *st, unsigned i)
{
    struct rollup_counter c = {!db_is_null(st, i + 1), db_col_int(st, i), db_col_int(st, i + 1)};
    if (c.present && db_is_null(st, i))
        c.min = c.max;
    return c;
}

int ops_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period, int64_t bucket_ms,
                   struct rollup_delta *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ROLLUP_GET, NULL, get_sql, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_text(st, rollup_period_name(period));
    db_bind_int(st, bucket_ms);
    r = sql_step(q, st, "read rollup");
    if (r != 1) {
        db_reset(st);
        return r == 0 ? -ENOENT : r;
    }
    struct rollup_delta *d = ret;
    memset(d, 0, sizeof(*d));
    d->device_pk = device_pk;
    d->period = period;
    d->bucket_ms = bucket_ms;
    unsigned i = 0;
    d->n = db_col_int(st, i++);
    d->first_ts_ms = db_col_int(st, i++);
    d->last_ts_ms = db_col_int(st, i++);
    for (int k = 0; k < RM__COUNT; k++) {
        struct rollup_stat *m = &d->m[k];
        m->n = rollup_metrics[k].counted ? db_col_int(st, i++) : d->n;
        m->sum = db_col_double(st, i++);
        m->min = db_col_double(st, i++);
        m->max = db_col_double(st, i++);
    }
    for (int k = 0; k < RE__COUNT; k++, i += 2) {
        d->e[k].present = !db_is_null(st, i);
        d->e[k].min = db_col_int(st, i);
        d->e[k].max = db_col_int(st, i + 1);
    }
    db_reset(st);
    return 0;
}

/* Metric m of a rollup row from its four columns at i: n, sum, min, max. */
static void read_metric(struct db_stmt *st, unsigned i, int m, struct rollup_rec *r)
{
    r->metric_n[m] = db_col_int(st, i);
    r->sum[m] = db_col_double(st, i + 1);
    r->min[m] = db_col_double(st, i + 2);
    r->max[m] = db_col_double(st, i + 3);
}

static char *query_sql(bool newest_first)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b,
            "SELECT %s FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms >= ? "
            "AND bucket_ms < ? ORDER BY bucket_ms %s LIMIT ?",
            columns(true, NULL), newest_first ? "DESC" : "ASC");
    return sql_buf_end(&b);
}

static char *query_asc_sql(unsigned rows)
{
    (void)rows;
    return query_sql(false);
}

static char *query_desc_sql(unsigned rows)
{
    (void)rows;
    return query_sql(true);
}

/* A row of the metrics of group g (READING_FIELDS_ALL: every metric); the others read 0. */
static void read_rollup(struct db_stmt *st, enum reading_fields g, struct rollup_rec *r)
{
    uint64_t reals = reading_fields_reals(g);
    memset(r, 0, sizeof(*r));
    r->bucket_ms = db_col_int(st, 0);
    r->n = db_col_int(st, 1);
    r->first_ts_ms = db_col_int(st, 2);
    r->last_ts_ms = db_col_int(st, 3);
    unsigned i = 4;
    for (int m = 0; m < RM__COUNT; m++) {
        if (!(reals & (UINT64_C(1) << rollup_metric_real[m])))
            continue;
        i += 4;
        read_metric(st, i - 4, m, r);
    }
    struct rollup_counter imp = read_counter(st, i), exp = read_counter(st, i + 2);
    r->has_import = imp.present;
    r->import_min_mwh = imp.min;
    r->import_max_mwh = imp.max;
    r->has_export = exp.present;
    r->export_min_mwh = exp.min;
    r->export_max_mwh = exp.max;
}

/* Reads columns(true) from column first. */
static void read_rollup_all_at(struct db_stmt *st, unsigned first, struct rollup_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->bucket_ms = db_col_int(st, first);
    r->n = db_col_int(st, first + 1);
    r->first_ts_ms = db_col_int(st, first + 2);
    r->last_ts_ms = db_col_int(st, first + 3);
    unsigned i = first + 4;
    for (int m = 0; m < RM__COUNT; m++, i += 4) {
        r->metric_n[m] = db_col_int(st, i);
        r->sum[m] = db_col_double(st, i + 1);
        r->min[m] = db_col_double(st, i + 2);
        r->max[m] = db_col_double(st, i + 3);
    }
    struct rollup_counter imp = read_counter(st, i), exp = read_counter(st, i + 2);
    r->has_import = imp.present;
    r->import_min_mwh = imp.min;
    r->import_max_mwh = imp.max;
    r->has_export = exp.present;
    r->export_min_mwh = exp.min;
    r->export_max_mwh = exp.max;
}

static void read_rollup_all(struct db_stmt *st, struct rollup_rec *r)
{
    read_rollup_all_at(st, 0, r);
}

/* Binds a rollups query's parameters and hands each row, read for fields, to cb. */
static int run_query(struct sql_store *q, struct db_stmt *st, int64_t device_pk,
                     enum rollup_period period, int64_t from_ms, int64_t to_ms,
                     enum reading_fields fields, size_t limit, store_rollup_cb cb, void *ctx)
{
    int r = 0;
    db_bind_int(st, device_pk);
    db_bind_text(st, rollup_period_name(period));
    db_bind_int(st, from_ms);
    db_bind_int(st, to_ms);
    sql_bind_limit(st, limit);
    while ((r = sql_step(q, st, "query rollups")) == 1) {
        struct rollup_rec row;
        if (fields == READING_FIELDS_ALL)
            read_rollup_all(st, &row);
        else
            read_rollup(st, fields, &row);
        if ((r = cb(&row, ctx)))
            break;
    }
    db_reset(st);
    return r;
}

int ops_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                      int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                      store_rollup_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = newest_first ? sql_stmt(q, SQL_ROLLUPS_DESC, NULL, query_desc_sql, &st)
                         : sql_stmt(q, SQL_ROLLUPS_ASC, NULL, query_asc_sql, &st);
    return r ? r
             : run_query(q, st, device_pk, period, from_ms, to_ms, READING_FIELDS_ALL, limit, cb,
                         ctx);
}

int ops_rollups_query_of(struct store *s, int64_t device_pk, enum rollup_period period,
                         int64_t from_ms, int64_t to_ms, bool newest_first,
                         enum reading_fields fields, size_t limit, store_rollup_cb cb, void *ctx)
{
    if ((unsigned)fields >= READING_FIELDS__COUNT)
        return store_fail(s, -EINVAL, "unknown field group");
    if (fields == READING_FIELDS_ALL)
        return ops_rollups_query(s, device_pk, period, from_ms, to_ms, newest_first, limit, cb,
                                 ctx);
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    pthread_once(&columns_once, build_columns);
    int r = sql_stmt(q, (enum sql_id)(SQL_ROLLUPS_GROUP + 2 * fields + newest_first),
                     group_query[fields][newest_first], NULL, &st);
    return r ? r : run_query(q, st, device_pk, period, from_ms, to_ms, fields, limit, cb, ctx);
}

/* The newest counters in rows of period with from_ms <= bucket_ms < before_ms. */
static int counters_between(struct store *s, int64_t device_pk, enum rollup_period period,
                            int64_t from_ms, int64_t before_ms, struct rollup_counters *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    /* Each subquery walks the primary key backwards from before_ms to the first row with
       the counter, never past from_ms. */
    int r = sql_stmt(q, SQL_ROLLUP_COUNTERS,
                     "SELECT (SELECT energy_import_max_mwh FROM rollups WHERE device_pk = ? AND "
                     "period = ? AND bucket_ms >= ? AND bucket_ms < ? AND energy_import_max_mwh "
                     "IS NOT NULL ORDER BY bucket_ms DESC LIMIT 1), (SELECT energy_export_max_mwh "
                     "FROM rollups WHERE device_pk = ? AND period = ? AND bucket_ms >= ? AND "
                     "bucket_ms < ? AND energy_export_max_mwh IS NOT NULL ORDER BY bucket_ms DESC "
                     "LIMIT 1)",
                     NULL, &st);
    if (r)
        return r;
    for (int k = 0; k < 2; k++) {
        db_bind_int(st, device_pk);
        db_bind_text(st, rollup_period_name(period));
        db_bind_int(st, from_ms);
        db_bind_int(st, before_ms);
    }
    r = sql_row(q, st, "rollup counters", "rollup counters: no answer");
    if (r)
        return r;
    memset(ret, 0, sizeof(*ret));
    ret->has_import = !db_is_null(st, 0);
    ret->import_max_mwh = db_col_int(st, 0);
    ret->has_export = !db_is_null(st, 1);
    ret->export_max_mwh = db_col_int(st, 1);
    db_reset(st);
    return 0;
}

int ops_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                               int64_t before_ms, struct rollup_counters *ret)
{
    if (period == ROLLUP_1D)
        return counters_between(s, device_pk, period, INT64_MIN, before_ms, ret);
    /*
     * Minute and hour rows are many: a counter a device never sends would walk all of them.
     * So walk them only over the local days that hold the last two days (at most about 4,300
     * minute rows), and take what lies before those from the day rows, few, whose largest
     * counter is the last one of a day that ends before the walked span starts.
     */
    int64_t span_start = sitetime_day_start(before_ms - 2 * 86400 * INT64_C(1000));
    struct rollup_counters near, far;
    int r = counters_between(s, device_pk, period, span_start, before_ms, &near);
    if (r || (near.has_import && near.has_export)) {
        if (!r)
            *ret = near;
        return r;
    }
    r = counters_between(s, device_pk, ROLLUP_1D, INT64_MIN, span_start, &far);
    if (r)
        return r;
    *ret = near;
    if (!near.has_import && far.has_import) {
        ret->has_import = true;
        ret->import_max_mwh = far.import_max_mwh;
    }
    if (!near.has_export && far.has_export) {
        ret->has_export = true;
        ret->export_max_mwh = far.export_max_mwh;
    }
    return 0;
}

/*
 * The day counters before an instant of rows devices: per device, the two
 * walks of counters_between() as correlated subqueries (each backwards
 * along the primary key from before_ms, stopping at the first row with the
 * counter), the devices named by their primary key.
 */
static char *day_counters_of_sql(unsigned rows)
{
    struct sql_buf b;
    sql_buf_init(&b);
    for (int k = 0; k < RE__COUNT; k++)
        sql_add(&b,
                "%s(SELECT r.%s_max_mwh FROM rollups r WHERE r.device_pk = d.id AND r.period = ? "
                "AND r.bucket_ms < ? AND r.%s_max_mwh IS NOT NULL ORDER BY r.bucket_ms DESC "
                "LIMIT 1)",
                k ? ", " : "SELECT d.id, ", rollup_energy_columns[k], rollup_energy_columns[k]);
    sql_add(&b, " FROM devices d WHERE d.id IN ");
    sql_add_rows(&b, 1, rows);
    return sql_buf_end(&b);
}

int ops_day_counters_before_of(struct store *s, const int64_t *device_pks, size_t n,
                               int64_t before_ms, struct rollup_counters *ret)
{
    _Static_assert(RE__COUNT == 2, "import and export");
    struct sql_store *q = SQL(s);
    int r = 0;
    memset(ret, 0, n * sizeof(*ret));
    for (size_t k = 0; !r && k < n;) {
        unsigned rows = sql_bulk_rows(n - k);
        struct db_stmt *st = NULL;
        if ((r = sql_bulk(q, SQL_BULK_DAY_COUNTERS_OF, rows, day_counters_of_sql, &st)))
            break;
        for (int e = 0; e < RE__COUNT; e++) {
            db_bind_text(st, rollup_period_name(ROLLUP_1D));
            db_bind_int(st, before_ms);
        }
        for (unsigned j = 0; j < rows; j++)
            db_bind_int(st, device_pks[k + j]);
        size_t first = k;
        k += rows;
        while ((r = sql_step(q, st, "day counters")) == 1) {
            int64_t pk = db_col_int(st, 0);
            /* A page is short: finding each device's place by a walk costs nothing next to
               the round trip. The same device named twice gets its answer twice. */
            for (size_t j = first; j < k; j++) {
                if (device_pks[j] != pk)
                    continue;
                ret[j].has_import = !db_is_null(st, 1);
                ret[j].import_max_mwh = db_col_int(st, 1);
                ret[j].has_export = !db_is_null(st, 2);
                ret[j].export_max_mwh = db_col_int(st, 2);
            }
        }
        db_reset(st);
    }
    return r;
}

/* Every row of one period in a range of rows devices, by primary key ranges. */
static char *rollups_of_sql(unsigned rows)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b,
            "SELECT device_pk, %s FROM rollups WHERE period = ? AND bucket_ms >= ? AND "
            "bucket_ms < ? AND device_pk IN ",
            columns(true, NULL));
    sql_add_rows(&b, 1, rows);
    sql_add(&b, " ORDER BY device_pk, bucket_ms");
    return sql_buf_end(&b);
}

int ops_rollups_of(struct store *s, const int64_t *device_pks, size_t n, enum rollup_period period,
                   int64_t from_ms, int64_t to_ms, store_rollup_of_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    int r = 0;
    for (size_t k = 0; !r && k < n;) {
        unsigned rows = sql_bulk_rows(n - k);
        struct db_stmt *st = NULL;
        if ((r = sql_bulk(q, SQL_BULK_ROLLUPS_OF, rows, rollups_of_sql, &st)))
            break;
        db_bind_text(st, rollup_period_name(period));
        db_bind_int(st, from_ms);
        db_bind_int(st, to_ms);
        for (unsigned j = 0; j < rows; j++)
            db_bind_int(st, device_pks[k + j]);
        k += rows;
        while ((r = sql_step(q, st, "rollups of devices")) == 1) {
            struct rollup_rec row;
            read_rollup_all_at(st, 1, &row);
            if ((r = cb(db_col_int(st, 0), &row, ctx)))
                break;
        }
        db_reset(st);
    }
    return r;
}
