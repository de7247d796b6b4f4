/*
 * wechat: parsing code2Session answers and mapping WeChat's error codes to
 * our API's answers. The HTTP side runs against a stand-in of WeChat's API
 * in tests/integration/test_wechat.py.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wechat.h"

static enum wechat_error parse(const char *body, struct wechat_session *s, char *detail)
{
    return wechat_parse_answer(body, strlen(body), s, detail);
}

static void test_a_good_answer_gives_the_openid_and_drops_the_session_key(void **state)
{
    (void)state;
    struct wechat_session s;
    char detail[WECHAT_ERR_LEN];
    assert_int_equal(parse("{\"openid\":\"oGZUI0egBJY1zhBYw2KhdUfwVJJE\","
                           "\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\"}",
                           &s, detail),
                     WECHAT_OK);
    assert_string_equal(s.openid, "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    assert_int_equal(s.errcode, 0);
    assert_null(memmem(&s, sizeof(s), "tiihtNczf5v6AKRyjwEUhQ", 22));
    /* errcode 0, errmsg and unionid may come along */
    assert_int_equal(parse("{\"openid\":\"o_a-1\",\"session_key\":\"k\",\"unionid\":\"u\","
                           "\"errcode\":0,\"errmsg\":\"ok\"}",
                           &s, detail),
                     WECHAT_OK);
    assert_string_equal(s.openid, "o_a-1");
}

static void test_wechat_error_codes_map_to_clear_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        long errcode;
        enum wechat_error e;
        int status;
        int retry_s;
    } cases[] = {
        {"{\"errcode\":40029,\"errmsg\":\"invalid code, rid: 1\"}", 40029, WECHAT_CODE_INVALID, 401,
         0},
        {"{\"errcode\":40163,\"errmsg\":\"code been used\"}", 40163, WECHAT_CODE_INVALID, 401, 0},
        {"{\"errcode\":40226,\"errmsg\":\"code blocked\"}", 40226, WECHAT_BLOCKED, 403, 0},
        {"{\"errcode\":-1,\"errmsg\":\"system error\"}", -1, WECHAT_BUSY, 503, 5},
        {"{\"errcode\":45011,\"errmsg\":\"api minute-quota reach limit\"}", 45011,
         WECHAT_RATE_LIMITED, 503, 60},
        {"{\"errcode\":40125,\"errmsg\":\"invalid appsecret\"}", 40125, WECHAT_CONFIG, 502, 0},
        {"{\"errcode\":40013,\"errmsg\":\"invalid appid\"}", 40013, WECHAT_CONFIG, 502, 0},
        {"{\"errcode\":12345}", 12345, WECHAT_REFUSED, 502, 0},
        /* an errcode wins over an openid that came along */
        {"{\"errcode\":40029,\"openid\":\"oX\"}", 40029, WECHAT_CODE_INVALID, 401, 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct wechat_session s;
        char detail[WECHAT_ERR_LEN];
        const char *msg = NULL;
        int retry = -1;
        assert_int_equal(parse(cases[k].body, &s, detail), cases[k].e);
        assert_int_equal(s.errcode, cases[k].errcode);
        assert_string_equal(s.openid, "");
        assert_non_null(strstr(detail, "errcode"));
        assert_int_equal(wechat_error_status(cases[k].e, &msg, &retry), cases[k].status);
        assert_int_equal(retry, cases[k].retry_s);
        assert_true(msg && strlen(msg) > 10);
    }
}

static void test_unusable_answers_are_refused(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "<html>502 Bad Gateway</html>",
        "{\"openid\":\"oX\"",                    /* cut short */
        "[\"oX\"]",                              /* not an object */
        "{}",                                    /* no openid */
        "{\"openid\":\"\"}",                     /* empty openid */
        "{\"openid\":42}",                       /* not a string */
        "{\"openid\":\"o X\"}",                  /* a space */
        "{\"openid\":\"o'; DROP TABLE x\"}",     /* not an openid */
        "{\"openid\":\"o\\u0000x\"}",            /* NUL inside */
        "{\"openid\":\"oX\",\"openid\":\"oY\"}", /* duplicate key */
        "{\"openid\":\"oX\",\"errcode\":\"0\"}", /* errcode not an integer */
        "{\"openid\":\"oX\",\"errcode\":0.5}",
        "{\"openid\":\"oX\",\"session_key\":7}",
        "{\"openid\":\"oX\",\"nested\":{\"a\":1}}", /* deeper than WeChat answers */
        "{\"openid\":\"oX\"} trailing",
    };
    for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
        struct wechat_session s;
        char detail[WECHAT_ERR_LEN];
        assert_int_equal(parse(bodies[k], &s, detail), WECHAT_BAD_ANSWER);
        assert_string_equal(s.openid, "");
        assert_non_null(strstr(detail, "unusable"));
    }
    /* 65 characters is one too many */
    char body[128];
    snprintf(body, sizeof(body), "{\"openid\":\"%065d\"}", 7);
    struct wechat_session s;
    assert_int_equal(parse(body, &s, NULL), WECHAT_BAD_ANSWER);
    snprintf(body, sizeof(body), "{\"openid\":\"%064d\"}", 7);
    assert_int_equal(parse(body, &s, NULL), WECHAT_OK);
    assert_int_equal(strlen(s.openid), 64);
}

static void test_a_huge_answer_is_refused_before_parsing(void **state)
{
    (void)state;
    static char body[WECHAT_ANSWER_MAX + 64];
    int n = snprintf(body, sizeof(body), "{\"openid\":\"oX\",\"errmsg\":\"");
    memset(body + n, 'a', sizeof(body) - (size_t)n - 3);
    memcpy(body + sizeof(body) - 3, "\"}", 3);
    struct wechat_session s;
    assert_int_equal(wechat_parse_answer(body, strlen(body), &s, NULL), WECHAT_BAD_ANSWER);
}

static void test_codes_are_checked_before_they_are_sent(void **state)
{
    (void)state;
    assert_true(wechat_code_valid("081abcDEFcode"));
    assert_true(wechat_code_valid("a+b/c=d&e"));
    assert_false(wechat_code_valid(""));
    assert_false(wechat_code_valid("has space"));
    assert_false(wechat_code_valid("tab\there"));
    assert_false(wechat_code_valid("caf\xc3\xa9"));
    char longcode[WECHAT_CODE_MAX + 2];
    memset(longcode, 'c', sizeof(longcode) - 1);
    longcode[sizeof(longcode) - 1] = '\0';
    assert_false(wechat_code_valid(longcode));
    longcode[WECHAT_CODE_MAX] = '\0';
    assert_true(wechat_code_valid(longcode));
}

static void test_options_are_validated_without_echoing_the_secret(void **state)
{
    (void)state;
    struct wechat *w = NULL;
    char err[WECHAT_ERR_LEN];
    struct wechat_options o = {.appid = "wx0123456789abcdef", .secret = "s3cr3t-value"};
    assert_int_equal(wechat_new(&o, &w, err), 0);
    wechat_free(w);
    w = NULL;
    o.api_base = "http://127.0.0.1:9/"; /* loopback http is for stand-ins */
    assert_int_equal(wechat_new(&o, &w, err), 0);
    wechat_free(w);
    w = NULL;

    static const struct wechat_options bad[] = {
        {.appid = "wx0123456789abcdef", .secret = "s3cr3t-value", .api_base = "http://example.com"},
        {.appid = "wx0123456789abcdef", .secret = "s3cr3t-value", .api_base = "ftp://127.0.0.1"},
        {.appid = "wx0123456789abcdef",
         .secret = "s3cr3t-value",
         .api_base = "https://u:p@api.weixin.qq.com"},
        {.appid = "wx0123456789abcdef",
         .secret = "s3cr3t-value",
         .api_base = "https://api.weixin.qq.com/?x=1"},
        {.appid = "wx 01", .secret = "s3cr3t-value"},
        {.appid = "", .secret = "s3cr3t-value"},
        {.appid = "wx0123456789abcdef", .secret = ""},
        {.appid = "wx0123456789abcdef", .secret = "s3cr3t value"},
        {.appid = NULL, .secret = "s3cr3t-value"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = '\0';
        assert_int_equal(wechat_new(&bad[k], &w, err), -EINVAL);
        assert_null(w);
        assert_true(strlen(err) > 10);
        assert_null(strstr(err, "s3cr3t"));
    }
}

static void test_an_unreachable_wechat_is_a_retryable_error(void **state)
{
    (void)state;
    /* A loopback port bound but not listening: connections are refused at once. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(sa.sin_port));

    struct wechat *w = NULL;
    char err[WECHAT_ERR_LEN], detail[WECHAT_ERR_LEN];
    struct wechat_options o = {
        .appid = "wx0123456789abcdef", .secret = "s3cr3t-value", .api_base = base};
    assert_int_equal(wechat_new(&o, &w, err), 0);
    struct wechat_session s;
    assert_int_equal(wechat_code2session(w, "081abc", &s, detail), WECHAT_UNREACHABLE);
    assert_non_null(strstr(detail, "cannot reach WeChat"));
    assert_null(strstr(detail, "s3cr3t"));
    int retry = 0;
    assert_int_equal(wechat_error_status(WECHAT_UNREACHABLE, NULL, &retry), 503);
    assert_true(retry > 0);
    /* a malformed code never leaves the server */
    assert_int_equal(wechat_code2session(w, "bad code", &s, detail), WECHAT_CODE_INVALID);
    wechat_free(w);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_good_answer_gives_the_openid_and_drops_the_session_key),
        cmocka_unit_test(test_wechat_error_codes_map_to_clear_errors),
        cmocka_unit_test(test_unusable_answers_are_refused),
        cmocka_unit_test(test_a_huge_answer_is_refused_before_parsing),
        cmocka_unit_test(test_codes_are_checked_before_they_are_sent),
        cmocka_unit_test(test_options_are_validated_without_echoing_the_secret),
        cmocka_unit_test(test_an_unreachable_wechat_is_a_retryable_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
