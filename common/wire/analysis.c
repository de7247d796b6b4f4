#include "analysis.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "jsonw.h"
#include "pq.h"

_Static_assert(ANALYSIS_HARMONICS == PQ_MAX_HARMONIC, "one harmonic array for both");

/* A value of struct analysis, its key, and the struct pq_interval value it comes from. */
struct field {
    const char *key;
    size_t at, from;
    bool needs_fundamental; /* written only when some window found one */
};
#define FIELD(key, name, pq_name, needs_fundamental)                                               \
    {                                                                                              \
        key, offsetof(struct analysis, name), offsetof(struct pq_interval, pq_name),               \
            needs_fundamental                                                                      \
    }

/* What every analysis starts with after "frequency_hz", in its order. */
static const struct field head[] = {
    FIELD("vrms", vrms, vrms_avg, false),
    FIELD("irms", irms, irms_avg, false),
    FIELD("p_w", p_w, p_avg, false),
    FIELD("q_var", q_var, q_avg, false),
    FIELD("s_va", s_va, s_avg, false),
    FIELD("pf", pf, pf, false),
    FIELD("thd_v", thd_v, thd_v, false),
    FIELD("thd_i", thd_i, thd_i, false),
    FIELD("phase_deg", phase_deg, phase_deg, false),
};

/* ANALYSIS_SPREAD's values before "windows". */
static const struct field spread[] = {
    FIELD("vrms_min", vrms_min, vrms_min, false),
    FIELD("vrms_max", vrms_max, vrms_max, false),
    FIELD("irms_min", irms_min, irms_min, false),
    FIELD("irms_max", irms_max, irms_max, false),
    FIELD("frequency_min_hz", frequency_min_hz, freq_min, true),
    FIELD("frequency_max_hz", frequency_max_hz, freq_max, true),
};
#define N_HEAD   (sizeof(head) / sizeof(head[0]))
#define N_SPREAD (sizeof(spread) / sizeof(spread[0]))

static double get(const void *base, size_t offset)
{
    double x;
    memcpy(&x, (const char *)base + offset, sizeof(x));
    return x;
}

static void copy_fields(const struct field *f, size_t n, const struct pq_interval *iv,
                        struct analysis *ret)
{
    for (size_t k = 0; k < n; k++)
        memcpy((char *)ret + f[k].at, (const char *)iv + f[k].from, sizeof(double));
}

void analysis_from_pq(const struct pq_interval *iv, struct analysis *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->has_frequency = iv->freq_windows > 0;
    ret->frequency_hz = iv->freq_avg;
    copy_fields(head, N_HEAD, iv, ret);
    copy_fields(spread, N_SPREAD, iv, ret);
    memcpy(ret->harmonics_v, iv->harmonics_v, sizeof(ret->harmonics_v));
    memcpy(ret->harmonics_i, iv->harmonics_i, sizeof(ret->harmonics_i));
    ret->windows = iv->windows;
    ret->duration_s = iv->duration_s;
}

/* Writes x, rounded to six decimals first with ANALYSIS_ROUNDED (tiny residues print as 0). */
static void value(struct jsonw *w, double x, unsigned flags)
{
    jsonw_double(w, flags & ANALYSIS_ROUNDED ? round(x * 1e6) / 1e6 : x);
}

static void kvalue(struct jsonw *w, const char *key, double x, unsigned flags)
{
    jsonw_key(w, key);
    value(w, x, flags);
}

static void harmonics(struct jsonw *w, const char *key, const double *h, unsigned flags)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (int k = 0; k <= ANALYSIS_HARMONICS; k++)
        value(w, h[k], flags);
    jsonw_arr_end(w);
}

int analysis_encode(const struct analysis *a, unsigned flags, struct dynbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "frequency_hz");
    if (a->has_frequency)
        value(&w, a->frequency_hz, flags);
    else
        jsonw_null(&w);
    for (size_t k = 0; k < N_HEAD; k++)
        kvalue(&w, head[k].key, get(a, head[k].at), flags);
    harmonics(&w, "harmonics_v", a->harmonics_v, flags);
    harmonics(&w, "harmonics_i", a->harmonics_i, flags);
    if (flags & ANALYSIS_SPREAD) {
        for (size_t k = 0; k < N_SPREAD; k++)
            if (a->has_frequency || !spread[k].needs_fundamental)
                kvalue(&w, spread[k].key, get(a, spread[k].at), flags);
        jsonw_kint(&w, "windows", a->windows);
        kvalue(&w, "duration_s", a->duration_s, flags);
    }
    if (flags & ANALYSIS_COUNTS) {
        jsonw_kint(&w, "samples", (int64_t)a->samples);
        jsonw_kint(&w, "periods", a->periods);
    }
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}
