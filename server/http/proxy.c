#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ipaddr {
    int family;    /* AF_INET or AF_INET6 */
    uint8_t b[16]; /* network order; IPv4 uses the first 4 */
};

struct proxy_entry {
    struct ipaddr net; /* bits past the prefix are zero */
    unsigned bits;
};

struct proxy_list {
    size_t n;
    struct proxy_entry e[PROXY_LIST_MAX];
};

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses s[0..len); an IPv4-mapped IPv6 address becomes IPv4 (then *ret_mapped, if asked). */
static bool addr_parse(const char *s, size_t len, struct ipaddr *a, bool *ret_mapped)
{
    char buf[PROXY_ADDR_MAX];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(a, 0, sizeof(*a));
    bool mapped = false;
    if (inet_pton(AF_INET, buf, a->b) == 1) {
        a->family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, a->b) == 1) {
        a->family = AF_INET6;
        mapped = memcmp(a->b, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
        if (mapped) {
            memmove(a->b, a->b + 12, 4);
            memset(a->b + 4, 0, 12);
            a->family = AF_INET;
        }
    } else {
        return false;
    }
    if (ret_mapped)
        *ret_mapped = mapped;
    return true;
}

static unsigned addr_bits(const struct ipaddr *a)
{
    return a->family == AF_INET ? 32 : 128;
}

/* Whether the first bits bits of a and net agree. */
static bool prefix_equal(const struct ipaddr *a, const struct ipaddr *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (a->family != net->family || memcmp(a->b, net->b, whole) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return rest == 0 || (a->b[whole] & mask) == (net->b[whole] & mask);
}

static bool trusted(const struct proxy_list *l, const struct ipaddr *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (prefix_equal(a, &l->e[i].net, l->e[i].bits))
            return true;
    return false;
}

/* One list entry "ADDR[/BITS]", s[0..len). */
static bool entry_parse(const char *s, size_t len, struct proxy_entry *e)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    bool mapped;
    if (!addr_parse(s, alen, &e->net, &mapped) || mapped)
        return false;
    e->bits = addr_bits(&e->net);
    if (slash) {
        const char *d = slash + 1, *end = s + len;
        unsigned bits = 0;
        if (d == end || end - d > 3)
            return false;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return false;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > e->bits)
            return false;
        e->bits = bits;
    }
    /* Clear what lies past the prefix, so matching compares whole bytes. */
    for (unsigned bit = e->bits; bit < 128; bit++)
        e->net.b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return true;
}

int proxy_list_parse(const char *spec, struct proxy_list **ret, char *err, size_t errlen)
{
    static const char seps[] = ", \t";
    struct proxy_list *l = NULL;
    *ret = NULL;
    const char *p = spec ? spec : "";
    for (;;) {
        p += strspn(p, seps);
        if (*p == '\0')
            break;
        size_t len = strcspn(p, seps);
        if (!l && !(l = calloc(1, sizeof(*l))))
            return -ENOMEM;
        if (l->n == PROXY_LIST_MAX) {
            snprintf(err, errlen, "trusted_proxies: more than %d entries", PROXY_LIST_MAX);
            proxy_list_free(l);
            return -EINVAL;
        }
        if (!entry_parse(p, len, &l->e[l->n])) {
            snprintf(err, errlen,
                     "trusted_proxies: '%.*s' is not an IP address or CIDR block (like "
                     "127.0.0.1, ::1 or 10.0.0.0/8; an IPv4-mapped address written as IPv4)",
                     (int)(len < 64 ? len : 64), p);
            proxy_list_free(l);
            return -EINVAL;
        }
        l->n++;
        p += len;
    }
    *ret = l;
    return 0;
}

void proxy_list_free(struct proxy_list *l)
{
    free(l);
}

static bool port_valid(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One X-Forwarded-For entry s[0..len): "ADDR", "IPV4:PORT", "[IPV6]" or "[IPV6]:PORT". */
static bool hop_parse(const char *s, size_t len, struct ipaddr *a)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return false;
        size_t after = len - (size_t)(rb + 1 - s);
        if (after > 0 && (rb[1] != ':' || !port_valid(rb + 2, after - 1)))
            return false;
        return addr_parse(s + 1, (size_t)(rb - s - 1), a, NULL);
    }
    const char *colon = memchr(s, ':', len);
    if (colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
        /* One colon: IPv4 with a port (IPv6 has at least two). */
        if (!port_valid(colon + 1, len - (size_t)(colon + 1 - s)))
            return false;
        len = (size_t)(colon - s);
    }
    return addr_parse(s, len, a, NULL);
}

bool proxy_client_address(const struct proxy_list *l, const char *peer, const char *const *xff,
                          size_t n, char out[PROXY_ADDR_MAX])
{
    struct ipaddr cur;
    snprintf(out, PROXY_ADDR_MAX, "%s", peer);
    if (!l || !addr_parse(peer, strlen(peer), &cur, NULL) || !trusted(l, &cur))
        return false;
    bool from_header = false;
    unsigned hops = 0;
    for (size_t k = n; k-- > 0;) {
        const char *v = xff[k];
        size_t end = strlen(v);
        for (;;) {
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            struct ipaddr hop;
            if (++hops > PROXY_HOPS_MAX || !hop_parse(v + start, end - start, &hop))
                goto done; /* nothing left of this entry can be trusted */
            cur = hop;
            from_header = true;
            if (!trusted(l, &hop))
                goto done;
            if (start == 0)
                break;
            end = start - 1;
        }
    }
done:
    if (from_header)
        inet_ntop(cur.family, cur.b, out, PROXY_ADDR_MAX);
    return from_header;
}
