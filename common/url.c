#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>

int url_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into out (size outlen). */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            int h = url_hex_value(s[i + 1]), l = url_hex_value(s[i + 2]);
            if (h < 0 || l < 0)
                return -EINVAL;
            c = (char)(h * 16 + l);
            if (c == '\0')
                return -EINVAL;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -E2BIG;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/*
 * s for an error message, which reaches logs: "user:password@" (up to the last '@' of the
 * authority, or of the whole text when it has no "://") written as "***@".
 */
static void redact(const char *s, char *out, size_t outlen)
{
    const char *sep = strstr(s, "://");
    const char *auth = sep && sep != s ? sep + 3 : s;
    const char *end = auth == s ? s + strlen(s) : auth + strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (at)
        snprintf(out, outlen, "%.*s***%s", (int)(auth - s), s, at);
    else
        snprintf(out, outlen, "%s", s);
}

int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
    char shown[256];
    memset(u, 0, sizeof(*u));
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof(u->scheme)) {
        redact(s, shown, sizeof(shown));
        snprintf(err, errlen, "'%s' is not a URL (expected scheme://host...)", shown);
        return -EINVAL;
    }
    for (const char *p = s; p < sep; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') {
            snprintf(err, errlen, "bad URL scheme in '%.*s'", (int)(sep - s), s);
            return -EINVAL;
        }
        u->scheme[p - s] = (char)tolower((unsigned char)*p);
    }
    const char *auth = sep + 3;
    const char *end_auth = auth + strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *p = auth; p < end_auth; p++)
        if (*p == '@')
            at = p;
    const char *hostport = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *user_end = colon ? colon : at;
        if (decode(auth, (size_t)(user_end - auth), u->user, sizeof(u->user))) {
            snprintf(err, errlen, "bad user name in URL");
            return -EINVAL;
        }
        if (colon) {
            u->has_password = true;
            if (decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof(u->password))) {
                snprintf(err, errlen, "bad password encoding in URL");
                return -EINVAL;
            }
        }
        hostport = at + 1;
    }
    const char *port_colon = NULL;
    const char *host_start = hostport, *host_end;
    if (*hostport == '[') {
        const char *rb = memchr(hostport, ']', (size_t)(end_auth - hostport));
        if (!rb) {
            snprintf(err, errlen, "unterminated '[' in URL host");
            return -EINVAL;
        }
        host_start = hostport + 1;
        host_end = rb;
        if (rb + 1 < end_auth) {
            if (rb[1] != ':') {
                snprintf(err, errlen, "unexpected text after ']' in URL host");
                return -EINVAL;
            }
            port_colon = rb + 1;
        }
    } else {
        port_colon = memchr(hostport, ':', (size_t)(end_auth - hostport));
        host_end = port_colon ? port_colon : end_auth;
    }
    size_t hlen = (size_t)(host_end - host_start);
    if (hlen == 0 || hlen >= sizeof(u->host)) {
        snprintf(err, errlen, "URL has no host");
        return -EINVAL;
    }
    memcpy(u->host, host_start, hlen);
    u->host[hlen] = '\0';
    if (port_colon) {
        const char *p = port_colon + 1;
        long port = 0;
        if (p == end_auth) {
            snprintf(err, errlen, "URL has an empty port");
            return -EINVAL;
        }
        for (; p < end_auth; p++) {
            if (!isdigit((unsigned char)*p) || port > 65535) {
                snprintf(err, errlen, "bad port in URL");
                return -EINVAL;
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            snprintf(err, errlen, "port out of range 1..65535 in URL");
            return -EINVAL;
        }
        u->port = (int)port;
    }
    const char *rest = end_auth;
    if (*rest == '/') {
        size_t plen = strcspn(rest + 1, "?");
        if (decode(rest + 1, plen, u->path, sizeof(u->path))) {
            snprintf(err, errlen, "bad path in URL");
            return -EINVAL;
        }
        rest += 1 + plen;
    }
    if (*rest == '?') {
        if (strlen(rest + 1) >= sizeof(u->query)) {
            snprintf(err, errlen, "URL query too long");
            return -EINVAL;
        }
        strcpy(u->query, rest + 1);
    }
    return 0;
}

int url_parse_mqtt(const char *s, struct url *u, char *err, size_t errlen)
{
    char inner[200], shown[256];
    int r = url_parse(s, u, inner, sizeof(inner));
    if (r) {
        snprintf(err, errlen, "bad MQTT URL: %s", inner);
        return r;
    }
    if (strcmp(u->scheme, "tcp") == 0 || strcmp(u->scheme, "mqtt") == 0) {
        if (!u->port)
            u->port = 1883;
    } else if (url_mqtt_tls(u)) {
        if (!u->port)
            u->port = 8883;
    } else {
        redact(s, shown, sizeof(shown));
        snprintf(err, errlen, "bad MQTT URL '%s': scheme must be tcp:// or ssl://", shown);
        return -EINVAL;
    }
    if (u->path[0] || u->query[0]) {
        redact(s, shown, sizeof(shown));
        snprintf(err, errlen, "bad MQTT URL '%s': no path or query expected", shown);
        return -EINVAL;
    }
    return 0;
}

bool url_mqtt_tls(const struct url *u)
{
    return strcmp(u->scheme, "ssl") == 0 || strcmp(u->scheme, "mqtts") == 0;
}

int url_with_password(const char *url, const char *password, char **ret, char *err, size_t errlen)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : NULL;
    const char *end = host ? host + strcspn(host, "/?") : NULL;
    const char *at = NULL;
    for (const char *p = host; p && p < end; p++)
        if (*p == '@')
            at = p;
    if (!at || at == host) {
        snprintf(err, errlen, "a password from a file needs a user name in the URL (%s)",
                 "scheme://USER@HOST/...");
        return -EINVAL;
    }
    if (memchr(host, ':', (size_t)(at - host))) {
        snprintf(err, errlen, "the URL already holds a password: give it in one place only");
        return -EINVAL;
    }
    size_t plen = strlen(password), n = (size_t)(at - url);
    char *out = malloc(strlen(url) + 3 * plen + 2);
    if (!out)
        return -ENOMEM;
    memcpy(out, url, n);
    out[n++] = ':';
    for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) {
            out[n++] = (char)*p;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    memcpy(out + n, at, strlen(at) + 1);
    *ret = out;
    return 0;
}

void url_clear(struct url *u)
{
    volatile char *p = u->password;
    for (size_t i = 0; i < sizeof(u->password); i++)
        p[i] = 0;
}
