#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "tlsopt.h"

static char dir[TMPDIR_PATH_MAX];

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(dir, "test_tlsopt");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(dir);
}

/* Writes the test folder's file name, with mode, and its path into path. */
static void file_with_mode(const char *name, unsigned mode, char path[TMPDIR_PATH_MAX + 32])
{
    snprintf(path, TMPDIR_PATH_MAX + 32, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "-----BEGIN X-----\n", 18), 18);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_a_key_only_its_owner_can_use_is_accepted(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 32], err[512] = "";
    static const unsigned ok[] = {0600, 0400, 0700};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        file_with_mode("key.pem", ok[i], path);
        if (tlsopt_check_key("tls_key_file", path, err, sizeof(err)))
            fail_msg("mode %04o refused: %s", ok[i], err);
    }
}

static void test_a_key_others_can_use_is_refused_with_the_fix(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 32], err[512];
    static const unsigned bad[] = {0640, 0644, 0604, 0620, 0602, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        file_with_mode("key.pem", bad[i], path);
        err[0] = '\0';
        if (tlsopt_check_key("mqtt_keyfile", path, err, sizeof(err)) != -EPERM)
            fail_msg("mode %04o accepted", bad[i]);
        char mode[16];
        snprintf(mode, sizeof(mode), "(mode %04o)", bad[i]);
        if (strncmp(err, "mqtt_keyfile ", 13) != 0 || !strstr(err, path) || !strstr(err, mode) ||
            !strstr(err, "chmod 600"))
            fail_msg("message for %04o: %s", bad[i], err);
    }
}

static void test_missing_and_odd_files_are_named(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 32], err[512];
    snprintf(path, sizeof(path), "%s/none.pem", dir);
    assert_int_equal(tlsopt_check_key("tls_key_file", path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "tls_key_file"));
    assert_int_equal(tlsopt_check_readable("mqtt_cafile", path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "mqtt_cafile"));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(tlsopt_check_key("tls_key_file", dir, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_mqtt_certificate_and_key_come_together(void **state)
{
    (void)state;
    char cert[TMPDIR_PATH_MAX + 32], key[TMPDIR_PATH_MAX + 32], err[512];
    file_with_mode("cert.pem", 0644, cert); /* a certificate is public */
    file_with_mode("key.pem", 0600, key);
    struct tlsopt_mqtt none = {NULL, NULL, NULL}, both = {cert, cert, key};
    struct tlsopt_mqtt cert_only = {NULL, cert, NULL}, key_only = {NULL, NULL, key};
    const char *tls = "ssl://broker.example:8883";
    assert_int_equal(tlsopt_check_mqtt(tls, &none, err, sizeof(err)), 0);
    assert_int_equal(tlsopt_check_mqtt(tls, &both, err, sizeof(err)), 0);
    assert_int_equal(tlsopt_check_mqtt(tls, &cert_only, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(tlsopt_check_mqtt("mqtts://b", &key_only, err, sizeof(err)), -EINVAL);
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(tlsopt_check_mqtt(tls, &both, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "mqtt_keyfile"));
}

static void test_mqtt_files_with_tcp_are_unused_and_said_so(void **state)
{
    (void)state;
    char err[512] = "";
    struct tlsopt_mqtt none = {NULL, NULL, NULL}, ca = {"/nonexistent/ca.crt", NULL, NULL};
    assert_int_equal(tlsopt_check_mqtt("tcp://127.0.0.1:1883", &none, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(tlsopt_check_mqtt("tcp://127.0.0.1:1883", &ca, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "not encrypted"));
    assert_int_equal(tlsopt_check_mqtt("ftp://x", &none, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_key_only_its_owner_can_use_is_accepted),
        cmocka_unit_test(test_a_key_others_can_use_is_refused_with_the_fix),
        cmocka_unit_test(test_missing_and_odd_files_are_named),
        cmocka_unit_test(test_mqtt_certificate_and_key_come_together),
        cmocka_unit_test(test_mqtt_files_with_tcp_are_unused_and_said_so),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
