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
        snprintf(err, errlen, "'%.200s': %s", s ? s : "", s ? uerr : "missing");
        url_clear(&u);
        return -EINVAL;
    }
    if (strcmp(u.scheme, "tcp") != 0)
        snprintf(err, errlen, "'%.200s': the scheme must be tcp://", s);
    else if (u.user[0] || u.has_password)
        snprintf(err, errlen, "'%.200s': no user or password (the device secret comes from "
                              "--secret-file)", s);
    else if ((u.path[0] && strcmp(u.path, "/") != 0) || u.query[0])
        snprintf(err, errlen, "'%.200s': no path or query after HOST:PORT", s);
    else if (!u.host[0])
        snprintf(err, errlen, "'%.200s': no host", s);
    else if (u.port < 1 || u.port > 65535)
        snprintf(err, errlen, "'%.200s': a port 1..65535 is required (tcp://HOST:PORT)", s);
    else if (strlen(u.host) > LINK_HOST_MAX)
        snprintf(err, errlen, "'%.200s': host name too long", s);
    else
        r = 0;
    if (r == 0) {
        snprintf(ret->host, sizeof(ret->host), "%s", u.host);
        ret->port = u.port;
    }
    url_clear(&u);
    return r;
}
