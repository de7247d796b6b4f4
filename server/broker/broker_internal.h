/*
 * broker_internal: what the provisioning's two files share (broker.h is the
 * public side): the broker's state, and the request/answer exchange with the
 * plugin that broker.c runs for the reconciliation in reconcile.c. Every
 * function here runs on the provisioning thread, except where it says so.
 */
#ifndef SMARTMETER_BROKER_INTERNAL_H
#define SMARTMETER_BROKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "broker.h"
#include "dynsec.h"

#define CHANGES_PER_READ 256 /* change log rows read at once */
#define NUDGES_MAX       64

struct broker {
    struct store_source db;
    char *user;
    char prefix[DYNSEC_DESC_MAX + 1];
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t len);
    void *publish_ctx;
    void (*device_changed)(void *ctx, const char *device_id);
    void *changed_ctx;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, joined;
    uint64_t connects; /* broker_on_connected() calls */
    char waiting[64];  /* correlation data of the request in flight, "" */
    json_t *answer;    /* its responses, once they came */
    char nudged[NUDGES_MAX][DEVICE_ID_MAX + 1];
    size_t n_nudged;
    bool nudge_overflow; /* more nudges than kept: look at everything */

    /* The thread's own. */
    struct store *store;
    char nonce[17];
    uint64_t seq;
    int64_t watermark;              /* every change up to this id is applied */
    int64_t gap_since_ms;           /* an id above the watermark is missing since */
    int64_t done[CHANGES_PER_READ]; /* ids above the watermark already applied */
    size_t n_done;

    atomic_bool in_step;
    atomic_uint_fast64_t reconciliations, changes, created, updated, deleted, collisions, errors;
    atomic_size_t devices;
};

/* A request tagged with this instance's next correlation data. */
void broker_request_init(struct broker *b, struct dynsec_request *rq);
/*
 * Sends rq and waits for its answer: 0 with *ret (one response per command,
 * the caller decrefs it), -ETIMEDOUT, -ENOTCONN (the connection changed
 * meanwhile), -EPROTO (an answer of the wrong length), or the publish's error.
 */
int broker_call(struct broker *b, struct dynsec_request *rq, json_t **ret);
/* The error response k carries, or NULL; its "data" member key, or NULL. */
const char *broker_response_error(const json_t *responses, size_t k);
const json_t *broker_response_data(const json_t *responses, size_t k, const char *key);
/* Counts and logs a failed request (what: about what; why: the broker's or our reason). */
void broker_count_error(struct broker *b, const char *what, const char *why);

/* The thread's database connection, (re)opened as needed; NULL when unreachable (logged). */
struct store *broker_store(struct broker *b);
/* Logs a store error, drops a lost connection, returns r. */
int broker_store_trouble(struct broker *b, int r, const char *what);

/* reconcile.c: a full reconciliation; one device; the change log after the watermark. */
int broker_full_reconcile(struct broker *b);
int broker_sync_device(struct broker *b, const char *device_id);
int broker_follow_changes(struct broker *b, int64_t now_ms);

#endif
