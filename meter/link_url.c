#include "link_url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

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
    else if (u.user[0] || u.has_password)
        snprintf(err, errlen, "no user or password (the device secret comes from --secret-file)");
    else if ((u.path[0] && strcmp(u.path, "/") != 0) || u.query[0])
        snprintf(err, errlen, "no path or query after HOST:PORT");
    else if (!u.host[0])
        snprintf(err, errlen, "no host");
    else if (u.port < 1 || u.port > 65535)
        snprintf(err, errlen, "a port 1..65535 is required (tcp://HOST:PORT)");
    else if (strlen(u.host) > LINK_HOST_MAX)
        snprintf(err, errlen, "host name too long");
    else
        r = 0;
    if (r == 0) {
        snprintf(ret->host, sizeof(ret->host), "%s", u.host);
        ret->port = u.port;
    }
    url_clear(&u);
    return r;
}
