/*
 * history_raw: the cost of history answered from raw readings (buckets under
 * a minute, store_readings_buckets_of()) on SQLite, by field group, for one
 * day of 1-second readings of a single-phase and of a three-phase device.
 *
 *   bench_history_raw [DB_PATH] [RUNS]      (default /tmp/..., 20 runs)
 *
 * "all" is what every device paid before history learnt field groups (every
 * one of the readings table's reals and counters aggregated); "single" is
 * what a single-phase device's history aggregates now (the fields that
 * existed before three-phase metering); "system" and "phase a" what a
 * three-phase device's history aggregates without and with phase=a. Each
 * query is 24 h in 500 buckets (173 s, as bench/history.sh asks); the
 * median and the slowest of RUNS runs are printed, in ms. Then the read of
 * 24 h of minute rollups (what history of a minute or more reads) of each.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sitetime.h"
#include "store.h"

#define DAY_S    86400
#define BUCKET_S 173
#define BATCH    1000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int count_bucket(const struct reading_bucket *b, void *ctx)
{
    (void)b;
    ++*(size_t *)ctx;
    return 0;
}

static int count_rollup(const struct rollup_rec *r, void *ctx)
{
    (void)r;
    ++*(size_t *)ctx;
    return 0;
}

/* 24 h of minute rollups, newest first: what a minute-or-coarser history answer reads. */
static void time_rollups(struct store *st, int64_t dev, int64_t t0, enum reading_fields g,
                         const char *what, int runs)
{
    double *ms = calloc((size_t)runs, sizeof(double));
    size_t rows = 0;
    for (int k = 0; k < runs; k++) {
        rows = 0;
        double start = now_ms();
        if (store_rollups_query_of(st, dev, ROLLUP_1M, t0, t0 + (int64_t)DAY_S * 1000 + 60000, true,
                                   g, 100000, count_rollup, &rows)) {
            fprintf(stderr, "rollups failed: %s\n", store_errmsg(st));
            exit(1);
        }
        ms[k] = now_ms() - start;
    }
    qsort(ms, (size_t)runs, sizeof(double), cmp_double);
    printf("  %-34s %4zu rows     median %7.1f ms  max %7.1f ms\n", what, rows, ms[runs / 2],
           ms[runs - 1]);
    free(ms);
}

static void fill(struct reading *r, uint64_t seq, int64_t ts, bool three)
{
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = ts;
    double wobble = (double)(seq % 17) * 0.1;
    reading_set_real(r, RR_VOLTAGE, 230 + wobble);
    reading_set_real(r, RR_CURRENT, 10 + wobble);
    reading_set_real(r, RR_POWER_W, 2200 + wobble);
    reading_set_real(r, RR_PF, 0.95);
    reading_set_real(r, RR_FREQ_HZ, 50);
    reading_set_counter(r, RC_ENERGY_IMPORT, (int64_t)seq * 600);
    if (!three)
        return;
    for (int f = RR_VOLTAGE_A; f <= RR_PHASE_DEG_C; f++)
        reading_set_real(r, (enum reading_real)f, 100 + wobble);
    reading_set_real(r, RR_VOLTAGE_AB, 398 + wobble);
    reading_set_real(r, RR_UNBALANCE_U2, 0.5);
    reading_set_real(r, RR_DEMAND_W, 6000 + wobble);
    reading_set_counter(r, RC_ENERGY_IMPORT_A, (int64_t)seq * 200);
    reading_set_label(r, RL_WIRING, "3p4w");
}

static int load(struct store *st, int64_t dev, int64_t t0, bool three)
{
    static struct reading r[BATCH];
    for (int k = 0; k < DAY_S; k += BATCH) {
        for (int j = 0; j < BATCH; j++)
            fill(&r[j], (uint64_t)(k + j + 1), t0 + (int64_t)(k + j) * 1000, three);
        int rc = store_readings_insert(st, dev, r, BATCH, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static void time_query(struct store *st, int64_t dev, int64_t t0, enum reading_fields g,
                       const char *what, int runs)
{
    double *ms = calloc((size_t)runs, sizeof(double));
    size_t buckets = 0;
    for (int k = 0; k < runs; k++) {
        buckets = 0;
        double start = now_ms();
        int r = store_readings_buckets_of(st, dev, t0, t0 + (int64_t)DAY_S * 1000, BUCKET_S * 1000,
                                          g, 1000, count_bucket, &buckets);
        ms[k] = now_ms() - start;
        if (r) {
            fprintf(stderr, "query failed: %s\n", store_errmsg(st));
            exit(1);
        }
    }
    qsort(ms, (size_t)runs, sizeof(double), cmp_double);
    printf("  %-34s %4zu buckets  median %7.1f ms  max %7.1f ms\n", what, buckets, ms[runs / 2],
           ms[runs - 1]);
    free(ms);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/smartmeter-bench-history-raw.db";
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1)
        runs = 1;
    char url[4200], err[STORE_ERR_LEN];
    snprintf(url, sizeof(url), "sqlite:%s", path);
    unlink(path);
    struct store *st;
    int applied, rc;
    if (store_open(url, &st, err) || store_migrate(st, &applied)) {
        fprintf(stderr, "cannot open %s\n", url);
        return 1;
    }
    sitetime_set_zone("UTC", err, sizeof(err));
    int64_t one = 0, three = 0;
    int64_t t0 = (int64_t)time(NULL) * 1000 - (int64_t)(DAY_S + 60) * 1000;
    t0 -= t0 % 1000;
    if ((rc = store_device_add(st, "single", "x", 0, &one)) ||
        (rc = store_device_add(st, "three", "x", 0, &three))) {
        fprintf(stderr, "device: %s\n", store_errmsg(st));
        return 1;
    }
    double start = now_ms();
    if (load(st, one, t0, false)) {
        fprintf(stderr, "load: %s\n", store_errmsg(st));
        return 1;
    }
    double mid = now_ms();
    if (load(st, three, t0, true)) {
        fprintf(stderr, "load: %s\n", store_errmsg(st));
        return 1;
    }
    printf("== SQLite %s: 2 devices x %d readings, %d runs each\n", path, DAY_S, runs);
    printf("stored (batches of %d, with rollups): single-phase %.2f s, three-phase %.2f s\n", BATCH,
           (mid - start) / 1000, (now_ms() - mid) / 1000);
    printf("single-phase device, 24 h in %d s buckets:\n", BUCKET_S);
    time_query(st, one, t0, READING_FIELDS_ALL, "all fields (before: every device)", runs);
    time_query(st, one, t0, READING_FIELDS_SINGLE, "single-phase fields (now)", runs);
    printf("three-phase device, 24 h in %d s buckets:\n", BUCKET_S);
    time_query(st, three, t0, READING_FIELDS_ALL, "all fields", runs);
    time_query(st, three, t0, READING_FIELDS_SYSTEM, "system fields (no phase=)", runs);
    time_query(st, three, t0, READING_FIELDS_PHASE_A, "phase a (phase=a)", runs);
    printf("minute rollups, 24 h:\n");
    time_rollups(st, one, t0, READING_FIELDS_ALL, "single-phase, every metric", runs);
    time_rollups(st, one, t0, READING_FIELDS_SYSTEM, "single-phase (no phase=, now)", runs);
    time_rollups(st, three, t0, READING_FIELDS_SYSTEM, "three-phase, no phase=", runs);
    time_rollups(st, three, t0, READING_FIELDS_PHASE_A, "three-phase, phase=a", runs);
    struct reading latest;
    double t = now_ms();
    for (int k = 0; k < 1000; k++)
        store_reading_latest(st, one, &latest);
    printf("newest reading (the single/three-phase check): %.3f ms\n", (now_ms() - t) / 1000);
    store_close(st);
    unlink(path);
    return 0;
}
