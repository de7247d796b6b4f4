#include "histogram.h"

#include <time.h>

#define MS(x) ((uint64_t)((x)*1000000.0))

const uint64_t histogram_bounds_ns[HISTOGRAM_BOUNDS] = {
    MS(0.5), MS(1),   MS(2.5), MS(5),    MS(10),   MS(25),   MS(50),
    MS(100), MS(250), MS(500), MS(1000), MS(2500), MS(5000), MS(10000)};

void histogram_observe_ns(struct histogram *h, uint64_t duration_ns)
{
    unsigned b = 0;
    while (b < HISTOGRAM_BOUNDS && duration_ns > histogram_bounds_ns[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, duration_ns, memory_order_relaxed);
}

void histogram_read(const struct histogram *h, struct histogram_snapshot *ret)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
        /* atomic_load takes a non-const pointer in older C libraries' macros */
        total += atomic_load_explicit((atomic_uint_fast64_t *)&h->buckets[b], memory_order_relaxed);
        ret->cumulative[b] = total;
    }
    ret->count = total;
    ret->sum_ns = atomic_load_explicit((atomic_uint_fast64_t *)&h->sum_ns, memory_order_relaxed);
}

uint64_t histogram_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
