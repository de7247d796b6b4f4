/*
 * sitetime: calendar days and months in the site's time zone, for energy per
 * day and per month. A site has one zone (an IANA name such as
 * "Asia/Shanghai"); days follow its DST changes, so a day may last 23 or 25
 * hours, and zones with half-hour offsets work the same way.
 *
 * sitetime_set_zone() sets the process's zone (TZ) and must be called once at
 * start, before other threads run; the rest are thread-safe afterwards.
 */
#ifndef SMARTMETER_SITETIME_H
#define SMARTMETER_SITETIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Uses zone (an IANA name found under the system's zoneinfo directory, or
 * "UTC") for every later call. Returns 0, or -EINVAL with err set when the
 * name is malformed or unknown (glibc would silently fall back to UTC).
 */
int sitetime_set_zone(const char *zone, char *err, size_t errlen);

/* The zone set last ("UTC" before any). */
const char *sitetime_zone(void);

/* The epoch ms at which the local day holding ms starts (its first instant). */
int64_t sitetime_day_start(int64_t ms);

/* The start of the local day after the one starting at day_start. */
int64_t sitetime_next_day(int64_t day_start);

/* The start of the local month holding ms, and of the month after it. */
int64_t sitetime_month_start(int64_t ms);
int64_t sitetime_next_month(int64_t month_start);

/* The local date of ms as "YYYY-MM-DD" (11 bytes with the NUL) and "YYYY-MM" (8). */
void sitetime_format_day(int64_t ms, char out[11]);
void sitetime_format_month(int64_t ms, char out[8]);
/* The local weekday of ms: 0 Sunday .. 6 Saturday. */
int sitetime_weekday(int64_t ms);

/*
 * Parses a local date "YYYY-MM-DD" to its day's start. Returns 0, or -EINVAL.
 */
int sitetime_parse_day(const char *s, int64_t *ret_ms);

#endif
