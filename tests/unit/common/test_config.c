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

#include "config.h"

struct opts {
    char *name;
    int64_t count;
    double ratio;
    bool flag;
};

static const struct config_option table[] = {
    {"name", CONFIG_STRING, offsetof(struct opts, name), 0, 0, "default", "S", "a name"},
    {"count_max", CONFIG_INT, offsetof(struct opts, count), 1, 10, "5", "N", "a count"},
    {"ratio", CONFIG_DOUBLE, offsetof(struct opts, ratio), 0, 1, NULL, "X", "a ratio"},
    {"flag", CONFIG_BOOL, offsetof(struct opts, flag), 0, 0, "false", NULL, "a flag"},
    {0},
};

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file_then_flags_override(void **state)
{
    (void)state;
    struct opts o = {0};
    char err[CONFIG_ERR_LEN];
    char *path = write_file("# comment\n\nname   from file  \ncount_max 7\nratio 0.25\n");
    char *argv[] = {"prog", "--count-max", "9", "--config", path, "--flag"};
    assert_int_equal(config_defaults(table, &o, err), 0);
    assert_int_equal(o.count, 5);
    assert_int_equal(config_parse_args(table, &o, 6, argv, 1, err), 0);
    assert_string_equal(o.name, "from file");
    assert_int_equal(o.count, 9);
    assert_true(o.ratio == 0.25);
    assert_true(o.flag);
    config_free(table, &o);
    assert_null(o.name);
    unlink(path);
    free(path);
}

static void test_errors_name_the_file_line_or_flag(void **state)
{
    (void)state;
    struct opts o = {0};
    char err[CONFIG_ERR_LEN];
    char *path = write_file("name x\ncount_max 11\n");
    assert_int_equal(config_load_file(table, &o, path, err), -ERANGE);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "out of range"));
    unlink(path);
    free(path);

    path = write_file("bogus 1\n");
    assert_int_equal(config_load_file(table, &o, path, err), -ENOENT);
    assert_non_null(strstr(err, "unknown option 'bogus'"));
    unlink(path);
    free(path);

    char *argv1[] = {"prog", "--nope", "1"};
    assert_int_equal(config_parse_args(table, &o, 3, argv1, 1, err), -ENOENT);
    assert_non_null(strstr(err, "--nope"));
    char *argv2[] = {"prog", "--ratio", "abc"};
    assert_int_equal(config_parse_args(table, &o, 3, argv2, 1, err), -EINVAL);
    assert_non_null(strstr(err, "--ratio"));
    char *argv3[] = {"prog", "--ratio"};
    assert_int_equal(config_parse_args(table, &o, 2, argv3, 1, err), -EINVAL);
    char *argv4[] = {"prog", "stray"};
    assert_int_equal(config_parse_args(table, &o, 2, argv4, 1, err), -EINVAL);
    char *argv5[] = {"prog", "--config", "/nonexistent/x.conf"};
    assert_true(config_parse_args(table, &o, 3, argv5, 1, err) < 0);
    assert_non_null(strstr(err, "/nonexistent/x.conf"));
    config_free(table, &o);
}

static void test_help_lists_every_option_as_a_flag(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print_help(table, f);
    fclose(f);
    assert_non_null(strstr(buf, "--count-max N"));
    assert_non_null(strstr(buf, "(default 5)"));
    assert_non_null(strstr(buf, "--ratio X"));
    assert_non_null(strstr(buf, "--config FILE"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_then_flags_override),
        cmocka_unit_test(test_errors_name_the_file_line_or_flag),
        cmocka_unit_test(test_help_lists_every_option_as_a_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
