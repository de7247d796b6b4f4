/*
 * rollup: the pure half of rollup maintenance. Given the readings a
 * transaction actually inserted, it computes what each (device, period,
 * bucket) row of the rollups table (sql/<dialect>/004_rollups.sql) must gain.
 * The storage backends turn these deltas into upserts in the same
 * transaction, so a replayed duplicate (never inserted) changes no rollup.
 *
 * Periods: '1m' and '1h' are UTC minutes and hours (bucket_ms is the bucket's
 * start); '1d' is a day in the site's zone (bucket_ms is its local midnight,
 * sitetime_day_start()). No I/O; the only allocation is rollup_build()'s
 * result, which the caller frees.
 */
#ifndef SMARTMETER_ROLLUP_H
#define SMARTMETER_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

enum rollup_period { ROLLUP_1M, ROLLUP_1H, ROLLUP_1D, ROLLUP__COUNT };

/* "1m", "1h", "1d" as stored in rollups.period; "?" for anything else. */
const char *rollup_period_name(enum rollup_period p);

/* The bucket of period p holding ts_ms (floor for UTC minutes/hours, the local day's start). */
int64_t rollup_bucket(enum rollup_period p, int64_t ts_ms);

/*
 * The metrics a rollup keeps, in table order. Voltage and current are in every
 * reading (their n is the row's n); the others count the readings that
 * carried them (the per-phase ones only three-phase readings carry).
 */
enum rollup_metric {
    RM_VOLTAGE,
    RM_CURRENT,
    RM_POWER_W,
    RM_REACTIVE_VAR,
    RM_PF,
    RM_FREQ_HZ,
    RM_THD_V,
    RM_THD_I,
    /* three-phase (migration 010): each phase's voltage, current and active power */
    RM_VOLTAGE_A,
    RM_VOLTAGE_B,
    RM_VOLTAGE_C,
    RM_CURRENT_A,
    RM_CURRENT_B,
    RM_CURRENT_C,
    RM_POWER_W_A,
    RM_POWER_W_B,
    RM_POWER_W_C,
    RM__COUNT
};

struct rollup_metric_desc {
    const char *column; /* prefix of its columns: <column>_sum, _min, _max (and _n) */
    bool counted;       /* has a <column>_n column (false: always present, n is the row's) */
    enum reading_real value;
    int lo, hi; /* the reading's own interval extremes (enum reading_real), or -1 */
};
extern const struct rollup_metric_desc rollup_metrics[RM__COUNT];
/* The reading field (and so the API name) of each rollup metric. */
extern const enum reading_real rollup_metric_real[RM__COUNT];

/* Sum, count and extremes of one metric; min and max mean nothing while n is 0 (SQL NULL). */
struct rollup_stat {
    int64_t n;
    double sum, min, max;
};

/* A cumulative counter's smallest and largest value; absent (SQL NULL) while !present. */
struct rollup_counter {
    bool present;
    int64_t min, max;
};

enum rollup_energy { RE_IMPORT, RE_EXPORT, RE__COUNT };
/* energy_import_*_mwh, energy_export_*_mwh: from RC_ENERGY_IMPORT and RC_ENERGY_EXPORT. */
extern const char *const rollup_energy_columns[RE__COUNT];

/* What one rollup row gains from a batch (or, read back, what it holds). */
struct rollup_delta {
    int64_t device_pk;
    enum rollup_period period;
    int64_t bucket_ms;
    int64_t n;
    int64_t first_ts_ms, last_ts_ms;
    struct rollup_stat m[RM__COUNT];
    struct rollup_counter e[RE__COUNT];
};

/* One inserted reading of a device. */
struct rollup_input {
    int64_t device_pk;
    const struct reading *reading;
};

/*
 * Aggregates n readings into one delta per (device, period, bucket), sorted
 * by device, period and bucket. *ret (allocated, the caller frees it; NULL
 * when n is 0) gets *ret_n deltas. Returns 0 or -ENOMEM.
 */
int rollup_build(const struct rollup_input *in, size_t n, struct rollup_delta **ret, size_t *ret_n);

/* Folds delta b into a (same key): what the database's upsert does. */
void rollup_merge(struct rollup_delta *a, const struct rollup_delta *b);

#endif
