/*
 * timeutil: wall-clock and monotonic time in integer milliseconds, and
 * RFC 3339 formatting/parsing without the process time zone.
 */
#ifndef SMARTMETER_TIMEUTIL_H
#define SMARTMETER_TIMEUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* "2026-11-23T18:24:30.123Z" plus NUL */
#define TIME_RFC3339_LEN 25

/* Earliest and latest instants we accept from outside: 2000-01-01 and 2200-01-01 UTC. */
#define TIME_MIN_VALID_MS INT64_C(946684800000)
#define TIME_MAX_VALID_MS INT64_C(7258118400000)

int64_t time_now_ms(void);
int64_t time_mono_ms(void);

/*
 * For waits on CLOCK_MONOTONIC: time_cond_init_monotonic() makes a condition
 * variable that times out on that clock, and time_mono_deadline(ms) is the
 * instant ms (>= 0) from now to give pthread_cond_timedwait().
 */
int time_cond_init_monotonic(pthread_cond_t *cv);
struct timespec time_mono_deadline(int64_t ms);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into out. Years outside 0..9999 are clamped. */
void time_format_rfc3339_ms(int64_t ms_since_epoch, char out[TIME_RFC3339_LEN]);

/*
 * Parses an RFC 3339 date-time ("2026-11-23T18:24:30Z", with optional
 * fractional seconds and a "Z" or "+hh:mm" offset; 't'/'z' and a space for 'T'
 * also accepted). Fractions finer than a millisecond are truncated.
 * Returns 0 and writes *ret_ms, or -EINVAL.
 */
int time_parse_rfc3339(const char *s, int64_t *ret_ms);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d);

/* "HH:MM" (00:00..23:59, exactly five characters) to minutes of the day. 0, or -EINVAL. */
int time_parse_hhmm(const char *s, int32_t *ret_min);
/* Minutes of the day (0..1439) as "HH:MM". */
void time_format_hhmm(int32_t min, char out[6]);

#endif
