#include "pq_signal.h"

#include <math.h>
#include <string.h>

void sig_init(struct sig_gen *g, double freq, double phase_deg, bool harmonics)
{
    memset(g, 0, sizeof(*g));
    g->rate = RATE;
    g->freq = freq;
    g->v_rms = V_RMS;
    g->i_rms = I_RMS;
    g->phase_deg = phase_deg;
    g->noise_pct = NOISE_PCT;
    g->rng = 12345;
    if (harmonics) {
        g->vh[3] = g->ih[3] = 5;
        g->vh[5] = g->ih[5] = 3;
        g->vh[7] = g->ih[7] = 2;
    }
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Standard normal deviate (Marsaglia's polar method, both values used). */
static double gauss(struct sig_gen *g)
{
    if (g->have_spare) {
        g->have_spare = false;
        return g->spare;
    }
    double u, v, s;
    do {
        u = (double)(splitmix(&g->rng) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        v = (double)(splitmix(&g->rng) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    g->spare = v * m;
    g->have_spare = true;
    return u * m;
}

/* sum_h amp_h * sin(h * theta - phi) for the fundamental (h = 1, amp 1) and harmonics. */
static double wave(double c1, double s1, const double *pct, unsigned max_h, double cphi,
                   double sphi)
{
    double c_prev = 1, s_prev = 0, c = c1, s = s1;
    double x = s * cphi - c * sphi;
    for (unsigned h = 2; h <= max_h; h++) {
        double cn = 2 * c1 * c - c_prev, sn = 2 * c1 * s - s_prev;
        c_prev = c;
        s_prev = s;
        c = cn;
        s = sn;
        if (pct[h] != 0)
            x += pct[h] / 100 * (s * cphi - c * sphi);
    }
    return x;
}

void sig_generate(struct sig_gen *g, float *v, float *i, size_t n)
{
    if (g->max_h == 0) {
        g->max_h = 1;
        for (unsigned h = 2; h <= PQ_MAX_HARMONIC; h++)
            if (g->vh[h] != 0 || g->ih[h] != 0)
                g->max_h = h;
    }
    const double vpk = M_SQRT2 * g->v_rms, ipk = M_SQRT2 * g->i_rms;
    const double vsig = g->noise_pct / 100 * (g->v_fs > 0 ? g->v_fs : 1.25 * vpk);
    const double isig = g->noise_pct / 100 * 1.25 * ipk;
    const double phi = g->phase_deg * M_PI / 180, cphi = cos(phi), sphi = sin(phi);
    /* Phasors of the voltage and current fundamentals, rotated sample by sample from an exact
     * start. */
    const double cyc0 = fmod(g->freq / g->rate * (double)g->k, 1.0);
    const double step = 2 * M_PI * g->freq / g->rate, delay = 2 * M_PI * g->freq * g->i_delay_s;
    const double wc = cos(step), ws = sin(step), dc = cos(delay), ds = sin(delay);
    double zc = cos(2 * M_PI * cyc0), zs = sin(2 * M_PI * cyc0);
    for (size_t k = 0; k < n; k++, g->k++) {
        double ic = zc * dc + zs * ds, is = zs * dc - zc * ds; /* theta - delay */
        double x = vpk * wave(zc, zs, g->vh, g->max_h, 1, 0) + g->v_dc;
        double y = ipk * wave(ic, is, g->ih, g->max_h, cphi, sphi) + g->i_dc;
        if (vsig > 0) {
            x += vsig * gauss(g);
            y += isig * gauss(g);
        }
        v[k] = (float)x;
        i[k] = (float)y;
        double nc = zc * wc - zs * ws;
        zs = zs * wc + zc * ws;
        zc = nc;
    }
}

/* With a sensor delay, the truth is the undelayed current (what calibration restores). */
struct sig_truth sig_truth_of(const struct sig_gen *g)
{
    struct sig_truth t;
    double sv = 1, si = 1, svi = 1;
    double vsig = g->noise_pct / 100 * 1.25 * M_SQRT2 * g->v_rms;
    double isig = g->noise_pct / 100 * 1.25 * M_SQRT2 * g->i_rms;
    double hv = 0, hi = 0;
    for (unsigned h = 2; h <= PQ_MAX_HARMONIC; h++) {
        sv += g->vh[h] * g->vh[h] / 1e4;
        si += g->ih[h] * g->ih[h] / 1e4;
        svi += g->vh[h] * g->ih[h] / 1e4;
        hv += g->vh[h] * g->vh[h];
        hi += g->ih[h] * g->ih[h];
    }
    t.freq = g->freq;
    t.vrms = sqrt(g->v_rms * g->v_rms * sv + vsig * vsig);
    t.irms = sqrt(g->i_rms * g->i_rms * si + isig * isig);
    t.p = g->v_rms * g->i_rms * svi * cos(g->phase_deg * M_PI / 180);
    t.s = t.vrms * t.irms;
    t.pf = t.p / t.s;
    t.q = (g->phase_deg < 0 ? -1 : 1) * sqrt(t.s * t.s - t.p * t.p);
    t.phase_deg = g->phase_deg;
    t.thd_v = sqrt(hv);
    t.thd_i = sqrt(hi);
    return t;
}
