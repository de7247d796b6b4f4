/*
 * pq3_signal: synthetic three-phase signals with known truth, for the pq3
 * tests.
 *
 * A system is given as phasors: for each of six source channels (the star
 * voltages va, vb, vc and the line currents ia, ib, ic) an RMS phasor per
 * harmonic order. The generator samples what a meter wired 3p4w or 3p3w
 * would read (for 3p3w the line-to-line differences of the star voltages),
 * each input channel optionally taken a little later than the sample
 * instant (a sequential ADC) and with seeded Gaussian white noise of an RMS
 * in % of full scale (1.25 * sqrt(2) * the nominal RMS, as the sim ADC).
 *
 * The truth is computed from the phasors, not from the samples: every
 * quantity the analyzer reports is a linear combination of the input
 * channels (the virtual star point, a missing 3p3w channel, the neutral), so
 * its RMS is the root of the sum over harmonics of the combined phasors'
 * squared magnitudes plus the combined noise variance, and a power the sum
 * of Re(V conj(I)) over harmonics.
 */
#ifndef SMARTMETER_TEST_PQ3_SIGNAL_H
#define SMARTMETER_TEST_PQ3_SIGNAL_H

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pq3.h"

#define SIG3_MAX_H 7 /* harmonic orders generated: 1..7 */

struct sig3 {
    double rate, freq;
    enum pq3_wiring wiring;
    unsigned mask;                                   /* input channels wired (as pq3_config) */
    double complex src[PQ3_CHANNELS][SIG3_MAX_H + 1]; /* va..vc, ia..ic, RMS phasors per order */
    double lead_s[PQ3_CHANNELS]; /* input channel k is sampled this much after the instant */
    double noise_pct, v_nominal, i_nominal;
    uint64_t k, rng;
    bool have_spare;
    double spare;
};

/* Options of a test system: per phase voltage (RMS, % of nominal), its angle, the current
 * (RMS) and its lag behind its voltage; harmonics 3/5/7 at h3/h5/h7 % on every channel. */
struct sig3_spec {
    double freq;
    enum pq3_wiring wiring;
    unsigned mask;
    double v[3], v_angle_deg[3];
    double i[3], i_lag_deg[3];
    double neg_seq_pct; /* adds a negative sequence of this % of va to the voltages */
    double h3, h5, h7;
    bool acb; /* swaps phases b and c (after everything else) */
};

/* A balanced 230 V / 10 A system at freq, current lagging by lag_deg, order abc. */
void sig3_spec_balanced(struct sig3_spec *s, double freq, enum pq3_wiring w, double lag_deg);
void sig3_init(struct sig3 *g, const struct sig3_spec *s);

/* The next n samples of the six input channels (those not wired are left alone). */
void sig3_generate(struct sig3 *g, float *const ch[PQ3_CHANNELS], size_t n);

struct sig3_truth {
    double freq;
    double vrms[3], irms[3], p[3], q[3], s[3], pf[3], phase_deg[3], angle_v[3], thd_v[3],
        thd_i[3];
    double vll[3], in_rms, p_total, q_total, s_total, pf_total;
    double u2_pct, u0_pct, i2_pct;
    enum pq3_sequence sequence;
};

/* What an exact analyzer of this wiring reads. */
struct sig3_truth sig3_truth_of(const struct sig3 *g);

#endif
