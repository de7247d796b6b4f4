/*
 * demand: maximum demand (需量), what two-part industrial tariffs bill: the
 * average total active power over a demand period of 5, 15, 30 or 60
 * minutes, and the largest such average of the calendar month with the time
 * it was reached.
 *
 * Method (DL/T 1490 style, as electronic meters do it): energy is summed per
 * whole clock minute; every minute the average over the last `period`
 * minutes is the sliding demand, and at the local clock's period boundaries
 * (e.g. :00 :15 :30 :45 for 15 minutes) that average is also the fixed-block
 * demand. The month's maximum is taken over the sliding values, which include
 * every block's. A minute is counted only when readings cover at least 90 %
 * of it (its energy is scaled to the whole minute); a minute less covered
 * (the meter was off, or sampling stopped) restarts the window, so a demand
 * value always stands for `period` measured minutes.
 *
 * Time: the caller gives each interval's end (epoch ms), its length, the
 * start of the local month it ends in and the local clock's offset from UTC
 * (the meter's time zone), so the module stays pure. A new month clears the
 * maximum.
 *
 * Pure bookkeeping: no I/O, no allocation; the state is a fixed struct the
 * caller owns.
 */
#ifndef SMARTMETER_DEMAND_H
#define SMARTMETER_DEMAND_H

#include <stdbool.h>
#include <stdint.h>

#define DEMAND_PERIOD_MAX_MIN 60

struct demand {
    unsigned period_min;
    /* the minute being summed */
    int64_t minute_start_ms; /* 0: none yet */
    double minute_wh, minute_covered_ms;
    int64_t last_end_ms; /* of the last interval added; 0: none */
    /* the last complete minutes, oldest first from `first` (a ring) */
    double minutes_wh[DEMAND_PERIOD_MAX_MIN];
    unsigned first, count;
    /* results */
    bool has_sliding; /* a present value: false again while a restarted window fills */
    bool has_block;
    double sliding_w; /* of the window ending at sliding_end_ms */
    int64_t sliding_end_ms;
    double block_w; /* the last complete block */
    int64_t block_end_ms;
    bool has_max;
    double max_w;
    int64_t max_ts_ms;      /* the end of the window that reached it */
    int64_t month_start_ms; /* of the month the maximum belongs to */
};

/* Accepted periods: 5, 15, 30, 60. */
bool demand_period_valid(unsigned period_min);

/* Starts empty (no maximum). period_min must be valid. */
void demand_init(struct demand *d, unsigned period_min);

/*
 * Restores a month's maximum kept across a restart: it is kept only while
 * month_start_ms is the month of the next interval.
 */
void demand_restore_max(struct demand *d, double max_w, int64_t max_ts_ms, int64_t month_start_ms);

/*
 * Adds an interval: energy_wh (signed: import positive, export negative)
 * over [end_ms - duration_ms, end_ms), assumed at constant power inside it.
 * month_start_ms is the local month holding end_ms; utc_offset_ms the local
 * clock minus UTC at end_ms. Completes minutes, updates the sliding and block
 * demand and the month's maximum. Returns true when a new sliding value was
 * computed. Intervals must come in time order: one that overlaps the one
 * before (clock jitter) counts from that one's end; one ending at or before
 * the previous end (the clock stepped back), with a non-finite energy or a
 * duration <= 0 restarts the window.
 */
bool demand_add(struct demand *d, int64_t end_ms, int64_t duration_ms, double energy_wh,
                int64_t month_start_ms, int64_t utc_offset_ms);

#endif
