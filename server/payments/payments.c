#include "payments.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

#define OPEN_BATCH 100 /* orders asked about per round */

/* "what: why" into detail, cut short when longer. */
static void say(char detail[PAYMENTS_DETAIL_LEN], const char *what, const char *why)
{
    if (snprintf(detail, PAYMENTS_DETAIL_LEN, "%s: %s", what, why) >= PAYMENTS_DETAIL_LEN)
        detail[PAYMENTS_DETAIL_LEN - 1] = '\0';
}

int payments_order(struct wxpay *w, struct store *s, const struct payments_order_request *req,
                   int64_t now_ms, struct payments_order *ret, char detail[PAYMENTS_DETAIL_LEN])
{
    if (req->amount_fen <= 0 || req->amount_fen > WXPAY_TOTAL_MAX_FEN) {
        say(detail, "amount", "out of range");
        return -ERANGE;
    }
    struct payments_order out;
    memset(&out, 0, sizeof(out));
    if (wxpay_out_trade_no_new(now_ms, out.out_trade_no)) {
        say(detail, "out_trade_no", "no randomness");
        return -EIO;
    }
    struct payment_rec p = {.device_pk = req->device_pk,
                            .user_id = req->user_id,
                            .amount_fen = req->amount_fen,
                            .created_ms = now_ms,
                            .expires_ms = now_ms + req->ttl_ms};
    snprintf(p.out_trade_no, sizeof(p.out_trade_no), "%s", out.out_trade_no);
    if (store_payment_create(s, &p, NULL)) {
        say(detail, "record the order", store_errmsg(s));
        return -EIO;
    }
    char description[WXPAY_DESCRIPTION_MAX + 1];
    snprintf(description, sizeof(description), "Electricity prepayment %s", req->device_id);
    struct wxpay_order_request o = {.out_trade_no = out.out_trade_no,
                                    .description = description,
                                    .total_fen = req->amount_fen,
                                    .payer_openid = req->payer_openid,
                                    .expire_ms = p.expires_ms};
    char prepay_id[WXPAY_PREPAY_ID_MAX + 1];
    struct wxpay_result res;
    enum wxpay_error e = wxpay_jsapi_order(w, &o, now_ms, prepay_id, &res);
    if (e != WXPAY_OK) {
        char why[PAYMENTS_DETAIL_LEN / 2];
        if (snprintf(why, sizeof(why), "%s (HTTP %ld %s)", wxpay_error_name(e), res.http_status,
                     res.code) >= (int)sizeof(why))
            why[sizeof(why) - 1] = '\0';
        say(detail, why, res.detail);
        /* Unreachable: it may have been placed all the same; the query thread finds out. */
        if (e == WXPAY_UNREACHABLE || e == WXPAY_OVERLOADED)
            return -EAGAIN;
        (void)store_payment_finish(s, out.out_trade_no, PAYMENT_FAILED, now_ms);
        return e == WXPAY_NOMEM ? -ENOMEM : -EPROTO;
    }
    if (store_payment_set_prepay(s, out.out_trade_no, prepay_id, now_ms)) {
        say(detail, "keep prepay_id", store_errmsg(s));
        return -EIO;
    }
    e = wxpay_pay_params(w, prepay_id, now_ms, &out.pay);
    if (e != WXPAY_OK) {
        say(detail, "sign the payment parameters", wxpay_error_name(e));
        return -EIO;
    }
    *ret = out;
    return 0;
}

/*
 * Credits t when it pays order p in full. 0 when credited now or before (or
 * when t is not a payment: nothing to do), else the wxpay error to answer.
 */
static enum wxpay_error credit(struct store *s, const struct payment_rec *p,
                               const struct wxpay_transaction *t, int64_t now_ms,
                               struct payment_credit *ret, char detail[PAYMENTS_DETAIL_LEN])
{
    char why[WXPAY_ERR_LEN];
    enum wxpay_error e = wxpay_check_paid(t, p->out_trade_no, p->amount_fen, why);
    if (e != WXPAY_OK) {
        say(detail, p->out_trade_no, why);
        return e;
    }
    int r = store_payment_credit(s, p->out_trade_no, t->transaction_id,
                                 t->success_time_ms ? t->success_time_ms : now_ms, ret);
    if (r == -EEXIST) {
        say(detail, p->out_trade_no, "already paid by another transaction");
        return WXPAY_MISMATCH;
    }
    if (r) {
        say(detail, "credit", store_errmsg(s));
        return WXPAY_NOMEM; /* answered 500: WeChat Pay sends it again */
    }
    return WXPAY_OK;
}

int payments_notify(struct wxpay *w, struct store *s, const struct wxpay_signed_headers *h,
                    const char *body, size_t len, int64_t now_ms, const char **ret_body,
                    char detail[PAYMENTS_DETAIL_LEN])
{
    struct wxpay_transaction t;
    char why[WXPAY_ERR_LEN] = "";
    detail[0] = '\0';
    enum wxpay_error e = wxpay_notify(w, h, body, len, now_ms, &t, why);
    if (e != WXPAY_OK) {
        say(detail, wxpay_error_name(e), why);
        return wxpay_notify_answer(e, ret_body);
    }
    struct payment_rec p;
    int r = store_payment_get(s, t.out_trade_no, &p);
    if (r == -ENOENT) {
        say(detail, t.out_trade_no, "no such order");
        return wxpay_notify_answer(WXPAY_NOT_FOUND, ret_body);
    }
    if (r) {
        say(detail, "find the order", store_errmsg(s));
        return wxpay_notify_answer(WXPAY_NOMEM, ret_body);
    }
    if (t.trade_state != WXPAY_STATE_SUCCESS) {
        /* Only payments are notified; anything else has nothing for us to do. */
        say(detail, p.out_trade_no, wxpay_trade_state_name(t.trade_state));
        return wxpay_notify_answer(WXPAY_OK, ret_body);
    }
    struct payment_credit c;
    e = credit(s, &p, &t, now_ms, &c, detail);
    if (e == WXPAY_OK && !c.already)
        snprintf(detail, PAYMENTS_DETAIL_LEN, "%s credited, ledger %lld", p.out_trade_no,
                 (long long)c.ledger_id);
    return wxpay_notify_answer(e, ret_body);
}

/* --- the query thread --------------------------------------------------------------------- */

struct open_orders {
    struct payment_rec p[OPEN_BATCH];
    size_t n;
};

static int collect(const struct payment_rec *p, void *ctx)
{
    struct open_orders *o = ctx;
    if (o->n < OPEN_BATCH)
        o->p[o->n++] = *p;
    return 0;
}

/* 1 when the order changed state, 0 when not (yet), or a negative errno from the store. */
static int settle(struct wxpay *w, struct store *s, const struct payment_rec *p, int64_t now_ms)
{
    struct wxpay_transaction t;
    struct wxpay_result res;
    char detail[PAYMENTS_DETAIL_LEN];
    enum wxpay_error e = wxpay_query(w, p->out_trade_no, now_ms, &t, &res);
    if (e == WXPAY_NOT_FOUND) {
        /* WeChat Pay never took it (its placing failed on the way). */
        int r = store_payment_finish(s, p->out_trade_no, PAYMENT_FAILED, now_ms);
        log_info("payments: order %s unknown to WeChat Pay: failed", p->out_trade_no);
        return r == -ENOENT ? 0 : r ? r : 1;
    }
    if (e != WXPAY_OK) {
        log_warn("payments: querying order %s: %s (HTTP %ld) %s", p->out_trade_no,
                 wxpay_error_name(e), res.http_status, res.detail);
        return 0;
    }
    switch (t.trade_state) {
    case WXPAY_STATE_SUCCESS:
    case WXPAY_STATE_REFUND: {
        struct payment_credit c;
        e = credit(s, p, &t, now_ms, &c, detail);
        if (e != WXPAY_OK) {
            log_warn("payments: order %s not credited: %s", p->out_trade_no, detail);
            return e == WXPAY_NOMEM ? -EIO : 0;
        }
        if (!c.already)
            log_info("payments: order %s paid without a notification: credited, ledger %lld",
                     p->out_trade_no, (long long)c.ledger_id);
        return c.already ? 0 : 1;
    }
    case WXPAY_STATE_CLOSED:
    case WXPAY_STATE_REVOKED:
    case WXPAY_STATE_PAYERROR: {
        int r = store_payment_finish(
            s, p->out_trade_no,
            t.trade_state == WXPAY_STATE_PAYERROR ? PAYMENT_FAILED : PAYMENT_CLOSED, now_ms);
        return r == -ENOENT ? 0 : r ? r : 1;
    }
    default:
        break;
    }
    if (now_ms < p->expires_ms)
        return 0; /* the payer may still pay */
    e = wxpay_close(w, p->out_trade_no, now_ms, &res);
    if (e == WXPAY_OK || e == WXPAY_NOT_FOUND) {
        int r = store_payment_finish(s, p->out_trade_no, PAYMENT_CLOSED, now_ms);
        log_info("payments: order %s expired unpaid: closed", p->out_trade_no);
        return r == -ENOENT ? 0 : r ? r : 1;
    }
    /* ORDERPAID: paid meanwhile; the next round's query credits it. */
    log_warn("payments: closing order %s: %s %s", p->out_trade_no, wxpay_error_name(e), res.code);
    return 0;
}

int payments_query_round(struct wxpay *w, struct store *s, int64_t now_ms, int64_t query_after_ms)
{
    struct open_orders *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    int changed = 0;
    int r = store_payments_open(s, now_ms - query_after_ms, OPEN_BATCH, collect, o);
    for (size_t i = 0; !r && i < o->n; i++) {
        int c = settle(w, s, &o->p[i], now_ms);
        if (c < 0)
            r = c;
        else
            changed += c;
    }
    free(o);
    return r ? r : changed;
}

struct payments {
    struct store_source db;
    struct wxpay *wxpay;
    int64_t query_after_ms, every_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct store *st;
};

/* Sleeps up to ms on the monotonic clock; false once stop is asked for. */
static bool nap(struct payments *p, int64_t ms)
{
    struct timespec until = time_mono_deadline(ms);
    pthread_mutex_lock(&p->lock);
    while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
        ;
    bool go_on = !p->stop;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

static void *payments_main(void *arg)
{
    struct payments *p = arg;
    while (nap(p, p->every_ms)) {
        if (!p->st) {
            char err[STORE_ERR_LEN];
            if (store_source_open(&p->db, &p->st, err)) {
                log_warn("payments: cannot open the database: %s", err);
                continue;
            }
        }
        int r = payments_query_round(p->wxpay, p->st, time_now_ms(), p->query_after_ms);
        if (r < 0) {
            log_warn("payments: querying unfinished orders failed: %s", store_errmsg(p->st));
            if (r == -ENOTCONN) {
                store_close(p->st);
                p->st = NULL;
            }
        }
    }
    return NULL;
}

int payments_start(const struct payments_options *o, struct payments **ret, char *err,
                   size_t errlen)
{
    if (!o->wxpay || o->query_after_ms < 0 || o->every_ms < 0) {
        snprintf(err, errlen, "payments: bad options");
        return -EINVAL;
    }
    struct payments *p = calloc(1, sizeof(*p));
    if (!p || store_source_copy(&p->db, &o->db)) {
        free(p);
        snprintf(err, errlen, "payments: out of memory");
        return -ENOMEM;
    }
    p->wxpay = o->wxpay;
    p->query_after_ms = o->query_after_ms ? o->query_after_ms : 5 * 60 * 1000;
    p->every_ms = o->every_ms ? o->every_ms : p->query_after_ms / 10;
    if (p->every_ms < 1000)
        p->every_ms = 1000;
    time_cond_init_monotonic(&p->wake);
    pthread_mutex_init(&p->lock, NULL);
    int rc = pthread_create(&p->thread, NULL, payments_main, p);
    if (rc) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        store_source_clear(&p->db);
        free(p);
        snprintf(err, errlen, "payments: cannot start the query thread: %s", strerror(rc));
        return -rc;
    }
    *ret = p;
    return 0;
}

void payments_stop(struct payments *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    store_close(p->st);
    store_source_clear(&p->db);
    free(p);
}
