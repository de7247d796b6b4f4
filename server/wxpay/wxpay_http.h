/*
 * wxpay_http: one HTTPS exchange with WeChat Pay's API over libcurl; the
 * only file of the WeChat Pay module that includes curl/curl.h.
 *
 * It sends what the caller signed and hands back the status, the body
 * (capped at WXPAY_BODY_MAX) and the Wechatpay-* headers as they came; it
 * believes nothing: checking the signature is the caller's (wxpay.c) job.
 * HTTPS with certificate and host checks (the system's CA store), no
 * redirects, a 10 s overall timeout; http:// only to a loopback base URL,
 * which wxpay_new() enforces. Never logs.
 */
#ifndef SMARTMETER_WXPAY_HTTP_H
#define SMARTMETER_WXPAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "dynbuf.h"
#include "wxpay_crypto.h"
#include "wxpay_fields.h"

#define WXPAY_TIMEOUT_MS 10000

/* One header's value as received; valid is false when absent, repeated or too long. */
struct wxpay_http_header {
    char value[WXPAY_SIG_B64_MAX + 1];
    bool valid;
    bool seen;
};

struct wxpay_http_answer {
    long status;
    struct wxpay_http_header timestamp, nonce, signature, serial;
    struct wxpay_http_header request_id; /* Request-ID, for the log and WeChat Pay's support */
    struct dynbuf body;                  /* wxpay_http_answer_free() */
};

/* Initialises libcurl; once, before threads start. Returns 0 or -ENOMEM. */
int wxpay_http_global_init(void);
void wxpay_http_global_cleanup(void);

/*
 * Sends method ("GET" or "POST") to url with the Authorization header
 * authorization and, for a POST, the JSON body[0..len). Blocks for at most
 * about WXPAY_TIMEOUT_MS. Returns WXPAY_OK with *ret filled in (whatever the
 * status), WXPAY_UNREACHABLE (DNS, connect, TLS, timeout; detail says which),
 * WXPAY_BAD_ANSWER (a body larger than WXPAY_BODY_MAX) or WXPAY_NOMEM.
 * Free *ret with wxpay_http_answer_free() in every case.
 */
enum wxpay_error wxpay_http_call(const char *url, const char *method, const char *authorization,
                                 const char *body, size_t len, struct wxpay_http_answer *ret,
                                 char detail[WXPAY_ERR_LEN]);
void wxpay_http_answer_free(struct wxpay_http_answer *a);

#endif
