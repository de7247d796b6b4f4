/*
 * meterd's --link address (meter/link_url.c) on one string, cut at a NUL as
 * argv and config values are.
 *
 * Checks: an accepted address is tcp:// with a host of 1..LINK_HOST_MAX
 * characters and a port in 1..65535, and had no credentials; a refused one
 * gets a message. (That the URL parser's messages never hold a password is
 * fuzz_url's check.)
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "link_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct link_addr a;
    char err[256] = "";
    int r = link_url_parse(s, &a, err, sizeof(err));
    if (r == 0) {
        size_t n = strlen(a.host);
        if (n == 0 || n > LINK_HOST_MAX || a.port < 1 || a.port > 65535 ||
            strncasecmp(s, "tcp://", 6) != 0 || memchr(s, '@', strcspn(s + 6, "/?") + 6))
            abort();
    } else if (!err[0]) {
        abort();
    }
    free(s);
    return 0;
}
