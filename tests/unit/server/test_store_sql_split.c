#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "migrations.h"

struct seen {
    int n;
    char stmt[8][256];
};

static int collect(const char *stmt, void *ctx)
{
    struct seen *s = ctx;
    if (s->n < 8)
        strncpy(s->stmt[s->n++], stmt, 255);
    return 0;
}

static void test_statements_split_at_line_ending_semicolons(void **state)
{
    (void)state;
    struct seen s = {0};
    const char *sql = "-- a comment; with a semicolon\n"
                      "CREATE TABLE a (x INT,\n  y TEXT DEFAULT 'a;b');\n"
                      "\n"
                      "CREATE INDEX i ON a (x);   \n"
                      "INSERT INTO a VALUES (1, 'z')";
    assert_int_equal(migrations_split(sql, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.stmt[0], "CREATE TABLE a (x INT,\n  y TEXT DEFAULT 'a;b')");
    assert_string_equal(s.stmt[1], "\nCREATE INDEX i ON a (x)");
    assert_string_equal(s.stmt[2], "INSERT INTO a VALUES (1, 'z')\n");
}

static void test_both_dialects_have_the_same_migrations(void **state)
{
    (void)state;
    int n = migrations_latest(migrations_sqlite);
    assert_true(n >= 1);
    assert_int_equal(n, migrations_latest(migrations_mysql));
    for (int i = 0; i < n; i++) {
        assert_int_equal(migrations_sqlite[i].version, i + 1);
        assert_int_equal(migrations_mysql[i].version, i + 1);
        assert_string_equal(migrations_sqlite[i].name, migrations_mysql[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_split_at_line_ending_semicolons),
        cmocka_unit_test(test_both_dialects_have_the_same_migrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
