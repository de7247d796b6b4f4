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
/* Room for the metadata around the channels: names, units, corrections. */
#define META_BYTES    1024
#define CHANNEL_BYTES 96

/* --- wirings and channels ------------------------------------------------------------------- */

static const char *const wiring_names[] = {
    [CAPTURE_WIRING_1P2W] = "1p2w",
    [CAPTURE_WIRING_3P4W] = "3p4w",
    [CAPTURE_WIRING_3P3W] = "3p3w",
};

static const struct {
    const char *name, *phase;
    bool current;
} channels[CAPTURE_CH_COUNT] = {
    [CAPTURE_CH_V] = {"v", "", false},       [CAPTURE_CH_I] = {"i", "", true},
    [CAPTURE_CH_VA] = {"va", "a", false},    [CAPTURE_CH_VB] = {"vb", "b", false},
    [CAPTURE_CH_VC] = {"vc", "c", false},    [CAPTURE_CH_VAB] = {"vab", "ab", false},
    [CAPTURE_CH_VBC] = {"vbc", "bc", false}, [CAPTURE_CH_VCA] = {"vca", "ca", false},
    [CAPTURE_CH_IA] = {"ia", "a", true},     [CAPTURE_CH_IB] = {"ib", "b", true},
    [CAPTURE_CH_IC] = {"ic", "c", true},
};

const char *capture_wiring_name(enum capture_wiring w)
{
    return (unsigned)w < sizeof(wiring_names) / sizeof(wiring_names[0]) ? wiring_names[w] : "?";
}

int capture_wiring_parse(const char *name, enum capture_wiring *ret)
{
    for (size_t k = 0; k < sizeof(wiring_names) / sizeof(wiring_names[0]); k++) {
        if (strcmp(name, wiring_names[k]) == 0) {
            *ret = (enum capture_wiring)k;
            return 0;
        }
    }
    return -EINVAL;
}

const char *capture_channel_name(enum capture_channel ch)
{
    return (unsigned)ch < CAPTURE_CH_COUNT ? channels[ch].name : "?";
}

const char *capture_channel_unit(enum capture_channel ch)
{
    return capture_channel_is_current(ch) ? "A" : "V";
}

const char *capture_channel_phase(enum capture_channel ch)
{
    return (unsigned)ch < CAPTURE_CH_COUNT ? channels[ch].phase : "";
}

bool capture_channel_is_current(enum capture_channel ch)
{
    return (unsigned)ch < CAPTURE_CH_COUNT && channels[ch].current;
}

int capture_channel_parse(const char *name, enum capture_channel *ret)
{
    for (int k = 0; k < CAPTURE_CH_COUNT; k++) {
        if (strcmp(name, channels[k].name) == 0) {
            *ret = (enum capture_channel)k;
            return 0;
        }
    }
    return -EINVAL;
}

void capture_layout_1p(struct capture_layout *ret, double phase_cal_deg)
{
    *ret = (struct capture_layout){.wiring = CAPTURE_WIRING_1P2W,
                                   .count = 2,
                                   .ch = {CAPTURE_CH_V, CAPTURE_CH_I},
                                   .cal_deg = {0, phase_cal_deg}};
}

void capture_layout_3p4w(struct capture_layout *ret)
{
    *ret = (struct capture_layout){.wiring = CAPTURE_WIRING_3P4W,
                                   .count = 6,
                                   .ch = {CAPTURE_CH_VA, CAPTURE_CH_VB, CAPTURE_CH_VC,
                                          CAPTURE_CH_IA, CAPTURE_CH_IB, CAPTURE_CH_IC}};
}

/* Channels first..last (inclusive) in order, no repeats: how many of l->ch[at..] are such. */
static size_t run_of(const struct capture_layout *l, size_t at, enum capture_channel first,
                     enum capture_channel last)
{
    size_t k = at;
    while (k < l->count && l->ch[k] >= first && l->ch[k] <= last &&
           (k == at || l->ch[k] > l->ch[k - 1]))
        k++;
    return k - at;
}

/* The channels alone (not the corrections) are what the wiring allows. */
static bool channels_valid(const struct capture_layout *l)
{
    size_t nv, ni;
    switch (l->wiring) {
    case CAPTURE_WIRING_1P2W:
        return l->count == 2 && l->ch[0] == CAPTURE_CH_V && l->ch[1] == CAPTURE_CH_I;
    case CAPTURE_WIRING_3P4W:
        nv = run_of(l, 0, CAPTURE_CH_VA, CAPTURE_CH_VC);
        ni = run_of(l, nv, CAPTURE_CH_IA, CAPTURE_CH_IC);
        return l->count == 6 && nv == 3 && ni == 3;
    case CAPTURE_WIRING_3P3W:
        if (l->count < 4 || l->count > CAPTURE_MAX_CHANNELS)
            return false;
        nv = run_of(l, 0, CAPTURE_CH_VAB, CAPTURE_CH_VCA);
        ni = run_of(l, nv, CAPTURE_CH_IA, CAPTURE_CH_IC);
        return nv >= 2 && ni >= 2 && nv + ni == l->count;
    }
    return false;
}

static bool cal_valid(double x)
{
    return isfinite(x) && fabs(x) <= CAPTURE_MAX_PHASE_CAL;
}

bool capture_layout_valid(const struct capture_layout *l)
{
    if (!channels_valid(l))
        return false;
    for (size_t k = 0; k < l->count; k++)
        if (!cal_valid(l->cal_deg[k]))
            return false;
    return l->wiring != CAPTURE_WIRING_1P2W || l->cal_deg[0] == 0;
}

/* --- encoding, on the meter ----------------------------------------------------------------- */

size_t capture_payload_max_set(size_t n, size_t count)
{
    return count * (base64_encoded_len(4 * n) + CHANNEL_BYTES) + META_BYTES;
}

size_t capture_payload_max(size_t n)
{
    return capture_payload_max_set(n, 2);
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

/* "channels" (names) or "units" of the layout, as an array of strings. */
static void write_names(struct jsonw *w, const char *key, const struct capture_layout *l,
                        bool units)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t k = 0; k < l->count; k++)
        jsonw_str(w, units ? capture_channel_unit(l->ch[k]) : capture_channel_name(l->ch[k]));
    jsonw_arr_end(w);
}

/* Encodes l's channels; the corrections are written as given (the server judges them). */
static int encode(const struct capture_meta *m, const struct capture_layout *l,
                  const float *const x[], size_t n, struct dynbuf *out)
{
    if (n == 0 || !isfinite(m->rate_hz) || m->rate_hz <= 0 || !channels_valid(l))
        return -EINVAL;
    bool one_phase = l->wiring == CAPTURE_WIRING_1P2W;
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "id", m->id);
    jsonw_kdouble(&w, "rate_hz", m->rate_hz);
    jsonw_ktime(&w, "start", m->start_ms);
    jsonw_kint(&w, "samples", (int64_t)n);
    if (!one_phase) /* a single-phase capture reads exactly as before three-phase metering */
        jsonw_kstr(&w, "wiring", capture_wiring_name(l->wiring));
    write_names(&w, "channels", l, false);
    write_names(&w, "units", l, true);
    jsonw_kstr(&w, "encoding", "f32le-base64");
    jsonw_kdouble(&w, "nominal_hz", m->nominal_hz);
    if (one_phase) {
        jsonw_kdouble(&w, "phase_cal_deg", l->cal_deg[1]);
    } else {
        jsonw_key(&w, "phase_cal_deg");
        jsonw_obj_begin(&w);
        for (size_t k = 0; k < l->count; k++)
            jsonw_kdouble(&w, capture_channel_name(l->ch[k]), l->cal_deg[k]);
        jsonw_obj_end(&w);
    }
    int r = 0;
    for (size_t k = 0; k < l->count && !r; k++)
        r = write_channel(&w, capture_channel_name(l->ch[k]), x[k], n);
    jsonw_obj_end(&w);
    return r ? r : jsonw_error(&w);
}

int capture_encode_set(const struct capture_meta *m, const struct capture_layout *l,
                       const float *const x[], size_t n, struct dynbuf *out)
{
    return capture_layout_valid(l) ? encode(m, l, x, n, out) : -EINVAL;
}

int capture_encode(const struct capture_meta *m, const float *v, const float *i, size_t n,
                   struct dynbuf *out)
{
    struct capture_layout l;
    capture_layout_1p(&l, m->phase_cal_deg);
    const float *const x[2] = {v, i};
    return encode(m, &l, x, n, out);
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

/* A channel's member is a base64 string of exactly n float32 samples' length. */
static int check_channel_length(const json_t *root, const char *key, size_t n, char *err,
                                size_t errlen)
{
    const json_t *t = json_object_get(root, key);
    if (!json_is_string(t)) {
        snprintf(err, errlen, "%s must be a base64 string", key);
        return -EINVAL;
    }
    size_t len = json_string_length(t);
    if (len != base64_encoded_len(4 * n)) {
        snprintf(err, errlen, "%s holds %zu bytes of base64, not %zu samples", key, len, n);
        return -EINVAL;
    }
    return 0;
}

/* Decodes one base64 channel (its length checked) of n float32 samples, each within +-limit. */
static int decode_channel(const json_t *root, const char *key, size_t n, double limit, float *out,
                          char *err, size_t errlen)
{
    const json_t *t = json_object_get(root, key);
    size_t len = json_string_length(t), got = 0;
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

/* Single phase, as before three-phase metering: channels and units optional, a scalar correction.
 */
static int decode_layout_1p(const json_t *root, struct capture_layout *l, char *err, size_t errlen)
{
    const json_t *t;
    double x = 0;
    if ((t = json_object_get(root, "channels")) && !pair_is(t, "v", "i")) {
        snprintf(err, errlen, "channels must be [\"v\",\"i\"]");
        return -EINVAL;
    }
    if ((t = json_object_get(root, "units")) && !pair_is(t, "V", "A")) {
        snprintf(err, errlen, "units must be [\"V\",\"A\"]");
        return -EINVAL;
    }
    if ((t = json_object_get(root, "phase_cal_deg")) && (!json_number(t, &x) || !cal_valid(x))) {
        snprintf(err, errlen, "phase_cal_deg must be a number from -180 to 180");
        return -EINVAL;
    }
    capture_layout_1p(l, x);
    return 0;
}

static const char *const channels_rule[] = {
    [CAPTURE_WIRING_1P2W] = "",
    [CAPTURE_WIRING_3P4W] = "channels must be [\"va\",\"vb\",\"vc\",\"ia\",\"ib\",\"ic\"] for 3p4w",
    [CAPTURE_WIRING_3P3W] = ("channels must be 2 or 3 of vab, vbc, vca then 2 or 3 of ia, ib, "
                             "ic, each in that order, for 3p3w"),
};

/* Index of ch in l, or -1. */
static int layout_find(const struct capture_layout *l, enum capture_channel ch)
{
    for (size_t k = 0; k < l->count; k++)
        if (l->ch[k] == ch)
            return (int)k;
    return -1;
}

/* Three-phase: channels and units required, the corrections an object keyed by channel. */
static int decode_layout_3p(const json_t *root, struct capture_layout *l, char *err, size_t errlen)
{
    const json_t *chs = json_object_get(root, "channels"), *units = json_object_get(root, "units");
    const char *rule = channels_rule[l->wiring];
    size_t count = json_array_size(chs);
    if (!json_is_array(chs) || count < 1 || count > CAPTURE_MAX_CHANNELS) {
        snprintf(err, errlen, "%s", rule);
        return -EINVAL;
    }
    l->count = count;
    for (size_t k = 0; k < count; k++) {
        const char *name = json_string_value(json_array_get(chs, k));
        if (!name || capture_channel_parse(name, &l->ch[k])) {
            snprintf(err, errlen, "%s", rule);
            return -EINVAL;
        }
    }
    if (!channels_valid(l)) {
        snprintf(err, errlen, "%s", rule);
        return -EINVAL;
    }
    bool units_ok = json_is_array(units) && json_array_size(units) == count;
    for (size_t k = 0; k < count && units_ok; k++) {
        const char *u = json_string_value(json_array_get(units, k));
        units_ok = u && strcmp(u, capture_channel_unit(l->ch[k])) == 0;
    }
    if (!units_ok) {
        snprintf(err, errlen, "units must give each channel's unit in order (\"V\" or \"A\")");
        return -EINVAL;
    }
    const json_t *cal = json_object_get(root, "phase_cal_deg");
    if (cal && !json_is_object(cal)) {
        snprintf(err, errlen, "phase_cal_deg must be an object keyed by channel for %s",
                 capture_wiring_name(l->wiring));
        return -EINVAL;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)cal, key, v)
    {
        enum capture_channel ch;
        int at = capture_channel_parse(key, &ch) ? -1 : layout_find(l, ch);
        double x;
        if (at < 0 || !json_number(v, &x) || !cal_valid(x)) {
            snprintf(err, errlen,
                     "phase_cal_deg must map this capture's channels to numbers from -180 to 180");
            return -EINVAL;
        }
        l->cal_deg[at] = x;
    }
    return 0;
}

static int decode_layout(const json_t *root, struct capture_layout *l, char *err, size_t errlen)
{
    const json_t *t = json_object_get(root, "wiring");
    *l = (struct capture_layout){.wiring = CAPTURE_WIRING_1P2W};
    if (t && (!json_is_string(t) || capture_wiring_parse(json_string_value(t), &l->wiring))) {
        snprintf(err, errlen, "wiring must be \"1p2w\", \"3p4w\" or \"3p3w\"");
        return -EINVAL;
    }
    int r = l->wiring == CAPTURE_WIRING_1P2W ? decode_layout_1p(root, l, err, errlen)
                                             : decode_layout_3p(root, l, err, errlen);
    if (r)
        return r;
    /* Samples of a channel the capture does not list would be silently dropped: refuse them. */
    for (int ch = 0; ch < CAPTURE_CH_COUNT; ch++) {
        if (json_object_get(root, channels[ch].name) &&
            layout_find(l, (enum capture_channel)ch) < 0) {
            snprintf(err, errlen, "%s is not one of this capture's channels", channels[ch].name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Everything but the samples; fills c. */
static int decode_meta(const json_t *root, int64_t now_ms, struct capture_samples *c, char *err,
                       size_t errlen)
{
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
    int r = decode_layout(root, &c->layout, err, errlen);
    if (r)
        return r;
    c->phase_cal_deg = c->layout.wiring == CAPTURE_WIRING_1P2W ? c->layout.cal_deg[1] : 0;
    c->nominal_hz = 50;
    if ((t = json_object_get(root, "nominal_hz")) &&
        (!json_number(t, &c->nominal_hz) || (c->nominal_hz != 50 && c->nominal_hz != 60))) {
        snprintf(err, errlen, "nominal_hz must be 50 or 60");
        return -EINVAL;
    }
    return 0;
}

int capture_decode(const json_t *root, int64_t now_ms, struct capture_samples *ret,
                   char err[CAPTURE_ERR_LEN])
{
    const size_t errlen = CAPTURE_ERR_LEN;
    struct capture_samples c = {0};
    int r = decode_meta(root, now_ms, &c, err, errlen);
    /* Every channel's length first: nothing is allocated for a payload that cannot hold it. */
    for (size_t k = 0; !r && k < c.layout.count; k++)
        r = check_channel_length(root, capture_channel_name(c.layout.ch[k]), c.n, err, errlen);
    for (size_t k = 0; !r && k < c.layout.count; k++) {
        enum capture_channel ch = c.layout.ch[k];
        c.x[k] = malloc(c.n * sizeof(float));
        if (!c.x[k]) {
            snprintf(err, errlen, "out of memory");
            r = -ENOMEM;
            break;
        }
        r = decode_channel(root, capture_channel_name(ch), c.n,
                           capture_channel_is_current(ch) ? CAPTURE_MAX_AMPS : CAPTURE_MAX_VOLTS,
                           c.x[k], err, errlen);
    }
    if (r) {
        capture_samples_free(&c);
        return r;
    }
    if (c.layout.wiring == CAPTURE_WIRING_1P2W) {
        c.v = c.x[0];
        c.i = c.x[1];
    }
    *ret = c;
    return 0;
}

const float *capture_samples_channel(const struct capture_samples *c, enum capture_channel ch)
{
    int at = layout_find(&c->layout, ch);
    return at < 0 ? NULL : c->x[at];
}

void capture_samples_free(struct capture_samples *c)
{
    for (size_t k = 0; k < CAPTURE_MAX_CHANNELS; k++) {
        free(c->x[k]);
        c->x[k] = NULL;
    }
    c->v = c->i = NULL;
}
