/*
 * forward: decides what meterd sends and when, between the spool and the
 * MQTT link (docs/meterd.md "Sending and resending").
 *
 * - A new reading (forward_live, after it was spooled) goes out at once as one
 *   JSON object when the link is up; live readings never wait for the backlog.
 * - Readings not acknowledged (held in the spool while the link was down, not
 *   acknowledged within ack_timeout_ms, or left over from before a restart)
 *   form the backlog: they are resent oldest first, as JSON arrays of up to
 *   backlog_batch readings, at no more than backlog_rate readings per second,
 *   while fewer than max_inflight readings are sent and unacknowledged.
 * - The resend timeout adapts like TCP's: it starts at ack_timeout_ms, follows
 *   four times the smoothed delay between a send and its ack (never below
 *   ack_timeout_ms), and doubles at every expiry, up to 16 x ack_timeout_ms, so
 *   a server working through a long queue after an outage is not flooded with
 *   copies of what it already holds.
 * - After every (re)connect the backlog restarts at the oldest unacknowledged
 *   seq: what was in flight when the link broke is resent (a few duplicates,
 *   which the server ignores, rather than a loss).
 *
 * Memory: one array of backlog_batch readings and a table of max_inflight
 * sent-but-unacknowledged batches, allocated by forward_new().
 * Threads: main thread only. Ownership: the spool and the sink stay the
 * caller's and must outlive the forwarder; forward_free() accepts NULL.
 */
#ifndef SMARTMETER_METER_FORWARD_H
#define SMARTMETER_METER_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "spool.h"
#include "telemetry.h"

struct forward_config {
    int64_t ack_timeout_ms; /* resend what is not acknowledged after this long, >= 1 */
    uint32_t backlog_batch; /* readings per backlog array, >= 1 */
    uint32_t backlog_rate;  /* backlog readings per second, >= 1 */
    uint32_t max_inflight;  /* sent and unacknowledged readings the backlog may reach, >= 1 */
};

/*
 * Sends n readings on the telemetry topic: one object (as_array false, n 1)
 * or an array. Returns 0 when the MQTT client took the message, -errno
 * otherwise (the forwarder keeps the readings for later).
 */
typedef int (*forward_send_fn)(void *ctx, const struct reading *r, size_t n, bool as_array);

struct forward_stats {
    uint64_t live;        /* readings sent live */
    uint64_t resent;      /* readings sent from the backlog */
    uint64_t timeouts;    /* batches not acknowledged within ack_timeout_ms */
    uint64_t rejected;    /* readings the server acknowledged as refused */
    uint64_t send_errors; /* messages the MQTT client did not take */
    uint64_t inflight;    /* readings sent and not yet acknowledged */
    bool backlog_active;  /* readings wait to be resent */
};

struct forward;

/* Returns 0 with *ret set, -EINVAL for a bad config, or -ENOMEM. */
int forward_new(const struct forward_config *cfg, struct spool *spool, forward_send_fn send,
                void *send_ctx, struct forward **ret);
void forward_free(struct forward *f);

/*
 * Tells the forwarder the link's state: connected, and generation (a number
 * that changes at every connect). A new connection restarts the backlog at
 * the oldest unacknowledged reading.
 */
void forward_link(struct forward *f, bool connected, uint64_t generation, int64_t now_ms);

/* A new reading, already in the spool (or not, when spooling failed): sends it live if it can. */
void forward_live(struct forward *f, const struct reading *r, int64_t now_ms);

/* Applies a parsed ack: the spool forgets the readings, rejected ones are counted and logged. */
void forward_ack(struct forward *f, const struct ack_msg *a, int64_t now_ms);

/* Resends what timed out and sends the backlog within its rate; call often (every ~50 ms). */
void forward_tick(struct forward *f, int64_t now_ms);

void forward_get_stats(const struct forward *f, struct forward_stats *ret);

#endif
