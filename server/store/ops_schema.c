/*
 * ops_schema: the schema version and migrations (sql/<dialect>/NNN_name.sql),
 * applied in order under the driver's schema lock and recorded in
 * schema_migrations. Idempotent, and safe to run from several processes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"
#include "timeutil.h"

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "name VARCHAR(100) NOT NULL, applied_ms BIGINT NOT NULL){TABLE_OPTIONS}";

int ops_schema_latest(const struct store *s)
{
    return migrations_latest(((const struct sql_store *)s)->drv->migrations);
}

int ops_schema_version(struct store *s, int *ret_version)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_SCHEMA_EXISTS, "{TABLE_EXISTS:schema_migrations}", NULL, &st);
    if (!r)
        r = sql_row(q, st, "schema version", "schema version: no answer");
    if (r)
        return r;
    bool exists = db_col_int(st, 0) > 0;
    db_reset(st);
    if (!exists) {
        *ret_version = 0;
        return 0;
    }
    r = sql_stmt(q, SQL_SCHEMA_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                 NULL, &st);
    if (!r)
        r = sql_row(q, st, "schema version", "schema version: no answer");
    if (r)
        return r;
    *ret_version = (int)db_col_int(st, 0);
    db_reset(st);
    return 0;
}

struct migration_run {
    struct sql_store *q;
    const struct migration *m;
};

static int run_statement(const char *sql, void *ctx)
{
    struct migration_run *run = ctx;
    int r = run->q->drv->exec(run->q->db, sql);
    if (r)
        store_fail(&run->q->base, r, "migration %03d_%s: %s", run->m->version, run->m->name,
                   run->q->drv->errmsg(run->q->db));
    return r;
}

static int apply(struct sql_store *q, const struct migration *m)
{
    struct migration_run run = {q, m};
    int r = migrations_split(m->sql, run_statement, &run);
    struct db_stmt *st = NULL;
    if (!r)
        r = sql_stmt(q, SQL_MIGRATION_RECORD,
                     "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, m->version);
    db_bind_text(st, m->name);
    db_bind_int(st, time_now_ms());
    return sql_run(q, st, "record migration");
}

static int create_migrations_table(struct sql_store *q)
{
    char err[DB_ERR_LEN], *sql;
    int r = db_expand(q->drv->dialect, create_table, &sql, err);
    if (r)
        return store_fail(&q->base, r, "create schema_migrations: %s", err);
    r = q->drv->exec(q->db, sql);
    free(sql);
    return r ? sql_fail(q, r, "create schema_migrations") : 0;
}

int ops_migrate(struct store *s, int *ret_applied)
{
    struct sql_store *q = SQL(s);
    int version = 0, applied = 0;
    int r = q->drv->schema_lock(q->db);
    if (r)
        return sql_fail(q, r, "migration lock");
    r = create_migrations_table(q);
    if (!r)
        r = ops_schema_version(s, &version);
    for (const struct migration *m = q->drv->migrations; !r && m->sql; m++) {
        if (m->version <= version)
            continue;
        r = apply(q, m);
        applied += !r;
    }
    int u = q->drv->schema_unlock(q->db, r == 0);
    if (!r && u)
        r = sql_fail(q, u, "release migration lock");
    if (!r)
        *ret_applied = applied;
    return r;
}
