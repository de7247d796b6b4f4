#include "demand.h"

#include <math.h>
#include <string.h>

#define MINUTE_MS      60000
#define MIN_COVERED_MS 54000 /* 90 % of a minute */

bool demand_period_valid(unsigned period_min)
{
    return period_min == 5 || period_min == 15 || period_min == 30 || period_min == 60;
}

void demand_init(struct demand *d, unsigned period_min)
{
    memset(d, 0, sizeof(*d));
    d->period_min = period_min;
}

void demand_restore_max(struct demand *d, double max_w, int64_t max_ts_ms, int64_t month_start_ms)
{
    if (!isfinite(max_w))
        return;
    d->has_max = true;
    d->max_w = max_w;
    d->max_ts_ms = max_ts_ms;
    d->month_start_ms = month_start_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void restart_window(struct demand *d)
{
    d->has_sliding = false;
    d->count = 0;
    d->first = 0;
    d->minute_start_ms = 0;
    d->minute_wh = d->minute_covered_ms = 0;
}

static void check_month(struct demand *d, int64_t month_start_ms)
{
    if (d->has_max && d->month_start_ms != month_start_ms)
        d->has_max = false;
    d->month_start_ms = month_start_ms;
}

/* Ends the minute being summed; returns true when it gave a new sliding value. */
static bool close_minute(struct demand *d, int64_t utc_offset_ms)
{
    int64_t end_ms = d->minute_start_ms + MINUTE_MS;
    if (d->minute_covered_ms < MIN_COVERED_MS) {
        d->has_sliding = false; /* not measured enough: the window starts again */
        d->count = 0;
        d->first = 0;
        return false;
    }
    double wh = d->minute_wh * MINUTE_MS / d->minute_covered_ms;
    unsigned n = d->period_min;
    if (d->count < n) {
        d->minutes_wh[(d->first + d->count) % n] = wh;
        d->count++;
    } else {
        d->minutes_wh[d->first] = wh;
        d->first = (d->first + 1) % n;
    }
    if (d->count < n)
        return false;
    double sum = 0;
    for (unsigned k = 0; k < n; k++)
        sum += d->minutes_wh[k];
    double w = sum * 60.0 / (double)n; /* Wh over n minutes -> W */
    d->has_sliding = true;
    d->sliding_w = w;
    d->sliding_end_ms = end_ms;
    int64_t local_min = floor_div(end_ms + utc_offset_ms, MINUTE_MS);
    if (local_min % (int64_t)n == 0) {
        d->has_block = true;
        d->block_w = w;
        d->block_end_ms = end_ms;
    }
    if (!d->has_max || w > d->max_w) {
        d->has_max = true;
        d->max_w = w;
        d->max_ts_ms = end_ms;
    }
    return true;
}

bool demand_add(struct demand *d, int64_t end_ms, int64_t duration_ms, double energy_wh,
                int64_t month_start_ms, int64_t utc_offset_ms)
{
    bool fresh = false;
    int64_t start_ms = end_ms - duration_ms;
    if (duration_ms <= 0 || !isfinite(energy_wh) || (d->last_end_ms && end_ms <= d->last_end_ms)) {
        restart_window(d);
        d->last_end_ms = 0;
        return false;
    }
    double w_per_ms = energy_wh / (double)duration_ms;
    /* Interval ends come from the wall clock, their lengths from the sample clock: a few ms
       of overlap with the previous interval are the two clocks' jitter, not new time. */
    if (d->last_end_ms && start_ms < d->last_end_ms)
        start_ms = d->last_end_ms;
    d->last_end_ms = end_ms;
    int64_t t = start_ms;
    if (d->minute_start_ms == 0)
        d->minute_start_ms = floor_div(t, MINUTE_MS) * MINUTE_MS;
    while (t < end_ms) {
        int64_t minute_end = d->minute_start_ms + MINUTE_MS;
        if (t >= minute_end) {
            /* The minute being summed is over (perhaps long ago: then it restarts). */
            if (d->minute_start_ms + MINUTE_MS == floor_div(t, MINUTE_MS) * MINUTE_MS ||
                t == minute_end) {
                check_month(d, month_start_ms);
                fresh = close_minute(d, utc_offset_ms) || fresh;
            } else {
                d->has_sliding = false;
                d->count = 0;
                d->first = 0;
            }
            d->minute_start_ms = floor_div(t, MINUTE_MS) * MINUTE_MS;
            d->minute_wh = d->minute_covered_ms = 0;
            continue;
        }
        int64_t piece_end = end_ms < minute_end ? end_ms : minute_end;
        d->minute_wh += w_per_ms * (double)(piece_end - t);
        d->minute_covered_ms += (double)(piece_end - t);
        t = piece_end;
    }
    /* An interval ending exactly on a minute boundary completes that minute now. */
    if (end_ms == d->minute_start_ms + MINUTE_MS) {
        check_month(d, month_start_ms);
        fresh = close_minute(d, utc_offset_ms) || fresh;
        d->minute_start_ms = end_ms;
        d->minute_wh = d->minute_covered_ms = 0;
    }
    check_month(d, month_start_ms);
    return fresh;
}
