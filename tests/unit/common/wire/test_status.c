/*
 * Status (meters/<id>/status): what the meter publishes, its last will
 * included, the server reads back; a ts the server cannot believe is
 * ignored, an empty payload is no status, anything else is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"

/* 2026-11-23T18:45:53.355Z */
#define NOW_MS INT64_C(1795459553355)
#define DAY_MS INT64_C(86400000)

static int parse(const char *s, struct status_msg *ret, char err[STATUS_ERR_LEN])
{
    return status_parse(s, strlen(s), NOW_MS, ret, err);
}

static void test_what_the_meter_publishes_the_server_reads(void **state)
{
    (void)state;
    struct dynbuf b;
    struct status_msg m;
    char err[STATUS_ERR_LEN];
    dynbuf_init(&b, 256);
    assert_int_equal(status_encode(true, 4294967295u, NOW_MS, &b), 0);
    assert_string_equal(
        dynbuf_str(&b),
        "{\"status\":\"online\",\"boot\":4294967295,\"ts\":\"2026-11-23T18:45:53.355Z\"}");
    assert_int_equal(parse(dynbuf_str(&b), &m, err), 0);
    assert_true(m.online);
    assert_true(m.has_ts);
    assert_int_equal(m.ts_ms, NOW_MS);

    dynbuf_reset(&b);
    assert_int_equal(status_encode(false, 1, NOW_MS - 5, &b), 0);
    assert_int_equal(parse(dynbuf_str(&b), &m, err), 0);
    assert_false(m.online);
    assert_int_equal(m.ts_ms, NOW_MS - 5);
    dynbuf_free(&b);

    /* the last will carries no time: the server uses its own */
    assert_string_equal(status_will_payload, "{\"status\":\"offline\"}");
    assert_int_equal(parse(status_will_payload, &m, err), 0);
    assert_false(m.online);
    assert_false(m.has_ts);
}

static void test_a_ts_the_server_cannot_believe_is_ignored(void **state)
{
    (void)state;
    struct status_msg m;
    char err[STATUS_ERR_LEN], json[128];
    static const struct {
        const char *ts;
        bool believed;
    } cases[] = {
        {"\"2026-11-24T18:45:53.355Z\"", true},  /* now + 24 h */
        {"\"2026-11-24T18:45:53.356Z\"", false}, /* one ms more */
        {"\"2000-01-01T00:00:00Z\"", true},
        {"\"1999-12-31T23:59:59.999Z\"", false},
        {"\"yesterday\"", false},
        {"1795459553355", false}, /* epoch ms are not read here */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snprintf(json, sizeof(json), "{\"status\":\"online\",\"ts\":%s}", cases[k].ts);
        assert_int_equal(parse(json, &m, err), 0);
        if (m.has_ts != cases[k].believed)
            fail_msg("case %zu %s: has_ts %d", k, cases[k].ts, m.has_ts);
    }
    assert_int_equal(parse("{\"status\":\"online\",\"ts\":\"2026-11-24T18:45:53.355Z\"}", &m, err),
                     0);
    assert_int_equal(m.ts_ms, NOW_MS + DAY_MS);
}

static void test_bad_statuses_are_refused_and_an_empty_one_is_none(void **state)
{
    (void)state;
    struct status_msg m;
    char err[STATUS_ERR_LEN];
    assert_int_equal(status_parse("", 0, NOW_MS, &m, err), -ENODATA);
    static const struct {
        const char *json, *error;
    } cases[] = {
        {"{\"status\":\"dancing\"}", "status must be \"online\" or \"offline\""},
        {"{\"status\":\"Online\"}", "status must be"},
        {"{\"status\":1}", "status must be"},
        {"{}", "status must be"},
        {"[\"online\"]", "status must be"},
        {"online", "malformed JSON"},
        {"{\"status\":\"online\",\"status\":\"offline\"}", "duplicate"},
        {"{\"status\":\"online\",\"x\":[[[[1]]]]}", "deeper"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        err[0] = '\0';
        int r = parse(cases[k].json, &m, err);
        if (r != -EINVAL || !strstr(err, cases[k].error))
            fail_msg("case %zu %s: got %d '%s'", k, cases[k].json, r, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_what_the_meter_publishes_the_server_reads),
        cmocka_unit_test(test_a_ts_the_server_cannot_believe_is_ignored),
        cmocka_unit_test(test_bad_statuses_are_refused_and_an_empty_one_is_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
