/*
 * ack_queue: carries the server's acknowledgements (meters/<id>/ack, parsed
 * by ack_parse() in common/wire/ack.h) from the MQTT library's thread to
 * meterd's main loop (docs/meterd.md "Acknowledgements").
 *
 * Ownership: ack_queue_new() allocates the queue and its slots,
 * ack_queue_free() accepts NULL; acks are copied in and out. The queue is
 * thread-safe.
 */
#ifndef SMARTMETER_METER_ACK_QUEUE_H
#define SMARTMETER_METER_ACK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "sign.h"

struct ack_queue;

/* A queue of up to capacity parsed acks. Returns 0 or -ENOMEM. */
int ack_queue_new(size_t capacity, struct ack_queue **ret);
void ack_queue_free(struct ack_queue *q);

/*
 * From now on only acks signed with key for topic (sign.h) are taken: an
 * unsigned or badly signed one is counted (ack_queue_refused) and logged at
 * most once a minute, and its readings stay in the spool. Call before the
 * handler runs.
 */
void ack_queue_require_signature(struct ack_queue *q, const struct sign_key *key,
                                 const char *topic);
/* Acks refused for their signature since the queue was made. */
uint64_t ack_queue_refused(struct ack_queue *q);

/*
 * The MQTT handler (publisher_ack_fn): parses the payload and queues it.
 * A bad payload is counted and logged (at most once a minute, with the
 * count); an ack that finds the queue full is counted and dropped (the
 * readings it acknowledged are only resent). ctx is the queue.
 */
void ack_queue_handler(const void *payload, size_t len, void *ctx);

/*
 * Queues an ack already parsed and authenticated by its transport (the
 * terminal link: an ACK frame whose MAC checked). A full queue counts and
 * drops it, as the handler does. Any thread.
 */
void ack_queue_push(struct ack_queue *q, const struct ack_msg *a);

/* Takes the oldest queued ack into *ret; false when the queue is empty. */
bool ack_queue_pop(struct ack_queue *q, struct ack_msg *ret);

/* Bad payloads and acks dropped on a full queue, since the queue was made. */
void ack_queue_counts(struct ack_queue *q, uint64_t *ret_bad, uint64_t *ret_dropped);

#endif
