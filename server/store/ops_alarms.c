/* ops_alarms: alarms and the per-device rule settings (store.h "Alarms of the state analysis"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define ALARM_SELECT                                                                               \
    "SELECT id, device_id, kind, severity, state, site, value, limit_value, message, raised_ms, "  \
    "acked_ms, acked_by, ack_note, cleared_ms FROM alarms "

static int read_alarm(struct sql_store *q, struct db_stmt *st, struct alarm_rec *a)
{
    char state[16];
    memset(a, 0, sizeof(*a));
    a->id = db_col_int(st, 0);
    int r = sql_text(q, st, 1, a->device_id, sizeof(a->device_id));
    if (!r)
        r = sql_text(q, st, 2, a->kind, sizeof(a->kind));
    if (!r)
        r = sql_text(q, st, 3, a->severity, sizeof(a->severity));
    if (!r)
        r = sql_text(q, st, 4, state, sizeof(state));
    if (!r)
        r = sql_text(q, st, 5, a->site, sizeof(a->site));
    if (!r)
        r = sql_text(q, st, 8, a->message, sizeof(a->message));
    if (!r)
        r = sql_text(q, st, 11, a->acked_by, sizeof(a->acked_by));
    if (!r)
        r = sql_text(q, st, 12, a->ack_note, sizeof(a->ack_note));
    if (r)
        return r;
    if (alarm_state_parse(state, &a->state))
        return sql_fail(q, -EIO, "read alarm state");
    a->has_value = !db_is_null(st, 6);
    a->value = a->has_value ? db_col_double(st, 6) : 0;
    a->has_limit = !db_is_null(st, 7);
    a->limit = a->has_limit ? db_col_double(st, 7) : 0;
    a->raised_ms = db_col_int(st, 9);
    a->acked_ms = db_is_null(st, 10) ? 0 : db_col_int(st, 10);
    a->cleared_ms = db_is_null(st, 13) ? 0 : db_col_int(st, 13);
    return 0;
}

/* The id of the open alarm of device_id and kind: 1 with *ret_id, 0 when none, or an error. */
static int open_alarm(struct sql_store *q, const char *device_id, const char *kind, int64_t *ret_id)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARM_OPEN,
                     "SELECT id FROM alarms WHERE device_id = ? AND kind = ? AND state IN "
                     "('raised', 'acknowledged') ORDER BY id DESC LIMIT 1 {FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    db_bind_text(st, kind);
    r = sql_step(q, st, "find open alarm");
    if (r == 1)
        *ret_id = db_col_int(st, 0);
    if (r >= 0)
        db_reset(st);
    return r;
}

int ops_alarm_raise(struct store *s, const struct alarm_rec *a, int64_t *ret_id, bool *ret_new)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *add = NULL;
    int64_t id = 0;
    bool fresh = false;
    int r = sql_stmt(q, SQL_ALARM_ADD,
                     "INSERT INTO alarms (device_id, kind, severity, state, site, value, "
                     "limit_value, message, raised_ms) VALUES (?, ?, ?, 'raised', ?, ?, ?, ?, ?)",
                     NULL, &add);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    r = open_alarm(q, a->device_id, a->kind, &id);
    if (r == 0) {
        db_bind_text(add, a->device_id);
        db_bind_text(add, a->kind);
        db_bind_text(add, a->severity);
        db_bind_text(add, a->site);
        if (a->has_value)
            db_bind_double(add, a->value);
        else
            db_bind_null(add);
        if (a->has_limit)
            db_bind_double(add, a->limit);
        else
            db_bind_null(add);
        db_bind_text(add, a->message);
        db_bind_int(add, a->raised_ms);
        r = sql_run(q, add, "raise alarm");
        if (!r) {
            id = db_last_id(add);
            fresh = true;
        }
    } else if (r == 1) {
        r = 0;
    }
    if (!r)
        r = sql_commit(q);
    if (r) {
        sql_rollback(q);
        return r;
    }
    if (ret_id)
        *ret_id = id;
    if (ret_new)
        *ret_new = fresh;
    return 0;
}

int ops_alarm_clear(struct store *s, const char *device_id, const char *kind, int64_t at_ms,
                    int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int64_t id = 0;
    int r = sql_stmt(q, SQL_ALARM_CLEAR,
                     "UPDATE alarms SET state = 'cleared', cleared_ms = ? WHERE id = ?", NULL, &st);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    r = open_alarm(q, device_id, kind, &id);
    if (r == 0) {
        r = store_fail(s, -ENOENT, "no open alarm '%s' of device '%s'", kind, device_id);
    } else if (r == 1) {
        db_bind_int(st, at_ms);
        db_bind_int(st, id);
        r = sql_run(q, st, "clear alarm");
    }
    if (!r)
        r = sql_commit(q);
    if (r) {
        sql_rollback(q);
        return r;
    }
    if (ret_id)
        *ret_id = id;
    return 0;
}

int ops_alarm_ack(struct store *s, int64_t id, const char *user, const char *note, int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARM_ACK,
                     "UPDATE alarms SET state = 'acknowledged', acked_ms = ?, acked_by = ?, "
                     "ack_note = ? WHERE id = ? AND state = 'raised'",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, at_ms);
    db_bind_text(st, user);
    db_bind_text(st, note);
    db_bind_int(st, id);
    r = sql_run(q, st, "acknowledge alarm");
    if (!r && db_changes(st) == 0) {
        struct alarm_rec a;
        r = ops_alarm_get(s, id, &a);
        if (!r)
            r = store_fail(s, -EALREADY, "alarm %lld is %s already", (long long)id,
                           alarm_state_name(a.state));
    }
    return r;
}

int ops_alarm_get(struct store *s, int64_t id, struct alarm_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARM_GET, ALARM_SELECT "WHERE id = ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, id);
    r = sql_row(q, st, "get alarm", "no such alarm");
    if (!r) {
        r = read_alarm(q, st, ret);
        db_reset(st);
    }
    return r;
}

static void bind_opt_text(struct db_stmt *st, const char *t)
{
    if (t) {
        db_bind_text(st, t);
        db_bind_text(st, t);
    } else {
        db_bind_null(st);
        db_bind_null(st);
    }
}

/* One condition for every filter: an unused one binds NULL (or 0), which passes all. The list
   and the count both use it (bind_filter()). */
#define ALARMS_WHERE                                                                               \
    "WHERE (? IS NULL OR device_id = ?) AND (? IS NULL OR site = ?) AND "                          \
    "(? IS NULL OR severity = ?) AND state IN (?, ?, ?) AND raised_ms >= ? AND "                   \
    "raised_ms < ? AND id < ? AND (? = 0 OR device_id IN (SELECT d.device_id "                     \
    "FROM devices d JOIN user_devices b ON b.device_pk = d.id WHERE b.user_id = ?)) "

static void bind_filter(struct db_stmt *st, const struct alarm_filter *f, int64_t before_id)
{
    bind_opt_text(st, f->device_id);
    bind_opt_text(st, f->site);
    bind_opt_text(st, f->severity);
    for (int k = 0; k < ALARM__COUNT; k++) {
        if (!f->state_mask || (f->state_mask & ALARM_BIT(k)))
            db_bind_text(st, alarm_state_name((enum alarm_state)k));
        else
            db_bind_null(st);
    }
    db_bind_int(st, f->since_ms);
    db_bind_int(st, f->until_ms ? f->until_ms : INT64_MAX);
    db_bind_int(st, before_id ? before_id : INT64_MAX);
    db_bind_int(st, f->user_id);
    db_bind_int(st, f->user_id);
}

int ops_alarms_count(struct store *s, const struct alarm_filter *f, int64_t *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARMS_COUNT, "SELECT COUNT(*) FROM alarms " ALARMS_WHERE, NULL, &st);
    if (r)
        return r;
    bind_filter(st, f, 0);
    r = sql_row(q, st, "count alarms", "no count");
    if (!r) {
        *ret = db_col_int(st, 0);
        db_reset(st);
    }
    return r;
}

int ops_alarms_list(struct store *s, const struct alarm_filter *f, store_alarm_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARMS_LIST, ALARM_SELECT ALARMS_WHERE "ORDER BY id DESC LIMIT ?", NULL,
                     &st);
    if (r)
        return r;
    bind_filter(st, f, f->before_id);
    sql_bind_limit(st, f->limit);
    /* Read them all first: the callback may use this connection. */
    struct alarm_rec *rows = calloc(f->limit, sizeof(*rows));
    if (!rows) {
        db_reset(st);
        return store_fail(s, -ENOMEM, "out of memory");
    }
    size_t n = 0;
    while (n < f->limit && (r = sql_step(q, st, "list alarms")) == 1) {
        if ((r = read_alarm(q, st, &rows[n])) != 0)
            break;
        n++;
    }
    if (r > 0)
        r = 0;
    db_reset(st);
    for (size_t k = 0; !r && k < n; k++)
        r = cb(&rows[k], ctx);
    free(rows);
    return r;
}

int ops_alarm_rules_get(struct store *s, const char *device_id, store_alarm_rule_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_ALARM_RULES_GET,
                     "SELECT kind, enabled, limit_value, min_duration_ms, hysteresis FROM "
                     "alarm_rules WHERE device_id = ? ORDER BY kind",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    while ((r = sql_step(q, st, "list alarm rules")) == 1) {
        struct alarm_rule_override o = {0};
        r = sql_text(q, st, 0, o.kind, sizeof(o.kind));
        if (r)
            break;
        o.has_enabled = !db_is_null(st, 1);
        o.enabled = o.has_enabled && db_col_int(st, 1) != 0;
        o.has_limit = !db_is_null(st, 2);
        o.limit = o.has_limit ? db_col_double(st, 2) : 0;
        o.has_min_duration = !db_is_null(st, 3);
        o.min_duration_ms = o.has_min_duration ? db_col_int(st, 3) : 0;
        o.has_hysteresis = !db_is_null(st, 4);
        o.hysteresis = o.has_hysteresis ? db_col_double(st, 4) : 0;
        if ((r = cb(&o, ctx)) != 0)
            break;
    }
    db_reset(st);
    return r > 0 ? 0 : r;
}

int ops_alarm_rules_set(struct store *s, const char *device_id, const struct alarm_rule_override *o,
                        size_t n, int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *del = NULL, *add = NULL;
    int r = sql_stmt(q, SQL_ALARM_RULES_CLEAR, "DELETE FROM alarm_rules WHERE device_id = ?", NULL,
                     &del);
    if (!r)
        r = sql_stmt(q, SQL_ALARM_RULES_ADD,
                     "INSERT INTO alarm_rules (device_id, kind, enabled, limit_value, "
                     "min_duration_ms, hysteresis, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     NULL, &add);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    db_bind_text(del, device_id);
    r = sql_run(q, del, "clear alarm rules");
    for (size_t i = 0; !r && i < n; i++) {
        const struct alarm_rule_override *x = &o[i];
        if (!x->has_enabled && !x->has_limit && !x->has_min_duration && !x->has_hysteresis)
            continue;
        db_bind_text(add, device_id);
        db_bind_text(add, x->kind);
        if (x->has_enabled)
            db_bind_int(add, x->enabled);
        else
            db_bind_null(add);
        if (x->has_limit)
            db_bind_double(add, x->limit);
        else
            db_bind_null(add);
        if (x->has_min_duration)
            db_bind_int(add, x->min_duration_ms);
        else
            db_bind_null(add);
        if (x->has_hysteresis)
            db_bind_double(add, x->hysteresis);
        else
            db_bind_null(add);
        db_bind_int(add, at_ms);
        r = sql_run(q, add, "add alarm rule");
    }
    if (!r)
        r = sql_commit(q);
    if (r)
        sql_rollback(q);
    return r;
}
