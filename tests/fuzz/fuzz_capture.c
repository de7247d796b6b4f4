/*
 * The server's capture decoder (common/wire/capture.c) on a
 * meters/<id>/capture payload, both steps as ingest runs them:
 * capture_parse_head() then capture_decode(), at a fixed "now".
 *
 * Checks: the request id is valid; a decoded capture's rate, start, sample
 * count, mains frequency, layout (wiring, channels in their order) and phase
 * corrections are in range and every sample is finite and within the limits;
 * single phase has v and i as its two channels, three-phase has neither; the
 * meter's encoding of those samples (capture_encode for single phase,
 * capture_encode_set for any wiring) decodes again to the same samples, bit
 * for bit, with the same metadata (the rate to the encoder's six decimals).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "fuzz.h"
#include "jsonw.h"
#include "timeutil.h"

static void check_ranges(const struct capture_samples *s)
{
    FUZZ_CHECK(s->rate_hz >= CAPTURE_RATE_MIN_HZ && s->rate_hz <= CAPTURE_RATE_MAX_HZ);
    FUZZ_CHECK(s->start_ms >= TIME_MIN_VALID_MS && s->start_ms <= FUZZ_NOW_MS + 24 * 3600 * 1000);
    FUZZ_CHECK(s->n >= 1 && (double)s->n <= floor(s->rate_hz * CAPTURE_MAX_SECONDS) + 1);
    FUZZ_CHECK(s->nominal_hz == 50 || s->nominal_hz == 60);
    FUZZ_CHECK(fabs(s->phase_cal_deg) <= CAPTURE_MAX_PHASE_CAL);
    FUZZ_CHECK(capture_layout_valid(&s->layout));
    FUZZ_CHECK(s->layout.count >= 2 && s->layout.count <= CAPTURE_MAX_CHANNELS);
    if (s->layout.wiring == CAPTURE_WIRING_1P2W)
        FUZZ_CHECK(s->v == s->x[0] && s->i == s->x[1] && s->phase_cal_deg == s->layout.cal_deg[1]);
    else
        FUZZ_CHECK(!s->v && !s->i && s->phase_cal_deg == 0);
    for (size_t c = 0; c < CAPTURE_MAX_CHANNELS; c++) {
        FUZZ_CHECK((c < s->layout.count) == (s->x[c] != NULL));
        if (c >= s->layout.count)
            continue;
        double limit =
            capture_channel_is_current(s->layout.ch[c]) ? CAPTURE_MAX_AMPS : CAPTURE_MAX_VOLTS;
        for (size_t k = 0; k < s->n; k++)
            FUZZ_CHECK(isfinite(s->x[c][k]) && fabs(s->x[c][k]) <= limit);
    }
}

static void check_round_trip(const char *id, const struct capture_samples *s)
{
    /* The rate as the encoder writes it may hold fewer samples (100.1000004 Hz: 1002, 100.1: 1001).
     */
    char text[32];
    jsonw_format_double(s->rate_hz, text);
    if ((double)s->n > floor(strtod(text, NULL) * CAPTURE_MAX_SECONDS) + 1)
        return;

    const struct capture_meta meta = {
        .id = id,
        .rate_hz = s->rate_hz,
        .start_ms = s->start_ms,
        .nominal_hz = s->nominal_hz,
        .phase_cal_deg = s->phase_cal_deg,
    };
    struct dynbuf b;
    json_t *root;
    char id2[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
    struct capture_samples again;
    const float *x[CAPTURE_MAX_CHANNELS];
    for (size_t c = 0; c < CAPTURE_MAX_CHANNELS; c++)
        x[c] = s->x[c];
    dynbuf_init(&b, capture_payload_max_set(s->n, s->layout.count));
    if (s->layout.wiring == CAPTURE_WIRING_1P2W)
        FUZZ_CHECK(capture_encode(&meta, s->v, s->i, s->n, &b) == 0);
    else
        FUZZ_CHECK(capture_encode_set(&meta, &s->layout, x, s->n, &b) == 0);
    FUZZ_CHECK(capture_parse_head(b.buf, b.len, &root, id2, err) == 0 && strcmp(id, id2) == 0);
    FUZZ_CHECK(capture_decode(root, FUZZ_NOW_MS, &again, err) == 0);
    FUZZ_CHECK(again.n == s->n && again.start_ms == s->start_ms);
    FUZZ_CHECK(fabs(again.rate_hz - s->rate_hz) <= 1e-6 && again.nominal_hz == s->nominal_hz);
    FUZZ_CHECK(fabs(again.phase_cal_deg - s->phase_cal_deg) <= 1e-6);
    FUZZ_CHECK(again.layout.wiring == s->layout.wiring && again.layout.count == s->layout.count);
    for (size_t c = 0; c < s->layout.count; c++) {
        FUZZ_CHECK(again.layout.ch[c] == s->layout.ch[c]);
        FUZZ_CHECK(fabs(again.layout.cal_deg[c] - s->layout.cal_deg[c]) <= 1e-6);
        FUZZ_CHECK(memcmp(again.x[c], s->x[c], s->n * sizeof(float)) == 0);
    }
    capture_samples_free(&again);
    json_decref(root);
    dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root;
    char id[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
    struct capture_samples s;
    if (capture_parse_head(data, size, &root, id, err)) {
        FUZZ_CHECK(err[0]);
        return 0;
    }
    FUZZ_CHECK(command_id_valid(id));
    int r = capture_decode(root, FUZZ_NOW_MS, &s, err);
    if (r == 0) {
        check_ranges(&s);
        check_round_trip(id, &s);
        capture_samples_free(&s);
    } else {
        FUZZ_CHECK((r == -EINVAL || r == -ENOMEM) && err[0]);
    }
    json_decref(root);
    return 0;
}
