#include "link_url.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

/* Whether the authority (after "://", before any '/' or '?') holds an '@', even "@host". */
static bool has_userinfo(const char *s)
{
    const char *auth = strstr(s, "://");
    if (!auth)
        return false;
    auth += 3;
    return memchr(auth, '@', strcspn(auth, "/?")) != NULL;
}

/* A DNS name, an IPv4 address or an IPv6 one (with a zone): letters, digits, . - : _ %. */
static bool host_chars_valid(const char *h)
{
    for (; *h; h++) {
        if (!isalnum((unsigned char)*h) && !strchr(".-:_%", *h))
            return false;
    }
    return true;
}

int link_url_parse(const char *s, struct link_addr *ret, char *err, size_t errlen)
{
    struct url u;
    char uerr[256];
    int r = -EINVAL;
    if (!s || url_parse(s, &u, uerr, sizeof(uerr))) {
        snprintf(err, errlen, "%s", s ? uerr : "missing");
        url_clear(&u);
        return -EINVAL;
    }
    if (strcmp(u.scheme, "tcp") != 0)
        snprintf(err, errlen, "the scheme must be tcp://");
    else if (u.user[0] || u.has_password || has_userinfo(s))
        snprintf(err, errlen, "no user or password (the device secret comes from --secret-file)");
    else if ((u.path[0] && strcmp(u.path, "/") != 0) || u.query[0])
        snprintf(err, errlen, "no path or query after HOST:PORT");
    else if (!u.host[0])
        snprintf(err, errlen, "no host");
    else if (u.port < 1 || u.port > 65535)
        snprintf(err, errlen, "a port 1..65535 is required (tcp://HOST:PORT)");
    else if (strlen(u.host) > LINK_HOST_MAX)
        snprintf(err, errlen, "host name too long");
    else if (!host_chars_valid(u.host))
        snprintf(err, errlen, "the host must be a name or an IP address");
    else
        r = 0;
    if (r == 0) {
        snprintf(ret->host, sizeof(ret->host), "%s", u.host);
        ret->port = u.port;
    }
    url_clear(&u);
    return r;
}
