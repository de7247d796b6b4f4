#include "adc_sim.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adc_driver.h"

#define KNOWN_KEYS "rate, freq, v, i, phase, hN, vhN, ihN, noise, vfs, ifs, seed, realtime"

struct sim_harmonic {
    unsigned order;
    double amp; /* peak, in volts or amperes */
};

struct adc_sim {
    struct adc base;
    struct adc_sim_params p;
    double v_peak, i_peak, phase_rad;
    double v_sigma, i_sigma; /* noise RMS */
    struct sim_harmonic vh[SIM_HARMONIC_MAX], ih[SIM_HARMONIC_MAX];
    unsigned n_vh, n_ih;
    uint64_t k; /* index of the next sample: keeps phase continuous across reads */
    uint64_t rng;
    bool have_spare;
    double spare;
    struct timespec t0; /* CLOCK_MONOTONIC instant of sample 0 */
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

/* "h7", "vh7", "ih7": writes which channels and the order; false when key is not one. */
static bool harmonic_key(const char *key, bool *ret_v, bool *ret_i, const char **ret_digits)
{
    bool v = true, i = true;
    if (key[0] == 'v' || key[0] == 'i') {
        v = key[0] == 'v';
        i = key[0] == 'i';
        key++;
    }
    if (key[0] != 'h' || key[1] < '0' || key[1] > '9')
        return false;
    *ret_v = v;
    *ret_i = i;
    *ret_digits = key + 1;
    return true;
}

static int apply(struct adc_sim_params *p, const char *key, const char *val, char *err,
                 size_t errlen)
{
    uint64_t u;
    int r;
    bool on_v, on_i;
    const char *digits;

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
    if (harmonic_key(key, &on_v, &on_i, &digits)) {
        char *end;
        errno = 0;
        unsigned long order = strtoul(digits, &end, 10);
        if (errno || *end != '\0' || order < 2 || order > SIM_HARMONIC_MAX)
            return fail(err, errlen, "harmonic order in '%s' must be 2..%d", key, SIM_HARMONIC_MAX);
        double pct;
        r = parse_double(key, val, 0, 100, &pct, err, errlen);
        if (r)
            return r;
        if (on_v)
            p->vh_pct[order] = pct;
        if (on_i)
            p->ih_pct[order] = pct;
        return 0;
    }
    return fail(err, errlen, "unknown key '%s' (known: " KNOWN_KEYS ")", key);
}

int adc_sim_parse(const char *params, struct adc_sim_params *ret, char *err, size_t errlen)
{
    struct adc_sim_params p = {
        .rate_hz = 6400,
        .freq_hz = 50,
        .v_rms = 230,
        .i_rms = 10,
        .seed = 1,
        .realtime = true,
    };
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

    for (unsigned h = 2; h <= SIM_HARMONIC_MAX; h++) {
        if (p.vh_pct[h] == 0 && p.ih_pct[h] == 0)
            continue;
        if ((double)h * p.freq_hz >= p.rate_hz / 2.0)
            return fail(err, errlen,
                        "harmonic %u (%g Hz) is at or above half the sample rate (%g Hz)", h,
                        h * p.freq_hz, p.rate_hz / 2.0);
    }
    if (p.freq_hz >= p.rate_hz / 2.0)
        return fail(err, errlen, "freq=%g Hz is at or above half the sample rate (%g Hz)",
                    p.freq_hz, p.rate_hz / 2.0);
    if (p.vfs_v == 0)
        p.vfs_v = 1.25 * M_SQRT2 * p.v_rms;
    if (p.ifs_a == 0)
        p.ifs_a = 1.25 * M_SQRT2 * p.i_rms;
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

static int sim_read(struct adc *adc, double *v, double *i, size_t n)
{
    struct adc_sim *s = (struct adc_sim *)adc;
    const double cycles_per_sample = s->p.freq_hz / (double)s->p.rate_hz;

    for (size_t k = 0; k < n; k++, s->k++) {
        /* The fractional cycle keeps the angle small however long we run. */
        double theta = 2.0 * M_PI * fmod(cycles_per_sample * (double)s->k, 1.0);
        double vk = s->v_peak * sin(theta);
        double ik = s->i_peak * sin(theta - s->phase_rad);
        for (unsigned h = 0; h < s->n_vh; h++)
            vk += s->vh[h].amp * sin(s->vh[h].order * theta);
        for (unsigned h = 0; h < s->n_ih; h++)
            ik += s->ih[h].amp * sin(s->ih[h].order * theta - s->phase_rad);
        if (s->v_sigma > 0)
            vk += s->v_sigma * rng_gauss(s);
        if (s->i_sigma > 0)
            ik += s->i_sigma * rng_gauss(s);
        v[k] = clip(vk, s->p.vfs_v);
        i[k] = clip(ik, s->p.ifs_a);
    }

    if (s->p.realtime && n > 0) {
        /* Sample k is taken at t0 + k / rate; return when the last one of this block is. */
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

static double sim_rate_hz(const struct adc *adc)
{
    return ((const struct adc_sim *)adc)->p.rate_hz;
}

static void sim_close(struct adc *adc)
{
    free(adc);
}

static const struct adc_ops sim_ops = {
    .name = "sim",
    .read = sim_read,
    .rate_hz = sim_rate_hz,
    .close = sim_close,
};

int adc_sim_open(const char *params, struct adc **ret_adc, char *err, size_t errlen)
{
    struct adc_sim_params p;
    int r = adc_sim_parse(params, &p, err, errlen);
    if (r)
        return r;

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
