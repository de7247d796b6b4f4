/* wxpay_json: WeChat Pay's JSON bodies written and read (see wxpay_json.h). */

#include "wxpay_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "jsonutil.h"
#include "jsonw.h"
#include "timeutil.h"
#include "url.h"
#include "utf8.h"

/* A transaction nests promotion_detail[].goods_detail[]: 4 levels; one to spare. */
#define TRANSACTION_DEPTH 5
#define ENVELOPE_DEPTH    3
#define CHINA_OFFSET_MS   (INT64_C(8) * 3600 * 1000)

__attribute__((format(printf, 2, 3))) static enum wxpay_error bad(char *detail, const char *fmt,
                                                                  ...)
{
    if (detail) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, WXPAY_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return WXPAY_BAD_ANSWER;
}

static enum wxpay_error invalid(char *detail, const char *what)
{
    if (detail)
        snprintf(detail, WXPAY_ERR_LEN, "%s", what);
    return WXPAY_INVALID;
}

static bool loopback_host(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* https://HOST[:PORT]/PATH without user, query or fragment; http:// only to loopback. */
static bool notify_url_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > WXPAY_NOTIFY_URL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '#' || s[i] == '"' || s[i] == '\\')
            return false;
    struct url u;
    char err[160];
    if (url_parse(s, &u, err, sizeof(err)))
        return false;
    bool ok = u.host[0] && !u.user[0] && !u.has_password && !u.query[0] && !strchr(s, '?') &&
              (strcmp(u.scheme, "https") == 0 ||
               (strcmp(u.scheme, "http") == 0 && loopback_host(u.host)));
    url_clear(&u);
    return ok;
}

/* "2026-12-07T16:00:00+08:00": WeChat Pay's examples write China time. */
static void format_china_time(int64_t ms, char out[32])
{
    int64_t local_s = (ms + CHINA_OFFSET_MS) / 1000;
    int64_t days = local_s / 86400, sod = local_s % 86400;
    int64_t y;
    unsigned m, d;
    time_civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d+08:00", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

enum wxpay_error wxpay_order_body(const struct wxpay_order *o, struct dynbuf *b,
                                  char detail[WXPAY_ERR_LEN])
{
    if (detail)
        detail[0] = '\0';
    if (!o->appid || !wxpay_appid_valid(o->appid, strlen(o->appid)))
        return invalid(detail, "appid must be 1 to 32 letters and digits");
    if (!o->mchid || !wxpay_mchid_valid(o->mchid, strlen(o->mchid)))
        return invalid(detail, "mchid must be 1 to 32 digits");
    if (!o->description || !wxpay_description_valid(o->description, strlen(o->description)))
        return invalid(detail, "description must be 1 to 127 printable characters");
    if (!o->out_trade_no || !wxpay_out_trade_no_valid(o->out_trade_no, strlen(o->out_trade_no)))
        return invalid(detail, "out_trade_no must be 6 to 32 of A-Z a-z 0-9 _ - | *");
    if (!o->notify_url || !notify_url_valid(o->notify_url))
        return invalid(detail, "notify_url must be https://HOST/PATH without a query "
                               "(http:// only to a loopback address), at most 255 bytes");
    if (o->total_fen < 1 || o->total_fen > WXPAY_TOTAL_MAX_FEN)
        return invalid(detail, "the amount must be 1 to 2147483647 fen");
    if (!o->payer_openid || !wxpay_openid_valid(o->payer_openid, strlen(o->payer_openid)))
        return invalid(detail, "the payer's openid must be 1 to 128 of A-Z a-z 0-9 _ -");
    if (o->expire_ms != 0 && (o->expire_ms < TIME_MIN_VALID_MS || o->expire_ms > TIME_MAX_VALID_MS))
        return invalid(detail, "time_expire is out of range");

    dynbuf_reset(b);
    struct jsonw w;
    jsonw_init(&w, b);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "appid", o->appid);
    jsonw_kstr(&w, "mchid", o->mchid);
    jsonw_kstr(&w, "description", o->description);
    jsonw_kstr(&w, "out_trade_no", o->out_trade_no);
    if (o->expire_ms) {
        char t[32];
        format_china_time(o->expire_ms, t);
        jsonw_kstr(&w, "time_expire", t);
    }
    jsonw_kstr(&w, "notify_url", o->notify_url);
    jsonw_key(&w, "amount");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "total", o->total_fen);
    jsonw_kstr(&w, "currency", "CNY");
    jsonw_obj_end(&w);
    jsonw_key(&w, "payer");
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "openid", o->payer_openid);
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    return jsonw_error(&w) ? WXPAY_NOMEM : WXPAY_OK;
}

static enum wxpay_error load(const char *body, size_t len, int depth, json_t **root, char *detail)
{
    char jerr[JSON_ERR_LEN];
    if (len > WXPAY_BODY_MAX)
        return bad(detail, "%s", "body too large");
    if (json_load_limited(body, len, depth, root, jerr))
        return bad(detail, "not JSON: %s", jerr);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return bad(detail, "%s", "not a JSON object");
    }
    return WXPAY_OK;
}

/*
 * The string at key: absent is fine when !required; present must be a string
 * without NUL that passes check (NULL: any). Copies it into out (cap bytes).
 */
static bool get_string(json_t *obj, const char *key, bool required,
                       bool (*check)(const char *, size_t), char *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v)
        return !required;
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n >= cap || memchr(s, '\0', n) || (check && !check(s, n)))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* An integer 0..WXPAY_TOTAL_MAX_FEN at key; -1 when absent and not required. */
static bool get_fen(json_t *obj, const char *key, bool required, int64_t *ret)
{
    json_t *v = json_object_get(obj, key);
    *ret = -1;
    if (!v)
        return !required;
    if (!json_is_integer(v))
        return false;
    json_int_t n = json_integer_value(v);
    if (n < 0 || n > WXPAY_TOTAL_MAX_FEN)
        return false;
    *ret = (int64_t)n;
    return true;
}

enum wxpay_error wxpay_parse_prepay(const char *body, size_t len,
                                    char ret_prepay_id[WXPAY_PREPAY_ID_MAX + 1],
                                    char detail[WXPAY_ERR_LEN])
{
    json_t *root = NULL;
    ret_prepay_id[0] = '\0';
    if (detail)
        detail[0] = '\0';
    enum wxpay_error e = load(body, len, 1, &root, detail);
    if (e)
        return e;
    if (!get_string(root, "prepay_id", true, wxpay_prepay_id_valid, ret_prepay_id,
                    WXPAY_PREPAY_ID_MAX + 1))
        e = bad(detail, "%s", "prepay_id is missing or malformed");
    json_decref(root);
    return e;
}

void wxpay_parse_error(const char *body, size_t len, char ret_code[WXPAY_CODE_MAX + 1],
                       char detail[WXPAY_ERR_LEN])
{
    json_t *root = NULL;
    ret_code[0] = '\0';
    if (detail)
        detail[0] = '\0';
    /* An error may carry "detail":{"field":...,"location":...}: depth 3. */
    if (load(body, len, 3, &root, NULL) != WXPAY_OK) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "an answer without an error code");
        return;
    }
    if (!get_string(root, "code", true, wxpay_code_valid, ret_code, WXPAY_CODE_MAX + 1))
        ret_code[0] = '\0';
    json_t *m = json_object_get(root, "message");
    if (detail) {
        char msg[160] = "";
        if (json_is_string(m))
            utf8_clean(json_string_value(m), msg, sizeof(msg));
        snprintf(detail, WXPAY_ERR_LEN, "WeChat Pay answered %s: %s",
                 ret_code[0] ? ret_code : "no code", msg[0] ? msg : "no message");
    }
    json_decref(root);
}

static const char *const state_names[] = {
    [WXPAY_STATE_UNKNOWN] = "UNKNOWN",       [WXPAY_STATE_SUCCESS] = "SUCCESS",
    [WXPAY_STATE_REFUND] = "REFUND",         [WXPAY_STATE_NOTPAY] = "NOTPAY",
    [WXPAY_STATE_CLOSED] = "CLOSED",         [WXPAY_STATE_REVOKED] = "REVOKED",
    [WXPAY_STATE_USERPAYING] = "USERPAYING", [WXPAY_STATE_PAYERROR] = "PAYERROR",
};

const char *wxpay_trade_state_name(enum wxpay_trade_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "UNKNOWN";
}

static enum wxpay_trade_state trade_state_from(const char *s)
{
    for (size_t i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (strcmp(s, state_names[i]) == 0)
            return (enum wxpay_trade_state)i;
    return WXPAY_STATE_UNKNOWN;
}

static bool equals(json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && strlen(want) == json_string_length(v) &&
           strcmp(json_string_value(v), want) == 0;
}

/* Absent, or exactly "CNY". */
static bool cny_or_absent(json_t *obj, const char *key)
{
    return !json_object_get(obj, key) || equals(obj, key, "CNY");
}

static enum wxpay_error transaction_fields(json_t *root, struct wxpay_transaction *t, char *detail)
{
    char state[16], when[40];
    if (!get_string(root, "appid", true, wxpay_appid_valid, t->appid, sizeof(t->appid)))
        return bad(detail, "%s", "appid is missing or malformed");
    if (!get_string(root, "mchid", true, wxpay_mchid_valid, t->mchid, sizeof(t->mchid)))
        return bad(detail, "%s", "mchid is missing or malformed");
    if (!get_string(root, "out_trade_no", true, wxpay_out_trade_no_valid, t->out_trade_no,
                    sizeof(t->out_trade_no)))
        return bad(detail, "%s", "out_trade_no is missing or malformed");
    if (!get_string(root, "trade_state", true, NULL, state, sizeof(state)) ||
        (t->trade_state = trade_state_from(state)) == WXPAY_STATE_UNKNOWN)
        return bad(detail, "%s", "trade_state is missing or not one WeChat Pay documents");
    bool paid = t->trade_state == WXPAY_STATE_SUCCESS || t->trade_state == WXPAY_STATE_REFUND;
    if (!get_string(root, "transaction_id", paid, wxpay_transaction_id_valid, t->transaction_id,
                    sizeof(t->transaction_id)))
        return bad(detail, "%s", "transaction_id is missing or malformed");

    json_t *amount = json_object_get(root, "amount");
    if (!json_is_object(amount))
        return bad(detail, "%s", "amount is missing or not an object");
    if (!get_fen(amount, "total", true, &t->total_fen))
        return bad(detail, "%s", "amount.total is missing or not 0 to 2147483647 fen");
    if (!get_fen(amount, "payer_total", paid, &t->payer_total_fen))
        return bad(detail, "%s", "amount.payer_total is missing or not 0 to 2147483647 fen");
    if (!cny_or_absent(amount, "currency"))
        return bad(detail, "%s", "amount.currency is not CNY");
    if (!cny_or_absent(amount, "payer_currency"))
        return bad(detail, "%s", "amount.payer_currency is not CNY");

    json_t *payer = json_object_get(root, "payer");
    if (payer && !json_is_object(payer))
        return bad(detail, "%s", "payer is not an object");
    if (paid && !payer)
        return bad(detail, "%s", "payer is missing");
    if (payer && !get_string(payer, "openid", paid, wxpay_openid_valid, t->payer_openid,
                             sizeof(t->payer_openid)))
        return bad(detail, "%s", "payer.openid is missing or malformed");

    if (!get_string(root, "success_time", paid, NULL, when, sizeof(when)) || (paid && !when[0]))
        return bad(detail, "%s", "success_time is missing or malformed");
    if (when[0] &&
        (time_parse_rfc3339(when, &t->success_time_ms) || t->success_time_ms < TIME_MIN_VALID_MS ||
         t->success_time_ms > TIME_MAX_VALID_MS))
        return bad(detail, "%s", "success_time is not an RFC 3339 time between 2000 and 2200");
    return WXPAY_OK;
}

enum wxpay_error wxpay_parse_transaction(const char *json, size_t len,
                                         struct wxpay_transaction *ret, char detail[WXPAY_ERR_LEN])
{
    json_t *root = NULL;
    memset(ret, 0, sizeof(*ret));
    ret->payer_total_fen = -1;
    if (detail)
        detail[0] = '\0';
    enum wxpay_error e = load(json, len, TRANSACTION_DEPTH, &root, detail);
    if (e)
        return e;
    struct wxpay_transaction t;
    memset(&t, 0, sizeof(t));
    e = transaction_fields(root, &t, detail);
    json_decref(root);
    if (e == WXPAY_OK)
        *ret = t;
    return e;
}

/* Printable ASCII without space. */
static bool token_valid(const char *s, size_t len)
{
    return wxpay_nonce_valid(s, len);
}

static enum wxpay_error envelope_fields(json_t *root, struct wxpay_notify_envelope *e, char *detail)
{
    char nonce[WXPAY_AEAD_NONCE_LEN + 1];
    if (!get_string(root, "id", true, token_valid, e->id, sizeof(e->id)))
        return bad(detail, "%s", "id is missing or malformed");
    if (!get_string(root, "event_type", true, token_valid, e->event_type, sizeof(e->event_type)))
        return bad(detail, "%s", "event_type is missing or malformed");
    if (!equals(root, "resource_type", "encrypt-resource"))
        return bad(detail, "%s", "resource_type is not encrypt-resource");
    json_t *res = json_object_get(root, "resource");
    if (!json_is_object(res))
        return bad(detail, "%s", "resource is missing or not an object");
    if (!equals(res, "algorithm", "AEAD_AES_256_GCM"))
        return bad(detail, "%s", "resource.algorithm is not AEAD_AES_256_GCM");
    if (!equals(res, "original_type", "transaction"))
        return bad(detail, "%s", "resource.original_type is not transaction");
    if (!get_string(res, "nonce", true, NULL, nonce, sizeof(nonce)) ||
        strlen(nonce) != WXPAY_AEAD_NONCE_LEN)
        return bad(detail, "%s", "resource.nonce is not 12 bytes");
    memcpy(e->nonce, nonce, WXPAY_AEAD_NONCE_LEN);
    /* associated_data may be absent or empty; WeChat Pay sends "transaction". */
    if (!get_string(res, "associated_data", false, NULL, e->associated_data,
                    sizeof(e->associated_data)))
        return bad(detail, "%s", "resource.associated_data is malformed or too long");
    e->associated_data_len = strlen(e->associated_data);

    json_t *ct = json_object_get(res, "ciphertext");
    if (!json_is_string(ct) || json_string_length(ct) > WXPAY_RESOURCE_MAX)
        return bad(detail, "%s", "resource.ciphertext is missing or too long");
    size_t n = json_string_length(ct);
    e->ciphertext = malloc(base64_decoded_max(n) + 1);
    if (!e->ciphertext)
        return WXPAY_NOMEM;
    if (base64_decode(json_string_value(ct), n, e->ciphertext, &e->ciphertext_len) ||
        e->ciphertext_len < WXPAY_AEAD_TAG_LEN)
        return bad(detail, "%s", "resource.ciphertext is not base64 of a ciphertext and its tag");
    return WXPAY_OK;
}

enum wxpay_error wxpay_parse_notify_envelope(const char *body, size_t len,
                                             struct wxpay_notify_envelope *ret,
                                             char detail[WXPAY_ERR_LEN])
{
    json_t *root = NULL;
    memset(ret, 0, sizeof(*ret));
    if (detail)
        detail[0] = '\0';
    enum wxpay_error e = load(body, len, ENVELOPE_DEPTH, &root, detail);
    if (e)
        return e;
    e = envelope_fields(root, ret, detail);
    json_decref(root);
    if (e) {
        wxpay_notify_envelope_free(ret);
        memset(ret, 0, sizeof(*ret));
    }
    return e;
}

void wxpay_notify_envelope_free(struct wxpay_notify_envelope *e)
{
    if (!e)
        return;
    free(e->ciphertext);
    e->ciphertext = NULL;
    e->ciphertext_len = 0;
}
