#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

static void test_mysql_url_parts_are_decoded(void **state)
{
    (void)state;
    struct url u;
    char err[200];
    assert_int_equal(
        url_parse("mysql://meter:p%40ss%3Aword@db.example:3307/smart_meter", &u, err, sizeof(err)),
        0);
    assert_string_equal(u.scheme, "mysql");
    assert_string_equal(u.user, "meter");
    assert_true(u.has_password);
    assert_string_equal(u.password, "p@ss:word");
    assert_string_equal(u.host, "db.example");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.path, "smart_meter");
    url_clear(&u);
    assert_string_equal(u.password, "");
}

static void test_user_without_password_and_default_port(void **state)
{
    (void)state;
    struct url u;
    char err[200];
    assert_int_equal(url_parse("mysql://root@127.0.0.1/db?socket=/x", &u, err, sizeof(err)), 0);
    assert_string_equal(u.user, "root");
    assert_false(u.has_password);
    assert_int_equal(u.port, 0);
    assert_string_equal(u.query, "socket=/x");
}

static void test_mqtt_urls_get_default_ports_and_ipv6(void **state)
{
    (void)state;
    struct url u;
    char err[200];
    assert_int_equal(url_parse_mqtt("tcp://127.0.0.1", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 1883);
    assert_int_equal(url_parse_mqtt("ssl://broker:8884", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 8884);
    assert_int_equal(url_parse_mqtt("tcp://[::1]:1884", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 1884);
}

static void test_ssl_and_mqtts_ask_for_tls(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool tls;
    } cases[] = {{"ssl://127.0.0.1", true},
                 {"mqtts://broker.example:8884", true},
                 {"tcp://127.0.0.1", false},
                 {"mqtt://[::1]:1883", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct url u;
        char err[200];
        assert_int_equal(url_parse_mqtt(cases[i].url, &u, err, sizeof(err)), 0);
        if (url_mqtt_tls(&u) != cases[i].tls)
            fail_msg("%s: tls %d", cases[i].url, !cases[i].tls);
    }
}

static void test_bad_urls_are_explained(void **state)
{
    (void)state;
    struct url u;
    char err[200];
    const char *bad[] = {"127.0.0.1:1883", "http://x:1883", "tcp://:1883",  "tcp://x:0",
                         "tcp://x:99999",  "tcp://x:12ab",  "tcp://x/path", "tcp://[::1:1883"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(url_parse_mqtt(bad[i], &u, err, sizeof(err)), -EINVAL);
        assert_true(strlen(err) > 10);
    }
    assert_int_equal(url_parse("mysql://u:%zz@h/db", &u, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "%zz"));
}

static void test_a_password_from_a_file_joins_the_url_encoded(void **state)
{
    (void)state;
    char err[200], *out = NULL;
    struct url u;
    assert_int_equal(url_with_password("mysql://sm@127.0.0.1:3306/smartmeter", "p@ss:w/rd %", &out,
                                       err, sizeof(err)),
                     0);
    assert_string_equal(out, "mysql://sm:p%40ss%3Aw%2Frd%20%25@127.0.0.1:3306/smartmeter");
    assert_int_equal(url_parse(out, &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "p@ss:w/rd %");
    assert_string_equal(u.host, "127.0.0.1");
    free(out);
    /* No user to give it to, or a password in the URL already: refused, naming neither. */
    assert_int_equal(url_with_password("mysql://127.0.0.1/db", "secret-x", &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(strstr(err, "secret-x"));
    assert_int_equal(
        url_with_password("mysql://sm:oldpw1@127.0.0.1/db", "secret-x", &out, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "already"));
    assert_null(strstr(err, "oldpw1"));
    /* An '@' after the host is not the user's. */
    assert_int_equal(url_with_password("mysql://h/db@x", "pw", &out, err, sizeof(err)), -EINVAL);
}

/* Found by fuzz_url: the refusals repeated the whole URL, password included, into the log. */
static void test_refusals_never_repeat_the_password(void **state)
{
    (void)state;
    struct url u;
    char err[200];
    const struct {
        const char *url;
        const char *shown;
    } cases[] = {
        {"mysql://sm:hunter22@db/smartmeter", "'mysql://***@db/smartmeter': scheme must be"},
        {"tcp://u:hunter22@host/x", "'tcp://***@host/x': no path or query"},
        {"mysql://u:hunter22@b@host/db", "'mysql://***@host/db'"},
        {"averyveryverylongscheme://u:hunter22@host", "'averyveryverylongscheme://***@host'"},
        {"://u:hunter22@host", "'***@host' is not a URL"},
        {"tcp//u:hunter22@host:1883", "'***@host:1883' is not a URL"},
        {"http://host", "'http://host': scheme must be"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(url_parse_mqtt(cases[i].url, &u, err, sizeof(err)), -EINVAL);
        if (strstr(err, "hunter22") || !strstr(err, cases[i].shown))
            fail_msg("%s: %s", cases[i].url, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql_url_parts_are_decoded),
        cmocka_unit_test(test_user_without_password_and_default_port),
        cmocka_unit_test(test_mqtt_urls_get_default_ports_and_ipv6),
        cmocka_unit_test(test_ssl_and_mqtts_ask_for_tls),
        cmocka_unit_test(test_bad_urls_are_explained),
        cmocka_unit_test(test_a_password_from_a_file_joins_the_url_encoded),
        cmocka_unit_test(test_refusals_never_repeat_the_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
