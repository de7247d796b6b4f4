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

#include "pq_core.h"

struct pq_analyzer {
    struct pq_config cfg;
    struct pq_core core; /* channel 0 the voltage, 1 the current */
    pq_window_fn fn;     /* the caller's, while feeding */
    void *ctx;

    /* spectrum scratch */
    float *rv, *ri;
    kiss_fft_cpx *sv, *si;
};

int pq_analyzer_new(const struct pq_config *cfg, struct pq_analyzer **ret)
{
    if (!cfg || !ret)
        return -EINVAL;
    struct pq_analyzer *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    const double shift_deg[2] = {0, cfg->phase_cal_deg};
    int r = pq_core_init(&a->core, cfg->rate_hz, cfg->nominal_hz, 2, 2, shift_deg, NULL, NULL);
    if (r) {
        free(a);
        return r;
    }
    a->cfg = *cfg;
    a->rv = malloc(PQ_FFT_POINTS * sizeof(float));
    a->ri = malloc(PQ_FFT_POINTS * sizeof(float));
    a->sv = malloc((PQ_FFT_POINTS / 2 + 1) * sizeof(kiss_fft_cpx));
    a->si = malloc((PQ_FFT_POINTS / 2 + 1) * sizeof(kiss_fft_cpx));
    if (!a->rv || !a->ri || !a->sv || !a->si) {
        pq_analyzer_free(a);
        return -ENOMEM;
    }
    *ret = a;
    return 0;
}

void pq_analyzer_free(struct pq_analyzer *a)
{
    if (!a)
        return;
    pq_core_fini(&a->core);
    free(a->rv);
    free(a->ri);
    free(a->sv);
    free(a->si);
    free(a);
}

void pq_analyzer_reset(struct pq_analyzer *a)
{
    pq_core_reset(&a->core);
}

struct sums {
    double v, i, vv, ii, vi;
};

static void sums_add(struct sums *s, const struct pq_core *c, size_t k, double w)
{
    double v = c->buf[0][k], i = c->buf[1][k];
    s->v += w * v;
    s->i += w * i;
    s->vv += w * v * v;
    s->ii += w * i * i;
    s->vi += w * v * i;
}

/* Integrals over [from, to] (relative sample times) of the piecewise-linear sample products. */
static void integrate(const struct pq_core *c, double from, double to, struct sums *ret)
{
    struct pq_trapezoid t;
    struct sums s = {0};

    pq_trapezoid(from, to, &t);
    for (size_t k = t.k0; k <= t.k1; k++)
        sums_add(&s, c, k, 1.0);
    for (unsigned j = 0; j < t.n; j++)
        sums_add(&s, c, t.idx[j], t.w[j]);
    *ret = s;
}

/* Fills a window's measured values from the span s describes and reports it. */
static void measure(struct pq_core *c, const struct pq_span *sp, void *arg)
{
    struct pq_analyzer *a = arg;
    const double from = sp->from, to = sp->to, span = to - from;
    const unsigned periods = sp->periods;
    struct pq_window window, *w = &window;
    struct sums s;

    memset(w, 0, sizeof(*w));
    w->first_sample = sp->first_sample;
    w->samples = sp->samples;
    w->duration_s = sp->duration_s;

    integrate(c, from, to, &s);
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

    static const unsigned chs[2] = {0, 1};
    const double means[2] = {mv, mi};
    float *const out[2] = {a->rv, a->ri};
    pq_core_resample(c, from, span, 2, chs, means, out);
    kiss_fftr(c->fft, a->rv, a->sv);
    kiss_fftr(c->fft, a->ri, a->si);

    /* Synchronised, and the fundamental dominates the voltage (else it is noise). */
    double freq = periods * c->rate_hz / span;
    bool valid = sp->valid;
    const double to_rms = M_SQRT2 / PQ_FFT_POINTS;
    double g1v = valid ? pq_subgroup(a->sv, periods) : 0;
    double g1i = valid ? pq_subgroup(a->si, periods) : 0;
    valid = valid && g1v * to_rms > PQ_FUNDAMENTAL_SHARE * w->vrms;
    bool i_valid = valid && g1i * to_rms > PQ_FUNDAMENTAL_SHARE * w->irms;

    double sum_v = 0, sum_i = 0;
    if (valid) {
        w->freq_hz = freq;
        const double nu1 = periods / span; /* fundamental, cycles per raw sample */
        unsigned hmax = pq_core_hmax(c, periods, freq);
        double gain[PQ_MAX_HARMONIC + 1];
        pq_core_resample_gains(c, nu1, hmax, gain);
        const double c1 = pq_core_cal_gain(c, 1, nu1);
        for (unsigned h = 1; h <= hmax; h++) {
            size_t k = (size_t)periods * h;
            double g = gain[h] / gain[1];
            double cal = c->shifted[1] ? pq_core_cal_gain(c, 1, h * nu1) / c1 : 1;
            w->harmonics_v[h] = pq_subgroup(a->sv, k) / g1v * 100.0 / g;
            w->harmonics_i[h] = i_valid ? pq_subgroup(a->si, k) / g1i * 100.0 / (g * cal) : 0;
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
        w->phase_deg = pq_wrap_deg((atan2(fv->i, fv->r) - atan2(fi->i, fi->r)) * 180.0 / M_PI);
        q_sign = w->phase_deg < 0 ? -1.0 : 1.0;
    } else {
        double budeanu = 0;
        for (size_t k = 1; k < PQ_FFT_POINTS / 2; k++)
            budeanu += (double)a->sv[k].i * a->si[k].r - (double)a->sv[k].r * a->si[k].i;
        q_sign = budeanu < 0 ? -1.0 : 1.0;
    }
    double q2 = w->s_va * w->s_va - w->p_w * w->p_w;
    w->q_var = q_sign * (q2 > 0 ? sqrt(q2) : 0);
    if (a->fn)
        a->fn(w, a->ctx);
}

void pq_analyzer_feed(struct pq_analyzer *a, const float *v, const float *i, size_t n,
                      pq_window_fn fn, void *ctx)
{
    const float *const in[2] = {v, i};
    a->fn = fn;
    a->ctx = ctx;
    pq_core_feed(&a->core, in, n, measure, a);
    a->fn = NULL;
    a->ctx = NULL;
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
    iv->sum_phase += pq_wrap_deg(w->phase_deg - iv->phase_deg);
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
    iv->phase_deg = pq_wrap_deg(iv->phase_deg + iv->sum_phase / n);
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
