/*
 * The client allow-list of mms.h: addresses and CIDR blocks, IPv4 and IPv6;
 * an IPv4 client reaching an IPv6 socket (::ffff:a.b.c.d) matches its IPv4
 * entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mms.h"

static int parse_one(const char *item, size_t len, struct mms_allow *a, char *err, size_t errlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "mms_allow: '%.*s' is not an address or CIDR", (int)len, item);
        return -EINVAL;
    }
    if (a->n >= MMS_ALLOW_MAX) {
        snprintf(err, errlen, "mms_allow: more than %d entries", MMS_ALLOW_MAX);
        return -EINVAL;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        prefix = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || prefix < 0)
            prefix = 999;
    }
    unsigned i = a->n;
    if (inet_pton(AF_INET, buf, a->e[i].addr) == 1) {
        a->e[i].family = AF_INET;
        if (prefix < 0)
            prefix = 32;
        if (prefix > 32)
            goto bad;
    } else if (inet_pton(AF_INET6, buf, a->e[i].addr) == 1) {
        a->e[i].family = AF_INET6;
        if (prefix < 0)
            prefix = 128;
        if (prefix > 128)
            goto bad;
    } else {
        goto bad;
    }
    a->e[i].prefix = (unsigned)prefix;
    a->n++;
    return 0;
bad:
    snprintf(err, errlen, "mms_allow: '%.*s' is not an address or CIDR", (int)len, item);
    return -EINVAL;
}

int mms_allow_parse(const char *spec, struct mms_allow *ret, char *err, size_t errlen)
{
    struct mms_allow a = {.n = 0};
    const char *p = spec ? spec : "";
    while (*p == ' ')
        p++;
    while (*p) { /* items between commas, none of them empty */
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        int r = parse_one(p, len, &a, err, errlen);
        if (r)
            return r;
        if (!end)
            break;
        p = end + 1;
        while (*p == ' ')
            p++;
        if (!*p)
            return parse_one(p, 0, &a, err, errlen);
    }
    *ret = a;
    return 0;
}

static bool prefix_match(const uint8_t *x, const uint8_t *y, unsigned bits)
{
    size_t bytes = bits / 8;
    if (memcmp(x, y, bytes) != 0)
        return false;
    unsigned rest = bits % 8;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (x[bytes] & mask) == (y[bytes] & mask);
}

bool mms_allow_check(const struct mms_allow *a, const struct sockaddr *peer)
{
    if (a->n == 0)
        return true;
    uint8_t v4[4], v6[16];
    bool has4 = false, has6 = false;
    if (peer->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
        has4 = true;
    } else if (peer->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
        memcpy(v6, in6, 16);
        has6 = true;
        if (IN6_IS_ADDR_V4MAPPED(in6)) {
            memcpy(v4, v6 + 12, 4);
            has4 = true;
        }
    }
    for (unsigned i = 0; i < a->n; i++) {
        if (a->e[i].family == AF_INET && has4 && prefix_match(v4, a->e[i].addr, a->e[i].prefix))
            return true;
        if (a->e[i].family == AF_INET6 && has6 && prefix_match(v6, a->e[i].addr, a->e[i].prefix))
            return true;
    }
    return false;
}
