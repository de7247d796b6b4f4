/*
 * retention: a maintenance thread that deletes raw readings older than the
 * raw_retention_days option, in bounded chunks (one short statement each,
 * with a pause between, so ingest and the API never wait long), once at
 * start and then every few minutes. Rollups are kept, so history buckets and
 * energy per day and month still answer for older times.
 *
 * The thread owns its own database connection (opened from options.db, opened
 * again after a failure). Counters are readable from any thread.
 */
#ifndef SMARTMETER_RETENTION_H
#define SMARTMETER_RETENTION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct retention;

struct retention_options {
    struct store_source db; /* where its connection comes from; copied */
    int64_t keep_days;      /* > 0: readings with ts older than now - keep_days are deleted */
    int64_t every_ms;       /* between runs; 0: 5 minutes */
    size_t chunk_rows;      /* rows per DELETE; 0: 10 000 */
    int64_t pause_ms;       /* between chunks; 0: 50 ms */
};

struct retention_counters {
    uint64_t runs;         /* runs that finished (all devices visited) */
    uint64_t rows_deleted; /* raw readings deleted since start */
    uint64_t errors;       /* runs cut short by a database error (logged) */
    int64_t last_run_ms;   /* wall-clock end of the last finished run, 0 before */
};

/*
 * Starts the thread. Returns 0, -EINVAL for bad options, -ENOMEM, or the
 * error of pthread_create (negative), with a message in err.
 */
int retention_start(const struct retention_options *opt, struct retention **ret, char *err,
                    size_t errlen);
/* Stops the thread (waiting for the current statement) and frees. NULL is fine. */
void retention_stop(struct retention *r);
/* A copy of the counters. */
void retention_counters(const struct retention *r, struct retention_counters *ret);
/* The days kept (the option). */
int64_t retention_keep_days(const struct retention *r);

#endif
