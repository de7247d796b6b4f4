#include "analysis.h"

#include <math.h>
#include <string.h>

#include "jsonw.h"
#include "pq.h"

_Static_assert(ANALYSIS_HARMONICS == PQ_MAX_HARMONIC, "one harmonic array for both");

/* The values every analysis starts with, after "frequency_hz", in their order. */
static const struct {
    const char *key;
    size_t offset;
} head[] = {
    {"vrms", offsetof(struct analysis, vrms)},
    {"irms", offsetof(struct analysis, irms)},
    {"p_w", offsetof(struct analysis, p_w)},
    {"q_var", offsetof(struct analysis, q_var)},
    {"s_va", offsetof(struct analysis, s_va)},
    {"pf", offsetof(struct analysis, pf)},
    {"thd_v", offsetof(struct analysis, thd_v)},
    {"thd_i", offsetof(struct analysis, thd_i)},
    {"phase_deg", offsetof(struct analysis, phase_deg)},
};

void analysis_from_pq(const struct pq_interval *iv, struct analysis *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->has_frequency = iv->freq_windows > 0;
    ret->frequency_hz = iv->freq_avg;
    ret->vrms = iv->vrms_avg;
    ret->irms = iv->irms_avg;
    ret->p_w = iv->p_avg;
    ret->q_var = iv->q_avg;
    ret->s_va = iv->s_avg;
    ret->pf = iv->pf;
    ret->thd_v = iv->thd_v;
    ret->thd_i = iv->thd_i;
    ret->phase_deg = iv->phase_deg;
    memcpy(ret->harmonics_v, iv->harmonics_v, sizeof(ret->harmonics_v));
    memcpy(ret->harmonics_i, iv->harmonics_i, sizeof(ret->harmonics_i));
    ret->vrms_min = iv->vrms_min;
    ret->vrms_max = iv->vrms_max;
    ret->irms_min = iv->irms_min;
    ret->irms_max = iv->irms_max;
    ret->frequency_min_hz = iv->freq_min;
    ret->frequency_max_hz = iv->freq_max;
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
    for (size_t k = 0; k < sizeof(head) / sizeof(head[0]); k++)
        kvalue(&w, head[k].key, *(const double *)((const char *)a + head[k].offset), flags);
    harmonics(&w, "harmonics_v", a->harmonics_v, flags);
    harmonics(&w, "harmonics_i", a->harmonics_i, flags);
    if (flags & ANALYSIS_SPREAD) {
        kvalue(&w, "vrms_min", a->vrms_min, flags);
        kvalue(&w, "vrms_max", a->vrms_max, flags);
        kvalue(&w, "irms_min", a->irms_min, flags);
        kvalue(&w, "irms_max", a->irms_max, flags);
        if (a->has_frequency) {
            kvalue(&w, "frequency_min_hz", a->frequency_min_hz, flags);
            kvalue(&w, "frequency_max_hz", a->frequency_max_hz, flags);
        }
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
