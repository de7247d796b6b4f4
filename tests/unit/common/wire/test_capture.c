/*
 * Captures (meters/<id>/capture): what the meter encodes, the server decodes
 * bit for bit; the payload stays within its cap; every limit holds at its
 * boundary.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base64.h"
#include "capture.h"
#include "f32le.h"

/* 2026-11-23T18:45:53.355Z */
#define NOW_MS INT64_C(1795459553355)

/* Decodes one channel of a capture payload back to floats. */
static float *decode_channel(json_t *root, const char *key, size_t n)
{
    const char *text = json_string_value(json_object_get(root, key));
    assert_non_null(text);
    size_t len = strlen(text), got = 0;
    unsigned char *bytes = malloc(base64_decoded_max(len) + 1);
    float *out = malloc(n * sizeof(float) + 1);
    assert_non_null(bytes);
    assert_non_null(out);
    assert_int_equal(base64_decode(text, len, bytes, &got), 0);
    assert_int_equal(got, 4 * n);
    f32le_unpack(bytes, n, out);
    free(bytes);
    return out;
}

/* n pairs of a 49.73 Hz signal at 6400 Hz, starting with -0 V and ending with a denormal-ish A. */
static void make_signal(size_t n, float **ret_v, float **ret_i)
{
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    assert_non_null(v);
    assert_non_null(i);
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)(325.269 * sin(2 * M_PI * 49.73 * (double)k / 6400.0));
        i[k] = (float)(14.142 * sin(2 * M_PI * 49.73 * (double)k / 6400.0 - 0.6435));
    }
    v[0] = -0.0f;
    i[n - 1] = 1e-30f;
    *ret_v = v;
    *ret_i = i;
}

static void check_round_trip(size_t n)
{
    float *v, *i;
    make_signal(n, &v, &i);
    struct capture_meta m = {.id = "cap-42",
                             .rate_hz = 6400,
                             .start_ms = NOW_MS,
                             .nominal_hz = 50,
                             .phase_cal_deg = 1.25};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(n));
    assert_int_equal(capture_encode(&m, v, i, n, &b), 0);

    json_error_t err;
    json_t *root = json_loadb(b.buf, b.len, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "id")), "cap-42");
    assert_true(json_number_value(json_object_get(root, "rate_hz")) == 6400.0);
    assert_string_equal(json_string_value(json_object_get(root, "start")),
                        "2026-11-23T18:45:53.355Z");
    assert_int_equal(json_integer_value(json_object_get(root, "samples")), (json_int_t)n);
    assert_string_equal(json_string_value(json_object_get(root, "encoding")), "f32le-base64");
    assert_string_equal(json_string_value(json_array_get(json_object_get(root, "channels"), 1)),
                        "i");
    assert_string_equal(json_string_value(json_array_get(json_object_get(root, "units"), 1)), "A");
    assert_true(json_number_value(json_object_get(root, "nominal_hz")) == 50.0);
    assert_true(json_number_value(json_object_get(root, "phase_cal_deg")) == 1.25);
    float *v2 = decode_channel(root, "v", n), *i2 = decode_channel(root, "i", n);
    /* bit for bit, including the sign of zero */
    assert_memory_equal(v2, v, n * sizeof(float));
    assert_memory_equal(i2, i, n * sizeof(float));
    json_decref(root);
    free(v2);
    free(i2);
    dynbuf_free(&b);
    free(v);
    free(i);
}

static void test_a_capture_round_trips_through_its_payload(void **state)
{
    (void)state;
    check_round_trip(1);
    check_round_trip(767);
    check_round_trip(769); /* crosses an encoding chunk */
    check_round_trip(12800);
    check_round_trip(128000); /* 10 s at 12.8 kHz */
}

static void test_f32le_is_little_endian_ieee754(void **state)
{
    (void)state;
    float x[2] = {1.0f, -2.5f};
    unsigned char b[8];
    f32le_pack(x, 2, b);
    static const unsigned char want[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};
    assert_memory_equal(b, want, 8);
}

static void test_capture_payload_fits_its_cap_and_refuses_nonsense(void **state)
{
    (void)state;
    float v[3] = {1, 2, 3}, i[3] = {4, 5, 6};
    struct capture_meta m = {.id = "a", .rate_hz = 12800, .start_ms = NOW_MS, .nominal_hz = 60};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(3));
    assert_int_equal(capture_encode(&m, v, i, 0, &b), -EINVAL);
    m.rate_hz = NAN;
    assert_int_equal(capture_encode(&m, v, i, 3, &b), -EINVAL);
    m.rate_hz = 12800;
    assert_int_equal(capture_encode(&m, v, i, 3, &b), 0);
    dynbuf_free(&b);
    dynbuf_init(&b, 64);
    assert_int_equal(capture_encode(&m, v, i, 3, &b), -E2BIG);
    dynbuf_free(&b);
}

/* Encodes n pairs (v[k] = vk, i[k] = ik) with m, then decodes them as the server does at NOW_MS. */
static int server_decode(const struct capture_meta *m, float vk, float ik, size_t n,
                         struct capture_samples *ret, char err[CAPTURE_ERR_LEN])
{
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    assert_non_null(v);
    assert_non_null(i);
    for (size_t k = 0; k < n; k++) {
        v[k] = vk;
        i[k] = ik;
    }
    struct dynbuf b;
    char id[COMMAND_ID_MAX + 1];
    json_t *root;
    dynbuf_init(&b, capture_payload_max(n));
    assert_int_equal(capture_encode(m, v, i, n, &b), 0);
    int r = capture_parse_head(b.buf, b.len, &root, id, err);
    assert_int_equal(r, 0);
    assert_string_equal(id, m->id);
    r = capture_decode(root, NOW_MS, ret, err);
    json_decref(root);
    dynbuf_free(&b);
    free(v);
    free(i);
    return r;
}

static void test_a_capture_the_meter_encodes_the_server_decodes(void **state)
{
    (void)state;
    enum { N = 12800 };
    float *v, *i;
    make_signal(N, &v, &i);
    v[1] = (float)CAPTURE_MAX_VOLTS;
    i[2] = -(float)CAPTURE_MAX_AMPS;
    struct capture_meta m = {.id = "9f0c5e0b2d7a4c1e8b3f6a2d5c8e1b40",
                             .rate_hz = 6400,
                             .start_ms = NOW_MS - 2000,
                             .nominal_hz = 60,
                             .phase_cal_deg = -2.5};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(N));
    assert_int_equal(capture_encode(&m, v, i, N, &b), 0);

    char id[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
    json_t *root;
    struct capture_samples c;
    assert_int_equal(capture_parse_head(b.buf, b.len, &root, id, err), 0);
    assert_string_equal(id, m.id);
    if (capture_decode(root, NOW_MS, &c, err))
        fail_msg("refused: %s", err);
    json_decref(root);
    assert_true(c.rate_hz == 6400);
    assert_true(c.nominal_hz == 60);
    assert_true(c.phase_cal_deg == -2.5);
    assert_int_equal(c.start_ms, NOW_MS - 2000);
    assert_int_equal(c.n, N);
    assert_memory_equal(c.v, v, N * sizeof(float)); /* bit for bit, the sign of zero too */
    assert_memory_equal(c.i, i, N * sizeof(float));
    capture_samples_free(&c);
    capture_samples_free(&c); /* harmless twice */
    dynbuf_free(&b);
    free(v);
    free(i);
}

static void test_capture_limits_hold_at_their_boundaries(void **state)
{
    (void)state;
    static const struct {
        double rate_hz, nominal_hz, phase_cal_deg;
        int64_t start_after_now_ms;
        float v, i;
        size_t n;
        const char *error; /* NULL: accepted */
    } cases[] = {
        {100, 50, 0, 0, 1, 1, 1001, NULL},
        {100, 50, 0, 0, 1, 1, 1002, "samples must be an integer from 1 to 1001"},
        {99.99, 50, 0, 0, 1, 1, 10, "rate_hz must be"},
        {204800, 50, 0, 0, 1, 1, 1, NULL},
        {204801, 50, 0, 0, 1, 1, 1, "rate_hz must be"},
        {6400, 50, 0, 0, 1e7f, -1e6f, 64, NULL},
        {6400, 50, 0, 0, 10000001.0f, 1, 64, "v[0] is not finite or beyond"},
        {6400, 50, 0, 0, 1, -1000000.0625f, 64, "i[0] is not finite or beyond"},
        {6400, 50, 0, 0, 1, INFINITY, 64, "i[0] is not finite"},
        {6400, 60, 180, 0, 1, 1, 64, NULL},
        {6400, 50, -180.5, 0, 1, 1, 64, "phase_cal_deg must be"},
        {6400, 55, 0, 0, 1, 1, 64, "nominal_hz must be 50 or 60"},
        {6400, 50, 0, 24 * 3600 * 1000, 1, 1, 64, NULL},
        {6400, 50, 0, 24 * 3600 * 1000 + 1, 1, 1, 64, "start must be"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct capture_meta m = {.id = "lim",
                                 .rate_hz = cases[k].rate_hz,
                                 .start_ms = NOW_MS + cases[k].start_after_now_ms,
                                 .nominal_hz = cases[k].nominal_hz,
                                 .phase_cal_deg = cases[k].phase_cal_deg};
        struct capture_samples c = {.n = 7};
        char err[CAPTURE_ERR_LEN] = "";
        int r = server_decode(&m, cases[k].v, cases[k].i, cases[k].n, &c, err);
        if (cases[k].error ? r != -EINVAL || !strstr(err, cases[k].error) : r != 0)
            fail_msg("case %zu: got %d '%s'", k, r, err);
        if (r) {
            assert_int_equal(c.n, 7); /* untouched */
            assert_null(c.v);
        } else {
            assert_int_equal(c.n, cases[k].n);
            capture_samples_free(&c);
        }
    }
}

static void test_a_capture_without_a_request_id_is_refused_first(void **state)
{
    (void)state;
    static const struct {
        const char *json, *error;
    } cases[] = {
        {"{\"id\":", "malformed JSON"},
        {"[\"id\"]", "id is missing"},
        {"{\"rate_hz\":6400}", "id is missing"},
        {"{\"id\":\"a b\"}", "not a request id"},
        {"{\"id\":7}", "not a request id"},
        {"{\"id\":\"a\",\"id\":\"b\"}", "duplicate"},
        {"{\"id\":\"a\",\"x\":[[[[1]]]]}", "deeper"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        json_t *root = NULL;
        char id[COMMAND_ID_MAX + 1] = "", err[CAPTURE_ERR_LEN] = "";
        int r = capture_parse_head(cases[k].json, strlen(cases[k].json), &root, id, err);
        if (r != -EINVAL || !strstr(err, cases[k].error))
            fail_msg("case %zu %s: got %d '%s'", k, cases[k].json, r, err);
        assert_null(root);
        assert_string_equal(id, "");
    }
    /* The id is all the first step reads: the rest waits for the request to be found. */
    json_t *root;
    char id[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
    const char *only_id = "{\"id\":\"req_1-A\",\"samples\":\"many\"}";
    assert_int_equal(capture_parse_head(only_id, strlen(only_id), &root, id, err), 0);
    assert_string_equal(id, "req_1-A");
    struct capture_samples c;
    assert_int_equal(capture_decode(root, NOW_MS, &c, err), -EINVAL);
    assert_non_null(strstr(err, "rate_hz must be"));
    json_decref(root);
}

/* Six channels of n samples: channel k is a 50 Hz sine of amplitude 100 * (k + 1), offset by k. */
static float *make_channels(size_t count, size_t n, const float *ret_x[CAPTURE_MAX_CHANNELS])
{
    float *all = malloc(count * n * sizeof(float));
    assert_non_null(all);
    for (size_t c = 0; c < count; c++) {
        for (size_t k = 0; k < n; k++)
            all[c * n + k] = (float)(100.0 * (double)(c + 1) *
                                     sin(2 * M_PI * 50 * (double)k / 6400.0 - (double)c));
        ret_x[c] = all + c * n;
    }
    return all;
}

static void test_a_three_phase_capture_carries_every_channel(void **state)
{
    (void)state;
    enum { N = 1281 };
    const float *x[CAPTURE_MAX_CHANNELS];
    float *all = make_channels(6, N, x);
    struct capture_layout l;
    capture_layout_3p4w(&l);
    l.cal_deg[3] = 1.5;   /* ia */
    l.cal_deg[5] = -0.25; /* ic */
    struct capture_meta m = {.id = "cap-3p", .rate_hz = 6400, .start_ms = NOW_MS, .nominal_hz = 50};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max_set(N, 6));
    assert_int_equal(capture_encode_set(&m, &l, x, N, &b), 0);

    json_error_t jerr;
    json_t *root = json_loadb(b.buf, b.len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "wiring")), "3p4w");
    static const char *const names[] = {"va", "vb", "vc", "ia", "ib", "ic"};
    static const char *const units[] = {"V", "V", "V", "A", "A", "A"};
    json_t *chs = json_object_get(root, "channels"), *us = json_object_get(root, "units");
    assert_int_equal(json_array_size(chs), 6);
    for (size_t k = 0; k < 6; k++) {
        assert_string_equal(json_string_value(json_array_get(chs, k)), names[k]);
        assert_string_equal(json_string_value(json_array_get(us, k)), units[k]);
        float *got = decode_channel(root, names[k], N);
        assert_memory_equal(got, x[k], N * sizeof(float));
        free(got);
    }
    json_t *cal = json_object_get(root, "phase_cal_deg");
    assert_true(json_is_object(cal));
    assert_true(json_number_value(json_object_get(cal, "ia")) == 1.5);
    assert_true(json_number_value(json_object_get(cal, "ic")) == -0.25);
    assert_null(json_object_get(root, "v"));

    struct capture_samples c;
    char err[CAPTURE_ERR_LEN];
    if (capture_decode(root, NOW_MS, &c, err))
        fail_msg("refused: %s", err);
    json_decref(root);
    assert_int_equal(c.layout.wiring, CAPTURE_WIRING_3P4W);
    assert_int_equal(c.layout.count, 6);
    assert_int_equal(c.n, N);
    assert_null(c.v);
    assert_null(c.i);
    assert_true(c.layout.cal_deg[3] == 1.5 && c.layout.cal_deg[5] == -0.25);
    assert_true(c.layout.cal_deg[0] == 0 && c.layout.cal_deg[4] == 0);
    for (size_t k = 0; k < 6; k++)
        assert_memory_equal(c.x[k], x[k], N * sizeof(float));
    assert_ptr_equal(capture_samples_channel(&c, CAPTURE_CH_IB), c.x[4]);
    assert_null(capture_samples_channel(&c, CAPTURE_CH_VAB));
    capture_samples_free(&c);
    capture_samples_free(&c);
    dynbuf_free(&b);
    free(all);
}

static void test_three_wire_captures_carry_the_wired_subset(void **state)
{
    (void)state;
    static const struct {
        size_t count;
        enum capture_channel ch[CAPTURE_MAX_CHANNELS];
    } sets[] = {
        {4, {CAPTURE_CH_VAB, CAPTURE_CH_VBC, CAPTURE_CH_IA, CAPTURE_CH_IC}}, /* Aron */
        {5, {CAPTURE_CH_VAB, CAPTURE_CH_VCA, CAPTURE_CH_IA, CAPTURE_CH_IB, CAPTURE_CH_IC}},
        {6,
         {CAPTURE_CH_VAB, CAPTURE_CH_VBC, CAPTURE_CH_VCA, CAPTURE_CH_IA, CAPTURE_CH_IB,
          CAPTURE_CH_IC}},
    };
    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        const float *x[CAPTURE_MAX_CHANNELS];
        float *all = make_channels(sets[s].count, 64, x);
        struct capture_layout l = {.wiring = CAPTURE_WIRING_3P3W, .count = sets[s].count};
        memcpy(l.ch, sets[s].ch, sizeof(l.ch));
        l.cal_deg[sets[s].count - 1] = 3;
        assert_true(capture_layout_valid(&l));
        struct capture_meta m = {.id = "w3", .rate_hz = 6400, .start_ms = NOW_MS, .nominal_hz = 60};
        struct dynbuf b;
        dynbuf_init(&b, capture_payload_max_set(64, sets[s].count));
        assert_int_equal(capture_encode_set(&m, &l, x, 64, &b), 0);
        json_t *root;
        char id[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
        struct capture_samples c;
        assert_int_equal(capture_parse_head(b.buf, b.len, &root, id, err), 0);
        if (capture_decode(root, NOW_MS, &c, err))
            fail_msg("set %zu refused: %s", s, err);
        assert_int_equal(c.layout.wiring, CAPTURE_WIRING_3P3W);
        assert_int_equal(c.layout.count, sets[s].count);
        assert_memory_equal(c.layout.ch, sets[s].ch, sets[s].count * sizeof(c.layout.ch[0]));
        assert_true(c.layout.cal_deg[sets[s].count - 1] == 3);
        for (size_t k = 0; k < sets[s].count; k++)
            assert_memory_equal(c.x[k], x[k], 64 * sizeof(float));
        capture_samples_free(&c);
        json_decref(root);
        dynbuf_free(&b);
        free(all);
    }
}

static void test_the_encoder_refuses_a_layout_the_wiring_does_not_have(void **state)
{
    (void)state;
    const float *x[CAPTURE_MAX_CHANNELS];
    float *all = make_channels(6, 4, x);
    struct capture_meta m = {.id = "bad", .rate_hz = 6400, .start_ms = NOW_MS, .nominal_hz = 50};
    struct capture_layout ok3, l;
    capture_layout_3p4w(&ok3);
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max_set(4, 6));
    assert_int_equal(capture_encode_set(&m, &ok3, x, 4, &b), 0);

    l = ok3;
    l.count = 5; /* ic missing */
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = ok3;
    l.ch[1] = CAPTURE_CH_VA; /* va twice */
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = ok3;
    l.ch[0] = CAPTURE_CH_VB;
    l.ch[1] = CAPTURE_CH_VA; /* out of order */
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = ok3;
    l.wiring = CAPTURE_WIRING_3P3W; /* phase voltages on a three-wire meter */
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = ok3;
    l.cal_deg[4] = 180.5;
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = ok3;
    l.cal_deg[4] = NAN;
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    l = (struct capture_layout){
        .wiring = CAPTURE_WIRING_3P3W,
        .count = 4,
        .ch = {CAPTURE_CH_VAB, CAPTURE_CH_IA, CAPTURE_CH_IB, CAPTURE_CH_IC}};
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL); /* one voltage */
    capture_layout_1p(&l, 2);
    assert_true(capture_layout_valid(&l));
    l.cal_deg[0] = 1; /* the voltage is the reference */
    assert_int_equal(capture_encode_set(&m, &l, x, 4, &b), -EINVAL);
    dynbuf_free(&b);
    free(all);
}

/* A valid 3p4w payload of 2 samples a channel (8 base64 chars each), with one change spliced in. */
static int decode_3p_variant(const char *set_key, const char *set_json, const char *del_key,
                             char err[CAPTURE_ERR_LEN])
{
    const float *x[CAPTURE_MAX_CHANNELS];
    float *all = make_channels(6, 2, x);
    struct capture_layout l;
    capture_layout_3p4w(&l);
    struct capture_meta m = {.id = "var", .rate_hz = 6400, .start_ms = NOW_MS, .nominal_hz = 50};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max_set(2, 6));
    assert_int_equal(capture_encode_set(&m, &l, x, 2, &b), 0);
    json_error_t jerr;
    json_t *root = json_loadb(b.buf, b.len, 0, &jerr);
    assert_non_null(root);
    if (set_key) {
        json_t *v = json_loads(set_json, JSON_DECODE_ANY, &jerr);
        assert_non_null(v);
        json_object_set_new(root, set_key, v);
    }
    if (del_key)
        json_object_del(root, del_key);
    struct capture_samples c = {0};
    int r = capture_decode(root, NOW_MS, &c, err);
    capture_samples_free(&c);
    json_decref(root);
    dynbuf_free(&b);
    free(all);
    return r;
}

static void test_a_three_phase_capture_is_checked_strictly(void **state)
{
    (void)state;
    static const struct {
        const char *set_key, *set_json, *del_key, *error; /* error NULL: accepted */
    } cases[] = {
        {NULL, NULL, NULL, NULL},
        {"phase_cal_deg", "{}", NULL, NULL},
        {NULL, NULL, "phase_cal_deg", NULL},
        {"phase_cal_deg", "{\"va\":-180,\"ib\":180}", NULL, NULL},
        {"wiring", "\"3p5w\"", NULL, "wiring must be"},
        {"wiring", "3", NULL, "wiring must be"},
        {"wiring", "\"1p2w\"", NULL, "channels must be [\"v\",\"i\"]"},
        {"wiring", "\"3p3w\"", NULL, "for 3p3w"},
        {NULL, NULL, "channels", "for 3p4w"},
        {"channels", "[\"va\",\"vb\",\"vc\",\"ia\",\"ib\"]", NULL, "for 3p4w"},
        {"channels", "[\"va\",\"vb\",\"vc\",\"ia\",\"ic\",\"ib\"]", NULL, "for 3p4w"},
        {"channels", "[\"va\",\"vb\",\"vc\",\"ia\",\"ib\",\"ic\",\"ic\"]", NULL, "for 3p4w"},
        {"channels", "[\"va\",\"vb\",\"vc\",\"ia\",\"ib\",\"in\"]", NULL, "for 3p4w"},
        {"channels", "[\"va\",\"vb\",\"vc\",\"ia\",\"ib\",7]", NULL, "for 3p4w"},
        {"channels", "\"va\"", NULL, "for 3p4w"},
        {NULL, NULL, "units", "units must give"},
        {"units", "[\"V\",\"V\",\"V\",\"A\",\"A\",\"V\"]", NULL, "units must give"},
        {"units", "[\"V\",\"V\",\"V\",\"A\",\"A\"]", NULL, "units must give"},
        {"phase_cal_deg", "1.5", NULL, "object keyed by channel for 3p4w"},
        {"phase_cal_deg", "{\"vab\":1}", NULL, "phase_cal_deg must map"},
        {"phase_cal_deg", "{\"i\":1}", NULL, "phase_cal_deg must map"},
        {"phase_cal_deg", "{\"ia\":180.01}", NULL, "phase_cal_deg must map"},
        {"phase_cal_deg", "{\"ia\":\"1\"}", NULL, "phase_cal_deg must map"},
        {NULL, NULL, "ic", "ic must be a base64 string"},
        {"ib", "\"AAAA\"", NULL, "ib holds 4 bytes of base64, not 2 samples"},
        {"ib", "\"AAAAAAAAAAA*\"", NULL, "ib is not valid base64"},
        {"ic", "\"AACA/wAAAAA=\"", NULL, "ic[0] is not finite"},
        {"v", "\"AAAAAAAAAAA=\"", NULL, "v is not one of this capture's channels"},
        {"vab", "\"AAAAAAAAAAA=\"", NULL, "vab is not one of this capture's channels"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char err[CAPTURE_ERR_LEN] = "";
        int r = decode_3p_variant(cases[k].set_key, cases[k].set_json, cases[k].del_key, err);
        if (cases[k].error ? r != -EINVAL || !strstr(err, cases[k].error) : r != 0)
            fail_msg("case %zu: got %d '%s'", k, r, err);
    }
}

static void test_a_single_phase_capture_refuses_three_phase_members(void **state)
{
    (void)state;
    float v[2] = {1, 2}, i[2] = {3, 4};
    struct capture_meta m = {.id = "p1", .rate_hz = 6400, .start_ms = NOW_MS, .nominal_hz = 50};
    struct dynbuf b;
    dynbuf_init(&b, capture_payload_max(2));
    assert_int_equal(capture_encode(&m, v, i, 2, &b), 0);
    assert_null(strstr(b.buf, "wiring")); /* single phase reads exactly as before */
    json_error_t jerr;
    json_t *root = json_loadb(b.buf, b.len, 0, &jerr);
    assert_non_null(root);
    char err[CAPTURE_ERR_LEN];
    struct capture_samples c;
    assert_int_equal(capture_decode(root, NOW_MS, &c, err), 0);
    assert_int_equal(c.layout.wiring, CAPTURE_WIRING_1P2W);
    assert_ptr_equal(c.v, c.x[0]);
    assert_ptr_equal(c.i, c.x[1]);
    assert_ptr_equal(capture_samples_channel(&c, CAPTURE_CH_I), c.i);
    capture_samples_free(&c);
    json_object_set_new(root, "phase_cal_deg", json_pack("{s:f}", "i", 1.0));
    assert_int_equal(capture_decode(root, NOW_MS, &c, err), -EINVAL);
    assert_non_null(strstr(err, "phase_cal_deg must be a number"));
    json_object_set_new(root, "phase_cal_deg", json_real(1.0));
    json_object_set_new(root, "ia", json_string("AAAAAAAAAAA="));
    assert_int_equal(capture_decode(root, NOW_MS, &c, err), -EINVAL);
    assert_non_null(strstr(err, "ia is not one of this capture's channels"));
    json_decref(root);
    dynbuf_free(&b);
}

static void test_wiring_and_channel_names(void **state)
{
    (void)state;
    enum capture_wiring w = CAPTURE_WIRING_1P2W;
    assert_int_equal(capture_wiring_parse("3p3w", &w), 0);
    assert_int_equal(w, CAPTURE_WIRING_3P3W);
    assert_int_equal(capture_wiring_parse("3P3W", &w), -EINVAL);
    assert_int_equal(w, CAPTURE_WIRING_3P3W);
    assert_string_equal(capture_wiring_name(CAPTURE_WIRING_3P4W), "3p4w");
    assert_string_equal(capture_channel_name(CAPTURE_CH_VCA), "vca");
    assert_string_equal(capture_channel_phase(CAPTURE_CH_VCA), "ca");
    assert_string_equal(capture_channel_phase(CAPTURE_CH_IB), "b");
    assert_string_equal(capture_channel_unit(CAPTURE_CH_IB), "A");
    assert_string_equal(capture_channel_unit(CAPTURE_CH_VB), "V");
    assert_false(capture_channel_is_current(CAPTURE_CH_V));
    assert_true(capture_channel_is_current(CAPTURE_CH_I));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capture_round_trips_through_its_payload),
        cmocka_unit_test(test_f32le_is_little_endian_ieee754),
        cmocka_unit_test(test_capture_payload_fits_its_cap_and_refuses_nonsense),
        cmocka_unit_test(test_a_capture_the_meter_encodes_the_server_decodes),
        cmocka_unit_test(test_capture_limits_hold_at_their_boundaries),
        cmocka_unit_test(test_a_capture_without_a_request_id_is_refused_first),
        cmocka_unit_test(test_a_three_phase_capture_carries_every_channel),
        cmocka_unit_test(test_three_wire_captures_carry_the_wired_subset),
        cmocka_unit_test(test_the_encoder_refuses_a_layout_the_wiring_does_not_have),
        cmocka_unit_test(test_a_three_phase_capture_is_checked_strictly),
        cmocka_unit_test(test_a_single_phase_capture_refuses_three_phase_members),
        cmocka_unit_test(test_wiring_and_channel_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
