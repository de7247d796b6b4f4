/*
 * analysis: the JSON object that describes the power quality of a waveform
 * capture, written by both daemons: `meterd analyze` prints it, and the
 * server stores it with each capture (GET .../captures/:id serves it).
 *
 *   {"frequency_hz","vrms","irms","p_w","q_var","s_va","pf","thd_v","thd_i",
 *    "phase_deg","harmonics_v":[51],"harmonics_i":[51], <tail>}
 *
 * The two outputs have always differed, and each stays exactly as it was:
 * - ANALYSIS_METERD: every value rounded to six decimals before it is
 *   written; the tail is "samples", "periods".
 * - ANALYSIS_SERVER: values written as they are (the writer prints six
 *   decimals); "frequency_hz" is null when no window found a fundamental;
 *   the tail is "vrms_min", "vrms_max", "irms_min", "irms_max",
 *   "frequency_min_hz" and "frequency_max_hz" (with a fundamental only),
 *   "windows", "duration_s".
 *
 * Pure: struct analysis is plain data; analysis_encode() appends to the
 * caller's dynbuf.
 */
#ifndef SMARTMETER_WIRE_ANALYSIS_H
#define SMARTMETER_WIRE_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define ANALYSIS_HARMONICS 50
/* Room for the whole object (about 3 KB). */
#define ANALYSIS_JSON_MAX (64 * 1024)

struct analysis {
    bool has_frequency; /* some window found a fundamental */
    double frequency_hz;
    double vrms, irms;
    double p_w, q_var, s_va, pf;
    double thd_v, thd_i; /* % of the fundamental, harmonics 2..50 */
    double phase_deg;    /* fundamental current lags fundamental voltage by this */
    /* index = harmonic order, % of the fundamental: [0] = 0 (DC not reported), [1] = 100 */
    double harmonics_v[ANALYSIS_HARMONICS + 1];
    double harmonics_i[ANALYSIS_HARMONICS + 1];
    /* spread over the analysis windows (ANALYSIS_SERVER) */
    double vrms_min, vrms_max, irms_min, irms_max;
    double frequency_min_hz, frequency_max_hz;
    uint32_t windows;
    double duration_s;
    /* what `meterd analyze` read and used (ANALYSIS_METERD) */
    size_t samples;        /* pairs read */
    size_t window_samples; /* pairs the complete windows span */
    unsigned periods;      /* fundamental periods in the windows that found one */
};

struct pq_interval;

/* Fills *ret from a finished power-quality interval (common/pq.h); the counts are left 0. */
void analysis_from_pq(const struct pq_interval *iv, struct analysis *ret);

enum analysis_flags {
    ANALYSIS_ROUNDED = 1 << 0, /* values rounded to six decimals first */
    ANALYSIS_COUNTS = 1 << 1,  /* tail: "samples", "periods" */
    ANALYSIS_SPREAD = 1 << 2,  /* tail: minima, maxima, "windows", "duration_s" */
};
#define ANALYSIS_METERD (ANALYSIS_ROUNDED | ANALYSIS_COUNTS)
#define ANALYSIS_SERVER ANALYSIS_SPREAD

/* Appends the object to out. Returns 0 or the writer's error (-E2BIG, -ENOMEM). */
int analysis_encode(const struct analysis *a, unsigned flags, struct dynbuf *out);

#endif
