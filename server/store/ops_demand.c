/*
 * ops_demand: the demand_monthly table (store.h "Maximum demand"). A batch's
 * inserted readings are folded in memory into one row per (device, month)
 * first, then each row is upserted keeping the larger value: a month's row
 * is written a few times a batch at most, whatever the batch's size.
 *
 * The upsert sets each time before its value: MariaDB evaluates the
 * assignments in order with the values already assigned, SQLite with the old
 * ones, and the time must be compared with the old value in both.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sitetime.h"

struct month_max {
    int64_t device_pk;
    char month[DEMAND_MONTH_LEN + 1];
    struct demand_month d;
};

static int cmp_key(const void *pa, const void *pb)
{
    const struct month_max *a = pa, *b = pb;
    if (a->device_pk != b->device_pk)
        return a->device_pk < b->device_pk ? -1 : 1;
    return strcmp(a->month, b->month);
}

/* Keeps the larger value, or the earlier time of an equal one. */
static void keep_max(bool *has, double *w, int64_t *ms, double new_w, int64_t new_ms)
{
    if (!*has || new_w > *w || (new_w == *w && new_ms < *ms)) {
        *has = true;
        *w = new_w;
        *ms = new_ms;
    }
}

static void fold(struct month_max *a, const struct month_max *b)
{
    if (b->d.has_demand)
        keep_max(&a->d.has_demand, &a->d.demand_max_w, &a->d.demand_max_ms, b->d.demand_max_w,
                 b->d.demand_max_ms);
    if (b->d.has_meter)
        keep_max(&a->d.has_meter, &a->d.meter_max_w, &a->d.meter_max_ms, b->d.meter_max_w,
                 b->d.meter_max_ms);
    a->d.readings += b->d.readings;
}

/* The rows a reading adds (0, 1, or 2 when its own maximum dates from another month). */
static size_t from_reading(int64_t device_pk, const struct reading *r, struct month_max out[2])
{
    size_t n = 0;
    if (reading_has_real(r, RR_DEMAND_W)) {
        out[n] = (struct month_max){.device_pk = device_pk};
        sitetime_format_month(r->ts_ms, out[n].month);
        out[n].d.has_demand = true;
        out[n].d.demand_max_w = r->real[RR_DEMAND_W];
        out[n].d.demand_max_ms = r->ts_ms;
        out[n].d.readings = 1;
        n++;
    }
    if (reading_has_real(r, RR_DEMAND_MAX_W)) {
        int64_t at =
            reading_has_counter(r, RC_DEMAND_MAX_TS) ? r->counter[RC_DEMAND_MAX_TS] : r->ts_ms;
        struct month_max m = {.device_pk = device_pk};
        sitetime_format_month(at, m.month);
        m.d.has_meter = true;
        m.d.meter_max_w = r->real[RR_DEMAND_MAX_W];
        m.d.meter_max_ms = at;
        if (n && strcmp(out[0].month, m.month) == 0) {
            fold(&out[0], &m);
        } else {
            m.d.readings = n ? 0 : 1;
            out[n++] = m;
        }
    }
    return n;
}

static void bind_max(struct db_stmt *st, bool has, double w, int64_t ms)
{
    if (has) {
        db_bind_double(st, w);
        db_bind_int(st, ms);
    } else {
        db_bind_null(st);
        db_bind_null(st);
    }
}

#define KEEP_TIME(w, ms)                                                                           \
    ms " = CASE WHEN {NEW:" w "} IS NOT NULL AND (" w " IS NULL OR {NEW:" w "} > " w               \
       " OR ({NEW:" w "} = " w " AND {NEW:" ms "} < " ms ")) THEN {NEW:" ms "} ELSE " ms " END, "
#define KEEP_VALUE(w)                                                                              \
    w " = {GREATEST}(COALESCE(" w ", {NEW:" w "}), COALESCE({NEW:" w "}, " w ")), "

static int upsert(struct sql_store *q, const struct month_max *m)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(
        q, SQL_DEMAND_UPSERT,
        "INSERT INTO demand_monthly (device_pk, month, demand_max_w, "
        "demand_max_ts_ms, meter_max_w, meter_max_ts_ms, readings) VALUES (?, ?, ?, "
        "?, ?, ?, ?) {ON_CONFLICT:device_pk, month} " KEEP_TIME("demand_max_w", "demand_max_ts_ms")
            KEEP_VALUE("demand_max_w") KEEP_TIME("meter_max_w", "meter_max_ts_ms")
                KEEP_VALUE("meter_max_w") "readings = readings + {NEW:readings}",
        NULL, &st);
    if (r)
        return r;
    db_bind_int(st, m->device_pk);
    db_bind_text(st, m->month);
    bind_max(st, m->d.has_demand, m->d.demand_max_w, m->d.demand_max_ms);
    bind_max(st, m->d.has_meter, m->d.meter_max_w, m->d.meter_max_ms);
    db_bind_int(st, m->d.readings);
    return sql_run(q, st, "update maximum demand");
}

int ops_demand_add(struct sql_store *q, const struct store_batch_item *items, size_t n)
{
    size_t used = 0;
    for (size_t k = 0; k < n; k++)
        if (items[k].inserted && (reading_has_real(&items[k].reading, RR_DEMAND_W) ||
                                  reading_has_real(&items[k].reading, RR_DEMAND_MAX_W)))
            used++;
    if (used == 0)
        return 0; /* single-phase batches: nothing to do, no allocation */
    struct month_max *m = malloc(2 * used * sizeof(*m));
    if (!m)
        return store_fail(&q->base, -ENOMEM, "out of memory");
    size_t count = 0;
    for (size_t k = 0; k < n; k++)
        if (items[k].inserted)
            count += from_reading(items[k].device_pk, &items[k].reading, m + count);
    qsort(m, count, sizeof(*m), cmp_key);
    size_t out = 0;
    for (size_t k = 0; k < count; k++) {
        if (out && cmp_key(&m[out - 1], &m[k]) == 0)
            fold(&m[out - 1], &m[k]);
        else
            m[out++] = m[k];
    }
    int r = 0;
    for (size_t k = 0; k < out && !r; k++)
        r = upsert(q, &m[k]);
    free(m);
    return r;
}

#define DEMAND_SELECT                                                                              \
    "SELECT month, demand_max_w, demand_max_ts_ms, meter_max_w, meter_max_ts_ms, readings "        \
    "FROM demand_monthly WHERE device_pk = ? "

static int read_month(struct sql_store *q, struct db_stmt *st, struct demand_month *d)
{
    memset(d, 0, sizeof(*d));
    int r = sql_text(q, st, 0, d->month, sizeof(d->month));
    d->has_demand = !db_is_null(st, 1) && !db_is_null(st, 2);
    d->demand_max_w = db_col_double(st, 1);
    d->demand_max_ms = db_col_int(st, 2);
    d->has_meter = !db_is_null(st, 3) && !db_is_null(st, 4);
    d->meter_max_w = db_col_double(st, 3);
    d->meter_max_ms = db_col_int(st, 4);
    d->readings = db_col_int(st, 5);
    return r;
}

int ops_demand_month(struct store *s, int64_t device_pk, const char *month,
                     struct demand_month *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEMAND_GET, DEMAND_SELECT "AND month = ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_text(st, month);
    r = sql_row(q, st, "get maximum demand", "no demand recorded in that month");
    if (r)
        return r;
    struct demand_month d;
    r = read_month(q, st, &d);
    db_reset(st);
    if (!r)
        *ret = d;
    return r;
}

int ops_demand_list(struct store *s, int64_t device_pk, size_t limit, store_demand_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEMAND_LIST, DEMAND_SELECT "ORDER BY month DESC LIMIT ?", NULL, &st);
    if (!r) {
        db_bind_int(st, device_pk);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "list maximum demand")) == 1) {
        struct demand_month d;
        r = read_month(q, st, &d);
        if (!r)
            r = cb(&d, ctx);
    }
    db_reset(st);
    return r;
}
