/*
 * pq_core: windowing, calibration delay, resampling (see pq_core.h; the
 * algorithm is described at the top of pq.c).
 */
#include "pq_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FREQ_MIN_HZ       40.0
#define FREQ_MAX_HZ       70.0
#define RATE_MIN_HZ       1000.0
#define RATE_MAX_HZ       1.0e6
#define PHASE_CAL_MAX_DEG 45.0
#define HYSTERESIS        0.2
#define ENVELOPE_S        0.2  /* time constant of the detector's envelope */
#define WARMUP_PERIODS    3    /* detector settling after a reset: 1 to fill, 2 to decay */
#define PERIOD_TOLERANCE  0.05 /* a period may differ from the window's mean by 5 % */

double pq_wrap_deg(double d)
{
    d = fmod(d, 360.0);
    if (d > 180.0)
        d -= 360.0;
    else if (d <= -180.0)
        d += 360.0;
    return d;
}

static void biquad_lowpass(struct pq_biquad *q, double fc_hz, double rate_hz)
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

static double biquad_run(struct pq_biquad *q, double x)
{
    double y = q->b0 * x + q->z1;
    q->z1 = q->b1 * x - q->a1 * y + q->z2;
    q->z2 = q->b2 * x - q->a2 * y;
    return y;
}

/* Weights of the Lagrange polynomial through nodes -2..3 evaluated at x (0 <= x < 1). */
static void lagrange_weights(double x, double w[PQ_TAPS])
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
static void restart(struct pq_core *c)
{
    c->cal_in = 0;
    memset(c->dc_line, 0, c->dc_len * sizeof(float));
    c->dc_pos = 0;
    c->dc_sum = 0;
    c->warmup = (uint64_t)c->dc_len * WARMUP_PERIODS;
    c->lp.z1 = c->lp.z2 = 0;
    c->env = 0;
    c->prev_y = 0;
    c->armed = false;
    c->len = 0;
    c->base = c->next_index;
    c->start = 0;
    c->ncross = 0;
    c->pending = false;
}

unsigned pq_window_cycles(double nominal_hz)
{
    return (unsigned)lround(nominal_hz / 5.0);
}

int pq_core_init(struct pq_core *c, double rate_hz, double nominal_hz, unsigned n_in,
                 unsigned n_buf, const double *shift_deg, pq_core_derive_fn derive,
                 const void *derive_ctx)
{
    memset(c, 0, sizeof(*c));
    if (!isfinite(rate_hz) || rate_hz < RATE_MIN_HZ || rate_hz > RATE_MAX_HZ ||
        !isfinite(nominal_hz) || nominal_hz < FREQ_MIN_HZ || nominal_hz > FREQ_MAX_HZ ||
        n_in == 0 || n_in > PQ_CORE_MAX_IN || n_buf == 0 || n_buf > PQ_CORE_MAX_BUF ||
        (!derive && n_buf != n_in))
        return -EINVAL;
    for (unsigned k = 0; k < n_in; k++)
        if (!isfinite(shift_deg[k]) || fabs(shift_deg[k]) > PHASE_CAL_MAX_DEG)
            return -EINVAL;

    c->rate_hz = rate_hz;
    c->nominal_hz = nominal_hz;
    c->n_in = n_in;
    c->n_buf = n_buf;
    c->derive = derive;
    c->derive_ctx = derive_ctx;
    c->cycles = pq_window_cycles(nominal_hz);
    c->nominal_len = c->cycles * rate_hz / nominal_hz;
    c->max_span = c->cycles * rate_hz / FREQ_MIN_HZ;
    /* lead-in (at most max_span) + window (at most max_span) + interpolation margins */
    c->cap = (size_t)ceil(2.0 * c->max_span) + 4 * PQ_TAPS;

    long max_floor = 0;
    for (unsigned k = 0; k < n_in; k++) {
        double shift = shift_deg[k] / (360.0 * nominal_hz) * rate_hz;
        c->shifted[k] = shift_deg[k] != 0;
        c->cal_on = c->cal_on || c->shifted[k];
        c->cal_floor[k] = (long)floor(shift);
        c->cal_x[k] = shift - floor(shift);
        lagrange_weights(c->cal_x[k], c->cal_w[k]);
        if (c->shifted[k] && c->cal_floor[k] + 3 > (long)c->cal_delay)
            c->cal_delay = (unsigned)(c->cal_floor[k] + 3);
        if (labs(c->cal_floor[k]) > max_floor)
            max_floor = labs(c->cal_floor[k]);
    }
    size_t line = 1;
    while (line < (size_t)max_floor + 2 * PQ_TAPS + c->cal_delay)
        line *= 2;
    c->cal_mask = line - 1;

    c->dc_len = (unsigned)lround(rate_hz / nominal_hz);
    biquad_lowpass(&c->lp, nominal_hz, rate_hz);
    c->env_decay = exp(-1.0 / (ENVELOPE_S * rate_hz));

    bool ok = true;
    for (unsigned k = 0; k < n_in && c->cal_on; k++)
        ok = ok && (c->cal_line[k] = malloc(line * sizeof(float)));
    for (unsigned k = 0; k < n_buf; k++)
        ok = ok && (c->buf[k] = malloc(c->cap * sizeof(float)));
    ok = ok && (c->dc_line = malloc(c->dc_len * sizeof(float)));
    ok = ok && (c->fft = kiss_fftr_alloc(PQ_FFT_POINTS, 0, NULL, NULL));
    if (!ok) {
        pq_core_fini(c);
        return -ENOMEM;
    }
    restart(c);
    return 0;
}

void pq_core_fini(struct pq_core *c)
{
    for (unsigned k = 0; k < PQ_CORE_MAX_IN; k++)
        free(c->cal_line[k]);
    for (unsigned k = 0; k < PQ_CORE_MAX_BUF; k++)
        free(c->buf[k]);
    free(c->dc_line);
    kiss_fftr_free(c->fft);
    memset(c, 0, sizeof(*c));
}

void pq_core_reset(struct pq_core *c)
{
    /* Samples still in the calibration delay line belong to the forgotten part. */
    c->next_index += c->cal_in < c->cal_delay ? c->cal_in : c->cal_delay;
    restart(c);
}

/*
 * Runs the detector on one voltage sample; returns true with *ret_frac (0..1,
 * from the previous sample) at a positive-going crossing.
 */
static bool detect(struct pq_core *c, float v, double *ret_frac)
{
    double old = c->dc_line[c->dc_pos];
    c->dc_line[c->dc_pos] = v;
    c->dc_sum += (double)v - old;
    if (++c->dc_pos == c->dc_len) {
        c->dc_pos = 0;
        c->dc_sum = 0; /* re-add once a period so rounding never accumulates */
        for (unsigned k = 0; k < c->dc_len; k++)
            c->dc_sum += c->dc_line[k];
    }
    if (c->warmup > 0) {
        c->warmup--;
        /* The filter starts once the moving average is full. */
        if (c->warmup < (uint64_t)c->dc_len * (WARMUP_PERIODS - 1))
            c->prev_y = biquad_run(&c->lp, (double)v - c->dc_sum / c->dc_len);
        return false;
    }
    double y = biquad_run(&c->lp, (double)v - c->dc_sum / c->dc_len);
    double mag = fabs(y);
    c->env = mag > c->env ? mag : c->env * c->env_decay;
    bool hit = false;
    if (y < -HYSTERESIS * c->env) {
        c->armed = true;
    } else if (c->armed && c->prev_y <= 0 && y > 0) {
        *ret_frac = -c->prev_y / (y - c->prev_y);
        c->armed = false;
        hit = true;
    }
    c->prev_y = y;
    return hit;
}

void pq_core_resample(struct pq_core *c, double from, double span, unsigned n,
                      const unsigned *chs, const double *means, float *const *out)
{
    const long len = (long)c->len;
    memset(c->frac_count, 0, sizeof(c->frac_count));
    memset(c->frac_sum, 0, sizeof(c->frac_sum));
    for (size_t j = 0; j < PQ_FFT_POINTS; j++) {
        double t = from + span * (double)j / PQ_FFT_POINTS;
        double fl = floor(t), x = t - fl, w[PQ_TAPS], acc[PQ_CORE_MAX_BUF] = {0};
        long k = (long)fl - 2;
        lagrange_weights(x, w);
        if (k >= 0 && k + PQ_TAPS <= len) {
            for (int m = 0; m < PQ_TAPS; m++)
                for (unsigned q = 0; q < n; q++)
                    acc[q] += w[m] * c->buf[chs[q]][k + m];
        } else { /* at the buffer's ends (only fallback windows): repeat the edge sample */
            for (int m = 0; m < PQ_TAPS; m++) {
                long idx = k + m < 0 ? 0 : k + m >= len ? len - 1 : k + m;
                for (unsigned q = 0; q < n; q++)
                    acc[q] += w[m] * c->buf[chs[q]][idx];
            }
        }
        for (unsigned q = 0; q < n; q++)
            out[q][j] = (float)(acc[q] - means[q]);
        int b = (int)(x * PQ_FRAC_BINS);
        c->frac_count[b] += 1;
        c->frac_sum[b] += x;
    }
}

/* |sum_m w_m e^{j 2 pi nu (m - 2 - x)}|: the interpolator's gain at nu cycles per sample. */
static double lagrange_gain(const double w[PQ_TAPS], double x, double nu)
{
    double re = 0, im = 0;
    for (int m = 0; m < PQ_TAPS; m++) {
        double ph = 2 * M_PI * nu * ((double)(m - 2) - x);
        re += w[m] * cos(ph);
        im += w[m] * sin(ph);
    }
    return sqrt(re * re + im * im);
}

double pq_core_cal_gain(const struct pq_core *c, unsigned k, double nu)
{
    return c->shifted[k] ? lagrange_gain(c->cal_w[k], c->cal_x[k], nu) : 1.0;
}

/*
 * Mean gain of the resampling at harmonics 1..hmax of nu1 cycles per raw
 * sample, into ret[1..hmax]. A component's FFT bin sees the interpolator's
 * response averaged over the points' positions between samples; near half the
 * sample rate that loses several % (22 % at harmonic 50 sampled at 6.4 kHz),
 * so harmonic magnitudes are divided by it. Phasors advance by recurrence:
 * two sincos per histogram bin, none per harmonic.
 */
void pq_core_resample_gains(const struct pq_core *c, double nu1, unsigned hmax, double *ret)
{
    double re[PQ_MAX_HARMONIC + 1] = {0}, im[PQ_MAX_HARMONIC + 1] = {0};
    const double sr = cos(2 * M_PI * nu1), si = sin(2 * M_PI * nu1);
    for (int b = 0; b < PQ_FRAC_BINS; b++) {
        if (c->frac_count[b] == 0)
            continue;
        double x = c->frac_sum[b] / c->frac_count[b], w[PQ_TAPS];
        lagrange_weights(x, w);
        /* e^{j 2 pi h nu1 (-2 - x)} and e^{j 2 pi h nu1}, for h = 1, 2, ... */
        const double br = cos(-2 * M_PI * nu1 * (2 + x)), bi = sin(-2 * M_PI * nu1 * (2 + x));
        double hr = br, hi = bi, str = sr, sti = si;
        for (unsigned h = 1; h <= hmax; h++) {
            double pr = hr, pi = hi, sum_r = 0, sum_i = 0;
            for (int m = 0; m < PQ_TAPS; m++) {
                sum_r += w[m] * pr;
                sum_i += w[m] * pi;
                double t = pr * str - pi * sti;
                pi = pr * sti + pi * str;
                pr = t;
            }
            re[h] += c->frac_count[b] * sum_r;
            im[h] += c->frac_count[b] * sum_i;
            double t = hr * br - hi * bi;
            hi = hr * bi + hi * br;
            hr = t;
            t = str * sr - sti * si;
            sti = str * si + sti * sr;
            str = t;
        }
    }
    for (unsigned h = 1; h <= hmax; h++)
        ret[h] = sqrt(re[h] * re[h] + im[h] * im[h]) / PQ_FFT_POINTS;
}

unsigned pq_core_hmax(const struct pq_core *c, unsigned periods, double freq_hz)
{
    unsigned hmax = 0;
    while (hmax < PQ_MAX_HARMONIC && (hmax + 1) * freq_hz < c->rate_hz / 2 &&
           (size_t)periods * (hmax + 1) + 1 <= PQ_FFT_POINTS / 2)
        hmax++;
    return hmax;
}

void pq_trapezoid(double from, double to, struct pq_trapezoid *ret)
{
    size_t k0 = (size_t)ceil(from), k1 = (size_t)floor(to);
    double la = (double)k0 - from, lb = to - (double)k1;
    struct pq_trapezoid t = {.k0 = k0, .k1 = k1};

    /* trapezoid between k0 and k1: half weight at both ends */
    t.idx[t.n] = k0;
    t.w[t.n++] = k1 > k0 ? -0.5 : -1.0;
    if (k1 > k0) {
        t.idx[t.n] = k1;
        t.w[t.n++] = -0.5;
    }
    if (la > 0) {
        t.idx[t.n] = k0 - 1;
        t.w[t.n++] = la * la / 2;
        t.idx[t.n] = k0;
        t.w[t.n++] = la * (2 - la) / 2;
    }
    if (lb > 0) {
        t.idx[t.n] = k1;
        t.w[t.n++] = lb * (2 - lb) / 2;
        t.idx[t.n] = k1 + 1;
        t.w[t.n++] = lb * lb / 2;
    }
    *ret = t;
}

static double power2(const kiss_fft_cpx *x, size_t k)
{
    return (double)x[k].r * x[k].r + (double)x[k].i * x[k].i;
}

double pq_subgroup(const kiss_fft_cpx *x, size_t k)
{
    return sqrt(power2(x, k - 1) + power2(x, k) + power2(x, k + 1));
}

/* Whether the n periods between cross[0] and cross[n] agree within PERIOD_TOLERANCE. */
static bool periods_agree(const struct pq_core *c, unsigned n)
{
    const double mean = (c->cross[n] - c->cross[0]) / n;
    for (unsigned k = 0; k < n; k++)
        if (fabs(c->cross[k + 1] - c->cross[k] - mean) > PERIOD_TOLERANCE * mean)
            return false;
    return true;
}

/* Whether cross[0..cycles] make a synchronised window: agreeing periods of 40..70 Hz. */
static bool synchronised(const struct pq_core *c)
{
    double freq = c->cycles * c->rate_hz / (c->cross[c->cycles] - c->cross[0]);
    return freq >= FREQ_MIN_HZ && freq <= FREQ_MAX_HZ && periods_agree(c, c->cycles);
}

/* Measures the window [start, end), reports it and moves the buffer on. */
static void close_window(struct pq_core *c, pq_core_measure_fn measure, void *arg)
{
    struct pq_span s;
    double end = c->end;
    bool synced = c->end_at_cross && c->ncross >= 2;

    memset(&s, 0, sizeof(s));
    s.first_sample = c->base + (uint64_t)ceil(c->start);
    s.samples = (uint32_t)(ceil(end) - ceil(c->start));
    s.duration_s = (end - c->start) / c->rate_hz;
    s.to = end;
    if (synced) {
        unsigned last = 0;
        while (last + 1 < c->ncross && c->cross[last + 1] <= end)
            last++;
        s.from = c->cross[0];
        s.periods = last;
        s.valid = last == c->cycles && synchronised(c);
    } else {
        s.from = c->start;
    }
    measure(c, &s, arg);

    /* Crossings from end on belong to the next window; end itself becomes its origin. */
    unsigned keep = 0;
    for (unsigned k = 0; k < c->ncross; k++)
        if (c->cross[k] >= end)
            c->cross[keep++] = c->cross[k];
    c->ncross = keep;
    c->start = end;
    c->pending = false;

    /* Keep what interpolating at the new start needs. */
    double drop = floor(end) - 2;
    if (drop > 0) {
        size_t n = (size_t)drop;
        for (unsigned k = 0; k < c->n_buf; k++)
            memmove(c->buf[k], c->buf[k] + n, (c->len - n) * sizeof(float));
        c->len -= n;
        c->base += n;
        c->start -= drop;
        for (unsigned k = 0; k < c->ncross; k++)
            c->cross[k] -= drop;
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
static void decide_end(struct pq_core *c, double t)
{
    if (c->ncross >= c->cycles + 1) {
        c->end_at_cross = synchronised(c);
        c->end = c->end_at_cross ? c->cross[c->cycles] : c->start + c->nominal_len;
        c->pending = true;
    } else if (t - (c->ncross > 0 ? c->cross[0] : c->start) > c->max_span) {
        c->end_at_cross = c->ncross >= 2 && periods_agree(c, c->ncross - 1);
        c->end = c->end_at_cross ? c->cross[c->ncross - 1] : c->start + c->nominal_len;
        c->pending = true;
    }
}

/* One frame of kept channels enters the window buffer. */
static void push(struct pq_core *c, const float *frame, pq_core_measure_fn measure, void *arg)
{
    if (c->len == c->cap) {
        /* Cannot happen: windows close within 2 * max_span. Keep the stream going anyway. */
        c->end = (double)c->len - PQ_TAPS;
        c->end_at_cross = false;
        close_window(c, measure, arg);
    }
    for (unsigned k = 0; k < c->n_buf; k++)
        c->buf[k][c->len] = frame[k];
    c->len++;
    c->next_index++;
    const double t = (double)(c->len - 1);

    double frac;
    if (detect(c, frame[0], &frac) && c->ncross < PQ_MAX_CYCLES + 3)
        c->cross[c->ncross++] = t - 1 + frac;
    if (!c->pending)
        decide_end(c, t);
    if (c->pending && t >= ceil(c->end) + 3)
        close_window(c, measure, arg);
}

static void push_input(struct pq_core *c, const float *frame, pq_core_measure_fn measure,
                       void *arg)
{
    if (c->derive) {
        float kept[PQ_CORE_MAX_BUF];
        c->derive(frame, kept, c->derive_ctx);
        push(c, kept, measure, arg);
    } else {
        push(c, frame, measure, arg);
    }
}

void pq_core_feed(struct pq_core *c, const float *const *in, size_t n, pq_core_measure_fn measure,
                  void *arg)
{
    float frame[PQ_CORE_MAX_IN];
    const unsigned nin = c->n_in;

    if (!c->cal_on) {
        for (size_t k = 0; k < n; k++) {
            for (unsigned q = 0; q < nin; q++)
                frame[q] = in[q] ? in[q][k] : 0.0f;
            push_input(c, frame, measure, arg);
        }
        return;
    }
    /* Delay line: output n is each channel interpolated at n + its shift. */
    const size_t mask = c->cal_mask;
    for (size_t k = 0; k < n; k++) {
        size_t pos = (size_t)(c->cal_in & mask);
        for (unsigned q = 0; q < nin; q++)
            c->cal_line[q][pos] = in[q] ? in[q][k] : 0.0f;
        c->cal_in++;
        if (c->cal_in <= c->cal_delay)
            continue;
        uint64_t out = c->cal_in - 1 - c->cal_delay; /* since the reset */
        for (unsigned q = 0; q < nin; q++) {
            if (!c->shifted[q]) {
                frame[q] = c->cal_line[q][(size_t)out & mask];
                continue;
            }
            double acc = 0;
            for (int m = 0; m < PQ_TAPS; m++) {
                int64_t idx = (int64_t)out + c->cal_floor[q] - 2 + m;
                if (idx < 0)
                    idx = 0; /* the first few after a reset: repeat the oldest sample */
                acc += c->cal_w[q][m] * c->cal_line[q][(size_t)idx & mask];
            }
            frame[q] = (float)acc;
        }
        push_input(c, frame, measure, arg);
    }
}
