#include "wallclock.h"

#include <time.h>

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

int64_t wallclock_offset_ms(int64_t t_ms)
{
    time_t t = (time_t)floor_div(t_ms, 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int64_t)tm.tm_gmtoff * 1000;
}

int64_t wallclock_time_of_day_ms(int64_t t_ms)
{
    return floor_mod(t_ms + wallclock_offset_ms(t_ms), WALLCLOCK_DAY_MS);
}

int64_t wallclock_next_change(int64_t t_ms, int64_t limit_ms)
{
    int64_t off = wallclock_offset_ms(t_ms);
    if (limit_ms <= t_ms || wallclock_offset_ms(limit_ms) == off)
        return limit_ms;
    /* Bisect: the offset at lo is off, at hi it is not. Zones change on whole seconds, so
     * the answer is one; bisecting over ms costs a few more steps and assumes nothing. */
    int64_t lo = t_ms, hi = limit_ms;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (wallclock_offset_ms(mid) == off)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

int64_t wallclock_hour_start(int64_t t_ms)
{
    int64_t start = t_ms - floor_mod(t_ms + wallclock_offset_ms(t_ms), WALLCLOCK_HOUR_MS);
    /* A DST change inside the hour (a half-hour shift, or a change at HH:30) starts a new one. */
    if (wallclock_offset_ms(start) == wallclock_offset_ms(t_ms))
        return start;
    return wallclock_next_change(start, t_ms);
}

int64_t wallclock_hour_end(int64_t t_ms)
{
    int64_t end =
        t_ms + WALLCLOCK_HOUR_MS - floor_mod(t_ms + wallclock_offset_ms(t_ms), WALLCLOCK_HOUR_MS);
    return wallclock_next_change(t_ms, end);
}
