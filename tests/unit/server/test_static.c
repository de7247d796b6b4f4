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

#include "tmpdir.h"

#include "static.h"

/* Paths the dashboard serves, and what they decode to relative to web_root. */
static const struct {
    const char *raw;
    const char *rel;
} accepted[] = {
    {"/", ""},
    {"/index.html", "index.html"},
    {"/assets/app-ABCD1234.js", "assets/app-ABCD1234.js"},
    {"/devices/meter-01", "devices/meter-01"},
    {"/devices/meter%3A01", "devices/meter:01"},
    {"/devices/", "devices/"},
    {"/a%20b.txt", "a b.txt"},
    {"/caf%C3%A9", "caf\xc3\xa9"},
    {"/x..y", "x..y"},
};

/* Paths that must be refused before the file system is touched. */
static const char *const refused[] = {
    "",                         /* no leading slash */
    "index.html",               /* relative */
    "/..",                      /* parent */
    "/../etc/passwd",           /* parent */
    "/assets/../../etc/passwd", /* parent in the middle */
    "/%2e%2e/etc/passwd",       /* encoded parent */
    "/%2E%2E%2Fetc%2Fpasswd",   /* encoded slashes */
    "/assets%2fapp.js",         /* encoded slash */
    "/assets%2Fapp.js",         /* encoded slash, upper case */
    "/a%5c..%5cb",              /* encoded backslash */
    "/a\\b",                    /* backslash */
    "/.",                       /* current directory */
    "/./index.html",            /* current directory */
    "/.git/config",             /* hidden */
    "/assets/.env",             /* hidden */
    "//etc/passwd",             /* empty segment */
    "/a//b",                    /* empty segment */
    "/a%00.html",               /* NUL */
    "/a%0a",                    /* control character */
    "/a%",                      /* truncated escape */
    "/a%4",                     /* truncated escape */
    "/a%zz",                    /* bad hex */
};

static void test_plain_paths_are_accepted_and_decoded(void **state)
{
    (void)state;
    char rel[STATIC_MAX_PATH + 1];
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        int r = static_path_check(accepted[i].raw, rel, sizeof(rel));
        if (r != 0)
            fail_msg("%s refused (%d)", accepted[i].raw, r);
        assert_string_equal(rel, accepted[i].rel);
    }
}

static void test_traversal_and_encoded_separators_are_refused(void **state)
{
    (void)state;
    char rel[STATIC_MAX_PATH + 1];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(rel, sizeof(rel), "untouched");
        int r = static_path_check(refused[i], rel, sizeof(rel));
        if (r != -EINVAL)
            fail_msg("%s: expected -EINVAL, got %d", refused[i], r);
        assert_string_equal(rel, "untouched");
    }
}

static void test_overlong_paths_are_refused(void **state)
{
    (void)state;
    char raw[STATIC_MAX_PATH + 2];
    char rel[STATIC_MAX_PATH + 1];
    raw[0] = '/';
    memset(raw + 1, 'a', STATIC_MAX_PATH);
    raw[STATIC_MAX_PATH + 1] = '\0';
    assert_int_equal(static_path_check(raw, rel, sizeof(rel)), -ENAMETOOLONG);
    raw[STATIC_MAX_PATH] = '\0'; /* exactly the limit */
    assert_int_equal(static_path_check(raw, rel, sizeof(rel)), 0);
    char small[4];
    assert_int_equal(static_path_check("/index.html", small, sizeof(small)), -ENAMETOOLONG);
}

static void test_extension_is_read_from_the_last_segment(void **state)
{
    (void)state;
    assert_true(static_path_has_extension("app.js"));
    assert_true(static_path_has_extension("assets/app-1.css"));
    assert_false(static_path_has_extension("devices/meter-01"));
    assert_false(static_path_has_extension("v1.2/devices"));
    assert_false(static_path_has_extension(""));
}

static void test_content_types_and_cache_policy(void **state)
{
    (void)state;
    assert_string_equal(static_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(static_content_type("assets/app-X.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(static_content_type("assets/app-X.css"), "text/css; charset=utf-8");
    assert_string_equal(static_content_type("favicon.svg"), "image/svg+xml");
    assert_string_equal(static_content_type("blob"), "application/octet-stream");
    assert_string_equal(static_content_type("a.tar.unknown"), "application/octet-stream");
    assert_string_equal(static_cache_control("assets/app-X.js"),
                        "public, max-age=31536000, immutable");
    assert_string_equal(static_cache_control("index.html"), "no-cache");
    assert_string_equal(static_cache_control("assetsx/a.js"), "no-cache");
}

/* A web root with a file, a directory, and symlinks inside and out of it. */
struct tree {
    char base[TMPDIR_PATH_MAX];
    char root[TMPDIR_PATH_MAX + 8];
};

static void make_tree(struct tree *t)
{
    assert_int_equal(tmpdir_make(t->base, "test_static"), 0);
    snprintf(t->root, sizeof(t->root), "%s/root", t->base);
    char p[2 * TMPDIR_PATH_MAX];
    assert_int_equal(mkdir(t->root, 0755), 0);
    snprintf(p, sizeof(p), "%s/assets", t->root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/index.html", t->root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("<!doctype html>", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/secret.txt", t->base);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("outside", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/escape.txt", t->root);
    assert_int_equal(symlink("../secret.txt", p), 0);
    snprintf(p, sizeof(p), "%s/up", t->root);
    assert_int_equal(symlink("..", p), 0);
    snprintf(p, sizeof(p), "%s/home.html", t->root);
    assert_int_equal(symlink("index.html", p), 0);
}

static void remove_tree(struct tree *t)
{
    assert_int_equal(tmpdir_remove(t->base), 0);
}

static void test_files_resolve_only_inside_the_root(void **state)
{
    (void)state;
    struct tree t;
    make_tree(&t);
    struct static_site *site = NULL;
    char err[256];
    assert_int_equal(static_site_open(t.root, 1 << 20, &site, err, sizeof(err)), 0);
    struct stat st;

    int fd = static_open_file(site, "index.html", &st);
    assert_true(fd >= 0);
    assert_int_equal(st.st_size, 15);
    close(fd);
    fd = static_open_file(site, "home.html", &st); /* a symlink that stays inside */
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(static_open_file(site, "escape.txt", &st), -ENOENT);
    assert_int_equal(static_open_file(site, "up/secret.txt", &st), -ENOENT);
    assert_int_equal(static_open_file(site, "up", &st), -ENOENT);
    assert_int_equal(static_open_file(site, "missing.js", &st), -ENOENT);
    assert_int_equal(static_open_file(site, "assets", &st), -EISDIR);
    assert_int_equal(static_open_file(site, "index.html/x", &st), -ENOTDIR);

    static_site_free(site);
    remove_tree(&t);
}

static void test_a_root_that_is_not_a_directory_is_refused(void **state)
{
    (void)state;
    struct static_site *site = NULL;
    char err[256];
    assert_int_equal(static_site_open("/nonexistent/web", 1024, &site, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/web"));
    assert_int_equal(static_site_open("/dev/null", 1024, &site, err, sizeof(err)), -ENOTDIR);
    assert_null(site);
    static_site_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths_are_accepted_and_decoded),
        cmocka_unit_test(test_traversal_and_encoded_separators_are_refused),
        cmocka_unit_test(test_overlong_paths_are_refused),
        cmocka_unit_test(test_extension_is_read_from_the_last_segment),
        cmocka_unit_test(test_content_types_and_cache_policy),
        cmocka_unit_test(test_files_resolve_only_inside_the_root),
        cmocka_unit_test(test_a_root_that_is_not_a_directory_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
