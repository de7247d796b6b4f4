/*
 * pq: power-quality analysis (see pq.h for the contract).
 *
 * How a window is found. The voltage runs through a detector chain that only
 * serves to time zero crossings: the mean over the last nominal period is
 * subtracted (a moving average, so start-up leaves no slowly decaying DC
 * tail), then a second-order Butterworth low-pass at the nominal frequency
 * damps harmonics and noise. Both stages are linear and time-invariant, so a
 * periodic input gives a periodic output with the same period: whatever phase
 * shift they add is the same at both ends of a window and cancels. A crossing
 * is a positive-going zero of the filtered voltage after it has been below
 * -HYSTERESIS * its envelope, timed to a fraction of a sample by linear
 * interpolation. A window runs from one crossing (its origin) to the one
 * `cycles` periods later, so it holds exactly 10 cycles at 50 Hz (12 at 60 Hz)
 * whatever the actual frequency; frequency = cycles / that span.
 *
 * Windows tile the stream: each starts where the previous ended, so the
 * durations add up to the time fed and energy sums exactly. The first window
 * after creation or a reset starts at its first sample (the detector needs 3
 * nominal periods to settle) and ends at a crossing; its lead-in before the
 * first crossing counts for energy at the power of its synchronised part.
 * When the `cycles` periods disagree by more than PERIOD_TOLERANCE or give a
 * frequency outside 40..70 Hz (noise, a glitch, no voltage), the window ends
 * after the nominal length instead, so a current without a voltage is still
 * measured over whole cycles of the nominal frequency. When no window
 * completes within the span of `cycles` periods at 40 Hz, it ends at the last
 * crossing if those periods agree (a frequency below range), else after the
 * nominal length. Windows that are not synchronised, or whose voltage is not
 * mostly fundamental, report freq_hz 0, phase 0, no harmonics and THD 0, and
 * still RMS, P, Q and S.
 *
 * Per window, over its synchronised span [origin, end):
 * - Vrms, Irms, P in the time domain from the raw samples: the integrals of
 *   v, i, v^2, i^2 and v*i by the trapezoidal rule with the partial samples at
 *   both fractional ends, DC (the window means) removed. No resampling is
 *   involved, so they keep the full bandwidth of the ADC.
 * - Harmonics: both channels are resampled to FFT_POINTS points spanning the
 *   window exactly (6-point Lagrange interpolation), so harmonic h falls on
 *   bin cycles * h, and transformed with KissFFT. Magnitudes are IEC 61000-4-7
 *   harmonic subgroups (the bin and its two neighbours, root-sum-square), in %
 *   of the fundamental's subgroup, divided by the interpolator's mean gain at
 *   their frequency (resample_gains()); THD = sqrt(sum_{h=2..50} H_h^2) / H_1.
 * - phase_deg is the angle of the voltage's fundamental bin minus the
 *   current's.
 * - Q is the non-active power, |Q| = sqrt(S^2 - P^2) with S = Vrms * Irms (as
 *   so that S^2 = P^2 + Q^2 and PF = P / S hold with distortion), signed
 *   by the fundamental's angle (Q > 0 when the current lags); in a window
 *   without a valid fundamental the sign is that of the Budeanu sum
 *   sum_k Im(V_k conj(I_k)) over all bins.
 *
 * Phase calibration is a time shift: phase_cal_deg at nominal_hz is a delay
 * tau = phase_cal_deg / (360 * nominal_hz) of the current channel (what ADC
 * channel skew and, near the fundamental, a current transformer cause). The
 * current is read tau later with a 6-point Lagrange fractional delay before
 * anything else sees it, so RMS, P, Q, harmonics and the angle are all
 * corrected consistently; the correction scales with the measured frequency
 * and with the harmonic order as a delay does. Both channels are delayed by a
 * few whole samples to make room; sample indices keep naming the voltage.
 */
#include "pq.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <kiss_fftr.h>

#define FFT_POINTS        2048 /* per window: harmonic 50 of 14 cycles is bin 700 < 1024 */
#define FREQ_MIN_HZ       40.0
#define FREQ_MAX_HZ       70.0
#define RATE_MIN_HZ       1000.0
#define RATE_MAX_HZ       1.0e6
#define PHASE_CAL_MAX_DEG 45.0
#define MAX_CYCLES        14 /* windows are round(nominal / 5) cycles: 10 at 50 Hz, 14 at 70 */
#define TAPS              6  /* Lagrange interpolation through samples k-2..k+3 */
#define HYSTERESIS        0.2
#define ENVELOPE_S        0.2  /* time constant of the detector's envelope */
#define WARMUP_PERIODS    3    /* detector settling after a reset: 1 to fill, 2 to decay */
#define PERIOD_TOLERANCE  0.05 /* a period may differ from the window's mean by 5 % */
#define FUNDAMENTAL_SHARE 0.2  /* fundamental RMS at least this share of the channel's RMS */
#define FRAC_BINS         64   /* histogram of interpolation positions, for the gain correction */

struct biquad {
    double b0, b1, b2, a1, a2;
    double z1, z2; /* transposed direct form II */
};

struct pq_analyzer {
    struct pq_config cfg;
    unsigned cycles;    /* per window */
    double nominal_len; /* samples in a window at the nominal frequency */
    double max_span;    /* samples from origin (or start) before a fallback window closes */

    /* phase calibration: current sample n is read at n + cal_floor + cal_x */
    bool cal_on;
    double cal_w[TAPS], cal_x; /* Lagrange weights for the fraction cal_x of the shift */
    long cal_floor;            /* floor(cal_shift) */
    unsigned cal_delay;        /* whole samples both channels are held back */
    float *cal_v, *cal_i;
    size_t cal_mask;
    uint64_t cal_in; /* samples in the delay line since the reset */

    /* zero-crossing detector */
    float *dc_line;
    unsigned dc_len, dc_pos;
    double dc_sum;
    uint64_t warmup; /* samples left before crossings count */
    struct biquad lp;
    double env, env_decay, prev_y;
    bool armed;

    /* the open window: raw samples, v[0] and i[0] are stream index base */
    float *v, *i;
    size_t cap, len;
    uint64_t base;
    uint64_t next_index; /* stream index of the next sample to enter the buffer */
    double start;        /* window start, samples relative to base */
    double cross[MAX_CYCLES + 3];
    unsigned ncross; /* cross[0] is the origin */
    bool pending;    /* end decided, waiting for the samples interpolation needs */
    bool end_at_cross;
    double end;

    /* spectrum scratch; where the resampled points fell between raw samples */
    double frac_count[FRAC_BINS], frac_sum[FRAC_BINS];
    kiss_fftr_cfg fft;
    float *rv, *ri;
    kiss_fft_cpx *sv, *si;
};

static double wrap_deg(double d)
{
    d = fmod(d, 360.0);
    if (d > 180.0)
        d -= 360.0;
    else if (d <= -180.0)
        d += 360.0;
    return d;
}

static void biquad_lowpass(struct biquad *q, double fc_hz, double rate_hz)
{
    double k = tan(M_PI * fc_hz / rate_hz);
    double norm = 1.0 / (1.0 + M_SQRT2 * k + k * k);
    q->b0 = k * k * norm;
    q->b1 = 2.0 * q->b0;
    q->b2 = q->b0;
    q->a1 = 2.0 * (k * k - 1.0) * norm;
    q->a2 = (1.0 - M_SQRT2 * k + k * k) * norm;
    q->z1 = q->z2 = 0;
}

static double biquad_run(struct biquad *q, double x)
{
    double y = q->b0 * x + q->z1;
    q->z1 = q->b1 * x - q->a1 * y + q->z2;
    q->z2 = q->b2 * x - q->a2 * y;
    return y;
}

/* Weights of the Lagrange polynomial through nodes -2..3 evaluated at x (0 <= x < 1). */
static void lagrange_weights(double x, double w[TAPS])
{
    const double d0 = x + 2, d1 = x + 1, d2 = x, d3 = x - 1, d4 = x - 2, d5 = x - 3;
    const double p01 = d0 * d1, p23 = d2 * d3, p45 = d4 * d5;
    w[0] = d1 * p23 * p45 * (-1.0 / 120);
    w[1] = d0 * p23 * p45 * (1.0 / 24);
    w[2] = p01 * d3 * p45 * (-1.0 / 12);
    w[3] = p01 * d2 * p45 * (1.0 / 12);
    w[4] = p01 * p23 * d5 * (-1.0 / 24);
    w[5] = p01 * p23 * d4 * (1.0 / 120);
}

/* Restarts filters, delay line and window; the stream index is kept. */
static void restart(struct pq_analyzer *a)
{
    a->cal_in = 0;
    memset(a->dc_line, 0, a->dc_len * sizeof(float));
    a->dc_pos = 0;
    a->dc_sum = 0;
    a->warmup = (uint64_t)a->dc_len * WARMUP_PERIODS;
    a->lp.z1 = a->lp.z2 = 0;
    a->env = 0;
    a->prev_y = 0;
    a->armed = false;
    a->len = 0;
    a->base = a->next_index;
    a->start = 0;
    a->ncross = 0;
    a->pending = false;
}

unsigned pq_window_cycles(double nominal_hz)
{
    return (unsigned)lround(nominal_hz / 5.0);
}

int pq_analyzer_new(const struct pq_config *cfg, struct pq_analyzer **ret)
{
    if (!cfg || !ret || !isfinite(cfg->rate_hz) || cfg->rate_hz < RATE_MIN_HZ ||
        cfg->rate_hz > RATE_MAX_HZ || !isfinite(cfg->nominal_hz) || cfg->nominal_hz < FREQ_MIN_HZ ||
        cfg->nominal_hz > FREQ_MAX_HZ || !isfinite(cfg->phase_cal_deg) ||
        fabs(cfg->phase_cal_deg) > PHASE_CAL_MAX_DEG)
        return -EINVAL;

    struct pq_analyzer *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = *cfg;
    a->cycles = pq_window_cycles(cfg->nominal_hz);
    a->nominal_len = a->cycles * cfg->rate_hz / cfg->nominal_hz;
    a->max_span = a->cycles * cfg->rate_hz / FREQ_MIN_HZ;
    /* lead-in (at most max_span) + window (at most max_span) + interpolation margins */
    a->cap = (size_t)ceil(2.0 * a->max_span) + 4 * TAPS;

    double shift = cfg->phase_cal_deg / (360.0 * cfg->nominal_hz) * cfg->rate_hz;
    a->cal_on = cfg->phase_cal_deg != 0;
    a->cal_floor = (long)floor(shift);
    a->cal_x = shift - floor(shift);
    lagrange_weights(a->cal_x, a->cal_w);
    a->cal_delay = a->cal_on && a->cal_floor + 3 > 0 ? (unsigned)(a->cal_floor + 3) : 0;
    size_t line = 1;
    while (line < (size_t)labs(a->cal_floor) + 2 * TAPS + a->cal_delay)
        line *= 2;
    a->cal_mask = line - 1;

    a->dc_len = (unsigned)lround(cfg->rate_hz / cfg->nominal_hz);
    biquad_lowpass(&a->lp, cfg->nominal_hz, cfg->rate_hz);
    a->env_decay = exp(-1.0 / (ENVELOPE_S * cfg->rate_hz));

    a->cal_v = malloc(line * sizeof(float));
    a->cal_i = malloc(line * sizeof(float));
    a->dc_line = malloc(a->dc_len * sizeof(float));
    a->v = malloc(a->cap * sizeof(float));
    a->i = malloc(a->cap * sizeof(float));
    a->rv = malloc(FFT_POINTS * sizeof(float));
    a->ri = malloc(FFT_POINTS * sizeof(float));
    a->sv = malloc((FFT_POINTS / 2 + 1) * sizeof(kiss_fft_cpx));
    a->si = malloc((FFT_POINTS / 2 + 1) * sizeof(kiss_fft_cpx));
    a->fft = kiss_fftr_alloc(FFT_POINTS, 0, NULL, NULL);
    if (!a->cal_v || !a->cal_i || !a->dc_line || !a->v || !a->i || !a->rv || !a->ri || !a->sv ||
        !a->si || !a->fft) {
        pq_analyzer_free(a);
        return -ENOMEM;
    }
    restart(a);
    *ret = a;
    return 0;
}

void pq_analyzer_free(struct pq_analyzer *a)
{
    if (!a)
        return;
    free(a->cal_v);
    free(a->cal_i);
    free(a->dc_line);
    free(a->v);
    free(a->i);
    free(a->rv);
    free(a->ri);
    free(a->sv);
    free(a->si);
    kiss_fftr_free(a->fft);
    free(a);
}

void pq_analyzer_reset(struct pq_analyzer *a)
{
    /* Samples still in the calibration delay line belong to the forgotten part. */
    a->next_index += a->cal_in < a->cal_delay ? a->cal_in : a->cal_delay;
    restart(a);
}

/*
 * Runs the detector on one voltage sample; returns true with *ret_frac (0..1,
 * from the previous sample) at a positive-going crossing.
 */
static bool detect(struct pq_analyzer *a, float v, double *ret_frac)
{
    double old = a->dc_line[a->dc_pos];
    a->dc_line[a->dc_pos] = v;
    a->dc_sum += (double)v - old;
    if (++a->dc_pos == a->dc_len) {
        a->dc_pos = 0;
        a->dc_sum = 0; /* re-add once a period so rounding never accumulates */
        for (unsigned k = 0; k < a->dc_len; k++)
            a->dc_sum += a->dc_line[k];
    }
    if (a->warmup > 0) {
        a->warmup--;
        /* The filter starts once the moving average is full. */
        if (a->warmup < (uint64_t)a->dc_len * (WARMUP_PERIODS - 1))
            a->prev_y = biquad_run(&a->lp, (double)v - a->dc_sum / a->dc_len);
        return false;
    }
    double y = biquad_run(&a->lp, (double)v - a->dc_sum / a->dc_len);
    double mag = fabs(y);
    a->env = mag > a->env ? mag : a->env * a->env_decay;
    bool hit = false;
    if (y < -HYSTERESIS * a->env) {
        a->armed = true;
    } else if (a->armed && a->prev_y <= 0 && y > 0) {
        *ret_frac = -a->prev_y / (y - a->prev_y);
        a->armed = false;
        hit = true;
    }
    a->prev_y = y;
    return hit;
}

/*
 * Resamples [from, from + span) of both channels to FFT_POINTS points, less
 * the means, into rv/ri, and records where the points fell between samples.
 */
static void resample(struct pq_analyzer *a, double from, double span, double mv, double mi)
{
    const long len = (long)a->len;
    memset(a->frac_count, 0, sizeof(a->frac_count));
    memset(a->frac_sum, 0, sizeof(a->frac_sum));
    for (size_t j = 0; j < FFT_POINTS; j++) {
        double t = from + span * (double)j / FFT_POINTS;
        double fl = floor(t), x = t - fl, w[TAPS], sv = 0, si = 0;
        long k = (long)fl - 2;
        lagrange_weights(x, w);
        if (k >= 0 && k + TAPS <= len) {
            for (int m = 0; m < TAPS; m++) {
                sv += w[m] * a->v[k + m];
                si += w[m] * a->i[k + m];
            }
        } else { /* at the buffer's ends (only fallback windows): repeat the edge sample */
            for (int m = 0; m < TAPS; m++) {
                long idx = k + m < 0 ? 0 : k + m >= len ? len - 1 : k + m;
                sv += w[m] * a->v[idx];
                si += w[m] * a->i[idx];
            }
        }
        a->rv[j] = (float)(sv - mv);
        a->ri[j] = (float)(si - mi);
        int b = (int)(x * FRAC_BINS);
        a->frac_count[b] += 1;
        a->frac_sum[b] += x;
    }
}

/* |sum_m w_m e^{j 2 pi nu (m - 2 - x)}|: the interpolator's gain at nu cycles per sample. */
static double lagrange_gain(const double w[TAPS], double x, double nu)
{
    double re = 0, im = 0;
    for (int m = 0; m < TAPS; m++) {
        double ph = 2 * M_PI * nu * ((double)(m - 2) - x);
        re += w[m] * cos(ph);
        im += w[m] * sin(ph);
    }
    return sqrt(re * re + im * im);
}

/*
 * Mean gain of the resampling at harmonics 1..hmax of nu1 cycles per raw
 * sample, into ret[1..hmax]. A component's FFT bin sees the interpolator's
 * response averaged over the points' positions between samples; near half the
 * sample rate that loses several % (22 % at harmonic 50 sampled at 6.4 kHz),
 * so harmonic magnitudes are divided by it. Phasors advance by recurrence:
 * two sincos per histogram bin, none per harmonic.
 */
static void resample_gains(const struct pq_analyzer *a, double nu1, unsigned hmax, double *ret)
{
    double re[PQ_MAX_HARMONIC + 1] = {0}, im[PQ_MAX_HARMONIC + 1] = {0};
    const double sr = cos(2 * M_PI * nu1), si = sin(2 * M_PI * nu1);
    for (int b = 0; b < FRAC_BINS; b++) {
        if (a->frac_count[b] == 0)
            continue;
        double x = a->frac_sum[b] / a->frac_count[b], w[TAPS];
        lagrange_weights(x, w);
        /* e^{j 2 pi h nu1 (-2 - x)} and e^{j 2 pi h nu1}, for h = 1, 2, ... */
        const double br = cos(-2 * M_PI * nu1 * (2 + x)), bi = sin(-2 * M_PI * nu1 * (2 + x));
        double hr = br, hi = bi, str = sr, sti = si;
        for (unsigned h = 1; h <= hmax; h++) {
            double pr = hr, pi = hi, sum_r = 0, sum_i = 0;
            for (int m = 0; m < TAPS; m++) {
                sum_r += w[m] * pr;
                sum_i += w[m] * pi;
                double t = pr * str - pi * sti;
                pi = pr * sti + pi * str;
                pr = t;
            }
            re[h] += a->frac_count[b] * sum_r;
            im[h] += a->frac_count[b] * sum_i;
            double t = hr * br - hi * bi;
            hi = hr * bi + hi * br;
            hr = t;
            t = str * sr - sti * si;
            sti = str * si + sti * sr;
            str = t;
        }
    }
    for (unsigned h = 1; h <= hmax; h++)
        ret[h] = sqrt(re[h] * re[h] + im[h] * im[h]) / FFT_POINTS;
}

struct sums {
    double v, i, vv, ii, vi;
};

static void sums_add(struct sums *s, const struct pq_analyzer *a, size_t k, double w)
{
    double v = a->v[k], i = a->i[k];
    s->v += w * v;
    s->i += w * i;
    s->vv += w * v * v;
    s->ii += w * i * i;
    s->vi += w * v * i;
}

/* Integrals over [from, to] (relative sample times) of the piecewise-linear sample products. */
static void integrate(const struct pq_analyzer *a, double from, double to, struct sums *ret)
{
    size_t k0 = (size_t)ceil(from), k1 = (size_t)floor(to);
    double la = (double)k0 - from, lb = to - (double)k1;
    struct sums s = {0};

    for (size_t k = k0; k <= k1; k++)
        sums_add(&s, a, k, 1.0);
    /* trapezoid between k0 and k1: half weight at both ends */
    sums_add(&s, a, k0, k1 > k0 ? -0.5 : -1.0);
    if (k1 > k0)
        sums_add(&s, a, k1, -0.5);
    if (la > 0) {
        sums_add(&s, a, k0 - 1, la * la / 2);
        sums_add(&s, a, k0, la * (2 - la) / 2);
    }
    if (lb > 0) {
        sums_add(&s, a, k1, lb * (2 - lb) / 2);
        sums_add(&s, a, k1 + 1, lb * lb / 2);
    }
    *ret = s;
}

static double power2(const kiss_fft_cpx *x, size_t k)
{
    return (double)x[k].r * x[k].r + (double)x[k].i * x[k].i;
}

/* Subgroup magnitude (bins k-1..k+1), in FFT units. */
static double subgroup(const kiss_fft_cpx *x, size_t k)
{
    return sqrt(power2(x, k - 1) + power2(x, k) + power2(x, k + 1));
}

/* Whether the n periods between cross[0] and cross[n] agree within PERIOD_TOLERANCE. */
static bool periods_agree(const struct pq_analyzer *a, unsigned n)
{
    const double mean = (a->cross[n] - a->cross[0]) / n;
    for (unsigned k = 0; k < n; k++)
        if (fabs(a->cross[k + 1] - a->cross[k] - mean) > PERIOD_TOLERANCE * mean)
            return false;
    return true;
}

/* Whether cross[0..cycles] make a synchronised window: agreeing periods of 40..70 Hz. */
static bool synchronised(const struct pq_analyzer *a)
{
    double freq = a->cycles * a->cfg.rate_hz / (a->cross[a->cycles] - a->cross[0]);
    return freq >= FREQ_MIN_HZ && freq <= FREQ_MAX_HZ && periods_agree(a, a->cycles);
}

/* Fills w's measured values from the span [from, to) holding `periods` crossing periods. */
static void measure(struct pq_analyzer *a, double from, double to, unsigned periods,
                    struct pq_window *w)
{
    const double span = to - from;
    struct sums s;

    integrate(a, from, to, &s);
    double mv = s.v / span, mi = s.i / span;
    double v2 = s.vv / span - mv * mv, i2 = s.ii / span - mi * mi;
    w->vrms = v2 > 0 ? sqrt(v2) : 0;
    w->irms = i2 > 0 ? sqrt(i2) : 0;
    w->p_w = s.vi / span - mv * mi;
    w->s_va = w->vrms * w->irms;
    w->pf = w->s_va > 0 ? w->p_w / w->s_va : 0;
    if (w->pf > 1)
        w->pf = 1;
    else if (w->pf < -1)
        w->pf = -1;

    resample(a, from, span, mv, mi);
    kiss_fftr(a->fft, a->rv, a->sv);
    kiss_fftr(a->fft, a->ri, a->si);

    /* Synchronised, and the fundamental dominates the voltage (else it is noise). */
    double freq = periods * a->cfg.rate_hz / span;
    bool valid = periods == a->cycles && synchronised(a);
    const double to_rms = M_SQRT2 / FFT_POINTS;
    double g1v = valid ? subgroup(a->sv, periods) : 0;
    double g1i = valid ? subgroup(a->si, periods) : 0;
    valid = valid && g1v * to_rms > FUNDAMENTAL_SHARE * w->vrms;
    bool i_valid = valid && g1i * to_rms > FUNDAMENTAL_SHARE * w->irms;

    double sum_v = 0, sum_i = 0;
    if (valid) {
        w->freq_hz = freq;
        const double nu1 = periods / span; /* fundamental, cycles per raw sample */
        unsigned hmax = 0;
        while (hmax < PQ_MAX_HARMONIC && (hmax + 1) * freq < a->cfg.rate_hz / 2 &&
               (size_t)periods * (hmax + 1) + 1 <= FFT_POINTS / 2)
            hmax++;
        double gain[PQ_MAX_HARMONIC + 1];
        resample_gains(a, nu1, hmax, gain);
        const double c1 = a->cal_on ? lagrange_gain(a->cal_w, a->cal_x, nu1) : 1;
        for (unsigned h = 1; h <= hmax; h++) {
            size_t k = (size_t)periods * h;
            double g = gain[h] / gain[1];
            double cal = a->cal_on ? lagrange_gain(a->cal_w, a->cal_x, h * nu1) / c1 : 1;
            w->harmonics_v[h] = subgroup(a->sv, k) / g1v * 100.0 / g;
            w->harmonics_i[h] = i_valid ? subgroup(a->si, k) / g1i * 100.0 / (g * cal) : 0;
            if (h >= 2) {
                sum_v += w->harmonics_v[h] * w->harmonics_v[h];
                sum_i += w->harmonics_i[h] * w->harmonics_i[h];
            }
        }
        w->thd_v = sqrt(sum_v);
        w->thd_i = sqrt(sum_i);
    }
    double q_sign;
    if (i_valid) {
        const kiss_fft_cpx *fv = &a->sv[periods], *fi = &a->si[periods];
        w->phase_deg = wrap_deg((atan2(fv->i, fv->r) - atan2(fi->i, fi->r)) * 180.0 / M_PI);
        q_sign = w->phase_deg < 0 ? -1.0 : 1.0;
    } else {
        double budeanu = 0;
        for (size_t k = 1; k < FFT_POINTS / 2; k++)
            budeanu += (double)a->sv[k].i * a->si[k].r - (double)a->sv[k].r * a->si[k].i;
        q_sign = budeanu < 0 ? -1.0 : 1.0;
    }
    double q2 = w->s_va * w->s_va - w->p_w * w->p_w;
    w->q_var = q_sign * (q2 > 0 ? sqrt(q2) : 0);
}

/* Measures the window [start, end), reports it and moves the buffer on. */
static void close_window(struct pq_analyzer *a, pq_window_fn fn, void *ctx)
{
    struct pq_window w;
    double end = a->end;
    bool synced = a->end_at_cross && a->ncross >= 2;

    memset(&w, 0, sizeof(w));
    w.first_sample = a->base + (uint64_t)ceil(a->start);
    w.samples = (uint32_t)(ceil(end) - ceil(a->start));
    w.duration_s = (end - a->start) / a->cfg.rate_hz;
    unsigned last = 0;
    if (synced) {
        while (last + 1 < a->ncross && a->cross[last + 1] <= end)
            last++;
        measure(a, a->cross[0], end, last, &w);
    } else {
        measure(a, a->start, end, 0, &w);
    }
    if (fn)
        fn(&w, ctx);

    /* Crossings from end on belong to the next window; end itself becomes its origin. */
    unsigned keep = 0;
    for (unsigned k = 0; k < a->ncross; k++)
        if (a->cross[k] >= end)
            a->cross[keep++] = a->cross[k];
    a->ncross = keep;
    a->start = end;
    a->pending = false;

    /* Keep what interpolating at the new start needs. */
    double drop = floor(end) - 2;
    if (drop > 0) {
        size_t n = (size_t)drop;
        memmove(a->v, a->v + n, (a->len - n) * sizeof(float));
        memmove(a->i, a->i + n, (a->len - n) * sizeof(float));
        a->len -= n;
        a->base += n;
        a->start -= drop;
        for (unsigned k = 0; k < a->ncross; k++)
            a->cross[k] -= drop;
    }
}

/*
 * Decides where the open window ends, t being the newest sample: at the
 * crossing `cycles` periods after the origin when they are synchronised;
 * failing that (noise, a glitch) after the nominal length, so the current
 * is still measured over whole cycles at the nominal frequency; and when
 * no window completes within max_span, at the last crossing if those
 * periods agree (a frequency below range), else after the nominal length.
 */
static void decide_end(struct pq_analyzer *a, double t)
{
    if (a->ncross >= a->cycles + 1) {
        a->end_at_cross = synchronised(a);
        a->end = a->end_at_cross ? a->cross[a->cycles] : a->start + a->nominal_len;
        a->pending = true;
    } else if (t - (a->ncross > 0 ? a->cross[0] : a->start) > a->max_span) {
        a->end_at_cross = a->ncross >= 2 && periods_agree(a, a->ncross - 1);
        a->end = a->end_at_cross ? a->cross[a->ncross - 1] : a->start + a->nominal_len;
        a->pending = true;
    }
}

/* One sample pair enters the window buffer. */
static void push(struct pq_analyzer *a, float v, float i, pq_window_fn fn, void *ctx)
{
    if (a->len == a->cap) {
        /* Cannot happen: windows close within 2 * max_span. Keep the stream going anyway. */
        a->end = (double)a->len - TAPS;
        a->end_at_cross = false;
        close_window(a, fn, ctx);
    }
    a->v[a->len] = v;
    a->i[a->len] = i;
    a->len++;
    a->next_index++;
    const double t = (double)(a->len - 1);

    double frac;
    if (detect(a, v, &frac) && a->ncross < MAX_CYCLES + 3)
        a->cross[a->ncross++] = t - 1 + frac;
    if (!a->pending)
        decide_end(a, t);
    if (a->pending && t >= ceil(a->end) + 3)
        close_window(a, fn, ctx);
}

void pq_analyzer_feed(struct pq_analyzer *a, const float *v, const float *i, size_t n,
                      pq_window_fn fn, void *ctx)
{
    if (!a->cal_on) {
        for (size_t k = 0; k < n; k++)
            push(a, v[k], i[k], fn, ctx);
        return;
    }
    /* Delay line: output n is v[n] and the current interpolated at n + shift. */
    const size_t mask = a->cal_mask;
    for (size_t k = 0; k < n; k++) {
        size_t pos = (size_t)(a->cal_in & mask);
        a->cal_v[pos] = v[k];
        a->cal_i[pos] = i[k];
        a->cal_in++;
        if (a->cal_in <= a->cal_delay)
            continue;
        uint64_t out = a->cal_in - 1 - a->cal_delay; /* since the reset */
        double ic = 0;
        for (int m = 0; m < TAPS; m++) {
            int64_t idx = (int64_t)out + a->cal_floor - 2 + m;
            if (idx < 0)
                idx = 0; /* the first few after a reset: repeat the oldest sample */
            ic += a->cal_w[m] * a->cal_i[(size_t)idx & mask];
        }
        push(a, a->cal_v[(size_t)out & mask], (float)ic, fn, ctx);
    }
}

void pq_interval_reset(struct pq_interval *iv)
{
    memset(iv, 0, sizeof(*iv));
}

/*
 * Averages: RMS values as the root of the duration-weighted mean square, P, Q
 * and S duration-weighted (so P_avg is energy over time); frequency, angle,
 * THD and harmonics as the plain mean over the windows that had a valid
 * fundamental. While windows are added, phase_deg holds the first such
 * window's angle, sum_phase the sum of the others' differences from it (so
 * angles near +-180 degrees average correctly), and the harmonics arrays
 * running sums.
 */
void pq_interval_add(struct pq_interval *iv, const struct pq_window *w)
{
    double d = w->duration_s;

    if (iv->windows == 0) {
        iv->vrms_min = iv->vrms_max = w->vrms;
        iv->irms_min = iv->irms_max = w->irms;
        iv->p_min = iv->p_max = w->p_w;
    }
    iv->vrms_min = fmin(iv->vrms_min, w->vrms);
    iv->vrms_max = fmax(iv->vrms_max, w->vrms);
    iv->irms_min = fmin(iv->irms_min, w->irms);
    iv->irms_max = fmax(iv->irms_max, w->irms);
    iv->p_min = fmin(iv->p_min, w->p_w);
    iv->p_max = fmax(iv->p_max, w->p_w);
    iv->windows++;
    iv->duration_s += d;
    iv->sum_v += w->vrms * w->vrms * d;
    iv->sum_i += w->irms * w->irms * d;
    iv->sum_p += w->p_w * d;
    iv->sum_q += w->q_var * d;
    iv->sum_s += w->s_va * d;
    if (w->p_w >= 0)
        iv->import_wh += w->p_w * d / 3600.0;
    else
        iv->export_wh -= w->p_w * d / 3600.0;
    if (w->q_var >= 0)
        iv->q_import_varh += w->q_var * d / 3600.0;
    else
        iv->q_export_varh -= w->q_var * d / 3600.0;

    if (w->freq_hz <= 0)
        return;
    if (iv->freq_windows == 0) {
        iv->freq_min = iv->freq_max = w->freq_hz;
        iv->phase_deg = w->phase_deg;
    }
    iv->freq_min = fmin(iv->freq_min, w->freq_hz);
    iv->freq_max = fmax(iv->freq_max, w->freq_hz);
    iv->freq_windows++;
    iv->sum_f += w->freq_hz;
    iv->sum_phase += wrap_deg(w->phase_deg - iv->phase_deg);
    iv->sum_thd_v += w->thd_v;
    iv->sum_thd_i += w->thd_i;
    for (unsigned h = 0; h <= PQ_MAX_HARMONIC; h++) {
        iv->harmonics_v[h] += w->harmonics_v[h];
        iv->harmonics_i[h] += w->harmonics_i[h];
    }
}

int pq_interval_finish(struct pq_interval *iv)
{
    if (iv->windows == 0)
        return -ENODATA;
    double d = iv->duration_s;
    iv->vrms_avg = d > 0 ? sqrt(iv->sum_v / d) : 0;
    iv->irms_avg = d > 0 ? sqrt(iv->sum_i / d) : 0;
    iv->p_avg = d > 0 ? iv->sum_p / d : 0;
    iv->q_avg = d > 0 ? iv->sum_q / d : 0;
    iv->s_avg = d > 0 ? iv->sum_s / d : 0;
    iv->pf = iv->s_avg > 0 ? iv->p_avg / iv->s_avg : 0;
    if (iv->pf > 1)
        iv->pf = 1;
    else if (iv->pf < -1)
        iv->pf = -1;

    unsigned n = iv->freq_windows;
    if (n == 0) {
        iv->freq_avg = iv->phase_deg = iv->thd_v = iv->thd_i = 0;
        return 0;
    }
    iv->freq_avg = iv->sum_f / n;
    iv->phase_deg = wrap_deg(iv->phase_deg + iv->sum_phase / n);
    iv->thd_v = iv->sum_thd_v / n;
    iv->thd_i = iv->sum_thd_i / n;
    for (unsigned h = 0; h <= PQ_MAX_HARMONIC; h++) {
        iv->harmonics_v[h] /= n;
        iv->harmonics_i[h] /= n;
    }
    return 0;
}

static void add_to_interval(const struct pq_window *w, void *ctx)
{
    pq_interval_add(ctx, w);
}

int pq_analyze_capture(const struct pq_config *cfg, const float *v, const float *i, size_t n,
                       struct pq_interval *ret)
{
    struct pq_analyzer *a;
    struct pq_interval iv;

    if (!ret || (n > 0 && (!v || !i)))
        return -EINVAL;
    int r = pq_analyzer_new(cfg, &a);
    if (r)
        return r;
    pq_interval_reset(&iv);
    pq_analyzer_feed(a, v, i, n, add_to_interval, &iv);
    pq_analyzer_free(a);
    r = pq_interval_finish(&iv);
    if (r)
        return r;
    *ret = iv;
    return 0;
}
