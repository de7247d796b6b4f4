#include "pq3_signal.h"

#include <math.h>
#include <string.h>

#define RATE_DEFAULT 6400.0
#define NOISE_PCT    0.1

static double complex polar_deg(double mag, double deg)
{
    return mag * cexp(I * deg * M_PI / 180.0);
}

static double deg_of(double complex z)
{
    return carg(z) * 180.0 / M_PI;
}

static double wrap(double d)
{
    d = fmod(d, 360.0);
    return d > 180 ? d - 360 : d <= -180 ? d + 360 : d;
}

void sig3_spec_balanced(struct sig3_spec *s, double freq, enum pq3_wiring w, double lag_deg)
{
    memset(s, 0, sizeof(*s));
    s->freq = freq;
    s->wiring = w;
    s->mask = 0;
    for (unsigned p = 0; p < 3; p++) {
        s->v[p] = 230;
        s->v_angle_deg[p] = p == 0 ? 0 : p == 1 ? -120 : 120;
        s->i[p] = 10;
        s->i_lag_deg[p] = lag_deg;
    }
}

void sig3_init(struct sig3 *g, const struct sig3_spec *s)
{
    memset(g, 0, sizeof(*g));
    g->rate = RATE_DEFAULT;
    g->freq = s->freq;
    g->wiring = s->wiring;
    struct pq3_config c = {.wiring = s->wiring, .channel_mask = s->mask};
    g->mask = pq3_wired_channels(&c);
    g->noise_pct = NOISE_PCT;
    g->v_nominal = 230;
    g->i_nominal = 10;
    g->rng = 12345;

    const double complex al = cexp(I * 2.0 * M_PI / 3.0);
    const double complex neg[3] = {1, al, al * al};
    const double pct[SIG3_MAX_H + 1] = {[3] = s->h3, [5] = s->h5, [7] = s->h7};
    double complex v1[3];
    for (unsigned p = 0; p < 3; p++)
        v1[p] = polar_deg(s->v[p], s->v_angle_deg[p]) + s->neg_seq_pct / 100 * s->v[0] * neg[p];
    for (unsigned p = 0; p < 3; p++) {
        const double mag = cabs(v1[p]), ang = deg_of(v1[p]);
        g->src[p][1] = v1[p];
        g->src[3 + p][1] = polar_deg(s->i[p], ang - s->i_lag_deg[p]);
        for (unsigned h = 2; h <= SIG3_MAX_H; h++) {
            g->src[p][h] = polar_deg(pct[h] / 100 * mag, h * ang);
            g->src[3 + p][h] = polar_deg(pct[h] / 100 * s->i[p], h * ang - s->i_lag_deg[p]);
        }
    }
    if (s->wiring == PQ3_3P3W) /* no neutral: the currents sum to zero */
        for (unsigned h = 1; h <= SIG3_MAX_H; h++)
            g->src[5][h] = -(g->src[3][h] + g->src[4][h]);
    if (s->acb) {
        for (unsigned h = 1; h <= SIG3_MAX_H; h++) {
            for (unsigned base = 0; base <= 3; base += 3) {
                double complex t = g->src[base + 1][h];
                g->src[base + 1][h] = g->src[base + 2][h];
                g->src[base + 2][h] = t;
            }
        }
    }
}

/* Phasor of input channel k at order h (what the meter's channel k carries), undelayed. */
static double complex input_phasor(const struct sig3 *g, unsigned k, unsigned h)
{
    if (g->wiring == PQ3_3P3W && k < 3)
        return g->src[k][h] - g->src[(k + 1) % 3][h];
    return g->src[k][h];
}

static double noise_rms(const struct sig3 *g, unsigned k)
{
    double nominal = k < 3 ? g->v_nominal * (g->wiring == PQ3_3P3W ? sqrt(3.0) : 1) : g->i_nominal;
    return g->noise_pct / 100 * 1.25 * M_SQRT2 * nominal;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double gauss(struct sig3 *g)
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

void sig3_generate(struct sig3 *g, float *const ch[PQ3_CHANNELS], size_t n)
{
    /* Input phasors with each channel's sampling lead, times sqrt(2) for peaks. */
    double complex x[PQ3_CHANNELS][SIG3_MAX_H + 1];
    double sigma[PQ3_CHANNELS];
    bool wired[PQ3_CHANNELS];
    for (unsigned k = 0; k < PQ3_CHANNELS; k++) {
        wired[k] = (g->mask & PQ3_CH_BIT(k)) && ch[k];
        sigma[k] = noise_rms(g, k);
        for (unsigned h = 1; h <= SIG3_MAX_H; h++)
            x[k][h] = M_SQRT2 * input_phasor(g, k, h) *
                      cexp(I * 2 * M_PI * h * g->freq * g->lead_s[k]);
    }
    /* e^{j h theta} from an exact start, rotated sample by sample within the block */
    const double cyc0 = fmod(g->freq / g->rate * (double)g->k, 1.0);
    double complex z[SIG3_MAX_H + 1], step[SIG3_MAX_H + 1];
    for (unsigned h = 1; h <= SIG3_MAX_H; h++) {
        z[h] = cexp(I * 2 * M_PI * h * cyc0);
        step[h] = cexp(I * 2 * M_PI * h * g->freq / g->rate);
    }
    for (size_t s = 0; s < n; s++, g->k++) {
        for (unsigned k = 0; k < PQ3_CHANNELS; k++) {
            if (!wired[k])
                continue;
            double y = 0;
            for (unsigned h = 1; h <= SIG3_MAX_H; h++)
                if (x[k][h] != 0)
                    y += cimag(x[k][h] * z[h]);
            if (sigma[k] > 0)
                y += sigma[k] * gauss(g);
            ch[k][s] = (float)y;
        }
        for (unsigned h = 1; h <= SIG3_MAX_H; h++)
            z[h] *= step[h];
    }
}

/* A kept channel of the analyzer as a combination of input channels. */
struct lin {
    double c[PQ3_CHANNELS];
};

static struct lin lin_unit(unsigned k)
{
    struct lin l = {{0}};
    l.c[k] = 1;
    return l;
}

static struct lin lin_add(struct lin a, struct lin b, double kb)
{
    for (unsigned k = 0; k < PQ3_CHANNELS; k++)
        a.c[k] += kb * b.c[k];
    return a;
}

static double complex lin_phasor(const struct sig3 *g, struct lin l, unsigned h)
{
    double complex z = 0;
    for (unsigned k = 0; k < PQ3_CHANNELS; k++)
        if (l.c[k] != 0)
            z += l.c[k] * input_phasor(g, k, h);
    return z;
}

static double lin_rms(const struct sig3 *g, struct lin l)
{
    double sum = 0;
    for (unsigned h = 1; h <= SIG3_MAX_H; h++) {
        double m = cabs(lin_phasor(g, l, h));
        sum += m * m;
    }
    for (unsigned k = 0; k < PQ3_CHANNELS; k++)
        sum += l.c[k] * l.c[k] * noise_rms(g, k) * noise_rms(g, k);
    return sqrt(sum);
}

static double lin_thd(const struct sig3 *g, struct lin l)
{
    double sum = 0;
    for (unsigned h = 2; h <= SIG3_MAX_H; h++) {
        double m = cabs(lin_phasor(g, l, h));
        sum += m * m;
    }
    return 100 * sqrt(sum) / cabs(lin_phasor(g, l, 1));
}

/* Input channel k as the analyzer completes it (a missing 3p3w channel from the others). */
static struct lin full_input(const struct sig3 *g, unsigned k)
{
    if (g->mask & PQ3_CH_BIT(k))
        return lin_unit(k);
    unsigned base = k < 3 ? 0 : 3;
    struct lin l = {{0}};
    for (unsigned j = base; j < base + 3; j++)
        if (j != k)
            l = lin_add(l, lin_unit(j), -1);
    return l;
}

struct sig3_truth sig3_truth_of(const struct sig3 *g)
{
    struct sig3_truth t;
    struct lin v[3], i[3];
    memset(&t, 0, sizeof(t));
    const unsigned np = g->wiring == PQ3_1P2W ? 1 : 3;
    for (unsigned p = 0; p < np; p++) {
        if (g->wiring == PQ3_3P3W)
            v[p] = lin_add(full_input(g, p), full_input(g, (p + 2) % 3), -1);
        else
            v[p] = lin_unit(p);
        if (g->wiring == PQ3_3P3W)
            for (unsigned k = 0; k < PQ3_CHANNELS; k++)
                v[p].c[k] /= 3;
        i[p] = full_input(g, 3 + p);
    }
    t.freq = g->freq;
    const double complex va1 = lin_phasor(g, v[0], 1);
    for (unsigned p = 0; p < np; p++) {
        t.vrms[p] = lin_rms(g, v[p]);
        t.irms[p] = lin_rms(g, i[p]);
        for (unsigned h = 1; h <= SIG3_MAX_H; h++)
            t.p[p] += creal(lin_phasor(g, v[p], h) * conj(lin_phasor(g, i[p], h)));
        t.s[p] = t.vrms[p] * t.irms[p];
        t.pf[p] = t.p[p] / t.s[p];
        const double complex v1 = lin_phasor(g, v[p], 1), i1 = lin_phasor(g, i[p], 1);
        t.phase_deg[p] = wrap(deg_of(v1) - deg_of(i1));
        t.q[p] = (t.phase_deg[p] < 0 ? -1 : 1) * sqrt(fmax(0, t.s[p] * t.s[p] - t.p[p] * t.p[p]));
        t.angle_v[p] = wrap(deg_of(v1) - deg_of(va1));
        t.thd_v[p] = lin_thd(g, v[p]);
        t.thd_i[p] = lin_thd(g, i[p]);
        t.p_total += t.p[p];
        t.q_total += t.q[p];
        t.s_total += t.s[p];
    }
    t.pf_total = t.p_total / t.s_total;
    if (np == 1)
        return t;
    for (unsigned p = 0; p < 3; p++)
        t.vll[p] = lin_rms(g, lin_add(v[p], v[(p + 1) % 3], -1));
    if (g->wiring == PQ3_3P4W)
        t.in_rms = lin_rms(g, lin_add(lin_add(i[0], i[1], 1), i[2], 1));
    const double complex al = cexp(I * 2.0 * M_PI / 3.0), al2 = al * al;
    double complex a = lin_phasor(g, v[0], 1), b = lin_phasor(g, v[1], 1),
                   c = lin_phasor(g, v[2], 1);
    double v1 = cabs(a + al * b + al2 * c) / 3, v2 = cabs(a + al2 * b + al * c) / 3;
    double v0 = cabs(a + b + c) / 3;
    t.sequence = v1 >= v2 ? PQ3_SEQ_ABC : PQ3_SEQ_ACB;
    if (t.sequence == PQ3_SEQ_ACB) { /* in the rotation the meter sees, as pq3.h defines */
        double x = v1;
        v1 = v2;
        v2 = x;
    }
    t.u2_pct = 100 * v2 / v1;
    t.u0_pct = g->wiring == PQ3_3P4W ? 100 * v0 / v1 : 0;
    a = lin_phasor(g, i[0], 1);
    b = lin_phasor(g, i[1], 1);
    c = lin_phasor(g, i[2], 1);
    double i1 = cabs(a + al * b + al2 * c), i2 = cabs(a + al2 * b + al * c);
    t.i2_pct = t.sequence == PQ3_SEQ_ACB ? 100 * i1 / i2 : 100 * i2 / i1;
    return t;
}
