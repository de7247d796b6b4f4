#include "route_stats.h"

#include <errno.h>
#include <stdlib.h>

int route_stats_new(size_t n, struct route_stats **ret)
{
    struct route_stats *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return -ENOMEM;
    rs->routes = calloc(n ? n : 1, sizeof(*rs->routes));
    if (!rs->routes) {
        free(rs);
        return -ENOMEM;
    }
    rs->n = n;
    *ret = rs;
    return 0;
}

void route_stats_free(struct route_stats *rs)
{
    if (!rs)
        return;
    free(rs->routes);
    free(rs);
}

void route_stats_observe(struct route_stats *rs, size_t route, unsigned status,
                         uint64_t duration_ns)
{
    if (!rs || route >= rs->n)
        return;
    struct route_stats_route *r = &rs->routes[route];
    histogram_observe_ns(&r->duration, duration_ns);
    for (unsigned i = 0; status && i < ROUTE_STATS_CODES; i++) {
        unsigned code = atomic_load_explicit(&r->codes[i].code, memory_order_acquire);
        if (code == 0) {
            unsigned expected = 0;
            /* Claim the free slot; a thread that claimed it first may have taken our code. */
            if (!atomic_compare_exchange_strong(&r->codes[i].code, &expected, status))
                code = expected;
            else
                code = status;
        }
        if (code == status) {
            atomic_fetch_add_explicit(&r->codes[i].n, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&r->other_codes, 1, memory_order_relaxed);
}
