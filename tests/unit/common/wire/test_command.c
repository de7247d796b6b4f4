/*
 * Commands and replies (meters/<id>/cmd and .../reply): the meter's parser
 * takes what the server encodes, with the same limits, and refuses every
 * malformed command with a reason it can send back; the server's reply
 * parser takes what the meter encodes, and refuses malformed replies.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

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

static void test_a_relay_command_round_trips_and_refuses_a_bad_state(void **state)
{
    (void)state;
    for (int on = 0; on <= 1; on++) {
        struct command out, in;
        struct dynbuf b;
        dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
        assert_int_equal(command_init(&out, COMMAND_RELAY, "r-1", NOW_MS - 1000), 0);
        out.relay_on = on;
        assert_int_equal(command_encode(&out, &b), 0);
        assert_string_equal(dynbuf_str(&b), on ? "{\"id\":\"r-1\",\"cmd\":\"relay\",\"state\":"
                                                 "\"on\",\"ts\":\"2026-11-23T18:45:52.355Z\"}"
                                               : "{\"id\":\"r-1\",\"cmd\":\"relay\",\"state\":"
                                                 "\"off\",\"ts\":\"2026-11-23T18:45:52.355Z\"}");
        assert_int_equal(command_parse(b.buf, b.len, NOW_MS, &in), 0);
        assert_int_equal(in.kind, COMMAND_RELAY);
        assert_string_equal(in.name, "relay");
        assert_int_equal(in.relay_on, on);
        dynbuf_free(&b);
    }
    static const char *const bad[] = {
        "{\"id\":\"a\",\"cmd\":\"relay\",\"ts\":1795459553000}",
        "{\"id\":\"a\",\"cmd\":\"relay\",\"state\":\"ON\",\"ts\":1795459553000}",
        "{\"id\":\"a\",\"cmd\":\"relay\",\"state\":\"o\",\"ts\":1795459553000}",
        "{\"id\":\"a\",\"cmd\":\"relay\",\"state\":true,\"ts\":1795459553000}",
        "{\"id\":\"a\",\"cmd\":\"relay\",\"state\":\"offf\",\"ts\":1795459553000}",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct command c;
        assert_int_equal(parse(bad[k], &c), -EINVAL);
        assert_int_equal(c.kind, COMMAND_INVALID);
        assert_string_equal(c.id, "a");
        assert_string_equal(c.message, "state must be \"on\" or \"off\"");
    }
    assert_string_equal(command_name(COMMAND_RELAY), "relay");
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
    parse("{\"id\":\"r7\",\"cmd\":\"reboot\",\"ts\":1795459553000}", &c);
    assert_int_equal(command_reply_encode(&c, false, c.message, NOW_MS, &b), 0);
    assert_string_equal(dynbuf_str(&b),
                        "{\"id\":\"r7\",\"cmd\":\"reboot\",\"status\":\"error\",\"message\":"
                        "\"unknown command 'reboot'\",\"ts\":\"2026-11-23T18:45:53.355Z\"}");
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

static void test_a_command_the_server_encodes_the_meter_parses(void **state)
{
    (void)state;
    static const uint32_t durations[] = {CAPTURE_MIN_MS, 2000, CAPTURE_MAX_MS};
    for (size_t k = 0; k < sizeof(durations) / sizeof(durations[0]); k++) {
        struct command out, in;
        struct dynbuf b;
        dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
        assert_int_equal(
            command_init(&out, COMMAND_CAPTURE, "9f0c5e0b2d7a4c1e8b3f6a2d5c8e1b40", NOW_MS - 1000),
            0);
        out.duration_ms = durations[k];
        assert_int_equal(command_encode(&out, &b), 0);
        assert_int_equal(command_parse(b.buf, b.len, NOW_MS, &in), 0);
        assert_int_equal(in.kind, COMMAND_CAPTURE);
        assert_string_equal(in.id, out.id);
        assert_string_equal(in.name, "capture");
        assert_int_equal(in.ts_ms, NOW_MS - 1000);
        assert_int_equal(in.duration_ms, durations[k]);
        if (k == 1) /* the bytes the server has always sent */
            assert_string_equal(dynbuf_str(&b),
                                "{\"id\":\"9f0c5e0b2d7a4c1e8b3f6a2d5c8e1b40\",\"cmd\":\"capture\","
                                "\"duration_ms\":2000,\"ts\":\"2026-11-23T18:45:52.355Z\"}");
        dynbuf_free(&b);
    }
}

static void test_the_server_encodes_only_valid_commands(void **state)
{
    (void)state;
    struct command c;
    struct dynbuf b;
    char id[COMMAND_ID_MAX + 2];
    memset(id, 'a', sizeof(id) - 1);
    id[COMMAND_ID_MAX + 1] = '\0';
    assert_int_equal(command_init(&c, COMMAND_CAPTURE, id, NOW_MS), -EINVAL);
    id[COMMAND_ID_MAX] = '\0';
    assert_int_equal(command_init(&c, COMMAND_CAPTURE, id, NOW_MS), 0);
    assert_int_equal(command_init(&c, COMMAND_CAPTURE, "", NOW_MS), -EINVAL);
    assert_int_equal(command_init(&c, COMMAND_CAPTURE, "a\"b", NOW_MS), -EINVAL);
    assert_int_equal(command_init(&c, COMMAND_INVALID, "a", NOW_MS), -EINVAL);
    assert_int_equal(command_init(&c, COMMAND__COUNT, "a", NOW_MS), -EINVAL);
    assert_string_equal(command_name(COMMAND_CAPTURE), "capture");
    assert_null(command_name(COMMAND_INVALID));
    assert_null(command_name(COMMAND__COUNT));
    memset(&c, 0, sizeof(c));
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    assert_int_equal(command_encode(&c, &b), -EINVAL);
    assert_int_equal(b.len, 0);
    dynbuf_free(&b);
}

static void test_a_command_expires_after_its_age_limit(void **state)
{
    (void)state;
    struct command c;
    char json[160];
    snprintf(json, sizeof(json),
             "{\"id\":\"old\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":%lld}",
             (long long)(NOW_MS - COMMAND_MAX_AGE_MS));
    assert_int_equal(parse(json, &c), 0);
    snprintf(json, sizeof(json),
             "{\"id\":\"old\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":%lld}",
             (long long)(NOW_MS - COMMAND_MAX_AGE_MS - 1));
    assert_int_equal(parse(json, &c), -ETIME);
    assert_string_equal(c.id, "old");
    assert_string_equal(c.message, "command expired (issued 120 s ago)");
}

/* F7 of the 2026-12-07 audit: a date far ahead, or at the ends of int64, ran as if fresh. */
static void test_a_command_dated_ahead_or_at_the_int64_limits_is_refused(void **state)
{
    (void)state;
    struct command c;
    char json[200];
    static const struct {
        const char *ts; /* the JSON value */
        int err;
        const char *message;
    } cases[] = {
        {"1795459558355", 0, ""}, /* NOW_MS + COMMAND_MAX_AHEAD_MS */
        {"1795459558356", -ETIME, "command dated 5 s ahead of the meter's clock"},
        {"\"2099-01-01T00:00:00Z\"", -ETIME, "ahead of the meter's clock"},
        {"9223372036854775807", -ETIME, "ahead of the meter's clock"},
        {"-9223372036854775808", -ETIME, "command expired (issued 9223373832314329 s ago)"},
        {"-1", -ETIME, "command expired"},
        {"0", -ETIME, "command expired"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snprintf(json, sizeof(json),
                 "{\"id\":\"t%zu\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":%s}", k,
                 cases[k].ts);
        int r = parse(json, &c);
        if (r != cases[k].err)
            fail_msg("ts %s: %d, want %d (%s)", cases[k].ts, r, cases[k].err, c.message);
        if (r) {
            assert_int_equal(c.kind, COMMAND_INVALID);
            assert_non_null(strstr(c.message, cases[k].message));
        }
    }
    /* The meter's own clock at an end of int64 does not overflow either. */
    const char *mid = "{\"id\":\"m\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":0}";
    assert_int_equal(command_parse(mid, strlen(mid), INT64_MAX, &c), -ETIME);
    assert_int_equal(command_parse(mid, strlen(mid), INT64_MIN, &c), -ETIME);
}

static void test_an_oversized_command_is_refused_unread(void **state)
{
    (void)state;
    struct command c;
    size_t len = COMMAND_PAYLOAD_MAX + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    const char *cmd = "{\"id\":\"a\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":1795459553000}";
    memcpy(big, cmd, strlen(cmd));
    assert_int_equal(command_parse(big, len, NOW_MS, &c), -EINVAL);
    assert_int_equal(c.kind, COMMAND_INVALID);
    assert_string_equal(c.id, "");
    assert_non_null(strstr(c.message, "bytes (at most 65536)"));
    assert_int_equal(command_parse(big, len - 1, NOW_MS, &c), 0);
    free(big);
}

/* The meter's reply to command json, ok or with an error, read back by the server. */
static int reply_round_trip(const char *json, bool ok, const char *message,
                            struct command_reply *ret, char err[COMMAND_ERR_LEN])
{
    struct command c;
    struct dynbuf b;
    parse(json, &c);
    dynbuf_init(&b, 4096);
    assert_int_equal(command_reply_encode(&c, ok, message, NOW_MS, &b), 0);
    int r = command_reply_parse(b.buf, b.len, ret, err);
    dynbuf_free(&b);
    return r;
}

static void test_a_reply_the_meter_encodes_the_server_parses(void **state)
{
    (void)state;
    static const char cmd[] =
        "{\"id\":\"r1\",\"cmd\":\"capture\",\"duration_ms\":300,\"ts\":1795459553000}";
    struct command_reply rep;
    char err[COMMAND_ERR_LEN];
    assert_int_equal(reply_round_trip(cmd, true, NULL, &rep, err), 0);
    assert_string_equal(rep.id, "r1");
    assert_true(rep.ok);
    assert_false(rep.has_message);

    assert_int_equal(reply_round_trip(cmd, false, "not enough samples yet", &rep, err), 0);
    assert_false(rep.ok);
    assert_true(rep.has_message);
    assert_string_equal(rep.message, "not enough samples yet");

    /* a long message is cut to what the server keeps */
    char longmsg[400];
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    assert_int_equal(reply_round_trip(cmd, false, longmsg, &rep, err), 0);
    assert_int_equal(strlen(rep.message), COMMAND_REPLY_MESSAGE_MAX);

    /* the answer to a command without a usable id names no request: the server drops it */
    assert_int_equal(reply_round_trip("garbage", false, "x", &rep, err), -EINVAL);
    assert_string_equal(err, "id is missing or not a request id");
}

static void test_bad_replies_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *message; /* a part of the error */
    } cases[] = {
        {"nonsense", "malformed JSON"},
        {"[1]", "id is missing"},
        {"{\"status\":\"ok\"}", "id is missing"},
        {"{\"id\":null,\"status\":\"error\"}", "id is missing"},
        {"{\"id\":\"a\",\"status\":\"maybe\"}", "status must be"},
        {"{\"id\":\"a\"}", "status must be"},
        {"{\"id\":\"a\",\"status\":\"ok\",\"id\":\"b\"}", "duplicate"},
        {"{\"id\":\"a\",\"status\":\"ok\",\"x\":[[[[1]]]]}", "deeper"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct command_reply rep;
        char err[COMMAND_ERR_LEN] = "";
        int r = command_reply_parse(cases[k].json, strlen(cases[k].json), &rep, err);
        if (r != -EINVAL || !strstr(err, cases[k].message))
            fail_msg("case %zu %s: got %d '%s'", k, cases[k].json, r, err);
    }
}

/* --- remote operations ------------------------------------------------------------------- */

static void test_operations_parse_their_fields_within_bounds(void **state)
{
    (void)state;
    struct command c;
    assert_int_equal(parse("{\"id\":\"o1\",\"cmd\":\"read_status\",\"ts\":1795459553355}", &c), 0);
    assert_int_equal(c.kind, COMMAND_READ_STATUS);
    assert_int_equal(parse("{\"id\":\"o2\",\"cmd\":\"set_interval\",\"interval_s\":0.25,"
                           "\"ts\":1795459553355}",
                           &c),
                     0);
    assert_int_equal(c.kind, COMMAND_SET_INTERVAL);
    assert_int_equal(c.interval_ms, 250);
    assert_int_equal(parse("{\"id\":\"o3\",\"cmd\":\"set_interval\",\"interval_s\":3600,"
                           "\"ts\":1795459553355}",
                           &c),
                     0);
    assert_int_equal(c.interval_ms, 3600000);
    static const char *const bad_intervals[] = {"0.05",  "3600.001", "1.0005", "-1",
                                                "\"5\"", "null",     "true"};
    for (size_t k = 0; k < sizeof(bad_intervals) / sizeof(bad_intervals[0]); k++) {
        char p[160];
        snprintf(p, sizeof(p),
                 "{\"id\":\"o4\",\"cmd\":\"set_interval\",\"interval_s\":%s,\"ts\":1795459553355}",
                 bad_intervals[k]);
        assert_int_equal(parse(p, &c), -EINVAL);
        assert_int_equal(c.kind, COMMAND_INVALID);
        assert_string_equal(c.id, "o4"); /* the error reply can name it */
    }
    assert_non_null(strstr(c.message, "interval_s"));
    assert_int_equal(parse("{\"id\":\"o5\",\"cmd\":\"sync_clock\",\"server_ms\":1795459553000,"
                           "\"ts\":1795459553355}",
                           &c),
                     0);
    assert_int_equal(c.server_ms, INT64_C(1795459553000));
    assert_int_equal(parse("{\"id\":\"o6\",\"cmd\":\"sync_clock\",\"ts\":1795459553355}", &c),
                     -EINVAL);
    assert_int_equal(parse("{\"id\":\"o6\",\"cmd\":\"sync_clock\",\"server_ms\":1.5,"
                           "\"ts\":1795459553355}",
                           &c),
                     -EINVAL);
}

static void test_an_operation_reply_carries_its_result_to_the_server(void **state)
{
    (void)state;
    struct command c;
    struct dynbuf b;
    struct command_reply r;
    char err[COMMAND_ERR_LEN];
    assert_int_equal(command_init(&c, COMMAND_SET_INTERVAL, "i1", NOW_MS), 0);
    c.interval_ms = 2500;
    struct command_result res = {
        .kind = COMMAND_SET_INTERVAL,
        .u.interval = {.interval_ms = 2500, .previous_ms = 1000, .persisted = true}};
    dynbuf_init(&b, 4096);
    assert_int_equal(command_reply_encode_result(&c, true, NULL, &res, NOW_MS, &b), 0);
    assert_int_equal(command_reply_parse(b.buf, b.len, &r, err), 0);
    assert_true(r.ok && r.has_result);
    assert_string_equal(r.result, "{\"interval_s\":2.5,\"previous_s\":1,\"persisted\":true}");
    /* a result of another kind is a programming error, refused */
    res.kind = COMMAND_SYNC_CLOCK;
    dynbuf_reset(&b);
    assert_int_equal(command_reply_encode_result(&c, true, NULL, &res, NOW_MS, &b), -EINVAL);
    dynbuf_free(&b);
    /* a plain reply has none */
    const char *plain = "{\"id\":\"i1\",\"status\":\"ok\"}";
    assert_int_equal(command_reply_parse(plain, strlen(plain), &r, err), 0);
    assert_false(r.has_result);
}

static void test_a_bad_result_is_refused(void **state)
{
    (void)state;
    struct command_reply r;
    char err[COMMAND_ERR_LEN];
    const char *not_object = "{\"id\":\"i1\",\"status\":\"ok\",\"result\":[1,2]}";
    assert_int_equal(command_reply_parse(not_object, strlen(not_object), &r, err), -EINVAL);
    assert_non_null(strstr(err, "result must be an object"));
    /* just over COMMAND_RESULT_MAX once written compactly */
    char big[COMMAND_RESULT_MAX + 200];
    int n = snprintf(big, sizeof(big), "{\"id\":\"i1\",\"status\":\"ok\",\"result\":{\"x\":\"");
    while (n < COMMAND_RESULT_MAX + 60)
        big[n++] = 'a';
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}}");
    assert_int_equal(command_reply_parse(big, (size_t)n, &r, err), -EINVAL);
    const char *null_result = "{\"id\":\"i1\",\"status\":\"ok\",\"result\":null}";
    assert_int_equal(command_reply_parse(null_result, strlen(null_result), &r, err), 0);
    assert_false(r.has_result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capture_command_is_parsed),
        cmocka_unit_test(test_a_relay_command_round_trips_and_refuses_a_bad_state),
        cmocka_unit_test(test_bad_commands_are_refused_with_a_reason),
        cmocka_unit_test(test_replies_name_the_request),
        cmocka_unit_test(test_a_command_the_server_encodes_the_meter_parses),
        cmocka_unit_test(test_the_server_encodes_only_valid_commands),
        cmocka_unit_test(test_a_command_expires_after_its_age_limit),
        cmocka_unit_test(test_a_command_dated_ahead_or_at_the_int64_limits_is_refused),
        cmocka_unit_test(test_an_oversized_command_is_refused_unread),
        cmocka_unit_test(test_a_reply_the_meter_encodes_the_server_parses),
        cmocka_unit_test(test_bad_replies_are_refused_with_a_reason),
        cmocka_unit_test(test_operations_parse_their_fields_within_bounds),
        cmocka_unit_test(test_an_operation_reply_carries_its_result_to_the_server),
        cmocka_unit_test(test_a_bad_result_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
