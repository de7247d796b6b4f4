/* ops_calendar: the site calendar, holidays and working weekend days (store.h "The site calendar"). */
#include <errno.h>
#include <string.h>

#include "ops.h"

static const char *kind_name(enum calendar_kind k)
{
    return k == CALENDAR_HOLIDAY ? "holiday" : k == CALENDAR_WORKDAY ? "workday" : NULL;
}

static int kind_of(const char *name)
{
    return strcmp(name, "holiday") == 0   ? CALENDAR_HOLIDAY
           : strcmp(name, "workday") == 0 ? CALENDAR_WORKDAY
                                          : 0;
}

int ops_calendar_list(struct store *s, store_calendar_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CALENDAR_LIST, "SELECT day, kind FROM site_calendar ORDER BY day",
                     NULL, &st);
    while (!r && (r = sql_step(q, st, "list the site calendar")) == 1) {
        struct calendar_day d;
        char kind[16];
        r = sql_text(q, st, 0, d.day, sizeof(d.day));
        if (!r)
            r = sql_text(q, st, 1, kind, sizeof(kind));
        if (!r && !(d.kind = (enum calendar_kind)kind_of(kind)))
            r = sql_fail(q, -EIO, "read the site calendar");
        if (!r)
            r = cb(&d, ctx);
    }
    if (st)
        db_reset(st);
    return r > 0 ? 0 : r;
}

static int set_tx(struct sql_store *q, const struct calendar_day *days, size_t n)
{
    struct db_stmt *del = NULL, *add = NULL;
    int r = sql_stmt(q, SQL_CALENDAR_CLEAR, "DELETE FROM site_calendar", NULL, &del);
    if (!r)
        r = sql_stmt(q, SQL_CALENDAR_ADD, "INSERT INTO site_calendar (day, kind) VALUES (?, ?)",
                     NULL, &add);
    if (!r)
        r = sql_begin(q);
    if (!r)
        r = sql_run(q, del, "clear the site calendar");
    for (size_t k = 0; !r && k < n; k++) {
        db_bind_text(add, days[k].day);
        db_bind_text(add, kind_name(days[k].kind));
        r = sql_run(q, add, "add a calendar day");
    }
    if (!r)
        r = sql_commit(q);
    sql_rollback(q);
    return r;
}

int ops_calendar_set(struct store *s, const struct calendar_day *days, size_t n)
{
    int r;
    for (int attempt = 1;; attempt++) {
        r = set_tx(SQL(s), days, n);
        if (!sql_retry_deadlock(r, attempt))
            return r;
    }
}

int ops_calendar_day(struct store *s, const char *day, int *ret_kind)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    char kind[16];
    int r = sql_stmt(q, SQL_CALENDAR_DAY, "SELECT kind FROM site_calendar WHERE day = ?", NULL,
                     &st);
    if (r)
        return r;
    db_bind_text(st, day);
    r = sql_step(q, st, "read a calendar day");
    if (r == 1) {
        r = sql_text(q, st, 0, kind, sizeof(kind));
        *ret_kind = r ? 0 : kind_of(kind);
    } else if (r == 0) {
        *ret_kind = 0;
    }
    db_reset(st);
    return r < 0 ? r : 0;
}
