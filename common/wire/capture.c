#include "capture.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "f32le.h"
#include "jsonw.h"
#include "timeutil.h"

#define CAPTURE_JSON_MAX_DEPTH 4
/* Floats packed and encoded per step: 3072 bytes, a multiple of 3, so the chunks join cleanly. */
#define ENCODE_CHUNK 768
/* How far ahead of the server's clock a capture's start may be. */
#define START_MAX_FUTURE_MS (24 * 3600 * 1000)

/* --- encoding, on the meter ----------------------------------------------------------------- */

size_t capture_payload_max(size_t n)
{
    return 2 * base64_encoded_len(4 * n) + 1024;
}

/* Writes "key":"<base64 of the samples as f32le>" without a second copy of the bytes. */
static int write_channel(struct jsonw *w, const char *key, const float *x, size_t n)
{
    size_t chars = base64_encoded_len(4 * n);
    char *text = malloc(chars + 1);
    if (!text)
        return -ENOMEM;
    unsigned char bytes[4 * ENCODE_CHUNK];
    size_t at = 0;
    for (size_t k = 0; k < n; k += ENCODE_CHUNK) {
        size_t m = n - k < ENCODE_CHUNK ? n - k : ENCODE_CHUNK;
        f32le_pack(x + k, m, bytes);
        base64_encode(bytes, 4 * m, text + at);
        at += base64_encoded_len(4 * m);
    }
    jsonw_key(w, key);
    jsonw_strn(w, text, chars);
    free(text);
    return 0;
}

static void write_pair(struct jsonw *w, const char *key, const char *a, const char *b)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    jsonw_str(w, a);
    jsonw_str(w, b);
    jsonw_arr_end(w);
}

int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out)
{
    if (n == 0 || !isfinite(m->rate_hz) || m->rate_hz <= 0)
        return -EINVAL;
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "id", m->id);
    jsonw_kdouble(&w, "rate_hz", m->rate_hz);
    jsonw_ktime(&w, "start", m->start_ms);
    jsonw_kint(&w, "samples", (int64_t)n);
    write_pair(&w, "channels", "v", "i");
    write_pair(&w, "units", "V", "A");
    jsonw_kstr(&w, "encoding", "f32le-base64");
    jsonw_kdouble(&w, "nominal_hz", m->nominal_hz);
    jsonw_kdouble(&w, "phase_cal_deg", m->phase_cal_deg);
    int r = write_channel(&w, "v", v, n);
    if (!r)
        r = write_channel(&w, "i", i, n);
    jsonw_obj_end(&w);
    return r ? r : jsonw_error(&w);
}

/* --- decoding, on the server ---------------------------------------------------------------- */

int capture_parse_head(const void *payload, size_t len, json_t **ret_root,
                       char ret_id[COMMAND_ID_MAX + 1], char err[CAPTURE_ERR_LEN])
{
    json_t *root;
    if (json_load_limited(payload, len, CAPTURE_JSON_MAX_DEPTH, &root, err))
        return -EINVAL;
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!json_is_object(root) || !id || !command_id_valid(id)) {
        snprintf(err, CAPTURE_ERR_LEN, "id is missing or not a request id");
        json_decref(root);
        return -EINVAL;
    }
    memcpy(ret_id, id, strlen(id) + 1);
    *ret_root = root;
    return 0;
}

/* Decodes one base64 channel of n float32 samples, each finite and within +-limit. */
static int decode_channel(const json_t *root, const char *key, size_t n, double limit, float *out,
                          char *err, size_t errlen)
{
    const json_t *t = json_object_get(root, key);
    if (!json_is_string(t)) {
        snprintf(err, errlen, "%s must be a base64 string", key);
        return -EINVAL;
    }
    size_t len = json_string_length(t), got = 0;
    if (len != base64_encoded_len(4 * n)) {
        snprintf(err, errlen, "%s holds %zu bytes of base64, not %zu samples", key, len, n);
        return -EINVAL;
    }
    unsigned char *bytes = malloc(base64_decoded_max(len));
    if (!bytes) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int r = base64_decode(json_string_value(t), len, bytes, &got);
    if (r || got != 4 * n) {
        snprintf(err, errlen, "%s is not valid base64 of %zu float32 samples", key, n);
        free(bytes);
        return -EINVAL;
    }
    f32le_unpack(bytes, n, out);
    free(bytes);
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(out[k]) || fabs(out[k]) > limit) {
            snprintf(err, errlen, "%s[%zu] is not finite or beyond %g", key, k, limit);
            return -EINVAL;
        }
    }
    return 0;
}

/* Both arrays must name exactly two strings: the given ones. */
static bool pair_is(const json_t *arr, const char *a, const char *b)
{
    const char *x = json_string_value(json_array_get(arr, 0));
    const char *y = json_string_value(json_array_get(arr, 1));
    return json_is_array(arr) && json_array_size(arr) == 2 && x && y && strcmp(x, a) == 0 &&
           strcmp(y, b) == 0;
}

/* Everything but the samples; fills c. */
static int decode_meta(const json_t *root, int64_t now_ms, struct capture_samples *c, char *err,
                       size_t errlen)
{
    double x = 0;
    const json_t *t;

    if (!json_number(json_object_get(root, "rate_hz"), &c->rate_hz) || !isfinite(c->rate_hz) ||
        c->rate_hz < CAPTURE_RATE_MIN_HZ || c->rate_hz > CAPTURE_RATE_MAX_HZ) {
        snprintf(err, errlen, "rate_hz must be a number from %g to %g", CAPTURE_RATE_MIN_HZ,
                 CAPTURE_RATE_MAX_HZ);
        return -EINVAL;
    }
    t = json_object_get(root, "start");
    if (!json_is_string(t) || time_parse_rfc3339(json_string_value(t), &c->start_ms) ||
        c->start_ms < TIME_MIN_VALID_MS || c->start_ms > now_ms + START_MAX_FUTURE_MS) {
        snprintf(err, errlen, "start must be an RFC 3339 time, not in the future");
        return -EINVAL;
    }
    t = json_object_get(root, "samples");
    double max_n = floor(c->rate_hz * CAPTURE_MAX_SECONDS) + 1;
    if (!json_is_integer(t) || json_integer_value(t) < 1 || (double)json_integer_value(t) > max_n) {
        snprintf(err, errlen, "samples must be an integer from 1 to %.0f (10 s at rate_hz)", max_n);
        return -EINVAL;
    }
    c->n = (size_t)json_integer_value(t);
    const char *enc = json_string_value(json_object_get(root, "encoding"));
    if (!enc || strcmp(enc, "f32le-base64") != 0) {
        snprintf(err, errlen, "encoding must be \"f32le-base64\"");
        return -EINVAL;
    }
    if ((t = json_object_get(root, "channels")) && !pair_is(t, "v", "i")) {
        snprintf(err, errlen, "channels must be [\"v\",\"i\"]");
        return -EINVAL;
    }
    if ((t = json_object_get(root, "units")) && !pair_is(t, "V", "A")) {
        snprintf(err, errlen, "units must be [\"V\",\"A\"]");
        return -EINVAL;
    }
    c->nominal_hz = 50;
    if ((t = json_object_get(root, "nominal_hz")) &&
        (!json_number(t, &c->nominal_hz) || (c->nominal_hz != 50 && c->nominal_hz != 60))) {
        snprintf(err, errlen, "nominal_hz must be 50 or 60");
        return -EINVAL;
    }
    if ((t = json_object_get(root, "phase_cal_deg")) &&
        (!json_number(t, &x) || !isfinite(x) || fabs(x) > CAPTURE_MAX_PHASE_CAL)) {
        snprintf(err, errlen, "phase_cal_deg must be a number from -180 to 180");
        return -EINVAL;
    }
    c->phase_cal_deg = t ? x : 0;
    return 0;
}

int capture_decode(const json_t *root, int64_t now_ms, struct capture_samples *ret,
                   char err[CAPTURE_ERR_LEN])
{
    const size_t errlen = CAPTURE_ERR_LEN;
    struct capture_samples c = {0};
    int r = decode_meta(root, now_ms, &c, err, errlen);
    if (r)
        return r;
    c.v = malloc(c.n * sizeof(float));
    c.i = malloc(c.n * sizeof(float));
    if (!c.v || !c.i) {
        snprintf(err, errlen, "out of memory");
        r = -ENOMEM;
    }
    if (!r)
        r = decode_channel(root, "v", c.n, CAPTURE_MAX_VOLTS, c.v, err, errlen);
    if (!r)
        r = decode_channel(root, "i", c.n, CAPTURE_MAX_AMPS, c.i, err, errlen);
    if (r) {
        capture_samples_free(&c);
        return r;
    }
    *ret = c;
    return 0;
}

void capture_samples_free(struct capture_samples *c)
{
    free(c->v);
    free(c->i);
    c->v = c->i = NULL;
}
