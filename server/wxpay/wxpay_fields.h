/*
 * wxpay_fields: what the WeChat Pay module's values look like, in one place:
 * the error every call returns, the limits of each field WeChat Pay API v3
 * documents (string(32) and so on), and a check for each. Pure.
 *
 * The checks are strict on purpose: a value that passes can go into a URL
 * path, a JSON string, a signed message (no newline can split it) or a log
 * line without escaping.
 */
#ifndef SMARTMETER_WXPAY_FIELDS_H
#define SMARTMETER_WXPAY_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WXPAY_APPID_MAX  32
#define WXPAY_MCHID_MAX  32
#define WXPAY_SERIAL_MAX 64 /* a certificate serial (40 hex) or a public key id (PUB_KEY_ID_...)   \
                             */
#define WXPAY_OUT_TRADE_NO_MIN   6
#define WXPAY_OUT_TRADE_NO_MAX   32
#define WXPAY_TRANSACTION_ID_MAX 32
#define WXPAY_OPENID_MAX         128
#define WXPAY_PREPAY_ID_MAX      64
#define WXPAY_DESCRIPTION_MAX    127 /* characters (UTF-8) */
#define WXPAY_NOTIFY_URL_MAX     255
#define WXPAY_NONCE_MAX          64 /* a Wechatpay-Nonce we accept */
#define WXPAY_CODE_MAX           32 /* WeChat Pay's error code ("ORDER_NOT_EXIST") */
#define WXPAY_TOTAL_MAX_FEN      INT64_C(2147483647) /* amount.total is a 32-bit int */
#define WXPAY_ERR_LEN            256

/* What went wrong, from the caller's point of view. */
enum wxpay_error {
    WXPAY_OK = 0,
    WXPAY_INVALID,       /* an argument is malformed (an order's amount, an openid, ...) */
    WXPAY_UNREACHABLE,   /* DNS, connect, TLS, timeout, or a 5xx from WeChat Pay: try again */
    WXPAY_BAD_SIGNATURE, /* missing, unknown key id, or not WeChat Pay's signature */
    WXPAY_STALE,         /* Wechatpay-Timestamp more than 5 minutes from our clock */
    WXPAY_UNDECRYPTABLE, /* the notification's resource does not decrypt with the APIv3 key */
    WXPAY_BAD_ANSWER,    /* signed, but not what the API documents (fields, types, status) */
    WXPAY_MISMATCH,      /* signed and well-formed, but for another appid, mchid, order or amount */
    WXPAY_NOT_FOUND,     /* WeChat Pay knows no such order (ORDER_NOT_EXIST) */
    WXPAY_REFUSED,       /* WeChat Pay refused the call; its code is in the result */
    WXPAY_NOMEM,
    WXPAY_OVERLOADED, /* too many calls to WeChat Pay in progress at once */
};

/* A short name for the log ("bad signature", "stale", ...). */
const char *wxpay_error_name(enum wxpay_error e);

/* appid: 1..32 of A-Z a-z 0-9 ("wx" and 16 hex in practice). */
bool wxpay_appid_valid(const char *s, size_t len);
/* mchid: 1..32 digits. */
bool wxpay_mchid_valid(const char *s, size_t len);
/* A certificate serial or public key id: 1..64 of A-Z a-z 0-9 _ -. */
bool wxpay_serial_valid(const char *s, size_t len);
/* out_trade_no: 6..32 of A-Z a-z 0-9 _ - | * (WeChat Pay's own rule). */
bool wxpay_out_trade_no_valid(const char *s, size_t len);
/* transaction_id: 1..32 of A-Z a-z 0-9. */
bool wxpay_transaction_id_valid(const char *s, size_t len);
/* openid: 1..128 of A-Z a-z 0-9 _ -. */
bool wxpay_openid_valid(const char *s, size_t len);
/* prepay_id: 1..64 of A-Z a-z 0-9 _ -. */
bool wxpay_prepay_id_valid(const char *s, size_t len);
/* A nonce in a header: 1..64 printable ASCII without space (so no newline). */
bool wxpay_nonce_valid(const char *s, size_t len);
/* An error code: 1..32 of A-Z 0-9 _. */
bool wxpay_code_valid(const char *s, size_t len);
/* description: 1..127 characters of well-formed UTF-8 without control characters. */
bool wxpay_description_valid(const char *s, size_t len);

#endif
