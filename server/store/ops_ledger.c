/*
 * ops_ledger: prepaid balances and their ledger (store.h "store_recharge").
 *
 * ops_ledger_append() is the one way a ledger row is written, whatever its
 * kind: counter recharges here, WeChat Pay payments (ops_payments.c) and the
 * rest call it inside their own transactions.
 *
 * The rules of a credit, in this order, in one transaction:
 *   1. lock the device row ({FOR_UPDATE}; SQLite's write lock holds already),
 *      so retries of one recharge queue on it and each sees the ledger row of
 *      the one before (a locking read sees the latest committed row);
 *   2. with an idempotency key, an earlier credit by the same actor with the
 *      same key answers again (replayed) when it was for the same device and
 *      amount, and is a conflict (-EEXIST) otherwise;
 *   3. the balance stays at most STORE_BALANCE_MAX_FEN (-ERANGE);
 *   4. balance and ledger row are written together.
 * A deadlock, and the same actor's first use of the key on another device
 * committing meanwhile (the ledger insert hits the unique key), are retried
 * after the rollback: the next attempt reads that row and answers replay or
 * -EEXIST.
 */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

/* The device's balance, its row locked. */
static int lock_balance(struct sql_store *q, int64_t device_pk, int64_t *ret_fen)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEVICE_BALANCE, "SELECT balance FROM devices WHERE id = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_row(q, st, "lock device", "no such device");
    if (r)
        return r;
    r = db_col_money(st, 0, ret_fen);
    db_reset(st);
    return r ? sql_fail(q, r, "read balance") : 0;
}

/* 1 with *ret the earlier credit of (actor, key), 0 when there is none, or a negative errno. */
static int find_key(struct sql_store *q, int64_t actor_user_id, const char *key,
                    int64_t *ret_device_pk, int64_t *ret_amount_fen, struct recharge_result *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_LEDGER_BY_KEY,
                     "SELECT id, device_pk, amount, balance_after FROM ledger "
                     "WHERE actor_user_id = ? AND idem_key = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, actor_user_id);
    db_bind_text(st, key);
    r = sql_step(q, st, "look up idempotency key");
    if (r == 1) {
        ret->ledger_id = db_col_int(st, 0);
        *ret_device_pk = db_col_int(st, 1);
        int m = db_col_money(st, 2, ret_amount_fen);
        if (!m)
            m = db_col_money(st, 3, &ret->new_balance_fen);
        if (m)
            r = sql_fail(q, m, "look up idempotency key");
        ret->replayed = true;
    }
    db_reset(st);
    return r;
}

/*
 * The one way an entry reaches the ledger (ops.h): the balance moves by
 * amount_fen and the entry records it with the balance after, in the open
 * transaction, the device row locked by lock_balance() first.
 */
static int write_entry(struct sql_store *q, int64_t device_pk, const char *kind, int64_t amount_fen,
                       int64_t actor_user_id, const char *key, int64_t new_balance_fen,
                       int64_t *ret_ledger_id)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_DEVICE_SET_BALANCE, "UPDATE devices SET balance = ? WHERE id = ?", NULL,
                     &st);
    if (r)
        return r;
    db_bind_money(st, new_balance_fen);
    db_bind_int(st, device_pk);
    r = sql_run(q, st, "update balance");
    if (!r)
        r = sql_stmt(q, SQL_LEDGER_INSERT,
                     "INSERT INTO ledger (device_pk, kind, amount, balance_after, actor_user_id, "
                     "idem_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_text(st, kind);
    db_bind_money(st, amount_fen);
    db_bind_money(st, new_balance_fen);
    db_bind_id(st, actor_user_id);
    db_bind_text(st, key);
    db_bind_int(st, time_now_ms());
    r = sql_run(q, st, "write ledger");
    if (!r)
        *ret_ledger_id = db_last_id(st);
    return r;
}

int ops_ledger_append(struct sql_store *q, int64_t device_pk, const char *kind, int64_t amount_fen,
                      int64_t actor_user_id, const char *key, int64_t *ret_ledger_id,
                      int64_t *ret_balance_fen)
{
    int64_t balance = 0, id = 0;
    int r = lock_balance(q, device_pk, &balance);
    if (r)
        return r;
    if (amount_fen > 0 ? balance > STORE_BALANCE_MAX_FEN - amount_fen
                       : balance < -STORE_BALANCE_MAX_FEN - amount_fen)
        return store_fail(&q->base, -ERANGE, "balance would leave its range");
    r = write_entry(q, device_pk, kind, amount_fen, actor_user_id, key, balance + amount_fen, &id);
    if (r)
        return r;
    if (ret_ledger_id)
        *ret_ledger_id = id;
    if (ret_balance_fen)
        *ret_balance_fen = balance + amount_fen;
    return 0;
}

/* One attempt; *ret_retry tells whether a failure may be retried. */
static int recharge_tx(struct sql_store *q, int64_t device_pk, int64_t amount_fen,
                       int64_t actor_user_id, const char *key, struct recharge_result *ret,
                       bool *ret_retry)
{
    struct recharge_result out = {0};
    int64_t balance = 0;
    *ret_retry = false;
    int r = sql_begin(q);
    if (!r)
        r = lock_balance(q, device_pk, &balance);
    if (!r && key) {
        int64_t dev = 0, amount = 0;
        r = find_key(q, actor_user_id, key, &dev, &amount, &out);
        if (r == 1) {
            r = dev == device_pk && amount == amount_fen
                    ? 0
                    : store_fail(&q->base, -EEXIST, "idempotency key was used for another request");
            goto out;
        }
    }
    if (!r && balance > STORE_BALANCE_MAX_FEN - amount_fen)
        r = store_fail(&q->base, -ERANGE, "balance would exceed the maximum");
    if (!r) {
        r = ops_ledger_append(q, device_pk, "recharge", amount_fen, actor_user_id, key,
                              &out.ledger_id, &out.new_balance_fen);
        *ret_retry = r == -EDEADLK || (key && r == -EEXIST);
    }
    if (!r)
        r = sql_commit(q);
out:
    sql_rollback(q); /* after a commit or on the read-only replay path: nothing to undo */
    if (!r)
        *ret = out;
    if (r == -EDEADLK)
        *ret_retry = true;
    return r;
}

int ops_recharge(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                 const char *key, struct recharge_result *ret)
{
    for (int attempt = 1;; attempt++) {
        bool retry;
        int r = recharge_tx(SQL(s), device_pk, amount_fen, actor_user_id, key, ret, &retry);
        /* a key's first use racing another's (-EEXIST) is tried once more, as a replay */
        if (!r || !retry || attempt == SQL_DEADLOCK_ATTEMPTS ||
            (r == -EDEADLK && !sql_retry_deadlock(r, attempt)))
            return r;
    }
}

/* Hands the entries st (bound) selects to cb; more: stop after limit, setting *ret_more when
   another row follows (the statement asks for limit + 1). */
static int read_entries(struct sql_store *q, struct db_stmt *st, size_t limit, store_ledger_cb cb,
                        void *ctx, bool *ret_more)
{
    int r;
    size_t n = 0;
    while ((r = sql_step(q, st, "list ledger")) == 1) {
        if (ret_more && n == limit) {
            *ret_more = true;
            break;
        }
        struct ledger_entry e;
        memset(&e, 0, sizeof(e));
        e.id = db_col_int(st, 0);
        int m = db_col_money(st, 1, &e.amount_fen);
        if (!m)
            m = db_col_money(st, 2, &e.balance_after_fen);
        r = m ? sql_fail(q, m, "list ledger") : sql_text(q, st, 3, e.kind, sizeof(e.kind));
        if (!r)
            r = sql_text(q, st, 4, e.actor, sizeof(e.actor));
        e.created_ms = db_col_int(st, 5);
        if (!r)
            r = cb(&e, ctx);
        if (r)
            break;
        n++;
    }
    db_reset(st);
    return r < 0 ? r : 0;
}

#define LEDGER_SELECT                                                                              \
    "SELECT l.id, l.amount, l.balance_after, l.kind, COALESCE(u.username, ''), "                   \
    "l.created_ms FROM ledger l LEFT JOIN users u ON u.id = l.actor_user_id "

int ops_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_LEDGER_LIST,
                     LEDGER_SELECT "WHERE l.device_pk = ? ORDER BY l.id DESC LIMIT ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    sql_bind_limit(st, limit);
    return read_entries(q, st, limit, cb, ctx, NULL);
}

int ops_ledger_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                    store_ledger_cb cb, void *ctx, bool *ret_more)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    /* The (device_pk, id) index, walked backwards from before_id. */
    int r = sql_stmt(q, SQL_LEDGER_PAGE,
                     LEDGER_SELECT "WHERE l.device_pk = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, before_id > 0 ? before_id : INT64_MAX);
    sql_bind_limit(st, limit + 1);
    bool more = false;
    r = read_entries(q, st, limit, cb, ctx, &more);
    if (!r)
        *ret_more = more;
    return r;
}

int ops_ledger_count(struct store *s, int64_t device_pk, int64_t *ret_total)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r =
        sql_stmt(q, SQL_LEDGER_COUNT, "SELECT COUNT(*) FROM ledger WHERE device_pk = ?", NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    if ((r = sql_row(q, st, "count ledger", "no count")))
        return r;
    *ret_total = db_col_int(st, 0);
    db_reset(st);
    return 0;
}
