/*
 * wallclock: the site's wall-clock time of an instant, for tariffs whose
 * periods start at a local "HH:MM". The zone is the process's, set once at
 * start by sitetime_set_zone() (common/sitetime.h, option `timezone`); these
 * functions only read it and are thread-safe.
 *
 * The wall clock is what the clocks on the site's walls show: on the day DST
 * starts, 02:00..03:00 (Europe/Berlin) never shows; on the day it ends,
 * 02:00..03:00 shows twice. A tariff follows the wall clock, so such a day has
 * one hour less, or more, of the periods that hold those hours.
 *
 * Pure apart from the zone: no I/O, no allocation.
 */
#ifndef SMARTMETER_BILLING_WALLCLOCK_H
#define SMARTMETER_BILLING_WALLCLOCK_H

#include <stdint.h>

#define WALLCLOCK_DAY_MS  (24 * 3600 * INT64_C(1000))
#define WALLCLOCK_HOUR_MS (3600 * INT64_C(1000))

/* The zone's offset from UTC at instant t_ms, in ms (+8 h in Asia/Shanghai). */
int64_t wallclock_offset_ms(int64_t t_ms);

/* The wall-clock time of day at t_ms: ms since the wall clock's midnight, 0..86,399,999. */
int64_t wallclock_time_of_day_ms(int64_t t_ms);

/*
 * The first instant in (t_ms, limit_ms] at which the zone's offset differs
 * from its offset at t_ms (a DST change), or limit_ms when there is none.
 * It assumes at most one change between t_ms and limit_ms, which holds for
 * every real zone when limit_ms - t_ms is under a few weeks (callers look at
 * most a day and an hour ahead).
 */
int64_t wallclock_next_change(int64_t t_ms, int64_t limit_ms);

/*
 * The start of the wall-clock hour holding t_ms (the instant the wall clock
 * showed HH:00:00.000, or the DST change, whichever came last), and the
 * instant the next one starts.
 */
int64_t wallclock_hour_start(int64_t t_ms);
int64_t wallclock_hour_end(int64_t t_ms);

#endif
