/*
 * route_stats: HTTP requests counted by route and status code, with a
 * latency histogram per route, for GET /metrics. Routes are indexes the
 * caller gives meaning to (the API's route table, plus whatever it counts
 * apart); the status codes of one route take slots as they first appear, so
 * nothing is allocated or locked after route_stats_new(). A route past its
 * ROUTE_STATS_CODES distinct codes counts the rest as "other".
 *
 * The caller owns the struct (route_stats_free); observe and read from any
 * thread.
 */
#ifndef SMARTMETER_ROUTE_STATS_H
#define SMARTMETER_ROUTE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

#define ROUTE_STATS_CODES 16

struct route_stats_route {
    struct {
        atomic_uint code; /* 0: free */
        atomic_uint_fast64_t n;
    } codes[ROUTE_STATS_CODES];
    atomic_uint_fast64_t other_codes; /* requests of codes that found no slot */
    struct histogram duration;
};

struct route_stats {
    size_t n;
    struct route_stats_route *routes;
};

/* A zeroed table of n routes: 0, or -ENOMEM. */
int route_stats_new(size_t n, struct route_stats **ret);
/* NULL is fine. */
void route_stats_free(struct route_stats *rs);

/* One request of route (ignored when out of range) answered with status after duration_ns. */
void route_stats_observe(struct route_stats *rs, size_t route, unsigned status,
                         uint64_t duration_ns);

#endif
