/*
 * wxpay_json: the JSON bodies of WeChat Pay API v3 (JSAPI) that we write and
 * read: the order we place, the answers (prepay_id, a transaction, an error)
 * and the notification's envelope with its encrypted resource.
 *
 * Pure: no I/O, no keys, no logging. Each parser reads exactly one JSON
 * object of at most WXPAY_BODY_MAX bytes, refuses duplicate keys and
 * nesting deeper than a real answer has, checks the type and the rule
 * (wxpay_fields.h) of every field it reads, and ignores fields it does not
 * know (WeChat Pay adds fields without notice). Nothing here is to be called
 * on a body whose signature has not been checked, except by tests and fuzzers.
 * On failure a parser writes nothing into *ret but zeroes, and detail (may
 * be NULL) names the field.
 */
#ifndef SMARTMETER_WXPAY_JSON_H
#define SMARTMETER_WXPAY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "wxpay_crypto.h"
#include "wxpay_fields.h"

#define WXPAY_BODY_MAX     65536 /* an answer or a notification; real ones are below 4 KiB */
#define WXPAY_RESOURCE_MAX 16384 /* the resource's ciphertext, base64 */
#define WXPAY_ASSOC_MAX    256   /* the resource's associated_data */

/* What a JSAPI order says; every string must pass its rule in wxpay_fields.h. */
struct wxpay_order {
    const char *appid;
    const char *mchid;
    const char *description;
    const char *out_trade_no;
    const char *notify_url; /* https:// (http:// to loopback for tests), no query */
    int64_t total_fen;      /* 1..WXPAY_TOTAL_MAX_FEN */
    const char *payer_openid;
    int64_t expire_ms; /* time_expire, or 0 for none (WeChat Pay's default) */
};

/*
 * Writes the body of POST /v3/pay/transactions/jsapi into b (reset first):
 * {"appid","mchid","description","out_trade_no"[,"time_expire"],"notify_url",
 *  "amount":{"total","currency":"CNY"},"payer":{"openid"}}, time_expire in
 * China time ("2026-12-07T16:00:00+08:00"). Returns WXPAY_OK, WXPAY_INVALID
 * (detail names the field) or WXPAY_NOMEM.
 */
enum wxpay_error wxpay_order_body(const struct wxpay_order *o, struct dynbuf *b,
                                  char detail[WXPAY_ERR_LEN]);

/* {"prepay_id":"..."}: the answer to a JSAPI order. */
enum wxpay_error wxpay_parse_prepay(const char *body, size_t len,
                                    char ret_prepay_id[WXPAY_PREPAY_ID_MAX + 1],
                                    char detail[WXPAY_ERR_LEN]);

/*
 * {"code":"...","message":"..."}: an error answer. Writes the code (or "" when
 * the body holds none that passes wxpay_code_valid()) and the message,
 * cleaned to printable UTF-8, into detail. Never fails.
 */
void wxpay_parse_error(const char *body, size_t len, char ret_code[WXPAY_CODE_MAX + 1],
                       char detail[WXPAY_ERR_LEN]);

enum wxpay_trade_state {
    WXPAY_STATE_UNKNOWN = 0,
    WXPAY_STATE_SUCCESS,    /* paid */
    WXPAY_STATE_REFUND,     /* paid, then (partly) refunded */
    WXPAY_STATE_NOTPAY,     /* not paid yet */
    WXPAY_STATE_CLOSED,     /* closed before payment */
    WXPAY_STATE_REVOKED,    /* revoked (payment code only) */
    WXPAY_STATE_USERPAYING, /* the payer is entering a password */
    WXPAY_STATE_PAYERROR,   /* the payment failed */
};

/* "SUCCESS", "NOTPAY", ...; "UNKNOWN" for anything else. */
const char *wxpay_trade_state_name(enum wxpay_trade_state s);

/*
 * A transaction: the decrypted resource of a notification, or the answer to
 * a query. Amounts in fen; success_time in ms since the epoch (UTC).
 */
struct wxpay_transaction {
    char appid[WXPAY_APPID_MAX + 1];
    char mchid[WXPAY_MCHID_MAX + 1];
    char out_trade_no[WXPAY_OUT_TRADE_NO_MAX + 1];
    char transaction_id[WXPAY_TRANSACTION_ID_MAX + 1]; /* "" before payment */
    enum wxpay_trade_state trade_state;
    int64_t total_fen;       /* amount.total: what the order asked */
    int64_t payer_total_fen; /* amount.payer_total: what the payer paid, -1 when absent */
    char payer_openid[WXPAY_OPENID_MAX + 1]; /* "" when absent */
    int64_t success_time_ms;                 /* 0 when absent */
};

/*
 * Parses a transaction. Required: appid, mchid, out_trade_no, trade_state
 * (one of the states above), amount.total (0..WXPAY_TOTAL_MAX_FEN) with
 * amount.currency "CNY" when present. When the state is SUCCESS or REFUND
 * also transaction_id, payer.openid, amount.payer_total and success_time
 * (RFC 3339, between 2000 and 2200) are required. Returns WXPAY_OK or
 * WXPAY_BAD_ANSWER.
 */
enum wxpay_error wxpay_parse_transaction(const char *json, size_t len,
                                         struct wxpay_transaction *ret, char detail[WXPAY_ERR_LEN]);

/* A notification's envelope; the strings point into the parser's own copies in *ret. */
struct wxpay_notify_envelope {
    char id[65];         /* the notification's id, for the log */
    char event_type[33]; /* "TRANSACTION.SUCCESS" */
    uint8_t nonce[WXPAY_AEAD_NONCE_LEN];
    char associated_data[WXPAY_ASSOC_MAX + 1];
    size_t associated_data_len;
    uint8_t *ciphertext; /* decoded from base64, the tag at its end; wxpay_notify_envelope_free() */
    size_t ciphertext_len;
};

/*
 * Parses a notification's body: {"id","create_time","event_type",
 * "resource_type":"encrypt-resource","summary","resource":{"algorithm":
 * "AEAD_AES_256_GCM","ciphertext","nonce","associated_data","original_type":
 * "transaction"}}. Returns WXPAY_OK (free with wxpay_notify_envelope_free()),
 * WXPAY_BAD_ANSWER or WXPAY_NOMEM.
 */
enum wxpay_error wxpay_parse_notify_envelope(const char *body, size_t len,
                                             struct wxpay_notify_envelope *ret,
                                             char detail[WXPAY_ERR_LEN]);
void wxpay_notify_envelope_free(struct wxpay_notify_envelope *e);

#endif
