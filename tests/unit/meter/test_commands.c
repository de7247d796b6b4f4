/*
 * Commands from the server as meterd runs them: the queue to the main loop,
 * and what command_run() sends (the capture read back with the server's own
 * decoder). The payloads alone: tests/unit/common/wire/.
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

#include "commands.h"
#include "timeutil.h"

/* 2026-11-23T18:45:53.355Z */
#define NOW_MS INT64_C(1795459553355)

static int parse(const char *json, struct command *c)
{
    return command_parse(json, strlen(json), NOW_MS, c);
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

/* A command as the server sends it: encoded and signed with the key of secret for topic. */
static void signed_command(const char *secret, const char *topic, const char *id, int64_t ts_ms,
                           struct dynbuf *out)
{
    struct sign_key k;
    struct command c;
    sign_key_from_secret(secret, strlen(secret), &k);
    assert_int_equal(command_init(&c, COMMAND_CAPTURE, id, ts_ms), 0);
    c.duration_ms = 300;
    dynbuf_reset(out);
    assert_int_equal(command_encode(&c, out), 0);
    assert_int_equal(sign_payload(&k, topic, out), 0);
}

/*
 * F2 of the 2026-12-07 audit: a meter ran commands from anyone. With the key, only the
 * server's signed command for this meter's topic is taken, once; a forged, unsigned, moved
 * or replayed one is dropped unanswered and counted; a badly dated one is answered.
 */
static void test_only_signed_fresh_commands_are_taken_once(void **state)
{
    (void)state;
    const char *secret = "the-secret-of-m1", *topic = "meters/m1/cmd";
    struct command_queue *q;
    struct command out;
    struct dynbuf b;
    uint64_t bad_sig = 0, replayed = 0;
    struct sign_key k;
    sign_key_from_secret(secret, strlen(secret), &k);
    assert_int_equal(command_queue_new(8, &q), 0);
    command_queue_require_signature(q, &k, topic);
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    int64_t now = time_now_ms();

    /* Unsigned, as anyone on the broker could send it. */
    char plain[200];
    snprintf(plain, sizeof(plain),
             "{\"id\":\"u1\",\"cmd\":\"capture\",\"duration_ms\":300,\"ts\":%lld}", (long long)now);
    command_queue_handler(plain, strlen(plain), q);
    /* Signed with another device's key, and this device's command moved to another topic. */
    signed_command("another secret", topic, "f1", now, &b);
    command_queue_handler(b.buf, b.len, q);
    signed_command(secret, "meters/m2/cmd", "f2", now, &b);
    command_queue_handler(b.buf, b.len, q);
    /* One byte of a signed command changed. */
    signed_command(secret, topic, "f3", now, &b);
    b.buf[strstr(b.buf, "300") - b.buf] = '9';
    command_queue_handler(b.buf, b.len, q);
    assert_false(command_queue_pop(q, &out));
    command_queue_refused(q, &bad_sig, &replayed);
    assert_int_equal(bad_sig, 4);
    assert_int_equal(replayed, 0);

    /* The server's own: taken; the same again (replayed, or delivered twice): dropped. */
    signed_command(secret, topic, "ok1", now, &b);
    command_queue_handler(b.buf, b.len, q);
    command_queue_handler(b.buf, b.len, q);
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_CAPTURE);
    assert_string_equal(out.id, "ok1");
    assert_false(command_queue_pop(q, &out));
    command_queue_refused(q, &bad_sig, &replayed);
    assert_int_equal(bad_sig, 4);
    assert_int_equal(replayed, 1);

    /* Signed but dated ahead or at INT64_MIN: answered with why, never run. */
    signed_command(secret, topic, "late", now + 60000, &b);
    command_queue_handler(b.buf, b.len, q);
    dynbuf_reset(&b);
    assert_int_equal(dynbuf_addstr(&b, "{\"id\":\"min\",\"cmd\":\"capture\",\"duration_ms\":300,"
                                       "\"ts\":-9223372036854775808}"),
                     0);
    assert_int_equal(sign_payload(&k, topic, &b), 0);
    command_queue_handler(b.buf, b.len, q);
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_INVALID);
    assert_non_null(strstr(out.message, "ahead of the meter's clock"));
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_INVALID);
    assert_non_null(strstr(out.message, "command expired"));
    dynbuf_free(&b);
    command_queue_free(q);
}

/* Ids are remembered for COMMAND_REMEMBER_MS; with the memory full of fresh ids, refuse. */
static void test_a_full_memory_of_ids_refuses_rather_than_forgets(void **state)
{
    (void)state;
    struct command_queue *q;
    struct command out;
    char json[200];
    uint64_t bad_sig, replayed;
    assert_int_equal(command_queue_new(1, &q), 0);
    int64_t now = time_now_ms();
    for (int k = 0; k <= COMMAND_REMEMBER_MAX; k++) {
        snprintf(json, sizeof(json),
                 "{\"id\":\"r%d\",\"cmd\":\"capture\",\"duration_ms\":300,\"ts\":%lld}", k,
                 (long long)now);
        command_queue_handler(json, strlen(json), q);
        command_queue_pop(q, &out);
    }
    command_queue_refused(q, &bad_sig, &replayed);
    assert_int_equal(bad_sig, 0);
    assert_int_equal(replayed, 1);
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

/* The capture the meter sent as k, through the server's decoder. */
static struct capture_samples server_decode(const struct fake_meter *m, int k)
{
    char id[COMMAND_ID_MAX + 1], err[CAPTURE_ERR_LEN];
    json_t *root;
    struct capture_samples s = {0};
    const char *p = m->payload[k];
    if (capture_parse_head(p, strlen(p), &root, id, err) || capture_decode(root, NOW_MS, &s, err))
        fail_msg("the server refuses the capture: %s", err);
    json_decref(root);
    return s;
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
    struct capture_samples samples = server_decode(&m, 0);
    float *v = samples.v, *i = samples.i;
    assert_true(v[12799] == 12799.0f && i[12799] == -12799.0f);
    capture_samples_free(&samples);
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

static int setup(void **state)
{
    (void)state;
    return sign_init();
}

static int fake_snapshot_set(void *ctx, size_t n, float *const x[], int64_t *ret_first_ms)
{
    struct fake_meter *m = ctx;
    m->asked = n;
    if (m->snapshot_result)
        return m->snapshot_result;
    for (size_t c = 0; c < 6; c++) {
        if (!x[c])
            break;
        for (size_t k = 0; k < n; k++)
            x[c][k] = (float)(100 * c + k % 100);
    }
    *ret_first_ms = NOW_MS - 1000;
    return 0;
}

static void test_a_three_phase_capture_carries_every_channel(void **state)
{
    (void)state;
    struct fake_meter m = {0};
    struct capture_layout l;
    capture_layout_3p4w(&l);
    for (size_t k = 0; k < l.count; k++)
        l.cal_deg[k] = -0.216 * (double)k; /* the converter's read-out delays */
    struct command_env env = {.rate_hz = 6400,
                              .nominal_hz = 50,
                              .snapshot = fake_snapshot,
                              .layout = &l,
                              .snapshot_set = fake_snapshot_set,
                              .send = fake_send,
                              .ctx = &m};
    struct command c;
    assert_int_equal(
        parse("{\"id\":\"c3\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":1795459553000}", &c),
        0);
    assert_int_equal(command_run(&c, &env, NOW_MS, NULL, 0), 0);
    assert_int_equal(m.asked, 3200);
    assert_int_equal(m.sent, 2);
    assert_string_equal(m.leaf[0], "capture");
    struct capture_samples s = server_decode(&m, 0);
    assert_int_equal(s.layout.wiring, CAPTURE_WIRING_3P4W);
    assert_int_equal(s.layout.count, 6);
    static const enum capture_channel want[6] = {CAPTURE_CH_VA, CAPTURE_CH_VB, CAPTURE_CH_VC,
                                                 CAPTURE_CH_IA, CAPTURE_CH_IB, CAPTURE_CH_IC};
    for (size_t k = 0; k < 6; k++) {
        assert_int_equal(s.layout.ch[k], want[k]);
        assert_true(fabs(s.layout.cal_deg[k] - l.cal_deg[k]) < 1e-9);
        const float *x = capture_samples_channel(&s, want[k]);
        assert_non_null(x);
        assert_true(x[0] == (float)(100 * k) && x[3199] == (float)(100 * k + 99));
    }
    capture_samples_free(&s);
    fake_free(&m);

    /* Too few samples yet: the error reply, as for one phase. */
    struct fake_meter early = {.snapshot_result = -ENODATA};
    env.ctx = &early;
    char why[COMMAND_MESSAGE_MAX];
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENODATA);
    assert_string_equal(why, "not enough samples yet");
    fake_free(&early);
}

static int fake_relay(void *ctx, const struct command *c, char *why, size_t whylen)
{
    struct fake_meter *m = ctx;
    m->asked = c->relay_on ? 1 : 2;
    if (m->snapshot_result)
        snprintf(why, whylen, "cannot switch the relay: test");
    return m->snapshot_result;
}

static void test_a_relay_command_is_run_then_answered_and_passes_the_queue_again(void **state)
{
    (void)state;
    struct fake_meter m = {0};
    struct command_env env = {.rate_hz = 6400, .send = fake_send, .relay = fake_relay, .ctx = &m};
    struct command c;
    char why[COMMAND_MESSAGE_MAX];
    assert_int_equal(parse("{\"id\":\"r1\",\"cmd\":\"relay\",\"state\":\"off\",\"ts\":"
                           "1795459553000}",
                           &c),
                     0);
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), 0);
    assert_int_equal(m.asked, 2);
    assert_int_equal(m.sent, 1);
    json_t *rep = sent_json(&m, 0);
    assert_string_equal(str_of(rep, "id"), "r1");
    assert_string_equal(str_of(rep, "cmd"), "relay");
    assert_string_equal(str_of(rep, "status"), "ok");
    json_decref(rep);
    fake_free(&m);

    struct fake_meter broken = {.snapshot_result = -EIO};
    env.ctx = &broken;
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -EIO);
    check_error_reply(&broken, 0, "cannot switch the relay");
    fake_free(&broken);

    struct fake_meter none = {0};
    env.ctx = &none;
    env.relay = NULL;
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENOTSUP);
    check_error_reply(&none, 0, "no load relay");
    fake_free(&none);

    /* The server resends a relay command until it is answered: a copy reaches the main loop
       (the relay's persisted ids keep it from acting twice), a capture's copy does not. */
    struct command_queue *q;
    struct command out;
    char p[160];
    assert_int_equal(command_queue_new(8, &q), 0);
    snprintf(p, sizeof(p), "{\"id\":\"r2\",\"cmd\":\"relay\",\"state\":\"on\",\"ts\":%lld}",
             (long long)time_now_ms());
    command_queue_handler(p, strlen(p), q);
    command_queue_handler(p, strlen(p), q);
    assert_true(command_queue_pop(q, &out));
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_RELAY);
    assert_true(out.relay_on);
    assert_false(command_queue_pop(q, &out));
    command_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_queue_is_bounded_and_first_in_first_out),
        cmocka_unit_test(test_the_handler_queues_valid_and_invalid_commands),
        cmocka_unit_test(test_only_signed_fresh_commands_are_taken_once),
        cmocka_unit_test(test_a_full_memory_of_ids_refuses_rather_than_forgets),
        cmocka_unit_test(test_a_capture_is_sent_and_then_acknowledged),
        cmocka_unit_test(test_a_three_phase_capture_carries_every_channel),
        cmocka_unit_test(test_a_command_that_cannot_run_is_answered_with_why),
        cmocka_unit_test(test_a_relay_command_is_run_then_answered_and_passes_the_queue_again),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
