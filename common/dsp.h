/*
 * dsp: power measurement from sampled voltage and current.
 *
 * A dsp_accum takes blocks of simultaneous V and I samples (volts, amperes)
 * and, at the end of a measurement interval, yields RMS values, active,
 * reactive and apparent power, power factor, frequency and the V-I phase
 * angle. DC offsets are removed. State is fixed-size, nothing is allocated,
 * nothing does I/O, so it runs in the sample path and on the server alike.
 *
 * Measurement window. An interval of arbitrary length rarely holds a whole
 * number of mains periods, and averaging over a partial period biases RMS and
 * power by up to 1/(4*pi*f*T) (0.3 % of P at 60 degrees over one second). So
 * the accumulator measures over whole periods: the window runs from one
 * positive-going zero crossing of the voltage to the last one before the
 * interval ends, and the samples after that crossing open the next window.
 * Windows therefore tile the sample stream without gaps or overlaps, and
 * energy integrated from P * interval length is exact over the long run.
 * When an interval holds no full period (no voltage, or an interval shorter
 * than a period) the whole interval is used and frequency is reported as 0.
 *
 * Sign conventions: P > 0 is import (consumption). Q > 0 and phase_deg > 0
 * when the current lags the voltage (inductive load). Q is the non-active
 * power, |Q| = sqrt(S^2 - P^2) with S = Vrms * Irms, so that PF = P / S and
 * S^2 = P^2 + Q^2 hold with distorted waveforms too; its sign comes from a
 * quarter-period delay line corrected for the measured frequency.
 */
#ifndef SMARTMETER_DSP_H
#define SMARTMETER_DSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest quarter-period delay line: 1/4 of a 40 Hz period at 204.8 kHz. */
#define DSP_DELAY_MAX 1280

/* Running sums over a window; additive, so a window is a difference of two. */
struct dsp_sums {
    uint64_t n;
    double v, i, v2, i2, vi;
    uint64_t n_delayed;
    double vd, vd_i; /* v delayed by delay_len samples, and its product with i */
};

struct dsp_accum {
    double rate_hz;
    double nominal_hz;
    struct dsp_sums run;      /* since the window opened */
    struct dsp_sums at_cross; /* run as it stood at the window's last zero crossing */
    double delay[DSP_DELAY_MAX];
    unsigned delay_len, delay_pos, delay_fill;
    /* zero-crossing detector on the DC-tracked voltage, with hysteresis */
    double dc_alpha, env_decay, min_gap_samples;
    double dc_v, env_v, prev_x;
    bool have_prev, armed;
    bool window_open;
    double window_start, last_cross; /* in samples since init, interpolated */
    uint32_t periods;                /* whole periods between the two */
    uint64_t interval_samples;       /* added since the last reset */
    uint64_t total_samples;          /* never reset: the time axis for crossings */
};

struct dsp_result {
    double vrms, irms;
    double p_w, q_var, s_va;
    double pf;
    double freq_hz; /* 0 when the window held no full period */
    double phase_deg;
    uint32_t periods;          /* whole periods in the window (0: whole interval used) */
    uint64_t samples;          /* samples in the window */
    uint64_t interval_samples; /* samples added in the interval */
};

/* rate_hz: samples per second per channel; nominal_hz: 50 or 60. */
void dsp_accum_init(struct dsp_accum *a, double rate_hz, double nominal_hz);
void dsp_accum_add(struct dsp_accum *a, const double *v, const double *i, size_t n);
/* Computes the interval's result; returns 0, or -ENODATA when no samples were added. */
int dsp_accum_result(const struct dsp_accum *a, struct dsp_result *ret);
/* Starts a new interval, carrying the samples after the last crossing into the next window. */
void dsp_accum_reset_interval(struct dsp_accum *a);

/*
 * Amplitude spectrum at the harmonics of one frequency, by correlating
 * x[0..n) with cos and sin at h * cycles_per_sample for h = 1..max_h (a
 * single-bin DFT each). For an exact result x should span a whole number of
 * fundamental periods. Writes ret_peak[h] (peak amplitude, same unit as x) and
 * ret_phase_rad[h] (x = peak * cos(2 pi h c k + phase)) for h = 0..max_h;
 * index 0 holds the mean with phase 0. Harmonics at or above the Nyquist
 * frequency are reported as 0. O(n * max_h), no allocation.
 */
void dsp_harmonics(const double *x, size_t n, double cycles_per_sample, unsigned max_h,
                   double *ret_peak, double *ret_phase_rad);

#endif
