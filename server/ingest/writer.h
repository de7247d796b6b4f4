/*
 * writer: the one thread that stores MQTT telemetry. The MQTT side
 * (ingest.c) validates each message and queues its readings here; the
 * writer drains the queue in batches across devices (up to batch_max
 * readings, waiting up to batch_wait_ms for a batch to fill), stores each
 * batch in ONE transaction (store_readings_insert_batch(): idempotent on
 * (device, seq), rollups included), and only after COMMIT publishes the
 * acknowledgements on meters/<id>/ack (docs/protocol.md, "Acknowledgements"):
 * per device, every seq of the batch whose fate is final (stored now, stored
 * before, or refused as invalid), with the invalid ones listed in "rejected",
 * each ack signed with the device's key so the meter knows it is ours.
 *
 * The queue is bounded (queue_max readings, a refused reading counting as
 * one): writer_submit() blocks while it is full, which stops the MQTT client
 * from reading further messages (back-pressure; the broker keeps them). While
 * the database is unavailable the writer retries the same batch, waiting 50
 * ms doubling to 2 s, reconnecting each time, and sends no acks; nothing
 * queued is dropped. What is queued but not committed when the process stops
 * is not acknowledged, so the meters send it again.
 *
 * HTTP uploads go through the same queue with writer_submit_wait(): the
 * caller waits for the commit of the batch that carried its readings, so
 * concurrent uploads of many devices share one transaction (group commit).
 * A batch holding such an upload is taken at once instead of waiting
 * batch_wait_ms to fill; uploads that arrive while it commits form the next
 * batch. Uploads get no MQTT ack.
 *
 * Thread safety: writer_submit(), writer_submit_wait(), writer_submit_async(), writer_flush() and
 * writer_depth() from any thread; writer_stop() and writer_free() from the thread that started it.
 */
#ifndef SMARTMETER_WRITER_H
#define SMARTMETER_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "sign.h"
#include "store.h"
#include "telemetry.h"

/*
 * Publishes payload (len bytes) on topic at QoS 1, not retained. Returns 0 when
 * the MQTT client took it, a negative errno otherwise (the ack is then lost;
 * the meter resends and gets it for the duplicate).
 */
typedef int (*writer_publish_fn)(void *ctx, const char *topic, const void *payload, size_t len);

struct writer_options {
    struct store_source db; /* where the writer opens its connection; copied */
    size_t queue_max;       /* readings held at most (queued and being written) */
    size_t batch_max;       /* readings per transaction (a single bigger message goes whole) */
    unsigned batch_wait_ms; /* how long a batch may wait to fill */
    int nice;               /* the writer's and the ack sender's nice value (threadprio.h) */
    struct server_counters *stats;
    writer_publish_fn publish; /* NULL: acks are not sent */
    void *publish_ctx;
    /*
     * Told, after each commit, every device the batch stored readings for (a
     * device may come more than once); from the writer thread, so it must
     * only note it and return (biller_notify()). NULL: nobody is told.
     */
    void (*committed)(void *ctx, int64_t device_pk);
    void *committed_ctx;
};

struct writer;

/* Starts the writer thread. Returns 0, -EINVAL for bad options, -ENOMEM, or -errno of the thread.
 */
int writer_start(const struct writer_options *opts, struct writer **ret);

/*
 * Queues one message's outcome for device_pk (named device_id in acks): its n
 * valid readings (copied) and the seqs of its n_rejected invalid readings.
 * The acks are signed with ack_key (the device's, sign.h; copied), or sent
 * unsigned when it is NULL. All or nothing: waits while the queue lacks room
 * for n + n_rejected. Returns 0 when queued, -E2BIG when the message alone
 * exceeds queue_max, -ESHUTDOWN once writer_stop() began, -ENOMEM.
 */
int writer_submit(struct writer *w, int64_t device_pk, const char *device_id,
                  const struct sign_key *ack_key, const struct reading *r, size_t n,
                  const uint64_t *rejected, size_t n_rejected);

/*
 * Queues one HTTP upload's n (>= 1) valid readings for device_pk (copied) and
 * waits for the commit of the batch that carried them; *ret_inserted then
 * counts those of its readings that were new (the rest were stored before, or
 * repeated a seq within the same batch). Readings without has_seq are
 * numbered inside the transaction after the device's highest seq, so two such
 * uploads in one batch get distinct seqs. Waits at most timeout_ms in all
 * (for room in the queue, then for the commit). Returns 0; -ERANGE when it
 * was committed but some of its readings without seq were not stored because
 * the device has no seq left (its highest is READING_SEQ_MAX; *ret_inserted
 * counts the others); -ETIMEDOUT when
 * the commit did not come in time (the database is down and the writer is
 * retrying: the readings stay queued and may still be stored later, which is
 * harmless for readings with a seq since storage is idempotent on (device,
 * seq)); -E2BIG when n exceeds queue_max; -ESHUTDOWN once writer_stop()
 * began; -EINVAL for n == 0; -ENOMEM.
 */
int writer_submit_wait(struct writer *w, int64_t device_pk, const struct reading *readings,
                       size_t n, size_t *ret_inserted, int64_t timeout_ms);

/*
 * Told once what became of an async submission: r is 0 (committed; inserted
 * counts its new readings), -ERANGE (committed, but readings without seq
 * found no seq left, as with writer_submit_wait()), -ETIMEDOUT (not committed within the timeout;
 * the readings stay queued as with writer_submit_wait()) or -ESHUTDOWN (the
 * writer stopped first). Called from one of the writer's threads, without
 * its lock held: it must not block for long.
 */
typedef void (*writer_done_fn)(void *ctx, int r, size_t inserted);

/*
 * writer_submit_wait() without waiting: queues the readings (waiting for room
 * at most timeout_ms) and returns; cb(ctx, ...) follows exactly once, after
 * the commit or when timeout_ms (from now) has passed, whichever is first.
 * Returns 0 (cb will be called), or -E2BIG, -ETIMEDOUT (no room),
 * -ESHUTDOWN, -EINVAL, -ENOMEM (cb will not be called).
 */
int writer_submit_async(struct writer *w, int64_t device_pk, const struct reading *readings,
                        size_t n, int64_t timeout_ms, writer_done_fn cb, void *ctx);

/* Readings queued or being written right now. */
size_t writer_depth(struct writer *w);

/*
 * Waits until everything queued before the call is committed and acked.
 * Returns 0, or -ETIMEDOUT after timeout_ms.
 */
int writer_flush(struct writer *w, int64_t timeout_ms);

/*
 * Refuses further submissions, gives the queue up to drain_ms to be written,
 * then stops the thread (a batch still failing is abandoned, unacknowledged).
 * The writer stays valid for writer_submit() (which fails) until writer_free().
 */
void writer_stop(struct writer *w, int64_t drain_ms);

/* Stops it if needed and frees everything. NULL is fine. */
void writer_free(struct writer *w);

#endif
