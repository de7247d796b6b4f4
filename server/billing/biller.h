/*
 * biller: the thread that bills devices as their readings are stored. The
 * ingest writer tells it, after each commit, which devices the batch touched
 * (biller_notify(), cheap: a note under a lock); the thread then runs
 * store_billing_run() for each, one transaction per device, off the writer's
 * path. It also runs again for a device whose billing waits at a gap of seq
 * when the wait ends, and sweeps every device at start (what a crash or a
 * stop left unbilled) and every sweep_ms after, as a safety net.
 *
 * How soon the balance follows consumption: a reading stored in order is
 * billed 2 s after its batch commits (notes are gathered that long, so a
 * busy stream's batches are billed together); one after a gap
 * waits for the missing readings at most gap_wait_ms, then the gap is
 * bridged (charge.h). With the default 30 s the balance is never more than a
 * minute behind the readings the server holds.
 *
 * The thread owns its own database connection (opened again after a
 * failure). biller_notify() may be called from any thread.
 */
#ifndef SMARTMETER_BILLER_H
#define SMARTMETER_BILLER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define BILLER_GAP_WAIT_MS_DEFAULT 30000

struct biller;

struct biller_options {
    struct store_source db; /* where its connection comes from; copied */
    int64_t gap_wait_ms;    /* charge_config.gap_wait_ms, >= 0 */
    int64_t sweep_ms;       /* between sweeps of every device; 0: 10 minutes */
    int nice;               /* the thread's nice value (threadprio.h) */
};

struct biller_counters {
    uint64_t runs;   /* billing transactions that charged or moved the frontier */
    uint64_t fen;    /* charged since start */
    uint64_t errors; /* runs that failed (logged; retried at the next sweep) */
};

/* Starts the thread. 0, -EINVAL, -ENOMEM or the error of pthread_create, with err. */
int biller_start(const struct biller_options *opt, struct biller **ret, char *err, size_t errlen);
/* Notes that device_pk has new readings (ctx is the struct biller; writer.h's committed hook). */
void biller_notify(void *ctx, int64_t device_pk);
/* Bills everything noted so far, waiting at most timeout_ms; 0 or -ETIMEDOUT (tests). */
int biller_flush(struct biller *b, int64_t timeout_ms);
void biller_counters(struct biller *b, struct biller_counters *ret);
/* Stops the thread (after its current transaction) and frees. NULL is fine. */
void biller_stop(struct biller *b);

#endif
