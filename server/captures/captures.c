#include "captures.h"

#include <errno.h>
#include <stdio.h>

#include "analysis.h"
#include "dynbuf.h"
#include "pq.h"

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
    int r = store_capture_complete(st, device_pk, request_id, &d);
    dynbuf_free(&analysis);
    *ret_note = note;
    return r;
}
