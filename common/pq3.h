/*
 * pq3: power-quality analysis of a polyphase connection, one to six channels
 * sampled at the same instants: single-phase two-wire (1p2w), three-phase
 * four-wire (3p4w, star with neutral) and three-phase three-wire (3p3w,
 * delta/Aron). Shared by meterd (live, in the sample path) and meter-server
 * (multi-channel waveform captures).
 *
 * It is pq.h's analysis run on every phase at once: the same IEC 61000-4-30
 * windows of 10 cycles (12 at 60 Hz), timed by phase a's voltage, and every
 * channel is cut at the same boundaries, so the phases' windows are the same
 * time span; the same time-domain RMS and power, the same resampling and FFT
 * for harmonics (IEC 61000-4-7 subgroups) and for the fundamental phasors,
 * from which the symmetrical components come.
 *
 * Channels (the index into the channels[] arrays of pq3_analyzer_feed() and
 * pq3_config.phase_cal_deg):
 *
 *   index          0    1    2    3   4   5
 *   1p2w           v    -    -    i   -   -
 *   3p4w           va   vb   vc   ia  ib  ic    phase-to-neutral volts, line amperes
 *   3p3w           vab  vbc  vca  ia  ib  ic    line-to-line volts, line amperes
 *
 * A 3p3w meter may wire only two line-to-line voltages and two currents
 * (Aron): channel_mask says which are wired (at least two of 0..2 and two of
 * 3..5); a missing one is minus the sum of the other two, since both sets sum
 * to zero. Per-phase quantities of a 3p3w connection are against the virtual
 * star point, va = (vab - vca) / 3 and so on: per-phase powers are then those
 * of an equivalent star load and add up to the true total. A 3p3w connection
 * has no zero sequence voltage and no neutral: u0, v0 and in_rms read 0 and
 * has_neutral is false.
 *
 * Per-channel phase calibration: phase_cal_deg[k] is channel k's lag, in
 * degrees at nominal_hz, to take out (a positive value reads the channel that
 * much later). A sequential ADC reading the channels of one instant one after
 * another gives channel k a lag of k * the conversion time; a current
 * transformer adds its own. The correction is a fractional delay as in pq.h,
 * applied to each wired channel before anything else sees it, so it scales
 * with frequency and harmonic order as a delay does.
 *
 * Ownership and cost: pq3_analyzer_new() allocates every buffer once; feeding
 * samples never allocates, never blocks and does no I/O. The analyzer is used
 * by one thread at a time. At 6.4 kHz x 6 channels the analysis costs well
 * under 2 % of one core (bench/, docs/performance.md).
 *
 * Sign conventions as pq.h: P > 0 is import; Q > 0 and phase_deg > 0 when the
 * current lags the voltage. Angles of phasors are in degrees, -180..180,
 * relative to phase a's voltage fundamental (positive = leading), so in the
 * order abc angle_v_deg of b is about -120 and of c about +120.
 */
#ifndef SMARTMETER_PQ3_H
#define SMARTMETER_PQ3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pq.h"

#define PQ3_CHANNELS 6
#define PQ3_PHASES   3

enum pq3_wiring {
    PQ3_1P2W = 0,
    PQ3_3P4W,
    PQ3_3P3W,
};

/* Channel indices (see the table above). */
enum {
    PQ3_CH_VA = 0, /* 3p3w: vab */
    PQ3_CH_VB = 1, /* 3p3w: vbc */
    PQ3_CH_VC = 2, /* 3p3w: vca */
    PQ3_CH_IA = 3,
    PQ3_CH_IB = 4,
    PQ3_CH_IC = 5,
};
#define PQ3_CH_BIT(ch) (1u << (ch))

enum pq3_sequence {
    PQ3_SEQ_UNKNOWN = 0, /* no valid fundamental (or single-phase) */
    PQ3_SEQ_ABC,         /* positive sequence dominates: the order is right */
    PQ3_SEQ_ACB,         /* negative sequence dominates: two phases are swapped */
};

struct pq3_config {
    double rate_hz;    /* samples per second per channel: 1000..1e6 */
    double nominal_hz; /* 40..70 */
    enum pq3_wiring wiring;
    /* Wired channels, PQ3_CH_BIT()s; 0 means every channel the wiring has (1p2w: 0 and 3,
     * otherwise all six). 1p2w and 3p4w need all of theirs; 3p3w at least two voltages
     * and two currents. */
    unsigned channel_mask;
    double phase_cal_deg[PQ3_CHANNELS]; /* each |x| <= 45 */
};

/* One phase of one window, or of an interval's averages (pq3_interval_phase()). */
struct pq3_phase {
    double vrms, irms;
    double p_w, q_var, s_va, pf;
    double phase_deg;   /* angle of the current's fundamental behind the voltage's */
    double angle_v_deg; /* voltage fundamental relative to phase a's voltage (a: 0) */
    double angle_i_deg; /* current fundamental relative to phase a's voltage */
    double thd_v, thd_i;
    double harmonics_v[PQ_MAX_HARMONIC + 1];
    double harmonics_i[PQ_MAX_HARMONIC + 1];
};

/* One 10/12-cycle window of every phase. */
struct pq3_window {
    uint64_t first_sample; /* index in the stream of the window's first sample */
    uint32_t samples;      /* samples the window spans */
    double duration_s;     /* its exact length, for energy */
    double freq_hz;        /* from phase a's voltage; 0 when not synchronised */
    enum pq3_wiring wiring;
    unsigned phases; /* 1 (1p2w) or 3; ph[phases..2] are zero */
    struct pq3_phase ph[PQ3_PHASES];
    double vll_rms[PQ3_PHASES]; /* line-to-line RMS: ab, bc, ca (three-phase) */
    double p_w, q_var, s_va, pf; /* totals: sums of the phases' (arithmetic S), PF = P / S */
    bool has_neutral;            /* 3p4w */
    double in_rms; /* neutral current: RMS of ia + ib + ic sample by sample (3p4w) */
    /* Symmetrical components of the fundamentals, RMS magnitudes (three-phase, when
     * fundamental is true; otherwise 0). For 3p3w v0 is 0 (not measurable). */
    bool fundamental;
    double v1, v2, v0, i1, i2, i0;
    double u2_pct, u0_pct, i2_pct; /* v2/v1, v0/v1, i2/i1 in % */
    enum pq3_sequence sequence;
};

struct pq3_analyzer;

/* Returns 0, -EINVAL for a bad config (out of range, a channel mask the wiring cannot
 * use), or -ENOMEM. */
int pq3_analyzer_new(const struct pq3_config *cfg, struct pq3_analyzer **ret);
void pq3_analyzer_free(struct pq3_analyzer *a); /* NULL is fine */

typedef void (*pq3_window_fn)(const struct pq3_window *w, void *ctx);

/*
 * Feeds n samples of every channel continuing the stream: channels[k] holds
 * channel k's n samples (volts or amperes); entries of channels not wired are
 * not read and may be NULL. Calls fn for every window completed by them.
 * No allocation, no I/O.
 */
void pq3_analyzer_feed(struct pq3_analyzer *a, const float *const channels[PQ3_CHANNELS],
                       size_t n, pq3_window_fn fn, void *ctx);

/* Forgets a partial window, e.g. after samples were dropped (a gap in the stream). */
void pq3_analyzer_reset(struct pq3_analyzer *a);

/*
 * Aggregation of windows into one publish interval (docs/protocol.md,
 * "Three-phase readings"). Per phase, a pq_interval exactly as pq.h
 * aggregates a single-phase meter (min/avg/max of V, I, P; averages; the
 * phase's import/export energy). The aggregates: voltage is the mean of the
 * three phase-to-neutral voltages (3p4w) or of the three line-to-line ones
 * (3p3w), current the mean of the three currents, power the total; their
 * min/max are the extremes over the windows of the per-window aggregate,
 * their averages the means of the per-phase averages (voltage, current) and
 * the time average (power). Energies of the totals are the sum over windows
 * of the total P (and Q) times the duration, split by sign.
 */
struct pq3_interval {
    uint32_t windows;
    double duration_s;
    enum pq3_wiring wiring;
    unsigned phases;
    struct pq_interval ph[PQ3_PHASES]; /* per phase; import_wh is the phase's import */

    double voltage_min, voltage_avg, voltage_max;
    double current_min, current_avg, current_max;
    double p_min, p_avg, p_max; /* total P */
    double q_avg, s_avg, pf;    /* totals; pf = P_avg / S_avg */
    double freq_min, freq_avg, freq_max;
    double thd_v, thd_i;        /* the largest of the phases' averages */
    double vll_avg[PQ3_PHASES]; /* RMS over the interval, ab, bc, ca */
    double in_avg;              /* RMS over the interval */
    double angle_v_deg[PQ3_PHASES], angle_i_deg[PQ3_PHASES]; /* averages over fundamental windows */
    double u2_pct, u0_pct, i2_pct; /* averages over the windows with a fundamental */
    enum pq3_sequence sequence; /* of the most windows with a fundamental */
    /* energies of the totals, Wh / varh */
    double import_wh, export_wh, q_import_varh, q_export_varh;

    /* running sums (internal) */
    double sum_vll[PQ3_PHASES], sum_in, sum_p, sum_q, sum_s;
    double sum_angle_v[PQ3_PHASES], sum_angle_i[PQ3_PHASES], sum_u2, sum_u0, sum_i2;
    uint32_t fund_windows, abc_windows, acb_windows;
};

void pq3_interval_reset(struct pq3_interval *iv);
void pq3_interval_add(struct pq3_interval *iv, const struct pq3_window *w);
/* Computes averages (once: until then the fields hold running sums); returns 0, or
 * -ENODATA when no window was added. */
int pq3_interval_finish(struct pq3_interval *iv);

/* A finished interval's phase k (0..phases-1) as a pq3_phase of averages. */
void pq3_interval_phase(const struct pq3_interval *iv, unsigned k, struct pq3_phase *ret);

/*
 * Analyses a whole capture of n samples per channel (channels[] as for
 * pq3_analyzer_feed()): every complete window, aggregated. Allocates
 * internally (not for the sample path). Returns 0, -ENODATA when the capture
 * holds no complete window, -EINVAL, -ENOMEM.
 */
int pq3_analyze_capture(const struct pq3_config *cfg, const float *const channels[PQ3_CHANNELS],
                        size_t n, struct pq3_interval *ret);

/* "1p2w", "3p4w", "3p3w"; parse returns 0 or -EINVAL. */
const char *pq3_wiring_name(enum pq3_wiring w);
int pq3_wiring_parse(const char *s, enum pq3_wiring *ret);
/* The channel's name for a wiring ("va", "vab", "ia", "v", "i"), or NULL when it has none. */
const char *pq3_channel_name(enum pq3_wiring w, unsigned ch);
/* channel_mask as pq3_config means it: 0 resolved to the wiring's full set. */
unsigned pq3_wired_channels(const struct pq3_config *cfg);

#endif
