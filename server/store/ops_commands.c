/* ops_commands: commands to meters and their states (store.h "Commands to meters"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define COMMAND_SELECT                                                                             \
    "SELECT id, device_id, kind, relay_state, state, actor, reason, created_ms, expires_ms, "      \
    "sent_ms, sends, finished_ms, message, duration_ms, interval_ms, result FROM commands "

static int read_command(struct sql_store *q, struct db_stmt *st, struct command_rec *c)
{
    char relay[8], state[16];
    memset(c, 0, sizeof(*c));
    int r = sql_text(q, st, 0, c->id, sizeof(c->id));
    if (!r)
        r = sql_text(q, st, 1, c->device_id, sizeof(c->device_id));
    if (!r)
        r = sql_text(q, st, 2, c->kind, sizeof(c->kind));
    if (!r)
        r = sql_text(q, st, 3, relay, sizeof(relay));
    if (!r)
        r = sql_text(q, st, 4, state, sizeof(state));
    if (!r)
        r = sql_text(q, st, 5, c->actor, sizeof(c->actor));
    if (!r)
        r = sql_text(q, st, 6, c->reason, sizeof(c->reason));
    if (!r)
        r = sql_text(q, st, 12, c->message, sizeof(c->message));
    if (!r)
        r = sql_text(q, st, 15, c->result, sizeof(c->result));
    if (r)
        return r;
    c->relay_on = strcmp(relay, "on") == 0;
    c->state = CMD__COUNT;
    for (int k = 0; k < CMD__COUNT; k++)
        if (strcmp(state, command_state_name((enum command_state)k)) == 0)
            c->state = (enum command_state)k;
    if (c->state == CMD__COUNT)
        return sql_fail(q, -EIO, "read command state");
    c->created_ms = db_col_int(st, 7);
    c->expires_ms = db_col_int(st, 8);
    c->sent_ms = db_is_null(st, 9) ? 0 : db_col_int(st, 9);
    c->sends = db_col_int(st, 10);
    c->finished_ms = db_is_null(st, 11) ? 0 : db_col_int(st, 11);
    c->duration_ms = db_is_null(st, 13) ? 0 : (int32_t)db_col_int(st, 13);
    c->interval_ms = db_is_null(st, 14) ? 0 : (int32_t)db_col_int(st, 14);
    return 0;
}

int ops_command_add(struct store *s, const struct command_rec *c)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *sup = NULL, *add = NULL;
    int r = sql_stmt(q, SQL_COMMAND_SUPERSEDE,
                     "UPDATE commands SET state = CASE WHEN state = 'acknowledged' THEN 'done' "
                     "ELSE 'failed' END, finished_ms = ?, message = ? WHERE device_id = ? AND "
                     "kind = ? AND state IN ('queued', 'sent', 'acknowledged')",
                     NULL, &sup);
    if (!r)
        r = sql_stmt(
            q, SQL_COMMAND_ADD,
            "INSERT INTO commands (id, device_id, kind, relay_state, state, actor, reason, "
            "created_ms, expires_ms, sends, duration_ms, interval_ms) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, 0, ?, ?)",
            NULL, &add);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    char why[STORE_COMMAND_MSG_MAX + 1];
    snprintf(why, sizeof(why), "superseded by %s", c->id);
    db_bind_int(sup, c->created_ms);
    db_bind_text(sup, why);
    db_bind_text(sup, c->device_id);
    db_bind_text(sup, c->kind);
    bool relay = strcmp(c->kind, "relay") == 0;
    /* The newest intent wins: a relay state, and a publish interval. */
    if (relay || strcmp(c->kind, "set_interval") == 0)
        r = sql_run(q, sup, "supersede commands");
    else
        db_reset(sup);
    if (!r) {
        db_bind_text(add, c->id);
        db_bind_text(add, c->device_id);
        db_bind_text(add, c->kind);
        if (relay)
            db_bind_text(add, c->relay_on ? "on" : "off");
        else
            db_bind_null(add);
        db_bind_text(add, c->actor);
        db_bind_text(add, c->reason);
        db_bind_int(add, c->created_ms);
        db_bind_int(add, c->expires_ms);
        if (strcmp(c->kind, "capture") == 0)
            db_bind_int(add, c->duration_ms);
        else
            db_bind_null(add);
        if (strcmp(c->kind, "set_interval") == 0)
            db_bind_int(add, c->interval_ms);
        else
            db_bind_null(add);
        r = sql_run(q, add, "add command");
        if (r == -EEXIST)
            store_fail(s, r, "command id '%s' was already used", c->id);
    }
    if (!r)
        r = sql_commit(q);
    if (r)
        sql_rollback(q);
    return r;
}

int ops_command_get(struct store *s, const char *device_id, const char *id, struct command_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMAND_GET, COMMAND_SELECT "WHERE id = ?", NULL, &st);
    if (r)
        return r;
    db_bind_text(st, id);
    r = sql_row(q, st, "get command", "no such command");
    if (!r) {
        r = read_command(q, st, ret);
        db_reset(st);
    }
    if (!r && device_id && strcmp(ret->device_id, device_id) != 0)
        r = store_fail(s, -ENOENT, "no such command");
    return r;
}

int ops_command_move(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                     int64_t at_ms, const char *message)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMAND_MOVE,
                     "UPDATE commands SET state = ?, message = COALESCE(?, message), "
                     "finished_ms = CASE WHEN ? = 1 THEN ? ELSE finished_ms END, "
                     "sent_ms = CASE WHEN ? = 1 THEN ? ELSE sent_ms END, sends = sends + ? "
                     "WHERE id = ? AND state IN (?, ?, ?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    bool finished = to == CMD_DONE || to == CMD_FAILED || to == CMD_EXPIRED;
    bool sent = to == CMD_SENT;
    db_bind_text(st, command_state_name(to));
    if (message)
        db_bind_text(st, message);
    else
        db_bind_null(st);
    db_bind_int(st, finished);
    db_bind_int(st, at_ms);
    db_bind_int(st, sent);
    db_bind_int(st, at_ms);
    db_bind_int(st, sent);
    db_bind_text(st, id);
    /* One placeholder per state: a state not in the mask binds NULL, which matches nothing. */
    for (int k = 0; k < CMD__COUNT; k++) {
        if (from_mask & CMD_BIT(k))
            db_bind_text(st, command_state_name((enum command_state)k));
        else
            db_bind_null(st);
    }
    r = sql_run(q, st, "move command");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no command '%s' in that state", id);
    return r;
}

int ops_commands_due(struct store *s, int64_t now_ms, int64_t resend_before_ms, store_command_cb cb,
                     void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(
        q, SQL_COMMANDS_DUE,
        "SELECT c.id, c.device_id, c.kind, c.relay_state, c.state, c.actor, c.reason, "
        "c.created_ms, c.expires_ms, c.sent_ms, c.sends, c.finished_ms, c.message, c.duration_ms, "
        "c.interval_ms, c.result "
        "FROM commands c JOIN devices d ON d.device_id = c.device_id "
        "WHERE d.status = 'online' AND c.expires_ms > ? AND (c.state = 'queued' OR "
        "(c.state = 'sent' AND c.sent_ms < ?)) ORDER BY c.created_ms, c.id LIMIT ?",
        NULL, &st);
    if (r)
        return r;
    /* Read them all first: the callback writes through this same connection. */
    struct command_rec *rows = calloc(STORE_COMMANDS_DUE_MAX, sizeof(*rows));
    if (!rows)
        return store_fail(s, -ENOMEM, "out of memory");
    size_t n = 0;
    db_bind_int(st, now_ms);
    db_bind_int(st, resend_before_ms);
    sql_bind_limit(st, STORE_COMMANDS_DUE_MAX);
    while ((r = sql_step(q, st, "due commands")) == 1) {
        if ((r = read_command(q, st, &rows[n])) != 0)
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

int ops_commands_expire(struct store *s, int64_t now_ms, size_t *ret_n)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMANDS_EXPIRE,
                     "UPDATE commands SET state = 'expired', finished_ms = ?, message = "
                     "'not acknowledged before it expired' WHERE state IN ('queued', 'sent') AND "
                     "expires_ms <= ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, now_ms);
    db_bind_int(st, now_ms);
    r = sql_run(q, st, "expire commands");
    if (!r && ret_n)
        *ret_n = (size_t)db_changes(st);
    return r;
}

int ops_commands_count(struct store *s, uint64_t ret_by_state[CMD__COUNT])
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    uint64_t n[CMD__COUNT] = {0};
    int r = sql_stmt(q, SQL_COMMANDS_COUNT, "SELECT state, COUNT(*) FROM commands GROUP BY state",
                     NULL, &st);
    if (r)
        return r;
    while ((r = sql_step(q, st, "count commands")) == 1) {
        char state[16];
        if ((r = sql_text(q, st, 0, state, sizeof(state))) != 0)
            break;
        for (int k = 0; k < CMD__COUNT; k++)
            if (strcmp(state, command_state_name((enum command_state)k)) == 0)
                n[k] = (uint64_t)db_col_int(st, 1);
    }
    db_reset(st);
    if (r)
        return r;
    memcpy(ret_by_state, n, sizeof(n));
    return 0;
}

int ops_command_latest(struct store *s, const char *device_id, const char *kind,
                       struct command_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMAND_LATEST,
                     COMMAND_SELECT "WHERE device_id = ? AND kind = ? "
                                    "ORDER BY created_ms DESC, id DESC LIMIT 1",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    db_bind_text(st, kind);
    r = sql_row(q, st, "latest command", "no command");
    if (!r) {
        r = read_command(q, st, ret);
        db_reset(st);
    }
    return r;
}

int ops_device_relay(struct store *s, int64_t device_pk, bool *ret_on, int64_t *ret_ts_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    char relay[8];
    int r = sql_stmt(q, SQL_DEVICE_RELAY,
                     "SELECT relay, ts_ms FROM readings WHERE device_pk = ? AND relay IS NOT NULL "
                     "ORDER BY ts_ms DESC LIMIT 1",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_row(q, st, "device relay", "no reading reports the relay");
    if (r)
        return r;
    r = sql_text(q, st, 0, relay, sizeof(relay));
    int64_t ts = db_col_int(st, 1);
    db_reset(st);
    if (!r) {
        *ret_on = strcmp(relay, "on") == 0;
        *ret_ts_ms = ts;
    }
    return r;
}

int ops_device_event_add(struct store *s, const char *device_id, int64_t at_ms, const char *kind,
                         const char *detail)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r =
        sql_stmt(q, SQL_DEVICE_EVENT_ADD,
                 "INSERT INTO device_events (device_id, at_ms, kind, detail) VALUES (?, ?, ?, ?)",
                 NULL, &st);
    if (r)
        return r;
    db_bind_text(st, device_id);
    db_bind_int(st, at_ms);
    db_bind_text(st, kind);
    db_bind_text(st, detail);
    return sql_run(q, st, "add device event");
}

int ops_commands_of_device(struct store *s, const char *device_id, size_t limit,
                           store_command_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMANDS_OF_DEVICE,
                     COMMAND_SELECT "WHERE device_id = ? ORDER BY created_ms DESC, id DESC LIMIT ?",
                     NULL, &st);
    if (!r) {
        db_bind_text(st, device_id);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "list commands")) == 1) {
        struct command_rec c;
        r = read_command(q, st, &c);
        if (!r)
            r = cb(&c, ctx);
    }
    if (st)
        db_reset(st);
    return r > 0 ? 0 : r;
}

int ops_device_events(struct store *s, const char *device_id, const char *kind_prefix, size_t limit,
                      store_event_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    char like[STORE_EVENT_KIND_MAX + 2];
    /* Kinds are of [a-z0-9._-] (the callers' constants): nothing to escape for LIKE but '_'. */
    size_t n = 0;
    for (const char *p = kind_prefix ? kind_prefix : ""; *p && n + 3 < sizeof(like); p++) {
        if (*p == '_' || *p == '%')
            return store_fail(s, -EINVAL, "an event kind prefix is letters, digits, '.' and '-'");
        like[n++] = *p;
    }
    like[n++] = '%';
    like[n] = '\0';
    int r = sql_stmt(q, SQL_DEVICE_EVENTS,
                     "SELECT id, at_ms, kind, detail FROM device_events WHERE device_id = ? AND "
                     "kind LIKE ? ORDER BY at_ms DESC, id DESC LIMIT ?",
                     NULL, &st);
    if (!r) {
        db_bind_text(st, device_id);
        db_bind_text(st, like);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "list device events")) == 1) {
        struct device_event e = {.id = db_col_int(st, 0), .at_ms = db_col_int(st, 1)};
        r = sql_text(q, st, 2, e.kind, sizeof(e.kind));
        if (!r)
            r = sql_text(q, st, 3, e.detail, sizeof(e.detail));
        if (!r)
            r = cb(&e, ctx);
    }
    if (st)
        db_reset(st);
    return r > 0 ? 0 : r;
}

/*
 * The devices that have a row in a table keyed by device column col: each found
 * by one index step past the one before (a loose index scan, written as a recursive
 * query: both databases run it alike), so the cost follows the devices, not the rows.
 */
#define DISTINCT_KEYS(table, col)                                                                  \
    "WITH RECURSIVE k(v) AS (SELECT MIN(" col ") FROM " table " UNION ALL "                        \
    "SELECT (SELECT MIN(x." col ") FROM " table " x WHERE x." col " > k.v) FROM k "                \
    "WHERE k.v IS NOT NULL) "

/* The devices with a row in table (keyed by device_id), as their pks. */
#define HAVING_BY_ID(table)                                                                        \
    DISTINCT_KEYS(table, "device_id")                                                              \
    "SELECT d.id FROM k JOIN devices d ON d.device_id = k.v ORDER BY d.id"
/* The devices with money on their ledger or settings of their own. */
#define HAVING_MONEY                                                                               \
    DISTINCT_KEYS("ledger", "device_pk")                                                           \
    "SELECT v FROM k WHERE v IS NOT NULL UNION SELECT device_pk FROM billing_settings ORDER BY 1"

static const struct {
    enum sql_id id;
    const char *sql;
} having_sql[DEVICES_HAVING__COUNT] = {
    [DEVICES_HAVING_COMMANDS] = {SQL_DEVICES_HAVING_COMMANDS, HAVING_BY_ID("commands")},
    [DEVICES_HAVING_EVENTS] = {SQL_DEVICES_HAVING_EVENTS, HAVING_BY_ID("device_events")},
    [DEVICES_HAVING_MONEY] = {SQL_DEVICES_HAVING_MONEY, HAVING_MONEY},
};

int ops_devices_having(struct store *s, enum device_having what, int64_t **ret, size_t *ret_n)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, having_sql[what].id, having_sql[what].sql, NULL, &st);
    if (r)
        return r;
    int64_t *pks = NULL;
    size_t n = 0, cap = 0;
    while ((r = sql_step(q, st, "devices having")) == 1) {
        if (n == cap) {
            size_t c = cap ? 2 * cap : 64;
            int64_t *p = realloc(pks, c * sizeof(*p));
            if (!p) {
                r = store_fail(s, -ENOMEM, "out of memory");
                break;
            }
            pks = p;
            cap = c;
        }
        pks[n++] = db_col_int(st, 0);
    }
    db_reset(st);
    if (r) {
        free(pks);
        return r;
    }
    *ret = pks;
    *ret_n = n;
    return 0;
}

int ops_command_finish(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                       int64_t at_ms, const char *message, const char *result)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_COMMAND_FINISH,
                     "UPDATE commands SET state = ?, message = COALESCE(?, message), "
                     "result = COALESCE(?, result), "
                     "finished_ms = CASE WHEN ? = 1 THEN ? ELSE finished_ms END "
                     "WHERE id = ? AND state IN (?, ?, ?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    bool finished = to == CMD_DONE || to == CMD_FAILED || to == CMD_EXPIRED;
    db_bind_text(st, command_state_name(to));
    if (message)
        db_bind_text(st, message);
    else
        db_bind_null(st);
    if (result)
        db_bind_text(st, result);
    else
        db_bind_null(st);
    db_bind_int(st, finished);
    db_bind_int(st, at_ms);
    db_bind_text(st, id);
    for (int k = 0; k < CMD__COUNT; k++) {
        if (from_mask & CMD_BIT(k))
            db_bind_text(st, command_state_name((enum command_state)k));
        else
            db_bind_null(st);
    }
    r = sql_run(q, st, "finish command");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no command '%s' in that state", id);
    return r;
}
