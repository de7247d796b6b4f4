/*
 * ack: the payload of meters/<id>/ack (docs/protocol.md, "Acknowledgements"):
 * {"seqs":[[first,last],...],"rejected":[[first,last],...]}, ascending,
 * disjoint, inclusive ranges, at most ACK_MAX_RANGES of each per message.
 * Pure: turns lists of seqs into ranges and ranges into messages; the caller
 * owns every buffer.
 */
#ifndef SMARTMETER_ACK_H
#define SMARTMETER_ACK_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define ACK_MAX_RANGES 256

struct ack_range {
    uint64_t first, last; /* inclusive */
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
 * at most ACK_MAX_RANGES of each; an acked range is split between messages
 * when its rejected ranges do not fit. Returns 1 when a message was written,
 * 0 when everything was sent, or -ENOMEM.
 */
int ack_encode_next(const struct ack_range *acked, size_t n_acked, const struct ack_range *rejected,
                    size_t n_rejected, struct ack_cursor *cur, struct dynbuf *out);

#endif
