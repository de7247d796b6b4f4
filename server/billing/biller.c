/*
 * biller: the billing thread (biller.h).
 *
 * Devices noted by the writer go in a list (not deduplicated: the thread
 * sorts what it takes and runs each device once); when the list is full, a
 * sweep of every device stands in for it. Devices waiting at a gap are kept
 * with the instant their wait ends.
 */
#include "biller.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "threadprio.h"
#include "timeutil.h"

#define NOTED_MAX       65536
#define WAITING_MAX     65536
#define SWEEP_MS        600000
#define RETRY_MS        5000
#define RUNS_PER_DEVICE 64 /* CHARGE_MAX_BATCH readings each before the next device's turn */
/*
 * A device noted is billed this long after the first note, so the writer's
 * batches of a busy stream (one every few ms) are billed together: one billing
 * transaction per device for many batches, not one per batch. Each billing
 * transaction locks the device row, which the writer's next batch for that
 * device then waits for (and, on SQLite, the database): with 250 ms a backlog
 * of 100 devices took one transaction per 60 readings and 26 % more CPU per
 * reading than without billing on MariaDB; with 2 s, one per 330 readings and
 * 10 % more (docs/performance.md). The balance follows the readings within
 * about 2 s of their commit.
 */
#define COALESCE_MS 2000

struct waiting {
    int64_t device_pk;
    int64_t until_ms;
};

struct biller {
    struct biller_options opt;
    struct store_source db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    int64_t *noted; /* NOTED_MAX */
    size_t n_noted;
    bool overflow; /* a note was lost: sweep */
    bool quit;
    bool busy;          /* the thread is billing what it took */
    bool flushing;      /* biller_flush() waits: no coalescing delay */
    uint64_t taken_gen; /* notes taken so far (for biller_flush) */
    uint64_t noted_gen;
    struct waiting *waiting; /* WAITING_MAX */
    size_t n_waiting;
    int64_t next_sweep_ms;
    int64_t first_note_ms; /* when the oldest note still in the list came */
    struct store *st;
    struct biller_counters counters;
};

void biller_notify(void *ctx, int64_t device_pk)
{
    struct biller *b = ctx;
    pthread_mutex_lock(&b->mu);
    if (b->n_noted == 0)
        b->first_note_ms = time_now_ms();
    if (b->n_noted < NOTED_MAX)
        b->noted[b->n_noted++] = device_pk;
    else
        b->overflow = true;
    b->noted_gen++;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
}

static int cmp_pk(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct work {
    int64_t *pk;
    size_t n, cap;
};

static int work_add(struct work *w, int64_t pk)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        int64_t *p = realloc(w->pk, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        w->pk = p;
        w->cap = cap;
    }
    w->pk[w->n++] = pk;
    return 0;
}

static int add_device(const struct device_rec *d, void *ctx)
{
    return work_add(ctx, d->id);
}

/* Keeps (or forgets, when not waiting) the device's wait. Called with the lock held. */
static void set_waiting(struct biller *b, int64_t pk, bool waiting, int64_t until_ms)
{
    for (size_t i = 0; i < b->n_waiting; i++) {
        if (b->waiting[i].device_pk == pk) {
            if (waiting)
                b->waiting[i].until_ms = until_ms;
            else
                b->waiting[i] = b->waiting[--b->n_waiting];
            return;
        }
    }
    if (!waiting)
        return;
    if (b->n_waiting < WAITING_MAX)
        b->waiting[b->n_waiting++] = (struct waiting){pk, until_ms};
    else
        b->overflow = true;
}

/* Bills one device until it is caught up or waits. false after a database error. */
static bool bill_device(struct biller *b, int64_t pk)
{
    char err[STORE_ERR_LEN];
    if (!b->st && store_source_open(&b->db, &b->st, err)) {
        log_warn("billing: cannot open the database: %s", err);
        b->st = NULL;
        return false;
    }
    struct billing_run_result res = {0};
    for (int k = 0; k < RUNS_PER_DEVICE; k++) {
        int r = store_billing_run(b->st, pk, time_now_ms(), b->opt.gap_wait_ms, &res);
        if (r == -ENOENT)
            break; /* deleted meanwhile */
        if (r) {
            log_warn("billing: device %lld: %s", (long long)pk, store_errmsg(b->st));
            store_close(b->st);
            b->st = NULL;
            pthread_mutex_lock(&b->mu);
            b->counters.errors++;
            pthread_mutex_unlock(&b->mu);
            return false;
        }
        pthread_mutex_lock(&b->mu);
        if (res.readings || res.fen)
            b->counters.runs++;
        b->counters.fen += (uint64_t)res.fen;
        pthread_mutex_unlock(&b->mu);
        if (!res.more)
            break;
    }
    pthread_mutex_lock(&b->mu);
    /* A device still behind (more) is taken again at once, as if noted. */
    if (res.more && b->n_noted < NOTED_MAX) {
        if (b->n_noted == 0)
            b->first_note_ms = 0; /* due at once */
        b->noted[b->n_noted++] = pk;
    }
    set_waiting(b, pk, res.waiting, res.wait_until_ms);
    pthread_mutex_unlock(&b->mu);
    return true;
}

static void *biller_main(void *arg)
{
    struct biller *b = arg;
    (void)thread_set_nice(b->opt.nice);
    struct work w = {0};
    pthread_mutex_lock(&b->mu);
    while (!b->quit) {
        int64_t now = time_now_ms();
        int64_t next = b->next_sweep_ms;
        for (size_t i = 0; i < b->n_waiting; i++)
            if (b->waiting[i].until_ms < next)
                next = b->waiting[i].until_ms;
        bool sweep = b->overflow || now >= b->next_sweep_ms;
        bool noted_due = b->n_noted && (b->flushing || now >= b->first_note_ms + COALESCE_MS);
        if (b->n_noted && !noted_due && b->first_note_ms + COALESCE_MS < next)
            next = b->first_note_ms + COALESCE_MS;
        if (!noted_due && !sweep && now < next) {
            b->busy = false;
            pthread_cond_broadcast(&b->idle);
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000};
            pthread_cond_timedwait(&b->wake, &b->mu, &ts);
            continue;
        }
        b->busy = true;
        w.n = 0;
        bool ok = true;
        for (size_t i = 0; i < b->n_noted && ok; i++)
            ok = !work_add(&w, b->noted[i]);
        b->n_noted = 0;
        uint64_t gen = b->noted_gen;
        for (size_t i = 0; i < b->n_waiting && ok; i++) {
            if (b->waiting[i].until_ms <= now) {
                ok = !work_add(&w, b->waiting[i].device_pk);
                b->waiting[i].until_ms = now + RETRY_MS; /* its run sets it right */
            }
        }
        if (!ok)
            sweep = true;
        b->overflow = false;
        if (sweep)
            b->next_sweep_ms = now + b->opt.sweep_ms;
        pthread_mutex_unlock(&b->mu);

        if (sweep) {
            char err[STORE_ERR_LEN];
            w.n = 0;
            if (!b->st && store_source_open(&b->db, &b->st, err)) {
                log_warn("billing: cannot open the database: %s", err);
                b->st = NULL;
                ok = false;
            } else if (store_device_list(b->st, 0, add_device, &w)) {
                log_warn("billing: cannot list devices: %s", store_errmsg(b->st));
                ok = false;
            }
        }
        if (w.n > 1) /* qsort must not see the NULL of an empty list */
            qsort(w.pk, w.n, sizeof(*w.pk), cmp_pk);
        for (size_t i = 0; i < w.n && ok; i++)
            if (i == 0 || w.pk[i] != w.pk[i - 1])
                ok = bill_device(b, w.pk[i]);

        pthread_mutex_lock(&b->mu);
        if (!ok) /* try everything again soon */
            b->next_sweep_ms = time_now_ms() + RETRY_MS;
        else
            b->taken_gen = gen;
    }
    b->busy = false;
    pthread_cond_broadcast(&b->idle);
    pthread_mutex_unlock(&b->mu);
    free(w.pk);
    return NULL;
}

int biller_start(const struct biller_options *opt, struct biller **ret, char *err, size_t errlen)
{
    if (opt->gap_wait_ms < 0 || opt->sweep_ms < 0) {
        snprintf(err, errlen, "billing: gap_wait_ms and sweep_ms must not be negative");
        return -EINVAL;
    }
    struct biller *b = calloc(1, sizeof(*b));
    if (b) {
        b->noted = malloc(NOTED_MAX * sizeof(*b->noted));
        b->waiting = malloc(WAITING_MAX * sizeof(*b->waiting));
    }
    if (!b || !b->noted || !b->waiting || store_source_copy(&b->db, &opt->db)) {
        if (b) {
            free(b->noted);
            free(b->waiting);
        }
        free(b);
        snprintf(err, errlen, "billing: out of memory");
        return -ENOMEM;
    }
    b->opt = *opt;
    if (!b->opt.sweep_ms)
        b->opt.sweep_ms = SWEEP_MS;
    b->next_sweep_ms = 0; /* at once: what was left unbilled */
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->idle, NULL);
    int r = pthread_create(&b->thread, NULL, biller_main, b);
    if (r) {
        snprintf(err, errlen, "billing: cannot start its thread: %s", strerror(r));
        store_source_clear(&b->db);
        free(b->noted);
        free(b->waiting);
        free(b);
        return -r;
    }
    *ret = b;
    return 0;
}

int biller_flush(struct biller *b, int64_t timeout_ms)
{
    int64_t deadline = time_now_ms() + timeout_ms;
    pthread_mutex_lock(&b->mu);
    uint64_t want = b->noted_gen;
    b->flushing = true;
    pthread_cond_signal(&b->wake);
    int r = 0;
    while (b->taken_gen < want || b->busy || b->n_noted) {
        if (time_now_ms() >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        struct timespec ts = {.tv_sec = deadline / 1000,
                              .tv_nsec = (long)(deadline % 1000) * 1000000};
        pthread_cond_timedwait(&b->idle, &b->mu, &ts);
    }
    b->flushing = false;
    pthread_mutex_unlock(&b->mu);
    return r;
}

void biller_counters(struct biller *b, struct biller_counters *ret)
{
    pthread_mutex_lock(&b->mu);
    *ret = b->counters;
    pthread_mutex_unlock(&b->mu);
}

void biller_stop(struct biller *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->quit = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    store_close(b->st);
    store_source_clear(&b->db);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->mu);
    free(b->noted);
    free(b->waiting);
    free(b);
}
