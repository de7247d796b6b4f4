#include "captures.h"

#include <errno.h>
#include <stdio.h>

#include "analysis.h"
#include "dynbuf.h"
#include "jsonw.h"
#include "pq.h"
#include "pq3.h"

/* Where each capture channel goes among pq3's six (pq3.h's table); -1 for single phase's. */
static int pq3_index(enum capture_channel ch)
{
    switch (ch) {
    case CAPTURE_CH_VA:
    case CAPTURE_CH_VAB:
        return PQ3_CH_VA;
    case CAPTURE_CH_VB:
    case CAPTURE_CH_VBC:
        return PQ3_CH_VB;
    case CAPTURE_CH_VC:
    case CAPTURE_CH_VCA:
        return PQ3_CH_VC;
    case CAPTURE_CH_IA:
        return PQ3_CH_IA;
    case CAPTURE_CH_IB:
        return PQ3_CH_IB;
    case CAPTURE_CH_IC:
        return PQ3_CH_IC;
    default:
        return -1;
    }
}

static const char *const sequence_names[] = {
    [PQ3_SEQ_UNKNOWN] = NULL, [PQ3_SEQ_ABC] = "abc", [PQ3_SEQ_ACB] = "acb"};

/* The totals, line-to-line voltages, neutral, unbalance and sequence: the object's tail. */
static void write_totals(struct jsonw *w, const struct pq3_interval *iv)
{
    static const char *const pair[PQ3_PHASES] = {"ab", "bc", "ca"};
    static const char *const phase[PQ3_PHASES] = {"a", "b", "c"};
    bool fundamental = iv->fund_windows > 0;
    jsonw_kstr(w, "wiring", pq3_wiring_name(iv->wiring));
    jsonw_key(w, "frequency_hz");
    if (fundamental)
        jsonw_double(w, iv->freq_avg);
    else
        jsonw_null(w);
    jsonw_kdouble(w, "voltage", iv->voltage_avg);
    jsonw_kdouble(w, "current", iv->current_avg);
    jsonw_kdouble(w, "p_w", iv->p_avg);
    jsonw_kdouble(w, "q_var", iv->q_avg);
    jsonw_kdouble(w, "s_va", iv->s_avg);
    jsonw_kdouble(w, "pf", iv->pf);
    jsonw_kdouble(w, "thd_v", iv->thd_v);
    jsonw_kdouble(w, "thd_i", iv->thd_i);
    jsonw_key(w, "voltage_ll");
    jsonw_obj_begin(w);
    for (int k = 0; k < PQ3_PHASES; k++)
        jsonw_kdouble(w, pair[k], iv->vll_avg[k]);
    jsonw_obj_end(w);
    for (int which = 0; which < 2; which++) {
        jsonw_key(w, which ? "angle_i_deg" : "angle_v_deg");
        jsonw_obj_begin(w);
        for (int k = 0; k < PQ3_PHASES; k++)
            jsonw_kdouble(w, phase[k], which ? iv->angle_i_deg[k] : iv->angle_v_deg[k]);
        jsonw_obj_end(w);
    }
    jsonw_key(w, "neutral_irms");
    if (iv->wiring == PQ3_3P4W)
        jsonw_double(w, iv->in_avg);
    else
        jsonw_null(w);
    jsonw_kdouble(w, "unbalance_u2_pct", iv->u2_pct);
    jsonw_kdouble(w, "unbalance_u0_pct", iv->u0_pct);
    jsonw_kdouble(w, "unbalance_i2_pct", iv->i2_pct);
    jsonw_key(w, "sequence");
    if (sequence_names[iv->sequence])
        jsonw_str(w, sequence_names[iv->sequence]);
    else
        jsonw_null(w);
    if (fundamental) {
        jsonw_kdouble(w, "frequency_min_hz", iv->freq_min);
        jsonw_kdouble(w, "frequency_max_hz", iv->freq_max);
    }
    jsonw_kint(w, "windows", iv->windows);
    jsonw_kdouble(w, "duration_s", iv->duration_s);
}

/*
 * The analysis of a three-phase interval: {"phases":{"a":{...},"b":{...},"c":{...}}, <totals>},
 * each phase the single-phase analysis object of that phase.
 */
static int encode3(const struct pq3_interval *iv, struct dynbuf *out)
{
    int r = dynbuf_addstr(out, "{\"phases\":{");
    for (unsigned k = 0; k < iv->phases && !r; k++) {
        struct analysis a;
        analysis_from_pq(&iv->ph[k], &a);
        r = dynbuf_addf(out, "%s\"%c\":", k ? "," : "", 'a' + k);
        if (!r)
            r = analysis_encode(&a, ANALYSIS_SERVER, out);
    }
    struct dynbuf tail;
    dynbuf_init(&tail, ANALYSIS_JSON_MAX);
    struct jsonw w;
    jsonw_init(&w, &tail);
    jsonw_obj_begin(&w);
    write_totals(&w, iv);
    jsonw_obj_end(&w);
    if (!r)
        r = jsonw_error(&w);
    if (!r)
        r = dynbuf_addstr(out, "},");
    if (!r)
        r = dynbuf_add(out, tail.buf + 1, tail.len - 1); /* the tail's members and its } */
    dynbuf_free(&tail);
    return r;
}

/* The three-phase analysis of c as JSON in out (common/pq3.h); NULL, or why there is none. */
static const char *analyse3(const struct capture_samples *c, struct dynbuf *out)
{
    struct pq3_config cfg = {
        .rate_hz = c->rate_hz,
        .nominal_hz = c->nominal_hz,
        .wiring = c->layout.wiring == CAPTURE_WIRING_3P4W ? PQ3_3P4W : PQ3_3P3W,
    };
    const float *ch[PQ3_CHANNELS] = {0};
    for (size_t k = 0; k < c->layout.count; k++) {
        int at = pq3_index(c->layout.ch[k]);
        if (at < 0)
            return "not analysed: a channel the three-phase analysis does not know";
        cfg.channel_mask |= PQ3_CH_BIT(at);
        cfg.phase_cal_deg[at] = c->layout.cal_deg[k];
        ch[at] = c->x[k];
    }
    struct pq3_interval iv;
    int r = pq3_analyze_capture(&cfg, ch, c->n, &iv);
    if (r == -ENODATA)
        return "too short to analyse (one window is 10 cycles at 50 Hz, 12 at 60 Hz)";
    if (r)
        return r == -ENOMEM ? "not analysed: out of memory"
                            : "not analysed: the sample rate or calibration is out of range";
    if (encode3(&iv, out))
        return "not analysed: the analysis did not fit";
    return NULL;
}

bool captures_timed_out(const struct capture_rec *cap, int64_t now_ms)
{
    return cap->status == CAPTURE_PENDING && now_ms - cap->requested_ms > CAPTURES_TIMEOUT_MS;
}

void captures_show_timeout(struct capture_rec *cap)
{
    cap->status = CAPTURE_FAILED;
    cap->received_ms = cap->requested_ms + CAPTURES_TIMEOUT_MS;
    snprintf(cap->message, sizeof(cap->message), "%s", CAPTURES_TIMEOUT_MESSAGE);
}

int captures_expire(struct store *st, int64_t device_pk, const struct capture_rec *cap)
{
    return store_capture_fail(st, device_pk, cap->request_id, CAPTURES_TIMEOUT_MESSAGE,
                              cap->requested_ms + CAPTURES_TIMEOUT_MS);
}

/* The analysis of c as JSON in out; NULL, or why there is none. */
static const char *analyse(const struct capture_samples *c, struct dynbuf *out)
{
    if (c->layout.wiring != CAPTURE_WIRING_1P2W)
        return analyse3(c, out);
    struct pq_config cfg = {
        .rate_hz = c->rate_hz, .nominal_hz = c->nominal_hz, .phase_cal_deg = c->phase_cal_deg};
    struct pq_interval iv;
    struct analysis a;
    int r = pq_analyze_capture(&cfg, c->v, c->i, c->n, &iv);
    if (r == -ENODATA)
        return "too short to analyse (one window is 10 cycles at 50 Hz, 12 at 60 Hz)";
    if (r)
        return r == -ENOMEM ? "not analysed: out of memory"
                            : "not analysed: the sample rate or calibration is out of range";
    analysis_from_pq(&iv, &a);
    if (analysis_encode(&a, ANALYSIS_SERVER, out))
        return "not analysed: the analysis did not fit";
    return NULL;
}

int captures_complete(struct store *st, int64_t device_pk, const char *request_id,
                      const struct capture_samples *c, int64_t now_ms, const char **ret_note)
{
    struct dynbuf analysis;
    dynbuf_init(&analysis, ANALYSIS_JSON_MAX);
    const char *note = analyse(c, &analysis);
    struct capture_data d = {
        .rate_hz = c->rate_hz,
        .nominal_hz = c->nominal_hz,
        .start_ms = c->start_ms,
        .received_ms = now_ms,
        .samples = c->n,
        .v = c->v,
        .i = c->i,
        .analysis = note ? NULL : dynbuf_str(&analysis),
        .message = note,
    };
    if (c->layout.wiring != CAPTURE_WIRING_1P2W) {
        d.wiring = capture_wiring_name(c->layout.wiring);
        d.channels = c->layout.count;
        for (size_t k = 0; k < c->layout.count; k++) {
            d.channel[k] = capture_channel_name(c->layout.ch[k]);
            d.x[k] = c->x[k];
        }
    }
    int r = store_capture_complete(st, device_pk, request_id, &d);
    dynbuf_free(&analysis);
    *ret_note = note;
    return r;
}
