#include "analysis.h"

#include <math.h>
#include <string.h>

#include "jsonw.h"
#include "pq.h"

_Static_assert(ANALYSIS_HARMONICS == PQ_MAX_HARMONIC, "one harmonic array for both");

/* Where a value stands in the object. */
enum place {
    HEAD,        /* after "frequency_hz", in every analysis */
    SPREAD,      /* ANALYSIS_SPREAD, before "windows" */
    SPREAD_FREQ, /* the same, only when some window found a fundamental */
};

/* A value of struct analysis, its key, and the struct pq_interval value it comes from. */
struct field {
    const char *key;
    size_t at, from;
    enum place place;
};
#define FIELD(key, name, pq_name, place)                                                           \
    {                                                                                              \
        key, offsetof(struct analysis, name), offsetof(struct pq_interval, pq_name), place         \
    }

/* In the object's order. */
static const struct field fields[] = {
    FIELD("vrms", vrms, vrms_avg, HEAD),
    FIELD("irms", irms, irms_avg, HEAD),
    FIELD("p_w", p_w, p_avg, HEAD),
    FIELD("q_var", q_var, q_avg, HEAD),
    FIELD("s_va", s_va, s_avg, HEAD),
    FIELD("pf", pf, pf, HEAD),
    FIELD("thd_v", thd_v, thd_v, HEAD),
    FIELD("thd_i", thd_i, thd_i, HEAD),
    FIELD("phase_deg", phase_deg, phase_deg, HEAD),
    FIELD("vrms_min", vrms_min, vrms_min, SPREAD),
    FIELD("vrms_max", vrms_max, vrms_max, SPREAD),
    FIELD("irms_min", irms_min, irms_min, SPREAD),
    FIELD("irms_max", irms_max, irms_max, SPREAD),
    FIELD("frequency_min_hz", frequency_min_hz, freq_min, SPREAD_FREQ),
    FIELD("frequency_max_hz", frequency_max_hz, freq_max, SPREAD_FREQ),
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

void analysis_from_pq(const struct pq_interval *iv, struct analysis *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->has_frequency = iv->freq_windows > 0;
    ret->frequency_hz = iv->freq_avg;
    for (size_t k = 0; k < N_FIELDS; k++)
        memcpy((char *)ret + fields[k].at, (const char *)iv + fields[k].from, sizeof(double));
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

/* Writes the fields that stand at place, as "key":value. */
static void write_fields(struct jsonw *w, const struct analysis *a, enum place place,
                         unsigned flags)
{
    for (size_t k = 0; k < N_FIELDS; k++) {
        if (fields[k].place != place)
            continue;
        double x;
        memcpy(&x, (const char *)a + fields[k].at, sizeof(x));
        kvalue(w, fields[k].key, x, flags);
    }
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
    write_fields(&w, a, HEAD, flags);
    harmonics(&w, "harmonics_v", a->harmonics_v, flags);
    harmonics(&w, "harmonics_i", a->harmonics_i, flags);
    if (flags & ANALYSIS_SPREAD) {
        write_fields(&w, a, SPREAD, flags);
        if (a->has_frequency)
            write_fields(&w, a, SPREAD_FREQ, flags);
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
