/* wxpay: the WeChat Pay client and the notification check (see wxpay.h). */

#include "wxpay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "timeutil.h"
#include "url.h"
#include "wxpay_crypto.h"
#include "wxpay_http.h"

#define URL_MAX 1024

struct wxpay {
    char appid[WXPAY_APPID_MAX + 1];
    char mchid[WXPAY_MCHID_MAX + 1];
    char serial_no[WXPAY_SERIAL_MAX + 1];
    char platform_key_id[WXPAY_SERIAL_MAX + 1];
    char notify_url[WXPAY_NOTIFY_URL_MAX + 1];
    char base_url[512];
    struct wxpay_privkey *merchant_key;
    struct wxpay_pubkey *platform_key;
    uint8_t apiv3_key[WXPAY_AEAD_KEY_LEN];
    atomic_int inflight;
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, WXPAY_ERR_LEN, fmt, ap);
    va_end(ap);
    return r;
}

static bool loopback_host(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* https://HOST[:PORT][/PATH], or http:// to a loopback host (a stand-in in tests). */
static int check_base_url(const char *base, char *err)
{
    struct url u;
    char uerr[160];
    if (url_parse(base, &u, uerr, sizeof(uerr)))
        return fail(err, -EINVAL, "wechatpay_base_url: %s", uerr);
    bool https = strcmp(u.scheme, "https") == 0;
    bool local_http = strcmp(u.scheme, "http") == 0 && loopback_host(u.host);
    bool plain = !u.user[0] && !u.has_password && !u.query[0] && u.host[0] && !strchr(base, '?');
    url_clear(&u);
    if (!https && !local_http)
        return fail(err, -EINVAL, "%s",
                    "wechatpay_base_url must be https://HOST (http:// only to a loopback address)");
    if (!plain)
        return fail(err, -EINVAL, "%s",
                    "wechatpay_base_url must be a plain https://HOST[:PORT][/PATH]");
    return 0;
}

/* The APIv3 key: exactly 32 bytes, printable ASCII; one trailing newline is forgiven. */
static int load_apiv3_key(struct wxpay *w, const char *path, char *err)
{
    char *data = NULL;
    size_t len = 0;
    char ferr[WXPAY_ERR_LEN];
    int r = file_read_secret("WeChat Pay APIv3 key file (wechatpay_apiv3_key_file)", path, 64,
                             &data, &len, ferr, sizeof(ferr));
    if (r)
        return fail(err, r, "%s", ferr);
    if (len > 0 && data[len - 1] == '\n')
        len--;
    if (len > 0 && data[len - 1] == '\r')
        len--;
    bool ok = len == WXPAY_AEAD_KEY_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = data[i] > ' ' && data[i] <= '~';
    if (ok)
        memcpy(w->apiv3_key, data, WXPAY_AEAD_KEY_LEN);
    explicit_bzero(data, len);
    free(data);
    if (!ok)
        return fail(err, -EINVAL,
                    "the WeChat Pay APIv3 key file %s must hold the 32-character APIv3 key", path);
    return 0;
}

static int load_keys(struct wxpay *w, const struct wxpay_options *o, char *err)
{
    char *data = NULL;
    size_t len = 0;
    char ferr[WXPAY_ERR_LEN], cerr[WXPAY_CRYPTO_ERR_LEN];
    int r =
        file_read_secret("WeChat Pay merchant private key file (wechatpay_private_key_file)",
                         o->private_key_file, WXPAY_KEY_FILE_MAX, &data, &len, ferr, sizeof(ferr));
    if (r)
        return fail(err, r, "%s", ferr);
    r = wxpay_privkey_from_pem(data, len, &w->merchant_key, cerr);
    explicit_bzero(data, len);
    free(data);
    data = NULL;
    if (r)
        return fail(err, r, "wechatpay_private_key_file: %s", cerr);

    r = file_read_all(o->platform_public_key_file, WXPAY_KEY_FILE_MAX, &data, &len);
    if (r) {
        snprintf(err, WXPAY_ERR_LEN, "cannot read the WeChat Pay public key file %s: %s",
                 o->platform_public_key_file, r == -E2BIG ? "too large" : strerror(-r));
        return r;
    }
    r = wxpay_pubkey_from_pem(data, len, &w->platform_key, cerr);
    free(data);
    if (r)
        return fail(err, r, "wechatpay_platform_public_key_file: %s", cerr);
    return load_apiv3_key(w, o->apiv3_key_file, err);
}

static int copy_checked(char *dst, size_t cap, const char *v, bool (*check)(const char *, size_t),
                        const char *message, char *err)
{
    if (!v || !check(v, strlen(v)) || strlen(v) >= cap)
        return fail(err, -EINVAL, "%s", message);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int wxpay_new(const struct wxpay_options *o, struct wxpay **ret, char err[WXPAY_ERR_LEN])
{
    const char *base = o->base_url ? o->base_url : WXPAY_DEFAULT_BASE_URL;
    if (!o->private_key_file || !o->apiv3_key_file || !o->platform_public_key_file)
        return fail(err, -EINVAL, "%s",
                    "WeChat Pay needs wechatpay_private_key_file, wechatpay_apiv3_key_file and "
                    "wechatpay_platform_public_key_file");
    if (check_base_url(base, err))
        return -EINVAL;
    struct wxpay *w = calloc(1, sizeof(*w));
    if (!w)
        return fail(err, -ENOMEM, "%s", "out of memory");
    int r = copy_checked(w->appid, sizeof(w->appid), o->appid, wxpay_appid_valid,
                         "wechatpay_appid must be 1 to 32 letters and digits", err);
    if (!r)
        r = copy_checked(w->mchid, sizeof(w->mchid), o->mchid, wxpay_mchid_valid,
                         "wechatpay_mchid must be 1 to 32 digits", err);
    if (!r)
        r = copy_checked(w->serial_no, sizeof(w->serial_no), o->serial_no, wxpay_serial_valid,
                         "wechatpay_serial_no must be the merchant certificate's serial "
                         "(1 to 64 of A-Z a-z 0-9 _ -)",
                         err);
    if (!r)
        r = copy_checked(w->platform_key_id, sizeof(w->platform_key_id), o->platform_public_key_id,
                         wxpay_serial_valid,
                         "wechatpay_platform_public_key_id must be the WeChat Pay public key's id "
                         "(PUB_KEY_ID_...)",
                         err);
    if (!r) {
        /* The notify URL is checked by the order body's own rule, with placeholder values. */
        struct wxpay_order probe = {.appid = "wx0",
                                    .mchid = "1",
                                    .description = "x",
                                    .out_trade_no = "SM000000",
                                    .notify_url = o->notify_url,
                                    .total_fen = 1,
                                    .payer_openid = "o"};
        struct dynbuf b;
        char detail[WXPAY_ERR_LEN];
        dynbuf_init(&b, 4096);
        if (!o->notify_url || wxpay_order_body(&probe, &b, detail) != WXPAY_OK)
            r = fail(err, -EINVAL, "%s",
                     "wechatpay_notify_url must be https://HOST/PATH without a query, at most 255 "
                     "bytes (http:// only to a loopback address)");
        dynbuf_free(&b);
        if (!r)
            snprintf(w->notify_url, sizeof(w->notify_url), "%s", o->notify_url);
    }
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (!r && blen >= sizeof(w->base_url))
        r = fail(err, -EINVAL, "%s", "wechatpay_base_url is too long");
    if (!r) {
        memcpy(w->base_url, base, blen);
        r = load_keys(w, o, err);
    }
    if (!r && wxpay_http_global_init())
        r = fail(err, -ENOMEM, "%s", "cannot initialise libcurl");
    if (r) {
        wxpay_privkey_free(w->merchant_key);
        wxpay_pubkey_free(w->platform_key);
        explicit_bzero(w, sizeof(*w));
        free(w);
        return r;
    }
    atomic_init(&w->inflight, 0);
    *ret = w;
    return 0;
}

void wxpay_free(struct wxpay *w)
{
    if (!w)
        return;
    wxpay_privkey_free(w->merchant_key);
    wxpay_pubkey_free(w->platform_key);
    explicit_bzero(w, sizeof(*w));
    free(w);
    wxpay_http_global_cleanup();
}

const char *wxpay_appid(const struct wxpay *w)
{
    return w->appid;
}

const char *wxpay_mchid(const struct wxpay *w)
{
    return w->mchid;
}

int wxpay_out_trade_no_new(int64_t now_ms, char out[WXPAY_OUT_TRADE_NO_MAX + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV"; /* 32: 5 bits each */
    uint8_t raw[20];
    if (wxpay_random(raw, sizeof(raw)))
        return -EIO;
    if (now_ms < 0)
        now_ms = 0;
    int64_t y;
    unsigned m, d;
    time_civil_from_days(now_ms / 86400000, &y, &m, &d);
    if (y > 9999)
        y = 9999;
    snprintf(out, 11, "SM%04u%02u%02u", (unsigned)y % 10000, m % 100, d % 100);
    for (size_t i = 0; i < sizeof(raw); i++)
        out[10 + i] = alphabet[raw[i] & 31];
    out[30] = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

static void result_reset(struct wxpay_result *res)
{
    memset(res, 0, sizeof(*res));
}

static void set_detail(struct wxpay_result *res, const char *what)
{
    snprintf(res->detail, sizeof(res->detail), "%s", what);
}

/*
 * Signs and sends one request, and checks the answer's signature. On WXPAY_OK
 * *a holds an answer WeChat Pay signed (any status below 500); the caller
 * frees it in every case.
 */
static enum wxpay_error exchange(struct wxpay *w, const char *method, const char *path,
                                 const char *body, size_t len, int64_t now_ms,
                                 struct wxpay_http_answer *a, struct wxpay_result *res)
{
    memset(a, 0, sizeof(*a));
    char nonce[WXPAY_NONCE_LEN + 1], url[URL_MAX];
    struct dynbuf auth;
    dynbuf_init(&auth, 4096);
    if (atomic_fetch_add(&w->inflight, 1) >= WXPAY_MAX_INFLIGHT) {
        atomic_fetch_sub(&w->inflight, 1);
        set_detail(res, "too many calls to WeChat Pay in progress");
        return WXPAY_OVERLOADED;
    }
    enum wxpay_error e = WXPAY_NOMEM;
    int n = snprintf(url, sizeof(url), "%s%s", w->base_url, path);
    if (n < 0 || (size_t)n >= sizeof(url) || wxpay_nonce_new(nonce) ||
        wxpay_authorization(w->merchant_key, w->mchid, w->serial_no, method, path, now_ms / 1000,
                            nonce, body, len, &auth)) {
        set_detail(res, "cannot sign the request");
        goto out;
    }
    e = wxpay_http_call(url, method, auth.buf, body, len, a, res->detail);
    if (e)
        goto out;
    res->http_status = a->status;
    if (a->request_id.valid && wxpay_serial_valid(a->request_id.value, strlen(a->request_id.value)))
        snprintf(res->request_id, sizeof(res->request_id), "%.64s", a->request_id.value);
    if (a->status >= 500) {
        /* A gateway's error page carries no signature: WeChat Pay is down for now. */
        snprintf(res->detail, sizeof(res->detail), "WeChat Pay answered HTTP %ld", a->status);
        e = WXPAY_UNREACHABLE;
        goto out;
    }
    struct wxpay_signed_headers h = {
        .timestamp = a->timestamp.valid ? a->timestamp.value : NULL,
        .nonce = a->nonce.valid ? a->nonce.value : NULL,
        .signature = a->signature.valid ? a->signature.value : NULL,
        .serial = a->serial.valid ? a->serial.value : NULL,
    };
    e = wxpay_check_signed(w->platform_key, w->platform_key_id, &h, dynbuf_str(&a->body),
                           a->body.len, now_ms, res->detail);
    if (e != WXPAY_OK && (a->status < 200 || a->status >= 300)) {
        /* An unsigned error is believed in nothing, but what it claims helps the log. */
        char claimed[WXPAY_CODE_MAX + 1], why[WXPAY_ERR_LEN];
        wxpay_parse_error(dynbuf_str(&a->body), a->body.len, claimed, NULL);
        snprintf(why, sizeof(why), "%s", res->detail);
        snprintf(res->detail, sizeof(res->detail), "HTTP %ld claiming %s, not signed: %.160s",
                 a->status, claimed[0] ? claimed : "no code", why);
    }
    if (e == WXPAY_OK && (a->status < 200 || a->status >= 300)) {
        wxpay_parse_error(dynbuf_str(&a->body), a->body.len, res->code, res->detail);
        e = a->status == 404 || strcmp(res->code, "ORDER_NOT_EXIST") == 0 ? WXPAY_NOT_FOUND
                                                                          : WXPAY_REFUSED;
    }
out:
    atomic_fetch_sub(&w->inflight, 1);
    dynbuf_free(&auth);
    return e;
}

enum wxpay_error wxpay_jsapi_order(struct wxpay *w, const struct wxpay_order_request *req,
                                   int64_t now_ms, char ret_prepay_id[WXPAY_PREPAY_ID_MAX + 1],
                                   struct wxpay_result *res)
{
    result_reset(res);
    ret_prepay_id[0] = '\0';
    struct wxpay_order o = {
        .appid = w->appid,
        .mchid = w->mchid,
        .description = req->description,
        .out_trade_no = req->out_trade_no,
        .notify_url = w->notify_url,
        .total_fen = req->total_fen,
        .payer_openid = req->payer_openid,
        .expire_ms = req->expire_ms,
    };
    struct dynbuf body;
    struct wxpay_http_answer a;
    memset(&a, 0, sizeof(a));
    dynbuf_init(&body, 8192);
    enum wxpay_error e = wxpay_order_body(&o, &body, res->detail);
    if (e)
        goto out;
    e = exchange(w, "POST", "/v3/pay/transactions/jsapi", body.buf, body.len, now_ms, &a, res);
    if (e)
        goto out;
    if (a.status != 200) {
        snprintf(res->detail, sizeof(res->detail), "WeChat Pay answered the order with HTTP %ld",
                 a.status);
        e = WXPAY_BAD_ANSWER;
        goto out;
    }
    e = wxpay_parse_prepay(dynbuf_str(&a.body), a.body.len, ret_prepay_id, res->detail);
out:
    wxpay_http_answer_free(&a);
    dynbuf_free(&body);
    return e;
}

enum wxpay_error wxpay_pay_params(const struct wxpay *w, const char *prepay_id, int64_t now_ms,
                                  struct wxpay_pay_params *ret)
{
    return wxpay_pay_params_make(w->merchant_key, w->appid, prepay_id, now_ms, ret);
}

/* The transaction is about our appid, mchid and (when given) order. */
static enum wxpay_error check_ours(const struct wxpay *w, const struct wxpay_transaction *t,
                                   const char *out_trade_no, char *detail)
{
    const char *what = NULL;
    if (strcmp(t->appid, w->appid) != 0)
        what = "for another appid";
    else if (strcmp(t->mchid, w->mchid) != 0)
        what = "for another mchid";
    else if (out_trade_no && strcmp(t->out_trade_no, out_trade_no) != 0)
        what = "for another out_trade_no";
    if (!what)
        return WXPAY_OK;
    if (detail)
        snprintf(detail, WXPAY_ERR_LEN, "the transaction is %s", what);
    return WXPAY_MISMATCH;
}

/*
 * "/v3/pay/transactions/out-trade-no/<no><tail1><tail2>" into path (256
 * bytes); '|' and '*', the only characters of a valid out_trade_no a path
 * may not carry as they are, percent-encoded.
 */
static void order_path(const char *out_trade_no, const char *tail1, const char *tail2,
                       char path[256])
{
    char esc[WXPAY_OUT_TRADE_NO_MAX * 3 + 1];
    size_t j = 0;
    for (const char *p = out_trade_no; *p && j + 4 <= sizeof(esc); p++) {
        if (*p == '|' || *p == '*') {
            snprintf(esc + j, sizeof(esc) - j, "%%%02X", (unsigned)(unsigned char)*p);
            j += 3;
        } else {
            esc[j++] = *p;
        }
    }
    esc[j] = '\0';
    snprintf(path, 256, "/v3/pay/transactions/out-trade-no/%s%s%s", esc, tail1, tail2);
}

enum wxpay_error wxpay_query(struct wxpay *w, const char *out_trade_no, int64_t now_ms,
                             struct wxpay_transaction *ret, struct wxpay_result *res)
{
    result_reset(res);
    memset(ret, 0, sizeof(*ret));
    if (!out_trade_no || !wxpay_out_trade_no_valid(out_trade_no, strlen(out_trade_no))) {
        set_detail(res, "out_trade_no must be 6 to 32 of A-Z a-z 0-9 _ - | *");
        return WXPAY_INVALID;
    }
    char path[256];
    order_path(out_trade_no, "?mchid=", w->mchid, path);
    struct wxpay_http_answer a;
    enum wxpay_error e = exchange(w, "GET", path, NULL, 0, now_ms, &a, res);
    if (e)
        goto out;
    if (a.status != 200) {
        snprintf(res->detail, sizeof(res->detail), "WeChat Pay answered the query with HTTP %ld",
                 a.status);
        e = WXPAY_BAD_ANSWER;
        goto out;
    }
    struct wxpay_transaction t;
    e = wxpay_parse_transaction(dynbuf_str(&a.body), a.body.len, &t, res->detail);
    if (!e)
        e = check_ours(w, &t, out_trade_no, res->detail);
    if (!e)
        *ret = t;
out:
    wxpay_http_answer_free(&a);
    return e;
}

enum wxpay_error wxpay_close(struct wxpay *w, const char *out_trade_no, int64_t now_ms,
                             struct wxpay_result *res)
{
    result_reset(res);
    if (!out_trade_no || !wxpay_out_trade_no_valid(out_trade_no, strlen(out_trade_no))) {
        set_detail(res, "out_trade_no must be 6 to 32 of A-Z a-z 0-9 _ - | *");
        return WXPAY_INVALID;
    }
    char path[256], body[WXPAY_MCHID_MAX + 16];
    order_path(out_trade_no, "/close", "", path);
    int n = snprintf(body, sizeof(body), "{\"mchid\":\"%s\"}", w->mchid);
    struct wxpay_http_answer a;
    enum wxpay_error e = exchange(w, "POST", path, body, (size_t)n, now_ms, &a, res);
    if (!e && a.status != 204 && a.status != 200) {
        snprintf(res->detail, sizeof(res->detail), "WeChat Pay answered the close with HTTP %ld",
                 a.status);
        e = WXPAY_BAD_ANSWER;
    }
    wxpay_http_answer_free(&a);
    return e;
}

enum wxpay_error wxpay_notify(const struct wxpay *w, const struct wxpay_signed_headers *h,
                              const char *body, size_t len, int64_t now_ms,
                              struct wxpay_transaction *ret, char detail[WXPAY_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    if (detail)
        detail[0] = '\0';
    if (len > WXPAY_BODY_MAX) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "notification larger than %d bytes", WXPAY_BODY_MAX);
        return WXPAY_BAD_ANSWER;
    }
    /* Nothing of the body is read before WeChat Pay's signature on it is checked. */
    enum wxpay_error e =
        wxpay_check_signed(w->platform_key, w->platform_key_id, h, body, len, now_ms, detail);
    if (e)
        return e;
    struct wxpay_notify_envelope env;
    e = wxpay_parse_notify_envelope(body, len, &env, detail);
    if (e)
        return e;
    uint8_t *plain = malloc(env.ciphertext_len + 1);
    size_t plain_len = 0;
    if (!plain) {
        e = WXPAY_NOMEM;
        goto out;
    }
    if (wxpay_aead_decrypt(w->apiv3_key, env.nonce, sizeof(env.nonce), env.associated_data,
                           env.associated_data_len, env.ciphertext, env.ciphertext_len, plain,
                           &plain_len)) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN,
                     "the resource does not decrypt with our APIv3 key (notification %s)", env.id);
        e = WXPAY_UNDECRYPTABLE;
        goto out;
    }
    struct wxpay_transaction t;
    e = wxpay_parse_transaction((const char *)plain, plain_len, &t, detail);
    if (!e)
        e = check_ours(w, &t, NULL, detail);
    if (!e)
        *ret = t;
out:
    if (plain) {
        explicit_bzero(plain, env.ciphertext_len);
        free(plain);
    }
    wxpay_notify_envelope_free(&env);
    return e;
}

enum wxpay_error wxpay_check_paid(const struct wxpay_transaction *t, const char *out_trade_no,
                                  int64_t total_fen, char detail[WXPAY_ERR_LEN])
{
    if (detail)
        detail[0] = '\0';
    if (strcmp(t->out_trade_no, out_trade_no) != 0) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "the transaction pays another order");
        return WXPAY_MISMATCH;
    }
    if (t->trade_state != WXPAY_STATE_SUCCESS) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "order %s is %s, not paid", t->out_trade_no,
                     wxpay_trade_state_name(t->trade_state));
        return WXPAY_INVALID;
    }
    if (t->total_fen != total_fen) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN,
                     "order %s: WeChat Pay's amount.total %" PRId64
                     " fen is not the order's %" PRId64 " fen",
                     t->out_trade_no, t->total_fen, total_fen);
        return WXPAY_MISMATCH;
    }
    return WXPAY_OK;
}

int wxpay_notify_answer(enum wxpay_error e, const char **ret_body)
{
    switch (e) {
    case WXPAY_OK:
        *ret_body = "";
        return 204;
    case WXPAY_BAD_SIGNATURE:
    case WXPAY_STALE:
        *ret_body = "{\"code\":\"FAIL\",\"message\":\"signature check failed\"}";
        return 401;
    case WXPAY_UNDECRYPTABLE:
    case WXPAY_BAD_ANSWER:
    case WXPAY_MISMATCH:
    case WXPAY_INVALID:
    case WXPAY_NOT_FOUND:
        *ret_body = "{\"code\":\"FAIL\",\"message\":\"notification refused\"}";
        return 400;
    default:
        *ret_body = "{\"code\":\"FAIL\",\"message\":\"internal error, send again\"}";
        return 500;
    }
}
