#include "rollup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sitetime.h"

#define MINUTE_MS INT64_C(60000)
#define HOUR_MS   INT64_C(3600000)

const struct rollup_metric_desc rollup_metrics[RM__COUNT] = {
    [RM_VOLTAGE] = {"voltage", false, RR_VOLTAGE, RR_VOLTAGE_MIN, RR_VOLTAGE_MAX},
    [RM_CURRENT] = {"current", false, RR_CURRENT, RR_CURRENT_MIN, RR_CURRENT_MAX},
    [RM_POWER_W] = {"power_w", true, RR_POWER_W, RR_POWER_W_MIN, RR_POWER_W_MAX},
    [RM_REACTIVE_VAR] = {"reactive_var", true, RR_REACTIVE_VAR, -1, -1},
    [RM_PF] = {"pf", true, RR_PF, -1, -1},
    [RM_FREQ_HZ] = {"freq_hz", true, RR_FREQ_HZ, RR_FREQ_HZ_MIN, RR_FREQ_HZ_MAX},
    [RM_THD_V] = {"thd_v", true, RR_THD_V, -1, -1},
    [RM_THD_I] = {"thd_i", true, RR_THD_I, -1, -1},
    [RM_VOLTAGE_A] = {"voltage_a", true, RR_VOLTAGE_A, -1, -1},
    [RM_VOLTAGE_B] = {"voltage_b", true, RR_VOLTAGE_B, -1, -1},
    [RM_VOLTAGE_C] = {"voltage_c", true, RR_VOLTAGE_C, -1, -1},
    [RM_CURRENT_A] = {"current_a", true, RR_CURRENT_A, -1, -1},
    [RM_CURRENT_B] = {"current_b", true, RR_CURRENT_B, -1, -1},
    [RM_CURRENT_C] = {"current_c", true, RR_CURRENT_C, -1, -1},
    [RM_POWER_W_A] = {"power_w_a", true, RR_POWER_W_A, -1, -1},
    [RM_POWER_W_B] = {"power_w_b", true, RR_POWER_W_B, -1, -1},
    [RM_POWER_W_C] = {"power_w_c", true, RR_POWER_W_C, -1, -1},
};

const enum reading_real rollup_metric_real[RM__COUNT] = {
    [RM_VOLTAGE] = RR_VOLTAGE,
    [RM_CURRENT] = RR_CURRENT,
    [RM_POWER_W] = RR_POWER_W,
    [RM_REACTIVE_VAR] = RR_REACTIVE_VAR,
    [RM_PF] = RR_PF,
    [RM_FREQ_HZ] = RR_FREQ_HZ,
    [RM_THD_V] = RR_THD_V,
    [RM_THD_I] = RR_THD_I,
    [RM_VOLTAGE_A] = RR_VOLTAGE_A,
    [RM_VOLTAGE_B] = RR_VOLTAGE_B,
    [RM_VOLTAGE_C] = RR_VOLTAGE_C,
    [RM_CURRENT_A] = RR_CURRENT_A,
    [RM_CURRENT_B] = RR_CURRENT_B,
    [RM_CURRENT_C] = RR_CURRENT_C,
    [RM_POWER_W_A] = RR_POWER_W_A,
    [RM_POWER_W_B] = RR_POWER_W_B,
    [RM_POWER_W_C] = RR_POWER_W_C,
};

const char *const rollup_energy_columns[RE__COUNT] = {"energy_import", "energy_export"};
static const enum reading_counter energy_counter[RE__COUNT] = {RC_ENERGY_IMPORT, RC_ENERGY_EXPORT};

const char *rollup_period_name(enum rollup_period p)
{
    switch (p) {
    case ROLLUP_1M:
        return "1m";
    case ROLLUP_1H:
        return "1h";
    case ROLLUP_1D:
        return "1d";
    default:
        return "?";
    }
}

/* Floor division: readings before 1970 do not occur (ts >= 2000), but stay correct anyway. */
static int64_t floor_to(int64_t ts, int64_t step)
{
    int64_t q = ts / step;
    if (ts % step < 0)
        q--;
    return q * step;
}

int64_t rollup_bucket(enum rollup_period p, int64_t ts_ms)
{
    switch (p) {
    case ROLLUP_1M:
        return floor_to(ts_ms, MINUTE_MS);
    case ROLLUP_1H:
        return floor_to(ts_ms, HOUR_MS);
    default:
        return sitetime_day_start(ts_ms);
    }
}

/* The delta of a single reading. */
static void one_reading(struct rollup_delta *d, int64_t device_pk, enum rollup_period p,
                        const struct reading *r)
{
    memset(d, 0, sizeof(*d));
    d->device_pk = device_pk;
    d->period = p;
    d->bucket_ms = rollup_bucket(p, r->ts_ms);
    d->n = 1;
    d->first_ts_ms = d->last_ts_ms = r->ts_ms;
    for (int k = 0; k < RM__COUNT; k++) {
        const struct rollup_metric_desc *m = &rollup_metrics[k];
        if (!reading_has_real(r, m->value))
            continue;
        double v = r->real[m->value];
        struct rollup_stat *s = &d->m[k];
        s->n = 1;
        s->sum = v;
        /* The reading's own extremes over its interval, where the meter sent them. */
        s->min = m->lo >= 0 && reading_has_real(r, (enum reading_real)m->lo) ? r->real[m->lo] : v;
        s->max = m->hi >= 0 && reading_has_real(r, (enum reading_real)m->hi) ? r->real[m->hi] : v;
        if (s->min > v)
            s->min = v;
        if (s->max < v)
            s->max = v;
    }
    for (int k = 0; k < RE__COUNT; k++) {
        if (!reading_has_counter(r, energy_counter[k]))
            continue;
        d->e[k].present = true;
        d->e[k].min = d->e[k].max = r->counter[energy_counter[k]];
    }
}

void rollup_merge(struct rollup_delta *a, const struct rollup_delta *b)
{
    a->n += b->n;
    if (b->first_ts_ms < a->first_ts_ms)
        a->first_ts_ms = b->first_ts_ms;
    if (b->last_ts_ms > a->last_ts_ms)
        a->last_ts_ms = b->last_ts_ms;
    for (int k = 0; k < RM__COUNT; k++) {
        struct rollup_stat *x = &a->m[k];
        const struct rollup_stat *y = &b->m[k];
        if (y->n == 0)
            continue;
        if (x->n == 0) {
            *x = *y;
            continue;
        }
        x->n += y->n;
        x->sum += y->sum;
        if (y->min < x->min)
            x->min = y->min;
        if (y->max > x->max)
            x->max = y->max;
    }
    for (int k = 0; k < RE__COUNT; k++) {
        struct rollup_counter *x = &a->e[k];
        const struct rollup_counter *y = &b->e[k];
        if (!y->present)
            continue;
        if (!x->present) {
            *x = *y;
            continue;
        }
        if (y->min < x->min)
            x->min = y->min;
        if (y->max > x->max)
            x->max = y->max;
    }
}

static int cmp_key(const void *pa, const void *pb)
{
    const struct rollup_delta *a = pa, *b = pb;
    if (a->device_pk != b->device_pk)
        return a->device_pk < b->device_pk ? -1 : 1;
    if (a->period != b->period)
        return a->period < b->period ? -1 : 1;
    if (a->bucket_ms != b->bucket_ms)
        return a->bucket_ms < b->bucket_ms ? -1 : 1;
    return 0;
}

int rollup_build(const struct rollup_input *in, size_t n, struct rollup_delta **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / ROLLUP__COUNT / sizeof(struct rollup_delta))
        return -ENOMEM;
    struct rollup_delta *d = malloc(n * ROLLUP__COUNT * sizeof(*d));
    if (!d)
        return -ENOMEM;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < ROLLUP__COUNT; p++)
            one_reading(&d[count++], in[i].device_pk, (enum rollup_period)p, in[i].reading);
    /* Sort by key, then fold each run of equal keys into its first element. */
    qsort(d, count, sizeof(*d), cmp_key);
    size_t out = 0;
    for (size_t i = 0; i < count; i++) {
        if (out > 0 && cmp_key(&d[out - 1], &d[i]) == 0)
            rollup_merge(&d[out - 1], &d[i]);
        else if (out != i)
            d[out++] = d[i];
        else
            out++;
    }
    *ret = d;
    *ret_n = out;
    return 0;
}
