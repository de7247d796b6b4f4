/* meterd's options: defaults, config file, flags over file, and clear errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

static char err[512];
static char conf[64];

static int parse(struct meterd_options *o, int argc, const char **argv)
{
    return meterd_options_parse(o, argc, (char **)argv, 1, err, sizeof(err));
}

static void write_conf(const char *text)
{
    snprintf(conf, sizeof(conf), "/tmp/test_meterd_conf.XXXXXX");
    int fd = mkstemp(conf);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_options_defaults_follow_the_spec(void **state)
{
    (void)state;
    struct meterd_options o;
    const char *argv[] = {"meterd", "--device-id", "m1"};
    assert_int_equal(parse(&o, 3, argv), 0);
    assert_string_equal(o.device_id, "m1");
    assert_string_equal(o.mqtt, "tcp://127.0.0.1:1883");
    assert_string_equal(o.adc, "sim");
    assert_true(o.interval_s == 1.0);
    assert_string_equal(o.state_dir, "./var");
    assert_int_equal(o.max_buffered, 3600);
    assert_true(o.nominal_hz == 50);
    assert_int_equal(o.level, LOGL_INFO);
    assert_null(o.mqtt_username);
    assert_null(o.mqtt_password_file);
    meterd_options_free(&o);
}

static void test_options_every_option_works_in_the_config_file(void **state)
{
    (void)state;
    struct meterd_options o;
    write_conf("# meterd.conf\n"
               "device_id line-7.meter:3\n"
               "mqtt ssl://broker.example:8883\n"
               "mqtt_username meter7\n"
               "mqtt_password_file /etc/smartmeter/pw\n"
               "mqtt_cafile /etc/ssl/ca.pem\n"
               "mqtt_certfile /etc/smartmeter/m7.crt\n"
               "mqtt_keyfile /etc/smartmeter/m7.key\n"
               "max_buffered 100\n"
               "adc sim:v=120,freq=60\n"
               "\n"
               "interval 2.5\n"
               "nominal_hz 60\n"
               "state_dir /var/lib/meterd\n"
               "log_level debug\n");
    const char *argv[] = {"meterd", "--config", conf};
    int r = parse(&o, 3, argv);
    unlink(conf);
    if (r)
        fail_msg("%s", err);
    assert_string_equal(o.device_id, "line-7.meter:3");
    assert_string_equal(o.mqtt, "ssl://broker.example:8883");
    assert_string_equal(o.mqtt_username, "meter7");
    assert_string_equal(o.mqtt_password_file, "/etc/smartmeter/pw");
    assert_string_equal(o.mqtt_cafile, "/etc/ssl/ca.pem");
    assert_string_equal(o.mqtt_certfile, "/etc/smartmeter/m7.crt");
    assert_string_equal(o.mqtt_keyfile, "/etc/smartmeter/m7.key");
    assert_int_equal(o.max_buffered, 100);
    assert_string_equal(o.adc, "sim:v=120,freq=60");
    assert_true(o.interval_s == 2.5);
    assert_true(o.nominal_hz == 60);
    assert_string_equal(o.state_dir, "/var/lib/meterd");
    assert_int_equal(o.level, LOGL_DEBUG);
    meterd_options_free(&o);
}

static void test_options_spool_defaults_file_flags_and_bounds(void **state)
{
    (void)state;
    struct meterd_options o;
    const char *argv[] = {"meterd", "--device-id", "m1"};
    assert_int_equal(parse(&o, 3, argv), 0);
    assert_true(o.spool_days == 30);
    assert_int_equal(o.spool_mb, 0);
    assert_true(o.spool_sync_s == 1);
    assert_true(o.ack_timeout_s == 30);
    assert_int_equal(o.backlog_batch, 100);
    assert_int_equal(o.backlog_rate, 500);
    assert_int_equal(o.max_inflight, 1000);
    meterd_options_free(&o);

    /* An old file with max_buffered still loads; the new options come from file and flags. */
    write_conf("device_id m1\nmax_buffered 50\nspool_days 7.5\nspool_mb 200\nspool_sync 0\n"
               "ack_timeout 5\nbacklog_batch 20\nmax_inflight 40\n");
    const char *argv2[] = {"meterd", "--config", conf, "--backlog-rate", "60"};
    int r = parse(&o, 5, argv2);
    unlink(conf);
    if (r)
        fail_msg("%s", err);
    assert_int_equal(o.max_buffered, 50);
    assert_true(o.spool_days == 7.5);
    assert_int_equal(o.spool_mb, 200);
    assert_true(o.spool_sync_s == 0);
    assert_true(o.ack_timeout_s == 5);
    assert_int_equal(o.backlog_batch, 20);
    assert_int_equal(o.backlog_rate, 60);
    assert_int_equal(o.max_inflight, 40);
    meterd_options_free(&o);

    static const char *bad[][2] = {{"--backlog-batch", "1001"}, {"--backlog-batch", "0"},
                                   {"--ack-timeout", "0.5"},    {"--spool-days", "0"},
                                   {"--spool-sync", "61"},      {"--max-inflight", "x"}};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        const char *argv3[] = {"meterd", "--device-id", "m1", bad[k][0], bad[k][1]};
        err[0] = '\0';
        assert_int_not_equal(parse(&o, 5, argv3), 0);
        assert_non_null(strstr(err, bad[k][0] + 2));
        meterd_options_free(&o);
    }
}

static void test_options_flags_override_the_config_file(void **state)
{
    (void)state;
    struct meterd_options o;
    write_conf("device_id from-file\ninterval 5\n");
    const char *argv[] = {"meterd", "--interval", "0.5", "--config", conf, "--device-id=flag"};
    int r = parse(&o, 6, argv);
    unlink(conf);
    if (r)
        fail_msg("%s", err);
    assert_string_equal(o.device_id, "flag");
    assert_true(o.interval_s == 0.5);
    meterd_options_free(&o);
}

static void expect_error(int argc, const char **argv, const char *message_part)
{
    struct meterd_options o;
    err[0] = '\0';
    int r = parse(&o, argc, argv);
    meterd_options_free(&o);
    if (r == 0)
        fail_msg("accepted, expected an error with '%s'", message_part);
    if (!strstr(err, message_part))
        fail_msg("error '%s' lacks '%s'", err, message_part);
    assert_null(strchr(err, '\n'));
}

static void test_options_errors_name_the_problem(void **state)
{
    (void)state;
    const char *no_id[] = {"meterd"};
    expect_error(1, no_id, "--device-id is required");
    const char *bad_id[] = {"meterd", "--device-id", "m/1"};
    expect_error(3, bad_id, "--device-id 'm/1'");
    const char *unknown[] = {"meterd", "--device-id", "m1", "--colour", "red"};
    expect_error(5, unknown, "unknown option --colour");
    const char *bad_url[] = {"meterd", "--device-id", "m1", "--mqtt", "http://host"};
    expect_error(5, bad_url, "--mqtt: bad MQTT URL 'http://host'");
    const char *bad_port[] = {"meterd", "--device-id", "m1", "--mqtt", "tcp://host:99999"};
    expect_error(5, bad_port, "--mqtt: bad MQTT URL");
    const char *interval[] = {"meterd", "--device-id", "m1", "--interval", "0.05"};
    expect_error(5, interval, "--interval: 0.05 is out of range");
    const char *level[] = {"meterd", "--device-id", "m1", "--log-level", "loud"};
    expect_error(5, level, "--log-level 'loud'");
    const char *no_conf[] = {"meterd", "--config", "/nonexistent/meterd.conf"};
    expect_error(3, no_conf, "/nonexistent/meterd.conf");
    const char *stray[] = {"meterd", "--device-id", "m1", "extra"};
    expect_error(4, stray, "unexpected argument 'extra'");
}

static void test_options_bad_config_line_is_named(void **state)
{
    (void)state;
    write_conf("device_id m1\nmax_buffered lots\n");
    const char *argv[] = {"meterd", "--config", conf};
    char where[96];
    snprintf(where, sizeof(where), "%s:2", conf);
    expect_error(3, argv, where);
    unlink(conf);
}

static void test_options_calibration_and_gpio_lines(void **state)
{
    (void)state;
    struct meterd_options o;
    const char *plain[] = {"meterd", "--device-id", "m1"};
    assert_int_equal(parse(&o, 3, plain), 0);
    assert_true(o.cal_v_gain == 1 && o.cal_v_offset == 0);
    assert_true(o.cal_i_gain == 1 && o.cal_i_offset == 0 && o.cal_phase_deg == 0);
    assert_null(o.relay_gpio);
    assert_null(o.led_gpio);
    assert_null(o.drdy_gpio);
    assert_false(o.relay_active_low);
    meterd_options_free(&o);

    write_conf("device_id m1\n"
               "cal_v_gain 1.0132\n"
               "cal_v_offset -0.4\n"
               "cal_i_gain 0.987\n"
               "cal_i_offset 0.02\n"
               "cal_phase_deg 1.5\n"
               "relay_gpio gpiochip0:17\n"
               "relay_active_low true\n"
               "led_gpio gpiochip0:27\n"
               "drdy_gpio /dev/gpiochip0:4\n");
    const char *argv[] = {"meterd", "--config", conf, "--cal-phase-deg", "-2"};
    int r = parse(&o, 5, argv);
    unlink(conf);
    if (r)
        fail_msg("%s", err);
    assert_true(o.cal_v_gain == 1.0132 && o.cal_v_offset == -0.4);
    assert_true(o.cal_i_gain == 0.987 && o.cal_i_offset == 0.02);
    assert_true(o.cal_phase_deg == -2);
    assert_string_equal(o.relay_gpio, "gpiochip0:17");
    assert_true(o.relay_active_low);
    assert_string_equal(o.led_gpio, "gpiochip0:27");
    assert_string_equal(o.drdy_gpio, "/dev/gpiochip0:4");
    meterd_options_free(&o);

    const char *zero_gain[] = {"meterd", "--device-id", "m1", "--cal-v-gain", "0"};
    expect_error(5, zero_gain, "--cal-v-gain: 0 is out of range");
    const char *phase[] = {"meterd", "--device-id", "m1", "--cal-phase-deg", "90"};
    expect_error(5, phase, "--cal-phase-deg: 90 is out of range");
}

static void test_secret_file_first_line_without_newline(void **state)
{
    (void)state;
    char *secret = NULL;
    write_conf("s3cr3t-pass\r\nsecond line\n");
    assert_int_equal(meterd_read_secret_file(conf, &secret, err, sizeof(err)), 0);
    assert_string_equal(secret, "s3cr3t-pass");
    free(secret);
    unlink(conf);

    write_conf("\nhidden\n");
    assert_int_equal(meterd_read_secret_file(conf, &secret, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "first line is empty"));
    assert_null(strstr(err, "hidden"));
    unlink(conf);

    assert_int_equal(meterd_read_secret_file("/nonexistent/pw", &secret, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/pw"));
}

/* --secret-file: the device's credentials, in a file no one but its owner may read. */
static void test_a_device_secret_file_must_be_its_owners_alone(void **state)
{
    (void)state;
    char *secret = NULL;
    write_conf("0123456789abcdef-secret\n"); /* mkstemp: mode 0600 */
    assert_int_equal(meterd_read_device_secret(conf, &secret, err, sizeof(err)), 0);
    assert_string_equal(secret, "0123456789abcdef-secret");
    free(secret);
    assert_int_equal(chmod(conf, 0400), 0);
    assert_int_equal(meterd_read_device_secret(conf, &secret, err, sizeof(err)), 0);
    free(secret);
    static const unsigned bad_modes[] = {0640, 0604, 0660, 0644, 0602, 0610};
    for (size_t k = 0; k < sizeof(bad_modes) / sizeof(bad_modes[0]); k++) {
        assert_int_equal(chmod(conf, bad_modes[k]), 0);
        secret = NULL;
        err[0] = '\0';
        assert_int_equal(meterd_read_device_secret(conf, &secret, err, sizeof(err)), -EPERM);
        assert_null(secret);
        assert_non_null(strstr(err, "chmod 600"));
        assert_non_null(strstr(err, conf));
        assert_null(strstr(err, "0123456789abcdef"));
    }
    unlink(conf);

    write_conf("\nhidden\n");
    assert_int_equal(meterd_read_device_secret(conf, &secret, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "first line is empty"));
    unlink(conf);
    assert_int_equal(meterd_read_device_secret("/nonexistent/s", &secret, err, sizeof(err)),
                     -ENOENT);
    assert_int_equal(meterd_read_device_secret("/tmp", &secret, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));

    /* The secret is the broker login: no other user name or password beside it. */
    const char *user[] = {"meterd", "--device-id",     "m1", "--secret-file",
                          "/s",     "--mqtt-username", "u"};
    expect_error(7, user, "leave out --mqtt-username and --mqtt-password-file");
    const char *pw[] = {"meterd", "--device-id",          "m1", "--secret-file",
                        "/s",     "--mqtt-password-file", "/p"};
    expect_error(7, pw, "leave out --mqtt-username");
    struct meterd_options o;
    const char *ok[] = {"meterd", "--device-id", "m1", "--secret-file", "/etc/smartmeter/m1"};
    assert_int_equal(parse(&o, 5, ok), 0);
    assert_string_equal(o.secret_file, "/etc/smartmeter/m1");
    meterd_options_free(&o);
}

static void test_options_wiring_per_channel_calibration_and_demand(void **state)
{
    (void)state;
    struct meterd_options o;
    const char *plain[] = {"meterd", "--device-id", "m1"};
    assert_int_equal(parse(&o, 3, plain), 0);
    assert_null(o.wiring); /* the ADC spec decides, else 1p2w */
    assert_int_equal(o.demand_period_min, 15);
    assert_null(o.timezone);
    for (int c = 0; c < 6; c++)
        assert_true(o.cal_ch_gain[c] == 1 && o.cal_ch_offset[c] == 0 && o.cal_ch_phase_deg[c] == 0);
    meterd_options_free(&o);

    write_conf("device_id m1\n"
               "wiring 3p4w\n"
               "cal_vb_gain 1.004\n"
               "cal_vc_offset -0.2\n"
               "cal_ib_phase_deg 0.35\n"
               "cal_ic_gain 0.996\n"
               "demand_period_min 30\n"
               "timezone Asia/Shanghai\n");
    const char *argv[] = {"meterd", "--config", conf, "--wiring", "3p3w", "--cal-ia-offset", "0.01"};
    int r = parse(&o, 7, argv);
    unlink(conf);
    if (r)
        fail_msg("%s", err);
    assert_string_equal(o.wiring, "3p3w");
    assert_true(o.cal_ch_gain[1] == 1.004 && o.cal_ch_offset[2] == -0.2);
    assert_true(o.cal_ch_phase_deg[4] == 0.35 && o.cal_ch_gain[5] == 0.996);
    assert_true(o.cal_ch_offset[3] == 0.01 && o.cal_ch_gain[0] == 1);
    assert_int_equal(o.demand_period_min, 30);
    assert_string_equal(o.timezone, "Asia/Shanghai");
    meterd_options_free(&o);

    const char *wiring[] = {"meterd", "--device-id", "m1", "--wiring", "3p5w"};
    expect_error(5, wiring, "--wiring '3p5w': must be 1p2w, 3p4w or 3p3w");
    const char *period[] = {"meterd", "--device-id", "m1", "--demand-period-min", "10"};
    expect_error(5, period, "--demand-period-min 10: must be 5, 15, 30 or 60");
    const char *trim[] = {"meterd", "--device-id", "m1", "--cal-vc-phase-deg", "50"};
    expect_error(5, trim, "--cal-vc-phase-deg: 50 is out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_defaults_follow_the_spec),
        cmocka_unit_test(test_options_every_option_works_in_the_config_file),
        cmocka_unit_test(test_options_flags_override_the_config_file),
        cmocka_unit_test(test_options_spool_defaults_file_flags_and_bounds),
        cmocka_unit_test(test_options_errors_name_the_problem),
        cmocka_unit_test(test_options_bad_config_line_is_named),
        cmocka_unit_test(test_options_calibration_and_gpio_lines),
        cmocka_unit_test(test_options_wiring_per_channel_calibration_and_demand),
        cmocka_unit_test(test_secret_file_first_line_without_newline),
        cmocka_unit_test(test_a_device_secret_file_must_be_its_owners_alone),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
