#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileutil.h"
#include "tmpdir.h"

static char dir[TMPDIR_PATH_MAX];

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(dir, "fileutil");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(dir);
}

static void write_with_mode(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_a_secret_is_read_only_from_an_owner_only_file(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 32], err[512], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/jwt.secret", dir);
    write_with_mode(path, "0123456789abcdef0123456789abcdef\n", 0600);
    assert_int_equal(file_read_secret("JWT secret file", path, 4096, &data, &len, err, sizeof(err)),
                     0);
    assert_int_equal(len, 33);
    assert_string_equal(data, "0123456789abcdef0123456789abcdef\n");
    free(data);
    write_with_mode(path, "x", 0400);
    assert_int_equal(file_read_secret("JWT secret file", path, 4096, &data, &len, err, sizeof(err)),
                     0);
    free(data);
}

static void test_a_secret_others_may_read_or_change_is_refused(void **state)
{
    (void)state;
    static const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0666, 0610, 0601};
    char path[TMPDIR_PATH_MAX + 32], err[512], *data = NULL;
    snprintf(path, sizeof(path), "%s/open.secret", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_with_mode(path, "a-secret-value-of-enough-length!", bad[i]);
        data = NULL;
        assert_int_equal(
            file_read_secret("MQTT password file", path, 4096, &data, NULL, err, sizeof(err)),
            -EPERM);
        assert_null(data);
        /* One line naming the file, the mode and the fix; never the secret. */
        assert_non_null(strstr(err, "MQTT password file"));
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "chmod 600"));
        assert_null(strstr(err, "a-secret-value"));
        assert_null(strchr(err, '\n'));
    }
}

static void test_a_missing_large_or_odd_secret_file_is_explained(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 32], err[512], *data = NULL;
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(file_read_secret("db password file", path, 10, &data, NULL, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "db password file"));
    snprintf(path, sizeof(path), "%s/big", dir);
    write_with_mode(path, "0123456789abc", 0600);
    assert_int_equal(file_read_secret("x", path, 10, &data, NULL, err, sizeof(err)), -E2BIG);
    assert_int_equal(file_read_secret("x", dir, 10, &data, NULL, err, sizeof(err)), -EINVAL);
}

static void test_a_private_file_is_created_0600_with_its_folders(void **state)
{
    (void)state;
    char path[TMPDIR_PATH_MAX + 64], existing[TMPDIR_PATH_MAX + 64];
    struct stat st;
    mode_t old = umask(0);
    snprintf(path, sizeof(path), "%s/a/b/new.db", dir);
    assert_int_equal(file_create_private(path, 0750), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 0);
    /* An existing file keeps its contents and its mode. */
    snprintf(existing, sizeof(existing), "%s/old.db", dir);
    write_with_mode(existing, "data", 0640);
    assert_int_equal(file_create_private(existing, 0750), 0);
    assert_int_equal(stat(existing, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_size, 4);
    /* A parent that is a file is no folder. */
    snprintf(path, sizeof(path), "%s/old.db/x.db", dir);
    assert_int_equal(file_create_private(path, 0750), -ENOTDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_secret_is_read_only_from_an_owner_only_file),
        cmocka_unit_test(test_a_secret_others_may_read_or_change_is_refused),
        cmocka_unit_test(test_a_missing_large_or_odd_secret_file_is_explained),
        cmocka_unit_test(test_a_private_file_is_created_0600_with_its_folders),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
