/*
 * sql: the statement cache of a connection and the helpers the operations
 * share (sql.h).
 */
#include "sql.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

void sql_buf_init(struct sql_buf *s)
{
    dynbuf_init(&s->b, (size_t)1 << 20);
    s->r = 0;
}

void sql_add(struct sql_buf *s, const char *fmt, ...)
{
    if (s->r)
        return;
    va_list ap;
    va_start(ap, fmt);
    s->r = dynbuf_vaddf(&s->b, fmt, ap);
    va_end(ap);
}

void sql_add_rows(struct sql_buf *s, unsigned rows, unsigned per_row)
{
    for (unsigned k = 0; k < rows; k++) {
        sql_add(s, "%s(?", k ? ", " : "");
        for (unsigned i = 1; i < per_row; i++)
            sql_add(s, ", ?");
        sql_add(s, ")");
    }
}

char *sql_buf_end(struct sql_buf *s)
{
    if (s->r) {
        dynbuf_free(&s->b);
        return NULL;
    }
    return dynbuf_steal(&s->b, NULL);
}

int sql_fail(struct sql_store *q, int err, const char *what)
{
    return store_fail(&q->base, err, "%s: %s", what, q->drv->errmsg(q->db));
}

/* Expands and prepares text (or build(rows)'s text) into *ret. */
static int prepare(struct sql_store *q, const char *text, sql_build_fn build, unsigned rows,
                   struct db_stmt **ret)
{
    char err[DB_ERR_LEN];
    char *built = text ? NULL : build(rows);
    char *sql = NULL;
    if (!text && !built)
        return store_fail(&q->base, -ENOMEM, "prepare: out of memory");
    int r = db_expand(q->drv->dialect, text ? text : built, &sql, err);
    free(built);
    if (r)
        return store_fail(&q->base, r, "prepare: %s", err);
    r = q->drv->prepare(q->db, sql, ret);
    if (r)
        store_fail(&q->base, r, "prepare: %s: %.80s", q->drv->errmsg(q->db), sql);
    free(sql);
    return r;
}

int sql_stmt(struct sql_store *q, enum sql_id id, const char *text, sql_build_fn build,
             struct db_stmt **ret)
{
    if (!q->st[id]) {
        int r = prepare(q, text, build, 0, &q->st[id]);
        if (r)
            return r;
    }
    *ret = q->st[id];
    return 0;
}

unsigned sql_bulk_rows(size_t remaining)
{
    if (remaining >= SQL_BULK_MAX)
        return SQL_BULK_MAX;
    if (remaining > SQL_BULK_STEP)
        return (unsigned)(remaining - remaining % SQL_BULK_STEP);
    return (unsigned)remaining;
}

int sql_bulk(struct sql_store *q, enum sql_bulk kind, unsigned rows, sql_build_fn build,
             struct db_stmt **ret)
{
    if (rows == 0 || sql_bulk_rows(rows) != rows)
        return store_fail(&q->base, -EINVAL,
                          "a multi-row statement takes 1 to %u rows, or a multiple of %u to %u",
                          SQL_BULK_STEP, SQL_BULK_STEP, SQL_BULK_MAX);
    if (!q->bulk[kind][rows]) {
        int r = prepare(q, NULL, build, rows, &q->bulk[kind][rows]);
        if (r)
            return r;
    }
    *ret = q->bulk[kind][rows];
    return 0;
}

int sql_step(struct sql_store *q, struct db_stmt *st, const char *what)
{
    int r = st->drv->step(st);
    if (r < 0) {
        sql_fail(q, r, what);
        db_reset(st);
    }
    return r;
}

int sql_run(struct sql_store *q, struct db_stmt *st, const char *what)
{
    int r;
    while ((r = sql_step(q, st, what)) == 1)
        ;
    db_reset(st);
    return r;
}

int sql_row(struct sql_store *q, struct db_stmt *st, const char *what, const char *not_found)
{
    int r = sql_step(q, st, what);
    if (r == 0) {
        db_reset(st);
        return store_fail(&q->base, -ENOENT, "%s", not_found);
    }
    return r < 0 ? r : 0;
}

int sql_begin(struct sql_store *q)
{
    int r = q->drv->begin(q->db);
    return r ? sql_fail(q, r, "begin") : 0;
}

int sql_commit(struct sql_store *q)
{
    int r = q->drv->commit(q->db);
    return r ? sql_fail(q, r, "commit") : 0;
}

void sql_rollback(struct sql_store *q)
{
    q->drv->rollback(q->db);
}

int sql_text(struct sql_store *q, struct db_stmt *st, unsigned col, char *dst, size_t size)
{
    size_t len = 0;
    const char *t = db_col_text(st, col, &len);
    if (len >= size)
        return store_fail(&q->base, -EIO, "column %u does not fit its field", col + 1);
    memcpy(dst, t ? t : "", len);
    dst[len] = '\0';
    return 0;
}

bool sql_retry_deadlock(int r, int attempt)
{
    if (r != -EDEADLK || attempt >= SQL_DEADLOCK_ATTEMPTS)
        return false;
    /* 1, 2, 4 ... 64 ms, and up to as much again at random (xorshift, per thread). */
    static _Thread_local uint32_t x;
    if (!x)
        x = (uint32_t)time_now_ms() ^ (uint32_t)(uintptr_t)&x;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    int64_t base = INT64_C(1) << (attempt < 7 ? attempt - 1 : 6);
    int64_t ms = base + (int64_t)(x % (uint32_t)base) + 1;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return true;
}
