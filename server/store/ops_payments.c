/*
 * ops_payments: WeChat Pay orders and their crediting (store.h "WeChat Pay
 * orders").
 *
 * Crediting is exactly once per out_trade_no: the order row is locked first
 * ({FOR_UPDATE}; SQLite's write lock holds already), so of fifty copies of
 * one notification one finds it unpaid and credits, and each of the others
 * waits, then finds it paid. The lock order is order, then device (the
 * ledger's own lock), and nothing locks them the other way round. A deadlock
 * is retried after the rollback.
 */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"


#define PAYMENT_SELECT                                                                             \
    "SELECT p.id, p.out_trade_no, COALESCE(p.transaction_id, ''), p.device_pk, d.device_id, "      \
    "COALESCE(p.user_id, 0), p.amount, COALESCE(p.prepay_id, ''), p.state, p.created_ms, "         \
    "p.expires_ms, p.updated_ms, COALESCE(p.paid_ms, 0), COALESCE(p.ledger_id, 0) "                \
    "FROM payments p JOIN devices d ON d.id = p.device_pk "

static int state_parse(const char *s, enum payment_state *ret)
{
    for (enum payment_state st = PAYMENT_CREATED; st <= PAYMENT_FAILED; st++) {
        if (strcmp(s, payment_state_name(st)) == 0) {
            *ret = st;
            return 0;
        }
    }
    return -EIO;
}

/* The row PAYMENT_SELECT's statement is on. */
static int read_payment(struct sql_store *q, struct db_stmt *st, struct payment_rec *ret)
{
    struct payment_rec p;
    char state[16];
    memset(&p, 0, sizeof(p));
    p.id = db_col_int(st, 0);
    int r = sql_text(q, st, 1, p.out_trade_no, sizeof(p.out_trade_no));
    if (!r)
        r = sql_text(q, st, 2, p.transaction_id, sizeof(p.transaction_id));
    p.device_pk = db_col_int(st, 3);
    if (!r)
        r = sql_text(q, st, 4, p.device_id, sizeof(p.device_id));
    p.user_id = db_col_int(st, 5);
    if (!r && db_col_money(st, 6, &p.amount_fen))
        r = sql_fail(q, -EIO, "read payment amount");
    if (!r)
        r = sql_text(q, st, 7, p.prepay_id, sizeof(p.prepay_id));
    if (!r)
        r = sql_text(q, st, 8, state, sizeof(state));
    if (!r && state_parse(state, &p.state))
        r = store_fail(&q->base, -EIO, "payment in an unknown state");
    p.created_ms = db_col_int(st, 9);
    p.expires_ms = db_col_int(st, 10);
    p.updated_ms = db_col_int(st, 11);
    p.paid_ms = db_col_int(st, 12);
    p.ledger_id = db_col_int(st, 13);
    if (!r)
        *ret = p;
    return r;
}

int ops_payment_create(struct store *s, const struct payment_rec *p, int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_ADD,
                     "INSERT INTO payments (out_trade_no, device_pk, user_id, amount, state, "
                     "created_ms, expires_ms, updated_ms) VALUES (?, ?, ?, ?, 'created', ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, p->out_trade_no);
    db_bind_int(st, p->device_pk);
    db_bind_id(st, p->user_id);
    db_bind_money(st, p->amount_fen);
    db_bind_int(st, p->created_ms);
    db_bind_int(st, p->expires_ms);
    db_bind_int(st, p->created_ms);
    r = sql_run(q, st, "add payment");
    if (!r && ret_id)
        *ret_id = db_last_id(st);
    return r;
}

int ops_payment_get(struct store *s, const char *out_trade_no, struct payment_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_GET, PAYMENT_SELECT "WHERE p.out_trade_no = ?", NULL, &st);
    if (r)
        return r;
    db_bind_text(st, out_trade_no);
    r = sql_row(q, st, "get payment", "no such payment");
    if (r)
        return r;
    r = read_payment(q, st, ret);
    db_reset(st);
    return r;
}

int ops_payment_set_prepay(struct store *s, const char *out_trade_no, const char *prepay_id,
                           int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_PREPAY,
                     "UPDATE payments SET prepay_id = ?, updated_ms = ? "
                     "WHERE out_trade_no = ? AND state = 'created'",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, prepay_id);
    db_bind_int(st, at_ms);
    db_bind_text(st, out_trade_no);
    r = sql_run(q, st, "keep prepay_id");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no such order waiting for payment");
    return r;
}

int ops_payment_finish(struct store *s, const char *out_trade_no, enum payment_state state,
                       int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_FINISH,
                     "UPDATE payments SET state = ?, updated_ms = ? "
                     "WHERE out_trade_no = ? AND state = 'created'",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, payment_state_name(state));
    db_bind_int(st, at_ms);
    db_bind_text(st, out_trade_no);
    r = sql_run(q, st, "finish payment");
    if (!r && db_changes(st) == 0)
        r = store_fail(s, -ENOENT, "no such order waiting for payment");
    return r;
}

static int lock_payment(struct sql_store *q, const char *out_trade_no, struct payment_rec *ret)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_LOCK, PAYMENT_SELECT "WHERE p.out_trade_no = ?{FOR_UPDATE}",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, out_trade_no);
    r = sql_row(q, st, "lock payment", "no such payment");
    if (r)
        return r;
    r = read_payment(q, st, ret);
    db_reset(st);
    return r;
}

static int mark_paid(struct sql_store *q, int64_t payment_id, const char *transaction_id,
                     int64_t paid_ms, int64_t ledger_id)
{
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENT_PAID,
                     "UPDATE payments SET state = 'paid', transaction_id = ?, paid_ms = ?, "
                     "ledger_id = ?, updated_ms = ? WHERE id = ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, transaction_id);
    db_bind_int(st, paid_ms);
    db_bind_int(st, ledger_id);
    db_bind_int(st, time_now_ms());
    db_bind_int(st, payment_id);
    return sql_run(q, st, "mark payment paid");
}

static int credit_tx(struct sql_store *q, const char *out_trade_no, const char *transaction_id,
                     int64_t paid_ms, struct payment_credit *ret)
{
    struct payment_rec p;
    struct payment_credit out = {0};
    struct recharge_result led = {0};
    int r = sql_begin(q);
    if (!r)
        r = lock_payment(q, out_trade_no, &p);
    if (r)
        goto out;
    out.device_pk = p.device_pk;
    if (p.state == PAYMENT_PAID) {
        if (strcmp(p.transaction_id, transaction_id) != 0)
            r = store_fail(&q->base, -EEXIST, "the order was paid by another transaction");
        out.already = true;
        out.ledger_id = p.ledger_id;
        goto out;
    }
    r = ops_ledger_append(q, p.device_pk, "payment", p.amount_fen, p.user_id, NULL, &led.ledger_id,
                          &led.new_balance_fen);
    if (!r)
        r = mark_paid(q, p.id, transaction_id, paid_ms, led.ledger_id);
    if (!r)
        r = sql_commit(q);
    out.ledger_id = led.ledger_id;
    out.new_balance_fen = led.new_balance_fen;
out:
    sql_rollback(q); /* after a commit or on the read-only paths: nothing to undo */
    if (!r)
        *ret = out;
    return r;
}

int ops_payment_credit(struct store *s, const char *out_trade_no, const char *transaction_id,
                       int64_t paid_ms, struct payment_credit *ret)
{
    for (int attempt = 1;; attempt++) {
        int r = credit_tx(SQL(s), out_trade_no, transaction_id, paid_ms, ret);
        if (!sql_retry_deadlock(r, attempt))
            return r;
    }
}

/* Runs a listing statement, bound already, to its end: each row to cb. */
static int list_rows(struct sql_store *q, struct db_stmt *st, const char *what, store_payment_cb cb,
                     void *ctx)
{
    int r;
    while ((r = sql_step(q, st, what)) == 1) {
        struct payment_rec p;
        r = read_payment(q, st, &p);
        if (!r)
            r = cb(&p, ctx);
        if (r)
            break;
    }
    db_reset(st);
    return r;
}

int ops_payments_of_device(struct store *s, int64_t device_pk, int64_t user_id, size_t limit,
                           store_payment_cb cb, void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = user_id > 0
                ? sql_stmt(q, SQL_PAYMENTS_OF_USER,
                           PAYMENT_SELECT "WHERE p.device_pk = ? AND p.user_id = ? "
                                          "ORDER BY p.id DESC LIMIT ?",
                           NULL, &st)
                : sql_stmt(q, SQL_PAYMENTS_OF_DEVICE,
                           PAYMENT_SELECT "WHERE p.device_pk = ? ORDER BY p.id DESC LIMIT ?", NULL,
                           &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    if (user_id > 0)
        db_bind_int(st, user_id);
    sql_bind_limit(st, limit);
    return list_rows(q, st, "list payments", cb, ctx);
}

int ops_payments_open(struct store *s, int64_t created_before_ms, size_t limit, store_payment_cb cb,
                      void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_PAYMENTS_OPEN,
                     PAYMENT_SELECT "WHERE p.state = 'created' AND p.created_ms < ? "
                                    "ORDER BY p.created_ms, p.id LIMIT ?",
                     NULL, &st);
    if (!r) {
        db_bind_int(st, created_before_ms);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "list open payments")) == 1) {
        struct payment_rec p;
        r = read_payment(q, st, &p);
        if (!r)
            r = cb(&p, ctx);
    }
    db_reset(st);
    return r;
}
