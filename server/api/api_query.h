/*
 * api_query: parsing of the query parameters the history endpoints share
 * (from, to, limit, interval). Pure functions, unit-tested.
 */
#ifndef SMARTMETER_API_QUERY_H
#define SMARTMETER_API_QUERY_H

#include <stdint.h>

/* An instant: RFC 3339, or integer milliseconds since the epoch. 0 or -EINVAL. */
int api_parse_instant(const char *s, int64_t *ret_ms);
/* A duration: "90" (seconds), "90s", "15m", "1h", "1d". 0 or -EINVAL (or -ERANGE past 366 days). */
int api_parse_duration(const char *s, int64_t *ret_ms);
/* A count in min..max. 0, -EINVAL or -ERANGE. */
int api_parse_count(const char *s, int64_t min, int64_t max, int64_t *ret);

#endif
