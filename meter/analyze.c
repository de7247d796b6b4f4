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
#include "jsonw.h"
#include "pq.h"
#include "pq3.h"

#define LINE_MAX_LEN 256

void analyze_samples_free(struct analyze_samples *s)
{
    free(s->v);
    free(s->i);
    memset(s, 0, sizeof(*s));
}

void analyze_channels_free(struct analyze_channels *c)
{
    for (unsigned k = 0; k < PQ3_CHANNELS; k++)
        free(c->ch[k]);
    memset(c, 0, sizeof(*c));
}

static int grow(struct analyze_channels *c, size_t max)
{
    size_t cap = c->cap ? c->cap * 2 : 65536;
    if (cap > max)
        cap = max;
    for (unsigned k = 0; k < c->columns; k++) {
        float *n = realloc(c->ch[k], cap * sizeof(float));
        if (!n)
            return -ENOMEM;
        c->ch[k] = n;
    }
    c->cap = cap;
    return 0;
}

/* Parses `columns` comma-separated numbers with optional blanks around them. */
static bool parse_row(const char *s, unsigned columns, double *ret)
{
    double x[PQ3_CHANNELS];
    for (unsigned k = 0; k < columns; k++) {
        char *end;
        if (k > 0 && *s++ != ',')
            return false;
        x[k] = strtod(s, &end);
        if (end == s || !isfinite(x[k]))
            return false;
        s = end;
        while (*s == ' ' || *s == '\t')
            s++;
    }
    if (*s != '\0')
        return false;
    memcpy(ret, x, columns * sizeof(double));
    return true;
}

static bool has_letter(const char *s)
{
    for (; *s; s++)
        if (isalpha((unsigned char)*s))
            return true;
    return false;
}

static const char *const count_words[] = {"", "one", "two", "three", "four", "five", "six"};

int analyze_read_columns(FILE *in, unsigned columns, const char *expected, size_t max_samples,
                         struct analyze_channels *ret, char *err, size_t errlen)
{
    struct analyze_channels c = {.columns = columns};
    char line[LINE_MAX_LEN];
    unsigned long lineno = 0;
    bool seen_content = false;
    int r = 0;

    if (columns == 0 || columns > PQ3_CHANNELS) {
        snprintf(err, errlen, "cannot read %u columns", columns);
        return -EINVAL;
    }
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
        double x[PQ3_CHANNELS];
        if (!parse_row(p, columns, x)) {
            if (!seen_content && has_letter(p)) {
                seen_content = true; /* a header such as "v,i" */
                continue;
            }
            snprintf(err, errlen, "line %lu: expected '%s' (%s numbers), got '%.40s'", lineno,
                     expected, count_words[columns], p);
            r = -EINVAL;
            goto out;
        }
        seen_content = true;
        if (c.n == c.cap) {
            if (c.n >= max_samples) {
                snprintf(err, errlen, "line %lu: more than %zu samples; analyse a shorter capture",
                         lineno, max_samples);
                r = -E2BIG;
                goto out;
            }
            if ((r = grow(&c, max_samples))) {
                snprintf(err, errlen, "out of memory after %zu samples", c.n);
                goto out;
            }
        }
        for (unsigned k = 0; k < columns; k++) {
            if (fabs(x[k]) > FLT_MAX) {
                snprintf(err, errlen, "line %lu: value out of range for a sample", lineno);
                r = -EINVAL;
                goto out;
            }
        }
        for (unsigned k = 0; k < columns; k++)
            c.ch[k][c.n] = (float)x[k];
        c.n++;
    }
    if (ferror(in)) {
        snprintf(err, errlen, "read error after line %lu", lineno);
        r = -EIO;
    }
out:
    if (r) {
        analyze_channels_free(&c);
        return r;
    }
    *ret = c;
    return 0;
}

int analyze_read_csv(FILE *in, size_t max_samples, struct analyze_samples *ret, char *err,
                     size_t errlen)
{
    struct analyze_channels c;
    int r = analyze_read_columns(in, 2, "v,i", max_samples, &c, err, errlen);
    if (r)
        return r;
    ret->v = c.ch[0];
    ret->i = c.ch[1];
    ret->n = c.n;
    ret->cap = c.cap;
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

int analyze3_compute(const struct analyze_channels *c, enum pq3_wiring wiring, double rate_hz,
                     double nominal_hz, struct analysis3 *ret, char *err, size_t errlen)
{
    struct pq3_config cfg = {.rate_hz = rate_hz, .nominal_hz = nominal_hz, .wiring = wiring};
    struct analysis3 a;

    if (wiring == PQ3_1P2W || c->columns != PQ3_CHANNELS) {
        snprintf(err, errlen, "a %s analysis needs six channels", pq3_wiring_name(wiring));
        return -EINVAL;
    }
    memset(&a, 0, sizeof(a));
    int r = pq3_analyze_capture(&cfg, (const float *const *)c->ch, c->n, &a.iv);
    if (r == -ENOMEM) {
        snprintf(err, errlen, "out of memory analysing %zu samples", c->n);
        return r;
    }
    if (r == -EINVAL) {
        snprintf(err, errlen, "cannot analyse at %g Hz with %g Hz mains (rate 1000..1000000 Hz)",
                 rate_hz, nominal_hz);
        return r;
    }
    if (r || a.iv.fund_windows == 0) {
        snprintf(err, errlen,
                 "no fundamental found: no window of %u cycles of a 40..70 Hz voltage on phase a "
                 "in %zu samples at %g Hz",
                 pq_window_cycles(nominal_hz), c->n, rate_hz);
        return -EINVAL;
    }
    a.samples = c->n;
    a.periods = a.iv.fund_windows * pq_window_cycles(nominal_hz);
    *ret = a;
    return 0;
}

/* Six decimals, as the single-phase output (tiny residues print as 0). */
static void kround(struct jsonw *w, const char *key, double x)
{
    jsonw_kdouble(w, key, round(x * 1e6) / 1e6);
}

static void harmonics(struct jsonw *w, const char *key, const double *h)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (unsigned k = 0; k <= PQ_MAX_HARMONIC; k++)
        jsonw_double(w, round(h[k] * 1e6) / 1e6);
    jsonw_arr_end(w);
}

static const char *sequence_name(enum pq3_sequence s)
{
    return s == PQ3_SEQ_ABC ? "abc" : s == PQ3_SEQ_ACB ? "acb" : NULL;
}

int analyze3_encode(const struct analysis3 *a, struct dynbuf *out)
{
    const struct pq3_interval *iv = &a->iv;
    static const char *const ll_keys[PQ3_PHASES] = {"voltage_ab", "voltage_bc", "voltage_ca"};
    struct jsonw w;

    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    kround(&w, "frequency_hz", iv->freq_avg);
    kround(&w, "p_w", iv->p_avg);
    kround(&w, "q_var", iv->q_avg);
    kround(&w, "s_va", iv->s_avg);
    kround(&w, "pf", iv->pf);
    jsonw_key(&w, "phases");
    jsonw_obj_begin(&w);
    for (unsigned p = 0; p < iv->phases; p++) {
        struct pq3_phase ph;
        const char name[2] = {(char)('a' + p), '\0'};
        pq3_interval_phase(iv, p, &ph);
        jsonw_key(&w, name);
        jsonw_obj_begin(&w);
        kround(&w, "vrms", ph.vrms);
        kround(&w, "irms", ph.irms);
        kround(&w, "p_w", ph.p_w);
        kround(&w, "q_var", ph.q_var);
        kround(&w, "s_va", ph.s_va);
        kround(&w, "pf", ph.pf);
        kround(&w, "phase_deg", ph.phase_deg);
        kround(&w, "angle_v_deg", ph.angle_v_deg);
        kround(&w, "angle_i_deg", ph.angle_i_deg);
        kround(&w, "thd_v", ph.thd_v);
        kround(&w, "thd_i", ph.thd_i);
        harmonics(&w, "harmonics_v", ph.harmonics_v);
        harmonics(&w, "harmonics_i", ph.harmonics_i);
        jsonw_obj_end(&w);
    }
    jsonw_obj_end(&w);
    kround(&w, "unbalance_u2_pct", iv->u2_pct);
    if (iv->wiring == PQ3_3P4W) {
        kround(&w, "unbalance_u0_pct", iv->u0_pct);
        kround(&w, "neutral_irms", iv->in_avg);
    } else { /* three wires: no zero sequence voltage, no neutral */
        jsonw_key(&w, "unbalance_u0_pct");
        jsonw_null(&w);
        jsonw_key(&w, "neutral_irms");
        jsonw_null(&w);
    }
    jsonw_kstr(&w, "sequence", sequence_name(iv->sequence));
    kround(&w, "unbalance_i2_pct", iv->i2_pct);
    for (unsigned p = 0; p < PQ3_PHASES; p++)
        kround(&w, ll_keys[p], iv->vll_avg[p]);
    jsonw_kstr(&w, "wiring", pq3_wiring_name(iv->wiring));
    jsonw_kint(&w, "samples", (int64_t)a->samples);
    jsonw_kint(&w, "periods", a->periods);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}

int analyze3_write_json(const struct analysis3 *a, FILE *out)
{
    struct dynbuf b;
    int r = 0;

    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    if (analyze3_encode(a, &b) || fputs(dynbuf_str(&b), out) == EOF || fputc('\n', out) == EOF ||
        fflush(out))
        r = -EIO;
    dynbuf_free(&b);
    return r;
}

struct analyze_options {
    double rate_hz;
    double nominal_hz;
    char *wiring;
};

static const struct config_option analyze_table[] = {
    {"rate", CONFIG_DOUBLE, offsetof(struct analyze_options, rate_hz), 1000, 1e6, NULL, "HZ",
     "sample rate of the capture, per channel (required)"},
    {"nominal", CONFIG_DOUBLE, offsetof(struct analyze_options, nominal_hz), 40, 70, "50", "HZ",
     "nominal mains frequency"},
    {"wiring", CONFIG_STRING, offsetof(struct analyze_options, wiring), 0, 0, "1p2w",
     "1p2w|3p4w|3p3w", "the capture's wiring, which sets the CSV columns"},
    {NULL, CONFIG_DOUBLE, 0, 0, 0, NULL, NULL, NULL},
};

void analyze_print_help(FILE *out)
{
    fprintf(out,
            "meterd analyze --rate HZ [--nominal 50] [--wiring 1p2w] < samples.csv\n"
            "  Reads CSV lines \"v,i\" (volts, amperes; one header line, blank lines and\n"
            "  CRLF are accepted; at most %u samples) and prints one JSON object:\n"
            "  frequency_hz, vrms, irms, p_w, q_var, s_va, pf, thd_v, thd_i (%% of the\n"
            "  fundamental, harmonics 2..%d), phase_deg (fundamental current lags voltage\n"
            "  by this), harmonics_v[], harmonics_i[] (%d elements; element h is harmonic\n"
            "  h in %% of the fundamental: [0] = 0 as DC is not reported, [1] = 100;\n"
            "  harmonics at or above half the sample rate read 0), samples, periods\n"
            "  (fundamental periods analysed). The capture is analysed in windows of\n"
            "  10 cycles (12 at 60 Hz) averaged; it needs about 0.3 s for one.\n"
            "meterd analyze --rate HZ --wiring 3p4w|3p3w < samples.csv\n"
            "  Three-phase: CSV lines \"va,vb,vc,ia,ib,ic\" (3p4w: phase-to-neutral volts,\n"
            "  line amperes) or \"vab,vbc,vca,ia,ib,ic\" (3p3w: line-to-line volts; at most\n"
            "  %u lines). Prints frequency_hz (from phase a), totals p_w, q_var, s_va, pf,\n"
            "  phases {a, b, c: vrms, irms, p_w, q_var, s_va, pf, phase_deg, angle_v_deg,\n"
            "  angle_i_deg (fundamentals against phase a's voltage), thd_v, thd_i,\n"
            "  harmonics_v[], harmonics_i[]} (3p3w: against the virtual star point),\n"
            "  unbalance_u2_pct, unbalance_u0_pct, neutral_irms (both null for 3p3w),\n"
            "  sequence (\"abc\" or \"acb\"), unbalance_i2_pct, voltage_ab, voltage_bc,\n"
            "  voltage_ca, wiring, samples, periods.\n",
            ANALYZE_MAX_SAMPLES, ANALYSIS_HARMONICS, ANALYSIS_HARMONICS + 1, ANALYZE3_MAX_SAMPLES);
    config_print_help(analyze_table, out);
}

/* The three-phase command after its options were read. */
static int analyze3_main(const struct analyze_options *o, enum pq3_wiring wiring)
{
    struct analyze_channels c;
    struct analysis3 a;
    char err[ANALYZE_ERR_LEN];
    const char *expected = wiring == PQ3_3P4W ? "va,vb,vc,ia,ib,ic" : "vab,vbc,vca,ia,ib,ic";

    int r = analyze_read_columns(stdin, PQ3_CHANNELS, expected, ANALYZE3_MAX_SAMPLES, &c, err,
                                 sizeof(err));
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        return r == -ENOMEM || r == -EIO ? 1 : 2;
    }
    r = analyze3_compute(&c, wiring, o->rate_hz, o->nominal_hz, &a, err, sizeof(err));
    analyze_channels_free(&c);
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        return r == -ENOMEM ? 1 : 2;
    }
    if (analyze3_write_json(&a, stdout)) {
        fprintf(stderr, "meterd analyze: cannot write the result\n");
        return 1;
    }
    return 0;
}

int analyze_main(int argc, char **argv, int first)
{
    struct analyze_options o = {0};
    struct analyze_samples s = {0};
    struct analysis a;
    enum pq3_wiring wiring;
    char cerr[CONFIG_ERR_LEN];
    char err[ANALYZE_ERR_LEN];
    int status = 2;

    for (int k = first; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            analyze_print_help(stdout);
            return 0;
        }
    }
    if (config_defaults(analyze_table, &o, cerr) ||
        config_parse_args(analyze_table, &o, argc, argv, first, cerr)) {
        fprintf(stderr, "meterd analyze: %s\n", cerr);
        goto out;
    }
    if (o.rate_hz == 0) {
        fprintf(stderr, "meterd analyze: --rate HZ is required (the capture's sample rate)\n");
        goto out;
    }
    if (pq3_wiring_parse(o.wiring, &wiring)) {
        fprintf(stderr, "meterd analyze: --wiring: '%s' is not 1p2w, 3p4w or 3p3w\n", o.wiring);
        goto out;
    }
    if (wiring != PQ3_1P2W) {
        status = analyze3_main(&o, wiring);
        goto out;
    }
    int r = analyze_read_csv(stdin, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err));
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        status = r == -ENOMEM || r == -EIO ? 1 : 2;
        goto out;
    }
    r = analyze_compute(s.v, s.i, s.n, o.rate_hz, o.nominal_hz, &a, err, sizeof(err));
    analyze_samples_free(&s);
    if (r) {
        fprintf(stderr, "meterd analyze: %s\n", err);
        goto out;
    }
    if (analyze_write_json(&a, stdout)) {
        fprintf(stderr, "meterd analyze: cannot write the result\n");
        status = 1;
        goto out;
    }
    status = 0;
out:
    config_free(analyze_table, &o);
    return status;
}
