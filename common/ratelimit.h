/*
 * ratelimit: counts events per key in fixed time windows, in a fixed-size
 * table (bounded memory whatever the peers send; a full table reuses the
 * oldest slot of a probe sequence). Thread-safe.
 *
 * Used for login throttling (failures per client address and per user name)
 * and for logging a device's bad payloads at most once a minute.
 */
#ifndef SMARTMETER_RATELIMIT_H
#define SMARTMETER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* slots: table size; window_ms: window length; limit: events allowed per window. NULL on ENOMEM. */
struct ratelimit *ratelimit_new(size_t slots, int64_t window_ms, uint32_t limit);
void ratelimit_free(struct ratelimit *rl);

/*
 * Counts one event for key. Returns true while the window's count is within
 * the limit. *ret_count (optional) receives the count in this window,
 * *ret_retry_ms (optional) the time until the window ends.
 */
bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms, uint32_t *ret_count,
                   int64_t *ret_retry_ms);
/* True when key is over the limit in its current window (counts nothing). */
bool ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t now_ms,
                       int64_t *ret_retry_ms);
/* Forgets key (e.g. after a successful login). */
void ratelimit_clear(struct ratelimit *rl, const char *key);

#endif
