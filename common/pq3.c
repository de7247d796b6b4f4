/*
 * pq3: three-phase power-quality analysis (see pq3.h for the contract).
 *
 * The windows are pq.c's, from the shared core (pq_core.h): kept channel 0
 * is phase a's voltage, whose zero crossings time every window, and all kept
 * channels are cut at the same boundaries. Kept channels are v then i per
 * phase: [v, i] for 1p2w, [va, vb, vc, ia, ib, ic] otherwise; for 3p3w the
 * core's derive step completes a missing line-to-line voltage or current
 * (minus the sum of the other two) and turns the line-to-line voltages into
 * the virtual star's, va = (vab - vca) / 3, vb = (vbc - vab) / 3,
 * vc = (vca - vbc) / 3, after each input channel's calibration delay.
 *
 * Per window, over the synchronised span, as pq.c does for one phase:
 * - RMS, P per phase in the time domain (trapezoidal integrals, window means
 *   removed); line-to-line RMS from va - vb etc. sample by sample (for 3p3w
 *   that is the measured vab less a third of the residual vab + vbc + vca,
 *   which only measurement error makes nonzero); the neutral current from
 *   ia + ib + ic sample by sample. S = Vrms * Irms per phase; Q per phase the
 *   non-active power signed by the fundamental's angle; totals are sums.
 * - Every kept channel resampled to PQ_FFT_POINTS points over the window and
 *   transformed: harmonics per channel as pq.c; the fundamental bins are the
 *   phasors, all resampled at the same instants so their relative angles are
 *   exact, giving phase_deg, the angles against va, and the symmetrical
 *   components with a = e^{j 120 deg}:
 *     V1 = (Va + a Vb + a^2 Vc) / 3, V2 = (Va + a^2 Vb + a Vc) / 3,
 *     V0 = (Va + Vb + Vc) / 3,
 *   the phase order being abc when |V1| >= |V2|. With the order acb the
 *   two swap roles (the components are those of the rotation the meter sees),
 *   so u2 still measures unbalance, within range, and `sequence` flags the
 *   swap.
 */
#include "pq3.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pq_core.h"

struct pq3_analyzer {
    struct pq3_config cfg;
    unsigned mask;   /* wired input channels */
    unsigned phases; /* 1 or 3 */
    unsigned nbuf;   /* kept channels: 2 * phases */
    struct pq_core core;
    pq3_window_fn fn; /* the caller's, while feeding */
    void *ctx;

    /* spectrum scratch, one per kept channel */
    float *rs[PQ_CORE_MAX_BUF];
    kiss_fft_cpx *spec[PQ_CORE_MAX_BUF];
};

static const char *const wiring_names[] = {"1p2w", "3p4w", "3p3w"};

const char *pq3_wiring_name(enum pq3_wiring w)
{
    return (unsigned)w < sizeof(wiring_names) / sizeof(wiring_names[0]) ? wiring_names[w] : "?";
}

int pq3_wiring_parse(const char *s, enum pq3_wiring *ret)
{
    for (unsigned k = 0; s && k < sizeof(wiring_names) / sizeof(wiring_names[0]); k++) {
        if (strcmp(s, wiring_names[k]) == 0) {
            *ret = (enum pq3_wiring)k;
            return 0;
        }
    }
    return -EINVAL;
}

const char *pq3_channel_name(enum pq3_wiring w, unsigned ch)
{
    static const char *const star[] = {"va", "vb", "vc", "ia", "ib", "ic"};
    static const char *const delta[] = {"vab", "vbc", "vca", "ia", "ib", "ic"};
    if (ch >= PQ3_CHANNELS)
        return NULL;
    switch (w) {
    case PQ3_1P2W:
        return ch == PQ3_CH_VA ? "v" : ch == PQ3_CH_IA ? "i" : NULL;
    case PQ3_3P4W:
        return star[ch];
    case PQ3_3P3W:
        return delta[ch];
    }
    return NULL;
}

static unsigned bits(unsigned m)
{
    unsigned n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

unsigned pq3_wired_channels(const struct pq3_config *cfg)
{
    if (cfg->channel_mask)
        return cfg->channel_mask;
    return cfg->wiring == PQ3_1P2W ? PQ3_CH_BIT(PQ3_CH_VA) | PQ3_CH_BIT(PQ3_CH_IA) : 0x3fu;
}

/* 3p3w: completes the line-to-line voltages and line currents, then the virtual star. */
static void derive_3p3w(const float *in, float *ret, const void *ctx)
{
    const unsigned mask = *(const unsigned *)ctx;
    float vab = in[0], vbc = in[1], vca = in[2], ia = in[3], ib = in[4], ic = in[5];
    if (!(mask & PQ3_CH_BIT(0)))
        vab = -(vbc + vca);
    else if (!(mask & PQ3_CH_BIT(1)))
        vbc = -(vab + vca);
    else if (!(mask & PQ3_CH_BIT(2)))
        vca = -(vab + vbc);
    if (!(mask & PQ3_CH_BIT(3)))
        ia = -(ib + ic);
    else if (!(mask & PQ3_CH_BIT(4)))
        ib = -(ia + ic);
    else if (!(mask & PQ3_CH_BIT(5)))
        ic = -(ia + ib);
    ret[0] = (vab - vca) * (1.0f / 3);
    ret[1] = (vbc - vab) * (1.0f / 3);
    ret[2] = (vca - vbc) * (1.0f / 3);
    ret[3] = ia;
    ret[4] = ib;
    ret[5] = ic;
}

int pq3_analyzer_new(const struct pq3_config *cfg, struct pq3_analyzer **ret)
{
    if (!cfg || !ret || (unsigned)cfg->wiring > PQ3_3P3W)
        return -EINVAL;
    unsigned mask = pq3_wired_channels(cfg);
    if (mask & ~0x3fu)
        return -EINVAL;
    switch (cfg->wiring) {
    case PQ3_1P2W:
        if (mask != (PQ3_CH_BIT(PQ3_CH_VA) | PQ3_CH_BIT(PQ3_CH_IA)))
            return -EINVAL;
        break;
    case PQ3_3P4W:
        if (mask != 0x3fu)
            return -EINVAL;
        break;
    case PQ3_3P3W:
        if (bits(mask & 0x7u) < 2 || bits(mask & 0x38u) < 2)
            return -EINVAL;
        break;
    }

    struct pq3_analyzer *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = *cfg;
    a->cfg.channel_mask = mask;
    a->mask = mask;
    a->phases = cfg->wiring == PQ3_1P2W ? 1 : 3;
    a->nbuf = 2 * a->phases;

    int r;
    if (cfg->wiring == PQ3_1P2W) {
        const double shift[2] = {cfg->phase_cal_deg[PQ3_CH_VA], cfg->phase_cal_deg[PQ3_CH_IA]};
        r = pq_core_init(&a->core, cfg->rate_hz, cfg->nominal_hz, 2, 2, shift, NULL, NULL);
    } else {
        double shift[PQ3_CHANNELS];
        for (unsigned k = 0; k < PQ3_CHANNELS; k++)
            shift[k] = mask & PQ3_CH_BIT(k) ? cfg->phase_cal_deg[k] : 0;
        r = pq_core_init(&a->core, cfg->rate_hz, cfg->nominal_hz, PQ3_CHANNELS, PQ3_CHANNELS, shift,
                         cfg->wiring == PQ3_3P3W ? derive_3p3w : NULL, &a->mask);
    }
    if (r) {
        free(a);
        return r;
    }
    for (unsigned k = 0; k < a->nbuf; k++) {
        a->rs[k] = malloc(PQ_FFT_POINTS * sizeof(float));
        a->spec[k] = malloc((PQ_FFT_POINTS / 2 + 1) * sizeof(kiss_fft_cpx));
        if (!a->rs[k] || !a->spec[k]) {
            pq3_analyzer_free(a);
            return -ENOMEM;
        }
    }
    *ret = a;
    return 0;
}

void pq3_analyzer_free(struct pq3_analyzer *a)
{
    if (!a)
        return;
    pq_core_fini(&a->core);
    for (unsigned k = 0; k < PQ_CORE_MAX_BUF; k++) {
        free(a->rs[k]);
        free(a->spec[k]);
    }
    free(a);
}

void pq3_analyzer_reset(struct pq3_analyzer *a)
{
    pq_core_reset(&a->core);
}

/* Integrals of the kept channels, the phases' v * i, the line-to-line squares, the neutral. */
struct sums3 {
    double x[PQ_CORE_MAX_BUF], xx[PQ_CORE_MAX_BUF];
    double vi[PQ3_PHASES], ll[PQ3_PHASES], nn, n;
};

static void sums3_add(struct sums3 *s, const struct pq_core *c, unsigned phases, size_t k, double w)
{
    double x[PQ_CORE_MAX_BUF];
    const unsigned nbuf = 2 * phases;
    for (unsigned q = 0; q < nbuf; q++) {
        x[q] = c->buf[q][k];
        s->x[q] += w * x[q];
        s->xx[q] += w * x[q] * x[q];
    }
    for (unsigned p = 0; p < phases; p++)
        s->vi[p] += w * x[p] * x[phases + p];
    if (phases == 3) {
        double ab = x[0] - x[1], bc = x[1] - x[2], ca = x[2] - x[0], n = x[3] + x[4] + x[5];
        s->ll[0] += w * ab * ab;
        s->ll[1] += w * bc * bc;
        s->ll[2] += w * ca * ca;
        s->nn += w * n * n;
    }
}

static double clamp_pf(double pf)
{
    return pf > 1 ? 1 : pf < -1 ? -1 : pf;
}

static double rms_of(double mean_square)
{
    return mean_square > 0 ? sqrt(mean_square) : 0;
}

static double complex phasor(const kiss_fft_cpx *x, size_t k)
{
    return (double)x[k].r + (double)x[k].i * I;
}

static double arg_deg(double complex z)
{
    return carg(z) * 180.0 / M_PI;
}

/* Gain of kept channel q's calibration delay at nu, as the mean of its inputs' gains. */
static double kept_cal_gain(const struct pq3_analyzer *a, unsigned q, double nu)
{
    const struct pq_core *c = &a->core;
    if (a->cfg.wiring == PQ3_1P2W || a->cfg.wiring == PQ3_3P4W || q >= 3)
        return pq_core_cal_gain(c, q, nu);
    double sum = 0;
    unsigned n = 0;
    for (unsigned k = 0; k < 3; k++) {
        if (a->mask & PQ3_CH_BIT(k)) {
            sum += pq_core_cal_gain(c, k, nu);
            n++;
        }
    }
    return sum / n;
}

static void measure(struct pq_core *c, const struct pq_span *sp, void *arg)
{
    struct pq3_analyzer *a = arg;
    const unsigned np = a->phases, nbuf = a->nbuf, periods = sp->periods;
    const double from = sp->from, to = sp->to, span = to - from;
    const double to_rms = M_SQRT2 / PQ_FFT_POINTS;
    struct pq3_window window, *w = &window;
    struct pq_trapezoid t;
    struct sums3 s;
    double mean[PQ_CORE_MAX_BUF], rms[PQ_CORE_MAX_BUF];

    memset(w, 0, sizeof(*w));
    w->first_sample = sp->first_sample;
    w->samples = sp->samples;
    w->duration_s = sp->duration_s;
    w->wiring = a->cfg.wiring;
    w->phases = np;
    w->has_neutral = a->cfg.wiring == PQ3_3P4W;

    memset(&s, 0, sizeof(s));
    pq_trapezoid(from, to, &t);
    for (size_t k = t.k0; k <= t.k1; k++)
        sums3_add(&s, c, np, k, 1.0);
    for (unsigned j = 0; j < t.n; j++)
        sums3_add(&s, c, np, t.idx[j], t.w[j]);
    for (unsigned q = 0; q < nbuf; q++) {
        mean[q] = s.x[q] / span;
        rms[q] = rms_of(s.xx[q] / span - mean[q] * mean[q]);
    }
    for (unsigned p = 0; p < np; p++) {
        struct pq3_phase *ph = &w->ph[p];
        ph->vrms = rms[p];
        ph->irms = rms[np + p];
        ph->p_w = s.vi[p] / span - mean[p] * mean[np + p];
        ph->s_va = ph->vrms * ph->irms;
        ph->pf = ph->s_va > 0 ? clamp_pf(ph->p_w / ph->s_va) : 0;
    }
    if (np == 3) {
        for (unsigned p = 0; p < 3; p++) {
            double dm = mean[p] - mean[(p + 1) % 3];
            w->vll_rms[p] = rms_of(s.ll[p] / span - dm * dm);
        }
        if (w->has_neutral) {
            double nm = mean[3] + mean[4] + mean[5];
            w->in_rms = rms_of(s.nn / span - nm * nm);
        }
    }

    static const unsigned chs[PQ_CORE_MAX_BUF] = {0, 1, 2, 3, 4, 5};
    pq_core_resample(c, from, span, nbuf, chs, mean, a->rs);
    for (unsigned q = 0; q < nbuf; q++)
        kiss_fftr(c->fft, a->rs[q], a->spec[q]);

    /* Synchronised, and the fundamental dominates phase a's voltage (else it is noise). */
    bool valid = sp->valid;
    double g1[PQ_CORE_MAX_BUF] = {0};
    bool ok[PQ_CORE_MAX_BUF] = {false};
    for (unsigned q = 0; q < nbuf && valid; q++) {
        g1[q] = pq_subgroup(a->spec[q], periods);
        ok[q] = g1[q] * to_rms > PQ_FUNDAMENTAL_SHARE * rms[q];
    }
    valid = valid && ok[0];
    for (unsigned p = 0; p < np; p++) {
        ok[p] = valid && ok[p];
        ok[np + p] = ok[p] && ok[np + p]; /* a current's angle needs its voltage's */
    }

    double complex ph1[PQ_CORE_MAX_BUF] = {0};
    if (valid) {
        const double freq = periods * c->rate_hz / span;
        const double nu1 = periods / span; /* fundamental, cycles per raw sample */
        unsigned hmax = pq_core_hmax(c, periods, freq);
        double gain[PQ_MAX_HARMONIC + 1];
        pq_core_resample_gains(c, nu1, hmax, gain);
        w->freq_hz = freq;
        w->fundamental = true;
        for (unsigned q = 0; q < nbuf; q++) {
            const double c1 = kept_cal_gain(a, q, nu1);
            ph1[q] = phasor(a->spec[q], periods) * (to_rms / (gain[1] * c1));
            if (!ok[q])
                continue;
            struct pq3_phase *ph = &w->ph[q % np];
            double *harm = q < np ? ph->harmonics_v : ph->harmonics_i, sum = 0;
            for (unsigned h = 1; h <= hmax; h++) {
                size_t k = (size_t)periods * h;
                double g = gain[h] / gain[1];
                double cal = kept_cal_gain(a, q, h * nu1) / c1;
                harm[h] = pq_subgroup(a->spec[q], k) / g1[q] * 100.0 / (g * cal);
                if (h >= 2)
                    sum += harm[h] * harm[h];
            }
            if (q < np)
                ph->thd_v = sqrt(sum);
            else
                ph->thd_i = sqrt(sum);
        }
    }

    const double ref = valid ? arg_deg(ph1[0]) : 0;
    for (unsigned p = 0; p < np; p++) {
        struct pq3_phase *ph = &w->ph[p];
        const kiss_fft_cpx *sv = a->spec[p], *si = a->spec[np + p];
        double q_sign;
        if (ok[p])
            ph->angle_v_deg = pq_wrap_deg(arg_deg(ph1[p]) - ref);
        if (ok[np + p]) {
            ph->angle_i_deg = pq_wrap_deg(arg_deg(ph1[np + p]) - ref);
            ph->phase_deg = pq_wrap_deg(arg_deg(ph1[p]) - arg_deg(ph1[np + p]));
            q_sign = ph->phase_deg < 0 ? -1.0 : 1.0;
        } else {
            double budeanu = 0;
            for (size_t k = 1; k < PQ_FFT_POINTS / 2; k++)
                budeanu += (double)sv[k].i * si[k].r - (double)sv[k].r * si[k].i;
            q_sign = budeanu < 0 ? -1.0 : 1.0;
        }
        double q2 = ph->s_va * ph->s_va - ph->p_w * ph->p_w;
        ph->q_var = q_sign * (q2 > 0 ? sqrt(q2) : 0);
        w->p_w += ph->p_w;
        w->q_var += ph->q_var;
        w->s_va += ph->s_va;
    }
    w->pf = w->s_va > 0 ? clamp_pf(w->p_w / w->s_va) : 0;

    if (valid && np == 3) {
        const double complex al = cexp(I * 2.0 * M_PI / 3.0), al2 = al * al;
        const double complex *v = ph1, *i = ph1 + 3;
        w->v1 = cabs((v[0] + al * v[1] + al2 * v[2]) / 3.0);
        w->v2 = cabs((v[0] + al2 * v[1] + al * v[2]) / 3.0);
        w->v0 = a->cfg.wiring == PQ3_3P4W ? cabs((v[0] + v[1] + v[2]) / 3.0) : 0;
        w->i1 = cabs((i[0] + al * i[1] + al2 * i[2]) / 3.0);
        w->i2 = cabs((i[0] + al2 * i[1] + al * i[2]) / 3.0);
        w->i0 = cabs((i[0] + i[1] + i[2]) / 3.0);
        w->sequence = w->v1 >= w->v2 ? PQ3_SEQ_ABC : PQ3_SEQ_ACB;
        if (w->sequence == PQ3_SEQ_ACB) { /* components of the rotation the meter sees */
            double swap = w->v1;
            w->v1 = w->v2;
            w->v2 = swap;
            swap = w->i1;
            w->i1 = w->i2;
            w->i2 = swap;
        }
        w->u2_pct = w->v1 > 0 ? 100.0 * w->v2 / w->v1 : 0;
        w->u0_pct = w->v1 > 0 ? 100.0 * w->v0 / w->v1 : 0;
        w->i2_pct = ok[3] && ok[4] && ok[5] && w->i1 > 0 ? 100.0 * w->i2 / w->i1 : 0;
    }
    if (a->fn)
        a->fn(w, a->ctx);
}

void pq3_analyzer_feed(struct pq3_analyzer *a, const float *const channels[PQ3_CHANNELS], size_t n,
                       pq3_window_fn fn, void *ctx)
{
    a->fn = fn;
    a->ctx = ctx;
    if (a->cfg.wiring == PQ3_1P2W) {
        const float *const in[2] = {channels[PQ3_CH_VA], channels[PQ3_CH_IA]};
        pq_core_feed(&a->core, in, n, measure, a);
    } else {
        const float *in[PQ3_CHANNELS];
        for (unsigned k = 0; k < PQ3_CHANNELS; k++)
            in[k] = a->mask & PQ3_CH_BIT(k) ? channels[k] : NULL;
        pq_core_feed(&a->core, in, n, measure, a);
    }
    a->fn = NULL;
    a->ctx = NULL;
}

void pq3_interval_reset(struct pq3_interval *iv)
{
    memset(iv, 0, sizeof(*iv));
}

/* The aggregate voltage of a window (docs/protocol.md): mean of the phase voltages (3p4w),
 * of the line-to-line ones (3p3w), the voltage (1p2w). */
static double window_voltage(const struct pq3_window *w)
{
    if (w->phases == 1)
        return w->ph[0].vrms;
    if (w->wiring == PQ3_3P3W)
        return (w->vll_rms[0] + w->vll_rms[1] + w->vll_rms[2]) / 3;
    return (w->ph[0].vrms + w->ph[1].vrms + w->ph[2].vrms) / 3;
}

static double window_current(const struct pq3_window *w)
{
    double sum = 0;
    for (unsigned p = 0; p < w->phases; p++)
        sum += w->ph[p].irms;
    return sum / w->phases;
}

/*
 * Per phase, pq.h's aggregation of a window made of the phase's values. Angles
 * of the phasors average as pq.h averages phase_deg: the first fundamental
 * window's angle is kept in angle_*_deg and the wrapped differences from it
 * summed, so angles near +-180 degrees average correctly.
 */
void pq3_interval_add(struct pq3_interval *iv, const struct pq3_window *w)
{
    const double d = w->duration_s;
    const double v = window_voltage(w), cur = window_current(w);

    if (iv->windows == 0) {
        iv->wiring = w->wiring;
        iv->phases = w->phases;
        iv->voltage_min = iv->voltage_max = v;
        iv->current_min = iv->current_max = cur;
        iv->p_min = iv->p_max = w->p_w;
    }
    for (unsigned p = 0; p < w->phases && p < PQ3_PHASES; p++) {
        const struct pq3_phase *ph = &w->ph[p];
        struct pq_window pw;
        memset(&pw, 0, sizeof(pw));
        pw.first_sample = w->first_sample;
        pw.samples = w->samples;
        pw.duration_s = d;
        pw.vrms = ph->vrms;
        pw.irms = ph->irms;
        pw.p_w = ph->p_w;
        pw.q_var = ph->q_var;
        pw.s_va = ph->s_va;
        pw.pf = ph->pf;
        pw.freq_hz = w->freq_hz;
        pw.phase_deg = ph->phase_deg;
        pw.thd_v = ph->thd_v;
        pw.thd_i = ph->thd_i;
        memcpy(pw.harmonics_v, ph->harmonics_v, sizeof(pw.harmonics_v));
        memcpy(pw.harmonics_i, ph->harmonics_i, sizeof(pw.harmonics_i));
        pq_interval_add(&iv->ph[p], &pw);
    }
    iv->voltage_min = fmin(iv->voltage_min, v);
    iv->voltage_max = fmax(iv->voltage_max, v);
    iv->current_min = fmin(iv->current_min, cur);
    iv->current_max = fmax(iv->current_max, cur);
    iv->p_min = fmin(iv->p_min, w->p_w);
    iv->p_max = fmax(iv->p_max, w->p_w);
    iv->windows++;
    iv->duration_s += d;
    iv->sum_p += w->p_w * d;
    iv->sum_q += w->q_var * d;
    iv->sum_s += w->s_va * d;
    for (unsigned p = 0; p < PQ3_PHASES; p++)
        iv->sum_vll[p] += w->vll_rms[p] * w->vll_rms[p] * d;
    iv->sum_in += w->in_rms * w->in_rms * d;
    if (w->p_w >= 0)
        iv->import_wh += w->p_w * d / 3600.0;
    else
        iv->export_wh -= w->p_w * d / 3600.0;
    if (w->q_var >= 0)
        iv->q_import_varh += w->q_var * d / 3600.0;
    else
        iv->q_export_varh -= w->q_var * d / 3600.0;

    if (!w->fundamental || w->freq_hz <= 0)
        return;
    if (iv->fund_windows == 0) {
        iv->freq_min = iv->freq_max = w->freq_hz;
        for (unsigned p = 0; p < PQ3_PHASES; p++) {
            iv->angle_v_deg[p] = w->ph[p].angle_v_deg;
            iv->angle_i_deg[p] = w->ph[p].angle_i_deg;
        }
    }
    iv->freq_min = fmin(iv->freq_min, w->freq_hz);
    iv->freq_max = fmax(iv->freq_max, w->freq_hz);
    iv->fund_windows++;
    for (unsigned p = 0; p < PQ3_PHASES; p++) {
        iv->sum_angle_v[p] += pq_wrap_deg(w->ph[p].angle_v_deg - iv->angle_v_deg[p]);
        iv->sum_angle_i[p] += pq_wrap_deg(w->ph[p].angle_i_deg - iv->angle_i_deg[p]);
    }
    iv->sum_u2 += w->u2_pct;
    iv->sum_u0 += w->u0_pct;
    iv->sum_i2 += w->i2_pct;
    if (w->sequence == PQ3_SEQ_ABC)
        iv->abc_windows++;
    else if (w->sequence == PQ3_SEQ_ACB)
        iv->acb_windows++;
}

int pq3_interval_finish(struct pq3_interval *iv)
{
    if (iv->windows == 0)
        return -ENODATA;
    const double d = iv->duration_s;
    const unsigned np = iv->phases;
    double vsum = 0, isum = 0;

    iv->thd_v = iv->thd_i = 0;
    for (unsigned p = 0; p < np; p++) {
        pq_interval_finish(&iv->ph[p]);
        vsum += iv->ph[p].vrms_avg;
        isum += iv->ph[p].irms_avg;
        iv->thd_v = fmax(iv->thd_v, iv->ph[p].thd_v);
        iv->thd_i = fmax(iv->thd_i, iv->ph[p].thd_i);
    }
    for (unsigned p = 0; p < PQ3_PHASES; p++)
        iv->vll_avg[p] = d > 0 ? sqrt(iv->sum_vll[p] / d) : 0;
    iv->in_avg = d > 0 ? sqrt(iv->sum_in / d) : 0;
    if (iv->wiring == PQ3_3P3W)
        iv->voltage_avg = (iv->vll_avg[0] + iv->vll_avg[1] + iv->vll_avg[2]) / 3;
    else
        iv->voltage_avg = vsum / np;
    iv->current_avg = isum / np;
    iv->p_avg = d > 0 ? iv->sum_p / d : 0;
    iv->q_avg = d > 0 ? iv->sum_q / d : 0;
    iv->s_avg = d > 0 ? iv->sum_s / d : 0;
    iv->pf = iv->s_avg > 0 ? clamp_pf(iv->p_avg / iv->s_avg) : 0;

    const unsigned n = iv->fund_windows;
    if (n == 0) {
        iv->freq_avg = iv->u2_pct = iv->u0_pct = iv->i2_pct = 0;
        memset(iv->angle_v_deg, 0, sizeof(iv->angle_v_deg));
        memset(iv->angle_i_deg, 0, sizeof(iv->angle_i_deg));
        iv->sequence = PQ3_SEQ_UNKNOWN;
        return 0;
    }
    /* the per-phase intervals summed the same windows' frequencies */
    iv->freq_avg = iv->ph[0].freq_avg;
    for (unsigned p = 0; p < PQ3_PHASES; p++) {
        iv->angle_v_deg[p] = pq_wrap_deg(iv->angle_v_deg[p] + iv->sum_angle_v[p] / n);
        iv->angle_i_deg[p] = pq_wrap_deg(iv->angle_i_deg[p] + iv->sum_angle_i[p] / n);
    }
    iv->u2_pct = iv->sum_u2 / n;
    iv->u0_pct = iv->sum_u0 / n;
    iv->i2_pct = iv->sum_i2 / n;
    iv->sequence = iv->abc_windows == 0 && iv->acb_windows == 0 ? PQ3_SEQ_UNKNOWN
                   : iv->acb_windows > iv->abc_windows          ? PQ3_SEQ_ACB
                                                                : PQ3_SEQ_ABC;
    return 0;
}

void pq3_interval_phase(const struct pq3_interval *iv, unsigned k, struct pq3_phase *ret)
{
    struct pq3_phase ph;
    memset(&ph, 0, sizeof(ph));
    if (k < iv->phases && k < PQ3_PHASES) {
        const struct pq_interval *p = &iv->ph[k];
        ph.vrms = p->vrms_avg;
        ph.irms = p->irms_avg;
        ph.p_w = p->p_avg;
        ph.q_var = p->q_avg;
        ph.s_va = p->s_avg;
        ph.pf = p->pf;
        ph.phase_deg = p->phase_deg;
        ph.angle_v_deg = iv->angle_v_deg[k];
        ph.angle_i_deg = iv->angle_i_deg[k];
        ph.thd_v = p->thd_v;
        ph.thd_i = p->thd_i;
        memcpy(ph.harmonics_v, p->harmonics_v, sizeof(ph.harmonics_v));
        memcpy(ph.harmonics_i, p->harmonics_i, sizeof(ph.harmonics_i));
    }
    *ret = ph;
}

static void add_to_interval(const struct pq3_window *w, void *ctx)
{
    pq3_interval_add(ctx, w);
}

int pq3_analyze_capture(const struct pq3_config *cfg, const float *const channels[PQ3_CHANNELS],
                        size_t n, struct pq3_interval *ret)
{
    struct pq3_analyzer *a;
    struct pq3_interval iv;

    if (!cfg || !ret || !channels)
        return -EINVAL;
    unsigned mask = pq3_wired_channels(cfg);
    for (unsigned k = 0; k < PQ3_CHANNELS && n > 0; k++)
        if ((mask & PQ3_CH_BIT(k)) && !channels[k])
            return -EINVAL;
    int r = pq3_analyzer_new(cfg, &a);
    if (r)
        return r;
    pq3_interval_reset(&iv);
    pq3_analyzer_feed(a, channels, n, add_to_interval, &iv);
    pq3_analyzer_free(a);
    r = pq3_interval_finish(&iv);
    if (r)
        return r;
    *ret = iv;
    return 0;
}
