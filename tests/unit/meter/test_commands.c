/* Commands from the server: parsing, replies, capture payloads and the queue to the main loop. */
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
#include "commands.h"
#include "f32le.h"
#include "timeutil.h"

/* 2026-11-23T18:45:53.355Z */
#define NOW_MS INT64_C(1795459553355)

static int parse(const char *json, struct command *c)
{
    return command_parse(json, strlen(json), NOW_MS, c);
}

static void test_a_capture_command_is_parsed(void **state)
{
    (void)state;
    struct command c;
    assert_int_equal(parse("{\"id\":\"req-1_A\",\"cmd\":\"capture\",\"duration_ms\":2000,"
                           "\"ts\":\"2026-11-23T18:45:52.000Z\"}",
                           &c),
                     0);
    assert_int_equal(c.kind, COMMAND_CAPTURE);
    assert_string_equal(c.id, "req-1_A");
    assert_string_equal(c.name, "capture");
    assert_int_equal(c.duration_ms, 2000);
    assert_int_equal(c.ts_ms, NOW_MS - 1355);

    /* epoch milliseconds work too, and the bounds are inclusive */
    assert_int_equal(parse("{\"id\":\"x\",\"cmd\":\"capture\",\"duration_ms\":100,\"ts\":"
                           "1795459553000}",
                           &c),
                     0);
    assert_int_equal(c.duration_ms, 100);
    assert_int_equal(parse("{\"id\":\"x\",\"cmd\":\"capture\",\"duration_ms\":10000,\"ts\":"
                           "1795459553000,\"extra\":[1,2]}",
                           &c),
                     0);
    assert_int_equal(c.duration_ms, 10000);
}

static void test_bad_commands_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int err;
        const char *id;      /* kept for the error reply */
        const char *message; /* a part of the message */
    } cases[] = {
        {"not json", -EINVAL, "", "malformed JSON"},
        {"[1]", -EINVAL, "", "JSON object"},
        {"{\"cmd\":\"capture\"}", -EINVAL, "", "id must be"},
        {"{\"id\":\"\",\"cmd\":\"capture\"}", -EINVAL, "", "id must be"},
        {"{\"id\":\"a b\",\"cmd\":\"capture\"}", -EINVAL, "", "id must be"},
        {"{\"id\":12,\"cmd\":\"capture\"}", -EINVAL, "", "id must be"},
        {"{\"id\":\"a\"}", -EINVAL, "a", "cmd is missing"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"duration_ms\":500}", -EINVAL, "a", "ts must be"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":\"yesterday\"}", -EINVAL,
         "a", "ts must be"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"ts\":1795459553000}", -EINVAL, "a",
         "duration_ms is missing"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"ts\":1795459553000,\"duration_ms\":99}", -EINVAL, "a",
         "from 100 to 10000"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"ts\":1795459553000,\"duration_ms\":10001}", -EINVAL,
         "a", "from 100 to 10000"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"ts\":1795459553000,\"duration_ms\":1.5}", -EINVAL,
         "a", "from 100 to 10000"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"ts\":1795459553000,\"duration_ms\":\"500\"}", -EINVAL,
         "a", "from 100 to 10000"},
        {"{\"id\":\"a\",\"cmd\":\"reboot\",\"ts\":1795459553000}", -ENOTSUP, "a",
         "unknown command 'reboot'"},
        {"{\"id\":\"a\",\"cmd\":\"x\\\"y\",\"ts\":1795459553000}", -ENOTSUP, "a",
         "unknown command"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":\"2026-11-23T18:43:00Z\"}",
         -ETIME, "a", "command expired"},
        {"{\"id\":\"a\",\"id\":\"b\",\"cmd\":\"capture\"}", -EINVAL, "", "duplicate"},
        {"{\"id\":\"a\",\"cmd\":\"capture\",\"p\":[[[[1]]]]}", -EINVAL, "", "deeper"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct command c;
        int r = parse(cases[k].json, &c);
        if (r != cases[k].err || strcmp(c.id, cases[k].id) != 0 ||
            !strstr(c.message, cases[k].message)) {
            fail_msg("case %zu %s: got %d id '%s' message '%s'", k, cases[k].json, r, c.id,
                     c.message);
        }
        assert_int_equal(c.kind, COMMAND_INVALID);
    }
}

static void test_replies_name_the_request(void **state)
{
    (void)state;
    struct command c;
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    parse("{\"id\":\"r7\",\"cmd\":\"relay\",\"ts\":1795459553000}", &c);
    assert_int_equal(command_reply_encode(&c, false, c.message, NOW_MS, &b), 0);
    assert_string_equal(dynbuf_str(&b),
                        "{\"id\":\"r7\",\"cmd\":\"relay\",\"status\":\"error\",\"message\":"
                        "\"unknown command 'relay'\",\"ts\":\"2026-11-23T18:45:53.355Z\"}");
    dynbuf_reset(&b);
    parse("garbage", &c);
    assert_int_equal(command_reply_encode(&c, false, c.message, NOW_MS, &b), 0);
    assert_non_null(strstr(dynbuf_str(&b), "{\"id\":null,\"cmd\":null,\"status\":\"error\""));
    dynbuf_reset(&b);
    parse("{\"id\":\"r8\",\"cmd\":\"capture\",\"duration_ms\":300,\"ts\":1795459553000}", &c);
    assert_int_equal(command_reply_encode(&c, true, NULL, NOW_MS, &b), 0);
    assert_string_equal(dynbuf_str(&b), "{\"id\":\"r8\",\"cmd\":\"capture\",\"status\":\"ok\","
                                        "\"ts\":\"2026-11-23T18:45:53.355Z\"}");
    dynbuf_free(&b);
}

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

static void check_round_trip(size_t n)
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

static void test_the_queue_is_bounded_and_first_in_first_out(void **state)
{
    (void)state;
    struct command_queue *q;
    struct command c, out;
    assert_int_equal(command_queue_new(0, &q), -EINVAL);
    assert_int_equal(command_queue_new(3, &q), 0);
    assert_false(command_queue_pop(q, &out));
    memset(&c, 0, sizeof(c));
    for (int k = 0; k < 3; k++) {
        snprintf(c.id, sizeof(c.id), "c%d", k);
        assert_int_equal(command_queue_push(q, &c), 0);
    }
    snprintf(c.id, sizeof(c.id), "overflow");
    assert_int_equal(command_queue_push(q, &c), -ENOBUFS);
    assert_int_equal(command_queue_dropped(q), 1);
    assert_true(command_queue_pop(q, &out));
    assert_string_equal(out.id, "c0");
    /* wraps around */
    snprintf(c.id, sizeof(c.id), "c3");
    assert_int_equal(command_queue_push(q, &c), 0);
    for (int k = 1; k <= 3; k++) {
        char want[8];
        snprintf(want, sizeof(want), "c%d", k);
        assert_true(command_queue_pop(q, &out));
        assert_string_equal(out.id, want);
    }
    assert_false(command_queue_pop(q, &out));
    command_queue_free(q);
    command_queue_free(NULL);
}

static void test_the_handler_queues_valid_and_invalid_commands(void **state)
{
    (void)state;
    struct command_queue *q;
    struct command out;
    char json[200];
    assert_int_equal(command_queue_new(4, &q), 0);
    char ts[TIME_RFC3339_LEN];
    time_format_rfc3339_ms(time_now_ms(), ts);
    snprintf(json, sizeof(json),
             "{\"id\":\"h1\",\"cmd\":\"capture\",\"duration_ms\":250,\"ts\":\"%s\"}", ts);
    command_queue_handler(json, strlen(json), q);
    command_queue_handler("{\"id\":\"h2\"}", 11, q);
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_CAPTURE);
    assert_int_equal(out.duration_ms, 250);
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_INVALID);
    assert_string_equal(out.id, "h2");
    assert_false(command_queue_pop(q, &out));
    command_queue_free(q);
}

/* A meter for command_run(): a ring that counts samples, and a client that records what it sent. */
struct fake_meter {
    int snapshot_result;
    int capture_send_result;
    size_t asked; /* pairs the last snapshot asked for */
    int sent;
    char leaf[4][16];
    char *payload[4];
};

static int fake_snapshot(void *ctx, size_t n, float *v, float *i, int64_t *ret_first_ms)
{
    struct fake_meter *m = ctx;
    m->asked = n;
    if (m->snapshot_result)
        return m->snapshot_result;
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)k;
        i[k] = -(float)k;
    }
    *ret_first_ms = NOW_MS - 2000;
    return 0;
}

static int fake_send(void *ctx, enum topic_leaf leaf, const void *payload, size_t len)
{
    struct fake_meter *m = ctx;
    assert_true(m->sent < 4);
    snprintf(m->leaf[m->sent], sizeof(m->leaf[0]), "%s", topic_leaf_name(leaf));
    m->payload[m->sent] = strndup(payload, len);
    m->sent++;
    return leaf == TOPIC_CAPTURE ? m->capture_send_result : 0;
}

static void fake_free(struct fake_meter *m)
{
    for (int k = 0; k < m->sent; k++)
        free(m->payload[k]);
}

static json_t *sent_json(const struct fake_meter *m, int k)
{
    json_error_t err;
    json_t *root = json_loads(m->payload[k], JSON_REJECT_DUPLICATES, &err);
    assert_non_null(root);
    return root;
}

static const char *str_of(json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

static void test_a_capture_is_sent_and_then_acknowledged(void **state)
{
    (void)state;
    struct fake_meter m = {0};
    struct command_env env = {.rate_hz = 6400,
                              .nominal_hz = 50,
                              .phase_cal_deg = 0.5,
                              .snapshot = fake_snapshot,
                              .send = fake_send,
                              .ctx = &m};
    struct command c;
    char why[COMMAND_MESSAGE_MAX];
    assert_int_equal(
        parse("{\"id\":\"c1\",\"cmd\":\"capture\",\"duration_ms\":2000,\"ts\":1795459553000}", &c),
        0);
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), 0);
    assert_int_equal(m.asked, 12800);
    assert_int_equal(m.sent, 2);
    assert_string_equal(m.leaf[0], "capture");
    assert_string_equal(m.leaf[1], "reply");
    json_t *cap = sent_json(&m, 0), *rep = sent_json(&m, 1);
    assert_string_equal(str_of(cap, "id"), "c1");
    assert_int_equal(json_integer_value(json_object_get(cap, "samples")), 12800);
    assert_string_equal(str_of(cap, "start"), "2026-11-23T18:45:51.355Z");
    assert_true(json_number_value(json_object_get(cap, "phase_cal_deg")) == 0.5);
    float *v = decode_channel(cap, "v", 12800), *i = decode_channel(cap, "i", 12800);
    assert_true(v[12799] == 12799.0f && i[12799] == -12799.0f);
    free(v);
    free(i);
    assert_string_equal(str_of(rep, "id"), "c1");
    assert_string_equal(str_of(rep, "status"), "ok");
    assert_null(json_object_get(rep, "message"));
    json_decref(cap);
    json_decref(rep);
    fake_free(&m);

    /* the shortest capture still holds a sample at the slowest rate */
    struct fake_meter slow = {0};
    env.ctx = &slow;
    env.rate_hz = 1;
    c.duration_ms = 100;
    assert_int_equal(command_run(&c, &env, NOW_MS, NULL, 0), 0);
    assert_int_equal(slow.asked, 1);
    fake_free(&slow);
}

static void check_error_reply(struct fake_meter *m, int k, const char *message)
{
    json_t *rep = sent_json(m, k);
    assert_string_equal(m->leaf[k], "reply");
    assert_string_equal(str_of(rep, "status"), "error");
    if (!strstr(str_of(rep, "message"), message))
        fail_msg("reply message '%s' lacks '%s'", str_of(rep, "message"), message);
    json_decref(rep);
}

static void test_a_command_that_cannot_run_is_answered_with_why(void **state)
{
    (void)state;
    struct command c;
    char why[COMMAND_MESSAGE_MAX];
    struct fake_meter m = {.snapshot_result = -ENODATA};
    struct command_env env = {
        .rate_hz = 6400, .nominal_hz = 50, .snapshot = fake_snapshot, .send = fake_send, .ctx = &m};
    parse("{\"id\":\"c2\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":1795459553000}", &c);
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENODATA);
    assert_string_equal(why, "not enough samples yet");
    assert_int_equal(m.sent, 1);
    check_error_reply(&m, 0, "not enough samples yet");
    fake_free(&m);

    struct fake_meter off = {.capture_send_result = -ENOTCONN};
    env.ctx = &off;
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENOTCONN);
    assert_int_equal(off.sent, 2);
    check_error_reply(&off, 1, "cannot send the capture");
    fake_free(&off);

    struct fake_meter bad = {0};
    env.ctx = &bad;
    parse("{\"id\":\"c3\",\"cmd\":\"dance\",\"ts\":1795459553000}", &c);
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -EINVAL);
    assert_int_equal(bad.sent, 1);
    check_error_reply(&bad, 0, "unknown command 'dance'");
    assert_int_equal(bad.asked, 0);
    fake_free(&bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capture_command_is_parsed),
        cmocka_unit_test(test_bad_commands_are_refused_with_a_reason),
        cmocka_unit_test(test_replies_name_the_request),
        cmocka_unit_test(test_a_capture_round_trips_through_its_payload),
        cmocka_unit_test(test_f32le_is_little_endian_ieee754),
        cmocka_unit_test(test_capture_payload_fits_its_cap_and_refuses_nonsense),
        cmocka_unit_test(test_the_queue_is_bounded_and_first_in_first_out),
        cmocka_unit_test(test_the_handler_queues_valid_and_invalid_commands),
        cmocka_unit_test(test_a_capture_is_sent_and_then_acknowledged),
        cmocka_unit_test(test_a_command_that_cannot_run_is_answered_with_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
