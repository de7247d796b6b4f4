/*
 * GET /api/devices/:id/energy?period=day|month&from=YYYY-MM-DD&to=YYYY-MM-DD:
 * energy per day or month in the site's time zone, from the '1d' rollups
 * only (so it answers past the raw readings' retention). Every day or month
 * of the range is answered, with zeros where there was no data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_energy.h"
#include "history.h"
#include "sitetime.h"
#include "tariff.h"
#include "timeutil.h"

#define ENERGY_DEFAULT_DAYS   30
#define ENERGY_DEFAULT_MONTHS 12
#define ENERGY_MAX_DAYS       400
#define ENERGY_MAX_MONTHS     120
/* Day rows one answer reads: 120 months of days, with room to spare. */
#define ENERGY_MAX_DAY_ROWS 3700

/* What one day row contributes. */
struct energy_day {
    int64_t start_ms, n;
    bool has_import, has_export;
    int64_t import_min_mwh, import_max_mwh, export_min_mwh, export_max_mwh;
};

struct energy_days {
    struct energy_day *d;
    size_t n, cap;
};

static struct energy_day energy_day_of(const struct rollup_rec *r)
{
    return (struct energy_day){
        .start_ms = r->bucket_ms,
        .n = r->n,
        .has_import = r->has_import,
        .has_export = r->has_export,
        .import_min_mwh = r->import_min_mwh,
        .import_max_mwh = r->import_max_mwh,
        .export_min_mwh = r->export_min_mwh,
        .export_max_mwh = r->export_max_mwh,
    };
}

static int collect_day(const struct rollup_rec *r, void *ctx)
{
    struct energy_days *a = ctx;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct energy_day *p = realloc(a->d, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        a->d = p;
        a->cap = cap;
    }
    a->d[a->n++] = energy_day_of(r);
    return 0;
}

/* A day's energy after the counters before it; advances them. */
static void day_energy(struct rollup_counters *prev, const struct energy_day *d,
                       int64_t *ret_import_mwh, int64_t *ret_export_mwh)
{
    *ret_import_mwh = 0;
    *ret_export_mwh = 0;
    if (d->has_import) {
        *ret_import_mwh = history_energy_mwh(prev->has_import, prev->import_max_mwh,
                                             d->import_min_mwh, d->import_max_mwh);
        prev->has_import = true;
        prev->import_max_mwh = d->import_max_mwh;
    }
    if (d->has_export) {
        *ret_export_mwh = history_energy_mwh(prev->has_export, prev->export_max_mwh,
                                             d->export_min_mwh, d->export_max_mwh);
        prev->has_export = true;
        prev->export_max_mwh = d->export_max_mwh;
    }
}

/* The local month "YYYY-MM" or a date in it ("YYYY-MM-DD"): its first instant. */
/*
 * What billing charged in each bucket (store_charges_query()): the fen
 * charged, and the energy and fen at each price (a tariff period) within it.
 */
#define COST_PRICES_MAX 16
struct cost_price {
    char label[16];
    int64_t price, mwh, fen;
};
struct cost_bucket {
    int64_t start_ms, end_ms, fen;
    size_t n;
    struct cost_price p[COST_PRICES_MAX];
};
struct costs {
    struct cost_bucket *b;
    size_t n, at;
};

static int add_charge_row(const struct charge_row *row, void *ctx)
{
    struct costs *cs = ctx;
    while (cs->at < cs->n && row->hour_ms >= cs->b[cs->at].end_ms)
        cs->at++;
    if (cs->at == cs->n || row->hour_ms < cs->b[cs->at].start_ms)
        return 0;
    struct cost_bucket *b = &cs->b[cs->at];
    b->fen += row->fen;
    size_t i = 0;
    while (i < b->n && !(b->p[i].price == row->price && strcmp(b->p[i].label, row->label) == 0))
        i++;
    if (i == b->n) {
        if (b->n == COST_PRICES_MAX)
            i = b->n - 1; /* more prices in one bucket than a tariff has: the last holds them */
        else
            b->n++;
        snprintf(b->p[i].label, sizeof(b->p[i].label), "%s", row->label);
        b->p[i].price = row->price;
    }
    b->p[i].mwh += row->energy_mwh;
    b->p[i].fen += row->fen;
    return 0;
}

/* Most charge rows one answer reads: 400 days of hours, several prices an hour. */
#define COST_MAX_ROWS 200000

static void write_cost(struct jsonw *w, const struct cost_bucket *b)
{
    jsonw_kmoney(w, "cost", b->fen);
    jsonw_key(w, "periods");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < b->n; i++) {
        char price[TARIFF_PRICE_TEXT_LEN];
        tariff_price_format(b->p[i].price, price);
        jsonw_obj_begin(w);
        jsonw_kstr(w, "label", b->p[i].label);
        jsonw_kstr(w, "price", price);
        jsonw_key(w, "energy_wh");
        jsonw_milli_fixed(w, b->p[i].mwh);
        jsonw_kmoney(w, "cost", b->p[i].fen);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

static int parse_month(const char *s, int64_t *ret_ms)
{
    char day[16];
    if (strlen(s) == 7) {
        snprintf(day, sizeof(day), "%s-01", s);
        s = day;
    }
    int64_t ms;
    if (sitetime_parse_day(s, &ms))
        return -EINVAL;
    *ret_ms = sitetime_month_start(ms);
    return 0;
}

static int64_t next_bucket(bool months, int64_t start)
{
    return months ? sitetime_next_month(start) : sitetime_next_day(start);
}

/* Days or months from first to last inclusive, counting no further than cap + 1. */
static int64_t count_buckets(bool months, int64_t first, int64_t last, int64_t cap)
{
    int64_t n = 0;
    for (int64_t b = first; b <= last && n <= cap; b = next_bucket(months, b))
        n++;
    return n;
}

void api_device_energy(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    const char *period_s = http_query(c->req, "period");
    const char *from_s = http_query(c->req, "from"), *to_s = http_query(c->req, "to");
    bool months;
    if (!period_s || strcmp(period_s, "day") == 0)
        months = false;
    else if (strcmp(period_s, "month") == 0)
        months = true;
    else {
        api_error(c, 400, "period must be day or month");
        return;
    }

    int64_t now = time_now_ms(), first, last;
    if (to_s) {
        if (months ? parse_month(to_s, &last) : sitetime_parse_day(to_s, &last)) {
            api_error(c, 400, "to must be a local date YYYY-MM-DD%s", months ? " or YYYY-MM" : "");
            return;
        }
    } else {
        last = months ? sitetime_month_start(now) : sitetime_day_start(now);
    }
    if (from_s) {
        if (months ? parse_month(from_s, &first) : sitetime_parse_day(from_s, &first)) {
            api_error(c, 400, "from must be a local date YYYY-MM-DD%s",
                      months ? " or YYYY-MM" : "");
            return;
        }
    } else if (months) {
        first = last;
        for (int i = 1; i < ENERGY_DEFAULT_MONTHS; i++)
            first = sitetime_month_start(first - 1);
    } else {
        /* Noon 29 days back is inside the wanted day whatever DST did in between. */
        first = sitetime_day_start(last + 12 * HISTORY_HOUR_MS -
                                   (ENERGY_DEFAULT_DAYS - 1) * HISTORY_DAY_MS);
    }
    if (first > last) {
        api_error(c, 400, "from must not be later than to");
        return;
    }
    int64_t cap = months ? ENERGY_MAX_MONTHS : ENERGY_MAX_DAYS;
    if (count_buckets(months, first, last, cap) > cap) {
        api_error(c, 400, "at most %" PRId64 " %s in one answer", cap, months ? "months" : "days");
        return;
    }
    int64_t end = next_bucket(months, last);

    struct rollup_counters prev;
    struct energy_days days = {0};
    int r = api_store_result(
        c, store_rollup_counters_before(c->store, dev.id, ROLLUP_1D, first, &prev));
    if (!r)
        r = api_store_result(c, store_rollups_query_of(c->store, dev.id, ROLLUP_1D, first, end,
                                                       false, READING_FIELDS_SINGLE,
                                                       ENERGY_MAX_DAY_ROWS, collect_day, &days));
    struct costs costs = {0};
    if (!r) {
        costs.n = (size_t)count_buckets(months, first, last, cap);
        costs.b = calloc(costs.n, sizeof(*costs.b));
        if (!costs.b)
            r = -ENOMEM;
        size_t i = 0;
        for (int64_t b = first; costs.b && i < costs.n; b = next_bucket(months, b), i++) {
            costs.b[i].start_ms = b;
            costs.b[i].end_ms = next_bucket(months, b);
        }
    }
    if (!r)
        r = api_store_result(c, store_charges_query(c->store, dev.id, first, end, COST_MAX_ROWS,
                                                    add_charge_row, &costs));
    if (r == -ENOMEM) {
        api_error(c, 500, "out of memory");
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }

    struct jsonw w;
    api_json(c, 200, &w);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_kstr(&w, "timezone", sitetime_zone());
    jsonw_kstr(&w, "period", months ? "month" : "day");
    jsonw_key(&w, "buckets");
    jsonw_arr_begin(&w);
    size_t k = 0, bi = 0;
    int64_t total_fen = 0;
    for (int64_t b = first; b < end; b = next_bucket(months, b), bi++) {
        int64_t next = next_bucket(months, b), import_mwh = 0, export_mwh = 0, n = 0;
        for (; k < days.n && days.d[k].start_ms < next; k++) {
            int64_t i, e;
            day_energy(&prev, &days.d[k], &i, &e);
            import_mwh += i;
            export_mwh += e;
            n += days.d[k].n;
        }
        char label[11];
        if (months)
            sitetime_format_month(b, label);
        else
            sitetime_format_day(b, label);
        jsonw_obj_begin(&w);
        jsonw_kstr(&w, "date", label);
        jsonw_ktime(&w, "start", b);
        jsonw_key(&w, "energy_wh");
        jsonw_milli_fixed(&w, import_mwh);
        jsonw_key(&w, "export_wh");
        jsonw_milli_fixed(&w, export_mwh);
        jsonw_kint(&w, "readings", n);
        if (bi < costs.n) {
            write_cost(&w, &costs.b[bi]);
            total_fen += costs.b[bi].fen;
        }
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_kmoney(&w, "cost", total_fen);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    free(costs.b);
    free(days.d);
}

int api_write_energy_today(struct api_call *c, struct jsonw *w, const struct device_rec *d)
{
    int64_t today = sitetime_day_start(time_now_ms());
    struct rollup_counters prev;
    struct energy_days days = {0};
    int r =
        api_store_result(c, store_rollup_counters_before(c->store, d->id, ROLLUP_1D, today, &prev));
    if (!r)
        r = api_store_result(
            c, store_rollups_query_of(c->store, d->id, ROLLUP_1D, today, sitetime_next_day(today),
                                      false, READING_FIELDS_SINGLE, 1, collect_day, &days));
    if (!r) {
        int64_t import_mwh = 0, export_mwh = 0;
        if (days.n)
            day_energy(&prev, &days.d[0], &import_mwh, &export_mwh);
        jsonw_key(w, "energy_today_wh");
        jsonw_milli_fixed(w, import_mwh);
    }
    free(days.d);
    return r;
}

/* Today's day rows of a list of devices, each device's first row taken as its day. */
struct today_rows {
    const int64_t *pks;
    size_t n;
    struct rollup_counters *prev;
    bool *seen;
    struct device_extras *out;
};

static int take_today(int64_t device_pk, const struct rollup_rec *r, void *ctx)
{
    struct today_rows *t = ctx;
    struct energy_day day = energy_day_of(r);
    for (size_t i = 0; i < t->n; i++) {
        if (t->pks[i] != device_pk || t->seen[i])
            continue;
        t->seen[i] = true;
        int64_t export_mwh;
        day_energy(&t->prev[i], &day, &t->out[i].today_import_mwh, &export_mwh);
    }
    return 0;
}

static int take_latest(int64_t device_pk, const struct reading *r, void *ctx)
{
    struct today_rows *t = ctx;
    for (size_t i = 0; i < t->n; i++) {
        if (t->pks[i] == device_pk) {
            t->out[i].has_latest = true;
            t->out[i].latest = *r;
        }
    }
    return 0;
}

int api_device_extras(struct api_call *c, const int64_t *device_pks, size_t n,
                      struct device_extras *ret)
{
    int64_t today = sitetime_day_start(time_now_ms());
    struct today_rows t = {.pks = device_pks, .n = n, .out = ret};
    memset(ret, 0, n * sizeof(*ret));
    t.prev = calloc(n ? n : 1, sizeof(*t.prev));
    t.seen = calloc(n ? n : 1, sizeof(*t.seen));
    int r = t.prev && t.seen ? 0 : -ENOMEM;
    if (!r)
        r = api_store_result(c, store_readings_latest_of(c->store, device_pks, n, take_latest, &t));
    if (!r)
        r = api_store_result(c,
                             store_day_counters_before_of(c->store, device_pks, n, today, t.prev));
    if (!r)
        r = api_store_result(c, store_rollups_of(c->store, device_pks, n, ROLLUP_1D, today,
                                                 sitetime_next_day(today), take_today, &t));
    free(t.prev);
    free(t.seen);
    return r;
}

void api_write_device_extras(struct jsonw *w, const struct device_extras *e)
{
    jsonw_key(w, "latest");
    if (e->has_latest)
        api_write_reading(w, &e->latest);
    else
        jsonw_null(w);
    jsonw_key(w, "energy_today_wh");
    jsonw_milli_fixed(w, e->today_import_mwh);
}
