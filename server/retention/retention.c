#include "retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "timeutil.h"

#define DEFAULT_EVERY_MS   (5 * 60 * 1000)
#define DEFAULT_CHUNK_ROWS 10000
#define DEFAULT_PAUSE_MS   50
#define MAX_DEVICES        1000000 /* devices visited per run */

struct retention {
    struct store_source db;
    int64_t keep_days, every_ms, pause_ms;
    size_t chunk_rows;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct store *st;
    _Atomic uint64_t runs, rows_deleted, errors;
    _Atomic int64_t last_run_ms;
};

/* Sleeps up to ms on the monotonic clock; false once stop is asked for. */
static bool nap(struct retention *r, int64_t ms)
{
    struct timespec until = time_mono_deadline(ms);
    pthread_mutex_lock(&r->lock);
    while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
        ;
    bool go_on = !r->stop;
    pthread_mutex_unlock(&r->lock);
    return go_on;
}

static bool stopping(struct retention *r)
{
    pthread_mutex_lock(&r->lock);
    bool s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

struct pk_array {
    int64_t *pk;
    size_t n, cap;
};

static int collect_pk(const struct device_rec *d, void *ctx)
{
    struct pk_array *a = ctx;
    if (a->n == a->cap) {
        if (a->cap >= MAX_DEVICES)
            return -E2BIG;
        size_t cap = a->cap ? a->cap * 2 : 64;
        int64_t *p = realloc(a->pk, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        a->pk = p;
        a->cap = cap;
    }
    a->pk[a->n++] = d->id;
    return 0;
}

/* One run over every device. 0, 1 when stopped, or a store error. */
static int run_once(struct retention *r)
{
    if (!r->st) {
        char err[STORE_ERR_LEN];
        int rc = store_source_open(&r->db, &r->st, err);
        if (rc) {
            log_warn("retention: cannot open the database: %s", err);
            return rc;
        }
    }
    int64_t before = time_now_ms() - r->keep_days * INT64_C(86400000);
    struct pk_array devs = {0};
    int rc = store_device_list(r->st, 0, collect_pk, &devs);
    for (size_t i = 0; !rc && i < devs.n; i++) {
        size_t deleted;
        do {
            deleted = 0;
            rc = store_readings_delete_before(r->st, devs.pk[i], before, r->chunk_rows, &deleted);
            if (rc)
                break;
            atomic_fetch_add(&r->rows_deleted, deleted);
            if (deleted == r->chunk_rows && !nap(r, r->pause_ms))
                rc = 1;
        } while (!rc && deleted == r->chunk_rows);
    }
    free(devs.pk);
    if (rc < 0) {
        log_warn("retention: deleting old readings failed: %s", store_errmsg(r->st));
        if (rc == -ENOTCONN) {
            store_close(r->st);
            r->st = NULL;
        }
    }
    return rc;
}

static void *retention_main(void *arg)
{
    struct retention *r = arg;
    while (!stopping(r)) {
        uint64_t before = atomic_load(&r->rows_deleted);
        int rc = run_once(r);
        if (rc == 1)
            break;
        if (rc) {
            atomic_fetch_add(&r->errors, 1);
        } else {
            atomic_fetch_add(&r->runs, 1);
            atomic_store(&r->last_run_ms, time_now_ms());
            uint64_t n = atomic_load(&r->rows_deleted) - before;
            if (n)
                log_info("retention: deleted %llu readings older than %lld days",
                         (unsigned long long)n, (long long)r->keep_days);
        }
        if (!nap(r, r->every_ms))
            break;
    }
    store_close(r->st);
    r->st = NULL;
    return NULL;
}

int retention_start(const struct retention_options *opt, struct retention **ret, char *err,
                    size_t errlen)
{
    if (opt->keep_days <= 0 || opt->every_ms < 0 || opt->pause_ms < 0 || opt->chunk_rows > 100000) {
        snprintf(err, errlen, "retention: bad options");
        return -EINVAL;
    }
    struct retention *r = calloc(1, sizeof(*r));
    int rc = r ? store_source_copy(&r->db, &opt->db) : -ENOMEM;
    if (rc) {
        free(r);
        snprintf(err, errlen, "retention: %s", rc == -ENOMEM ? "out of memory" : "bad options");
        return rc;
    }
    r->keep_days = opt->keep_days;
    r->every_ms = opt->every_ms ? opt->every_ms : DEFAULT_EVERY_MS;
    r->chunk_rows = opt->chunk_rows ? opt->chunk_rows : DEFAULT_CHUNK_ROWS;
    r->pause_ms = opt->pause_ms ? opt->pause_ms : DEFAULT_PAUSE_MS;
    time_cond_init_monotonic(&r->wake);
    pthread_mutex_init(&r->lock, NULL);
    rc = pthread_create(&r->thread, NULL, retention_main, r);
    if (rc) {
        snprintf(err, errlen, "retention: cannot start its thread: %s", strerror(rc));
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        store_source_clear(&r->db);
        free(r);
        return -rc;
    }
    *ret = r;
    return 0;
}

void retention_stop(struct retention *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    store_source_clear(&r->db);
    free(r);
}

void retention_counters(const struct retention *r, struct retention_counters *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!r)
        return;
    ret->runs = atomic_load(&r->runs);
    ret->rows_deleted = atomic_load(&r->rows_deleted);
    ret->errors = atomic_load(&r->errors);
    ret->last_run_ms = atomic_load(&r->last_run_ms);
}

int64_t retention_keep_days(const struct retention *r)
{
    return r ? r->keep_days : 0;
}
