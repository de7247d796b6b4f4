#include "sampler.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hal/adc.h"
#include "ring.h"
#include "timeutil.h"

/* Wakeups per second for block drivers, and pushes per second for both kinds. */
#define BLOCK_HZ 100
/* Give up after this long of nothing but failed reads. */
#define FAIL_GIVE_UP_S 1

struct sampler {
    struct adc *adc;
    struct sample_ring *ring;
    double rate_hz;
    bool block;
    int tfd;
    pthread_t thread;
    bool joined; /* by sampler_stop(), from the owner's thread */

    /* the thread's buffers, allocated once: one per channel the ADC delivers */
    float *buf[ADC_CHANNELS];
    const float *ring_ch[ADC_CHANNELS]; /* the same, in the ring's channel order */
    size_t batch;  /* frames per push */
    size_t filled; /* per-conversion: frames waiting in buf */

    atomic_bool stop;
    _Atomic uint64_t samples, overruns, dropped, read_errors;
    atomic_int last_error;
    atomic_bool running, realtime;
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void push(struct sampler *s, size_t n)
{
    if (n == 0)
        return;
    ring_push_frames(s->ring, s->ring_ch, n, time_now_ms());
    count(&s->samples, n);
}

/* Samples lost: pushes what came before them, then records the gap. */
static void lose(struct sampler *s, uint64_t n)
{
    push(s, s->filled);
    s->filled = 0;
    ring_mark_gap(s->ring, n);
    count(&s->dropped, n);
}

static void read_failed(struct sampler *s, int r)
{
    count(&s->read_errors, 1);
    atomic_store_explicit(&s->last_error, r, memory_order_relaxed);
}

/* Blocks for the next timer expiry; returns how many expired, or 0 on error (recorded). */
static uint64_t wait_tick(struct sampler *s)
{
    uint64_t expired;
    for (;;) {
        ssize_t got = read(s->tfd, &expired, sizeof(expired));
        if (got == (ssize_t)sizeof(expired))
            return expired;
        if (got < 0 && errno == EINTR)
            continue;
        atomic_store_explicit(&s->last_error, got < 0 ? -errno : -EIO, memory_order_relaxed);
        return 0;
    }
}

static void run_conversions(struct sampler *s)
{
    const uint64_t give_up = (uint64_t)ceil(s->rate_hz * FAIL_GIVE_UP_S);
    uint64_t failures = 0;

    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        uint64_t expired = wait_tick(s);
        if (expired == 0)
            break;
        if (expired > 1) {
            count(&s->overruns, expired - 1);
            lose(s, expired - 1);
        }
        float frame[ADC_CHANNELS];
        int r = adc_convert_frame(s->adc, frame);
        for (unsigned c = 0; !r && c < ADC_CHANNELS; c++) {
            if (s->buf[c])
                s->buf[c][s->filled] = frame[c];
        }
        if (r) {
            read_failed(s, r);
            lose(s, 1);
            if (++failures >= give_up)
                break;
            continue;
        }
        failures = 0;
        if (++s->filled == s->batch) {
            push(s, s->filled);
            s->filled = 0;
        }
    }
    push(s, s->filled);
    s->filled = 0;
}

static void run_blocks(struct sampler *s, int64_t start_ns)
{
    uint64_t produced = 0, failures = 0;

    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        uint64_t expired = wait_tick(s);
        if (expired == 0)
            break;
        if (expired > 1)
            count(&s->overruns, expired - 1);
        /* Due by now: floor(elapsed * rate), so a fractional rate / BLOCK_HZ does not drift. */
        uint64_t due = (uint64_t)((double)(mono_ns() - start_ns) * s->rate_hz / 1e9);
        while (produced < due && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
            size_t n = due - produced < s->batch ? (size_t)(due - produced) : s->batch;
            int r = adc_read_frames(s->adc, s->buf, n);
            produced += n;
            if (r) {
                read_failed(s, r);
                lose(s, n);
                failures++;
                break;
            }
            failures = 0;
            push(s, n);
        }
        if (failures >= (uint64_t)BLOCK_HZ * FAIL_GIVE_UP_S)
            break;
    }
}

static void *sampler_main(void *arg)
{
    struct sampler *s = arg;
    struct sched_param sp = {.sched_priority = SAMPLER_RT_PRIORITY};

    atomic_store(&s->realtime, pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0);

    double tick_s = s->block ? 1.0 / BLOCK_HZ : 1.0 / s->rate_hz;
    int64_t tick_ns = llround(tick_s * 1e9);
    struct itimerspec its = {
        .it_interval = {(time_t)(tick_ns / 1000000000), (long)(tick_ns % 1000000000)},
        .it_value = {(time_t)(tick_ns / 1000000000), (long)(tick_ns % 1000000000)},
    };
    int64_t start_ns = mono_ns();
    if (timerfd_settime(s->tfd, 0, &its, NULL) < 0) {
        atomic_store(&s->last_error, -errno);
    } else if (s->block) {
        run_blocks(s, start_ns);
    } else {
        run_conversions(s);
    }
    atomic_store(&s->running, false);
    return NULL;
}

int sampler_start(struct adc *adc, struct sample_ring *ring, struct sampler **ret, char *err,
                  size_t errlen)
{
    int r;
    struct sampler *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "sampler: out of memory");
        return -ENOMEM;
    }
    s->adc = adc;
    s->ring = ring;
    s->rate_hz = adc_rate_hz(adc);
    s->block = adc_is_block_capable(adc);
    s->batch = (size_t)ceil(s->rate_hz / BLOCK_HZ);
    if (s->batch == 0)
        s->batch = 1;
    s->tfd = -1;
    unsigned mask = adc_channel_mask(adc), nch = 0;
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        if (!(mask & ADC_CH_BIT(c)))
            continue;
        s->buf[c] = calloc(s->batch, sizeof(*s->buf[c]));
        if (!s->buf[c]) {
            snprintf(err, errlen, "sampler: out of memory");
            r = -ENOMEM;
            goto fail;
        }
        s->ring_ch[nch++] = s->buf[c];
    }
    if (nch != ring_channels(ring)) {
        snprintf(err, errlen, "sampler: the ADC delivers %u channels, the ring holds %u", nch,
                 ring_channels(ring));
        r = -EINVAL;
        goto fail;
    }
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (s->tfd < 0) {
        r = -errno;
        snprintf(err, errlen, "sampler: timerfd_create: %s", strerror(errno));
        goto fail;
    }
    atomic_init(&s->stop, false);
    atomic_init(&s->running, true);
    atomic_init(&s->realtime, false);
    atomic_init(&s->last_error, 0);
    atomic_init(&s->samples, 0);
    atomic_init(&s->overruns, 0);
    atomic_init(&s->dropped, 0);
    atomic_init(&s->read_errors, 0);

    /* Signals stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = -pthread_create(&s->thread, NULL, sampler_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        snprintf(err, errlen, "sampler: cannot start the thread: %s", strerror(-r));
        goto fail;
    }
    *ret = s;
    return 0;

fail:
    if (s->tfd >= 0)
        close(s->tfd);
    for (unsigned c = 0; c < ADC_CHANNELS; c++)
        free(s->buf[c]);
    free(s);
    return r;
}

void sampler_stats(const struct sampler *s, struct sampler_stats *ret)
{
    ret->samples = atomic_load_explicit(&s->samples, memory_order_relaxed);
    ret->overruns = atomic_load_explicit(&s->overruns, memory_order_relaxed);
    ret->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
    ret->read_errors = atomic_load_explicit(&s->read_errors, memory_order_relaxed);
    ret->last_error = atomic_load_explicit(&s->last_error, memory_order_relaxed);
    ret->running = atomic_load(&s->running);
    ret->realtime = atomic_load(&s->realtime);
}

void sampler_stop(struct sampler *s)
{
    if (!s || s->joined)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    s->joined = true;
}

void sampler_free(struct sampler *s)
{
    if (!s)
        return;
    sampler_stop(s);
    close(s->tfd);
    for (unsigned c = 0; c < ADC_CHANNELS; c++)
        free(s->buf[c]);
    free(s);
}
