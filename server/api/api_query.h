/*
 * api_query: parsing of the query parameters the history endpoints share
 * (from, to, limit, interval). Pure functions, unit-tested.
 */
#ifndef SMARTMETER_API_QUERY_H
#define SMARTMETER_API_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* An instant: RFC 3339, or integer milliseconds since the epoch. 0 or -EINVAL. */
int api_parse_instant(const char *s, int64_t *ret_ms);
/* A duration: "90" (seconds), "90s", "15m", "1h", "1d". 0 or -EINVAL (or -ERANGE past 366 days). */
int api_parse_duration(const char *s, int64_t *ret_ms);
/* A count in min..max. 0, -EINVAL or -ERANGE. */
int api_parse_count(const char *s, int64_t min, int64_t max, int64_t *ret);
/*
 * A keyset cursor: the last key of a page in lower-case hex, opaque to the
 * caller and safe in a URL. out_size counts the NUL; a key too long for out
 * is cut (out_size of 2 * the key's maximum + 1 never cuts).
 */
void api_cursor_encode(const char *key, char *out, size_t out_size);
/* The key cursor names, into out (out_size counts the NUL): 0, or -EINVAL for what
   api_cursor_encode() does not make (empty, odd length, not lower-case hex, too long for out, a
   control character). */
int api_cursor_decode(const char *cursor, char *out, size_t out_size);

#endif
