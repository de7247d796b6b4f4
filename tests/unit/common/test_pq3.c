/*
 * pq3 accuracy against synthetic three-phase signals with known truth
 * (pq3_signal.h computes it from the phasors), the limits:
 * per-phase Vrms and Irms +-0.1 % of reading, per-phase and total P +-0.2 %,
 * PF +-0.002, u2 +-0.15 % absolute (IEC 61000-4-30 Class A), neutral current
 * +-0.5 %, the phase sequence right, energy over a simulated hour within
 * +-0.2 % per phase and total.
 *
 * Systems, each at 45, 49.73, 50.27 and 55 Hz, sampled at 6.4 kHz with
 * Gaussian noise at 0.1 % of full scale and 3rd/5th/7th harmonics at 5/3/2 %
 * on every channel: balanced; unbalanced (phase b at 90 % voltage, phase c's
 * voltage 5 degrees off, phase c at 120 % current, different power factors);
 * a 2 % negative sequence; the order acb; each wired 3p4w and 3p3w (three
 * voltages and currents, and Aron: two of each). Checked per 10-cycle window
 * and per 1-s interval; the worst error of each quantity is printed at the
 * end as the accuracy table.
 */
#include <complex.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "pq.h"
#include "pq3.h"
#include "pq3_signal.h"

#define RATE      6400.0
#define CHUNK     640 /* samples per feed, as meterd's 100 ms blocks */
#define SECONDS   3
#define MAX_WIN   32

#define LIM_FREQ_HZ 0.01
#define LIM_RMS_PCT 0.1
#define LIM_P_PCT   0.2
#define LIM_PF      0.002
#define LIM_U2      0.15
#define LIM_IN_PCT  0.5
#define LIM_E_PCT   0.2
#define LIM_ANGLE   0.1 /* degrees: not in the issue, pinned so a broken angle cannot pass */
#define LIM_THD     5.0 /* % of reading: IEC 61000-4-7 Class I, as test_pq */

#ifndef PQ3_TEST_ENERGY_SECONDS
#define PQ3_TEST_ENERGY_SECONDS 3600
#endif

/* ---- the accuracy table: worst errors over every checked window and interval ---- */

enum q {
    Q_FREQ,
    Q_V,
    Q_I,
    Q_VLL,
    Q_P,
    Q_PTOT,
    Q_PF,
    Q_PFTOT,
    Q_Q,
    Q_ANGLE,
    Q_THD,
    Q_U2,
    Q_U0,
    Q_I2,
    Q_IN,
    Q_SEQ,
    Q_E_PHASE,
    Q_E_TOTAL,
    Q_COUNT
};

static const struct {
    const char *name, *unit;
    double limit;
} quantities[Q_COUNT] = {
    [Q_FREQ] = {"frequency", "Hz", LIM_FREQ_HZ},
    [Q_V] = {"V per phase", "% of reading", LIM_RMS_PCT},
    [Q_I] = {"I per phase", "% of reading", LIM_RMS_PCT},
    [Q_VLL] = {"V line-to-line", "% of reading", LIM_RMS_PCT},
    [Q_P] = {"P per phase", "% of reading", LIM_P_PCT},
    [Q_PTOT] = {"P total", "% of reading", LIM_P_PCT},
    [Q_PF] = {"PF per phase", "absolute", LIM_PF},
    [Q_PFTOT] = {"PF total", "absolute", LIM_PF},
    [Q_Q] = {"Q per phase", "% of S", LIM_P_PCT},
    [Q_ANGLE] = {"angles (V-I, V vs Va)", "degrees", LIM_ANGLE},
    [Q_THD] = {"THD V and I", "% of reading", LIM_THD},
    [Q_U2] = {"u2 = V2/V1", "% absolute", LIM_U2},
    [Q_U0] = {"u0 = V0/V1 (3p4w)", "% absolute", LIM_U2},
    [Q_I2] = {"i2 = I2/I1", "% absolute", 0.5},
    [Q_IN] = {"neutral current (3p4w)", "% of reading", LIM_IN_PCT},
    [Q_SEQ] = {"phase sequence", "wrong verdicts", 0},
    [Q_E_PHASE] = {"energy per phase, 1 h", "% of reading", LIM_E_PCT},
    [Q_E_TOTAL] = {"energy total, 1 h", "% of reading", LIM_E_PCT},
};

static double worst[Q_COUNT];
static unsigned checked[Q_COUNT];

/* Records an error and fails past the limit. */
static void check(enum q q, const char *what, double got, double want, double err)
{
    checked[q]++;
    if (fabs(err) > worst[q])
        worst[q] = fabs(err);
    if (fabs(err) > quantities[q].limit)
        fail_msg("%s: %s %.6f, expected %.6f (error %.5f %s, limit %g)", what, quantities[q].name,
                 got, want, err, quantities[q].unit, quantities[q].limit);
}

static double rel_pct(double got, double want)
{
    return (got - want) / fabs(want) * 100;
}

static double wrap(double d)
{
    d = fmod(d, 360.0);
    return d > 180 ? d - 360 : d <= -180 ? d + 360 : d;
}

/* ---- the systems ---- */

enum system { SYS_BALANCED, SYS_UNBALANCED, SYS_NEGSEQ, SYS_ACB, SYS_COUNT };
static const char *const system_names[SYS_COUNT] = {"balanced", "unbalanced", "2 % negative seq",
                                                    "acb unbalanced"};

static void system_spec(enum system sys, enum pq3_wiring wiring, unsigned mask, double freq,
                        struct sig3_spec *s)
{
    sig3_spec_balanced(s, freq, wiring, 36.87);
    s->mask = mask;
    s->h3 = 5;
    s->h5 = 3;
    s->h7 = 2;
    switch (sys) {
    case SYS_BALANCED:
        break;
    case SYS_NEGSEQ:
        s->neg_seq_pct = 2;
        break;
    case SYS_ACB:
        s->acb = true;
        /* fall through */
    case SYS_UNBALANCED:
        s->v[1] = 0.9 * 230;
        s->v_angle_deg[2] = 125;
        s->i[2] = 12;
        s->i_lag_deg[0] = 25;
        s->i_lag_deg[1] = 45;
        s->i_lag_deg[2] = -15;
        break;
    default:
        break;
    }
}

struct run {
    struct pq3_window w[MAX_WIN];
    unsigned n;
    uint64_t next_first;
    bool tiling_broken;
    struct pq3_interval iv, done[SECONDS + 1];
    unsigned ndone;
};

static void on_window(const struct pq3_window *w, void *ctx)
{
    struct run *r = ctx;
    if (w->first_sample != r->next_first)
        r->tiling_broken = true;
    r->next_first = w->first_sample + w->samples;
    if (r->n < MAX_WIN)
        r->w[r->n++] = *w;
    pq3_interval_add(&r->iv, w);
    if (r->iv.duration_s >= 1.0) {
        assert_int_equal(pq3_interval_finish(&r->iv), 0);
        if (r->ndone < SECONDS + 1)
            r->done[r->ndone++] = r->iv;
        pq3_interval_reset(&r->iv);
    }
}

static float bufs[PQ3_CHANNELS][CHUNK];
static float *const chans[PQ3_CHANNELS] = {bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5]};

static struct pq3_analyzer *analyzer3(enum pq3_wiring wiring, unsigned mask, const double *cal)
{
    struct pq3_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .wiring = wiring,
                             .channel_mask = mask};
    if (cal)
        memcpy(cfg.phase_cal_deg, cal, sizeof(cfg.phase_cal_deg));
    struct pq3_analyzer *a = NULL;
    assert_int_equal(pq3_analyzer_new(&cfg, &a), 0);
    return a;
}

static void feed(struct pq3_analyzer *a, struct sig3 *g, double seconds, struct run *r)
{
    const size_t total = (size_t)llround(seconds * g->rate);
    for (size_t off = 0; off < total; off += CHUNK) {
        size_t n = total - off < CHUNK ? total - off : CHUNK;
        sig3_generate(g, chans, n);
        pq3_analyzer_feed(a, (const float *const *)chans, n, on_window, r);
    }
}

/* One phase's values against the truth. */
static void check_phase(const char *what, const struct sig3_truth *t, unsigned p,
                        const struct pq3_phase *ph)
{
    check(Q_V, what, ph->vrms, t->vrms[p], rel_pct(ph->vrms, t->vrms[p]));
    check(Q_I, what, ph->irms, t->irms[p], rel_pct(ph->irms, t->irms[p]));
    check(Q_P, what, ph->p_w, t->p[p], rel_pct(ph->p_w, t->p[p]));
    check(Q_PF, what, ph->pf, t->pf[p], ph->pf - t->pf[p]);
    check(Q_Q, what, ph->q_var, t->q[p], (ph->q_var - t->q[p]) / t->s[p] * 100);
    check(Q_ANGLE, what, ph->phase_deg, t->phase_deg[p], wrap(ph->phase_deg - t->phase_deg[p]));
    check(Q_ANGLE, what, ph->angle_v_deg, t->angle_v[p], wrap(ph->angle_v_deg - t->angle_v[p]));
    const double got[2] = {ph->thd_v, ph->thd_i}, want[2] = {t->thd_v[p], t->thd_i[p]};
    for (int k = 0; k < 2; k++) {
        if (want[k] >= 1)
            check(Q_THD, what, got[k], want[k], rel_pct(got[k], want[k]));
        else if (want[k] == 0 && got[k] > 0.1)
            fail_msg("%s: THD %.4f %% of a clean sine", what, got[k]);
    }
}

/* The neutral: % of reading, or of the phase current when it carries less than a tenth of it. */
static double neutral_err(double got, const struct sig3_truth *t)
{
    double ref = fmax(t->in_rms, 0.1 * (t->irms[0] + t->irms[1] + t->irms[2]) / 3);
    return (got - t->in_rms) / ref * 100;
}

static void check_common(const char *what, const struct sig3_truth *t, enum pq3_wiring wiring,
                         double freq, double p, double pf, const double *vll, double in,
                         double u2, double u0, double i2, enum pq3_sequence seq)
{
    check(Q_FREQ, what, freq, t->freq, freq - t->freq);
    check(Q_PTOT, what, p, t->p_total, rel_pct(p, t->p_total));
    check(Q_PFTOT, what, pf, t->pf_total, pf - t->pf_total);
    if (wiring == PQ3_1P2W)
        return;
    for (unsigned k = 0; k < 3; k++)
        check(Q_VLL, what, vll[k], t->vll[k], rel_pct(vll[k], t->vll[k]));
    check(Q_U2, what, u2, t->u2_pct, u2 - t->u2_pct);
    check(Q_I2, what, i2, t->i2_pct, i2 - t->i2_pct);
    if (wiring == PQ3_3P4W) {
        check(Q_U0, what, u0, t->u0_pct, u0 - t->u0_pct);
        check(Q_IN, what, in, t->in_rms, neutral_err(in, t));
    } else if (u0 != 0 || in != 0) {
        fail_msg("%s: 3p3w reports u0 %g, neutral %g", what, u0, in);
    }
    check(Q_SEQ, what, seq, t->sequence, seq == t->sequence ? 0 : 1);
}

static void check_run(const struct run *r, const struct sig3 *g, const char *name)
{
    struct sig3_truth t = sig3_truth_of(g);
    char what[200];
    const unsigned np = g->wiring == PQ3_1P2W ? 1 : 3;

    if (r->tiling_broken)
        fail_msg("%s: windows do not tile the stream", name);
    if (r->n < 12)
        fail_msg("%s: only %u windows", name, r->n);
    for (unsigned k = 0; k < r->n; k++) {
        const struct pq3_window *w = &r->w[k];
        snprintf(what, sizeof(what), "%s, window %u", name, k);
        assert_int_equal(w->phases, np);
        assert_true(w->fundamental);
        for (unsigned p = 0; p < np; p++) {
            snprintf(what, sizeof(what), "%s, window %u, phase %c", name, k, 'a' + p);
            check_phase(what, &t, p, &w->ph[p]);
        }
        snprintf(what, sizeof(what), "%s, window %u", name, k);
        check_common(what, &t, g->wiring, w->freq_hz, w->p_w, w->pf, w->vll_rms, w->in_rms,
                     w->u2_pct, w->u0_pct, w->i2_pct, w->sequence);
    }
    if (r->ndone < SECONDS - 1)
        fail_msg("%s: %u intervals", name, r->ndone);
    for (unsigned k = 0; k < r->ndone; k++) {
        const struct pq3_interval *iv = &r->done[k];
        for (unsigned p = 0; p < np; p++) {
            struct pq3_phase ph;
            pq3_interval_phase(iv, p, &ph);
            snprintf(what, sizeof(what), "%s, interval %u, phase %c", name, k, 'a' + p);
            check_phase(what, &t, p, &ph);
            double want_wh = t.p[p] * iv->duration_s / 3600;
            if (want_wh > 0 && fabs(rel_pct(iv->ph[p].import_wh, want_wh)) > LIM_E_PCT)
                fail_msg("%s: imported %.6f Wh, expected %.6f", what, iv->ph[p].import_wh,
                         want_wh);
        }
        snprintf(what, sizeof(what), "%s, interval %u", name, k);
        check_common(what, &t, g->wiring, iv->freq_avg, iv->p_avg, iv->pf, iv->vll_avg,
                     iv->in_avg, iv->u2_pct, iv->u0_pct, iv->i2_pct, iv->sequence);
        if (iv->voltage_min > iv->voltage_avg + 1e-9 || iv->voltage_max < iv->voltage_avg - 1e-9 ||
            iv->p_min > iv->p_avg || iv->p_max < iv->p_avg || iv->current_min > iv->current_avg ||
            iv->current_max < iv->current_avg)
            fail_msg("%s: min/avg/max out of order", what);
        double net_wh = iv->import_wh - iv->export_wh, want_wh = t.p_total * iv->duration_s / 3600;
        if (fabs(rel_pct(net_wh, want_wh)) > LIM_E_PCT)
            fail_msg("%s: net %.6f Wh, expected %.6f", what, net_wh, want_wh);
    }
}

struct wiring_case {
    const char *name;
    enum pq3_wiring wiring;
    unsigned mask;
};

static const struct wiring_case wirings[] = {
    {"3p4w", PQ3_3P4W, 0},
    {"3p3w", PQ3_3P3W, 0},
    {"3p3w Aron (vab, vbc, ia, ic)", PQ3_3P3W, 0x03u | 0x08u | 0x20u},
    {"3p3w Aron (vbc, vca, ib, ic)", PQ3_3P3W, 0x06u | 0x10u | 0x20u},
};

static const double freqs[] = {45, 49.73, 50.27, 55};

static void run_case(enum system sys, const struct wiring_case *wc, double freq)
{
    struct sig3_spec spec;
    struct sig3 g;
    static struct run r;
    char name[160];

    system_spec(sys, wc->wiring, wc->mask, freq, &spec);
    sig3_init(&g, &spec);
    memset(&r, 0, sizeof(r));
    struct pq3_analyzer *a = analyzer3(wc->wiring, wc->mask, NULL);
    feed(a, &g, SECONDS, &r);
    pq3_analyzer_free(a);
    snprintf(name, sizeof(name), "%s, %s, %g Hz", system_names[sys], wc->name, freq);
    check_run(&r, &g, name);
}

static void run_system(enum system sys)
{
    for (size_t w = 0; w < sizeof(wirings) / sizeof(wirings[0]); w++)
        for (size_t f = 0; f < sizeof(freqs) / sizeof(freqs[0]); f++)
            run_case(sys, &wirings[w], freqs[f]);
}

static void test_pq3_balanced_system_meets_the_limits(void **state)
{
    (void)state;
    run_system(SYS_BALANCED);
}

static void test_pq3_unbalanced_system_meets_the_limits(void **state)
{
    (void)state;
    run_system(SYS_UNBALANCED);
}

static void test_pq3_negative_sequence_reads_u2_within_class_a(void **state)
{
    (void)state;
    run_system(SYS_NEGSEQ);
    /* and the truth it was held to is the 2 % put in (so the check is not circular) */
    struct sig3_spec spec;
    struct sig3 g;
    system_spec(SYS_NEGSEQ, PQ3_3P4W, 0, 50, &spec);
    sig3_init(&g, &spec);
    struct sig3_truth t = sig3_truth_of(&g);
    assert_true(fabs(t.u2_pct - 2.0) < 1e-9);
}

static void test_pq3_swapped_phases_read_acb(void **state)
{
    (void)state;
    run_system(SYS_ACB);
}

static void test_pq3_60hz_mains_uses_12_cycle_windows(void **state)
{
    (void)state;
    struct sig3_spec spec;
    struct sig3 g;
    static struct run r;
    struct pq3_config cfg = {.rate_hz = RATE, .nominal_hz = 60, .wiring = PQ3_3P4W};
    struct pq3_analyzer *a = NULL;

    system_spec(SYS_UNBALANCED, PQ3_3P4W, 0, 59.9, &spec);
    sig3_init(&g, &spec);
    memset(&r, 0, sizeof(r));
    assert_int_equal(pq3_analyzer_new(&cfg, &a), 0);
    feed(a, &g, SECONDS, &r);
    pq3_analyzer_free(a);
    check_run(&r, &g, "unbalanced, 3p4w, 59.9 Hz on 60 Hz mains");
    for (unsigned k = 1; k < r.n; k++)
        if (fabs(r.w[k].duration_s - 12 / 59.9) > 1e-4)
            fail_msg("window %u lasts %.6f s, expected 12 cycles", k, r.w[k].duration_s);
}

/* ---- the same analysis as pq.h ---- */

static struct pq_window single[MAX_WIN];
static unsigned nsingle;

static void collect(const struct pq_window *w, void *ctx)
{
    (void)ctx;
    if (nsingle < MAX_WIN)
        single[nsingle++] = *w;
}

static void assert_close(const char *what, double got, double want, double tol)
{
    if (fabs(got - want) > tol * fmax(1.0, fabs(want)))
        fail_msg("%s: pq3 %.12g, pq %.12g", what, got, want);
}

/* pq3's phase p of r against pq's windows of the same channels, value for value. */
static void assert_same_as_pq(const struct run *r, unsigned p)
{
    assert_int_equal(r->n, nsingle);
    for (unsigned k = 0; k < r->n; k++) {
        const struct pq3_phase *ph = &r->w[k].ph[p];
        const struct pq_window *w = &single[k];
        assert_int_equal(r->w[k].first_sample, w->first_sample);
        assert_int_equal(r->w[k].samples, w->samples);
        assert_close("duration", r->w[k].duration_s, w->duration_s, 1e-12);
        assert_close("frequency", r->w[k].freq_hz, w->freq_hz, 1e-12);
        assert_close("Vrms", ph->vrms, w->vrms, 1e-9);
        assert_close("Irms", ph->irms, w->irms, 1e-9);
        assert_close("P", ph->p_w, w->p_w, 1e-9);
        assert_close("Q", ph->q_var, w->q_var, 1e-6);
        assert_close("angle", ph->phase_deg, w->phase_deg, 1e-6);
        assert_close("THD V", ph->thd_v, w->thd_v, 1e-6);
        for (unsigned h = 1; h <= PQ_MAX_HARMONIC; h++)
            assert_close("harmonic I", ph->harmonics_i[h], w->harmonics_i[h], 1e-6);
    }
}

static void test_pq3_single_phase_and_phase_a_equal_pq(void **state)
{
    (void)state;
    static float b[PQ3_CHANNELS][3 * 6400];
    float *const ch[PQ3_CHANNELS] = {b[0], b[1], b[2], b[3], b[4], b[5]};
    static struct run r;
    const size_t n = 3 * 6400;
    const double cal[PQ3_CHANNELS] = {0, 0, 0, 1.5, 0, 0};

    for (int wiring = PQ3_1P2W; wiring <= PQ3_3P4W; wiring++) {
        struct sig3_spec spec;
        struct sig3 g;
        system_spec(SYS_UNBALANCED, (enum pq3_wiring)wiring, 0, 49.73, &spec);
        sig3_init(&g, &spec);
        sig3_generate(&g, ch, n);

        memset(&r, 0, sizeof(r));
        struct pq3_analyzer *a = analyzer3((enum pq3_wiring)wiring, 0, cal);
        pq3_analyzer_feed(a, (const float *const *)ch, n, on_window, &r);
        pq3_analyzer_free(a);

        struct pq_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .phase_cal_deg = 1.5};
        struct pq_analyzer *s = NULL;
        assert_int_equal(pq_analyzer_new(&cfg, &s), 0);
        nsingle = 0;
        pq_analyzer_feed(s, b[0], b[3], n, collect, NULL);
        pq_analyzer_free(s);
        assert_same_as_pq(&r, 0);
    }
}

/* ---- calibration of a sequential ADC ---- */

/*
 * An MCP3208 read channel after channel: channel k is sampled k conversion
 * times after channel 0 (8 conversions per sample instant at 6.4 kHz), a lead
 * of k * 0.35 degrees at 50 Hz; uncorrected, the V-I angle of phase a is off
 * by a degree and P at PF 0.8 by about 1.3 %. pq3's per-channel phase
 * calibration, -k * 0.35 degrees, takes it out.
 */
static void test_pq3_phase_cal_corrects_a_sequential_adc(void **state)
{
    (void)state;
    const double conv_s = 1.0 / (RATE * 8);
    double cal[PQ3_CHANNELS];
    for (int with_cal = 0; with_cal <= 1; with_cal++) {
        for (size_t w = 0; w < 2; w++) {
            struct sig3_spec spec;
            struct sig3 g;
            static struct run r;
            system_spec(SYS_UNBALANCED, wirings[w].wiring, 0, 49.73, &spec);
            sig3_init(&g, &spec);
            for (unsigned k = 0; k < PQ3_CHANNELS; k++) {
                g.lead_s[k] = k * conv_s;
                cal[k] = -(double)k * conv_s * 360 * 50;
            }
            memset(&r, 0, sizeof(r));
            struct pq3_analyzer *a = analyzer3(wirings[w].wiring, 0, with_cal ? cal : NULL);
            feed(a, &g, SECONDS, &r);
            pq3_analyzer_free(a);
            struct sig3_truth t = sig3_truth_of(&g);
            struct pq3_phase ph;
            pq3_interval_phase(&r.done[0], 0, &ph);
            double err = rel_pct(ph.p_w, t.p[0]);
            print_message("%s, %s phase calibration: phase a P off by %+.4f %%\n", wirings[w].name,
                          with_cal ? "with" : "without", err);
            if (with_cal)
                check_run(&r, &g, wirings[w].name);
            else
                assert_true(fabs(err) > 2 * LIM_P_PCT);
        }
    }
}

/* ---- energy ---- */

struct energy {
    double phase_wh[3], import_wh, export_wh, seconds;
    uint64_t next_first;
    bool tiling_broken;
};

static void on_window_energy(const struct pq3_window *w, void *ctx)
{
    struct energy *e = ctx;
    struct pq3_interval iv;
    if (w->first_sample != e->next_first)
        e->tiling_broken = true;
    e->next_first = w->first_sample + w->samples;
    /* through an interval of its own, as meterd integrates it */
    pq3_interval_reset(&iv);
    pq3_interval_add(&iv, w);
    assert_int_equal(pq3_interval_finish(&iv), 0);
    for (unsigned p = 0; p < 3; p++)
        e->phase_wh[p] += iv.ph[p].import_wh - iv.ph[p].export_wh;
    e->import_wh += iv.import_wh;
    e->export_wh += iv.export_wh;
    e->seconds += iv.duration_s;
}

static void energy_case(enum system sys, const struct wiring_case *wc, double freq)
{
    static float b[PQ3_CHANNELS][CHUNK * 10];
    float *const ch[PQ3_CHANNELS] = {b[0], b[1], b[2], b[3], b[4], b[5]};
    struct sig3_spec spec;
    struct sig3 g;
    struct energy e = {0};
    char what[160];

    system_spec(sys, wc->wiring, wc->mask, freq, &spec);
    sig3_init(&g, &spec);
    struct sig3_truth t = sig3_truth_of(&g);
    struct pq3_analyzer *a = analyzer3(wc->wiring, wc->mask, NULL);
    const double span = PQ3_TEST_ENERGY_SECONDS;
    const size_t total = (size_t)(span * RATE);
    for (size_t off = 0; off < total; off += CHUNK * 10) {
        sig3_generate(&g, ch, CHUNK * 10);
        pq3_analyzer_feed(a, (const float *const *)ch, CHUNK * 10, on_window_energy, &e);
    }
    pq3_analyzer_free(a);
    assert_false(e.tiling_broken);
    assert_true(e.seconds <= span && e.seconds > span - 0.25);
    snprintf(what, sizeof(what), "%s, %s, %g Hz, %.0f s", system_names[sys], wc->name, freq, span);
    for (unsigned p = 0; p < 3; p++) {
        double want = t.p[p] * span / 3600;
        print_message("%s: phase %c %.4f Wh vs %.4f Wh = %+.5f %%\n", what, 'a' + p,
                      e.phase_wh[p], want, rel_pct(e.phase_wh[p], want));
        check(Q_E_PHASE, what, e.phase_wh[p], want, rel_pct(e.phase_wh[p], want));
    }
    double want = t.p_total * span / 3600, net = e.import_wh - e.export_wh;
    print_message("%s: total %.4f Wh vs %.4f Wh = %+.5f %%\n", what, net, want,
                  rel_pct(net, want));
    check(Q_E_TOTAL, what, net, want, rel_pct(net, want));
}

static void test_pq3_energy_over_an_hour_per_phase_and_total(void **state)
{
    (void)state;
    energy_case(SYS_UNBALANCED, &wirings[0], 49.73);
    energy_case(SYS_UNBALANCED, &wirings[2], 50.27);
}

/* ---- edge cases ---- */

static void test_pq3_export_is_negative_power_and_export_energy(void **state)
{
    (void)state;
    struct sig3_spec spec;
    struct sig3 g;
    static struct run r;
    sig3_spec_balanced(&spec, 50, PQ3_3P4W, 180 - 30); /* generating: current opposite */
    sig3_init(&g, &spec);
    memset(&r, 0, sizeof(r));
    struct pq3_analyzer *a = analyzer3(PQ3_3P4W, 0, NULL);
    feed(a, &g, SECONDS, &r);
    pq3_analyzer_free(a);
    check_run(&r, &g, "export");
    assert_true(r.done[0].p_avg < 0);
    assert_true(r.done[0].import_wh == 0 && r.done[0].export_wh > 0);
    assert_true(r.done[0].ph[1].export_wh > 0);
}

static void test_pq3_without_voltage_reports_no_fundamental_and_finite_values(void **state)
{
    (void)state;
    static float z[6400], cur[6400];
    for (size_t k = 0; k < 6400; k++)
        cur[k] = (float)(14.1 * sin(2 * M_PI * 50 * k / RATE));
    const float *const ch[PQ3_CHANNELS] = {z, z, z, cur, cur, cur};
    struct pq3_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .wiring = PQ3_3P4W};
    struct pq3_interval iv;
    assert_int_equal(pq3_analyze_capture(&cfg, ch, 6400, &iv), 0);
    assert_true(iv.freq_avg == 0 && iv.sequence == PQ3_SEQ_UNKNOWN && iv.u2_pct == 0);
    assert_true(iv.voltage_avg == 0 && fabs(iv.current_avg - 14.1 / M_SQRT2) < 0.01);
    assert_true(fabs(iv.in_avg - 3 * 14.1 / M_SQRT2) < 0.05);
    assert_true(iv.p_avg == 0 && isfinite(iv.pf));
}

static void test_pq3_capture_equals_feeding_and_needs_a_window(void **state)
{
    (void)state;
    static float b[PQ3_CHANNELS][2 * 6400];
    float *const ch[PQ3_CHANNELS] = {b[0], b[1], b[2], b[3], b[4], b[5]};
    struct sig3_spec spec;
    struct sig3 g;
    static struct run r;
    struct pq3_interval iv;
    struct pq3_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .wiring = PQ3_3P4W};

    system_spec(SYS_UNBALANCED, PQ3_3P4W, 0, 50, &spec);
    sig3_init(&g, &spec);
    sig3_generate(&g, ch, 2 * 6400);
    assert_int_equal(pq3_analyze_capture(&cfg, (const float *const *)ch, 2 * 6400, &iv), 0);
    memset(&r, 0, sizeof(r));
    struct pq3_analyzer *a = analyzer3(PQ3_3P4W, 0, NULL);
    pq3_analyzer_feed(a, (const float *const *)ch, 2 * 6400, on_window, &r);
    pq3_analyzer_free(a);
    uint32_t fed = r.iv.windows;
    double fed_wh = r.iv.ph[2].import_wh;
    for (unsigned k = 0; k < r.ndone; k++) {
        fed += r.done[k].windows;
        fed_wh += r.done[k].ph[2].import_wh;
    }
    assert_int_equal(iv.windows, fed);
    assert_true(fabs(iv.ph[2].import_wh - fed_wh) < 1e-12);
    assert_true(iv.windows > 5 && iv.sequence == PQ3_SEQ_ABC);

    /* too short for one window; a wired channel missing; a bad config */
    assert_int_equal(pq3_analyze_capture(&cfg, (const float *const *)ch, 1000, &iv), -ENODATA);
    const float *missing[PQ3_CHANNELS] = {b[0], b[1], NULL, b[3], b[4], b[5]};
    assert_int_equal(pq3_analyze_capture(&cfg, missing, 6400, &iv), -EINVAL);
    cfg.wiring = PQ3_3P3W;
    cfg.channel_mask = 0x3bu; /* vab, vbc, ia, ib, ic: vca not wired, so NULL is fine */
    assert_int_equal(pq3_analyze_capture(&cfg, missing, 2 * 6400, &iv), 0);
}

static void test_pq3_rejects_bad_config(void **state)
{
    (void)state;
    struct pq3_analyzer *a = NULL;
    struct pq3_config ok = {.rate_hz = RATE, .nominal_hz = 50, .wiring = PQ3_3P4W};
    struct pq3_config c = ok;
    assert_int_equal(pq3_analyzer_new(&c, &a), 0);
    pq3_analyzer_free(a);
    pq3_analyzer_free(NULL);
    c.wiring = (enum pq3_wiring)7;
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.channel_mask = 0x1fu; /* 3p4w needs every channel */
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.wiring = PQ3_3P3W;
    c.channel_mask = 0x01u | 0x38u; /* one voltage */
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c.channel_mask = 0x07u | 0x08u; /* one current */
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c.channel_mask = 0x40u | 0x3fu; /* a seventh channel */
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.wiring = PQ3_1P2W;
    c.channel_mask = 0x03u; /* 1p2w is channels 0 and 3 */
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.phase_cal_deg[4] = 46;
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.phase_cal_deg[2] = NAN;
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.rate_hz = 999;
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);
    c = ok;
    c.nominal_hz = 80;
    assert_int_equal(pq3_analyzer_new(&c, &a), -EINVAL);

    enum pq3_wiring w;
    assert_int_equal(pq3_wiring_parse("3p3w", &w), 0);
    assert_int_equal(w, PQ3_3P3W);
    assert_int_equal(pq3_wiring_parse("3P4W", &w), -EINVAL);
    assert_int_equal(pq3_wiring_parse(NULL, &w), -EINVAL);
    assert_string_equal(pq3_wiring_name(PQ3_3P4W), "3p4w");
    assert_string_equal(pq3_channel_name(PQ3_3P3W, PQ3_CH_VC), "vca");
    assert_null(pq3_channel_name(PQ3_1P2W, PQ3_CH_VB));
}

static void test_pq3_interval_aggregates_of_the_three_phases(void **state)
{
    (void)state;
    struct pq3_window w;
    struct pq3_interval iv;
    pq3_interval_reset(&iv);
    assert_int_equal(pq3_interval_finish(&iv), -ENODATA);
    for (int k = 0; k < 2; k++) {
        memset(&w, 0, sizeof(w));
        w.wiring = PQ3_3P4W;
        w.phases = 3;
        w.duration_s = 0.2;
        w.freq_hz = 50;
        w.fundamental = true;
        w.sequence = PQ3_SEQ_ABC;
        for (unsigned p = 0; p < 3; p++) {
            w.ph[p].vrms = 220 + 10 * p + k * 3; /* mean 230 + 3k */
            w.ph[p].irms = 10 + p;               /* mean 11 */
            w.ph[p].p_w = 1000.0 * (p + 1) * (k ? -1 : 1);
            w.ph[p].s_va = 3000;
            w.ph[p].angle_v_deg = p == 0 ? 0 : p == 1 ? -120 : 179 - 358 * k; /* near +-180 */
            w.p_w += w.ph[p].p_w;
            w.s_va += 3000;
        }
        w.u2_pct = 1 + k;
        pq3_interval_add(&iv, &w);
    }
    assert_int_equal(pq3_interval_finish(&iv), 0);
    assert_true(fabs(iv.voltage_min - 230) < 1e-9 && fabs(iv.voltage_max - 233) < 1e-9);
    assert_true(iv.voltage_avg > 230 && iv.voltage_avg < 233);
    assert_true(fabs(iv.current_avg - 11) < 1e-9);
    assert_true(iv.p_min == -6000 && iv.p_max == 6000 && fabs(iv.p_avg) < 1e-9);
    assert_true(fabs(iv.import_wh - 6000 * 0.2 / 3600) < 1e-12);
    assert_true(fabs(iv.export_wh - 6000 * 0.2 / 3600) < 1e-12);
    assert_true(fabs(iv.ph[2].import_wh - 3000 * 0.2 / 3600) < 1e-12);
    assert_true(fabs(iv.u2_pct - 1.5) < 1e-12);
    assert_true(fabs(fabs(iv.angle_v_deg[2]) - 180) < 1e-9); /* 179 and -179 average to 180 */
    assert_int_equal(iv.sequence, PQ3_SEQ_ABC);
}

static void test_pq3_feeding_allocates_nothing(void **state)
{
    (void)state;
    const double cal[PQ3_CHANNELS] = {0, -0.35, -0.7, -1.05, -1.4, -1.75};
    for (size_t w = 0; w < sizeof(wirings) / sizeof(wirings[0]); w++) {
        struct sig3_spec spec;
        struct sig3 g;
        static struct run r;
        system_spec(SYS_UNBALANCED, wirings[w].wiring, wirings[w].mask, 50, &spec);
        sig3_init(&g, &spec);
        memset(&r, 0, sizeof(r));
        struct pq3_analyzer *a = analyzer3(wirings[w].wiring, wirings[w].mask, cal);
        uint64_t before = alloc_count();
        feed(a, &g, 2, &r);
        pq3_analyzer_reset(a);
        feed(a, &g, 1, &r);
        assert_int_equal(alloc_count() - before, 0);
        assert_true(r.n > 10);
        pq3_analyzer_free(a);
    }
}

/* ---- the accuracy table ---- */

static int print_accuracy_table(void **state)
{
    (void)state;
    print_message("pq3 accuracy: worst error over every checked window, interval and hour\n");
    print_message("  %-24s %12s  %-16s %8s %7s\n", "quantity", "worst", "unit", "limit", "checks");
    for (unsigned q = 0; q < Q_COUNT; q++)
        print_message("  %-24s %12.5f  %-16s %8g %7u\n", quantities[q].name, worst[q],
                      quantities[q].unit, quantities[q].limit, checked[q]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pq3_balanced_system_meets_the_limits),
        cmocka_unit_test(test_pq3_unbalanced_system_meets_the_limits),
        cmocka_unit_test(test_pq3_negative_sequence_reads_u2_within_class_a),
        cmocka_unit_test(test_pq3_swapped_phases_read_acb),
        cmocka_unit_test(test_pq3_60hz_mains_uses_12_cycle_windows),
        cmocka_unit_test(test_pq3_single_phase_and_phase_a_equal_pq),
        cmocka_unit_test(test_pq3_phase_cal_corrects_a_sequential_adc),
        cmocka_unit_test(test_pq3_energy_over_an_hour_per_phase_and_total),
        cmocka_unit_test(test_pq3_export_is_negative_power_and_export_energy),
        cmocka_unit_test(test_pq3_without_voltage_reports_no_fundamental_and_finite_values),
        cmocka_unit_test(test_pq3_capture_equals_feeding_and_needs_a_window),
        cmocka_unit_test(test_pq3_rejects_bad_config),
        cmocka_unit_test(test_pq3_interval_aggregates_of_the_three_phases),
        cmocka_unit_test(test_pq3_feeding_allocates_nothing),
    };
    return cmocka_run_group_tests_name("pq3", tests, NULL, print_accuracy_table);
}
