/* fake_store: an in-memory store for unit tests (fake_store.h). */
#include "fake_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"
#include "timeutil.h"

#define FAKE_DEVICES_MAX  64
#define FAKE_READINGS_MAX 100000

struct fake_row {
    int64_t device_pk;
    struct reading r;
};

struct fake_db {
    pthread_mutex_t mu;
    bool down;
    unsigned refusals;
    size_t n_devices;
    struct device_rec devices[FAKE_DEVICES_MAX]; /* devices[k].id == k + 1 */
    size_t n_rows;
    struct fake_row *rows; /* FAKE_READINGS_MAX */
};

struct fake_conn {
    struct store base;
    struct fake_db *db;
};

static struct fake_db *DB(struct store *s)
{
    return ((struct fake_conn *)s)->db;
}

/* Locks the database; -ENOTCONN (unlocked, refusal counted) while it is down. */
static int enter(struct store *s)
{
    struct fake_db *db = DB(s);
    pthread_mutex_lock(&db->mu);
    if (!db->down)
        return 0;
    db->refusals++;
    pthread_mutex_unlock(&db->mu);
    return store_fail(s, -ENOTCONN, "fake store: the database is down");
}

static int leave(struct store *s, int r)
{
    pthread_mutex_unlock(&DB(s)->mu);
    return r;
}

static struct device_rec *device(struct fake_db *db, int64_t pk)
{
    return pk >= 1 && (size_t)pk <= db->n_devices ? &db->devices[pk - 1] : NULL;
}

static void fake_close(struct store *s)
{
    free(s);
}

static int fake_schema_latest(const struct store *s)
{
    (void)s;
    return 1;
}

static int fake_schema_version(struct store *s, int *ret_version)
{
    int r = enter(s);
    if (!r)
        *ret_version = 1;
    return r ? r : leave(s, 0);
}

static int fake_migrate(struct store *s, int *ret_applied)
{
    int r = enter(s);
    if (!r)
        *ret_applied = 0;
    return r ? r : leave(s, 0);
}

static int fake_device_add(struct store *s, const char *device_id, const char *secret_hash,
                           int64_t owner_user_id, int64_t *ret_id)
{
    (void)owner_user_id;
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    for (size_t k = 0; k < db->n_devices; k++)
        if (strcmp(db->devices[k].device_id, device_id) == 0)
            return leave(s, store_fail(s, -EEXIST, "device '%s' already exists", device_id));
    if (db->n_devices == FAKE_DEVICES_MAX)
        return leave(s, store_fail(s, -ENOSPC, "fake store: too many devices"));
    struct device_rec *d = &db->devices[db->n_devices++];
    memset(d, 0, sizeof(*d));
    d->id = (int64_t)db->n_devices;
    snprintf(d->device_id, sizeof(d->device_id), "%s", device_id);
    snprintf(d->secret_hash, sizeof(d->secret_hash), "%s", secret_hash);
    d->created_ms = time_now_ms();
    if (ret_id)
        *ret_id = d->id;
    return leave(s, 0);
}

static int fake_device_by_name(struct store *s, const char *device_id, struct device_rec *ret)
{
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    for (size_t k = 0; k < db->n_devices; k++) {
        if (strcmp(db->devices[k].device_id, device_id) == 0) {
            *ret = db->devices[k];
            return leave(s, 0);
        }
    }
    return leave(s, store_fail(s, -ENOENT, "no such device"));
}

/* Every device; the fake keeps no bindings, so user_id must be 0. */
static int fake_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx)
{
    if (user_id)
        return store_fail(s, -ENOSYS, "fake store: no bindings");
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    size_t n = db->n_devices;
    struct device_rec copy[FAKE_DEVICES_MAX];
    memcpy(copy, db->devices, n * sizeof(copy[0]));
    leave(s, 0); /* callbacks may call the store again */
    for (size_t k = 0; !r && k < n; k++)
        r = cb(&copy[k], ctx);
    return r;
}

static int fake_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                                  int64_t at_ms)
{
    int r = enter(s);
    if (r)
        return r;
    struct device_rec *d = device(DB(s), device_pk);
    if (d && d->status_ms <= at_ms) {
        d->status = status;
        d->status_ms = at_ms;
    }
    return leave(s, 0);
}

static struct fake_row *find_row(struct fake_db *db, int64_t device_pk, uint64_t seq)
{
    for (size_t k = 0; k < db->n_rows; k++)
        if (db->rows[k].device_pk == device_pk && db->rows[k].r.seq == seq)
            return &db->rows[k];
    return NULL;
}

/* The highest seq of device_pk stored and in items. */
static uint64_t max_seq(struct fake_db *db, const struct store_batch_item *items, size_t n,
                        int64_t device_pk)
{
    uint64_t m = 0;
    for (size_t k = 0; k < db->n_rows; k++)
        if (db->rows[k].device_pk == device_pk && db->rows[k].r.seq > m)
            m = db->rows[k].r.seq;
    for (size_t k = 0; k < n; k++)
        if (items[k].device_pk == device_pk && items[k].reading.has_seq && items[k].reading.seq > m)
            m = items[k].reading.seq;
    return m;
}

static int fake_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                      size_t *ret_inserted)
{
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    if (db->n_rows + n > FAKE_READINGS_MAX)
        return leave(s, store_fail(s, -ENOSPC, "fake store: too many readings"));
    for (size_t k = 0; k < n; k++) {
        if (!device(db, items[k].device_pk))
            return leave(s, store_fail(s, -ENOENT, "no such device"));
        if (!items[k].reading.has_seq) {
            uint64_t top = max_seq(db, items, n, items[k].device_pk);
            items[k].no_seq_left = top >= READING_SEQ_MAX;
            items[k].reading.seq = top + 1;
            items[k].reading.has_seq = !items[k].no_seq_left;
        }
    }
    size_t inserted = 0;
    for (size_t k = 0; k < n; k++) {
        if (items[k].no_seq_left || find_row(db, items[k].device_pk, items[k].reading.seq))
            continue;
        db->rows[db->n_rows++] = (struct fake_row){items[k].device_pk, items[k].reading};
        items[k].inserted = true;
        device(db, items[k].device_pk)->data_version++;
        inserted++;
    }
    *ret_inserted = inserted;
    return leave(s, 0);
}

static int fake_dedicate_to_batches(struct store *s)
{
    int r = enter(s);
    return r ? r : leave(s, 0);
}

/* Newest first: by ts, then seq. */
static int cmp_newest(const void *a, const void *b)
{
    const struct reading *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? 1 : -1;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* The readings of device_pk with from_ms <= ts < to_ms, newest first, in a new array. */
static struct reading *select_rows(struct fake_db *db, int64_t device_pk, int64_t from_ms,
                                   int64_t to_ms, size_t *ret_n)
{
    struct reading *out = malloc((db->n_rows ? db->n_rows : 1) * sizeof(*out));
    size_t n = 0;
    for (size_t k = 0; out && k < db->n_rows; k++) {
        const struct fake_row *row = &db->rows[k];
        if (row->device_pk == device_pk && row->r.ts_ms >= from_ms && row->r.ts_ms < to_ms)
            out[n++] = row->r;
    }
    if (out)
        qsort(out, n, sizeof(*out), cmp_newest);
    *ret_n = n;
    return out;
}

static int fake_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                               size_t limit, store_reading_cb cb, void *ctx)
{
    int r = enter(s);
    if (r)
        return r;
    size_t n;
    struct reading *rows = select_rows(DB(s), device_pk, from_ms, to_ms, &n);
    leave(s, 0);
    if (!rows)
        return store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; !r && k < n && k < limit; k++)
        r = cb(&rows[k], ctx);
    free(rows);
    return r;
}

static int fake_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    const struct reading *best = NULL;
    for (size_t k = 0; k < db->n_rows; k++)
        if (db->rows[k].device_pk == device_pk && (!best || db->rows[k].r.seq > best->seq))
            best = &db->rows[k].r;
    if (best)
        *ret = *best;
    return leave(s, best ? 0 : -ENOENT);
}

static int fake_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                       size_t max_rows, size_t *ret_deleted)
{
    int r = enter(s);
    if (r)
        return r;
    struct fake_db *db = DB(s);
    size_t deleted = 0;
    while (deleted < max_rows) {
        size_t oldest = db->n_rows;
        for (size_t k = 0; k < db->n_rows; k++)
            if (db->rows[k].device_pk == device_pk && db->rows[k].r.ts_ms < before_ms &&
                (oldest == db->n_rows || db->rows[k].r.ts_ms < db->rows[oldest].r.ts_ms))
                oldest = k;
        if (oldest == db->n_rows)
            break;
        db->rows[oldest] = db->rows[--db->n_rows];
        deleted++;
    }
    if (deleted)
        device(db, device_pk)->data_version++;
    *ret_deleted = deleted;
    return leave(s, 0);
}

static const struct store_ops fake_ops = {
    .close = fake_close,
    .schema_latest = fake_schema_latest,
    .schema_version = fake_schema_version,
    .migrate = fake_migrate,
    .device_add = fake_device_add,
    .device_by_name = fake_device_by_name,
    .device_list = fake_device_list,
    .device_set_status = fake_device_set_status,
    .readings_insert_batch = fake_readings_insert_batch,
    .dedicate_to_batches = fake_dedicate_to_batches,
    .readings_query = fake_readings_query,
    .reading_latest = fake_reading_latest,
    .readings_delete_before = fake_readings_delete_before,
};

struct fake_db *fake_db_new(void)
{
    struct fake_db *db = calloc(1, sizeof(*db));
    if (!db)
        return NULL;
    db->rows = calloc(FAKE_READINGS_MAX, sizeof(*db->rows));
    if (!db->rows) {
        free(db);
        return NULL;
    }
    pthread_mutex_init(&db->mu, NULL);
    return db;
}

void fake_db_free(struct fake_db *db)
{
    if (!db)
        return;
    pthread_mutex_destroy(&db->mu);
    free(db->rows);
    free(db);
}

int fake_db_connect(struct fake_db *db, struct store **ret)
{
    pthread_mutex_lock(&db->mu);
    bool down = db->down;
    db->refusals += down;
    pthread_mutex_unlock(&db->mu);
    if (down)
        return -ENOTCONN;
    struct fake_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->base.ops = &fake_ops;
    c->base.backend = "fake";
    c->db = db;
    *ret = &c->base;
    return 0;
}

static int source_open(void *ctx, struct store **ret, char err[STORE_ERR_LEN])
{
    int r = fake_db_connect(ctx, ret);
    if (r)
        snprintf(err, STORE_ERR_LEN, "fake store: %s",
                 r == -ENOTCONN ? "the database is down" : "out of memory");
    return r;
}

struct store_source fake_db_source(struct fake_db *db)
{
    return (struct store_source){.open = source_open, .ctx = db};
}

struct fake_db *fake_db_with_device(const char *device_id, bool down, struct store **ret_conn,
                                    int64_t *ret_pk)
{
    struct fake_db *db = fake_db_new();
    if (!db)
        return NULL;
    if (fake_db_connect(db, ret_conn)) {
        fake_db_free(db);
        return NULL;
    }
    if (store_device_add(*ret_conn, device_id, "", 0, ret_pk)) {
        store_close(*ret_conn);
        fake_db_free(db);
        return NULL;
    }
    fake_db_set_down(db, down);
    return db;
}

void fake_db_set_down(struct fake_db *db, bool down)
{
    pthread_mutex_lock(&db->mu);
    db->down = down;
    pthread_mutex_unlock(&db->mu);
}

unsigned fake_db_refusals(struct fake_db *db)
{
    pthread_mutex_lock(&db->mu);
    unsigned n = db->refusals;
    pthread_mutex_unlock(&db->mu);
    return n;
}
