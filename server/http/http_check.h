/*
 * http_check: the rules every request passes before a handler sees it, as
 * pure functions (no libmicrohttpd), so each is tested alone. http.c applies
 * them as soon as a request's headers are in, and answers a request that
 * breaks one at once, before its body arrives:
 *   - framing (RFC 9112 6.3): one Content-Length of digits at most, never
 *     together with Transfer-Encoding (a proxy that picks the other one
 *     would read a different request: request smuggling); 413 when the
 *     announced length is over the limit;
 *   - one Authorization header at most (which one a proxy checks and which
 *     one we use must not differ);
 *   - the path: no control character (%00 included) once decoded, which
 *     would cut it short and route it elsewhere; no empty, "." or ".."
 *     segment (only the last segment may be empty: one trailing slash).
 */
#ifndef SMARTMETER_HTTP_CHECK_H
#define SMARTMETER_HTTP_CHECK_H

#include <stddef.h>

/* What the headers said about how the request is framed and who sends it. */
struct http_framing {
    unsigned content_lengths;   /* Content-Length headers */
    const char *content_length; /* the first one's value, or NULL */
    unsigned transfer_encodings;
    unsigned authorizations;
};

/*
 * 0 when the framing is sound and any announced body fits max_body_bytes;
 * else the status to answer (400, 413) with *ret_message, a static string.
 */
int http_check_framing(const struct http_framing *f, size_t max_body_bytes,
                       const char **ret_message);

/*
 * 0 when the path as sent (percent-encoded, without the query) may be
 * routed, else 400 with *ret_message, a static string.
 */
int http_check_path(const char *raw_path, const char **ret_message);

#endif
