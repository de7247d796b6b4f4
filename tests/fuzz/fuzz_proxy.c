/*
 * Who the client is behind a reverse proxy (server/http/proxy.c): the option
 * trusted_proxies (proxy_list_parse) and the X-Forwarded-For values a request
 * carries (proxy_client_address).
 *
 * The input is split at NULs: the first part is the trusted_proxies spec, the
 * second the peer address, the rest X-Forwarded-For values (at most 8, as
 * many as the HTTP layer keeps). Checks: a refused spec has a message; an
 * answer taken from the headers is an address inet_pton reads, in canonical
 * form (given back as the only value it names itself); otherwise the answer
 * is the peer as it came; without a list the headers are never used.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxy.h"

#define PARTS_MAX 10

static bool is_address(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *part[PARTS_MAX];
    size_t n = 0;
    for (char *p = text; n < PARTS_MAX;) {
        part[n++] = p;
        char *z = memchr(p, '\0', (size_t)(text + size - p));
        if (!z || z == text + size)
            break;
        p = z + 1;
    }
    const char *spec = part[0];
    const char *peer = n > 1 ? part[1] : "127.0.0.1";
    const char *const *xff = n > 2 ? part + 2 : NULL;
    size_t nxff = n > 2 ? n - 2 : 0;

    struct proxy_list *l = NULL;
    char err[256] = "";
    if (proxy_list_parse(spec, &l, err, sizeof(err))) {
        FUZZ_CHECK(err[0] != '\0' && l == NULL);
        l = NULL;
    }
    char out[PROXY_ADDR_MAX], again[PROXY_ADDR_MAX];
    memset(out, 'x', sizeof(out));
    bool from_xff = proxy_client_address(l, peer, xff, nxff, out);
    FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);
    if (from_xff) {
        FUZZ_CHECK(l != NULL && nxff > 0);
        FUZZ_CHECK(is_address(out));
        /* The answer is in canonical form: given back alone, it names itself. */
        const char *const one[] = {out};
        FUZZ_CHECK(proxy_client_address(l, peer, one, 1, again) && strcmp(again, out) == 0);
    } else {
        /* The peer stands, as it came (cut to the buffer). */
        FUZZ_CHECK(strncmp(out, peer, sizeof(out) - 1) == 0);
    }
    /* Without a list nobody is trusted, whatever the headers say. */
    FUZZ_CHECK(!proxy_client_address(NULL, peer, xff, nxff, again));
    proxy_list_free(l);
    free(text);
    return 0;
}
