/*
 * capture: the payload of meters/<id>/capture (docs/protocol.md, "Waveform
 * capture"), the samples a meter sends in answer to a capture command:
 * metadata plus one member per channel, each channel base64 of little-endian
 * IEEE 754 float32 ("f32le-base64").
 *
 * A single-phase meter (wiring "1p2w", the default) sends channels "v" and
 * "i" and a scalar phase_cal_deg, exactly as before three-phase metering. A
 * three-phase meter names its wiring and its channels: "3p4w" sends
 * va,vb,vc,ia,ib,ic; "3p3w" sends the wired line-to-line voltages (two or
 * three of vab,vbc,vca) and the wired currents (two or three of ia,ib,ic),
 * each group in that order; phase_cal_deg is then an object keyed by channel.
 *
 * The meter encodes it (capture_encode for one phase, capture_encode_set for
 * any wiring). The server decodes it in two steps, so it can look the request
 * up before paying for the samples: capture_parse_head() reads the JSON and
 * the request id, capture_decode() checks every other field and decodes every
 * channel.
 *
 * Ownership: the encoders append to the caller's dynbuf.
 * capture_parse_head() hands the parsed document to the caller, who releases
 * it with json_decref(); capture_decode() allocates the sample arrays of a
 * struct capture_samples, released with capture_samples_free() (NULL arrays
 * are fine). No I/O, no logging.
 */
#ifndef SMARTMETER_WIRE_CAPTURE_H
#define SMARTMETER_WIRE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "dynbuf.h"
#include "jsonutil.h" /* jansson's json_t, JSON_ERR_LEN */

/* What a capture may hold. */
#define CAPTURE_RATE_MIN_HZ   100.0
#define CAPTURE_RATE_MAX_HZ   204800.0
#define CAPTURE_MAX_SECONDS   10.0 /* samples: 1 .. rate_hz * 10 s (+1) per channel */
#define CAPTURE_MAX_VOLTS     1e7  /* instantaneous, either sign */
#define CAPTURE_MAX_AMPS      1e6
#define CAPTURE_MAX_PHASE_CAL 180.0
#define CAPTURE_MAX_CHANNELS  6
/* Room for any message the decoders write. */
#define CAPTURE_ERR_LEN (JSON_ERR_LEN + 64)

/* How the meter is wired; names as in the config's `wiring`. */
enum capture_wiring {
    CAPTURE_WIRING_1P2W, /* "1p2w": v, i */
    CAPTURE_WIRING_3P4W, /* "3p4w": va, vb, vc, ia, ib, ic */
    CAPTURE_WIRING_3P3W, /* "3p3w": 2-3 of vab, vbc, vca, then 2-3 of ia, ib, ic */
};

/* Every channel a capture may carry, in the order a capture lists them. */
enum capture_channel {
    CAPTURE_CH_V,
    CAPTURE_CH_I,
    CAPTURE_CH_VA,
    CAPTURE_CH_VB,
    CAPTURE_CH_VC,
    CAPTURE_CH_VAB,
    CAPTURE_CH_VBC,
    CAPTURE_CH_VCA,
    CAPTURE_CH_IA,
    CAPTURE_CH_IB,
    CAPTURE_CH_IC,
    CAPTURE_CH_COUNT
};

/* "1p2w", "3p4w", "3p3w". */
const char *capture_wiring_name(enum capture_wiring w);
/* The wiring named name; -EINVAL for any other text. */
int capture_wiring_parse(const char *name, enum capture_wiring *ret);
/* The channel named name ("va"); -EINVAL for any other text. */
int capture_channel_parse(const char *name, enum capture_channel *ret);
/* The channel's member name ("va"), unit ("V" or "A") and phase label ("a", "ab", "" for 1p). */
const char *capture_channel_name(enum capture_channel ch);
const char *capture_channel_unit(enum capture_channel ch);
const char *capture_channel_phase(enum capture_channel ch);
bool capture_channel_is_current(enum capture_channel ch);

/*
 * Which channels a capture carries, in order, with each one's phase
 * correction: the channel's lag at nominal_hz that the analysis corrects
 * (the samples are sent raw). For 1p2w only the current's correction is
 * sent (the scalar phase_cal_deg); a voltage's must be 0.
 */
struct capture_layout {
    enum capture_wiring wiring;
    size_t count; /* 2 for 1p2w, 6 for 3p4w, 4 to 6 for 3p3w */
    enum capture_channel ch[CAPTURE_MAX_CHANNELS];
    double cal_deg[CAPTURE_MAX_CHANNELS];
};

/* The layout of a 1p2w capture (v, i; the current lags by phase_cal_deg). */
void capture_layout_1p(struct capture_layout *ret, double phase_cal_deg);
/* The layout of a 3p4w capture (va..ic, no correction). */
void capture_layout_3p4w(struct capture_layout *ret);
/* Whether l is one a capture may carry (wiring, channels, their order, corrections in range). */
bool capture_layout_valid(const struct capture_layout *l);

struct capture_meta {
    const char *id;       /* the request id */
    double rate_hz;       /* samples per second per channel */
    int64_t start_ms;     /* wall-clock time of the first sample */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* 1p2w: the current channel's lag the analysis must correct */
};

/* Bytes capture_encode() may append for n sample pairs (a cap for the dynbuf). */
size_t capture_payload_max(size_t n);
/* Bytes capture_encode_set() may append for n samples on each of channels channels. */
size_t capture_payload_max_set(size_t n, size_t channels);

/*
 * Meter, single phase: appends the capture payload for n sample pairs
 * (volts, amperes) to out. Returns 0, -EINVAL for n == 0 or a non-finite
 * rate, or the dynbuf's error.
 */
int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out);

/*
 * Meter, any wiring: appends the capture payload for n samples of each of
 * l->count channels, x[k] holding channel l->ch[k] (volts or amperes) to
 * out; m->phase_cal_deg is unused (the layout carries the corrections).
 * Returns 0, -EINVAL for n == 0, a non-finite rate or a layout
 * capture_layout_valid() refuses, or the dynbuf's error.
 */
int capture_encode_set(const struct capture_meta *m, const struct capture_layout *l,
                       const float *const x[], size_t n, struct dynbuf *out);

/*
 * Server, first step: parses payload (at most 4 levels deep, no duplicate
 * keys) and reads its request id. Returns 0 with *ret_root (the caller's, to
 * json_decref) and ret_id; or -EINVAL with err ("id is missing or not a
 * request id", or what is wrong with the JSON).
 */
int capture_parse_head(const void *payload, size_t len, json_t **ret_root,
                       char ret_id[COMMAND_ID_MAX + 1], char err[CAPTURE_ERR_LEN]);

struct capture_samples {
    double rate_hz, nominal_hz;
    double phase_cal_deg; /* 1p2w: the current's lag (layout.cal_deg[1]); else 0 */
    int64_t start_ms;
    size_t n;                       /* samples per channel */
    struct capture_layout layout;   /* the channels, in the payload's order */
    float *x[CAPTURE_MAX_CHANNELS]; /* n each: layout.ch[k]'s samples, volts or amperes */
    float *v, *i;                   /* 1p2w: x[0] and x[1]; NULL for three-phase */
};

/*
 * Server, second step: checks every field of the capture root (start at most
 * 24 h after now_ms) and decodes every channel, each value finite and within
 * CAPTURE_MAX_VOLTS / CAPTURE_MAX_AMPS. Returns 0 with *ret, or -EINVAL
 * (-ENOMEM) with err naming the first problem; *ret is then untouched.
 */
int capture_decode(const json_t *root, int64_t now_ms, struct capture_samples *ret,
                   char err[CAPTURE_ERR_LEN]);

/* The samples of channel ch in c, or NULL when c does not carry it. */
const float *capture_samples_channel(const struct capture_samples *c, enum capture_channel ch);

void capture_samples_free(struct capture_samples *c);

#endif
