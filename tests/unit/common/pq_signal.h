/*
 * pq_signal: synthetic mains signals with known truth, for the pq tests.
 *
 * A voltage and a current as sums of sines: the fundamental plus harmonics in
 * % of it, every current component lagging its voltage component by the same
 * angle (as the sim ADC), the whole current optionally delayed (a sensor's
 * phase error), DC offsets, and seeded Gaussian white noise with an RMS in %
 * of full scale (1.25 * sqrt(2) * the fundamental's RMS, as the sim ADC).
 * The same seed gives the same samples; sig_generate() continues the stream.
 */
#ifndef SMARTMETER_TEST_PQ_SIGNAL_H
#define SMARTMETER_TEST_PQ_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pq.h"

#define RATE      6400.0
#define V_RMS     230.0
#define I_RMS     10.0
#define NOISE_PCT 0.1

struct sig_gen {
    double rate, freq;
    double v_rms, i_rms;
    double phase_deg;  /* current lags the voltage by this (each harmonic by the same angle) */
    double i_delay_s;  /* extra delay of the whole current waveform (a sensor's phase error) */
    double v_dc, i_dc; /* offsets */
    double vh[PQ_MAX_HARMONIC + 1], ih[PQ_MAX_HARMONIC + 1]; /* % of the fundamental */
    double noise_pct;                                        /* Gaussian, RMS in % of full scale */
    double v_fs; /* voltage full scale (peak); 0: 1.25 * sqrt(2) * v_rms */
    unsigned max_h;
    uint64_t k, rng;
    bool have_spare;
    double spare;
};

/* RATE, V_RMS, I_RMS, NOISE_PCT; with harmonics, 3rd/5th/7th at 5/3/2 % on both channels. */
void sig_init(struct sig_gen *g, double freq, double phase_deg, bool harmonics);

/* The next n sample pairs. */
void sig_generate(struct sig_gen *g, float *v, float *i, size_t n);

/* What an exact meter reads (RMS with the noise, P, Q non-active, ...); with a delay, the
 * undelayed current's values, which phase calibration restores. */
struct sig_truth {
    double freq, vrms, irms, p, q, s, pf, phase_deg, thd_v, thd_i;
};

struct sig_truth sig_truth_of(const struct sig_gen *g);

#endif
