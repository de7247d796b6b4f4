/*
 * capture: the payload of meters/<id>/capture (docs/protocol.md, "Waveform
 * capture"), the samples a meter sends in answer to a capture command:
 * metadata plus "v" and "i", each channel base64 of little-endian IEEE 754
 * float32 ("f32le-base64").
 *
 * The meter encodes it (capture_encode). The server decodes it in two steps,
 * so it can look the request up before paying for the samples:
 * capture_parse_head() reads the JSON and the request id, capture_decode()
 * checks every other field and decodes both channels.
 *
 * Ownership: capture_encode() appends to the caller's dynbuf.
 * capture_parse_head() hands the parsed document to the caller, who releases
 * it with json_decref(); capture_decode() allocates the sample arrays of a
 * struct capture_samples, released with capture_samples_free() (NULL arrays
 * are fine). No I/O, no logging.
 */
#ifndef SMARTMETER_WIRE_CAPTURE_H
#define SMARTMETER_WIRE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "dynbuf.h"
#include "jsonutil.h" /* jansson's json_t, JSON_ERR_LEN */

/* What a capture may hold. */
#define CAPTURE_RATE_MIN_HZ   100.0
#define CAPTURE_RATE_MAX_HZ   204800.0
#define CAPTURE_MAX_SECONDS   10.0 /* samples: 1 .. rate_hz * 10 s (+1) */
#define CAPTURE_MAX_VOLTS     1e7  /* instantaneous, either sign */
#define CAPTURE_MAX_AMPS      1e6
#define CAPTURE_MAX_PHASE_CAL 180.0
/* Room for any message the decoders write. */
#define CAPTURE_ERR_LEN (JSON_ERR_LEN + 64)

struct capture_meta {
    const char *id;       /* the request id */
    double rate_hz;       /* samples per second per channel */
    int64_t start_ms;     /* wall-clock time of the first sample */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* the current channel's lag the analysis must correct */
};

/* Bytes capture_encode() may append for n sample pairs (a cap for the dynbuf). */
size_t capture_payload_max(size_t n);

/*
 * Meter: appends the capture payload for n sample pairs (volts, amperes) to
 * out. Returns 0, -EINVAL for n == 0 or a non-finite rate, or the dynbuf's
 * error.
 */
int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out);

/*
 * Server, first step: parses payload (at most 4 levels deep, no duplicate
 * keys) and reads its request id. Returns 0 with *ret_root (the caller's, to
 * json_decref) and ret_id; or -EINVAL with err ("id is missing or not a
 * request id", or what is wrong with the JSON).
 */
int capture_parse_head(const void *payload, size_t len, json_t **ret_root,
                       char ret_id[COMMAND_ID_MAX + 1], char err[CAPTURE_ERR_LEN]);

struct capture_samples {
    double rate_hz, nominal_hz, phase_cal_deg;
    int64_t start_ms;
    size_t n;     /* sample pairs */
    float *v, *i; /* n each, volts and amperes */
};

/*
 * Server, second step: checks every field of the capture root (start at most
 * 24 h after now_ms) and decodes both channels, each value finite and within
 * CAPTURE_MAX_VOLTS / CAPTURE_MAX_AMPS. Returns 0 with *ret, or -EINVAL
 * (-ENOMEM) with err naming the first problem; *ret is then untouched.
 */
int capture_decode(const json_t *root, int64_t now_ms, struct capture_samples *ret,
                   char err[CAPTURE_ERR_LEN]);

void capture_samples_free(struct capture_samples *c);

#endif
