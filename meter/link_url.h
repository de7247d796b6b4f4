/*
 * link_url: the terminal gateway's address as --link gives it,
 * "tcp://HOST:PORT" (HOST a name, an IPv4 address or a bracketed IPv6 one;
 * PORT 1..65535, required). Nothing else: no user, password, path or query
 * (the device secret comes from --secret-file).
 */
#ifndef SMARTMETER_METER_LINK_URL_H
#define SMARTMETER_METER_LINK_URL_H

#include <stddef.h>

#define LINK_HOST_MAX 255

struct link_addr {
    char host[LINK_HOST_MAX + 1]; /* without brackets */
    int port;
};

/* Returns 0 with *ret, or -EINVAL with one line in err naming the problem (never the URL,
   which may hold a password by mistake). */
int link_url_parse(const char *s, struct link_addr *ret, char *err, size_t errlen);

#endif
