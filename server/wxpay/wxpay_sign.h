/*
 * wxpay_sign: the signatures of WeChat Pay API v3, as its rules write them.
 *
 *  - A merchant request carries
 *      Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
 *                     signature="..",timestamp="..",serial_no=".."
 *    where signature = base64(SHA256withRSA(merchant key,
 *      "METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n")) (BODY empty for a GET).
 *  - An answer or a notification from WeChat Pay carries Wechatpay-Timestamp,
 *    Wechatpay-Nonce, Wechatpay-Signature and Wechatpay-Serial: the signature
 *    is SHA256withRSA with WeChat Pay's key over "TIMESTAMP\nNONCE\nBODY\n"
 *    (BODY empty for a 204), and the serial names that key (its public key id).
 *  - wx.requestPayment's paySign = base64(SHA256withRSA(merchant key,
 *    "appId\ntimeStamp\nnonceStr\npackage\n")), package = "prepay_id=...".
 *
 * Pure apart from randomness (nonces); the caller owns every buffer. Nothing
 * here logs, and no message written into a detail buffer holds a key.
 */
#ifndef SMARTMETER_WXPAY_SIGN_H
#define SMARTMETER_WXPAY_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "wxpay_crypto.h"
#include "wxpay_fields.h"

#define WXPAY_AUTH_SCHEMA "WECHATPAY2-SHA256-RSA2048"
#define WXPAY_NONCE_LEN   32  /* the nonces we make: 32 of 0-9 A-F */
#define WXPAY_MAX_SKEW_S  300 /* a Wechatpay-Timestamp further than this from our clock is stale */
#define WXPAY_TS_MAX      20  /* digits of a timestamp in seconds, with room */

/* A fresh nonce: 32 characters of 0-9 A-F from 16 random bytes. Returns 0 or -EIO. */
int wxpay_nonce_new(char out[WXPAY_NONCE_LEN + 1]);

/*
 * Appends the message a merchant request signs to b. method is "GET" or
 * "POST", path the URL's path with its query ("/v3/pay/transactions/...?mchid=1"),
 * body the exact bytes sent (len 0 for none). Returns 0, -EINVAL when the
 * method, path or nonce could split the lines (a newline, a space) or
 * -E2BIG/-ENOMEM from the buffer.
 */
int wxpay_request_message(struct dynbuf *b, const char *method, const char *path, int64_t ts_s,
                          const char *nonce, const char *body, size_t len);

/*
 * Writes the Authorization header's value (without "Authorization: ") for
 * that request into out (reset first). mchid and serial_no must pass their
 * checks in wxpay_fields.h. Returns 0, -EINVAL, -EIO (signing failed) or
 * -E2BIG/-ENOMEM.
 */
int wxpay_authorization(const struct wxpay_privkey *k, const char *mchid, const char *serial_no,
                        const char *method, const char *path, int64_t ts_s, const char *nonce,
                        const char *body, size_t len, struct dynbuf *out);

/* The four headers a signed answer or notification carries; NULL when one is absent. */
struct wxpay_signed_headers {
    const char *timestamp; /* Wechatpay-Timestamp: seconds since the epoch */
    const char *nonce;     /* Wechatpay-Nonce */
    const char *signature; /* Wechatpay-Signature: base64 */
    const char *serial;    /* Wechatpay-Serial: the key id the signature is made with */
};

/*
 * Checks that body[0..len) was signed by WeChat Pay: the serial equals
 * key_id, the timestamp is a decimal number of seconds at most
 * WXPAY_MAX_SKEW_S from now_ms (either way), the nonce passes
 * wxpay_nonce_valid(), and the signature verifies over
 * "TIMESTAMP\nNONCE\nBODY\n" with key. Returns WXPAY_OK,
 * WXPAY_BAD_SIGNATURE (a header missing or malformed, an unknown serial, a
 * signature that does not verify), WXPAY_STALE (checked after the signature,
 * so that an attacker learns nothing from it) or WXPAY_NOMEM; detail (may be
 * NULL) says which.
 */
enum wxpay_error wxpay_check_signed(const struct wxpay_pubkey *key, const char *key_id,
                                    const struct wxpay_signed_headers *h, const char *body,
                                    size_t len, int64_t now_ms, char detail[WXPAY_ERR_LEN]);

/* What the mini program passes to wx.requestPayment, every value a string. */
struct wxpay_pay_params {
    char app_id[WXPAY_APPID_MAX + 1];
    char time_stamp[WXPAY_TS_MAX + 1]; /* seconds since the epoch, decimal */
    char nonce_str[WXPAY_NONCE_LEN + 1];
    char package[WXPAY_PREPAY_ID_MAX + 11]; /* "prepay_id=" + the prepay_id */
    char sign_type[4];                      /* "RSA" */
    char pay_sign[WXPAY_SIG_B64_MAX + 1];
};

/*
 * Makes the wx.requestPayment parameters for prepay_id with a fresh nonce,
 * signed with the merchant's key. Returns WXPAY_OK, WXPAY_INVALID (appid or
 * prepay_id malformed, now_ms before 1970) or WXPAY_NOMEM (signing failed).
 */
enum wxpay_error wxpay_pay_params_make(const struct wxpay_privkey *k, const char *appid,
                                       const char *prepay_id, int64_t now_ms,
                                       struct wxpay_pay_params *ret);

#endif
