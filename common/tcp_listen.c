/* tcp_listen: a listening socket from HOST:PORT (tcp_listen.h). */
#include "tcp_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int resolve(const char *option, const char *spec, struct addrinfo **ret, char *err,
                   size_t errlen)
{
    char host[256];
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host) || !colon[1]) {
        snprintf(err, errlen, "%s: '%s' is not HOST:PORT", option, spec ? spec : "");
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (spec[0] == '[' && colon[-1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        snprintf(err, errlen, "%s: bad port in '%s'", option, spec);
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, ret);
    if (r) {
        snprintf(err, errlen, "%s: '%s': %s", option, host, gai_strerror(r));
        return -EINVAL;
    }
    return 0;
}

int tcp_listen_check(const char *option, const char *spec, char *err, size_t errlen)
{
    struct addrinfo *ai;
    int r = resolve(option, spec, &ai, err, errlen);
    if (!r)
        freeaddrinfo(ai);
    return r;
}

int tcp_listen(const char *option, const char *spec, int backlog, bool nonblocking, int *ret_fd,
               int *ret_port, char *err, size_t errlen)
{
    struct addrinfo *ai;
    int r = resolve(option, spec, &ai, err, errlen);
    if (r)
        return r;
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, backlog)) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot listen on %s: %s", option, spec, strerror(e));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -e;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *ret_fd = fd;
    return 0;
}
