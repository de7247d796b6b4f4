#include "broker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "broker_internal.h"
#include "log.h"
#include "timeutil.h"

#define ANSWER_TIMEOUT_MS 10000   /* for one request to the plugin */
#define POLL_MS           1000    /* the change log */
#define FULL_EVERY_MS     600000  /* a full reconciliation even when nothing was noticed */
#define RETRY_FIRST_MS    2000    /* after a failed full reconciliation, doubling ... */
#define RETRY_MAX_MS      60000   /* ... up to this */
#define PRUNE_EVERY_MS    3600000 /* forgetting old change log rows */
#define CHANGES_KEEP_MS   (24 * INT64_C(3600000))

/* --- talking to the plugin ----------------------------------------------------------------- */

void broker_on_connected(void *ctx)
{
    struct broker *b = ctx;
    pthread_mutex_lock(&b->mu);
    b->connects++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void broker_on_control(void *ctx, const void *payload, size_t len)
{
    struct broker *b = ctx;
    json_t *responses;
    const char *corr;
    if (dynsec_response_parse(payload, len, &responses, &corr))
        return;
    pthread_mutex_lock(&b->mu);
    if (b->waiting[0] && strcmp(corr, b->waiting) == 0 && !b->answer) {
        b->answer = responses; /* ours now */
        responses = NULL;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    json_decref(responses); /* another instance's answer, or a late one */
}

void broker_request_init(struct broker *b, struct dynsec_request *rq)
{
    char corr[64];
    snprintf(corr, sizeof(corr), "%s-%" PRIu64, b->nonce, ++b->seq);
    dynsec_request_init(rq, corr);
}

int broker_call(struct broker *b, struct dynsec_request *rq, json_t **ret)
{
    size_t len = 0;
    const char *payload = dynsec_request_payload(rq, &len);
    if (!payload)
        return -ENOMEM;
    pthread_mutex_lock(&b->mu);
    json_decref(b->answer);
    b->answer = NULL;
    snprintf(b->waiting, sizeof(b->waiting), "%s", rq->corr);
    uint64_t gen = b->connects;
    pthread_mutex_unlock(&b->mu);

    int r = b->publish(b->publish_ctx, DYNSEC_TOPIC, payload, len);
    pthread_mutex_lock(&b->mu);
    int64_t end = time_mono_ms() + ANSWER_TIMEOUT_MS;
    while (!r && !b->answer && !b->stop && b->connects == gen) {
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct timespec until = time_mono_deadline(left);
        pthread_cond_timedwait(&b->cv, &b->mu, &until);
    }
    json_t *answer = b->answer;
    b->answer = NULL;
    b->waiting[0] = '\0';
    if (!r && !answer)
        r = b->stop || b->connects != gen ? -ENOTCONN : -ETIMEDOUT;
    pthread_mutex_unlock(&b->mu);
    if (!r && json_array_size(answer) != rq->n)
        r = -EPROTO;
    if (r)
        json_decref(answer);
    else
        *ret = answer;
    return r;
}

const char *broker_response_error(const json_t *responses, size_t k)
{
    return json_string_value(json_object_get(json_array_get(responses, k), "error"));
}

const json_t *broker_response_data(const json_t *responses, size_t k, const char *key)
{
    return json_object_get(json_object_get(json_array_get(responses, k), "data"), key);
}

void broker_count_error(struct broker *b, const char *what, const char *why)
{
    atomic_fetch_add(&b->errors, 1);
    atomic_store(&b->in_step, false);
    log_warn("broker: %s: %s", what, why);
}

/* --- the database -------------------------------------------------------------------------- */

struct store *broker_store(struct broker *b)
{
    if (!b->store) {
        char err[STORE_ERR_LEN];
        if (store_source_open(&b->db, &b->store, err)) {
            b->store = NULL;
            log_warn("broker: database unavailable: %s", err);
        }
    }
    return b->store;
}

int broker_store_trouble(struct broker *b, int r, const char *what)
{
    log_warn("broker: %s: %s", what, store_errmsg(b->store));
    if (r == -ENOTCONN) {
        store_close(b->store);
        b->store = NULL;
    }
    return r;
}

/* --- the thread ---------------------------------------------------------------------------- */

static void *broker_main(void *arg)
{
    struct broker *b = arg;
    uint64_t synced = 0; /* the connection the last full reconciliation was made on */
    uint64_t seen = 0;   /* the newest connection seen */
    bool full_needed = true;
    int64_t next_full = 0, next_poll = 0, next_prune = 0, retry_ms = RETRY_FIRST_MS;
    int64_t failed_log_ms = INT64_MIN / 2;

    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (b->connects == 0 || (!b->n_nudged && !b->nudge_overflow)) {
            struct timespec until = time_mono_deadline(POLL_MS / 4);
            pthread_cond_timedwait(&b->cv, &b->mu, &until);
        }
        if (b->stop || b->connects == 0)
            continue;
        uint64_t gen = b->connects;
        char nudged[NUDGES_MAX][DEVICE_ID_MAX + 1];
        size_t n_nudged = b->n_nudged;
        memcpy(nudged, b->nudged, n_nudged * sizeof(nudged[0]));
        full_needed = full_needed || b->nudge_overflow;
        b->n_nudged = 0;
        b->nudge_overflow = false;
        pthread_mutex_unlock(&b->mu);

        int64_t now = time_mono_ms();
        int r = 0;
        if (gen != seen) { /* a new connection: reconcile now, whatever failed before */
            seen = gen;
            next_poll = now;
            retry_ms = RETRY_FIRST_MS;
        }
        if ((full_needed || gen != synced || now >= next_full) && now >= next_poll) {
            r = broker_full_reconcile(b);
            if (r) {
                atomic_store(&b->in_step, false);
                if (now - failed_log_ms >= RETRY_MAX_MS) {
                    log_warn("broker: the broker's accounts are not in step: %s; trying again "
                             "(is the dynamic-security plugin loaded, and is %s its admin?)",
                             strerror(-r), b->user);
                    failed_log_ms = now;
                }
                next_poll = now + retry_ms;
                retry_ms = retry_ms * 2 < RETRY_MAX_MS ? retry_ms * 2 : RETRY_MAX_MS;
                full_needed = true;
            } else {
                synced = gen;
                full_needed = false;
                retry_ms = RETRY_FIRST_MS;
                next_full = now + FULL_EVERY_MS;
                next_poll = now + POLL_MS;
            }
        } else if (!full_needed && gen == synced) {
            for (size_t k = 0; !r && k < n_nudged; k++)
                r = broker_sync_device(b, nudged[k]);
            if (!r && now >= next_poll) {
                r = broker_follow_changes(b, now);
                next_poll = now + POLL_MS;
            }
            /* Whatever failed is taken up by a full reconciliation. */
            full_needed = r != 0;
        }
        if (now >= next_prune && broker_store(b)) {
            size_t pruned = 0;
            int64_t wall = time_now_ms();
            if (store_device_changes_prune(b->store, wall - CHANGES_KEEP_MS, &pruned))
                broker_store_trouble(b, -EIO, "pruning the change log");
            next_prune = now + PRUNE_EVERY_MS;
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int broker_start(const struct broker_options *o, struct broker **ret, char *err, size_t errlen)
{
    if (!o->server_user || !o->publish) {
        snprintf(err, errlen, "broker provisioning needs the server's broker account");
        return -EINVAL;
    }
    struct broker *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int r = dynsec_managed_prefix(o->server_user, b->prefix);
    if (r) {
        snprintf(err, errlen, "mqtt_username must be 1 to %d bytes", DYNSEC_USER_MAX);
        free(b);
        return r;
    }
    uint8_t raw[8];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        memset(raw, 0, sizeof(raw)); /* only tells our answers from another instance's */
    for (size_t k = 0; k < sizeof(raw); k++)
        snprintf(b->nonce + 2 * k, 3, "%02x", raw[k]);
    b->publish = o->publish;
    b->publish_ctx = o->publish_ctx;
    b->device_changed = o->device_changed;
    b->changed_ctx = o->changed_ctx;
    if (!(b->user = strdup(o->server_user)) || store_source_copy(&b->db, &o->db)) {
        free(b->user);
        free(b);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&b->mu, NULL);
    time_cond_init_monotonic(&b->cv);
    r = pthread_create(&b->thread, NULL, broker_main, b);
    if (r) {
        snprintf(err, errlen, "cannot start the broker provisioning thread: %s", strerror(r));
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        store_source_clear(&b->db);
        free(b->user);
        free(b);
        return -r;
    }
    *ret = b;
    return 0;
}

void broker_device_changed(struct broker *b, const char *device_id)
{
    if (!b || !device_id_valid(device_id))
        return;
    pthread_mutex_lock(&b->mu);
    if (b->n_nudged < NUDGES_MAX)
        snprintf(b->nudged[b->n_nudged++], sizeof(b->nudged[0]), "%s", device_id);
    else
        b->nudge_overflow = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void broker_get_stats(struct broker *b, struct broker_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!b)
        return;
    ret->in_step = atomic_load(&b->in_step);
    ret->reconciliations = atomic_load(&b->reconciliations);
    ret->changes = atomic_load(&b->changes);
    ret->created = atomic_load(&b->created);
    ret->updated = atomic_load(&b->updated);
    ret->deleted = atomic_load(&b->deleted);
    ret->collisions = atomic_load(&b->collisions);
    ret->errors = atomic_load(&b->errors);
    ret->devices = atomic_load(&b->devices);
}

void broker_stop(struct broker *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    bool joined = b->joined;
    b->stop = true;
    b->joined = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (!joined)
        pthread_join(b->thread, NULL);
}

void broker_free(struct broker *b)
{
    if (!b)
        return;
    broker_stop(b);
    json_decref(b->answer);
    store_close(b->store);
    store_source_clear(&b->db);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->user);
    free(b);
}
