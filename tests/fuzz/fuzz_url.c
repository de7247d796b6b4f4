/*
 * The URL parser (common/url.c): url_parse() as the store's URLs use it and
 * url_parse_mqtt() as both daemons' --mqtt does, on one string (cut at a
 * NUL, as argv and config values are).
 *
 * Checks: a parsed URL has a lower-case scheme, a host and a port in
 * 0..65535; an MQTT URL a tcp/mqtt/ssl/mqtts scheme, a port, no path or
 * query; and no error message ever repeats the password of the URL it
 * refuses (messages reach the log).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "url.h"

/* How many times needle[0..n) occurs in s. */
static int occurrences(const char *s, const char *needle, size_t n)
{
    int k = 0;
    for (const char *p = s; *p; p++)
        k += strncmp(p, needle, n) == 0;
    return k;
}

/*
 * Whether err holds ":<password>@" as the password stands in s (still percent-encoded);
 * not decidable when the same text is elsewhere in s too (in the scheme, say), or when it
 * holds a quote (the messages quote the URL, so it may be the message's own text).
 */
static bool leaks_password(const char *s, const char *err)
{
    const char *sep = strstr(s, "://");
    if (!sep)
        return false;
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon || at - colon < 2)
        return false;
    size_t n = (size_t)(at - colon) + 1; /* ":password@" */
    if (memchr(colon, '\'', n))
        return false;
    return occurrences(s, colon, n) == 1 && occurrences(err, colon, n) > 0;
}

static void check_url(const struct url *u)
{
    FUZZ_CHECK(u->scheme[0] && u->host[0]);
    for (const char *p = u->scheme; *p; p++)
        FUZZ_CHECK(!isupper((unsigned char)*p));
    FUZZ_CHECK(u->port >= 0 && u->port <= 65535);
    FUZZ_CHECK(u->has_password || !u->password[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct url u;
    char err[256] = "";

    if (url_parse(s, &u, err, sizeof(err)) == 0)
        check_url(&u);
    else
        FUZZ_CHECK(err[0] && !leaks_password(s, err));
    url_clear(&u);

    err[0] = '\0';
    if (url_parse_mqtt(s, &u, err, sizeof(err)) == 0) {
        check_url(&u);
        FUZZ_CHECK(strcmp(u.scheme, "tcp") == 0 || strcmp(u.scheme, "mqtt") == 0 ||
                   strcmp(u.scheme, "ssl") == 0 || strcmp(u.scheme, "mqtts") == 0);
        FUZZ_CHECK(u.port >= 1 && !u.path[0] && !u.query[0]);
    } else {
        FUZZ_CHECK(err[0] && !leaks_password(s, err));
    }
    url_clear(&u);
    free(s);
    return 0;
}
