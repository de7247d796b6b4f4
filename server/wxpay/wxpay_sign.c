/* wxpay_sign: request signatures, answer checks, payment parameters (see wxpay_sign.h). */

#include "wxpay_sign.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SIGNED_BODY_MAX (1 << 20) /* a message we sign or check; answers are capped far below */

__attribute__((format(printf, 2, 3))) static void set_detail(char *detail, const char *fmt, ...)
{
    if (!detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, WXPAY_ERR_LEN, fmt, ap);
    va_end(ap);
}

int wxpay_nonce_new(char out[WXPAY_NONCE_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char raw[WXPAY_NONCE_LEN / 2];
    if (wxpay_random(raw, sizeof(raw)))
        return -EIO;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xF];
    }
    out[WXPAY_NONCE_LEN] = '\0';
    return 0;
}

/* Printable ASCII without space: nothing that could end a line of the signed message. */
static int one_line(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] <= ' ' || s[n] > '~' || n >= max)
            return -EINVAL;
    return n > 0 ? 0 : -EINVAL;
}

int wxpay_request_message(struct dynbuf *b, const char *method, const char *path, int64_t ts_s,
                          const char *nonce, const char *body, size_t len)
{
    if (one_line(method, 8) || one_line(path, 2048) || path[0] != '/' ||
        !wxpay_nonce_valid(nonce, strlen(nonce)) || ts_s < 0 || len > SIGNED_BODY_MAX)
        return -EINVAL;
    int r = dynbuf_addf(b, "%s\n%s\n%" PRId64 "\n%s\n", method, path, ts_s, nonce);
    if (!r && len)
        r = dynbuf_add(b, body, len);
    if (!r)
        r = dynbuf_addc(b, '\n');
    return r;
}

int wxpay_authorization(const struct wxpay_privkey *k, const char *mchid, const char *serial_no,
                        const char *method, const char *path, int64_t ts_s, const char *nonce,
                        const char *body, size_t len, struct dynbuf *out)
{
    if (!wxpay_mchid_valid(mchid, strlen(mchid)) ||
        !wxpay_serial_valid(serial_no, strlen(serial_no)))
        return -EINVAL;
    struct dynbuf msg;
    dynbuf_init(&msg, SIGNED_BODY_MAX + 4096);
    char sig[WXPAY_SIG_B64_MAX + 1];
    int r = wxpay_request_message(&msg, method, path, ts_s, nonce, body, len);
    if (!r)
        r = wxpay_rsa_sign(k, msg.buf, msg.len, sig, sizeof(sig)) ? -EIO : 0;
    dynbuf_free(&msg);
    if (r)
        return r;
    dynbuf_reset(out);
    return dynbuf_addf(out,
                       WXPAY_AUTH_SCHEMA " mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\","
                                         "timestamp=\"%" PRId64 "\",serial_no=\"%s\"",
                       mchid, nonce, sig, ts_s, serial_no);
}

/* A decimal number of seconds, 1..12 digits without sign or leading zero. */
static int parse_seconds(const char *s, int64_t *ret)
{
    size_t n = strlen(s);
    if (n < 1 || n > 12 || (s[0] == '0' && n > 1))
        return -EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return 0;
}

enum wxpay_error wxpay_check_signed(const struct wxpay_pubkey *key, const char *key_id,
                                    const struct wxpay_signed_headers *h, const char *body,
                                    size_t len, int64_t now_ms, char detail[WXPAY_ERR_LEN])
{
    if (detail)
        detail[0] = '\0';
    if (!h->timestamp || !h->nonce || !h->signature || !h->serial) {
        set_detail(detail, "%s", "no Wechatpay-Timestamp, -Nonce, -Signature or -Serial header");
        return WXPAY_BAD_SIGNATURE;
    }
    if (strcmp(h->serial, key_id) != 0) {
        /* The serial is printed only when it is harmless to print. */
        set_detail(detail, "signed with another key (Wechatpay-Serial %s)",
                   wxpay_serial_valid(h->serial, strlen(h->serial)) ? h->serial : "malformed");
        return WXPAY_BAD_SIGNATURE;
    }
    int64_t ts_s;
    if (parse_seconds(h->timestamp, &ts_s)) {
        set_detail(detail, "%s", "Wechatpay-Timestamp is not a number of seconds");
        return WXPAY_BAD_SIGNATURE;
    }
    if (!wxpay_nonce_valid(h->nonce, strlen(h->nonce))) {
        set_detail(detail, "%s", "Wechatpay-Nonce is malformed");
        return WXPAY_BAD_SIGNATURE;
    }
    if (len > SIGNED_BODY_MAX) {
        set_detail(detail, "%s", "body too large");
        return WXPAY_BAD_SIGNATURE;
    }
    struct dynbuf msg;
    dynbuf_init(&msg, SIGNED_BODY_MAX + 256);
    int r = dynbuf_addf(&msg, "%s\n%s\n", h->timestamp, h->nonce);
    if (!r && len)
        r = dynbuf_add(&msg, body, len);
    if (!r)
        r = dynbuf_addc(&msg, '\n');
    if (r) {
        dynbuf_free(&msg);
        return WXPAY_NOMEM;
    }
    r = wxpay_rsa_verify(key, msg.buf, msg.len, h->signature, strlen(h->signature));
    dynbuf_free(&msg);
    if (r) {
        set_detail(detail, "%s",
                   r == -EBADMSG ? "Wechatpay-Signature is not base64 of a signature"
                                 : "Wechatpay-Signature does not verify with WeChat Pay's key");
        return WXPAY_BAD_SIGNATURE;
    }
    int64_t now_s = now_ms / 1000;
    if (ts_s < now_s - WXPAY_MAX_SKEW_S || ts_s > now_s + WXPAY_MAX_SKEW_S) {
        set_detail(detail, "Wechatpay-Timestamp %s is more than 5 minutes from our clock",
                   h->timestamp);
        return WXPAY_STALE;
    }
    return WXPAY_OK;
}

enum wxpay_error wxpay_pay_params_make(const struct wxpay_privkey *k, const char *appid,
                                       const char *prepay_id, int64_t now_ms,
                                       struct wxpay_pay_params *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!wxpay_appid_valid(appid, strlen(appid)) ||
        !wxpay_prepay_id_valid(prepay_id, strlen(prepay_id)) || now_ms < 0)
        return WXPAY_INVALID;
    snprintf(ret->app_id, sizeof(ret->app_id), "%s", appid);
    snprintf(ret->time_stamp, sizeof(ret->time_stamp), "%" PRId64, now_ms / 1000);
    snprintf(ret->package, sizeof(ret->package), "prepay_id=%s", prepay_id);
    snprintf(ret->sign_type, sizeof(ret->sign_type), "RSA");
    if (wxpay_nonce_new(ret->nonce_str))
        return WXPAY_NOMEM;
    char msg[WXPAY_APPID_MAX + WXPAY_TS_MAX + WXPAY_NONCE_LEN + WXPAY_PREPAY_ID_MAX + 32];
    int n = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s\n", ret->app_id, ret->time_stamp,
                     ret->nonce_str, ret->package);
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        wxpay_rsa_sign(k, msg, (size_t)n, ret->pay_sign, sizeof(ret->pay_sign))) {
        memset(ret, 0, sizeof(*ret));
        return WXPAY_NOMEM;
    }
    return WXPAY_OK;
}
