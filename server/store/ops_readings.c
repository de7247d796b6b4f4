/*
 * ops_readings: raw readings: batches stored in one transaction with their
 * rollups and data versions, queries, downsampled buckets, the latest
 * reading, and deletion past retention (store.h).
 *
 * A batch: readings without a seq are numbered per device after both its
 * highest stored seq and its highest seq in the batch (the device row locked
 * first, so concurrent writers take turns); then multi-row
 * `INSERT IGNORE ... RETURNING device_pk, seq` statements of up to
 * SQL_BULK_MAX rows tell exactly which rows were new even while another
 * writer inserts the same (device, seq) (the unique key makes the second
 * wait for the first and then skip); then the rollups and data versions of
 * what was inserted. A batch that names a device deleted meanwhile (another
 * instance's cache still knew it; readings carry no foreign key, rollups do)
 * fails on the rollups' foreign key: it is run once more without that
 * device's readings, which are then simply not stored.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "ops.h"
#include "timeutil.h"

/* seq, ts_ms, then the field tables' columns: what readings are read and written as; and the
   same with only the single-phase fields and the labels, what a chunk of single-phase readings
   is inserted as (binding dozens of NULLs per row would cost a third more). */
static char reading_columns[2048], single_columns[1024];
static uint64_t single_reals, single_counters;
static pthread_once_t reading_columns_once = PTHREAD_ONCE_INIT;

static void add_columns(struct dynbuf *b, uint64_t reals, uint64_t counters)
{
    dynbuf_addstr(b, "seq, ts_ms");
    for (int f = 0; f < RR__COUNT; f++)
        if (reals & (UINT64_C(1) << f))
            dynbuf_addf(b, ", %s", reading_reals[f].column);
    for (int c = 0; c < RC__COUNT; c++)
        if (counters & (UINT64_C(1) << c))
            dynbuf_addf(b, ", %s", reading_counters[c].column);
    for (int l = 0; l < RL__COUNT; l++)
        dynbuf_addf(b, ", %s", reading_labels[l].column);
}

static void build_reading_columns(void)
{
    struct dynbuf b;
    dynbuf_init(&b, sizeof(reading_columns) - 1);
    add_columns(&b, reading_fields_reals(READING_FIELDS_ALL),
                reading_fields_counters(READING_FIELDS_ALL));
    memcpy(reading_columns, dynbuf_str(&b), b.len + 1);
    dynbuf_free(&b);
    single_reals = reading_fields_reals(READING_FIELDS_SINGLE);
    single_counters = reading_fields_counters(READING_FIELDS_SINGLE);
    dynbuf_init(&b, sizeof(single_columns) - 1);
    add_columns(&b, single_reals, single_counters);
    memcpy(single_columns, dynbuf_str(&b), b.len + 1);
    dynbuf_free(&b);
}

static const char *columns(void)
{
    /* Built once from the field tables; connections on several threads share it. */
    pthread_once(&reading_columns_once, build_reading_columns);
    return reading_columns;
}

/* The reading has no field beyond the single-phase ones (its labels aside). */
static bool reading_single(const struct reading *r)
{
    pthread_once(&reading_columns_once, build_reading_columns);
    return !(r->real_present & ~single_reals) && !(r->counter_present & ~single_counters);
}

/* Parameters of one row of a readings insert: device_pk, received_ms, then columns(). */
#define READING_PARAMS (4 + RR__COUNT + RC__COUNT + RL__COUNT)

/* The readings table's NOT NULL columns are all present (INSERT IGNORE would skip the row in
   SQLite and store zeros in MySQL). */
static bool reading_complete(const struct reading *r)
{
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_reals[f].required && !reading_has_real(r, (enum reading_real)f))
            return false;
    return true;
}

/* Reads columns() from column first. */
static void read_reading_at(struct db_stmt *st, unsigned first, struct reading *rd)
{
    memset(rd, 0, sizeof(*rd));
    rd->seq = (uint64_t)db_col_int(st, first);
    rd->has_seq = true;
    rd->ts_ms = db_col_int(st, first + 1);
    unsigned i = first + 2;
    for (int f = 0; f < RR__COUNT; f++, i++)
        if (!db_is_null(st, i))
            reading_set_real(rd, (enum reading_real)f, db_col_double(st, i));
    for (int c = 0; c < RC__COUNT; c++, i++)
        if (!db_is_null(st, i))
            reading_set_counter(rd, (enum reading_counter)c, db_col_int(st, i));
    for (int l = 0; l < RL__COUNT; l++, i++)
        if (!db_is_null(st, i)) /* a value this build does not know reads as absent */
            (void)reading_set_label(rd, (enum reading_label)l, db_col_text(st, i, NULL));
}

/* Reads columns() from column 0. */
static void read_reading(struct db_stmt *st, struct reading *rd)
{
    read_reading_at(st, 0, rd);
}

/* Binds a row of the full insert, or (single) of the single-phase one. */
static void bind_reading(struct db_stmt *st, int64_t device_pk, int64_t now,
                         const struct reading *rd, bool single)
{
    db_bind_int(st, device_pk);
    db_bind_int(st, now);
    db_bind_int(st, (int64_t)rd->seq);
    db_bind_int(st, rd->ts_ms);
    for (int f = 0; f < RR__COUNT; f++) {
        if (single && !(single_reals & (UINT64_C(1) << f)))
            continue;
        if (reading_has_real(rd, (enum reading_real)f))
            db_bind_double(st, rd->real[f]);
        else
            db_bind_null(st);
    }
    for (int c = 0; c < RC__COUNT; c++) {
        if (single && !(single_counters & (UINT64_C(1) << c)))
            continue;
        if (reading_has_counter(rd, (enum reading_counter)c))
            db_bind_int(st, rd->counter[c]);
        else
            db_bind_null(st);
    }
    for (int l = 0; l < RL__COUNT; l++) {
        const char *text = reading_label_text(rd, (enum reading_label)l);
        if (text)
            db_bind_text(st, text);
        else
            db_bind_null(st);
    }
}

static char *insert_sql_of(unsigned rows, bool single)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "{INSERT_IGNORE} INTO readings (device_pk, received_ms, %s) VALUES ",
            single ? single_columns : columns());
    sql_add_rows(&b, rows,
                 single ? 4 + (unsigned)__builtin_popcountll(single_reals) +
                              (unsigned)__builtin_popcountll(single_counters) + RL__COUNT
                        : READING_PARAMS);
    /* Only rows actually inserted come back: an ignored duplicate does not. */
    sql_add(&b, " RETURNING device_pk, seq");
    return sql_buf_end(&b);
}

static char *insert_sql(unsigned rows)
{
    return insert_sql_of(rows, false);
}

static char *insert_single_sql(unsigned rows)
{
    columns();
    return insert_sql_of(rows, true);
}

static char *bump_sql(unsigned rows)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "UPDATE devices SET data_version = data_version + 1 WHERE id IN ");
    sql_add_rows(&b, 1, rows);
    return sql_buf_end(&b);
}

/* Runs the multi-row statement kind (from build) over pk[0..n), one id a row. */
static int run_per_id(struct sql_store *q, enum sql_bulk kind, sql_build_fn build,
                      const int64_t *pk, size_t n, const char *what)
{
    int r = 0;
    for (size_t k = 0; !r && k < n;) {
        unsigned rows = sql_bulk_rows(n - k);
        struct db_stmt *st = NULL;
        r = sql_bulk(q, kind, rows, build, &st);
        for (unsigned j = 0; !r && j < rows; j++)
            db_bind_int(st, pk[k + j]);
        k += rows;
        if (!r)
            r = sql_run(q, st, what);
    }
    return r;
}

int ops_bump_data_versions(struct sql_store *q, const int64_t *pk, size_t n)
{
    return run_per_id(q, SQL_BULK_VERSIONS, bump_sql, pk, n, "bump data versions");
}

static int cmp_pk(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*
 * The distinct devices of the items that pass keep (gone: NULL or per item),
 * ascending, in a new array (*ret_n of them); NULL with *ret_n 0 when none.
 */
static int batch_devices(struct sql_store *q, const struct store_batch_item *items, size_t n,
                         bool inserted_only, const bool *gone, int64_t **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    int64_t *pk = malloc((n ? n : 1) * sizeof(*pk));
    if (!pk)
        return store_fail(&q->base, -ENOMEM, "out of memory");
    size_t m = 0, u = 0;
    for (size_t k = 0; k < n; k++)
        if (!(gone && gone[k]) && (!inserted_only || items[k].inserted))
            pk[m++] = items[k].device_pk;
    qsort(pk, m, sizeof(*pk), cmp_pk);
    for (size_t k = 0; k < m; k++)
        if (u == 0 || pk[k] != pk[u - 1])
            pk[u++] = pk[k];
    *ret = pk;
    *ret_n = u;
    return 0;
}

/* Bumps data_version once per device with an item inserted, in ascending device order. */
static int bump_inserted(struct sql_store *q, const struct store_batch_item *items, size_t n)
{
    int64_t *pk = NULL;
    size_t u = 0;
    int r = batch_devices(q, items, n, true, NULL, &pk, &u);
    if (!r)
        r = ops_bump_data_versions(q, pk, u);
    free(pk);
    return r;
}

static char *lock_sql(unsigned rows)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT id FROM devices WHERE id IN ");
    sql_add_rows(&b, 1, rows);
    sql_add(&b, " ORDER BY id{FOR_UPDATE}");
    return sql_buf_end(&b);
}

/*
 * Locks the batch's device rows for update, ascending, before anything else:
 * the order of every writer of a device's readings, ledger or billing. Taken
 * later, the shared locks of the readings' foreign keys would have to grow
 * into the update's exclusive ones, and a billing run queued on the same row
 * between the two would be chosen as a deadlock's victim again and again.
 */
static int lock_devices(struct sql_store *q, const struct store_batch_item *items, size_t n,
                        const bool *gone)
{
    int64_t *pk = NULL;
    size_t u = 0;
    int r = batch_devices(q, items, n, false, gone, &pk, &u);
    if (!r)
        r = run_per_id(q, SQL_BULK_LOCK_DEVICES, lock_sql, pk, u, "lock devices");
    free(pk);
    return r;
}

/* The device's highest stored seq (its row is locked: lock_devices()). */
static int stored_max_seq(struct sql_store *q, int64_t device_pk, int64_t *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_READING_MAX_SEQ,
                     "SELECT COALESCE(MAX(seq), 0) FROM readings WHERE device_pk = ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_row(q, st, "max seq", "max seq: no answer");
    if (r)
        return r;
    *ret = db_col_int(st, 0);
    db_reset(st);
    return 0;
}

/*
 * Numbers the readings that came without a seq, per device, in batch order, after the
 * device's highest stored and batch seq; those past READING_SEQ_MAX are marked no_seq_left
 * (gone: skipped).
 */
static int number_readings(struct sql_store *q, struct store_batch_item *items, size_t n,
                           const bool *gone)
{
    for (size_t k = 0; k < n; k++) {
        if (items[k].reading.has_seq || items[k].no_seq_left || (gone && gone[k]))
            continue;
        int64_t next = 0, pk = items[k].device_pk;
        int r = stored_max_seq(q, pk, &next);
        if (r)
            return r;
        for (size_t j = 0; j < n; j++)
            if (items[j].device_pk == pk && items[j].reading.has_seq &&
                (int64_t)items[j].reading.seq > next)
                next = (int64_t)items[j].reading.seq;
        for (size_t j = k; j < n; j++) {
            if (items[j].device_pk != pk || items[j].reading.has_seq || items[j].no_seq_left)
                continue;
            if (next >= READING_SEQ_MAX) {
                items[j].no_seq_left = true;
                continue;
            }
            items[j].reading.seq = (uint64_t)++next;
            items[j].reading.has_seq = true;
        }
    }
    return 0;
}

/* Inserts chunk[0..n) and marks the items RETURNING names. */
static int insert_chunk(struct sql_store *q, struct store_batch_item **chunk, unsigned n,
                        int64_t now, size_t *inserted)
{
    struct db_stmt *st = NULL;
    bool single = true;
    for (unsigned k = 0; k < n && single; k++)
        single = reading_single(&chunk[k]->reading);
    int r = single ? sql_bulk(q, SQL_BULK_READINGS_SINGLE, n, insert_single_sql, &st)
                   : sql_bulk(q, SQL_BULK_READINGS, n, insert_sql, &st);
    if (r)
        return r;
    for (unsigned k = 0; k < n; k++)
        bind_reading(st, chunk[k]->device_pk, now, &chunk[k]->reading, single);
    while ((r = sql_step(q, st, "insert readings")) == 1) {
        int64_t pk = db_col_int(st, 0);
        uint64_t seq = (uint64_t)db_col_int(st, 1);
        for (unsigned k = 0; k < n; k++) {
            if (!chunk[k]->inserted && chunk[k]->device_pk == pk && chunk[k]->reading.seq == seq) {
                chunk[k]->inserted = true;
                (*inserted)++;
                break;
            }
        }
    }
    db_reset(st);
    return r;
}

static int insert_readings(struct sql_store *q, struct store_batch_item *items, size_t n,
                           const bool *gone, size_t *inserted)
{
    struct store_batch_item *chunk[SQL_BULK_MAX];
    int64_t now = time_now_ms();
    int r = 0;
    size_t k = 0;
    while (!r) {
        unsigned got = 0;
        for (; k < n && got < SQL_BULK_MAX; k++)
            if (items[k].reading.has_seq && reading_complete(&items[k].reading) &&
                !(gone && gone[k]))
                chunk[got++] = &items[k];
        if (got == 0)
            break;
        for (unsigned i = 0; !r && i < got;) {
            unsigned rows = sql_bulk_rows(got - i);
            r = insert_chunk(q, chunk + i, rows, now, inserted);
            i += rows;
        }
    }
    return r;
}

/* One attempt at a batch in one transaction; on failure nothing is stored or marked. */
static int insert_batch_once(struct sql_store *q, struct store_batch_item *items, size_t n,
                             const bool *gone, size_t *ret_inserted)
{
    size_t inserted = 0;
    int r = sql_begin(q);
    if (!r)
        r = lock_devices(q, items, n, gone);
    if (!r)
        r = number_readings(q, items, n, gone);
    if (!r)
        r = insert_readings(q, items, n, gone, &inserted);
    if (!r && inserted)
        r = ops_rollups_add(q, items, n);
    if (!r && inserted)
        r = ops_demand_add(q, items, n);
    if (!r && inserted)
        r = bump_inserted(q, items, n);
    if (!r)
        r = sql_commit(q);
    if (r) {
        sql_rollback(q);
        for (size_t k = 0; k < n; k++)
            items[k].inserted = items[k].no_seq_left = false;
        return r;
    }
    *ret_inserted = inserted;
    return 0;
}

/* Marks in gone the items whose device no longer exists; *ret_any says whether one does not. */
static int find_gone_devices(struct sql_store *q, const struct store_batch_item *items, size_t n,
                             bool *gone, bool *ret_any)
{
    bool any = false;
    for (size_t k = 0; k < n; k++) {
        size_t j = 0;
        while (j < k && items[j].device_pk != items[k].device_pk)
            j++;
        if (j < k) {
            gone[k] = gone[j];
            continue;
        }
        struct db_stmt *st = NULL;
        int r = sql_stmt(q, SQL_DEVICE_EXISTS, "SELECT 1 FROM devices WHERE id = ?", NULL, &st);
        if (r)
            return r;
        db_bind_int(st, items[k].device_pk);
        r = sql_step(q, st, "find device");
        db_reset(st);
        if (r < 0)
            return r;
        gone[k] = r == 0;
        any |= gone[k];
    }
    *ret_any = any;
    return 0;
}

int ops_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                              size_t *ret_inserted)
{
    struct sql_store *q = SQL(s);
    /* What came without a seq, to be numbered again if the batch runs twice. */
    bool *seqless = calloc(n, sizeof(*seqless)), *gone = calloc(n, sizeof(*gone)), any = false;
    int r = seqless && gone ? 0 : store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; !r && k < n; k++)
        seqless[k] = !items[k].reading.has_seq;
    if (!r)
        r = insert_batch_once(q, items, n, NULL, ret_inserted);
    if (r == -ENOENT) {
        char first[STORE_ERR_LEN];
        snprintf(first, sizeof(first), "%s", s->errmsg);
        r = find_gone_devices(q, items, n, gone, &any);
        if (!r && !any)
            r = store_fail(s, -ENOENT, "%s", first); /* a foreign key of something else */
        for (size_t k = 0; !r && k < n; k++)
            if (seqless[k])
                items[k].reading.has_seq = false;
        if (!r)
            r = insert_batch_once(q, items, n, gone, ret_inserted);
    }
    free(seqless);
    free(gone);
    return r;
}

static char *query_sql(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b,
            "SELECT %s FROM readings WHERE device_pk = ? AND ts_ms >= ? AND ts_ms < ? "
            "ORDER BY ts_ms DESC, seq DESC LIMIT ?",
            columns());
    return sql_buf_end(&b);
}

static char *latest_sql(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT %s FROM readings WHERE device_pk = ? ORDER BY seq DESC LIMIT 1", columns());
    return sql_buf_end(&b);
}

/* Aggregates of the group's fields only: a single-phase history does not pay for the rest. */
static char *buckets_sql_of(enum reading_fields g)
{
    uint64_t reals = reading_fields_reals(g), counters = reading_fields_counters(g);
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT (ts_ms {DIV} ?) * ? AS bucket, COUNT(*)");
    for (int f = 0; f < RR__COUNT; f++) {
        if (!(reals & (UINT64_C(1) << f)))
            continue;
        const char *c = reading_reals[f].column;
        sql_add(&b, ", AVG(%s), MIN(%s), MAX(%s)", c, c, c);
    }
    for (int c = 0; c < RC__COUNT; c++)
        if (counters & (UINT64_C(1) << c))
            sql_add(&b, ", MAX(%s)", reading_counters[c].column);
    sql_add(&b, " FROM readings WHERE device_pk = ? AND ts_ms >= ? AND ts_ms < ? "
                "GROUP BY bucket ORDER BY bucket DESC LIMIT ?");
    return sql_buf_end(&b);
}

#define BUCKETS_SQL(name, group)                                                                   \
    static char *name(unsigned rows)                                                               \
    {                                                                                              \
        (void)rows;                                                                                \
        return buckets_sql_of(group);                                                              \
    }
BUCKETS_SQL(buckets_sql_all, READING_FIELDS_ALL)
BUCKETS_SQL(buckets_sql_single, READING_FIELDS_SINGLE)
BUCKETS_SQL(buckets_sql_system, READING_FIELDS_SYSTEM)
BUCKETS_SQL(buckets_sql_a, READING_FIELDS_PHASE_A)
BUCKETS_SQL(buckets_sql_b, READING_FIELDS_PHASE_B)
BUCKETS_SQL(buckets_sql_c, READING_FIELDS_PHASE_C)

static char *(*const buckets_sql[READING_FIELDS__COUNT])(unsigned rows) = {
    [READING_FIELDS_ALL] = buckets_sql_all,       [READING_FIELDS_SINGLE] = buckets_sql_single,
    [READING_FIELDS_SYSTEM] = buckets_sql_system, [READING_FIELDS_PHASE_A] = buckets_sql_a,
    [READING_FIELDS_PHASE_B] = buckets_sql_b,     [READING_FIELDS_PHASE_C] = buckets_sql_c,
};

int ops_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                       size_t limit, store_reading_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_READING_QUERY, NULL, query_sql, &st);
    if (!r) {
        db_bind_int(st, device_pk);
        db_bind_int(st, from_ms);
        db_bind_int(st, to_ms);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "query readings")) == 1) {
        struct reading rd;
        read_reading(st, &rd);
        r = cb(&rd, ctx);
    }
    db_reset(st);
    return r;
}

static void read_bucket(struct db_stmt *st, enum reading_fields g, struct reading_bucket *b)
{
    uint64_t reals = reading_fields_reals(g), counters = reading_fields_counters(g);
    memset(b, 0, sizeof(*b));
    b->start_ms = db_col_int(st, 0);
    b->count = db_col_int(st, 1);
    unsigned i = 2;
    for (int f = 0; f < RR__COUNT; f++) {
        if (!(reals & (UINT64_C(1) << f)))
            continue;
        i += 3;
        if (db_is_null(st, i - 3))
            continue;
        b->real_present |= UINT64_C(1) << f;
        b->avg[f] = db_col_double(st, i - 3);
        b->min[f] = db_col_double(st, i - 2);
        b->max[f] = db_col_double(st, i - 1);
    }
    for (int c = 0; c < RC__COUNT; c++) {
        if (!(counters & (UINT64_C(1) << c)))
            continue;
        i++;
        if (db_is_null(st, i - 1))
            continue;
        b->counter_present |= UINT64_C(1) << c;
        b->counter_last[c] = db_col_int(st, i - 1);
    }
}

int ops_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                         int64_t bucket_ms, enum reading_fields fields, size_t limit,
                         store_bucket_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    if ((unsigned)fields >= READING_FIELDS__COUNT)
        return store_fail(s, -EINVAL, "unknown field group");
    int r =
        sql_stmt(q, (enum sql_id)(SQL_READING_BUCKETS + fields), NULL, buckets_sql[fields], &st);
    if (!r) {
        db_bind_int(st, bucket_ms);
        db_bind_int(st, bucket_ms);
        db_bind_int(st, device_pk);
        db_bind_int(st, from_ms);
        db_bind_int(st, to_ms);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "query buckets")) == 1) {
        struct reading_bucket b;
        read_bucket(st, fields, &b);
        r = cb(&b, ctx);
    }
    db_reset(st);
    return r;
}

int ops_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_READING_LATEST, NULL, latest_sql, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_step(q, st, "latest reading");
    if (r == 1)
        read_reading(st, ret);
    db_reset(st);
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

/*
 * The newest reading of each of rows devices in one statement: each
 * device's highest seq by the walk of its primary key backwards that
 * ops_reading_latest() runs (a correlated subquery per device), then its row
 * by the primary key. (One UNION ALL'd member per device answers the same,
 * but MariaDB makes a temporary table of each: about twice the time.)
 */
static char *latest_of_sql(unsigned rows)
{
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT r.device_pk");
    /* columns(), each of r */
    const char *c = columns();
    while (*c) {
        size_t n = strcspn(c, ",");
        sql_add(&b, ", r.%.*s", (int)n, c);
        c += n;
        while (*c == ',' || *c == ' ')
            c++;
    }
    sql_add(&b, " FROM (SELECT d.id, (SELECT x.seq FROM readings x WHERE x.device_pk = d.id "
                "ORDER BY x.seq DESC LIMIT 1) AS top FROM devices d WHERE d.id IN ");
    sql_add_rows(&b, 1, rows);
    sql_add(&b, ") AS m JOIN readings r ON r.device_pk = m.id AND r.seq = m.top");
    return sql_buf_end(&b);
}

int ops_readings_latest_of(struct store *s, const int64_t *device_pks, size_t n,
                           store_latest_of_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    int r = 0;
    for (size_t k = 0; !r && k < n;) {
        unsigned rows = sql_bulk_rows(n - k);
        struct db_stmt *st = NULL;
        if ((r = sql_bulk(q, SQL_BULK_LATEST_OF, rows, latest_of_sql, &st)))
            break;
        for (unsigned j = 0; j < rows; j++)
            db_bind_int(st, device_pks[k + j]);
        k += rows;
        while ((r = sql_step(q, st, "latest readings")) == 1) {
            struct reading rd;
            read_reading_at(st, 1, &rd);
            if ((r = cb(db_col_int(st, 0), &rd, ctx)))
                break;
        }
        db_reset(st);
    }
    return r;
}

int ops_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                               size_t max_rows, size_t *ret_deleted)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    /* Walks readings_by_time (device_pk, ts_ms) from the oldest; each chunk is its own short
       transaction with the data_version bump, so ingest never waits long on its locks. */
    int r = sql_stmt(q, SQL_READING_DELETE_OLD,
                     "DELETE FROM readings WHERE device_pk = ? AND ts_ms < ? ORDER BY ts_ms "
                     "LIMIT ?",
                     NULL, &st);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, before_ms);
    sql_bind_limit(st, max_rows);
    r = sql_run(q, st, "delete old readings");
    size_t deleted = r ? 0 : (size_t)db_changes(st);
    if (!r && deleted)
        r = ops_bump_data_versions(q, &device_pk, 1);
    if (!r)
        r = sql_commit(q);
    if (r) {
        sql_rollback(q);
        return r;
    }
    *ret_deleted = deleted;
    return 0;
}
