/*
 * pq3_cost: CPU time of the full three-phase power-quality analysis
 * (common/pq3.h) per second of signal, six channels, as meterd runs it:
 * samples fed in 100 ms blocks, every 10-cycle window aggregated into 1 s
 * intervals; and, in the same run on the same samples, the single-phase
 * analysis (common/pq.h) of phase a alone, for comparison.
 *
 * The signal is generated before the clock starts: 49.73 Hz, an unbalanced
 * 230 V / 10 A star (phase b at 90 %, c at 120 % current), currents lagging
 * 25..45 degrees, 3rd/5th/7th harmonics at 5/3/2 % and 0.1 % full-scale
 * noise on every channel. Each case is timed REPEAT times with
 * CLOCK_PROCESS_CPUTIME_ID and the fastest run reported (the least disturbed
 * by other load), with the median beside it.
 *
 *   bench_pq3_cost [SECONDS]            6400 Hz x 6 channels (default 60 s of signal)
 *   bench_pq3_cost --callgrind SECONDS  analyse 3p4w once without timing, for
 *                                       valgrind --tool=callgrind --toggle-collect=...
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pq.h"
#include "pq3.h"

#define RATE        6400.0
#define REPEAT      5
#define AIM_PCT     2.0
#define MAX_SECONDS 600

struct signal {
    size_t n;
    float *ch[PQ3_CHANNELS];
};

static uint64_t rng = 12345;

/* Roughly Gaussian (sum of four uniforms), unit RMS: enough for benchmark noise. */
static double noise(void)
{
    double sum = 0;
    for (int k = 0; k < 4; k++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        sum += (double)(rng >> 11) / 9007199254740992.0 - 0.5;
    }
    return sum * sqrt(3.0);
}

static int signal_make(double seconds, struct signal *ret)
{
    static const double vmag[3] = {230, 207, 230}, vdeg[3] = {0, -120, 120};
    static const double imag[3] = {10, 10, 12}, lag[3] = {25, 45, 36.87};
    static const double pct[8] = {[3] = 5, [5] = 3, [7] = 2};
    const double f = 49.73, vsig = 0.001 * 1.25 * M_SQRT2 * 230, isig = 0.001 * 1.25 * M_SQRT2 * 10;
    struct signal s = {.n = (size_t)llround(RATE * seconds)};

    for (unsigned k = 0; k < PQ3_CHANNELS; k++) {
        s.ch[k] = malloc(s.n * sizeof(float));
        if (!s.ch[k]) {
            for (unsigned j = 0; j < k; j++)
                free(s.ch[j]);
            return -ENOMEM;
        }
    }
    for (size_t n = 0; n < s.n; n++) {
        double th = 2 * M_PI * fmod(f * (double)n / RATE, 1.0);
        for (unsigned p = 0; p < 3; p++) {
            double a = vdeg[p] * M_PI / 180, phi = lag[p] * M_PI / 180, v = 0, i = 0;
            for (unsigned h = 1; h <= 7; h++) {
                double amp = h == 1 ? 1 : pct[h] / 100;
                if (amp == 0)
                    continue;
                v += amp * sin(h * (th + a));
                i += amp * sin(h * (th + a) - phi);
            }
            s.ch[p][n] = (float)(M_SQRT2 * vmag[p] * v + vsig * noise());
            s.ch[3 + p][n] = (float)(M_SQRT2 * imag[p] * i + isig * noise());
        }
    }
    *ret = s;
    return 0;
}

static void signal_free(struct signal *s)
{
    for (unsigned k = 0; k < PQ3_CHANNELS; k++)
        free(s->ch[k]);
}

struct sink3 {
    struct pq3_interval iv;
    unsigned windows, intervals;
    double checksum; /* keeps the work observable */
};

static void on_window3(const struct pq3_window *w, void *ctx)
{
    struct sink3 *k = ctx;
    k->windows++;
    pq3_interval_add(&k->iv, w);
    if (k->iv.duration_s >= 1.0) {
        if (pq3_interval_finish(&k->iv) == 0)
            k->checksum += k->iv.p_avg + k->iv.u2_pct + k->iv.ph[2].thd_v;
        k->intervals++;
        pq3_interval_reset(&k->iv);
    }
}

/* Three-phase, as meterd runs it: 100 ms blocks, windows into 1 s intervals. */
static int analyse3(const struct signal *s, enum pq3_wiring wiring, unsigned mask, struct sink3 *k)
{
    struct pq3_config cfg = {
        .rate_hz = RATE, .nominal_hz = 50, .wiring = wiring, .channel_mask = mask};
    struct pq3_analyzer *a;
    const size_t block = (size_t)RATE / 10;
    /* a sequential ADC's skew corrected, as meterd would configure it */
    for (unsigned c = 0; c < PQ3_CHANNELS; c++)
        cfg.phase_cal_deg[c] = -0.35 * c;
    int r = pq3_analyzer_new(&cfg, &a);
    if (r)
        return r;
    memset(k, 0, sizeof(*k));
    for (size_t off = 0; off < s->n; off += block) {
        size_t n = s->n - off < block ? s->n - off : block;
        const float *ch[PQ3_CHANNELS];
        for (unsigned c = 0; c < PQ3_CHANNELS; c++)
            ch[c] = s->ch[c] + off;
        pq3_analyzer_feed(a, ch, n, on_window3, k);
    }
    pq3_analyzer_free(a);
    return 0;
}

struct sink1 {
    struct pq_interval iv;
    unsigned windows;
    double checksum;
};

static void on_window1(const struct pq_window *w, void *ctx)
{
    struct sink1 *k = ctx;
    k->windows++;
    pq_interval_add(&k->iv, w);
    if (k->iv.duration_s >= 1.0) {
        if (pq_interval_finish(&k->iv) == 0)
            k->checksum += k->iv.p_avg + k->iv.thd_v;
        pq_interval_reset(&k->iv);
    }
}

/* Single phase on va, ia: today's meter. */
static int analyse1(const struct signal *s, struct sink1 *k)
{
    struct pq_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .phase_cal_deg = -1.05};
    struct pq_analyzer *a;
    const size_t block = (size_t)RATE / 10;
    int r = pq_analyzer_new(&cfg, &a);
    if (r)
        return r;
    memset(k, 0, sizeof(*k));
    for (size_t off = 0; off < s->n; off += block) {
        size_t n = s->n - off < block ? s->n - off : block;
        pq_analyzer_feed(a, s->ch[0] + off, s->ch[3] + off, n, on_window1, k);
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

enum which { ONE_PHASE, STAR, ARON, CASES };
static const char *const case_names[CASES] = {"pq, 1 phase (2 channels)", "pq3 3p4w (6 channels)",
                                              "pq3 3p3w Aron (4 channels)"};

static int run_case(const struct signal *s, enum which c, double *ret_s, double *checksum,
                    unsigned *ret_windows)
{
    struct sink3 k3;
    struct sink1 k1;
    double t0 = cpu_s();
    int r;
    switch (c) {
    case ONE_PHASE:
        r = analyse1(s, &k1);
        *checksum += k1.checksum;
        *ret_windows = k1.windows;
        break;
    case STAR:
        r = analyse3(s, PQ3_3P4W, 0, &k3);
        *checksum += k3.checksum;
        *ret_windows = k3.windows;
        break;
    default:
        /* the same samples read as Aron (vab, vbc, ia, ic): the values mean nothing, the cost does
         */
        r = analyse3(s, PQ3_3P3W, 0x03u | 0x08u | 0x20u, &k3);
        *checksum += k3.checksum;
        *ret_windows = k3.windows;
        break;
    }
    *ret_s = cpu_s() - t0;
    return r;
}

static int bench(double seconds)
{
    struct signal s;
    double t[CASES][REPEAT], checksum = 0;
    unsigned windows[CASES] = {0};

    int r = signal_make(seconds, &s);
    if (r)
        return r;
    /* interleaved, so load from elsewhere falls on every case alike */
    for (int rep = 0; rep < REPEAT && !r; rep++)
        for (int c = 0; c < CASES && !r; c++)
            r = run_case(&s, (enum which)c, &t[c][rep], &checksum, &windows[c]);
    signal_free(&s);
    if (r)
        return r;
    printf("three-phase analysis at %.0f Hz per channel, %.0f s of signal, best of %d runs "
           "(median in brackets):\n",
           RATE, seconds, REPEAT);
    double base = 0;
    for (int c = 0; c < CASES; c++) {
        qsort(t[c], REPEAT, sizeof(double), cmp_double);
        double ms = t[c][0] / seconds * 1e3, med = t[c][REPEAT / 2] / seconds * 1e3;
        if (c == ONE_PHASE)
            base = ms;
        printf("  %-28s %u windows: %.3f ms CPU per s of signal = %.3f %% of one core "
               "(%.3f %%); aim < %.0f %%, ratio %.3f; %.2fx the single phase\n",
               case_names[c], windows[c], ms, ms / 10, med / 10, AIM_PCT, ms / 10 / AIM_PCT,
               base > 0 ? ms / base : 0);
    }
    if (checksum == 0)
        printf("  (checksum 0)\n");
    return 0;
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

    if (argc == 3 && strcmp(argv[1], "--callgrind") == 0) {
        struct signal s;
        struct sink3 k;
        if (parse_seconds(argv[2], &seconds)) {
            fprintf(stderr, "bench_pq3_cost: --callgrind SECONDS(1..%d)\n", MAX_SECONDS);
            return 2;
        }
        if (signal_make(seconds, &s))
            return 1;
        int r = analyse3(&s, PQ3_3P4W, 0, &k);
        printf("analysed %.0f s of 6 channels at %.0f Hz: %u windows\n", seconds, RATE, k.windows);
        signal_free(&s);
        return r ? 1 : 0;
    }
    if (argc > 2 || (argc == 2 && parse_seconds(argv[1], &seconds))) {
        fprintf(stderr, "usage: bench_pq3_cost [SECONDS (1..%d)] | --callgrind SECONDS\n",
                MAX_SECONDS);
        return 2;
    }
    return bench(seconds) ? 1 : 0;
}
