/*
 * histogram: a latency histogram the hot paths fill without a lock. Each
 * bucket is its own atomic counter (not cumulative: an observation adds to
 * one bucket only), plus the sum in nanoseconds; the reader makes them
 * cumulative. The count is the sum of the buckets, so +Inf always equals it.
 *
 * Every histogram has the same bounds (HISTOGRAM_BOUNDS_NS, 0.5 ms to 10 s),
 * so a zeroed struct histogram is ready to use and needs no freeing.
 */
#ifndef SMARTMETER_HISTOGRAM_H
#define SMARTMETER_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define HISTOGRAM_BOUNDS  14                     /* finite upper bounds */
#define HISTOGRAM_BUCKETS (HISTOGRAM_BOUNDS + 1) /* and one above the last */

/* The bucket upper bounds in nanoseconds, ascending (le="0.0005" ... le="10"). */
extern const uint64_t histogram_bounds_ns[HISTOGRAM_BOUNDS];

struct histogram {
    atomic_uint_fast64_t buckets[HISTOGRAM_BUCKETS];
    atomic_uint_fast64_t sum_ns;
};

/* Counts one observation of duration_ns. From any thread; two relaxed atomic adds. */
void histogram_observe_ns(struct histogram *h, uint64_t duration_ns);

struct histogram_snapshot {
    uint64_t cumulative[HISTOGRAM_BUCKETS]; /* observations <= each bound; the last is the count */
    uint64_t count;
    uint64_t sum_ns;
};

/* Reads h into *ret, cumulative. Concurrent observations land in this snapshot or the next. */
void histogram_read(const struct histogram *h, struct histogram_snapshot *ret);

/* Nanoseconds on the monotonic clock, for durations. */
uint64_t histogram_now_ns(void);

#endif
