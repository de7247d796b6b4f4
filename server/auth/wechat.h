/*
 * wechat: the server's client of WeChat's mini program login API,
 * code2Session (GET <api_base>/sns/jscode2session). The only file that
 * includes curl/curl.h; the rest of the server sees this interface.
 *
 * A mini program calls wx.login and sends us the one-time code; we exchange
 * it here for the user's openid. The app secret goes to WeChat and nowhere
 * else, and the session_key WeChat answers is dropped at once: neither is
 * returned, stored or logged. Like the rest of our library code, this module
 * never logs; the caller logs once.
 *
 * Calls go over HTTPS with certificate and host checks (the system's CA
 * store), a 5 s overall timeout, no redirects, and an answer capped at
 * WECHAT_ANSWER_MAX bytes, validated strictly before anything is believed.
 * Plain http:// is accepted only for a loopback api_base (a stand-in in
 * tests).
 */
#ifndef SMARTMETER_WECHAT_H
#define SMARTMETER_WECHAT_H

#include <stdbool.h>
#include <stddef.h>

#define WECHAT_DEFAULT_API_BASE "https://api.weixin.qq.com"
#define WECHAT_APPID_MAX        64
#define WECHAT_SECRET_MAX       128
#define WECHAT_OPENID_MAX       64
#define WECHAT_CODE_MAX         128
#define WECHAT_ANSWER_MAX       16384 /* bytes; a real answer is about 150 */
#define WECHAT_TIMEOUT_MS       5000
#define WECHAT_ERR_LEN          256

/* What went wrong, from the caller's point of view. */
enum wechat_error {
    WECHAT_OK = 0,
    WECHAT_CODE_INVALID, /* 40029 invalid code, 40163 code already used: the user's fault */
    WECHAT_BLOCKED,      /* 40226: WeChat refuses this (high-risk) user's logins */
    WECHAT_BUSY,         /* -1: WeChat is busy, try again */
    WECHAT_RATE_LIMITED, /* 45011: our app's quota is exhausted for now */
    WECHAT_UNREACHABLE,  /* DNS, connect, TLS, timeout, or a 5xx from WeChat */
    WECHAT_BAD_ANSWER,   /* not JSON, too large, no sane openid, unexpected HTTP status */
    WECHAT_CONFIG,       /* 40013 invalid appid, 40125 invalid secret, 41002/41004 missing */
    WECHAT_REFUSED,      /* any other errcode */
    WECHAT_NOMEM,
    WECHAT_OVERLOADED, /* too many calls to WeChat in progress at once */
};

struct wechat_options {
    const char *api_base; /* "https://api.weixin.qq.com", no trailing path */
    const char *appid;
    const char *secret; /* copied; the copy is wiped by wechat_free() */
};

/* What code2Session told us. session_key is never kept. */
struct wechat_session {
    char openid[WECHAT_OPENID_MAX + 1];
    long errcode; /* WeChat's errcode when it refused (else 0), for the log */
};

struct wechat;

/*
 * Checks the options (appid 1..64 of A-Z a-z 0-9, secret 1..128 printable
 * ASCII without spaces, api_base https:// or loopback http://) and creates a
 * client. Call before starting threads (it initialises libcurl). Returns 0,
 * -EINVAL with a message in err (never containing the secret), or -ENOMEM.
 */
int wechat_new(const struct wechat_options *o, struct wechat **ret, char err[WECHAT_ERR_LEN]);
/* Frees the client and wipes its copy of the secret. NULL is fine. */
void wechat_free(struct wechat *w);

/* True for a code we are willing to forward: 1..WECHAT_CODE_MAX printable ASCII, no space. */
bool wechat_code_valid(const char *code);

/*
 * Exchanges a wx.login code for the user's openid. Blocks for at most about
 * WECHAT_TIMEOUT_MS. Thread-safe. On failure *ret holds WeChat's errcode (if
 * any) and detail (optional, may be NULL) a short description for the log,
 * free of secrets.
 */
enum wechat_error wechat_code2session(struct wechat *w, const char *code,
                                      struct wechat_session *ret, char detail[WECHAT_ERR_LEN]);

/*
 * Parses the body of a code2Session answer (pure; the unit tests drive it).
 * Accepts exactly one JSON object: errcode (integer, optional, 0 = success),
 * errmsg (string, optional), openid (1..64 of A-Z a-z 0-9 _ -, required on
 * success), session_key and unionid (strings, optional, ignored). Anything
 * else is WECHAT_BAD_ANSWER.
 */
enum wechat_error wechat_parse_answer(const char *body, size_t len, struct wechat_session *ret,
                                      char detail[WECHAT_ERR_LEN]);

/* The error for a WeChat errcode (not 0). */
enum wechat_error wechat_error_from_errcode(long errcode);

/*
 * How our API answers an error: the HTTP status (401, 403, 502 or 503), a
 * message for the client, and the seconds for Retry-After (0: none).
 */
int wechat_error_status(enum wechat_error e, const char **ret_message, int *ret_retry_after_s);

/* A short name of the error for the log ("invalid code", "busy", ...). */
const char *wechat_error_name(enum wechat_error e);


/* --- Server-side calls: the access token and subscribe messages (alarm notifications) --- */

#define WECHAT_TOKEN_MAX 512

/*
 * Gets an access token for the app (GET <api_base>/cgi-bin/token with
 * grant_type=client_credential, appid and secret): token and its lifetime
 * in seconds. Blocks for at most about WECHAT_TIMEOUT_MS. *ret_errcode gets
 * WeChat's errcode when it refused (else 0).
 */
enum wechat_error wechat_access_token(struct wechat *w, char token[WECHAT_TOKEN_MAX + 1],
                                      long *ret_expires_s, long *ret_errcode,
                                      char detail[WECHAT_ERR_LEN]);

/*
 * Sends a subscribe message (POST
 * <api_base>/cgi-bin/message/subscribe/send?access_token=TOKEN with the JSON
 * body as built by the caller). WECHAT_OK when WeChat answered errcode 0;
 * otherwise *ret_errcode holds its errcode (40001/42001: the token is stale;
 * 43101: the user has not subscribed; 47003: a field breaks the template's
 * rules) and the error says whether to try again.
 */
enum wechat_error wechat_subscribe_send(struct wechat *w, const char *token, const char *body,
                                        long *ret_errcode, char detail[WECHAT_ERR_LEN]);

/*
 * The two answers parsed (pure; the unit tests and a fuzz harness drive
 * them): exactly one flat JSON object of at most WECHAT_ANSWER_MAX bytes;
 * errcode (integer, optional, 0 = success) and errmsg. The token's answer
 * also needs access_token (1..WECHAT_TOKEN_MAX printable ASCII without
 * spaces) and expires_in (1 s .. 30 days). Anything else is
 * WECHAT_BAD_ANSWER.
 */
enum wechat_error wechat_parse_token_answer(const char *body, size_t len,
                                            char token[WECHAT_TOKEN_MAX + 1], long *ret_expires_s,
                                            long *ret_errcode, char detail[WECHAT_ERR_LEN]);
enum wechat_error wechat_parse_send_answer(const char *body, size_t len, long *ret_errcode,
                                           char detail[WECHAT_ERR_LEN]);

#endif
