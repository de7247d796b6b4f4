/* wxpay_http: one exchange with WeChat Pay over libcurl (see wxpay_http.h). */

#include "wxpay_http.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "wxpay_json.h"

struct sink {
    struct wxpay_http_answer *a;
    bool too_large;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    size_t n = size * nmemb;
    if (dynbuf_add(&s->a->body, data, n)) {
        s->too_large = true;
        return 0; /* stops the transfer */
    }
    return n;
}

static void keep_header(struct wxpay_http_header *h, const char *v, size_t n)
{
    if (h->seen || n >= sizeof(h->value)) {
        /* A repeated or oversized header is no header: the signature check then fails. */
        h->valid = false;
        h->value[0] = '\0';
        h->seen = true;
        return;
    }
    memcpy(h->value, v, n);
    h->value[n] = '\0';
    h->valid = !memchr(v, '\0', n);
    h->seen = true;
}

static void forget_headers(struct wxpay_http_answer *a)
{
    memset(&a->timestamp, 0, sizeof(a->timestamp));
    memset(&a->nonce, 0, sizeof(a->nonce));
    memset(&a->signature, 0, sizeof(a->signature));
    memset(&a->serial, 0, sizeof(a->serial));
    memset(&a->request_id, 0, sizeof(a->request_id));
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    size_t n = size * nmemb;
    /* A status line starts a new set of headers (after a 100 Continue, say). */
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        forget_headers(s->a);
        return n;
    }
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {"Wechatpay-Timestamp", offsetof(struct wxpay_http_answer, timestamp)},
        {"Wechatpay-Nonce", offsetof(struct wxpay_http_answer, nonce)},
        {"Wechatpay-Signature", offsetof(struct wxpay_http_answer, signature)},
        {"Wechatpay-Serial", offsetof(struct wxpay_http_answer, serial)},
        {"Request-ID", offsetof(struct wxpay_http_answer, request_id)},
    };
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        if (strlen(wanted[i].name) != name_len || strncasecmp(line, wanted[i].name, name_len))
            continue;
        const char *v = colon + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        keep_header((struct wxpay_http_header *)((char *)s->a + wanted[i].offset), v,
                    (size_t)(end - v));
    }
    return n;
}

int wxpay_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void wxpay_http_global_cleanup(void)
{
    curl_global_cleanup();
}

enum wxpay_error wxpay_http_call(const char *url, const char *method, const char *authorization,
                                 const char *body, size_t len, struct wxpay_http_answer *ret,
                                 char detail[WXPAY_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    dynbuf_init(&ret->body, WXPAY_BODY_MAX);
    if (detail)
        detail[0] = '\0';
    struct sink sink = {.a = ret, .too_large = false};
    struct curl_slist *headers = NULL, *more;
    struct dynbuf auth;
    dynbuf_init(&auth, 4096);
    enum wxpay_error e = WXPAY_NOMEM;
    CURL *h = curl_easy_init();
    if (!h || dynbuf_addf(&auth, "Authorization: %s", authorization))
        goto out;
    static const char *const fixed[] = {
        "Accept: application/json", "Content-Type: application/json",
        "Expect:", /* no 100 Continue round trip */
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (!(more = curl_slist_append(headers, fixed[i])))
            goto out;
        headers = more;
    }
    if (!(more = curl_slist_append(headers, auth.buf)))
        goto out;
    headers = more;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http"); /* http only to loopback: wxpay_new */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in many threads */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)WXPAY_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WXPAY_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)WXPAY_BODY_MAX);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "meter-server");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    CURLcode rc = curl_easy_perform(h);
    if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "WeChat Pay's answer is larger than %d bytes",
                     WXPAY_BODY_MAX);
        e = WXPAY_BAD_ANSWER;
        goto out;
    }
    if (rc != CURLE_OK) {
        if (detail)
            snprintf(detail, WXPAY_ERR_LEN, "cannot reach WeChat Pay: %s", curl_easy_strerror(rc));
        e = WXPAY_UNREACHABLE;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
    e = WXPAY_OK;
out:
    curl_slist_free_all(headers);
    if (h)
        curl_easy_cleanup(h);
    dynbuf_free(&auth);
    return e;
}

void wxpay_http_answer_free(struct wxpay_http_answer *a)
{
    if (a)
        dynbuf_free(&a->body);
}
