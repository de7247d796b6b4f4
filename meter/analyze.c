#include "analyze.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dynbuf.h"
#include "pq.h"

#define LINE_MAX_LEN 256

void analyze_samples_free(struct analyze_samples *s)
{
    free(s->v);
    free(s->i);
    memset(s, 0, sizeof(*s));
}

static int grow(struct analyze_samples *s, size_t max)
{
    size_t cap = s->cap ? s->cap * 2 : 65536;
    if (cap > max)
        cap = max;
    float *nv = realloc(s->v, cap * sizeof(float));
    if (!nv)
        return -ENOMEM;
    s->v = nv;
    float *ni = realloc(s->i, cap * sizeof(float));
    if (!ni)
        return -ENOMEM;
    s->i = ni;
    s->cap = cap;
    return 0;
}

/* Parses "v,i" with optional blanks around the numbers. */
static bool parse_pair(const char *s, double *ret_v, double *ret_i)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return false;
    s = end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s++ != ',')
        return false;
    double i = strtod(s, &end);
    if (end == s)
        return false;
    s = end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '\0' || !isfinite(v) || !isfinite(i))
        return false;
    *ret_v = v;
    *ret_i = i;
    return true;
}

static bool has_letter(const char *s)
{
    for (; *s; s++)
        if (isalpha((unsigned char)*s))
            return true;
    return false;
}

int analyze_read_csv(FILE *in, size_t max_samples, struct analyze_samples *ret, char *err,
                     size_t errlen)
{
    struct analyze_samples s = {0};
    char line[LINE_MAX_LEN];
    unsigned long lineno = 0;
    bool seen_content = false;
    int r = 0;

    while (fgets(line, sizeof(line), in)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(in)) {
            snprintf(err, errlen, "line %lu: longer than %d characters", lineno, LINE_MAX_LEN - 2);
            r = -EINVAL;
            goto out;
        }
        while (len > 0 && isspace((unsigned char)line[len - 1]))
            line[--len] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            continue;
        double v, i;
        if (!parse_pair(p, &v, &i)) {
            if (!seen_content && has_letter(p)) {
                seen_content = true; /* a header such as "v,i" */
                continue;
            }
            snprintf(err, errlen, "line %lu: expected 'v,i' (two numbers), got '%.40s'", lineno, p);
            r = -EINVAL;
            goto out;
        }
        seen_content = true;
        if (s.n == s.cap) {
            if (s.n >= max_samples) {
                snprintf(err, errlen, "line %lu: more than %zu samples; analyse a shorter capture",
                         lineno, max_samples);
                r = -E2BIG;
                goto out;
            }
            if ((r = grow(&s, max_samples))) {
                snprintf(err, errlen, "out of memory after %zu samples", s.n);
                goto out;
            }
        }
        if (fabs(v) > FLT_MAX || fabs(i) > FLT_MAX) {
            snprintf(err, errlen, "line %lu: value out of range for a sample", lineno);
            r = -EINVAL;
            goto out;
        }
        s.v[s.n] = (float)v;
        s.i[s.n] = (float)i;
        s.n++;
    }
    if (ferror(in)) {
        snprintf(err, errlen, "read error after line %lu", lineno);
        r = -EIO;
    }
out:
    if (r) {
        analyze_samples_free(&s);
        return r;
    }
    *ret = s;
    return 0;
}

int analyze_compute(const float *v, const float *i, size_t n, double rate_hz, double nominal_hz,
                    struct analysis *ret, char *err, size_t errlen)
{
    struct pq_config cfg = {.rate_hz = rate_hz, .nominal_hz = nominal_hz, .phase_cal_deg = 0};
    struct pq_interval iv;
    struct analysis a;

    int r = pq_analyze_capture(&cfg, v, i, n, &iv);
    if (r == -ENOMEM) {
        snprintf(err, errlen, "out of memory analysing %zu samples", n);
        return r;
    }
    if (r == -EINVAL) {
        snprintf(err, errlen, "cannot analyse at %g Hz with %g Hz mains (rate 1000..1000000 Hz)",
                 rate_hz, nominal_hz);
        return r;
    }
    if (r || iv.freq_windows == 0) {
        snprintf(err, errlen,
                 "no fundamental found: no window of %u cycles of a 40..70 Hz voltage in %zu "
                 "samples at %g Hz",
                 pq_window_cycles(nominal_hz), n, rate_hz);
        return -EINVAL;
    }
    analysis_from_pq(&iv, &a);
    a.samples = n;
    a.window_samples = (size_t)llround(iv.duration_s * rate_hz);
    a.periods = iv.freq_windows * pq_window_cycles(nominal_hz);
    *ret = a;
    return 0;
}

int analyze_write_json(const struct analysis *a, FILE *out)
{
    struct dynbuf b;
    int r = 0;

    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    if (analysis_encode(a, ANALYSIS_METERD, &b) || fputs(dynbuf_str(&b), out) == EOF ||
        fputc('\n', out) == EOF || fflush(out))
        r = -EIO;
    dynbuf_free(&b);
    return r;
}

struct analyze_options {
    double rate_hz;
    double nominal_hz;
};

static const struct config_option analyze_table[] = {
    {"rate", CONFIG_DOUBLE, offsetof(struct analyze_options, rate_hz), 1000, 1e6, NULL, "HZ",
     "sample rate of the capture, per channel (required)"},
    {"nominal", CONFIG_DOUBLE, offsetof(struct analyze_options, nominal_hz), 40, 70, "50", "HZ",
     "nominal mains frequency"},
    {NULL, CONFIG_DOUBLE, 0, 0, 0, NULL, NULL, NULL},
};

void analyze_print_help(FILE *out)
{
    fprintf(out,
            "meterd analyze --rate HZ [--nominal 50] < samples.csv\n"
            "  Reads CSV lines \"v,i\" (volts, amperes; one header line, blank lines and\n"
            "  CRLF are accepted; at most %u samples) and prints one JSON object:\n"
            "  frequency_hz, vrms, irms, p_w, q_var, s_va, pf, thd_v, thd_i (%% of the\n"
            "  fundamental, harmonics 2..%d), phase_deg (fundamental current lags voltage\n"
            "  by this), harmonics_v[], harmonics_i[] (%d elements; element h is harmonic\n"
            "  h in %% of the fundamental: [0] = 0 as DC is not reported, [1] = 100;\n"
            "  harmonics at or above half the sample rate read 0), samples, periods\n"
            "  (fundamental periods analysed). The capture is analysed in windows of\n"
            "  10 cycles (12 at 60 Hz) averaged; it needs about 0.3 s for one.\n",
            ANALYZE_MAX_SAMPLES, ANALYSIS_HARMONICS, ANALYSIS_HARMONICS + 1);
    config_print_help(analyze_table, out);
}

int analyze_main(int argc, char **argv, int first)
{
    struct analyze_options o = {0};
    struct analyze_samples s = {0};
    struct analysis a;
    char cerr[CONFIG_ERR_LEN];
    char err[ANALYZE_ERR_LEN];

    for (int k = first; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            analyze_print_help(stdout);
            return 0;
        }
    }
    if (config_defaults(analyze_table, &o, cerr) ||
        config_parse_args(analyze_table, &o, argc, argv, first, cerr)) {
        fprintf(stderr, "meterd analyze: %s\n", cerr);
        return 2;
    }
    if (o.rate_hz == 0) {
        fprintf(stderr, "meterd analyze: --rate HZ is required (the capture's sample rate)\n");
        return 2;
    }
    int r = analyze_read_csv(stdin, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err));
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        return r == -ENOMEM || r == -EIO ? 1 : 2;
    }
    r = analyze_compute(s.v, s.i, s.n, o.rate_hz, o.nominal_hz, &a, err, sizeof(err));
    analyze_samples_free(&s);
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        return 2;
    }
    if (analyze_write_json(&a, stdout)) {
        fprintf(stderr, "meterd analyze: cannot write the result\n");
        return 1;
    }
    return 0;
}
