/*
 * meterd's --link option (config key link): the terminal gateway's address,
 * the secret it needs, the MQTT options it excludes, and MQTT's default
 * broker only when there is no link.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

static char err[512];

static int parse(struct meterd_options *o, int argc, const char **argv)
{
    err[0] = '\0';
    return meterd_options_parse(o, argc, (char **)argv, 1, err, sizeof(err));
}

static void test_link_with_a_secret_replaces_mqtt(void **state)
{
    (void)state;
    struct meterd_options o;
    const char *argv[] = {"meterd",
                          "--device-id",
                          "m1",
                          "--link",
                          "tcp://gw.example:7000",
                          "--secret-file",
                          "/etc/smartmeter/secret/m1"};
    assert_int_equal(parse(&o, 7, argv), 0);
    assert_string_equal(o.link, "tcp://gw.example:7000");
    assert_null(o.mqtt);
    meterd_options_free(&o);

    /* Without it, MQTT and its default broker, as before. */
    const char *plain[] = {"meterd", "--device-id", "m1"};
    assert_int_equal(parse(&o, 3, plain), 0);
    assert_null(o.link);
    assert_string_equal(o.mqtt, "tcp://127.0.0.1:1883");
    meterd_options_free(&o);
}

static void test_link_in_the_config_file(void **state)
{
    (void)state;
    char conf[] = "/tmp/test_link_conf.XXXXXX";
    int fd = mkstemp(conf);
    assert_true(fd >= 0);
    const char *text = "device_id m2\nlink tcp://[2001:db8::7]:7000\nsecret_file /s/m2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct meterd_options o;
    const char *argv[] = {"meterd", "--config", conf};
    assert_int_equal(parse(&o, 3, argv), 0);
    assert_string_equal(o.link, "tcp://[2001:db8::7]:7000");
    assert_null(o.mqtt);
    meterd_options_free(&o);
    unlink(conf);
}

static void refused(int argc, const char **argv, const char *says)
{
    struct meterd_options o;
    assert_int_equal(parse(&o, argc, argv), -EINVAL);
    if (!strstr(err, says))
        fail_msg("'%s' does not say '%s'", err, says);
    meterd_options_free(&o);
}

static void test_link_errors_name_the_problem(void **state)
{
    (void)state;
    const char *no_secret[] = {"meterd", "--device-id", "m1", "--link", "tcp://gw:7000"};
    refused(5, no_secret, "--link needs --secret-file");
    const char *both[] = {"meterd",        "--device-id", "m1",     "--link",      "tcp://gw:7000",
                          "--secret-file", "/s",          "--mqtt", "tcp://b:1883"};
    refused(9, both, "--link excludes --mqtt");
    const char *login[] = {"meterd", "--device-id",   "m1",
                           "--link", "tcp://gw:7000", "--secret-file",
                           "/s",     "--mqtt-cafile", "/ca.pem"};
    refused(9, login, "--link excludes");
    const char *no_port[] = {"meterd",   "--device-id",   "m1", "--link",
                             "tcp://gw", "--secret-file", "/s"};
    refused(7, no_port, "--link: a port");
    const char *scheme[] = {"meterd",        "--device-id",   "m1", "--link",
                            "ssl://gw:7000", "--secret-file", "/s"};
    refused(7, scheme, "--link: the scheme must be tcp://");
    const char *creds[] = {
        "meterd", "--device-id", "m1", "--link", "tcp://m1:hunter2@gw:7000", "--secret-file", "/s"};
    refused(7, creds, "no user or password");
    assert_null(strstr(err, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_with_a_secret_replaces_mqtt),
        cmocka_unit_test(test_link_in_the_config_file),
        cmocka_unit_test(test_link_errors_name_the_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
