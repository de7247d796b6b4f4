/*
 * ack: the payload of meters/<id>/ack (docs/protocol.md, "Acknowledgements"),
 * the server's end-to-end acknowledgement of readings:
 *
 *   {"seqs":[[first,last],...],"rejected":[[first,last],...]}
 *
 * "seqs": 1..ACK_RANGES_MAX ascending, disjoint, inclusive ranges of seqs
 * whose fate at the server is final; "rejected" (optional): at most
 * ACK_RANGES_MAX ranges of the same form, each inside the union of "seqs"
 * (the readings the server refused as invalid). Other keys are ignored (room
 * to grow).
 *
 * The server turns lists of seqs into ranges (ack_ranges) and ranges into
 * messages (ack_encode_next); the meter parses them (ack_parse). Pure:
 * the caller owns every buffer; an ack_msg is plain data.
 */
#ifndef SMARTMETER_WIRE_ACK_H
#define SMARTMETER_WIRE_ACK_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

/* Ranges of each kind ("seqs", "rejected") one message holds at most. */
#define ACK_RANGES_MAX 256
/* The longest payload the meter reads; the encoder's longest message is far below it. */
#define ACK_PAYLOAD_MAX 65536
#define ACK_ERR_LEN     160

struct ack_range {
    uint64_t first, last; /* inclusive */
};

struct ack_msg {
    size_t n_seqs, n_rejected;
    struct ack_range seqs[ACK_RANGES_MAX];
    struct ack_range rejected[ACK_RANGES_MAX];
};

/*
 * Sorts seqs[0..n) in place and merges them (duplicates and neighbours) into
 * ranges written to out, which must hold n. Returns the number of ranges.
 */
size_t ack_ranges(uint64_t *seqs, size_t n, struct ack_range *out);

/* Where the next message starts; zero it before the first ack_encode_next(). */
struct ack_cursor {
    size_t acked;    /* index into acked ranges */
    uint64_t from;   /* first seq of acked[acked] still to send (valid once started) */
    size_t rejected; /* index into rejected ranges */
    int started;     /* from is set */
};

/*
 * Writes the next message of an acknowledgement into out (cleared first):
 * acked ranges (every seq whose fate is final) and the rejected ones among
 * them (each rejected range must lie inside one acked range). A message holds
 * at most ACK_RANGES_MAX of each; an acked range is split between messages
 * when its rejected ranges do not fit. Returns 1 when a message was written,
 * 0 when everything was sent, or -ENOMEM.
 */
int ack_encode_next(const struct ack_range *acked, size_t n_acked, const struct ack_range *rejected,
                    size_t n_rejected, struct ack_cursor *cur, struct dynbuf *out);

/*
 * Parses and validates one ack payload (len bytes, not NUL-terminated) into
 * *ret: the rules above, with seqs from 1 to READING_SEQ_MAX. Returns 0, or
 * -EINVAL (-EMSGSIZE when longer than ACK_PAYLOAD_MAX) with err saying what
 * is wrong; *ret is then unspecified.
 */
int ack_parse(const void *payload, size_t len, struct ack_msg *ret, char err[ACK_ERR_LEN]);

#endif
