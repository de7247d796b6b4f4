/*
 * pq_core: the windowing machinery pq.c (one phase) and pq3.c (three) share.
 * Internal to the power-quality library: not for callers of pq.h or pq3.h.
 *
 * A core takes frames of up to PQ_CORE_MAX_IN channels sampled at the same
 * instant, applies each channel's calibration delay (pq.c's algorithm
 * comment describes it), optionally turns each frame into the channels it
 * keeps (derive: 3p3w computes the virtual star voltages there), buffers
 * them, times zero crossings of kept channel 0 and cuts every channel at the
 * same window boundaries. For each window it calls the owner's measure
 * function with the span; the owner integrates, resamples and transforms
 * whatever it needs through the helpers below, all working on the core's
 * buffers. The algorithm is explained once, at the top of pq.c.
 *
 * Ownership: pq_core_init() allocates every buffer, pq_core_fini() frees
 * them (safe on a zeroed or half-initialised core); nothing else allocates.
 */
#ifndef SMARTMETER_PQ_CORE_H
#define SMARTMETER_PQ_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiss_fftr.h>

#include "pq.h"

#define PQ_CORE_MAX_IN    6
#define PQ_CORE_MAX_BUF   6
#define PQ_FFT_POINTS     2048 /* per window: harmonic 50 of 14 cycles is bin 700 < 1024 */
#define PQ_TAPS           6    /* Lagrange interpolation through samples k-2..k+3 */
#define PQ_MAX_CYCLES     14   /* windows are round(nominal / 5) cycles: 10 at 50 Hz, 14 at 70 */
#define PQ_FRAC_BINS      64   /* histogram of interpolation positions, for the gain correction */
#define PQ_FUNDAMENTAL_SHARE 0.2 /* fundamental RMS at least this share of the channel's RMS */

struct pq_biquad {
    double b0, b1, b2, a1, a2;
    double z1, z2; /* transposed direct form II */
};

/* One window handed to the owner: [from, to) in buffer sample times. */
struct pq_span {
    uint64_t first_sample;
    uint32_t samples;
    double duration_s;
    double from, to;  /* the measured span: the synchronised part, or the whole window */
    unsigned periods; /* crossing periods in it; 0 for a window that is not synchronised */
    bool valid;       /* periods == cycles and they are synchronised */
};

struct pq_core;
/* Turns a frame of calibrated input channels into the kept channels. */
typedef void (*pq_core_derive_fn)(const float *in, float *ret_kept, const void *ctx);
typedef void (*pq_core_measure_fn)(struct pq_core *c, const struct pq_span *s, void *arg);

struct pq_core {
    double rate_hz, nominal_hz;
    unsigned n_in, n_buf;
    pq_core_derive_fn derive; /* NULL: kept channels are the input channels */
    const void *derive_ctx;
    unsigned cycles;          /* per window */
    double nominal_len;       /* samples in a window at the nominal frequency */
    double max_span;          /* samples from origin (or start) before a fallback window closes */

    /* calibration: input channel k's sample n is read at n + cal_floor[k] + cal_x[k] */
    bool cal_on;
    bool shifted[PQ_CORE_MAX_IN];
    double cal_w[PQ_CORE_MAX_IN][PQ_TAPS], cal_x[PQ_CORE_MAX_IN];
    long cal_floor[PQ_CORE_MAX_IN];
    unsigned cal_delay; /* whole samples every channel is held back */
    float *cal_line[PQ_CORE_MAX_IN];
    size_t cal_mask;
    uint64_t cal_in; /* samples in the delay line since the reset */

    /* zero-crossing detector */
    float *dc_line;
    unsigned dc_len, dc_pos;
    double dc_sum;
    uint64_t warmup; /* samples left before crossings count */
    struct pq_biquad lp;
    double env, env_decay, prev_y;
    bool armed;

    /* the open window: buf[k][0] is stream index base */
    float *buf[PQ_CORE_MAX_BUF];
    size_t cap, len;
    uint64_t base;
    uint64_t next_index; /* stream index of the next sample to enter the buffer */
    double start;        /* window start, samples relative to base */
    double cross[PQ_MAX_CYCLES + 3];
    unsigned ncross; /* cross[0] is the origin */
    bool pending;    /* end decided, waiting for the samples interpolation needs */
    bool end_at_cross;
    double end;

    /* resampling: where the points fell between raw samples */
    double frac_count[PQ_FRAC_BINS], frac_sum[PQ_FRAC_BINS];
    kiss_fftr_cfg fft;
};

/*
 * shift_deg[k]: input channel k's lag to correct at nominal_hz (0: none).
 * Returns 0, -EINVAL (rate, nominal or a shift out of range), -ENOMEM.
 */
int pq_core_init(struct pq_core *c, double rate_hz, double nominal_hz, unsigned n_in,
                 unsigned n_buf, const double *shift_deg, pq_core_derive_fn derive,
                 const void *derive_ctx);
void pq_core_fini(struct pq_core *c);
void pq_core_reset(struct pq_core *c);

/* in[k] (k < n_in) holds n samples of input channel k; NULL reads as zeros. */
void pq_core_feed(struct pq_core *c, const float *const *in, size_t n, pq_core_measure_fn measure,
                  void *arg);

/* The trapezoidal rule over [from, to] as weights: 1 for every sample k0..k1, then
 * the corrections w[j] at idx[j] in order (pq.c, "Per window"). */
struct pq_trapezoid {
    size_t k0, k1;
    unsigned n;
    size_t idx[6];
    double w[6];
};
void pq_trapezoid(double from, double to, struct pq_trapezoid *ret);

/*
 * Resamples [from, from + span) of kept channels chs[0..n) to PQ_FFT_POINTS
 * points less means[j], into out[j], and records where the points fell.
 */
void pq_core_resample(struct pq_core *c, double from, double span, unsigned n,
                      const unsigned *chs, const double *means, float *const *out);
/* Mean gain of the last resampling at harmonics 1..hmax of nu1 cycles per sample. */
void pq_core_resample_gains(const struct pq_core *c, double nu1, unsigned hmax, double *ret);
/* Gain at nu cycles per sample of input channel k's calibration delay (1 when unshifted). */
double pq_core_cal_gain(const struct pq_core *c, unsigned k, double nu);
/* Highest harmonic that fits below half the rate and in the FFT. */
unsigned pq_core_hmax(const struct pq_core *c, unsigned periods, double freq_hz);

/* Subgroup magnitude (bins k-1..k+1), in FFT units. */
double pq_subgroup(const kiss_fft_cpx *x, size_t k);
double pq_wrap_deg(double d);

#endif
