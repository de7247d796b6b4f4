/*
 * history: the pure parts of history answers. Which rollup period serves an
 * interval, the "nice" interval for a number of points, which bucket a time
 * falls in, and the combination of rollup rows into the API's buckets with
 * the energy of each. No I/O; days are the site's (common/sitetime.h), so
 * sitetime_set_zone() must have run first.
 *
 * Buckets of an interval shorter than a day are aligned to multiples of it
 * since the Unix epoch (UTC). Buckets of whole days are local days (or runs
 * of N local days counted from 1970-01-01) starting at local midnight; such
 * a bucket lasts 23 or 25 hours across a DST change.
 */
#ifndef SMARTMETER_HISTORY_H
#define SMARTMETER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HISTORY_MINUTE_MS INT64_C(60000)
#define HISTORY_HOUR_MS   INT64_C(3600000)
#define HISTORY_DAY_MS    INT64_C(86400000)

/* True when interval_ms is a whole number of days: buckets are then local days. */
bool history_interval_is_days(int64_t interval_ms);

/*
 * The rollup period whose rows combine exactly into buckets of interval_ms:
 * ROLLUP_1D for whole days, ROLLUP_1H for whole hours, ROLLUP_1M for
 * whole minutes. -ENOENT when interval_ms is not a whole minute (answer from
 * raw readings).
 */
int history_period_for(int64_t interval_ms, enum rollup_period *ret_period);

/* The length of a rollup period in ms (a day counts as 24 h). */
int64_t history_period_ms(enum rollup_period period);

/* The start of the bucket of interval_ms holding ms. */
int64_t history_bucket_start(int64_t ms, int64_t interval_ms);

/* How many buckets of interval_ms the range from_ms <= t < to_ms touches (0 when empty). */
int64_t history_bucket_count(int64_t from_ms, int64_t to_ms, int64_t interval_ms);

/*
 * The smallest interval of the nice series (1m 2m 5m 10m 15m 30m 1h 2h 3h
 * 6h 12h 1d 2d 7d 14d 30d 91d 366d) that gives at most points buckets over
 * the range. Returns 0, or -ERANGE when even 366d gives more.
 */
int history_pick_interval(int64_t from_ms, int64_t to_ms, int64_t points, int64_t *ret_interval_ms);

/*
 * The energy (mWh) of a bucket whose counter went up to max_mwh: max_mwh
 * minus the counter of the closest earlier bucket with data (prev_mwh, when
 * has_prev), or minus the bucket's own min_mwh when there is none. Never
 * negative (a meter replaced or reset counts from its new counter).
 */
int64_t history_energy_mwh(bool has_prev, int64_t prev_mwh, int64_t min_mwh, int64_t max_mwh);

/* One answered bucket: rollup rows combined. */
struct history_bucket {
    int64_t start_ms;
    int64_t n;
    int64_t metric_n[RM__COUNT];
    double sum[RM__COUNT], min[RM__COUNT], max[RM__COUNT];
    bool has_import, has_export;
    int64_t import_min_mwh, import_max_mwh, export_min_mwh, export_max_mwh;
    int64_t import_used_mwh, export_used_mwh; /* set by history_combiner_finish() */
};

/*
 * Combines rollup rows, given newest first, into at most max_buckets buckets
 * of interval_ms (the newest ones with data). Owns its array; free with
 * history_combiner_free().
 */
struct history_combiner {
    int64_t interval_ms;
    size_t max_buckets;
    struct history_bucket *b; /* newest first while adding, oldest first after finish */
    size_t n, cap;
    int64_t oldest_row_ms; /* bucket_ms of the oldest row added */
};

#define HISTORY_COMBINER_FULL 1

void history_combiner_init(struct history_combiner *c, int64_t interval_ms, size_t max_buckets);
/*
 * Adds a row; rows must come in descending bucket_ms. Returns 0,
 * HISTORY_COMBINER_FULL (the row is not added: it would start a bucket past
 * max_buckets, so the caller stops reading), or -ENOMEM.
 */
int history_combiner_add(struct history_combiner *c, const struct rollup_rec *r);
/*
 * Puts the buckets oldest first and sets their import_used_mwh and
 * export_used_mwh; before holds the counters of the rows before the oldest
 * row added (store_rollup_counters_before(oldest_row_ms)).
 */
void history_combiner_finish(struct history_combiner *c, const struct rollup_counters *before);
void history_combiner_free(struct history_combiner *c);

/* A combined bucket in the shape of raw-reading buckets (avg = sum / n, min, max, counters). */
void history_bucket_to_reading_bucket(const struct history_bucket *h, struct reading_bucket *ret);

#endif
