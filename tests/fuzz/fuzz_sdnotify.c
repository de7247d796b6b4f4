/*
 * What the service manager hands the daemons in their environment (common/sdnotify.c):
 * $NOTIFY_SOCKET's address, and $WATCHDOG_USEC with $WATCHDOG_PID. The input is the
 * three values separated by NUL bytes, each cut as getenv() would give it.
 *
 * Checks: an accepted address is AF_UNIX, fits sun_path and has the length the kernel is
 * to be given (a path with its terminator; an abstract name without one, its first byte
 * NUL); an accepted watchdog interval is positive and the pid, when given, was ours; every
 * refusal is -EINVAL or -ENAMETOOLONG.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sdnotify.h"

#define SELF ((pid_t)4242)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *name = s;
    size_t at = strlen(name) + 1;
    const char *usec = at <= size ? s + at : NULL;
    at += usec ? strlen(usec) + 1 : 0;
    const char *pid = at <= size ? s + at : NULL;

    struct sockaddr_un sa;
    socklen_t len = 0;
    int r = sdnotify_address(name, &sa, &len);
    if (r == 0) {
        size_t n = strlen(name);
        FUZZ_CHECK(sa.sun_family == AF_UNIX && n < sizeof(sa.sun_path));
        if (name[0] == '/') {
            FUZZ_CHECK(len == offsetof(struct sockaddr_un, sun_path) + n + 1);
            FUZZ_CHECK(strcmp(sa.sun_path, name) == 0);
        } else {
            FUZZ_CHECK(name[0] == '@' && sa.sun_path[0] == '\0');
            FUZZ_CHECK(len == offsetof(struct sockaddr_un, sun_path) + n);
            FUZZ_CHECK(memcmp(sa.sun_path + 1, name + 1, n - 1) == 0);
        }
    } else {
        FUZZ_CHECK(r == -EINVAL || r == -ENAMETOOLONG);
    }

    uint64_t u = 0;
    r = sdnotify_parse_watchdog(usec, pid, SELF, &u);
    if (r == 1)
        FUZZ_CHECK(u > 0 && usec && (!pid || strtoull(pid, NULL, 10) == (unsigned long long)SELF));
    else
        FUZZ_CHECK(r == 0 || r == -EINVAL);
    free(s);
    return 0;
}
