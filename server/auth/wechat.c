/* wechat: code2Session over libcurl (see wechat.h). */

#include "wechat.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "dynbuf.h"
#include "jsonutil.h"
#include "url.h"

/* Calls to WeChat block an HTTP worker each; past this many at once we answer 503 at once. */
#define WECHAT_MAX_INFLIGHT 16
#define WECHAT_URL_MAX      2048

struct wechat {
    char api_base[512];
    char appid[WECHAT_APPID_MAX + 1];
    char secret[WECHAT_SECRET_MAX + 1];
    atomic_int inflight;
};

static void wipe(void *p, size_t len)
{
    explicit_bzero(p, len);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool appid_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!is_alnum(s[n]) || n >= WECHAT_APPID_MAX)
            return false;
    return n > 0;
}

/* Printable ASCII without space, 1..max bytes. */
static bool token_valid(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] <= ' ' || s[n] > '~' || n >= max)
            return false;
    return n > 0;
}

bool wechat_code_valid(const char *code)
{
    return code && token_valid(code, WECHAT_CODE_MAX);
}

static bool openid_valid(const char *s, size_t len)
{
    if (len == 0 || len > WECHAT_OPENID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static bool loopback_host(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* https://HOST[:PORT][/PATH], or http:// to a loopback host; no user, password or query. */
static int check_api_base(const char *base, char *err)
{
    struct url u;
    char uerr[160];
    if (url_parse(base, &u, uerr, sizeof(uerr))) {
        snprintf(err, WECHAT_ERR_LEN, "wechat_api_base: %s", uerr);
        return -EINVAL;
    }
    bool https = strcmp(u.scheme, "https") == 0;
    bool local_http = strcmp(u.scheme, "http") == 0 && loopback_host(u.host);
    bool plain = !u.user[0] && !u.has_password && !u.query[0] && u.host[0];
    url_clear(&u);
    if (!https && !local_http) {
        snprintf(err, WECHAT_ERR_LEN,
                 "wechat_api_base must be https://HOST (http:// only to a loopback address)");
        return -EINVAL;
    }
    if (!plain) {
        snprintf(err, WECHAT_ERR_LEN, "wechat_api_base must be a plain https://HOST[:PORT][/PATH]");
        return -EINVAL;
    }
    return 0;
}

int wechat_new(const struct wechat_options *o, struct wechat **ret, char err[WECHAT_ERR_LEN])
{
    const char *base = o->api_base ? o->api_base : WECHAT_DEFAULT_API_BASE;
    if (!o->appid || !appid_valid(o->appid)) {
        snprintf(err, WECHAT_ERR_LEN, "wechat_appid must be 1 to %d letters and digits",
                 WECHAT_APPID_MAX);
        return -EINVAL;
    }
    if (!o->secret || !token_valid(o->secret, WECHAT_SECRET_MAX)) {
        snprintf(err, WECHAT_ERR_LEN,
                 "the WeChat app secret (wechat_secret_file) must be 1 to %d printable "
                 "characters without spaces",
                 WECHAT_SECRET_MAX);
        return -EINVAL;
    }
    if (check_api_base(base, err))
        return -EINVAL;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    struct wechat *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    if (blen >= sizeof(w->api_base)) {
        free(w);
        snprintf(err, WECHAT_ERR_LEN, "wechat_api_base is too long");
        return -EINVAL;
    }
    memcpy(w->api_base, base, blen);
    snprintf(w->appid, sizeof(w->appid), "%s", o->appid);
    snprintf(w->secret, sizeof(w->secret), "%s", o->secret);
    atomic_init(&w->inflight, 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        wipe(w, sizeof(*w));
        free(w);
        snprintf(err, WECHAT_ERR_LEN, "cannot initialise libcurl");
        return -ENOMEM;
    }
    *ret = w;
    return 0;
}

void wechat_free(struct wechat *w)
{
    if (!w)
        return;
    wipe(w, sizeof(*w));
    free(w);
    curl_global_cleanup();
}

enum wechat_error wechat_error_from_errcode(long errcode)
{
    switch (errcode) {
    case 0:
        return WECHAT_OK;
    case 40029: /* invalid code */
    case 40163: /* code been used */
        return WECHAT_CODE_INVALID;
    case 40226: /* high-risk user, login blocked */
        return WECHAT_BLOCKED;
    case -1: /* system busy */
        return WECHAT_BUSY;
    case 45011: /* API minute quota reached */
        return WECHAT_RATE_LIMITED;
    case 40013: /* invalid appid */
    case 40125: /* invalid appsecret */
    case 41002: /* appid missing */
    case 41004: /* appsecret missing */
        return WECHAT_CONFIG;
    default:
        return WECHAT_REFUSED;
    }
}

static enum wechat_error bad(char *detail, const char *what)
{
    if (detail)
        snprintf(detail, WECHAT_ERR_LEN, "unusable answer from WeChat: %s", what);
    return WECHAT_BAD_ANSWER;
}

enum wechat_error wechat_parse_answer(const char *body, size_t len, struct wechat_session *ret,
                                      char detail[WECHAT_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    if (detail)
        detail[0] = '\0';
    if (len > WECHAT_ANSWER_MAX)
        return bad(detail, "too large");
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN];
    /* Depth 1: a flat object. Duplicate keys are refused by json_load_limited. */
    if (json_load_limited(body, len, 1, &root, jerr))
        return bad(detail, "not JSON");
    enum wechat_error e = WECHAT_OK;
    if (!json_is_object(root)) {
        e = bad(detail, "not a JSON object");
        goto out;
    }
    json_t *errcode = json_object_get(root, "errcode");
    json_t *errmsg = json_object_get(root, "errmsg");
    json_t *openid = json_object_get(root, "openid");
    json_t *session_key = json_object_get(root, "session_key");
    json_t *unionid = json_object_get(root, "unionid");
    if (errcode && !json_is_integer(errcode)) {
        e = bad(detail, "errcode is not an integer");
        goto out;
    }
    if ((errmsg && !json_is_string(errmsg)) || (session_key && !json_is_string(session_key)) ||
        (unionid && !json_is_string(unionid))) {
        e = bad(detail, "errmsg, session_key or unionid is not a string");
        goto out;
    }
    long code = 0;
    if (errcode) {
        /* Far outside any code WeChat uses: kept in range for the log, mapped to "refused". */
        json_int_t v = json_integer_value(errcode);
        code = v < -1000000 || v > 1000000 ? 999999 : (long)v;
    }
    if (code != 0) {
        ret->errcode = code;
        e = wechat_error_from_errcode(code);
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "WeChat errcode %ld", code);
        goto out;
    }
    if (!openid || !json_is_string(openid)) {
        e = bad(detail, "no openid");
        goto out;
    }
    if (!openid_valid(json_string_value(openid), json_string_length(openid))) {
        e = bad(detail, "openid is not 1 to 64 of A-Z a-z 0-9 _ -");
        goto out;
    }
    memcpy(ret->openid, json_string_value(openid), json_string_length(openid));
    ret->openid[json_string_length(openid)] = '\0';
out:
    json_decref(root);
    return e;
}

struct sink {
    struct dynbuf body;
    bool too_large;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    size_t n = size * nmemb;
    if (dynbuf_add(&s->body, data, n)) {
        s->too_large = true;
        return 0; /* stops the transfer */
    }
    return n;
}

/* Appends "&name=value" (value escaped) to url; false when it does not fit. */
static bool add_param(CURL *h, char *url, size_t cap, const char *name, const char *value)
{
    char *esc = curl_easy_escape(h, value, 0);
    if (!esc)
        return false;
    size_t used = strlen(url);
    int n = snprintf(url + used, cap - used, "%s%s=%s", strchr(url, '?') ? "&" : "?", name, esc);
    wipe(esc, strlen(esc));
    curl_free(esc);
    return n > 0 && (size_t)n < cap - used;
}

static enum wechat_error unreachable(char *detail, CURLcode rc)
{
    /* curl_easy_strerror names the failure without the URL (which holds the secret). */
    if (detail)
        snprintf(detail, WECHAT_ERR_LEN, "cannot reach WeChat: %s", curl_easy_strerror(rc));
    return WECHAT_UNREACHABLE;
}

static enum wechat_error exchange(struct wechat *w, CURL *h, const char *code,
                                  struct wechat_session *ret, char *detail)
{
    char url[WECHAT_URL_MAX];
    struct sink sink = {.too_large = false};
    enum wechat_error e;
    dynbuf_init(&sink.body, WECHAT_ANSWER_MAX);
    snprintf(url, sizeof(url), "%s/sns/jscode2session", w->api_base);
    if (!add_param(h, url, sizeof(url), "appid", w->appid) ||
        !add_param(h, url, sizeof(url), "secret", w->secret) ||
        !add_param(h, url, sizeof(url), "js_code", code) ||
        !add_param(h, url, sizeof(url), "grant_type", "authorization_code")) {
        e = WECHAT_NOMEM;
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                     "https,http"); /* http only to loopback: wechat_new */
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in many threads */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)WECHAT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WECHAT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)WECHAT_ANSWER_MAX);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "meter-server");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);

    CURLcode rc = curl_easy_perform(h);
    if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        e = bad(detail, "too large");
        goto out;
    }
    if (rc != CURLE_OK) {
        e = unreachable(detail, rc);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 500) {
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "WeChat answered HTTP %ld", status);
        e = WECHAT_UNREACHABLE;
        goto out;
    }
    if (status != 200) {
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "unusable answer from WeChat: HTTP %ld", status);
        e = WECHAT_BAD_ANSWER;
        goto out;
    }
    e = wechat_parse_answer(dynbuf_str(&sink.body), sink.body.len, ret, detail);
out:
    wipe(url, sizeof(url));
    if (sink.body.buf)
        wipe(sink.body.buf, sink.body.len); /* it held the session_key */
    dynbuf_free(&sink.body);
    return e;
}

enum wechat_error wechat_code2session(struct wechat *w, const char *code,
                                      struct wechat_session *ret, char detail[WECHAT_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    if (detail)
        detail[0] = '\0';
    if (!wechat_code_valid(code)) {
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "malformed code");
        return WECHAT_CODE_INVALID;
    }
    if (atomic_fetch_add(&w->inflight, 1) >= WECHAT_MAX_INFLIGHT) {
        atomic_fetch_sub(&w->inflight, 1);
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "%d calls to WeChat already in progress",
                     WECHAT_MAX_INFLIGHT);
        return WECHAT_OVERLOADED;
    }
    enum wechat_error e = WECHAT_NOMEM;
    CURL *h = curl_easy_init();
    if (h) {
        e = exchange(w, h, code, ret, detail);
        curl_easy_cleanup(h);
    }
    atomic_fetch_sub(&w->inflight, 1);
    return e;
}

/* How each error reaches our API's client; indexed by enum wechat_error. */
static const struct {
    int status;
    int retry_after_s;
    const char *message;
} error_answers[] = {
    [WECHAT_OK] = {200, 0, "ok"},
    [WECHAT_CODE_INVALID] = {401, 0, "invalid or expired WeChat login code; call wx.login again"},
    [WECHAT_BLOCKED] = {403, 0,
                        "WeChat refused this login (the WeChat account is under a security "
                        "restriction)"},
    [WECHAT_BUSY] = {503, 5, "WeChat is busy; try again shortly"},
    [WECHAT_RATE_LIMITED] = {503, 60, "too many WeChat logins right now; try again in a minute"},
    [WECHAT_UNREACHABLE] = {503, 5, "cannot reach WeChat; try again shortly"},
    [WECHAT_BAD_ANSWER] = {502, 0, "WeChat gave an unusable answer; try again shortly"},
    [WECHAT_CONFIG] = {502, 0, "WeChat login is misconfigured on this server"},
    [WECHAT_REFUSED] = {502, 0, "WeChat refused this login"},
    [WECHAT_NOMEM] = {500, 0, "internal error"},
    [WECHAT_OVERLOADED] = {503, 5, "too many WeChat logins in progress; try again shortly"},
};

int wechat_error_status(enum wechat_error e, const char **ret_message, int *ret_retry_after_s)
{
    if ((unsigned)e >= sizeof(error_answers) / sizeof(error_answers[0]))
        e = WECHAT_NOMEM;
    if (ret_message)
        *ret_message = error_answers[e].message;
    if (ret_retry_after_s)
        *ret_retry_after_s = error_answers[e].retry_after_s;
    return error_answers[e].status;
}

const char *wechat_error_name(enum wechat_error e)
{
    static const char *const names[] = {
        [WECHAT_OK] = "ok",
        [WECHAT_CODE_INVALID] = "invalid code",
        [WECHAT_BLOCKED] = "user blocked by WeChat",
        [WECHAT_BUSY] = "WeChat busy",
        [WECHAT_RATE_LIMITED] = "WeChat rate limit",
        [WECHAT_UNREACHABLE] = "WeChat unreachable",
        [WECHAT_BAD_ANSWER] = "bad answer",
        [WECHAT_CONFIG] = "appid or secret refused",
        [WECHAT_REFUSED] = "refused",
        [WECHAT_NOMEM] = "out of memory",
        [WECHAT_OVERLOADED] = "overloaded",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) && names[e] ? names[e] : "?";
}

/* --- Server-side calls (wechat.h "Server-side calls") --- */

/* One call: GET url, or POST body as JSON; the answer's body (HTTP 200, capped) in *ret. */
static enum wechat_error call(const char *url, const char *body, struct dynbuf *ret, char *detail)
{
    struct sink sink = {.too_large = false};
    enum wechat_error e;
    struct curl_slist *headers = NULL;
    dynbuf_init(&sink.body, WECHAT_ANSWER_MAX);
    CURL *h = curl_easy_init();
    if (!h)
        return WECHAT_NOMEM;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http"); /* http only to loopback */
    if (body) {
        headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (!headers) {
            e = WECHAT_NOMEM;
            goto out;
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)WECHAT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WECHAT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)WECHAT_ANSWER_MAX);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "meter-server");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(h);
    if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        e = bad(detail, "too large");
        goto out;
    }
    if (rc != CURLE_OK) {
        e = unreachable(detail, rc);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "WeChat answered HTTP %ld", status);
        e = status >= 500 ? WECHAT_UNREACHABLE : WECHAT_BAD_ANSWER;
        goto out;
    }
    *ret = sink.body;
    sink.body = (struct dynbuf){0};
    e = WECHAT_OK;
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (sink.body.buf)
        wipe(sink.body.buf, sink.body.len);
    dynbuf_free(&sink.body);
    return e;
}

/* The answer as a flat JSON object, and WeChat's errcode in it (0 when absent). */
static enum wechat_error answer_object(const char *body, size_t len, json_t **ret_root,
                                       long *ret_errcode, char *detail)
{
    char jerr[JSON_ERR_LEN];
    *ret_root = NULL;
    *ret_errcode = 0;
    if (len > WECHAT_ANSWER_MAX)
        return bad(detail, "too large");
    if (json_load_limited(body, len, 1, ret_root, jerr) || !json_is_object(*ret_root)) {
        json_decref(*ret_root);
        *ret_root = NULL;
        return bad(detail, "not a JSON object");
    }
    json_t *ec = json_object_get(*ret_root, "errcode");
    if (ec && !json_is_integer(ec)) {
        json_decref(*ret_root);
        *ret_root = NULL;
        return bad(detail, "errcode is not an integer");
    }
    if (ec) {
        json_int_t v = json_integer_value(ec);
        *ret_errcode = v < -1000000 || v > 1000000 ? 999999 : (long)v;
    }
    if (*ret_errcode) {
        if (detail)
            snprintf(detail, WECHAT_ERR_LEN, "WeChat errcode %ld", *ret_errcode);
        json_decref(*ret_root);
        *ret_root = NULL;
        return wechat_error_from_errcode(*ret_errcode);
    }
    return WECHAT_OK;
}

enum wechat_error wechat_parse_token_answer(const char *body, size_t len,
                                            char token[WECHAT_TOKEN_MAX + 1], long *ret_expires_s,
                                            long *ret_errcode, char detail[WECHAT_ERR_LEN])
{
    json_t *root;
    if (detail)
        detail[0] = '\0';
    enum wechat_error e = answer_object(body, len, &root, ret_errcode, detail);
    if (e)
        return e;
    json_t *tok = json_object_get(root, "access_token");
    json_t *exp = json_object_get(root, "expires_in");
    if (!json_is_string(tok) || json_string_length(tok) == 0 ||
        json_string_length(tok) > WECHAT_TOKEN_MAX ||
        strlen(json_string_value(tok)) != json_string_length(tok) ||
        !token_valid(json_string_value(tok), WECHAT_TOKEN_MAX) || !json_is_integer(exp) ||
        json_integer_value(exp) <= 0 || json_integer_value(exp) > 86400 * 30) {
        e = bad(detail, "no usable access_token and expires_in");
    } else {
        memcpy(token, json_string_value(tok), json_string_length(tok) + 1);
        *ret_expires_s = (long)json_integer_value(exp);
    }
    json_decref(root);
    return e;
}

enum wechat_error wechat_parse_send_answer(const char *body, size_t len, long *ret_errcode,
                                           char detail[WECHAT_ERR_LEN])
{
    json_t *root;
    if (detail)
        detail[0] = '\0';
    enum wechat_error e = answer_object(body, len, &root, ret_errcode, detail);
    json_decref(root);
    return e;
}

enum wechat_error wechat_access_token(struct wechat *w, char token[WECHAT_TOKEN_MAX + 1],
                                      long *ret_expires_s, long *ret_errcode,
                                      char detail[WECHAT_ERR_LEN])
{
    char url[WECHAT_URL_MAX];
    struct dynbuf answer = {0};
    *ret_errcode = 0;
    if (detail)
        detail[0] = '\0';
    CURL *h = curl_easy_init(); /* for the escaping only */
    if (!h)
        return WECHAT_NOMEM;
    snprintf(url, sizeof(url), "%s/cgi-bin/token", w->api_base);
    bool ok = add_param(h, url, sizeof(url), "grant_type", "client_credential") &&
              add_param(h, url, sizeof(url), "appid", w->appid) &&
              add_param(h, url, sizeof(url), "secret", w->secret);
    curl_easy_cleanup(h);
    enum wechat_error e = ok ? call(url, NULL, &answer, detail) : WECHAT_NOMEM;
    wipe(url, sizeof(url));
    if (!e)
        e = wechat_parse_token_answer(dynbuf_str(&answer), answer.len, token, ret_expires_s,
                                      ret_errcode, detail);
    if (answer.buf)
        wipe(answer.buf, answer.len); /* it held the token */
    dynbuf_free(&answer);
    return e;
}

enum wechat_error wechat_subscribe_send(struct wechat *w, const char *token, const char *body,
                                        long *ret_errcode, char detail[WECHAT_ERR_LEN])
{
    char url[WECHAT_URL_MAX];
    struct dynbuf answer = {0};
    *ret_errcode = 0;
    if (detail)
        detail[0] = '\0';
    CURL *h = curl_easy_init();
    if (!h)
        return WECHAT_NOMEM;
    snprintf(url, sizeof(url), "%s/cgi-bin/message/subscribe/send", w->api_base);
    bool ok = add_param(h, url, sizeof(url), "access_token", token);
    curl_easy_cleanup(h);
    enum wechat_error e = ok ? call(url, body, &answer, detail) : WECHAT_NOMEM;
    wipe(url, sizeof(url));
    if (!e)
        e = wechat_parse_send_answer(dynbuf_str(&answer), answer.len, ret_errcode, detail);
    dynbuf_free(&answer);
    return e;
}
