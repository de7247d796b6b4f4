/*
 * measure: closes a measurement interval. Turns the interval's dsp result
 * into energy (integrated into the persisted counters) and a telemetry
 * reading with the next seq. Pure bookkeeping: no I/O, no allocation.
 */
#ifndef SMARTMETER_METER_MEASURE_H
#define SMARTMETER_METER_MEASURE_H

#include <stdint.h>

#include "dsp.h"
#include "state.h"
#include "telemetry.h"

/*
 * Adds P * interval_s to the energy counters (P > 0 import, P < 0 export),
 * hands out the next seq and fills *ret with seq, ts_ms, the measured
 * quantities, the energy counters and the boot count. freq_hz is left out
 * when the interval held no full period.
 */
void measure_close_interval(struct meter_state *st, const struct dsp_result *res, double interval_s,
                            int64_t ts_ms, struct reading *ret);

#endif
