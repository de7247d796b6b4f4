/*
 * link_backoff: how long the terminal link waits before its next connection
 * attempt. The ceiling starts at min_ms and doubles after every attempt
 * that did not reach an open session, up to max_ms; each wait is drawn
 * uniformly from the upper half of the ceiling (jitter), so meters cut off
 * together by a server restart or a carrier outage do not all come back in
 * the same second. A session that opened starts the ceiling over.
 *
 * Pure: the random value is an argument.
 */
#ifndef SMARTMETER_METER_LINK_BACKOFF_H
#define SMARTMETER_METER_LINK_BACKOFF_H

#include <stdint.h>

struct link_backoff {
    int64_t min_ms, max_ms; /* 1 <= min_ms <= max_ms */
    int64_t ceiling_ms;     /* the next wait's upper bound */
};

void link_backoff_init(struct link_backoff *b, int64_t min_ms, int64_t max_ms);

/* The wait before the next attempt, in [ceiling/2, ceiling]; then doubles the ceiling. */
int64_t link_backoff_next(struct link_backoff *b, uint32_t random);

/* A session opened: the next wait is short again. */
void link_backoff_reset(struct link_backoff *b);

#endif
