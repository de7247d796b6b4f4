/*
 * pq: power-quality analysis of sampled voltage and current, shared by
 * meterd (live, in the sample path) and meter-server (waveform captures).
 *
 * Measurement follows IEC 61000-4-30 (Class A aggregation): the signal is cut
 * into windows of 10 fundamental cycles (12 at 60 Hz), each window is
 * resampled to a whole number of points per cycle and transformed with an FFT
 * (IEC 61000-4-7 harmonic bins), giving per window: RMS values, active,
 * reactive and apparent power, power factor, frequency, the V-I angle of the
 * fundamental, harmonics 1..50 and THD. Windows are then aggregated into
 * publish intervals with min/avg/max.
 *
 * Ownership and cost: pq_analyzer_new() allocates every buffer once; feeding
 * samples never allocates, never blocks and does no I/O. The analyzer is
 * used by one thread at a time.
 *
 * Sign conventions: P > 0 is import. Q > 0 and phase_deg > 0 when the current
 * lags the voltage (inductive load). Harmonic magnitudes are % of the
 * fundamental; index 1 is the fundamental (100), index 0 is unused (0).
 */
#ifndef SMARTMETER_PQ_H
#define SMARTMETER_PQ_H

#include <stddef.h>
#include <stdint.h>

#define PQ_MAX_HARMONIC 50

struct pq_config {
    double rate_hz;       /* samples per second per channel */
    double nominal_hz;    /* 50 or 60 */
    double phase_cal_deg; /* current channel's lag to correct, degrees at nominal_hz */
};

/* One 10/12-cycle window. */
struct pq_window {
    uint64_t first_sample; /* index in the stream of the window's first sample */
    uint32_t samples;      /* samples the window spans */
    double duration_s;     /* its exact length, for energy */
    double vrms, irms;
    double p_w, q_var, s_va, pf;
    double freq_hz;
    double phase_deg; /* angle of the current's fundamental behind the voltage's */
    double thd_v, thd_i;
    double harmonics_v[PQ_MAX_HARMONIC + 1];
    double harmonics_i[PQ_MAX_HARMONIC + 1];
};

struct pq_analyzer;

/* Cycles in one window for a nominal frequency: 10 at 50 Hz, 12 at 60 Hz (about 200 ms). */
unsigned pq_window_cycles(double nominal_hz);

/* Returns 0, -EINVAL for a bad config (rate too low for 50 harmonics is allowed:
 * harmonics above rate/2 are reported as 0), or -ENOMEM.
 * Accepted: rate_hz 1000..1e6, nominal_hz 40..70, |phase_cal_deg| <= 45. */
int pq_analyzer_new(const struct pq_config *cfg, struct pq_analyzer **ret);
void pq_analyzer_free(struct pq_analyzer *a); /* NULL is fine */

typedef void (*pq_window_fn)(const struct pq_window *w, void *ctx);

/*
 * Feeds n sample pairs (volts, amperes) continuing the stream; calls fn for
 * every window completed by them. No allocation, no I/O.
 */
void pq_analyzer_feed(struct pq_analyzer *a, const float *v, const float *i, size_t n,
                      pq_window_fn fn, void *ctx);

/* Forgets a partial window, e.g. after samples were dropped (a gap in the stream). */
void pq_analyzer_reset(struct pq_analyzer *a);

/* Aggregation of windows into one publish interval. */
struct pq_interval {
    uint32_t windows;
    double duration_s;
    double vrms_min, vrms_avg, vrms_max;
    double irms_min, irms_avg, irms_max;
    double p_min, p_avg, p_max;
    double freq_min, freq_avg, freq_max;
    double q_avg, s_avg, pf;        /* pf = P_avg / S_avg */
    double phase_deg, thd_v, thd_i; /* averages */
    double harmonics_v[PQ_MAX_HARMONIC + 1], harmonics_i[PQ_MAX_HARMONIC + 1]; /* averages */
    /* energy of the interval's windows: sum of P*dt and Q*dt, split by sign, in Wh / varh */
    double import_wh, export_wh, q_import_varh, q_export_varh;
    /* running sums (internal) */
    double sum_v, sum_i, sum_p, sum_q, sum_s, sum_f, sum_phase, sum_thd_v, sum_thd_i;
    uint32_t freq_windows;
};

void pq_interval_reset(struct pq_interval *iv);
void pq_interval_add(struct pq_interval *iv, const struct pq_window *w);
/* Computes averages (once: until then the fields hold running sums); returns 0, or -ENODATA
 * when no window was added. */
int pq_interval_finish(struct pq_interval *iv);

/*
 * Analyses a whole capture (e.g. a waveform a meter sent): every complete
 * window, aggregated. Allocates internally (not for the sample path).
 * Returns 0, -ENODATA when the capture holds no complete window, -EINVAL, -ENOMEM.
 */
int pq_analyze_capture(const struct pq_config *cfg, const float *v, const float *i, size_t n,
                       struct pq_interval *ret);

#endif
