#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ack.h"
#include "dynbuf.h"
#include "log.h"
#include "store.h"
#include "threadprio.h"
#include "timeutil.h"
#include "topic.h"

#define RETRY_FIRST_MS  50
#define RETRY_MAX_MS    2000
#define SUBMIT_SLICE_MS 1000
#define WAIT_SLICE_MS   100 /* an upload waiting for its commit checks for shutdown this often */
/* Acks waiting for the MQTT client; beyond this they are dropped (the meter resends). */
#define OUTBOX_MAX 4096

/*
 * What a writer_submit_wait() caller waits for, or what a
 * writer_submit_async() caller is told about. Shared by the caller (or, for
 * async, the pending list) and the queued entry, all under the writer's
 * mutex: whichever lets go last frees it, so a caller that timed out leaves
 * nothing dangling.
 */
struct completion {
    int refs;
    bool done;
    size_t inserted;
    bool no_seq_left;  /* a reading without seq found none left: the answer is -ERANGE */
    pthread_cond_t cv; /* sync: signalled when done, so each waiter wakes only for its own */
    /* async: */
    writer_done_fn cb;
    void *cb_ctx;
    int64_t deadline_ms;     /* monotonic: -ETIMEDOUT then */
    bool notified;           /* cb called (or about to be) */
    int result;              /* what cb is told */
    struct completion *prev; /* the pending list, in deadline order */
    struct completion *next;
    struct completion *notify; /* a list of those about to be told, outside the mutex */
};

/* One message's outcome, queued whole. */
struct entry {
    struct entry *next;
    struct completion *waiter; /* an HTTP upload waiting for the commit (no ack); or NULL */
    int64_t device_pk;
    char device_id[DEVICE_ID_MAX + 1];
    bool signed_acks; /* ack_key holds the device's key */
    struct sign_key ack_key;
    size_t n, n_rejected;
    uint64_t *rejected; /* n_rejected, after the readings in the same block */
    uint64_t ticket;    /* submission number, for writer_flush() */
    struct reading r[];
};

/* One ack waiting to be published. */
struct outmsg {
    struct outmsg *next;
    char topic[TOPIC_MAX];
    size_t len;
    char payload[];
};

struct writer {
    struct writer_options opts;
    struct store_source db; /* opts.db, copied */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer: entries arrived, or stop */
    pthread_cond_t room; /* submitters: room in the queue; flushers and waiters: progress */
    struct entry *head, *tail;
    size_t queued;        /* readings in the list */
    size_t waiting;       /* entries in the list with a waiter: commit them without delay */
    size_t depth;         /* queued + being written */
    uint64_t submitted;   /* tickets handed out */
    uint64_t done;        /* every ticket <= done is committed and acked */
    bool stopping;        /* no more submissions */
    bool quit;            /* the thread must end now */
    struct store *store;  /* the writer thread's own connection */
    bool store_dedicated; /* store_dedicate_to_batches() done on it */
    /*
     * Acks go out from a thread of their own: the MQTT client's callback may be
     * waiting in writer_submit() for room, and paho may hold its own lock
     * meanwhile, so the writer must never wait for paho itself.
     */
    pthread_t sender;
    bool sender_started;
    pthread_cond_t outbox_wake;
    struct outmsg *out_head, *out_tail;
    size_t outbox; /* queued + being published */
    bool sender_quit;
    /* writer_submit_async() callers not told yet, oldest (first deadline) first. */
    struct completion *pend_head, *pend_tail;
    pthread_t reaper; /* tells those whose deadline passed */
    bool reaper_started;
    bool reaper_quit;
    pthread_cond_t reaper_wake;
};

static size_t weight(const struct entry *e)
{
    size_t w = e->n + e->n_rejected;
    return w ? w : 1;
}

static void set_depth(struct writer *w)
{
    atomic_store(&w->opts.stats->queue_depth, w->depth);
}

static void completion_release(struct completion *c)
{
    if (c && --c->refs == 0) {
        if (!c->cb)
            pthread_cond_destroy(&c->cv);
        free(c);
    }
}

/*
 * Under the mutex: takes an async completion off the pending list and puts it
 * on *notes with result r, keeping the pending list's reference for
 * tell_notes(). Nothing when it was told already.
 */
static void note(struct writer *w, struct completion *c, int r, struct completion **notes)
{
    if (!c || !c->cb || c->notified)
        return;
    c->notified = true;
    c->result = r;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->pend_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->pend_tail = c->prev;
    c->prev = c->next = NULL;
    c->notify = *notes;
    *notes = c;
}

/* Without the mutex: calls each noted callback, then drops the references. */
static void tell_notes(struct writer *w, struct completion *notes)
{
    for (struct completion *c = notes; c; c = c->notify)
        c->cb(c->cb_ctx, c->result, c->inserted);
    if (!notes)
        return;
    pthread_mutex_lock(&w->mu);
    while (notes) {
        struct completion *next = notes->notify;
        completion_release(notes);
        notes = next;
    }
    pthread_mutex_unlock(&w->mu);
}

/*
 * Queues one entry (see writer_submit()); with waiter, the entry takes a
 * reference to it. Waits for room until end_ms (monotonic; INT64_MAX: for
 * ever). -ETIMEDOUT when the queue stayed full.
 */
static int enqueue(struct writer *w, int64_t device_pk, const char *device_id,
                   const struct sign_key *ack_key, const struct reading *r, size_t n,
                   const uint64_t *rejected, size_t n_rejected, struct completion *waiter,
                   int64_t end_ms)
{
    size_t need = n + n_rejected ? n + n_rejected : 1;
    if (need > w->opts.queue_max)
        return -E2BIG;
    struct entry *e = malloc(sizeof(*e) + n * sizeof(e->r[0]) + n_rejected * sizeof(uint64_t));
    if (!e)
        return -ENOMEM;
    e->next = NULL;
    e->waiter = waiter;
    e->device_pk = device_pk;
    snprintf(e->device_id, sizeof(e->device_id), "%s", device_id);
    e->signed_acks = ack_key != NULL;
    if (ack_key)
        e->ack_key = *ack_key;
    e->n = n;
    e->n_rejected = n_rejected;
    if (n)
        memcpy(e->r, r, n * sizeof(e->r[0]));
    e->rejected = (uint64_t *)(void *)(e->r + n);
    if (n_rejected)
        memcpy(e->rejected, rejected, n_rejected * sizeof(uint64_t));

    pthread_mutex_lock(&w->mu);
    bool counted = false;
    while (!w->stopping && w->depth + need > w->opts.queue_max) {
        if (!counted) {
            atomic_fetch_add(&w->opts.stats->queue_full, 1);
            counted = true;
        }
        /* Blocks the MQTT client's thread: it reads nothing more until there is room. */
        int64_t left = end_ms == INT64_MAX ? SUBMIT_SLICE_MS : end_ms - time_mono_ms();
        if (left <= 0)
            break;
        struct timespec until = time_mono_deadline(left < SUBMIT_SLICE_MS ? left : SUBMIT_SLICE_MS);
        pthread_cond_timedwait(&w->room, &w->mu, &until);
    }
    if (w->stopping || w->depth + need > w->opts.queue_max) {
        int err = w->stopping ? -ESHUTDOWN : -ETIMEDOUT;
        pthread_mutex_unlock(&w->mu);
        free(e);
        return err;
    }
    if (waiter) {
        waiter->refs++;
        w->waiting++;
        if (waiter->cb) { /* the caller's reference becomes the pending list's */
            waiter->prev = w->pend_tail;
            if (w->pend_tail)
                w->pend_tail->next = waiter;
            else
                w->pend_head = waiter;
            w->pend_tail = waiter;
            if (w->pend_head == waiter)
                pthread_cond_signal(&w->reaper_wake);
        }
    }
    e->ticket = ++w->submitted;
    /*
     * The writer waits for a first entry, then for a full batch, an upload or the end of
     * batch_wait_ms (take_batch()): only those wake it, not every message in between
     * (a wake-up a message cost a futex call on each side and the writer's thread switch).
     */
    bool wake = !w->head || waiter || w->queued + need >= w->opts.batch_max;
    if (w->tail)
        w->tail->next = e;
    else
        w->head = e;
    w->tail = e;
    w->queued += need;
    w->depth += need;
    set_depth(w);
    if (wake)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int writer_submit(struct writer *w, int64_t device_pk, const char *device_id,
                  const struct sign_key *ack_key, const struct reading *r, size_t n,
                  const uint64_t *rejected, size_t n_rejected)
{
    return enqueue(w, device_pk, device_id, ack_key, r, n, rejected, n_rejected, NULL, INT64_MAX);
}

int writer_submit_wait(struct writer *w, int64_t device_pk, const struct reading *readings,
                       size_t n, size_t *ret_inserted, int64_t timeout_ms)
{
    if (n == 0)
        return -EINVAL;
    int64_t end = time_mono_ms() + timeout_ms;
    struct completion *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    time_cond_init_monotonic(&c->cv);
    int r = enqueue(w, device_pk, "", NULL, readings, n, NULL, 0, c, end);
    if (r) {
        completion_release(c);
        return r;
    }
    pthread_mutex_lock(&w->mu);
    while (!c->done && !w->quit) {
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            break;
        /* In slices, to notice writer_stop() (which does not know each waiter). */
        struct timespec until = time_mono_deadline(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS);
        pthread_cond_timedwait(&c->cv, &w->mu, &until);
    }
    if (c->done) {
        *ret_inserted = c->inserted;
        r = c->no_seq_left ? -ERANGE : 0;
    } else
        r = w->quit ? -ESHUTDOWN : -ETIMEDOUT;
    completion_release(c);
    pthread_mutex_unlock(&w->mu);
    return r;
}

int writer_submit_async(struct writer *w, int64_t device_pk, const struct reading *readings,
                        size_t n, int64_t timeout_ms, writer_done_fn cb, void *ctx)
{
    if (n == 0 || !cb)
        return -EINVAL;
    int64_t end = time_mono_ms() + timeout_ms;
    struct completion *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    c->cb = cb;
    c->cb_ctx = ctx;
    c->deadline_ms = end;
    int r = enqueue(w, device_pk, "", NULL, readings, n, NULL, 0, c, end);
    if (r)
        free(c); /* not queued: nobody else holds it */
    return r;
}

size_t writer_depth(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    size_t d = w->depth;
    pthread_mutex_unlock(&w->mu);
    return d;
}

int writer_flush(struct writer *w, int64_t timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->submitted;
    int r = 0;
    while (w->done < target || w->outbox > 0) {
        int64_t left = end - time_mono_ms();
        if (left <= 0) {
            r = -ETIMEDOUT;
            break;
        }
        struct timespec until = time_mono_deadline(left < 100 ? left : 100);
        pthread_cond_timedwait(&w->room, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* --- the writer thread --------------------------------------------------------------------- */

/*
 * Takes the next batch off the queue: waits for a first entry, then up to
 * batch_wait_ms for more, and detaches whole entries up to batch_max readings
 * (at least one). NULL when the thread must end.
 */
static struct entry *take_batch(struct writer *w, size_t *ret_weight)
{
    pthread_mutex_lock(&w->mu);
    while (!w->head && !w->quit && !w->stopping)
        pthread_cond_wait(&w->wake, &w->mu);
    if (!w->head || w->quit) {
        pthread_mutex_unlock(&w->mu);
        return NULL;
    }
    /*
     * MQTT batches wait up to batch_wait_ms to fill. An HTTP upload waits for its commit, so
     * with one queued the batch goes at once: uploads arriving while it commits queue up
     * and share the next transaction (group commit).
     */
    struct timespec until = time_mono_deadline(w->opts.batch_wait_ms);
    while (!w->quit && !w->stopping && w->waiting == 0 && w->queued < w->opts.batch_max) {
        if (pthread_cond_timedwait(&w->wake, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    struct entry *first = w->head, *last = NULL;
    size_t total = 0;
    for (struct entry *e = w->head; e; e = e->next) {
        if (last && total + weight(e) > w->opts.batch_max)
            break;
        total += weight(e);
        if (e->waiter)
            w->waiting--;
        last = e;
    }
    w->head = last->next;
    if (!w->head)
        w->tail = NULL;
    last->next = NULL;
    w->queued -= total;
    pthread_mutex_unlock(&w->mu);
    *ret_weight = total;
    return first;
}

/* Sleeps ms unless the thread is told to quit; returns true to keep going. */
static bool backoff(struct writer *w, unsigned ms)
{
    pthread_mutex_lock(&w->mu);
    struct timespec until = time_mono_deadline(ms);
    while (!w->quit) {
        if (pthread_cond_timedwait(&w->wake, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    bool go = !w->quit;
    pthread_mutex_unlock(&w->mu);
    return go;
}

/*
 * Stores the batch's valid readings in one transaction, retrying until it
 * commits. Returns 0 when committed, -ECANCELED when the writer must quit
 * first (nothing is acknowledged then).
 */
static int store_batch(struct writer *w, struct store_batch_item *items, size_t n,
                       size_t *ret_inserted)
{
    unsigned wait_ms = RETRY_FIRST_MS;
    unsigned failures = 0;
    for (;;) {
        char err[STORE_ERR_LEN];
        int r = 0;
        if (!w->store && (r = store_source_open(&w->db, &w->store, err)) != 0) {
            w->store = NULL;
        } else if (!w->store_dedicated && (r = store_dedicate_to_batches(w->store)) != 0) {
            snprintf(err, sizeof(err), "%s", store_errmsg(w->store));
        } else {
            w->store_dedicated = true;
            uint64_t t0 = histogram_now_ns();
            r = store_readings_insert_batch(w->store, items, n, ret_inserted);
            if (r)
                snprintf(err, sizeof(err), "%s", store_errmsg(w->store));
            else
                histogram_observe_ns(&w->opts.stats->commit_duration, histogram_now_ns() - t0);
        }
        if (!r) {
            if (failures)
                log_info("writer: database back; stored the batch after %u failed attempts",
                         failures);
            return 0;
        }
        atomic_fetch_add(&w->opts.stats->db_errors, 1);
        atomic_fetch_add(&w->opts.stats->retries, 1);
        if (failures++ == 0)
            log_warn("writer: cannot store %zu readings (%s); holding them, retrying", n, err);
        /* A fresh connection next time: the old one may be dead or stuck in a bad state. */
        store_close(w->store);
        w->store = NULL;
        w->store_dedicated = false;
        if (!backoff(w, wait_ms))
            return -ECANCELED;
        if (wait_ms < RETRY_MAX_MS)
            wait_ms = wait_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : wait_ms * 2;
    }
}

/* Hands an ack to the sender thread; drops it (counted) when the outbox is full. */
static void outbox_push(struct writer *w, const char *topic, const char *payload, size_t len)
{
    struct outmsg *m = malloc(sizeof(*m) + len);
    pthread_mutex_lock(&w->mu);
    if (!m || w->outbox >= OUTBOX_MAX) {
        pthread_mutex_unlock(&w->mu);
        free(m);
        atomic_fetch_add(&w->opts.stats->ack_failures, 1);
        return;
    }
    m->next = NULL;
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    m->len = len;
    memcpy(m->payload, payload, len);
    bool wake = !w->out_head; /* the sender only waits on an empty outbox */
    if (w->out_tail)
        w->out_tail->next = m;
    else
        w->out_head = m;
    w->out_tail = m;
    w->outbox++;
    if (wake)
        pthread_cond_signal(&w->outbox_wake);
    pthread_mutex_unlock(&w->mu);
}

static void *sender_main(void *arg)
{
    struct writer *w = arg;
    (void)thread_set_nice(w->opts.nice);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->out_head && !w->sender_quit)
            pthread_cond_wait(&w->outbox_wake, &w->mu);
        if (!w->out_head)
            break;
        struct outmsg *m = w->out_head;
        w->out_head = m->next;
        if (!w->out_head)
            w->out_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        int r = w->opts.publish(w->opts.publish_ctx, m->topic, m->payload, m->len);
        if (r) {
            atomic_fetch_add(&w->opts.stats->ack_failures, 1);
            log_debug("writer: ack on %s not sent: %s", m->topic, strerror(-r));
        } else {
            atomic_fetch_add(&w->opts.stats->acks_sent, 1);
        }
        free(m);
        pthread_mutex_lock(&w->mu);
        w->outbox--;
        pthread_cond_broadcast(&w->room); /* writer_flush() waits for the outbox too */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int cmp_device(const void *pa, const void *pb)
{
    const struct entry *a = *(const struct entry *const *)pa;
    const struct entry *b = *(const struct entry *const *)pb;
    if (a->device_pk != b->device_pk)
        return a->device_pk < b->device_pk ? -1 : 1;
    return a->ticket < b->ticket ? -1 : a->ticket > b->ticket;
}

/* Publishes one device's acknowledgement: every seq of its entries [from, to). */
static void ack_device(struct writer *w, struct entry **es, size_t from, size_t to, uint64_t *seqs,
                       uint64_t *rej, struct ack_range *ranges, struct ack_range *rej_ranges,
                       struct dynbuf *buf)
{
    size_t ns = 0, nr = 0;
    for (size_t k = from; k < to; k++) {
        for (size_t i = 0; i < es[k]->n; i++)
            seqs[ns++] = es[k]->r[i].seq;
        for (size_t i = 0; i < es[k]->n_rejected; i++) {
            seqs[ns++] = es[k]->rejected[i];
            rej[nr++] = es[k]->rejected[i];
        }
    }
    if (ns == 0)
        return;
    atomic_fetch_add(&w->opts.stats->rejected_acked, nr);
    size_t na = ack_ranges(seqs, ns, ranges);
    size_t nrr = ack_ranges(rej, nr, rej_ranges);
    char topic[TOPIC_MAX];
    if (topic_build(topic, es[from]->device_id, TOPIC_ACK))
        return; /* not reached: the id came in a topic */
    /* The newest entry's key: a secret changed since an older message was queued. */
    const struct entry *keyed = es[to - 1];
    struct ack_cursor cur = {0};
    int r;
    while ((r = ack_encode_next(ranges, na, rej_ranges, nrr, &cur, buf)) == 1) {
        if (keyed->signed_acks && (r = sign_payload(&keyed->ack_key, topic, buf)))
            break;
        outbox_push(w, topic, dynbuf_str(buf), buf->len);
    }
    if (r < 0)
        log_warn("writer: ack to device '%s' not sent: %s", es[from]->device_id, strerror(-r));
}

/* After COMMIT: one acknowledgement per device of the batch, seqs merged across its messages. */
static void send_acks(struct writer *w, struct entry *batch, size_t total)
{
    if (!w->opts.publish)
        return;
    size_t ne = 0;
    for (struct entry *e = batch; e; e = e->next)
        ne += !e->waiter;
    if (ne == 0)
        return;
    struct entry **es = malloc(ne * sizeof(*es));
    uint64_t *seqs = malloc(total * sizeof(*seqs));
    uint64_t *rej = malloc(total * sizeof(*rej));
    struct ack_range *ranges = malloc(total * sizeof(*ranges));
    struct ack_range *rej_ranges = malloc(total * sizeof(*rej_ranges));
    struct dynbuf buf;
    dynbuf_init(&buf, ACK_PAYLOAD_MAX); /* what the meter reads at most */
    if (!es || !seqs || !rej || !ranges || !rej_ranges) {
        log_warn("writer: acks of a batch not sent: out of memory");
        goto out;
    }
    ne = 0;
    for (struct entry *e = batch; e; e = e->next) {
        if (!e->waiter) /* HTTP uploads get their answer from writer_submit_wait() instead */
            es[ne++] = e;
    }
    qsort(es, ne, sizeof(*es), cmp_device);
    for (size_t k = 0; k < ne;) {
        size_t end = k + 1;
        while (end < ne && es[end]->device_pk == es[k]->device_pk)
            end++;
        ack_device(w, es, k, end, seqs, rej, ranges, rej_ranges, &buf);
        k = end;
    }
out:
    dynbuf_free(&buf);
    free(rej_ranges);
    free(ranges);
    free(rej);
    free(seqs);
    free(es);
}

/* Call with the mutex held. Async uploads not told yet go on *notes as shut down. */
static void free_batch(struct writer *w, struct entry *e, struct completion **notes)
{
    while (e) {
        struct entry *next = e->next;
        note(w, e->waiter, -ESHUTDOWN, notes);
        completion_release(e->waiter);
        free(e);
        e = next;
    }
}

/* Writes one batch; false when the thread must end without finishing it. */
static bool write_batch(struct writer *w, struct entry *batch, size_t total,
                        struct store_batch_item **items, size_t *cap)
{
    size_t n = 0;
    for (struct entry *e = batch; e; e = e->next)
        n += e->n;
    while (n > *cap) {
        struct store_batch_item *grown = realloc(*items, n * sizeof(**items));
        if (grown) {
            *items = grown;
            *cap = n;
        } else {
            log_error("writer: out of memory for a batch of %zu readings; retrying", n);
            if (!backoff(w, RETRY_MAX_MS))
                return false;
        }
    }
    n = 0;
    for (struct entry *e = batch; e; e = e->next) {
        for (size_t i = 0; i < e->n; i++) {
            (*items)[n].device_pk = e->device_pk;
            (*items)[n].reading = e->r[i];
            (*items)[n].inserted = false;
            n++;
        }
    }
    size_t inserted = 0;
    if (n > 0 && store_batch(w, *items, n, &inserted))
        return false;
    /* Each waiting upload learns how many of its own readings were new; MQTT counts the rest. */
    size_t mqtt_n = 0, mqtt_inserted = 0;
    n = 0;
    pthread_mutex_lock(&w->mu);
    for (struct entry *e = batch; e; e = e->next) {
        size_t mine = 0;
        bool no_seq_left = false;
        for (size_t i = 0; i < e->n; i++, n++) {
            mine += (*items)[n].inserted;
            no_seq_left |= (*items)[n].no_seq_left;
        }
        if (e->waiter) {
            e->waiter->inserted = mine;
            e->waiter->no_seq_left = no_seq_left;
            e->waiter->done = true; /* woken in writer_main(), once the depth is down */
        } else {
            mqtt_n += e->n;
            mqtt_inserted += mine;
        }
    }
    pthread_mutex_unlock(&w->mu);
    struct server_counters *s = w->opts.stats;
    atomic_fetch_add(&s->readings_stored, mqtt_inserted);
    atomic_fetch_add(&s->duplicates, mqtt_n - mqtt_inserted);
    if (n > 0) {
        atomic_fetch_add(&s->batches, 1);
        atomic_fetch_add(&s->batch_readings, n);
    }
    /* Billing follows: each device of the batch, once its readings are committed. */
    if (w->opts.committed)
        for (struct entry *e = batch; e; e = e->next)
            if (e->n > 0)
                w->opts.committed(w->opts.committed_ctx, e->device_pk);
    send_acks(w, batch, total);
    return true;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    (void)thread_set_nice(w->opts.nice);
    struct store_batch_item *items = NULL;
    size_t cap = 0;
    for (;;) {
        size_t total = 0;
        struct entry *batch = take_batch(w, &total);
        if (!batch)
            break;
        bool ok = write_batch(w, batch, total, &items, &cap);
        uint64_t last = 0;
        for (struct entry *e = batch; e; e = e->next)
            last = e->ticket;
        pthread_mutex_lock(&w->mu);
        w->depth -= total;
        if (ok)
            w->done = last;
        set_depth(w);
        struct completion *notes = NULL;
        for (struct entry *e = batch; e; e = e->next) {
            if (!e->waiter || !e->waiter->done)
                continue;
            if (e->waiter->cb)
                note(w, e->waiter, e->waiter->no_seq_left ? -ERANGE : 0, &notes);
            else
                pthread_cond_signal(&e->waiter->cv);
        }
        free_batch(w, batch, &notes);
        pthread_cond_broadcast(&w->room);
        pthread_mutex_unlock(&w->mu);
        tell_notes(w, notes);
        if (!ok)
            break;
    }
    free(items);
    store_close(w->store);
    w->store = NULL;
    return NULL;
}

/*
 * Tells async uploads whose deadline passed (-ETIMEDOUT) while their readings
 * stay queued (a later commit stores them, and tells nobody again). Runs
 * apart from the writer thread, which may be stuck retrying a dead database.
 */
static void *reaper_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->reaper_quit) {
        int64_t now = time_mono_ms();
        struct completion *notes = NULL;
        while (w->pend_head && w->pend_head->deadline_ms <= now)
            note(w, w->pend_head, -ETIMEDOUT, &notes);
        if (notes) {
            pthread_mutex_unlock(&w->mu);
            tell_notes(w, notes);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        int64_t wait = w->pend_head ? w->pend_head->deadline_ms - now : 1000;
        struct timespec until = time_mono_deadline(wait < 1000 ? wait : 1000);
        pthread_cond_timedwait(&w->reaper_wake, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int writer_start(const struct writer_options *opts, struct writer **ret)
{
    if (!opts->stats || opts->queue_max == 0 || opts->batch_max == 0)
        return -EINVAL;
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->opts = *opts;
    int rc = store_source_copy(&w->db, &opts->db);
    if (rc) {
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->mu, NULL);
    time_cond_init_monotonic(&w->wake);
    time_cond_init_monotonic(&w->room);
    time_cond_init_monotonic(&w->outbox_wake);
    time_cond_init_monotonic(&w->reaper_wake);
    int r = 0;
    if (opts->publish) {
        r = pthread_create(&w->sender, NULL, sender_main, w);
        w->sender_started = !r;
    }
    if (!r) {
        r = pthread_create(&w->reaper, NULL, reaper_main, w);
        w->reaper_started = !r;
    }
    if (!r)
        r = pthread_create(&w->thread, NULL, writer_main, w);
    if (r) {
        writer_free(w);
        return -r;
    }
    w->started = true;
    *ret = w;
    return 0;
}

/* Sets *quit, wakes the helper thread t on wake and joins it, if it was started. */
static void end_helper(struct writer *w, pthread_t t, bool *started, bool *quit,
                       pthread_cond_t *wake)
{
    if (!*started)
        return;
    pthread_mutex_lock(&w->mu);
    *quit = true;
    pthread_cond_broadcast(wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(t, NULL);
    *started = false;
}

/* Lets the sender publish what the outbox holds, then ends it. */
static void stop_sender(struct writer *w)
{
    end_helper(w, w->sender, &w->sender_started, &w->sender_quit, &w->outbox_wake);
}

/* Ends the reaper; uploads still pending are told when their entries are freed. */
static void stop_reaper(struct writer *w)
{
    end_helper(w, w->reaper, &w->reaper_started, &w->reaper_quit, &w->reaper_wake);
}

void writer_stop(struct writer *w, int64_t drain_ms)
{
    if (!w)
        return;
    if (!w->started) {
        stop_sender(w);
        stop_reaper(w);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    if (writer_flush(w, drain_ms))
        log_warn("writer: stopping with %zu readings not stored; the meters will send them "
                 "again",
                 writer_depth(w));
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->room); /* uploads still waiting give up */
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
    /* Async uploads still queued learn now that they will not be stored by this writer. */
    struct completion *notes = NULL;
    pthread_mutex_lock(&w->mu);
    for (struct entry *e = w->head; e; e = e->next)
        note(w, e->waiter, -ESHUTDOWN, &notes);
    pthread_mutex_unlock(&w->mu);
    tell_notes(w, notes);
    stop_sender(w);
    stop_reaper(w);
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    writer_stop(w, 0);
    struct completion *notes = NULL;
    pthread_mutex_lock(&w->mu);
    free_batch(w, w->head, &notes);
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    tell_notes(w, notes);
    while (w->out_head) {
        struct outmsg *next = w->out_head->next;
        free(w->out_head);
        w->out_head = next;
    }
    pthread_cond_destroy(&w->outbox_wake);
    pthread_cond_destroy(&w->reaper_wake);
    pthread_cond_destroy(&w->room);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    store_source_clear(&w->db);
    free(w);
}
