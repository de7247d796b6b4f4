/*
 * ratelimit: counts events per key in fixed time windows (a window starts at
 * a key's first event and lasts window_ms), in a table of a fixed number of
 * slots: memory stays bounded whatever the peers send. Thread-safe.
 *
 * Keys come from peers (addresses, user names), so they are filed under a
 * keyed hash (SipHash-2-4 with a random key per table): nobody can choose
 * keys that crowd one part of the table. A counter still inside its window is
 * never given up for another key: a key whose neighbourhood holds only live
 * counters is refused (-ENOSPC) rather than let anyone forget a count by
 * filling the table. Slots whose window has ended are reused.
 *
 * Used for the login throttle (password checks per client address and per
 * user name and address: reserved before the check, given back after a
 * success), the request limits per user, address and device, and logging a
 * device's bad payloads at most once a minute.
 */
#ifndef SMARTMETER_RATELIMIT_H
#define SMARTMETER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

struct ratelimit;

/* An event ratelimit_take() counted, for ratelimit_refund(). */
struct ratelimit_ticket {
    uint64_t hash;
    int64_t window_start_ms;
};

/*
 * slots: table size (at least the probe neighbourhood, 16); window_ms: window
 * length; limit: events allowed per window. The hash key is random.
 * NULL when out of memory or when no random key can be had.
 */
struct ratelimit *ratelimit_new(size_t slots, int64_t window_ms, uint32_t limit);
/* The same with a given hash key (tests). */
struct ratelimit *ratelimit_new_keyed(size_t slots, int64_t window_ms, uint32_t limit,
                                      const uint8_t key[SIPHASH_KEY_LEN]);
void ratelimit_free(struct ratelimit *rl); /* NULL is fine */

/*
 * Reserves one event for key, under the table's lock, when its window holds
 * fewer than limit: returns 0 and fills *ret_ticket (optional). Otherwise
 * nothing is counted and it returns -EAGAIN (the key is at its limit) or
 * -ENOSPC (the key has no counter and every slot it could take holds a live
 * one), with *ret_retry_ms (optional) the time until that changes (> 0).
 */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
                   struct ratelimit_ticket *ret_ticket, int64_t *ret_retry_ms);
/*
 * Gives back an event ratelimit_take() counted (a login that turned out
 * right), if its window is still the key's current one.
 */
void ratelimit_refund(struct ratelimit *rl, const struct ratelimit_ticket *ticket);

/*
 * Counts one event for key even past the limit. Returns true while the
 * window's count is within the limit. *ret_count (optional) receives the
 * count in this window: 0 when the key could not be counted (-ENOSPC above).
 */
bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms, uint32_t *ret_count);

/* Forgets key's count. */
void ratelimit_clear(struct ratelimit *rl, const char *key);

/* The keyed hash key is filed under (tests and diagnostics). */
uint64_t ratelimit_key_hash(const struct ratelimit *rl, const char *key);

#endif
