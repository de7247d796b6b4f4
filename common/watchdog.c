/*
 * The pinger wakes a few times per ping period to sample every check, so a
 * stall is seen within a quarter interval (or a second) of stall_ms, and
 * pings only when none is stale. Checks are sampled under the lock, which the
 * daemon's threads never take: a beat is one relaxed atomic add.
 */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "sdnotify.h"
#include "timeutil.h"

struct check {
    const char *name;
    struct watchdog_beat *beat; /* a beat, or */
    watchdog_probe_fn probe;    /* a probe and its ctx */
    void *ctx;
    bool primed; /* sampled once: last and moved_ms are set */
    bool stale;
    uint64_t last;
    int64_t moved_ms; /* when it last moved or was idle */
};

struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool quit;
    int64_t ping_ms;  /* half the interval */
    int64_t tick_ms;  /* how often the checks are sampled */
    int64_t stall_ms; /* how long a check may stand still */
    struct check checks[WATCHDOG_CHECKS_MAX];
    unsigned nchecks;
    atomic_uint_fast64_t pings, stalls;
};

/* Samples one check at now; returns whether it is stale. Under w->mu. */
static bool check_sample(struct watchdog *w, struct check *c, int64_t now)
{
    uint64_t progress;
    bool busy = true;
    if (c->beat)
        progress = atomic_load_explicit(&c->beat->passes, memory_order_relaxed);
    else
        busy = c->probe(c->ctx, &progress);
    if (!c->primed || progress != c->last || !busy) {
        if (c->stale)
            log_info("watchdog: %s makes progress again; pinging the service manager again",
                     c->name);
        c->primed = true;
        c->stale = false;
        c->last = progress;
        c->moved_ms = now;
        return false;
    }
    if (!c->stale && now - c->moved_ms >= w->stall_ms) {
        c->stale = true;
        atomic_fetch_add(&w->stalls, 1);
        char status[160];
        snprintf(status, sizeof(status),
                 "watchdog: %s has made no progress for %lld ms; no more keep-alive pings", c->name,
                 (long long)(now - c->moved_ms));
        log_error("%s (the service manager restarts a hung service)", status);
        sdnotify_status(status);
    }
    return c->stale;
}

static void *pinger_main(void *arg)
{
    struct watchdog *w = arg;
    int64_t last_ping = 0;
    bool pinged = false;
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        int64_t now = time_mono_ms();
        bool stale = false;
        for (unsigned k = 0; k < w->nchecks; k++)
            stale = check_sample(w, &w->checks[k], now) || stale;
        if (!stale && (!pinged || now - last_ping >= w->ping_ms)) {
            if (sdnotify_watchdog() > 0)
                atomic_fetch_add(&w->pings, 1);
            last_ping = now;
            pinged = true;
        }
        struct timespec until = time_mono_deadline(w->tick_ms);
        pthread_cond_timedwait(&w->wake, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int watchdog_start(uint64_t interval_usec, int64_t stall_ms, struct watchdog **ret)
{
    *ret = NULL;
    if (interval_usec == 0)
        return 0;
    if (interval_usec < 2000 || stall_ms < 0)
        return -EINVAL;
    struct watchdog *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    int64_t interval_ms = (int64_t)(interval_usec / 1000);
    w->ping_ms = interval_ms / 2;
    w->tick_ms = interval_ms / 4 > 1000 ? 1000 : (interval_ms / 4 ? interval_ms / 4 : 1);
    w->stall_ms = stall_ms ? stall_ms : interval_ms;
    int r = pthread_mutex_init(&w->mu, NULL);
    if (r) {
        free(w);
        return -r;
    }
    r = time_cond_init_monotonic(&w->wake);
    if (r) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -r;
    }
    r = pthread_create(&w->thread, NULL, pinger_main, w);
    if (r) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -r;
    }
    *ret = w;
    return 0;
}

static int add_check(struct watchdog *w, const struct check *c)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    int r = -ENOSPC;
    if (w->nchecks < WATCHDOG_CHECKS_MAX) {
        w->checks[w->nchecks++] = *c;
        r = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

int watchdog_add_beat(struct watchdog *w, const char *name, struct watchdog_beat *beat)
{
    return add_check(w, &(struct check){.name = name, .beat = beat});
}

int watchdog_add_probe(struct watchdog *w, const char *name, watchdog_probe_fn fn, void *ctx)
{
    return add_check(w, &(struct check){.name = name, .probe = fn, .ctx = ctx});
}

uint64_t watchdog_pings(const struct watchdog *w)
{
    return w ? atomic_load(&w->pings) : 0;
}

uint64_t watchdog_stalls(const struct watchdog *w)
{
    return w ? atomic_load(&w->stalls) : 0;
}

void watchdog_stop(struct watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
