/*
 * The notification protocol as sd_notify(3) describes it: one datagram on a
 * fresh AF_UNIX socket per message (what libsystemd does too), so no
 * descriptor is held open and any thread may send.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sdnotify_address(const char *name, struct sockaddr_un *ret, socklen_t *ret_len)
{
    struct sockaddr_un sa;
    size_t len = name ? strlen(name) : 0;
    if (len < 2)
        return -EINVAL; /* "", "@" and "/" name no socket */
    if (name[0] != '/' && name[0] != '@')
        return -EINVAL; /* neither a path nor an abstract name (e.g. vsock:, not ours) */
    if (len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, len);
    socklen_t n = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the name's length counts, no terminator */
    else
        n++; /* a path: with its terminating NUL */
    *ret = sa;
    *ret_len = n;
    return 0;
}

/* A decimal without sign, spaces or overflow. 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (!s[0])
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

int sdnotify_parse_watchdog(const char *usec, const char *pid, pid_t self, uint64_t *ret_usec)
{
    uint64_t u, p;
    if (!usec)
        return 0;
    if (parse_u64(usec, &u) || u == 0)
        return -EINVAL;
    if (pid) {
        if (parse_u64(pid, &p) || p == 0)
            return -EINVAL;
        if (p != (uint64_t)self)
            return 0; /* meant for another process (the environment was inherited) */
    }
    *ret_usec = u;
    return 1;
}

int sdnotify_watchdog_enabled(uint64_t *ret_usec)
{
    return sdnotify_parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid(),
                                   ret_usec);
}

int sdnotify_send(const char *message)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name)
        return 0;
    struct sockaddr_un sa;
    socklen_t salen;
    int r = sdnotify_address(name, &sa, &salen);
    if (r)
        return r;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* The kernel adds our credentials (the manager sets SO_PASSCRED): NotifyAccess=main
       accepts the datagram by the sender's pid, which every thread of ours shares. */
    ssize_t n =
        sendto(fd, message, strlen(message), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    r = n < 0 ? -errno : 1;
    close(fd);
    return r;
}

int sdnotify_state(const char *state, const char *status)
{
    char msg[64 + SDNOTIFY_STATUS_MAX];
    size_t len = 0;
    if (state) {
        int n = snprintf(msg, sizeof(msg) - SDNOTIFY_STATUS_MAX, "%s", state);
        if (n < 0 || (size_t)n >= sizeof(msg) - SDNOTIFY_STATUS_MAX)
            return -EINVAL;
        len = (size_t)n;
    }
    if (status) {
        if (len)
            msg[len++] = '\n';
        memcpy(msg + len, "STATUS=", 7);
        len += 7;
        size_t n = strlen(status);
        if (n > SDNOTIFY_STATUS_MAX - 8) {
            n = SDNOTIFY_STATUS_MAX - 8;
            while (n > 0 && ((unsigned char)status[n] & 0xC0) == 0x80)
                n--; /* not inside a UTF-8 character */
        }
        for (size_t k = 0; k < n; k++)
            msg[len++] = status[k] == '\n' || status[k] == '\r' ? ' ' : status[k];
    }
    msg[len] = '\0';
    return len ? sdnotify_send(msg) : -EINVAL;
}

int sdnotify_ready(const char *status)
{
    return sdnotify_state("READY=1", status);
}

int sdnotify_stopping(const char *status)
{
    return sdnotify_state("STOPPING=1", status);
}

int sdnotify_status(const char *status)
{
    return sdnotify_state(NULL, status ? status : "");
}

int sdnotify_watchdog(void)
{
    return sdnotify_send("WATCHDOG=1");
}
