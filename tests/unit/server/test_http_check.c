/* The request rules applied before any handler (http_check.h), case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_check.h"

#define MAX_BODY 1048576

static const struct {
    struct http_framing f;
    int status;
} framings[] = {
    {{0, NULL, 0, 0}, 0},
    {{1, "0", 0, 1}, 0},
    {{1, "1048576", 0, 0}, 0},
    {{0, NULL, 1, 0}, 0},            /* chunked alone */
    {{1, "1048577", 0, 0}, 413},     /* one byte over */
    {{1, "5000000", 0, 0}, 413},     /* the audit's 5 MB */
    {{1, "99999999999", 0, 0}, 413}, /* and its 100 GB */
    {{1, "99999999999999999999999999", 0, 0}, 413},
    {{2, "2", 0, 0}, 400},  /* two Content-Length (2 and 40) */
    {{2, "4", 0, 0}, 400},  /* even equal ones */
    {{1, "4", 1, 0}, 400},  /* Content-Length with chunked */
    {{0, NULL, 0, 2}, 400}, /* two Authorization headers */
    {{1, "-1", 0, 0}, 400},
    {{1, "", 0, 0}, 400},
    {{1, "1e3", 0, 0}, 400},
    {{1, " 12", 0, 0}, 400},
};

static void test_framing_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(framings) / sizeof(framings[0]); i++) {
        const char *msg = NULL;
        int st = http_check_framing(&framings[i].f, MAX_BODY, &msg);
        if (st != framings[i].status)
            fail_msg("case %zu: status %d, want %d", i, st, framings[i].status);
        if (st)
            assert_non_null(msg);
    }
}

static const char *const good_paths[] = {
    "/",
    "/api/health",
    "/api/devices/",
    "/api/devices/meter-01",
    "/api/devices/a%3Ab",
    "/api/devices/%E7%94%B5%E8%A1%A8",
    "/x..y",
    "/.well-known",
    "/a/...",
    "/%zz",
};

static const char *const bad_paths[] = {
    "", /* no leading slash */
    "api/health",
    "http://evil/api/health",
    "//api/health", /* empty segment */
    "/api//health",
    "/api/devices//",
    "/..",
    "/api/../api/stats",
    "/api/./health",
    "/api/health/.",
    "/api/%2e%2e/stats",
    "/api/%2E/x",
    "/api/stats%00.js", /* the audit's NUL cases */
    "/api/device/recharge/meter-b2%00.css",
    "/api/devices/%00/ledger",
    "/api/devices/meter-a/captures/%00",
    "/api/health%0a",
    "/api/health%7F",
    "/api/%1b[31m",
    "/api/he\tlth",
};

static void test_path_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++) {
        const char *msg = NULL;
        if (http_check_path(good_paths[i], &msg) != 0)
            fail_msg("refused %s: %s", good_paths[i], msg);
    }
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        const char *msg = NULL;
        if (http_check_path(bad_paths[i], &msg) != 400)
            fail_msg("accepted %s", bad_paths[i]);
        assert_non_null(strstr(msg, "bad path"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_rules),
        cmocka_unit_test(test_path_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
