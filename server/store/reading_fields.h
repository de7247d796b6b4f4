/*
 * reading_fields: named groups of a reading's fields, for answers that need
 * only some of them (docs/api.md, history by phase): a bucket query then
 * aggregates only the group's columns, so history of a single-phase device
 * costs what it did before three-phase metering.
 *
 * A field is "per phase" when its name ends in _a, _b or _c (voltage_a,
 * power_w_b, energy_c_wh, angle_v_c); line-to-line voltages (voltage_ab),
 * the neutral, unbalance and demand belong to the whole system. Pure.
 */
#ifndef SMARTMETER_STORE_READING_FIELDS_H
#define SMARTMETER_STORE_READING_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "telemetry.h"

enum reading_fields {
    READING_FIELDS_ALL,     /* every field */
    READING_FIELDS_SINGLE,  /* what single-phase meters send (voltage .. phase_deg, energy..) */
    READING_FIELDS_SYSTEM,  /* every field but the per-phase ones */
    READING_FIELDS_PHASE_A, /* one phase's fields */
    READING_FIELDS_PHASE_B,
    READING_FIELDS_PHASE_C,
    READING_FIELDS__COUNT
};

/* The phase ('a', 'b', 'c') a field belongs to, or 0 for a whole-system field. */
char reading_real_phase(enum reading_real f);
char reading_counter_phase(enum reading_counter c);

/* The group's reals and counters as presence masks (bit f, as struct reading's). */
uint64_t reading_fields_reals(enum reading_fields g);
uint64_t reading_fields_counters(enum reading_fields g);

/* READING_FIELDS_PHASE_A.. for 'a'..'c'. */
enum reading_fields reading_fields_phase(char phase);

#endif
