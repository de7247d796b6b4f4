/*
 * migrations: the numbered schema changes of one dialect, compiled in from
 * sql/<dialect>/NNN_name.sql at build time (cmake/EmbedMigrations.cmake), so
 * the binary needs no files at run time. Every dialect has the same numbers
 * and names.
 */
#ifndef SMARTMETER_STORE_MIGRATIONS_H
#define SMARTMETER_STORE_MIGRATIONS_H

struct migration {
    int version;
    const char *name;
    const char *sql; /* statements separated by ';' at the end of a line */
};

/* Each ends with {0}. */
extern const struct migration migrations_sqlite[];
extern const struct migration migrations_mysql[];

/* Number of migrations in a list, i.e. the latest version. */
int migrations_latest(const struct migration *m);

/*
 * Splits a migration script into statements at ';' that ends a line (lines
 * starting with "--" are comments). Calls fn for each non-empty statement
 * (a NUL-terminated copy); stops at the first error and returns it.
 */
int migrations_split(const char *sql, int (*fn)(const char *stmt, void *ctx), void *ctx);

#endif
