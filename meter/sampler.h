/*
 * sampler: the sampling thread. It keeps the sample clock, takes sample
 * frames from the ADC (every channel it delivers, adc.h) and pushes them into
 * the ring (ring.h), whose channels are the ADC's in adc.h's channel order
 * (a single-phase meter: v, i). It counts every sample it misses and marks
 * it in the ring as a gap, never hiding it.
 *
 *  - Per-conversion drivers (mcp3208, ads1115): a timerfd on CLOCK_MONOTONIC
 *    fires at the sample rate and each expiry converts one pair. Expiries the
 *    thread was too late for are samples that cannot be taken any more: they
 *    count as overruns and go to the ring as a gap. A driver with a
 *    data-ready line (adc_attach_drdy) waits on it inside the conversion; the
 *    timer still sets the rate, because those chips convert on request.
 *  - Block drivers (sim): the timer fires at 100 Hz and each expiry reads the
 *    samples that fell due since the last one (rate / 100 on average).
 *
 * Pairs are pushed in batches of about 10 ms. The loop does not allocate and
 * does no file or network I/O; it asks for SCHED_FIFO and carries on without
 * it when that is not permitted (sampler_stats says which). After about one
 * second of nothing but failed reads the thread stops and reports the error
 * in sampler_stats (running = false); the caller decides what to do.
 *
 * Ownership: sampler_start() borrows adc and ring, which must outlive the
 * sampler; sampler_stop() joins the thread (the counters stay readable) and
 * sampler_free() releases it. Only the sampler thread uses the adc until
 * sampler_stop() returns.
 */
#ifndef SMARTMETER_SAMPLER_H
#define SMARTMETER_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct adc;
struct sample_ring;
struct sampler;

#define SAMPLER_RT_PRIORITY 20

struct sampler_stats {
    uint64_t samples;     /* pairs pushed into the ring */
    uint64_t overruns;    /* timer expiries beyond one per wakeup: the thread woke late */
    uint64_t dropped;     /* pairs lost (overruns of per-conversion drivers, failed reads),
                             each reported to the ring with ring_mark_gap() */
    uint64_t read_errors; /* failed conversions or block reads */
    int last_error;       /* -errno of the latest failure, 0 when none */
    bool running;         /* false once the thread stopped on its own */
    bool realtime;        /* the thread runs SCHED_FIFO */
};

/*
 * Starts the sampling thread. Returns 0 and *ret, or -errno with err naming
 * the problem (timerfd, thread creation, out of memory; -EINVAL for a ring
 * whose channel count is not the number of channels the ADC delivers).
 */
int sampler_start(struct adc *adc, struct sample_ring *ring, struct sampler **ret, char *err,
                  size_t errlen);

/* Any thread: a consistent-enough copy of the counters (each is exact, read separately). */
void sampler_stats(const struct sampler *s, struct sampler_stats *ret);

/* Stops and joins the thread after it pushed what it held. Again, or with NULL, does nothing. */
void sampler_stop(struct sampler *s);

/* Stops it if still running and frees it. NULL is fine. */
void sampler_free(struct sampler *s);

#endif
