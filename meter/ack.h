/*
 * ack: the server's end-to-end acknowledgements on meters/<id>/ack
 * (docs/meterd.md "Acknowledgements"), parsed and carried from the MQTT
 * library's thread to meterd's main loop.
 *
 * Payload: {"seqs":[[first,last],...], "rejected":[[first,last],...]}:
 * "seqs" required, 1..ACK_RANGES_MAX ascending, disjoint, inclusive ranges of
 * seqs 1..READING_SEQ_MAX whose fate at the server is final; "rejected"
 * optional, at most ACK_RANGES_MAX ranges of the same form, each inside the
 * union of "seqs" (the readings the server refused as invalid). Other keys
 * are ignored (room to grow); anything else is an error.
 *
 * Ownership: an ack_msg is plain data; ack_queue_new() allocates the queue
 * and its slots, ack_queue_free() accepts NULL. The queue is thread-safe.
 */
#ifndef SMARTMETER_METER_ACK_H
#define SMARTMETER_METER_ACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACK_RANGES_MAX  256
#define ACK_PAYLOAD_MAX 65536
#define ACK_ERR_LEN     160

struct ack_range_pair {
    uint64_t first, last;
};

struct ack_msg {
    size_t n_seqs, n_rejected;
    struct ack_range_pair seqs[ACK_RANGES_MAX];
    struct ack_range_pair rejected[ACK_RANGES_MAX];
};

/*
 * Parses and validates one ack payload (len bytes, not NUL-terminated) into
 * *ret. Returns 0, or -EINVAL (-EMSGSIZE when longer than ACK_PAYLOAD_MAX)
 * with err saying what is wrong; *ret is then unspecified.
 */
int ack_parse(const void *payload, size_t len, struct ack_msg *ret, char err[ACK_ERR_LEN]);

struct ack_queue;

/* A queue of up to capacity parsed acks. Returns 0 or -ENOMEM. */
int ack_queue_new(size_t capacity, struct ack_queue **ret);
void ack_queue_free(struct ack_queue *q);

/*
 * The MQTT handler (publisher_ack_fn): parses the payload and queues it.
 * A bad payload is counted and logged (at most once a minute, with the
 * count); an ack that finds the queue full is counted and dropped (the
 * readings it acknowledged are only resent). ctx is the queue.
 */
void ack_queue_handler(const void *payload, size_t len, void *ctx);

/* Takes the oldest queued ack into *ret; false when the queue is empty. */
bool ack_queue_pop(struct ack_queue *q, struct ack_msg *ret);

/* Bad payloads and acks dropped on a full queue, since the queue was made. */
void ack_queue_counts(struct ack_queue *q, uint64_t *ret_bad, uint64_t *ret_dropped);

#endif
