/*
 * What the alarms take from outside, parsed: a device's rule overrides (PUT
 * /api/devices/:id/alarm-rules), the state filter of GET /api/alarms, and
 * WeChat's answers to the access token and subscribe message calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "jsonutil.h"
#include "rules_json.h"
#include "wechat.h"

static int overrides(const char *text, struct alarm_rule_override *o, size_t *n, char *err)
{
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN];
    assert_int_equal(json_load_limited(text, strlen(text), 8, &root, jerr), 0);
    int r = alarm_overrides_parse(root, o, n, err);
    json_decref(root);
    return r;
}

static void test_overrides_are_read_member_by_member(void **state)
{
    (void)state;
    struct alarm_rule_override o[AK__COUNT];
    size_t n = 0;
    char err[ALARM_PARSE_ERR_LEN];
    assert_int_equal(overrides("{\"voltage.over\":{\"limit\":240,\"min_duration_s\":2.5,"
                               "\"hysteresis\":3,\"enabled\":false},\"thd_v\":null,"
                               "\"pf.low\":{\"limit\":null,\"enabled\":true}}",
                               o, &n, err),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(o[0].kind, "voltage.over");
    assert_true(o[0].has_limit && o[0].limit == 240);
    assert_true(o[0].has_min_duration && o[0].min_duration_ms == 2500);
    assert_true(o[0].has_hysteresis && o[0].hysteresis == 3);
    assert_true(o[0].has_enabled && !o[0].enabled);
    assert_string_equal(o[1].kind, "pf.low");
    assert_false(o[1].has_limit);
    assert_true(o[1].has_enabled && o[1].enabled);
}

static void test_bad_overrides_name_the_member(void **state)
{
    (void)state;
    static const struct {
        const char *text, *names;
    } bad[] = {
        {"{\"volts\":{}}", "volts"},
        {"{\"voltage.over\":5}", "voltage.over"},
        {"{\"voltage.over\":{\"limit\":\"240\"}}", "voltage.over.limit"},
        {"{\"voltage.over\":{\"limit\":1e12}}", "voltage.over.limit"},
        {"{\"voltage.over\":{\"hysteresis\":-1}}", "voltage.over.hysteresis"},
        {"{\"voltage.over\":{\"min_duration_s\":-1}}", "voltage.over.min_duration_s"},
        {"{\"voltage.over\":{\"min_duration_s\":604801}}", "voltage.over.min_duration_s"},
        {"{\"voltage.over\":{\"enabled\":1}}", "voltage.over.enabled"},
        {"{\"voltage.over\":{\"colour\":1}}", "voltage.over"},
        {"[]", "rules"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct alarm_rule_override o[AK__COUNT];
        size_t n = 77;
        char err[ALARM_PARSE_ERR_LEN] = "";
        assert_int_equal(overrides(bad[i].text, o, &n, err), -EINVAL);
        assert_int_equal(n, 77);
        assert_non_null(strstr(err, bad[i].names));
    }
}

static void test_the_state_filter(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_int_equal(alarm_states_parse("raised", &m), 0);
    assert_int_equal(m, ALARM_BIT(ALARM_RAISED));
    assert_int_equal(alarm_states_parse("open", &m), 0);
    assert_int_equal(m, ALARM_OPEN_MASK);
    assert_int_equal(alarm_states_parse("cleared,acknowledged", &m), 0);
    assert_int_equal(m, ALARM_BIT(ALARM_CLEARED) | ALARM_BIT(ALARM_ACKNOWLEDGED));
    const char *bad[] = {"",
                         ",",
                         "raised,",
                         ",raised",
                         "raised,,cleared",
                         "RAISED",
                         "closed",
                         "raisedraisedraisedraised"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = 99;
        assert_int_equal(alarm_states_parse(bad[i], &m), -EINVAL);
        assert_int_equal(m, 99);
    }
}

static enum wechat_error token_of(const char *body, char *token, long *expires, long *code)
{
    char detail[WECHAT_ERR_LEN];
    return wechat_parse_token_answer(body, strlen(body), token, expires, code, detail);
}

static void test_wechats_token_answer(void **state)
{
    (void)state;
    char token[WECHAT_TOKEN_MAX + 1];
    long expires = 0, code = 0;
    assert_int_equal(
        token_of("{\"access_token\":\"ACCESS_TOKEN\",\"expires_in\":7200}", token, &expires, &code),
        WECHAT_OK);
    assert_string_equal(token, "ACCESS_TOKEN");
    assert_int_equal(expires, 7200);
    assert_int_equal(
        token_of("{\"errcode\":40013,\"errmsg\":\"invalid appid\"}", token, &expires, &code),
        WECHAT_CONFIG);
    assert_int_equal(code, 40013);
    assert_int_equal(
        token_of("{\"errcode\":-1,\"errmsg\":\"system error\"}", token, &expires, &code),
        WECHAT_BUSY);
    const char *bad[] = {"",
                         "[]",
                         "{\"access_token\":\"\",\"expires_in\":7200}",
                         "{\"access_token\":\"a b\",\"expires_in\":7200}",
                         "{\"access_token\":\"t\",\"expires_in\":0}",
                         "{\"access_token\":\"t\",\"expires_in\":\"7200\"}",
                         "{\"access_token\":\"t\"}",
                         "{\"errcode\":\"0\"}",
                         "{\"access_token\":{\"x\":1},\"expires_in\":7200}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(token_of(bad[i], token, &expires, &code), WECHAT_BAD_ANSWER);
}

static void test_wechats_send_answer(void **state)
{
    (void)state;
    char detail[WECHAT_ERR_LEN];
    long code = 5;
    const char *ok = "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":1001}";
    assert_int_equal(wechat_parse_send_answer(ok, strlen(ok), &code, detail), WECHAT_OK);
    assert_int_equal(code, 0);
    const char *no = "{\"errcode\":43101,\"errmsg\":\"user refuse to accept the msg\"}";
    assert_int_equal(wechat_parse_send_answer(no, strlen(no), &code, detail), WECHAT_REFUSED);
    assert_int_equal(code, 43101);
    assert_non_null(strstr(detail, "43101"));
    const char *stale = "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}";
    assert_int_not_equal(wechat_parse_send_answer(stale, strlen(stale), &code, detail), WECHAT_OK);
    assert_int_equal(code, 40001);
    assert_int_equal(wechat_parse_send_answer("<html>", 6, &code, detail), WECHAT_BAD_ANSWER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overrides_are_read_member_by_member),
        cmocka_unit_test(test_bad_overrides_name_the_member),
        cmocka_unit_test(test_the_state_filter),
        cmocka_unit_test(test_wechats_token_answer),
        cmocka_unit_test(test_wechats_send_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
