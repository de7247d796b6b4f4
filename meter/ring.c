/*
 * ring: a single-producer, single-consumer ring of sample frames (one sample
 * of each of `channels` channels) that keeps the newest `capacity` of them
 * (see ring.h for the contract). Each channel has its own array of slots.
 *
 * Every sample has a stream index; slot = index % capacity. The producer
 * owns `head` (samples pushed so far) and never waits for anyone: it
 * overwrites the oldest slots. Readers (the consumer in ring_pop, any thread
 * in ring_snapshot) copy without locks and then check that nothing they
 * copied was overwritten meanwhile: before writing slots the producer
 * announces how far it will write (`write_end`), so a reader that copied
 * index x is safe when x >= write_end - capacity, read after the copy. Slots
 * are relaxed atomics, which makes those racy reads well defined and costs
 * nothing on the targets we run on.
 *
 * Gaps: each slot carries a flag marking the first sample after samples the
 * sampler missed (ring_mark_gap). ring_pop never returns samples from both
 * sides of a flag in one call, so *ret_gap always describes the start of
 * what it returns. ring_missed() counts the samples the sampler missed;
 * samples the consumer lost by falling behind are reported through *ret_gap
 * only.
 *
 * Waiting: the consumer sleeps on a condition variable in slices of at most
 * WAIT_SLICE_MS. The producer signals only when the consumer says it waits,
 * and only if it gets the mutex without blocking; a signal lost that way
 * costs the consumer one slice of latency, never the producer a wait.
 */
#include "ring.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define WAIT_SLICE_MS 5
/* ring_snapshot gives up (-EAGAIN) if the producer overwrites its copy this often. */
#define SNAPSHOT_TRIES 8

struct sample_ring {
    size_t capacity;
    double rate_hz;
    /* Kept free of the consumer's reach: a copy in progress survives this many pushes. */
    size_t slack;

    unsigned channels;
    _Atomic float *ch[RING_CHANNELS_MAX];
    atomic_uchar *gap_flag;

    _Atomic uint64_t head;      /* samples pushed (index of the next one) */
    _Atomic uint64_t write_end; /* the producer may be writing slots below this index */
    _Atomic uint64_t missed;    /* samples the producer reported missing */
    _Atomic int64_t end_ms;     /* wall clock of sample head - 1 */
    _Atomic uint64_t time_seq;  /* odd while head and end_ms are being updated */
    bool gap_pending;           /* producer only: flag the next pushed sample */

    uint64_t tail; /* consumer only: index of the next sample to pop */
    bool lost;     /* consumer only: samples were lost before tail, not yet reported */

    atomic_bool consumer_waiting;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

int ring_new(size_t capacity, double rate_hz, struct sample_ring **ret)
{
    return ring_new_channels(capacity, rate_hz, 2, ret);
}

static void free_slots(struct sample_ring *r)
{
    for (unsigned c = 0; c < RING_CHANNELS_MAX; c++)
        free(r->ch[c]);
    free(r->gap_flag);
}

int ring_new_channels(size_t capacity, double rate_hz, unsigned channels,
                      struct sample_ring **ret)
{
    if (capacity < 2 || !(rate_hz > 0) || !isfinite(rate_hz) || channels < 1 ||
        channels > RING_CHANNELS_MAX)
        return -EINVAL;
    struct sample_ring *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->capacity = capacity;
    r->rate_hz = rate_hz;
    r->channels = channels;
    size_t one_second = (size_t)ceil(rate_hz);
    r->slack = one_second < capacity / 2 ? one_second : capacity / 2;
    for (unsigned c = 0; c < channels; c++) {
        r->ch[c] = calloc(capacity, sizeof(*r->ch[c]));
        if (!r->ch[c])
            goto nomem;
    }
    r->gap_flag = calloc(capacity, sizeof(*r->gap_flag));
    if (!r->gap_flag)
        goto nomem;
    for (size_t k = 0; k < capacity; k++) {
        for (unsigned c = 0; c < channels; c++)
            atomic_init(&r->ch[c][k], 0.0f);
        atomic_init(&r->gap_flag[k], 0);
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->write_end, 0);
    atomic_init(&r->missed, 0);
    atomic_init(&r->end_ms, 0);
    atomic_init(&r->time_seq, 0);
    atomic_init(&r->consumer_waiting, false);

    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        goto nomem;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int e = pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (e)
        goto nomem;
    if (pthread_mutex_init(&r->lock, NULL)) {
        pthread_cond_destroy(&r->cond);
        goto nomem;
    }
    *ret = r;
    return 0;

nomem:
    free_slots(r);
    free(r);
    return -ENOMEM;
}

void ring_free(struct sample_ring *r)
{
    if (!r)
        return;
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free_slots(r);
    free(r);
}

unsigned ring_channels(const struct sample_ring *r)
{
    return r->channels;
}

size_t ring_capacity(const struct sample_ring *r)
{
    return r->capacity;
}

double ring_rate_hz(const struct sample_ring *r)
{
    return r->rate_hz;
}

void ring_push(struct sample_ring *r, const float *v, const float *i, size_t n, int64_t end_ms)
{
    const float *const ch[2] = {v, i};
    ring_push_frames(r, ch, n, end_ms);
}

void ring_push_frames(struct sample_ring *r, const float *const *ch, size_t n, int64_t end_ms)
{
    if (n == 0)
        return;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* Of a push larger than the ring only the newest capacity samples can be kept. */
    size_t skip = n > r->capacity ? n - r->capacity : 0;

    atomic_store_explicit(&r->write_end, h + n, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t k = skip; k < n; k++) {
        size_t slot = (size_t)((h + k) % r->capacity);
        for (unsigned c = 0; c < r->channels; c++)
            atomic_store_explicit(&r->ch[c][slot], ch[c][k], memory_order_relaxed);
        atomic_store_explicit(&r->gap_flag[slot], (k == skip && (r->gap_pending || skip)) ? 1 : 0,
                              memory_order_relaxed);
    }
    r->gap_pending = false;

    uint64_t seq = atomic_load_explicit(&r->time_seq, memory_order_relaxed);
    atomic_store_explicit(&r->time_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&r->end_ms, end_ms, memory_order_relaxed);
    /* Sequentially consistent with the load of consumer_waiting below (and the consumer's
     * store of it and load of head), so either it sees the samples or we see it waiting. */
    atomic_store(&r->head, h + n);
    atomic_store_explicit(&r->time_seq, seq + 2, memory_order_release);

    if (atomic_load(&r->consumer_waiting) && pthread_mutex_trylock(&r->lock) == 0) {
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
    }
}

void ring_mark_gap(struct sample_ring *r, uint64_t missed)
{
    if (missed == 0)
        return;
    atomic_fetch_add_explicit(&r->missed, missed, memory_order_relaxed);
    r->gap_pending = true;
}

static void deadline_after_ms(struct timespec *t, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Waits until head passes tail or the deadline passes; returns head. */
static uint64_t wait_for_data(struct sample_ring *r, int timeout_ms)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    if (h != r->tail || timeout_ms <= 0)
        return h;

    struct timespec deadline, now, slice;
    deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->consumer_waiting, true);
    while ((h = atomic_load(&r->head)) == r->tail) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!before(&now, &deadline))
            break;
        deadline_after_ms(&slice, WAIT_SLICE_MS);
        pthread_cond_timedwait(&r->cond, &r->lock, before(&slice, &deadline) ? &slice : &deadline);
    }
    atomic_store(&r->consumer_waiting, false);
    pthread_mutex_unlock(&r->lock);
    atomic_thread_fence(memory_order_acquire);
    return h;
}

size_t ring_pop(struct sample_ring *r, float *v, float *i, size_t max, int timeout_ms,
                bool *ret_gap)
{
    float *const ch[2] = {v, i};
    return ring_pop_frames(r, ch, max, timeout_ms, ret_gap);
}

size_t ring_pop_frames(struct sample_ring *r, float *const *ch, size_t max, int timeout_ms,
                       bool *ret_gap)
{
    const uint64_t keep = r->capacity - r->slack;
    size_t n = 0;

    if (ret_gap)
        *ret_gap = false;
    if (max == 0)
        return 0;
    uint64_t h = wait_for_data(r, timeout_ms);
    for (;;) {
        /* Fallen behind into the part the producer may be overwriting: skip ahead. */
        if (h - r->tail > keep) {
            r->tail = h - keep;
            r->lost = true;
        }
        if (h == r->tail)
            break;
        uint64_t avail = h - r->tail;
        n = avail < max ? (size_t)avail : max;
        for (size_t k = 0; k < n; k++) {
            size_t slot = (size_t)((r->tail + k) % r->capacity);
            bool flagged = atomic_load_explicit(&r->gap_flag[slot], memory_order_relaxed);
            /* A gap past the first sample ends this pop: the next one starts there. */
            if (flagged && k > 0) {
                n = k;
                break;
            }
            if (flagged)
                r->lost = true;
            for (unsigned c = 0; c < r->channels; c++)
                ch[c][k] = atomic_load_explicit(&r->ch[c][slot], memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        uint64_t we = atomic_load_explicit(&r->write_end, memory_order_relaxed);
        if (we <= r->capacity || r->tail >= we - r->capacity)
            break;
        /* The producer lapped part of the copy: what it overwrote is lost, copy again. */
        r->lost = true;
        n = 0;
        h = atomic_load_explicit(&r->head, memory_order_acquire);
        uint64_t intact = we - r->capacity;
        if (intact > r->tail)
            r->tail = intact < h ? intact : h;
    }
    r->tail += n;
    if (n > 0) {
        if (ret_gap)
            *ret_gap = r->lost;
        r->lost = false;
    }
    return n;
}

int ring_snapshot(struct sample_ring *r, size_t n, float *v, float *i, int64_t *ret_first_ms)
{
    float *const ch[2] = {v, i};
    return ring_snapshot_frames(r, n, ch, ret_first_ms);
}

int ring_snapshot_frames(struct sample_ring *r, size_t n, float *const *ch,
                         int64_t *ret_first_ms)
{
    if (n == 0 || n > r->capacity - r->slack)
        return -ERANGE;
    for (int attempt = 0; attempt < SNAPSHOT_TRIES; attempt++) {
        uint64_t seq, h;
        int64_t end_ms;
        do {
            seq = atomic_load_explicit(&r->time_seq, memory_order_acquire);
            h = atomic_load_explicit(&r->head, memory_order_relaxed);
            end_ms = atomic_load_explicit(&r->end_ms, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
        } while ((seq & 1) || atomic_load_explicit(&r->time_seq, memory_order_relaxed) != seq);
        if (h < n)
            return -ENODATA;

        uint64_t first = h - n;
        for (size_t k = 0; k < n; k++) {
            size_t slot = (size_t)((first + k) % r->capacity);
            for (unsigned c = 0; c < r->channels; c++)
                ch[c][k] = atomic_load_explicit(&r->ch[c][slot], memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        uint64_t we = atomic_load_explicit(&r->write_end, memory_order_relaxed);
        if (we <= r->capacity || first >= we - r->capacity) {
            *ret_first_ms = end_ms - llround((double)(n - 1) * 1000.0 / r->rate_hz);
            return 0;
        }
    }
    return -EAGAIN;
}

uint64_t ring_total(const struct sample_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire);
}

uint64_t ring_missed(const struct sample_ring *r)
{
    return atomic_load_explicit(&r->missed, memory_order_relaxed);
}
