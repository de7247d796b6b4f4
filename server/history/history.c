#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sitetime.h"
#include "timeutil.h"

bool history_interval_is_days(int64_t interval_ms)
{
    return interval_ms > 0 && interval_ms % HISTORY_DAY_MS == 0;
}

int history_period_for(int64_t interval_ms, enum rollup_period *ret_period)
{
    if (interval_ms <= 0 || interval_ms % HISTORY_MINUTE_MS != 0)
        return -ENOENT;
    if (history_interval_is_days(interval_ms))
        *ret_period = ROLLUP_1D;
    else if (interval_ms % HISTORY_HOUR_MS == 0)
        *ret_period = ROLLUP_1H;
    else
        *ret_period = ROLLUP_1M;
    return 0;
}

int64_t history_period_ms(enum rollup_period period)
{
    switch (period) {
    case ROLLUP_1M:
        return HISTORY_MINUTE_MS;
    case ROLLUP_1H:
        return HISTORY_HOUR_MS;
    default:
        return HISTORY_DAY_MS;
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of the local date holding ms. */
static int64_t local_day_index(int64_t ms)
{
    char day[11];
    unsigned y = 1970, m = 1, d = 1;
    sitetime_format_day(ms, day);
    if (sscanf(day, "%4u-%2u-%2u", &y, &m, &d) != 3) /* cannot happen: we formatted it */
        return floor_div(ms, HISTORY_DAY_MS);
    return time_days_from_civil(y, m, d);
}

/* The local midnight starting the local date days since 1970-01-01. */
static int64_t local_day_start(int64_t days)
{
    int64_t y;
    unsigned m, d;
    time_civil_from_days(days, &y, &m, &d);
    char s[16];
    int64_t ms;
    snprintf(s, sizeof(s), "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
    if (sitetime_parse_day(s, &ms)) /* outside 2000..2199: fall back to the UTC day */
        ms = days * HISTORY_DAY_MS;
    return ms;
}

int64_t history_bucket_start(int64_t ms, int64_t interval_ms)
{
    if (history_interval_is_days(interval_ms)) {
        int64_t ndays = interval_ms / HISTORY_DAY_MS;
        return local_day_start(floor_div(local_day_index(ms), ndays) * ndays);
    }
    return floor_div(ms, interval_ms) * interval_ms;
}

int64_t history_bucket_count(int64_t from_ms, int64_t to_ms, int64_t interval_ms)
{
    if (from_ms >= to_ms || interval_ms <= 0)
        return 0;
    if (history_interval_is_days(interval_ms)) {
        int64_t ndays = interval_ms / HISTORY_DAY_MS;
        return floor_div(local_day_index(to_ms - 1), ndays) -
               floor_div(local_day_index(from_ms), ndays) + 1;
    }
    return floor_div(to_ms - 1, interval_ms) - floor_div(from_ms, interval_ms) + 1;
}

static const int64_t nice_s[] = {
    60,    120,   300,   600,       900,       1800,       3600,       7200,       10800,
    21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 366 * 86400,
};

int history_pick_interval(int64_t from_ms, int64_t to_ms, int64_t points, int64_t *ret_interval_ms)
{
    for (size_t i = 0; i < sizeof(nice_s) / sizeof(nice_s[0]); i++) {
        int64_t iv = nice_s[i] * 1000;
        if (history_bucket_count(from_ms, to_ms, iv) <= points) {
            *ret_interval_ms = iv;
            return 0;
        }
    }
    return -ERANGE;
}

int64_t history_energy_mwh(bool has_prev, int64_t prev_mwh, int64_t min_mwh, int64_t max_mwh)
{
    int64_t base = has_prev ? prev_mwh : min_mwh;
    return max_mwh > base ? max_mwh - base : 0;
}

void history_combiner_init(struct history_combiner *c, int64_t interval_ms, size_t max_buckets)
{
    memset(c, 0, sizeof(*c));
    c->interval_ms = interval_ms;
    c->max_buckets = max_buckets ? max_buckets : 1;
}

static void merge_counter(bool *has, int64_t *min, int64_t *max, bool r_has, int64_t r_min,
                          int64_t r_max)
{
    if (!r_has)
        return;
    if (!*has) {
        *has = true;
        *min = r_min;
        *max = r_max;
        return;
    }
    if (r_min < *min)
        *min = r_min;
    if (r_max > *max)
        *max = r_max;
}

int history_combiner_add(struct history_combiner *c, const struct rollup_rec *r)
{
    int64_t start = history_bucket_start(r->bucket_ms, c->interval_ms);
    struct history_bucket *b = c->n ? &c->b[c->n - 1] : NULL;
    if (!b || b->start_ms != start) {
        if (c->n == c->max_buckets)
            return HISTORY_COMBINER_FULL;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            if (cap > c->max_buckets)
                cap = c->max_buckets;
            struct history_bucket *nb = realloc(c->b, cap * sizeof(*nb));
            if (!nb)
                return -ENOMEM;
            c->b = nb;
            c->cap = cap;
        }
        b = &c->b[c->n++];
        memset(b, 0, sizeof(*b));
        b->start_ms = start;
    }
    c->oldest_row_ms = r->bucket_ms;
    b->n += r->n;
    for (int m = 0; m < RM__COUNT; m++) {
        if (r->metric_n[m] <= 0)
            continue;
        if (b->metric_n[m] == 0 || r->min[m] < b->min[m])
            b->min[m] = r->min[m];
        if (b->metric_n[m] == 0 || r->max[m] > b->max[m])
            b->max[m] = r->max[m];
        b->metric_n[m] += r->metric_n[m];
        b->sum[m] += r->sum[m];
    }
    merge_counter(&b->has_import, &b->import_min_mwh, &b->import_max_mwh, r->has_import,
                  r->import_min_mwh, r->import_max_mwh);
    merge_counter(&b->has_export, &b->export_min_mwh, &b->export_max_mwh, r->has_export,
                  r->export_min_mwh, r->export_max_mwh);
    return 0;
}

void history_combiner_finish(struct history_combiner *c, const struct rollup_counters *before)
{
    for (size_t i = 0, j = c->n; i + 1 < j; i++, j--) {
        struct history_bucket t = c->b[i];
        c->b[i] = c->b[j - 1];
        c->b[j - 1] = t;
    }
    struct rollup_counters prev = {0};
    if (before)
        prev = *before;
    for (size_t i = 0; i < c->n; i++) {
        struct history_bucket *b = &c->b[i];
        if (b->has_import) {
            b->import_used_mwh = history_energy_mwh(prev.has_import, prev.import_max_mwh,
                                                    b->import_min_mwh, b->import_max_mwh);
            prev.has_import = true;
            prev.import_max_mwh = b->import_max_mwh;
        }
        if (b->has_export) {
            b->export_used_mwh = history_energy_mwh(prev.has_export, prev.export_max_mwh,
                                                    b->export_min_mwh, b->export_max_mwh);
            prev.has_export = true;
            prev.export_max_mwh = b->export_max_mwh;
        }
    }
}

void history_combiner_free(struct history_combiner *c)
{
    free(c->b);
    c->b = NULL;
    c->n = c->cap = 0;
}

void history_bucket_to_reading_bucket(const struct history_bucket *h, struct reading_bucket *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->start_ms = h->start_ms;
    ret->count = h->n;
    for (int m = 0; m < RM__COUNT; m++) {
        if (h->metric_n[m] <= 0)
            continue;
        enum reading_real f = rollup_metric_real[m];
        ret->real_present |= UINT64_C(1) << f;
        ret->avg[f] = h->sum[m] / (double)h->metric_n[m];
        ret->min[f] = h->min[m];
        ret->max[f] = h->max[m];
    }
    if (h->has_import) {
        ret->counter_present |= UINT64_C(1) << RC_ENERGY_IMPORT;
        ret->counter_last[RC_ENERGY_IMPORT] = h->import_max_mwh;
    }
    if (h->has_export) {
        ret->counter_present |= UINT64_C(1) << RC_ENERGY_EXPORT;
        ret->counter_last[RC_ENERGY_EXPORT] = h->export_max_mwh;
    }
}
