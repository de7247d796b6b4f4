#include "adc_sim.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adc_driver.h"

#define KNOWN_KEYS                                                                                 \
    "rate, freq, v, i, phase, hN, vhN, ihN, noise, vfs, ifs, seed, realtime, wiring, va, vb, vc, "  \
    "ia, ib, ic, phasea, phaseb, phasec, angleb, anglec, u2, hNa, vhNb, ihNc"

struct sim_harmonic {
    unsigned order;
    double amp; /* peak, in volts or amperes */
};

/* One phase of the three-phase generator. */
struct sim_phase {
    double v_peak, i_peak, angle_rad, phase_rad;
    struct sim_harmonic vh[SIM_HARMONIC_MAX], ih[SIM_HARMONIC_MAX];
    unsigned n_vh, n_ih;
};

struct adc_sim {
    struct adc base;
    struct adc_sim_params p;
    double v_peak, i_peak, phase_rad;
    double v_sigma, i_sigma; /* noise RMS */
    struct sim_harmonic vh[SIM_HARMONIC_MAX], ih[SIM_HARMONIC_MAX];
    unsigned n_vh, n_ih;
    struct sim_phase ph[SIM_PHASES];
    double u2_peak;
    uint64_t k; /* index of the next sample: keeps phase continuous across reads */
    uint64_t rng;
    bool have_spare;
    double spare;
    struct timespec t0;   /* CLOCK_MONOTONIC instant of sample 0 */
    atomic_bool load_off; /* the relay is open: no current (set from the main thread) */
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "--adc sim: ");
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_double(const char *key, const char *val, double min, double max, double *ret,
                        char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (errno || end == val || *end != '\0' || !isfinite(d))
        return fail(err, errlen, "%s=%s is not a number", key, val);
    if (d < min || d > max)
        return fail(err, errlen, "%s=%s is out of range %g..%g", key, val, min, max);
    *ret = d;
    return 0;
}

static int parse_u64(const char *key, const char *val, uint64_t min, uint64_t max, uint64_t *ret,
                     char *err, size_t errlen)
{
    char *end;
    if (val[0] < '0' || val[0] > '9')
        return fail(err, errlen, "%s=%s is not a non-negative integer", key, val);
    errno = 0;
    unsigned long long u = strtoull(val, &end, 10);
    if (errno || *end != '\0')
        return fail(err, errlen, "%s=%s is not a non-negative integer", key, val);
    if (u < min || u > max)
        return fail(err, errlen, "%s=%s is out of range %llu..%llu", key, val,
                    (unsigned long long)min, (unsigned long long)max);
    *ret = u;
    return 0;
}

/* "h7", "vh7", "ih7", "h7b": writes which channels, phase (-1: all) and the order digits;
   false when key is not one. */
static bool harmonic_key(const char *key, bool *ret_v, bool *ret_i, int *ret_phase,
                         char *ret_digits, size_t digits_len)
{
    bool v = true, i = true;
    if (key[0] == 'v' || key[0] == 'i') {
        v = key[0] == 'v';
        i = key[0] == 'i';
        key++;
    }
    if (key[0] != 'h' || key[1] < '0' || key[1] > '9')
        return false;
    size_t len = strlen(key + 1);
    int phase = -1;
    if (len > 1 && key[len] >= 'a' && key[len] <= 'c') {
        phase = key[len] - 'a';
        len--;
    }
    if (len >= digits_len)
        len = digits_len - 1;
    memcpy(ret_digits, key + 1, len);
    ret_digits[len] = '\0';
    *ret_v = v;
    *ret_i = i;
    *ret_phase = phase;
    return true;
}

/* "va" -> 0 for prefix "v"; -1 when key is not prefix + a/b/c. */
static int phase_suffix(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(key, prefix, n) != 0 || key[n] < 'a' || key[n] > 'c' || key[n + 1] != '\0')
        return -1;
    return key[n] - 'a';
}

static int apply(struct adc_sim_params *p, const char *key, const char *val, char *err,
                 size_t errlen)
{
    uint64_t u;
    int r, ph;
    bool on_v, on_i;
    char digits[16];

    if (strcmp(key, "rate") == 0) {
        r = parse_u64(key, val, 100, 204800, &u, err, errlen);
        if (!r)
            p->rate_hz = (uint32_t)u;
        return r;
    }
    if (strcmp(key, "freq") == 0)
        return parse_double(key, val, 1, 1000, &p->freq_hz, err, errlen);
    if (strcmp(key, "v") == 0)
        return parse_double(key, val, 0, 1e6, &p->v_rms, err, errlen);
    if (strcmp(key, "i") == 0)
        return parse_double(key, val, 0, 1e5, &p->i_rms, err, errlen);
    if (strcmp(key, "phase") == 0)
        return parse_double(key, val, -180, 180, &p->phase_deg, err, errlen);
    if (strcmp(key, "noise") == 0)
        return parse_double(key, val, 0, 100, &p->noise_pct, err, errlen);
    if (strcmp(key, "vfs") == 0)
        return parse_double(key, val, 1e-6, 1e7, &p->vfs_v, err, errlen);
    if (strcmp(key, "ifs") == 0)
        return parse_double(key, val, 1e-6, 1e7, &p->ifs_a, err, errlen);
    if (strcmp(key, "seed") == 0)
        return parse_u64(key, val, 0, UINT64_MAX, &p->seed, err, errlen);
    if (strcmp(key, "realtime") == 0) {
        if (strcmp(val, "1") == 0 || strcmp(val, "true") == 0)
            p->realtime = true;
        else if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0)
            p->realtime = false;
        else
            return fail(err, errlen, "realtime=%s must be 0 or 1", val);
        return 0;
    }
    if (strcmp(key, "wiring") == 0) {
        if (adc_wiring_parse(val, &p->wiring))
            return fail(err, errlen, "wiring=%s must be 1p2w, 3p4w or 3p3w", val);
        p->wiring_given = true;
        return 0;
    }
    if ((ph = phase_suffix(key, "v")) >= 0)
        return parse_double(key, val, 0, 1e6, &p->v_ph[ph], err, errlen);
    if ((ph = phase_suffix(key, "i")) >= 0)
        return parse_double(key, val, 0, 1e5, &p->i_ph[ph], err, errlen);
    if ((ph = phase_suffix(key, "phase")) >= 0)
        return parse_double(key, val, -180, 180, &p->phase_ph_deg[ph], err, errlen);
    if (strcmp(key, "angleb") == 0 || strcmp(key, "anglec") == 0)
        return parse_double(key, val, -180, 180, &p->angle_deg[key[5] - 'a'], err, errlen);
    if (strcmp(key, "u2") == 0)
        return parse_double(key, val, 0, 50, &p->u2_pct, err, errlen);
    if (harmonic_key(key, &on_v, &on_i, &ph, digits, sizeof(digits))) {
        char *end;
        errno = 0;
        unsigned long order = strtoul(digits, &end, 10);
        if (errno || *end != '\0' || order < 2 || order > SIM_HARMONIC_MAX)
            return fail(err, errlen, "harmonic order in '%s' must be 2..%d", key, SIM_HARMONIC_MAX);
        double pct;
        r = parse_double(key, val, 0, 100, &pct, err, errlen);
        if (r)
            return r;
        if (ph < 0) {
            if (on_v)
                p->vh_pct[order] = pct;
            if (on_i)
                p->ih_pct[order] = pct;
        } else {
            if (on_v)
                p->vh_ph[ph][order] = pct;
            if (on_i)
                p->ih_ph[ph][order] = pct;
        }
        return 0;
    }
    return fail(err, errlen, "unknown key '%s' (known: " KNOWN_KEYS ")", key);
}

static int parse_with(const char *params, enum adc_wiring wiring, struct adc_sim_params *ret,
                      char *err, size_t errlen);

int adc_sim_parse(const char *params, struct adc_sim_params *ret, char *err, size_t errlen)
{
    return parse_with(params, ADC_WIRING_1P2W, ret, err, errlen);
}

/* wiring: the default when the spec has no wiring= key. */
static int parse_with(const char *params, enum adc_wiring wiring, struct adc_sim_params *ret,
                      char *err, size_t errlen)
{
    struct adc_sim_params p = {
        .rate_hz = 6400,
        .freq_hz = 50,
        .v_rms = 230,
        .i_rms = 10,
        .seed = 1,
        .realtime = true,
        .wiring = wiring,
        .angle_deg = {0, -120, 120},
    };
    /* Per-phase values not given fall back to the common ones: NAN and -1 mark them. */
    for (int ph = 0; ph < SIM_PHASES; ph++) {
        p.v_ph[ph] = p.i_ph[ph] = p.phase_ph_deg[ph] = NAN;
        for (int h = 0; h <= SIM_HARMONIC_MAX; h++)
            p.vh_ph[ph][h] = p.ih_ph[ph][h] = -1;
    }
    const char *s = params ? params : "";

    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char item[96];
        if (len == 0)
            return fail(err, errlen, "empty item in parameter list");
        if (len >= sizeof(item))
            return fail(err, errlen, "item '%.*s...' is too long", 16, s);
        memcpy(item, s, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq || eq == item || eq[1] == '\0')
            return fail(err, errlen, "'%s' is not key=value", item);
        *eq = '\0';
        int r = apply(&p, item, eq + 1, err, errlen);
        if (r)
            return r;
        s += len;
        if (*s == ',')
            s++;
    }
    if (params && *params && params[strlen(params) - 1] == ',')
        return fail(err, errlen, "empty item in parameter list");

    bool three = p.wiring != ADC_WIRING_1P2W;
    for (int ph = 0; ph < SIM_PHASES; ph++) {
        bool own = !isnan(p.v_ph[ph]) || !isnan(p.i_ph[ph]) || !isnan(p.phase_ph_deg[ph]);
        for (int h = 0; h <= SIM_HARMONIC_MAX; h++)
            own = own || p.vh_ph[ph][h] >= 0 || p.ih_ph[ph][h] >= 0;
        if (own && !three)
            return fail(err, errlen,
                        "per-phase keys (va, ib, phasec, h5b, ...) need wiring=3p4w or 3p3w");
        if (isnan(p.v_ph[ph]))
            p.v_ph[ph] = p.v_rms;
        if (isnan(p.i_ph[ph]))
            p.i_ph[ph] = p.i_rms;
        if (isnan(p.phase_ph_deg[ph]))
            p.phase_ph_deg[ph] = p.phase_deg;
        for (int h = 0; h <= SIM_HARMONIC_MAX; h++) {
            if (p.vh_ph[ph][h] < 0)
                p.vh_ph[ph][h] = p.vh_pct[h];
            if (p.ih_ph[ph][h] < 0)
                p.ih_ph[ph][h] = p.ih_pct[h];
        }
    }
    if (!three && (p.u2_pct > 0 || p.angle_deg[1] != -120 || p.angle_deg[2] != 120))
        return fail(err, errlen, "u2, angleb and anglec need wiring=3p4w or 3p3w");
    for (unsigned h = 2; h <= SIM_HARMONIC_MAX; h++) {
        bool any = p.vh_pct[h] != 0 || p.ih_pct[h] != 0;
        for (int ph = 0; ph < SIM_PHASES; ph++)
            any = any || p.vh_ph[ph][h] != 0 || p.ih_ph[ph][h] != 0;
        if (!any)
            continue;
        if ((double)h * p.freq_hz >= p.rate_hz / 2.0)
            return fail(err, errlen,
                        "harmonic %u (%g Hz) is at or above half the sample rate (%g Hz)", h,
                        h * p.freq_hz, p.rate_hz / 2.0);
    }
    if (p.freq_hz >= p.rate_hz / 2.0)
        return fail(err, errlen, "freq=%g Hz is at or above half the sample rate (%g Hz)",
                    p.freq_hz, p.rate_hz / 2.0);
    double v_max = p.v_rms, i_max = p.i_rms;
    if (three) {
        for (int ph = 0; ph < SIM_PHASES; ph++) {
            v_max = fmax(v_max, p.v_ph[ph] * (1 + p.u2_pct / 100));
            i_max = fmax(i_max, p.i_ph[ph]);
        }
        if (p.wiring == ADC_WIRING_3P3W)
            v_max *= 2; /* a line-to-line voltage is at most the sum of two phases' */
    }
    if (p.vfs_v == 0)
        p.vfs_v = 1.25 * M_SQRT2 * v_max;
    if (p.ifs_a == 0)
        p.ifs_a = 1.25 * M_SQRT2 * i_max;
    *ret = p;
    return 0;
}

/* splitmix64: small, fast and good enough for test noise. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double rng_unit(uint64_t *state)
{
    return ((double)(rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Standard normal deviate (Box-Muller, both values used). */
static double rng_gauss(struct adc_sim *s)
{
    if (s->have_spare) {
        s->have_spare = false;
        return s->spare;
    }
    double u1 = rng_unit(&s->rng), u2 = rng_unit(&s->rng);
    double rad = sqrt(-2.0 * log(u1));
    s->spare = rad * sin(2.0 * M_PI * u2);
    s->have_spare = true;
    return rad * cos(2.0 * M_PI * u2);
}

static double clip(double x, double fs)
{
    return x > fs ? fs : x < -fs ? -fs : x;
}

static void timespec_add_ns(struct timespec *t, uint64_t ns)
{
    uint64_t total = (uint64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(total / 1000000000u);
    t->tv_nsec = (long)(total % 1000000000u);
}

/* Realtime: returns when the last of the n samples just made would have been taken. */
static int pace(struct adc_sim *s, size_t n)
{
    if (s->p.realtime && n > 0) {
        /* Sample k is taken at t0 + k / rate. */
        uint64_t rate = s->p.rate_hz;
        struct timespec due = s->t0;
        due.tv_sec += (time_t)(s->k / rate);
        timespec_add_ns(&due, (s->k % rate) * UINT64_C(1000000000) / rate);
        int r;
        while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL)) == EINTR)
            ;
        if (r)
            return -r;
    }
    return 0;
}

static int sim_read(struct adc *adc, double *v, double *i, size_t n)
{
    struct adc_sim *s = (struct adc_sim *)adc;
    const double cycles_per_sample = s->p.freq_hz / (double)s->p.rate_hz;
    const double i_on = atomic_load_explicit(&s->load_off, memory_order_relaxed) ? 0.0 : 1.0;

    for (size_t k = 0; k < n; k++, s->k++) {
        /* The fractional cycle keeps the angle small however long we run. */
        double theta = 2.0 * M_PI * fmod(cycles_per_sample * (double)s->k, 1.0);
        double vk = s->v_peak * sin(theta);
        double ik = s->i_peak * sin(theta - s->phase_rad);
        for (unsigned h = 0; h < s->n_vh; h++)
            vk += s->vh[h].amp * sin(s->vh[h].order * theta);
        for (unsigned h = 0; h < s->n_ih; h++)
            ik += s->ih[h].amp * sin(s->ih[h].order * theta - s->phase_rad);
        ik *= i_on;
        if (s->v_sigma > 0)
            vk += s->v_sigma * rng_gauss(s);
        if (s->i_sigma > 0)
            ik += s->i_sigma * rng_gauss(s);
        v[k] = clip(vk, s->p.vfs_v);
        i[k] = clip(ik, s->p.ifs_a);
    }

    return pace(s, n);
}

/* Three phases: one frame a sample, every channel in adc.h's order. */
static int sim_read_frames(struct adc *adc, double *const ch[ADC_CHANNELS], size_t n)
{
    struct adc_sim *s = (struct adc_sim *)adc;
    if (s->p.wiring == ADC_WIRING_1P2W)
        return sim_read(adc, ch[ADC_CH_VA], ch[ADC_CH_IA], n);
    const double cycles_per_sample = s->p.freq_hz / (double)s->p.rate_hz;
    /* The negative sequence of u2: phases at 0, +120, -120 degrees. */
    static const double neg_rad[SIM_PHASES] = {0, 2 * M_PI / 3, -2 * M_PI / 3};
    bool delta = s->p.wiring == ADC_WIRING_3P3W;
    const double i_on = atomic_load_explicit(&s->load_off, memory_order_relaxed) ? 0.0 : 1.0;

    for (size_t k = 0; k < n; k++, s->k++) {
        double theta = 2.0 * M_PI * fmod(cycles_per_sample * (double)s->k, 1.0);
        double v[SIM_PHASES], i[SIM_PHASES];
        for (int p = 0; p < SIM_PHASES; p++) {
            const struct sim_phase *q = &s->ph[p];
            double t = theta + q->angle_rad;
            v[p] = q->v_peak * sin(t) + s->u2_peak * sin(theta + neg_rad[p]);
            i[p] = q->i_peak * sin(t - q->phase_rad);
            for (unsigned h = 0; h < q->n_vh; h++)
                v[p] += q->vh[h].amp * sin(q->vh[h].order * t);
            for (unsigned h = 0; h < q->n_ih; h++)
                i[p] += q->ih[h].amp * sin(q->ih[h].order * t - q->phase_rad);
            i[p] *= i_on;
        }
        if (delta) {
            double va = v[0], i0 = (i[0] + i[1] + i[2]) / 3;
            v[0] = va - v[1];
            v[1] = v[1] - v[2];
            v[2] = v[2] - va;
            for (int p = 0; p < SIM_PHASES; p++)
                i[p] -= i0;
        }
        for (int p = 0; p < SIM_PHASES; p++) {
            if (s->v_sigma > 0)
                v[p] += s->v_sigma * rng_gauss(s);
            if (s->i_sigma > 0)
                i[p] += s->i_sigma * rng_gauss(s);
            ch[ADC_CH_VA + p][k] = clip(v[p], s->p.vfs_v);
            ch[ADC_CH_IA + p][k] = clip(i[p], s->p.ifs_a);
        }
    }
    return pace(s, n);
}

static double sim_rate_hz(const struct adc *adc)
{
    return ((const struct adc_sim *)adc)->p.rate_hz;
}

static void sim_set_load_connected(struct adc *adc, bool connected)
{
    atomic_store_explicit(&((struct adc_sim *)adc)->load_off, !connected, memory_order_relaxed);
}

static void sim_close(struct adc *adc)
{
    free(adc);
}

static const struct adc_ops sim_ops = {
    .name = "sim",
    .read = sim_read,
    .read_frames = sim_read_frames,
    .rate_hz = sim_rate_hz,
    .set_load_connected = sim_set_load_connected,
    .close = sim_close,
};

int adc_sim_open(const char *params, const char *wiring, struct adc **ret_adc, char *err,
                 size_t errlen)
{
    struct adc_sim_params p;
    enum adc_wiring w = ADC_WIRING_1P2W;
    if (wiring && adc_wiring_parse(wiring, &w))
        return fail(err, errlen, "unknown wiring '%s'", wiring);
    int r = parse_with(params, w, &p, err, errlen);
    if (r)
        return r;
    /* The meter's wiring decides what the generator makes; a spec saying otherwise is a
       mistake worth a clear word. */
    if (wiring && p.wiring_given && p.wiring != w)
        return fail(err, errlen, "wiring=%s differs from the meter's wiring %s",
                    adc_wiring_name(p.wiring), wiring);

    struct adc_sim *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "--adc sim: out of memory");
        return -ENOMEM;
    }
    adc_base_init(&s->base, &sim_ops);
    s->p = p;
    s->v_peak = M_SQRT2 * p.v_rms;
    s->i_peak = M_SQRT2 * p.i_rms;
    s->phase_rad = p.phase_deg * M_PI / 180.0;
    s->v_sigma = p.noise_pct / 100.0 * p.vfs_v;
    s->i_sigma = p.noise_pct / 100.0 * p.ifs_a;
    for (unsigned h = 2; h <= SIM_HARMONIC_MAX; h++) {
        if (p.vh_pct[h] > 0)
            s->vh[s->n_vh++] = (struct sim_harmonic){h, s->v_peak * p.vh_pct[h] / 100.0};
        if (p.ih_pct[h] > 0)
            s->ih[s->n_ih++] = (struct sim_harmonic){h, s->i_peak * p.ih_pct[h] / 100.0};
    }
    if (p.wiring != ADC_WIRING_1P2W) {
        for (int ph = 0; ph < SIM_PHASES; ph++) {
            struct sim_phase *q = &s->ph[ph];
            q->v_peak = M_SQRT2 * p.v_ph[ph];
            q->i_peak = M_SQRT2 * p.i_ph[ph];
            q->angle_rad = p.angle_deg[ph] * M_PI / 180.0;
            q->phase_rad = p.phase_ph_deg[ph] * M_PI / 180.0;
            for (unsigned h = 2; h <= SIM_HARMONIC_MAX; h++) {
                if (p.vh_ph[ph][h] > 0)
                    q->vh[q->n_vh++] = (struct sim_harmonic){h, q->v_peak * p.vh_ph[ph][h] / 100};
                if (p.ih_ph[ph][h] > 0)
                    q->ih[q->n_ih++] = (struct sim_harmonic){h, q->i_peak * p.ih_ph[ph][h] / 100};
            }
        }
        s->u2_peak = M_SQRT2 * p.v_rms * p.u2_pct / 100.0;
        adc_base_set_wiring(&s->base, p.wiring, ADC_CH_BIT(ADC_CHANNELS) - 1);
    }
    s->rng = p.seed;
    if (clock_gettime(CLOCK_MONOTONIC, &s->t0)) {
        r = -errno;
        snprintf(err, errlen, "--adc sim: clock_gettime: %s", strerror(errno));
        free(s);
        return r;
    }
    *ret_adc = &s->base;
    return 0;
}
