#include "dsp.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Time constant of the DC tracker that centres the voltage for crossing detection. */
#define DC_TRACK_S 0.5
/* The envelope of |v| halves in this time, so a voltage drop re-arms detection quickly. */
#define ENV_HALF_LIFE_S 1.0
/* A crossing is armed again only after v fell below this fraction of the envelope. */
#define HYSTERESIS 0.1
/* Crossings closer than this fraction of the nominal period are noise, not a new period. */
#define MIN_GAP_PERIODS 0.5

void dsp_accum_init(struct dsp_accum *a, double rate_hz, double nominal_hz)
{
    memset(a, 0, sizeof(*a));
    a->rate_hz = rate_hz;
    a->nominal_hz = nominal_hz;
    unsigned d = (unsigned)lround(rate_hz / (4.0 * nominal_hz));
    if (d < 1)
        d = 1;
    if (d > DSP_DELAY_MAX)
        d = DSP_DELAY_MAX;
    a->delay_len = d;
    a->dc_alpha = 1.0 / (rate_hz * DC_TRACK_S);
    a->env_decay = exp(-M_LN2 / (rate_hz * ENV_HALF_LIFE_S));
    a->min_gap_samples = MIN_GAP_PERIODS * rate_hz / nominal_hz;
}

static void sums_sub(struct dsp_sums *s, const struct dsp_sums *minus)
{
    s->n -= minus->n;
    s->v -= minus->v;
    s->i -= minus->i;
    s->v2 -= minus->v2;
    s->i2 -= minus->i2;
    s->vi -= minus->vi;
    s->n_delayed -= minus->n_delayed;
    s->vd -= minus->vd;
    s->vd_i -= minus->vd_i;
}

void dsp_accum_reset_interval(struct dsp_accum *a)
{
    if (a->periods > 0) {
        /* The samples after the last crossing start the next window. */
        sums_sub(&a->run, &a->at_cross);
        a->window_start = a->last_cross;
    } else {
        /* No full period: this interval was measured as a whole; start afresh. */
        memset(&a->run, 0, sizeof(a->run));
        a->window_open = false;
    }
    memset(&a->at_cross, 0, sizeof(a->at_cross));
    a->periods = 0;
    a->interval_samples = 0;
}

/*
 * Feeds one voltage sample to the crossing detector. Returns true when a
 * positive-going crossing lies between the previous sample and this one, with
 * its interpolated position in *ret_t (samples since init).
 */
static bool detect_crossing(struct dsp_accum *a, double vk, double *ret_t)
{
    a->dc_v += a->dc_alpha * (vk - a->dc_v);
    double x = vk - a->dc_v;
    double ax = fabs(x);
    a->env_v *= a->env_decay;
    if (ax > a->env_v)
        a->env_v = ax;
    if (x < -HYSTERESIS * a->env_v)
        a->armed = true;

    bool crossed = false;
    if (a->armed && a->have_prev && a->prev_x < 0 && x >= 0) {
        double frac = -a->prev_x / (x - a->prev_x);
        double t = (double)a->total_samples - 1.0 + frac;
        if (!a->window_open || t - a->last_cross >= a->min_gap_samples) {
            *ret_t = t;
            crossed = true;
            a->armed = false;
        }
    }
    a->prev_x = x;
    a->have_prev = true;
    return crossed;
}

void dsp_accum_add(struct dsp_accum *a, const double *v, const double *i, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double vk = v[k], ik = i[k];
        double t;

        /*
         * The crossing lies between samples k-1 and k; the nearest boundary
         * between sample cells is the one just before sample k, so sample k
         * belongs to the next period.
         */
        if (detect_crossing(a, vk, &t)) {
            if (!a->window_open) {
                memset(&a->run, 0, sizeof(a->run));
                memset(&a->at_cross, 0, sizeof(a->at_cross));
                a->window_open = true;
                a->window_start = t;
                a->periods = 0;
            } else {
                a->at_cross = a->run;
                a->periods++;
            }
            a->last_cross = t;
        }

        struct dsp_sums *s = &a->run;
        s->n++;
        s->v += vk;
        s->i += ik;
        s->v2 += vk * vk;
        s->i2 += ik * ik;
        s->vi += vk * ik;

        if (a->delay_fill == a->delay_len) {
            double vd = a->delay[a->delay_pos];
            s->vd_i += vd * ik;
            s->vd += vd;
            s->n_delayed++;
        } else {
            a->delay_fill++;
        }
        a->delay[a->delay_pos] = vk;
        a->delay_pos = (a->delay_pos + 1) % a->delay_len;

        a->total_samples++;
        a->interval_samples++;
    }
}

int dsp_accum_result(const struct dsp_accum *a, struct dsp_result *r)
{
    memset(r, 0, sizeof(*r));
    const struct dsp_sums *s = a->periods > 0 ? &a->at_cross : &a->run;
    if (a->interval_samples == 0 || s->n == 0)
        return -ENODATA;

    double n = (double)s->n;
    double mv = s->v / n, mi = s->i / n;
    double var_v = s->v2 / n - mv * mv;
    double var_i = s->i2 / n - mi * mi;
    r->vrms = sqrt(var_v > 0 ? var_v : 0);
    r->irms = sqrt(var_i > 0 ? var_i : 0);
    r->p_w = s->vi / n - mv * mi;
    r->s_va = r->vrms * r->irms;

    if (a->periods > 0 && a->last_cross > a->window_start)
        r->freq_hz = (double)a->periods * a->rate_hz / (a->last_cross - a->window_start);

    /*
     * The delay line shifts v by theta = 2 pi f d / rate, a quarter period
     * only at the nominal frequency. mean(v_d * i) = V I cos(theta - phi)
     * = P cos(theta) + Q sin(theta), which gives Q's sign at any frequency.
     */
    double q_sign = 0;
    if (s->n_delayed > 0) {
        double nd = (double)s->n_delayed;
        double c = s->vd_i / nd - (s->vd / nd) * mi;
        double f = r->freq_hz > 0 ? r->freq_hz : a->nominal_hz;
        double theta = 2.0 * M_PI * f * (double)a->delay_len / a->rate_hz;
        double st = sin(theta);
        q_sign = fabs(st) > 0.1 ? (c - r->p_w * cos(theta)) / st : c;
    }
    double q2 = r->s_va * r->s_va - r->p_w * r->p_w;
    double qmag = sqrt(q2 > 0 ? q2 : 0);
    r->q_var = q_sign >= 0 ? qmag : -qmag;

    r->pf = r->s_va > 0 ? r->p_w / r->s_va : 0;
    if (r->pf > 1)
        r->pf = 1;
    if (r->pf < -1)
        r->pf = -1;
    r->phase_deg = r->s_va > 0 ? atan2(r->q_var, r->p_w) * 180.0 / M_PI : 0;
    r->periods = a->periods;
    r->samples = s->n;
    r->interval_samples = a->interval_samples;
    return 0;
}

/* Renormalising the rotating phasor this often keeps its error near machine precision. */
#define PHASOR_BLOCK 1024

void dsp_harmonics(const double *x, size_t n, double cycles_per_sample, unsigned max_h,
                   double *ret_peak, double *ret_phase_rad)
{
    double mean = 0;
    for (size_t k = 0; k < n; k++)
        mean += x[k];
    mean = n > 0 ? mean / (double)n : 0;
    ret_peak[0] = mean;
    ret_phase_rad[0] = 0;

    for (unsigned h = 1; h <= max_h; h++) {
        double c = cycles_per_sample * (double)h;
        ret_peak[h] = 0;
        ret_phase_rad[h] = 0;
        if (n == 0 || !(c > 0) || c >= 0.5)
            continue;
        double w = 2.0 * M_PI * c;
        double step_re = cos(w), step_im = -sin(w);
        double re = 0, im = 0;
        for (size_t k0 = 0; k0 < n; k0 += PHASOR_BLOCK) {
            /* e^{-j w k0}, from the fractional cycle count to keep the angle small */
            double ang = 2.0 * M_PI * fmod(c * (double)k0, 1.0);
            double p_re = cos(ang), p_im = -sin(ang);
            size_t end = n - k0 < PHASOR_BLOCK ? n : k0 + PHASOR_BLOCK;
            for (size_t k = k0; k < end; k++) {
                double xk = x[k] - mean;
                re += xk * p_re;
                im += xk * p_im;
                double t = p_re * step_re - p_im * step_im;
                p_im = p_re * step_im + p_im * step_re;
                p_re = t;
            }
        }
        re *= 2.0 / (double)n;
        im *= 2.0 / (double)n;
        ret_peak[h] = sqrt(re * re + im * im);
        ret_phase_rad[h] = atan2(im, re);
    }
}
