/*
 * watchdog: systemd's watchdog (WatchdogSec=) fed only while the daemon does
 * its work, so a hung essential thread gets the service restarted.
 *
 * A pinger thread sends WATCHDOG=1 (sdnotify.h) every half interval, as
 * sd_watchdog_enabled(3) recommends, but only while every check is fresh. A
 * check is either
 *  - a beat: a counter an essential loop bumps on each pass (watchdog_beat());
 *    it must always move, or
 *  - a probe: a callback that reports a thread's progress counter and whether
 *    it has work; an idle thread need not move, a busy one must.
 * A check that has not moved for stall_ms while it should have is stale: the
 * pinger then stops pinging (and says why once, in STATUS= and the log), and
 * the manager kills the service one watchdog interval after the last ping.
 * When every check moves again, the pings resume.
 *
 * Ownership: watchdog_start() returns NULL (and every other function is then
 * a no-op) when the interval is 0, i.e. no watchdog: the daemons call them
 * unconditionally. watchdog_stop() joins the thread and frees; the probes'
 * contexts and the beats must outlive it. Checks may be added while the
 * pinger runs; until the first is added it pings unconditionally (a start-up
 * that hangs is the manager's TimeoutStartSec= to catch).
 */
#ifndef SMARTMETER_WATCHDOG_H
#define SMARTMETER_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WATCHDOG_CHECKS_MAX 8

struct watchdog;

/* A loop's pass counter. Zero-initialise it; bump it from the loop, read it from the pinger. */
struct watchdog_beat {
    atomic_uint_fast64_t passes;
};

/* One more pass of the loop: wait-free, safe in any thread. NULL does nothing. */
static inline void watchdog_beat(struct watchdog_beat *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->passes, 1, memory_order_relaxed);
}

/*
 * A thread's progress: *ret_progress is a counter that grows as it works;
 * returns true while it has work (then the counter must move), false while
 * idle. Called from the pinger thread: must be thread-safe and must not block.
 */
typedef bool (*watchdog_probe_fn)(void *ctx, uint64_t *ret_progress);

/*
 * Starts the pinger for an interval of interval_usec (the manager's
 * WATCHDOG_USEC, sdnotify_watchdog_enabled()); stall_ms is how long a check may
 * stand still before it is stale (0: one interval). Returns 0 and *ret (NULL
 * when interval_usec is 0), -EINVAL for an interval under 2 ms, -ENOMEM, or
 * -errno of the thread.
 */
int watchdog_start(uint64_t interval_usec, int64_t stall_ms, struct watchdog **ret);

/* Watches a beat, under name (a literal: not copied). 0, or -ENOSPC past WATCHDOG_CHECKS_MAX. */
int watchdog_add_beat(struct watchdog *w, const char *name, struct watchdog_beat *beat);

/* Watches a probe, under name (a literal: not copied). 0, or -ENOSPC past WATCHDOG_CHECKS_MAX. */
int watchdog_add_probe(struct watchdog *w, const char *name, watchdog_probe_fn fn, void *ctx);

/* WATCHDOG=1 sent so far, and the checks found stale so far (each stall counted once). */
uint64_t watchdog_pings(const struct watchdog *w);
uint64_t watchdog_stalls(const struct watchdog *w);

/* Stops and joins the pinger, then frees it. NULL is fine. */
void watchdog_stop(struct watchdog *w);

#endif
