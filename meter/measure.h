/*
 * measure: closes a measurement interval. Turns a power-quality interval
 * into energy integrated into the persisted counters and a telemetry reading
 * with the next seq.
 * Pure bookkeeping: no I/O, no allocation.
 */
#ifndef SMARTMETER_METER_MEASURE_H
#define SMARTMETER_METER_MEASURE_H

#include <stdint.h>

#include "demand.h"
#include "pq.h"
#include "pq3.h"
#include "state.h"
#include "telemetry.h"

/*
 * Closes an interval of the power-quality analysis: iv is one that
 * pq_interval_finish() returned 0 for. Adds its energy to the counters as
 * the windows measured it (sum of P * dt and Q * dt, import and export
 * apart, so nothing depends on the interval's length), hands out the next seq
 * and fills *ret with seq, ts_ms, the averages (voltage, current, power_w,
 * reactive_var, apparent_va, pf), the extremes of the 10-cycle values
 * (voltage, current and power min/max), the active and reactive energy
 * counters and the boot count. freq_hz with its min/max, thd_v, thd_i and
 * phase_deg are left out when no window found a fundamental (no voltage).
 */
void measure_close_pq_interval(struct meter_state *st, const struct pq_interval *iv, int64_t ts_ms,
                               struct reading *ret);

/*
 * The same for a three-phase meter (iv: pq3_interval_finish() returned 0
 * for it): the totals go to the energy counters as above, each phase's
 * import to its own counter; *ret gets the aggregates under today's names
 * (docs/protocol.md "Three-phase readings": voltage the mean of the phase
 * voltages, or of the line-to-line ones for 3p3w; current the mean of the
 * currents; power the totals), every per-phase field, the line-to-line
 * voltages, the neutral current (3p4w), unbalance (u0 for 3p4w only), the
 * wiring and, when windows found a fundamental, frequency, THD, angles and
 * the phase sequence.
 */
void measure_close_pq3_interval(struct meter_state *st, const struct pq3_interval *iv,
                                int64_t ts_ms, struct reading *ret);

/*
 * Adds the demand fields to a three-phase reading: demand_w (the present
 * sliding value, once a whole period was measured) and the month's maximum
 * (demand_max_w, demand_max_ts) when there is one.
 */
void measure_set_demand(struct reading *r, const struct demand *d);

#endif
