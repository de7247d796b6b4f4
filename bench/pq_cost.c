/*
 * pq_cost: CPU time of the full power-quality analysis (common/pq.h) per
 * second of signal, for two channels, as meterd runs it: samples fed in
 * 100 ms blocks, every 10/12-cycle window aggregated into 1 s intervals.
 *
 * The signal comes from the sim ADC (meter/hal), generated before the clock
 * starts: 49.73 Hz, current lagging 36.87 degrees, 3rd/5th/7th harmonics at
 * 5/3/2 % and 0.1 % full-scale noise. Each rate is timed REPEAT times with
 * CLOCK_PROCESS_CPUTIME_ID and the fastest run reported (the least disturbed
 * by other load), next to two references measured in the same run: the real-
 * time limit (1000 ms of CPU per second of signal) and a floor, one
 * multiply-add pass over the same samples (what computing P alone costs).
 *
 *   bench_pq_cost [SECONDS]            time 12800 and 6400 Hz (default 60 s of signal)
 *   bench_pq_cost --callgrind RATE SECONDS
 *                                      analyse once without timing, for
 *                                      valgrind --tool=callgrind --toggle-collect=...
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hal/adc.h"
#include "pq.h"

#define REPEAT      5
#define AIM_PCT     2.0
#define SIGNAL_SPEC "freq=49.73,phase=36.87,h3=5,h5=3,h7=2,noise=0.1,realtime=0"
#define MAX_SECONDS 600

struct signal {
    double rate_hz;
    size_t n;
    float *v, *i;
};

struct sink {
    struct pq_interval iv;
    unsigned intervals, windows;
    double checksum; /* keeps the work observable */
};

static int signal_make(double rate_hz, double seconds, struct signal *ret)
{
    char spec[256], err[256];
    struct adc *adc = NULL;
    struct signal s = {.rate_hz = rate_hz, .n = (size_t)llround(rate_hz * seconds)};
    double *bv = NULL, *bi = NULL;
    const size_t block = (size_t)rate_hz / 10;
    int r = -ENOMEM;

    snprintf(spec, sizeof(spec), "sim:rate=%.0f,%s", rate_hz, SIGNAL_SPEC);
    if (adc_open(spec, &adc, err, sizeof(err))) {
        fprintf(stderr, "bench_pq_cost: %s\n", err);
        return -EINVAL;
    }
    s.v = malloc(s.n * sizeof(float));
    s.i = malloc(s.n * sizeof(float));
    bv = malloc(block * sizeof(double));
    bi = malloc(block * sizeof(double));
    if (!s.v || !s.i || !bv || !bi)
        goto out;
    for (size_t off = 0; off < s.n; off += block) {
        size_t n = s.n - off < block ? s.n - off : block;
        r = adc_read(adc, bv, bi, n);
        if (r)
            goto out;
        for (size_t k = 0; k < n; k++) {
            s.v[off + k] = (float)bv[k];
            s.i[off + k] = (float)bi[k];
        }
    }
    r = 0;
    *ret = s;
out:
    if (r) {
        free(s.v);
        free(s.i);
    }
    free(bv);
    free(bi);
    adc_close(adc);
    return r;
}

static void on_window(const struct pq_window *w, void *ctx)
{
    struct sink *k = ctx;
    k->windows++;
    pq_interval_add(&k->iv, w);
    if (k->iv.duration_s >= 1.0) {
        if (pq_interval_finish(&k->iv) == 0)
            k->checksum += k->iv.p_avg + k->iv.thd_v;
        k->intervals++;
        pq_interval_reset(&k->iv);
    }
}

/* The analysis as meterd runs it: 100 ms blocks, windows into 1 s intervals. */
static int analyse(const struct signal *s, struct sink *k)
{
    struct pq_config cfg = {.rate_hz = s->rate_hz, .nominal_hz = 50, .phase_cal_deg = 0};
    struct pq_analyzer *a;
    const size_t block = (size_t)s->rate_hz / 10;
    int r = pq_analyzer_new(&cfg, &a);
    if (r)
        return r;
    memset(k, 0, sizeof(*k));
    pq_interval_reset(&k->iv);
    for (size_t off = 0; off < s->n; off += block) {
        size_t n = s->n - off < block ? s->n - off : block;
        pq_analyzer_feed(a, s->v + off, s->i + off, n, on_window, k);
    }
    pq_analyzer_free(a);
    return 0;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The floor: one pass over both channels computing the mean of v * i. */
static double floor_pass(const struct signal *s)
{
    double acc = 0;
    for (size_t k = 0; k < s->n; k++)
        acc += (double)s->v[k] * s->i[k];
    return acc / (double)s->n;
}

static int bench_rate(double rate_hz, double seconds)
{
    struct signal s;
    struct sink k;
    double t_an[REPEAT], t_floor[REPEAT];
    volatile double keep = 0;

    int r = signal_make(rate_hz, seconds, &s);
    if (r)
        return r;
    for (int rep = 0; rep < REPEAT; rep++) {
        double t0 = cpu_s();
        r = analyse(&s, &k);
        double t1 = cpu_s();
        if (r)
            goto out;
        keep += floor_pass(&s);
        double t2 = cpu_s();
        t_an[rep] = t1 - t0;
        t_floor[rep] = t2 - t1;
        keep += k.checksum;
    }
    qsort(t_an, REPEAT, sizeof(double), cmp_double);
    qsort(t_floor, REPEAT, sizeof(double), cmp_double);

    double ms = t_an[0] / seconds * 1e3, ms_median = t_an[REPEAT / 2] / seconds * 1e3;
    double floor_ms = t_floor[0] / seconds * 1e3;
    double pct = ms / 10.0; /* 1000 ms per second is one core */
    printf("pq analysis, 2 channels at %.0f Hz, %.0f s of signal, %u windows in %u intervals "
           "(best of %d runs):\n",
           rate_hz, seconds, k.windows, k.intervals, REPEAT);
    printf("  CPU per second of signal: %.3f ms = %.3f %% of one core (aim < %.0f %%); "
           "ratio to the aim %.3f (median run %.3f ms)\n",
           ms, pct, AIM_PCT, pct / AIM_PCT, ms_median);
    printf("  real-time limit 1000 ms per second of signal: %.0fx headroom\n", 1000.0 / ms);
    printf("  floor, one multiply-add pass over the samples: %.4f ms per second of signal; "
           "the analysis costs %.0fx the floor\n",
           floor_ms, floor_ms > 0 ? ms / floor_ms : 0);
    (void)keep;
out:
    free(s.v);
    free(s.i);
    return r;
}

static int parse_seconds(const char *arg, double *ret)
{
    char *end;
    errno = 0;
    double d = strtod(arg, &end);
    if (errno || end == arg || *end || !(d >= 1 && d <= MAX_SECONDS))
        return -EINVAL;
    *ret = d;
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 60;

    if (argc == 4 && strcmp(argv[1], "--callgrind") == 0) {
        char *end;
        double rate = strtod(argv[2], &end);
        struct signal s;
        struct sink k;
        if (*end || !(rate >= 1000 && rate <= 204800) || parse_seconds(argv[3], &seconds)) {
            fprintf(stderr, "bench_pq_cost: --callgrind RATE(1000..204800) SECONDS(1..%d)\n",
                    MAX_SECONDS);
            return 2;
        }
        if (signal_make(rate, seconds, &s))
            return 1;
        int r = analyse(&s, &k);
        printf("analysed %.0f s at %.0f Hz: %u windows\n", seconds, rate, k.windows);
        free(s.v);
        free(s.i);
        return r ? 1 : 0;
    }
    if (argc > 2 || (argc == 2 && parse_seconds(argv[1], &seconds))) {
        fprintf(stderr, "usage: bench_pq_cost [SECONDS (1..%d)] | --callgrind RATE SECONDS\n",
                MAX_SECONDS);
        return 2;
    }
    if (bench_rate(12800, seconds) || bench_rate(6400, seconds))
        return 1;
    return 0;
}
