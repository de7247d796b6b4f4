#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "migrations.h"
#include "sql.h"

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

/* Expands sql in drv's dialect into out (the test's buffer). */
static int expand(const struct db_driver *drv, const char *sql, char *out, size_t len)
{
    char err[DB_ERR_LEN], *text = NULL;
    int r = db_expand(drv->dialect, sql, &text, err);
    snprintf(out, len, "%s", r ? err : text);
    free(text);
    return r;
}

static void test_dialect_tokens_expand_per_database(void **state)
{
    (void)state;
    char out[512];
    const char *sql = "{INSERT_IGNORE} INTO t (a) VALUES (?) {ON_CONFLICT:a} a = {LEAST}(a, "
                      "{NEW:a}) -- x {DIV} 2{FOR_UPDATE}";
    assert_int_equal(expand(&db_driver_sqlite, sql, out, sizeof(out)), 0);
    assert_string_equal(out, "INSERT OR IGNORE INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE "
                             "SET a = min(a, excluded.a) -- x / 2");
    assert_int_equal(expand(&db_driver_mysql, sql, out, sizeof(out)), 0);
    assert_string_equal(out, "INSERT IGNORE INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE "
                             "a = LEAST(a, VALUES(a)) -- x DIV 2 FOR UPDATE");
    assert_int_equal(expand(&db_driver_sqlite, "SELECT 1", out, sizeof(out)), 0);
    assert_string_equal(out, "SELECT 1");
    assert_int_equal(
        expand(&db_driver_sqlite, "SELECT a FROM t x {INDEX:t_by_a} WHERE a > ?", out, sizeof(out)),
        0);
    assert_string_equal(out, "SELECT a FROM t x INDEXED BY t_by_a WHERE a > ?");
    assert_int_equal(
        expand(&db_driver_mysql, "SELECT a FROM t x {INDEX:t_by_a} WHERE a > ?", out, sizeof(out)),
        0);
    assert_string_equal(out, "SELECT a FROM t x FORCE INDEX (t_by_a) WHERE a > ?");
}

static void test_every_dialect_has_every_token(void **state)
{
    (void)state;
    const struct db_driver *drivers[] = {&db_driver_sqlite, &db_driver_mysql};
    for (size_t d = 0; d < 2; d++) {
        size_t n = 0;
        for (const struct db_token *t = drivers[d]->dialect; t->name; t++, n++) {
            char sql[64], out[512];
            snprintf(sql, sizeof(sql), "{%s:x}", t->name);
            assert_int_equal(expand(drivers[0], sql, out, sizeof(out)), 0);
            assert_int_equal(expand(drivers[1], sql, out, sizeof(out)), 0);
        }
        assert_true(n >= 9);
    }
}

static void test_an_unknown_or_open_token_is_an_error(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(expand(&db_driver_sqlite, "SELECT {NOPE} FROM t", out, sizeof(out)), -EINVAL);
    assert_non_null(strstr(out, "{NOPE}"));
    assert_int_equal(expand(&db_driver_mysql, "SELECT {DIV", out, sizeof(out)), -EINVAL);
    assert_non_null(strstr(out, "unterminated"));
}

static void test_bulk_statements_come_in_few_sizes_and_cover_every_chunk(void **state)
{
    (void)state;
    unsigned sizes[SQL_BULK_MAX + 1] = {0};
    for (size_t n = 1; n <= 3 * SQL_BULK_MAX + 5; n++) {
        size_t left = n, statements = 0;
        while (left) {
            unsigned rows = sql_bulk_rows(left);
            assert_true(rows >= 1 && rows <= left && rows <= SQL_BULK_MAX);
            assert_true(rows <= SQL_BULK_STEP || rows % SQL_BULK_STEP == 0);
            assert_int_equal(sql_bulk_rows(rows), rows); /* a size sql_bulk() takes */
            sizes[rows] = 1;
            left -= rows;
            statements++;
        }
        /* at most two statements for each SQL_BULK_MAX rows or part of them */
        assert_true(statements <= 2 * ((n + SQL_BULK_MAX - 1) / SQL_BULK_MAX));
    }
    unsigned distinct = 0;
    for (unsigned k = 1; k <= SQL_BULK_MAX; k++)
        distinct += sizes[k];
    assert_int_equal(distinct, SQL_BULK_STEP + SQL_BULK_MAX / SQL_BULK_STEP - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dialect_tokens_expand_per_database),
        cmocka_unit_test(test_bulk_statements_come_in_few_sizes_and_cover_every_chunk),
        cmocka_unit_test(test_every_dialect_has_every_token),
        cmocka_unit_test(test_an_unknown_or_open_token_is_an_error),
        cmocka_unit_test(test_statements_split_at_line_ending_semicolons),
        cmocka_unit_test(test_both_dialects_have_the_same_migrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
