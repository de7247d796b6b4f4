#include "link_backoff.h"

void link_backoff_init(struct link_backoff *b, int64_t min_ms, int64_t max_ms)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->ceiling_ms = min_ms;
}

int64_t link_backoff_next(struct link_backoff *b, uint32_t random)
{
    int64_t c = b->ceiling_ms;
    int64_t half = c / 2;
    int64_t wait = half + (int64_t)(random % (uint64_t)(c - half + 1));
    b->ceiling_ms = c > b->max_ms / 2 ? b->max_ms : c * 2;
    return wait;
}

void link_backoff_reset(struct link_backoff *b)
{
    b->ceiling_ms = b->min_ms;
}
