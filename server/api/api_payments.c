/*
 * Tenants' WeChat Pay payments (SPEC "Prepaid"): POST /api/devices/:id/payments
 * places an order and answers wx.requestPayment's parameters; GET
 * /api/devices/:id/payments lists orders and .../payments/:out_trade_no tells
 * how one went; POST
 * /api/payments/wechat/notify takes WeChat Pay's notification (no login: the
 * notification's own signature is the check).
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "api_query.h"
#include "log.h"
#include "money.h"
#include "payments.h"
#include "recharge.h"
#include "timeutil.h"

/* The caller's openid under the payments appid, into openid. 0, or -1 after answering. */
static int payer_openid(struct api_call *c, struct store *st, char openid[STORE_OPENID_MAX + 1])
{
    struct wechat_binding_rec b;
    int r = api_store_result(c, store_wechat_by_user(st, c->user.id, &b));
    if (r == -ENOENT)
        return api_error(c, 409,
                         "link this account to WeChat first (log in from the mini "
                         "program), then pay");
    if (r)
        return api_store_error(c, r);
    if (strcmp(b.appid, wxpay_appid(c->app->wxpay)) != 0 ||
        !wxpay_openid_valid(b.openid, strlen(b.openid)))
        return api_error(c, 409,
                         "this account is linked to WeChat under another app; log in "
                         "from this mini program again");
    memcpy(openid, b.openid, sizeof(b.openid));
    return 0;
}

void api_payment_create(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!c->app->wxpay) {
        api_error(c, 503, "online payment is not configured on this server");
        return;
    }
    struct store *st = c->store;
    /* Only a user bound to the device pays for it; staff who are not recharge at the counter. */
    int r = api_store_result(c, store_binding_check(st, c->user.id, dev.id));
    if (r == -ENOENT) {
        api_error(c, 403, "only a user bound to this device can pay for it");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    int64_t fen = 0;
    switch (recharge_amount_from_json(json_object_get(body, "amount"), &fen)) {
    case 0:
        r = 0;
        break;
    case -ENOENT:
        r = api_error(c, 400, "amount is missing");
        break;
    case -EMEDIUMTYPE:
    case -EINVAL:
        r = api_error(c, 400, "amount must be yuan with at most two decimals, like \"50.00\"");
        break;
    default:
        r = api_error(c, 400, "amount must be more than 0 and at most 10000000.00");
        break;
    }
    json_decref(body);
    if (r)
        return;
    char openid[STORE_OPENID_MAX + 1];
    if (payer_openid(c, st, openid))
        return;

    struct payments_order_request req = {.device_pk = dev.id,
                                         .device_id = dev.device_id,
                                         .user_id = c->user.id,
                                         .payer_openid = openid,
                                         .amount_fen = fen,
                                         .ttl_ms = c->app->opt->wechatpay_order_ttl_s * 1000};
    struct payments_order o;
    char detail[PAYMENTS_DETAIL_LEN];
    int64_t now = time_now_ms();
    r = payments_order(c->app->wxpay, st, &req, now, &o, detail);
    if (r) {
        log_warn("api: payment for %s by %s: %s", dev.device_id, c->user.username, detail);
        if (r == -EAGAIN) {
            http_response_header(c->res, "Retry-After", "10");
            api_error(c, 503, "WeChat Pay cannot be reached; try again shortly");
        } else if (r == -EPROTO) {
            api_error(c, 502, "WeChat Pay refused the order; try again later");
        } else if (r == -ERANGE) {
            api_error(c, 400, "amount is more than WeChat Pay takes at once");
        } else {
            api_store_error(c, -EIO);
        }
        return;
    }
    char amount[MONEY_TEXT_LEN];
    money_format(fen, amount);
    log_info("api: payment %s of %s for %s by %s placed", o.out_trade_no, amount, dev.device_id,
             c->user.username);
    struct jsonw w;
    api_success(c, 201, &w);
    jsonw_kstr(&w, "out_trade_no", o.out_trade_no);
    jsonw_kmoney(&w, "amount", fen);
    jsonw_ktime(&w, "expires_at", now + req.ttl_ms);
    jsonw_key(&w, "pay_params");
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "appId", o.pay.app_id);
    jsonw_kstr(&w, "timeStamp", o.pay.time_stamp);
    jsonw_kstr(&w, "nonceStr", o.pay.nonce_str);
    jsonw_kstr(&w, "package", o.pay.package);
    jsonw_kstr(&w, "signType", o.pay.sign_type);
    jsonw_kstr(&w, "paySign", o.pay.pay_sign);
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

static void write_payment(struct jsonw *w, const struct payment_rec *p)
{
    jsonw_kstr(w, "out_trade_no", p->out_trade_no);
    jsonw_kstr(w, "device_id", p->device_id);
    jsonw_kstr(w, "state", payment_state_name(p->state));
    jsonw_kmoney(w, "amount", p->amount_fen);
    jsonw_ktime(w, "created_at", p->created_ms);
    jsonw_ktime(w, "expires_at", p->expires_ms);
    jsonw_key(w, "paid_at");
    if (p->paid_ms)
        jsonw_time(w, p->paid_ms);
    else
        jsonw_null(w);
}

static int write_listed(const struct payment_rec *p, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    write_payment(w, p);
    jsonw_obj_end(w);
    return 0;
}

static int fill_payments(struct api_call *c, const struct device_rec *dev, size_t limit,
                         struct jsonw *w)
{
    /* A tenant sees their own orders; operators and admins every order of the device. */
    int64_t only = api_is_staff(c) ? 0 : c->user.id;
    return store_payments_of_device(c->store, dev->id, only, limit, write_listed, w);
}

void api_payments_list(struct api_call *c)
{
    api_device_list_answer(c, "payments", 100, fill_payments);
}

void api_payment_get(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    struct payment_rec p;
    int r = api_store_result(c, store_payment_get(c->store, c->params[1], &p));
    /* Another device's order is as unknown as a missing one; a tenant sees only their own. */
    if (r == -ENOENT ||
        (!r && (p.device_pk != dev.id || (!api_is_staff(c) && p.user_id != c->user.id)))) {
        api_error(c, 404, "payment not found");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    write_payment(&w, &p);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_payment_notify(struct api_call *c)
{
    if (!c->app->wxpay) {
        api_error(c, 404, "online payment is not configured on this server");
        return;
    }
    struct store *st = api_store(c);
    if (!st)
        return;
    struct wxpay_signed_headers h = {.timestamp = http_header(c->req, "Wechatpay-Timestamp"),
                                     .nonce = http_header(c->req, "Wechatpay-Nonce"),
                                     .signature = http_header(c->req, "Wechatpay-Signature"),
                                     .serial = http_header(c->req, "Wechatpay-Serial")};
    const char *answer = "";
    char detail[PAYMENTS_DETAIL_LEN];
    int status = payments_notify(c->app->wxpay, st, &h, c->req->body, c->req->body_len,
                                 time_now_ms(), &answer, detail);
    if (status >= 500)
        log_error("api: payment notification from %s not taken: %s", api_client_address(c), detail);
    else if (status >= 400)
        log_warn("api: payment notification from %s refused: %s", api_client_address(c), detail);
    else if (detail[0])
        log_info("api: payment notification: %s", detail);
    dynbuf_reset(&c->res->body);
    c->res->status = status;
    if (answer[0] && dynbuf_add(&c->res->body, answer, strlen(answer)))
        c->res->status = 500;
}
