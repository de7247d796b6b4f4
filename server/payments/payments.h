/*
 * payments: tenants' WeChat Pay payments, from the order to the credit.
 *
 * An order is recorded (store_payment_create(), state created) before WeChat
 * Pay hears of it, so no payment can arrive for an order we do not know. A
 * payment is credited by whichever proves it first: the notification
 * (payments_notify()) or the query thread, which asks WeChat Pay about orders
 * still created some minutes after they were placed (a notification can be
 * lost) and closes those past their expiry. Both go through
 * store_payment_credit(), which credits one out_trade_no once.
 *
 * Threads: payments_order() and payments_notify() are called from HTTP
 * threads with their own store; the query thread owns its own connection.
 * Nothing here logs a secret, an openid or a signature.
 */
#ifndef SMARTMETER_PAYMENTS_H
#define SMARTMETER_PAYMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wxpay.h"

#define PAYMENTS_DETAIL_LEN 512

struct payments_order_request {
    int64_t device_pk;
    const char *device_id;
    int64_t user_id;
    const char *payer_openid; /* the user's openid under the payments appid */
    int64_t amount_fen;       /* 1..WXPAY_TOTAL_MAX_FEN */
    int64_t ttl_ms;           /* the order expires this long after now_ms */
};

struct payments_order {
    char out_trade_no[WXPAY_OUT_TRADE_NO_MAX + 1];
    struct wxpay_pay_params pay;
};

/*
 * Records an order, places it with WeChat Pay and signs wx.requestPayment's
 * parameters. Returns 0; -ERANGE for an amount WeChat Pay cannot take;
 * -EAGAIN when WeChat Pay cannot be reached or is busy (the order stays
 * created: the query thread finds out whether it was placed); -EPROTO when
 * WeChat Pay refused it or answered what the API does not say (the order is
 * failed); -EIO for the database; detail says what went wrong.
 */
int payments_order(struct wxpay *w, struct store *s, const struct payments_order_request *req,
                   int64_t now_ms, struct payments_order *ret, char detail[PAYMENTS_DETAIL_LEN]);

/*
 * Handles one notification (the four Wechatpay-* headers and the raw body):
 * checks it (wxpay_notify()), matches it with our order (its amount) and
 * credits it once. Returns the HTTP status to answer with (204 on success,
 * also for a repeat) and the body in *ret_body (wxpay_notify_answer()).
 */
int payments_notify(struct wxpay *w, struct store *s, const struct wxpay_signed_headers *h,
                    const char *body, size_t len, int64_t now_ms, const char **ret_body,
                    char detail[PAYMENTS_DETAIL_LEN]);

struct payments_options {
    struct store_source db; /* the thread's connection; copied */
    struct wxpay *wxpay;    /* borrowed; outlives payments_stop() */
    int64_t query_after_ms; /* ask about orders still created this long after; 0: 5 minutes */
    int64_t every_ms;       /* between rounds; 0: a tenth of query_after_ms, at least 1 s */
};

struct payments;

/* Starts the query thread. Returns 0, -EINVAL, -ENOMEM or pthread_create's error (negative). */
int payments_start(const struct payments_options *o, struct payments **ret, char *err,
                   size_t errlen);
/* Stops the thread (waiting for the call in progress) and frees. NULL is fine. */
void payments_stop(struct payments *p);

/*
 * One round of the query thread, for tests: every order still created with
 * created_ms < now_ms - query_after_ms is queried and credited, closed or
 * failed. Returns the number of orders that changed state, or a negative
 * errno when the database failed.
 */
int payments_query_round(struct wxpay *w, struct store *s, int64_t now_ms, int64_t query_after_ms);

#endif
