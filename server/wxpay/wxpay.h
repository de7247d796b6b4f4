/*
 * wxpay: the server's client of WeChat Pay API v3 for JSAPI payments (a
 * mini program's wx.requestPayment), and the check of its notifications.
 *
 * What the rest of the server sees of WeChat Pay: it places an order
 * (POST /v3/pay/transactions/jsapi) and turns the prepay_id into
 * wx.requestPayment's parameters, queries an order
 * (GET /v3/pay/transactions/out-trade-no/{no}?mchid=), closes one
 * (POST .../out-trade-no/{no}/close), and turns a notification's headers and
 * body into a transaction it can trust. The files below it: wxpay_sign.h
 * (the signatures), wxpay_json.h (the bodies), wxpay_crypto.h (OpenSSL),
 * wxpay_http.h (libcurl), wxpay_fields.h (the rules of each value).
 *
 * Trust. Every answer and every notification is believed only after
 * Wechatpay-Signature verifies with the configured WeChat Pay public key
 * (Wechatpay-Serial must name its id) and Wechatpay-Timestamp is within 5
 * minutes of now_ms; only then is a body parsed or a resource decrypted.
 * A notification must then decrypt with the APIv3 key (AES-256-GCM: the tag
 * authenticates it too), and name our appid and mchid.
 *
 * Secrets. The merchant private key and the APIv3 key are read from files
 * that only their owner may read (common/fileutil.h), kept in memory only
 * (the APIv3 key wiped by wxpay_free()), and never written into an error or
 * detail message; nor is a signature, a nonce or a payer's openid. This
 * module never logs: the caller logs once, with wxpay_error_name() and the
 * detail.
 *
 * Threads. A struct wxpay is read-only after wxpay_new(); every call below is
 * safe from many threads at once. Calls to WeChat Pay block for at most about
 * WXPAY_TIMEOUT_MS; past WXPAY_MAX_INFLIGHT at once they fail at once with
 * WXPAY_OVERLOADED.
 *
 * Time. now_ms (ms since the epoch, UTC) is an argument, so tests choose the
 * clock; the server passes time_now_ms().
 */
#ifndef SMARTMETER_WXPAY_H
#define SMARTMETER_WXPAY_H

#include <stddef.h>
#include <stdint.h>

#include "wxpay_fields.h"
#include "wxpay_json.h"
#include "wxpay_sign.h"

#define WXPAY_DEFAULT_BASE_URL "https://api.mch.weixin.qq.com"
#define WXPAY_MAX_INFLIGHT     16
#define WXPAY_KEY_FILE_MAX     16384 /* a PEM key file */

/* The configuration (SPEC.md, "Prepaid": the wechatpay_* options). Copied by wxpay_new(). */
struct wxpay_options {
    const char *appid;            /* wechatpay_appid: the mini program's appid */
    const char *mchid;            /* wechatpay_mchid */
    const char *serial_no;        /* wechatpay_serial_no: the merchant certificate's serial */
    const char *private_key_file; /* wechatpay_private_key_file: PEM, owner-only */
    const char *apiv3_key_file;   /* wechatpay_apiv3_key_file: 32 bytes, owner-only */
    const char *platform_public_key_file; /* wechatpay_platform_public_key_file: PEM */
    const char *platform_public_key_id;   /* wechatpay_platform_public_key_id: "PUB_KEY_ID_..." */
    const char *notify_url; /* wechatpay_notify_url: https://.../api/payments/wechat/notify */
    const char *base_url;   /* wechatpay_base_url; NULL: WXPAY_DEFAULT_BASE_URL */
};

struct wxpay;

/*
 * Checks the options, reads the three files and makes a client. Call before
 * starting threads (it initialises libcurl). Returns 0, or a negative errno
 * with one line in err naming the option or file and what is wrong with it:
 * -EINVAL (a malformed value or key), -EPERM (a secret file others may read),
 * -ENOENT and the like (a file that cannot be read), -ENOMEM.
 */
int wxpay_new(const struct wxpay_options *o, struct wxpay **ret, char err[WXPAY_ERR_LEN]);
/* Frees the client and wipes its keys. NULL is fine. */
void wxpay_free(struct wxpay *w);

const char *wxpay_appid(const struct wxpay *w);
const char *wxpay_mchid(const struct wxpay *w);

/*
 * A fresh out_trade_no: "SM", the UTC date of now_ms (yyyymmdd) and 20
 * random characters of 0-9 A-Z (100 bits): 30 characters, unique without
 * asking anyone. Returns 0 or -EIO.
 */
int wxpay_out_trade_no_new(int64_t now_ms, char out[WXPAY_OUT_TRADE_NO_MAX + 1]);

/* What WeChat Pay answered, for the log (never holds a secret). */
struct wxpay_result {
    long http_status;              /* 0 when no answer came */
    char code[WXPAY_CODE_MAX + 1]; /* WeChat Pay's error code, "" when none */
    char request_id[65];           /* Request-ID, "" when none or malformed */
    char detail[WXPAY_ERR_LEN];    /* what went wrong, "" on success */
};

/* One JSAPI order: amounts in fen. */
struct wxpay_order_request {
    const char *out_trade_no; /* from wxpay_out_trade_no_new() */
    const char *description;  /* shown to the payer: 1..127 characters */
    int64_t total_fen;        /* 1..WXPAY_TOTAL_MAX_FEN */
    const char *payer_openid; /* the user's openid for our appid */
    int64_t expire_ms;        /* when the order expires (time_expire), or 0 for WeChat's default */
};

/*
 * Places a JSAPI order and returns its prepay_id (valid two hours at WeChat
 * Pay). Returns WXPAY_OK, WXPAY_INVALID (a field of the request; detail
 * names it), WXPAY_UNREACHABLE, WXPAY_OVERLOADED, WXPAY_BAD_SIGNATURE,
 * WXPAY_STALE, WXPAY_BAD_ANSWER, WXPAY_REFUSED (res->code: e.g.
 * INVALID_REQUEST for an out_trade_no used with other parameters) or
 * WXPAY_NOMEM.
 */
enum wxpay_error wxpay_jsapi_order(struct wxpay *w, const struct wxpay_order_request *req,
                                   int64_t now_ms, char ret_prepay_id[WXPAY_PREPAY_ID_MAX + 1],
                                   struct wxpay_result *res);

/* wx.requestPayment's parameters for a prepay_id (wxpay_sign.h); signed with our key. */
enum wxpay_error wxpay_pay_params(const struct wxpay *w, const char *prepay_id, int64_t now_ms,
                                  struct wxpay_pay_params *ret);

/*
 * Asks WeChat Pay for the state of an order. Returns WXPAY_OK and the
 * transaction (whose appid, mchid and out_trade_no are checked to be ours:
 * else WXPAY_MISMATCH), WXPAY_NOT_FOUND (ORDER_NOT_EXIST), or the errors of
 * wxpay_jsapi_order().
 */
enum wxpay_error wxpay_query(struct wxpay *w, const char *out_trade_no, int64_t now_ms,
                             struct wxpay_transaction *ret, struct wxpay_result *res);

/*
 * Closes an unpaid order (WeChat Pay answers 204). Returns WXPAY_OK,
 * WXPAY_REFUSED (res->code ORDERPAID when it was paid meanwhile: query it),
 * WXPAY_NOT_FOUND, or the errors of wxpay_jsapi_order().
 */
enum wxpay_error wxpay_close(struct wxpay *w, const char *out_trade_no, int64_t now_ms,
                             struct wxpay_result *res);

/*
 * Checks and opens a payment notification (POST to wechatpay_notify_url):
 * h the four Wechatpay-* headers as received (NULL for an absent one), body
 * the raw bytes. In this order: the signature and the timestamp
 * (WXPAY_BAD_SIGNATURE, WXPAY_STALE), the envelope (WXPAY_BAD_ANSWER), the
 * decryption (WXPAY_UNDECRYPTABLE), the transaction (WXPAY_BAD_ANSWER), then
 * ours: appid and mchid (WXPAY_MISMATCH). Returns WXPAY_OK and the
 * transaction, whatever its trade_state; the caller then matches it with its
 * order (wxpay_check_paid()) and credits it exactly once per out_trade_no.
 * detail (may be NULL) says what failed.
 */
enum wxpay_error wxpay_notify(const struct wxpay *w, const struct wxpay_signed_headers *h,
                              const char *body, size_t len, int64_t now_ms,
                              struct wxpay_transaction *ret, char detail[WXPAY_ERR_LEN]);

/*
 * Whether a transaction (from wxpay_notify() or wxpay_query()) pays our
 * order out_trade_no of total_fen in full: trade_state SUCCESS, the same
 * out_trade_no and amount.total equal to total_fen. Returns WXPAY_OK,
 * WXPAY_MISMATCH (another order or amount: detail says which) or
 * WXPAY_INVALID (not paid: trade_state is not SUCCESS).
 */
enum wxpay_error wxpay_check_paid(const struct wxpay_transaction *t, const char *out_trade_no,
                                  int64_t total_fen, char detail[WXPAY_ERR_LEN]);

/*
 * How the notify endpoint answers WeChat Pay: 204 with no body on WXPAY_OK;
 * otherwise 4xx/5xx with {"code":"FAIL","message":"..."} in *ret_body, which
 * makes WeChat Pay send the notification again later (401 for a signature,
 * 400 for a malformed or foreign notification, 500 for our own failure).
 */
int wxpay_notify_answer(enum wxpay_error e, const char **ret_body);

#endif
