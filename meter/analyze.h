/*
 * analyze: "meterd analyze", offline power-quality analysis of a captured
 * waveform (CSV lines "v,i" in volts and amperes, one sample pair a line).
 *
 * RMS, power, power factor and frequency come from the same dsp accumulator
 * the live meter uses. Harmonics are the magnitudes at h * f (h = 1..50, f
 * the zero-crossing frequency estimate), computed over the largest whole
 * number of fundamental periods in the capture, in % of the fundamental.
 * The harmonic step is isolated in analyze_compute() so that swapping in an
 * FFT library changes nothing else.
 *
 * Ownership: analyze_read_csv() fills a struct analyze_samples whose arrays
 * the caller releases with analyze_samples_free().
 */
#ifndef SMARTMETER_METER_ANALYZE_H
#define SMARTMETER_METER_ANALYZE_H

#include <stddef.h>
#include <stdio.h>

#define ANALYZE_HARMONICS   50
#define ANALYZE_MAX_SAMPLES 10000000u
#define ANALYZE_ERR_LEN     256

struct analysis {
    double frequency_hz;
    double vrms, irms;
    double p_w, q_var, s_va, pf;
    double thd_v, thd_i; /* % of the fundamental, harmonics 2..50 */
    double phase_deg;    /* fundamental current lags fundamental voltage by this */
    /* index = harmonic order, % of the fundamental: [0] = 0 (DC not reported), [1] = 100 */
    double harmonics_v[ANALYZE_HARMONICS + 1];
    double harmonics_i[ANALYZE_HARMONICS + 1];
    size_t samples;        /* pairs read */
    size_t window_samples; /* pairs in the whole periods analysed for harmonics */
    unsigned periods;
};

struct analyze_samples {
    double *v, *i;
    size_t n, cap;
};

/*
 * Reads "v,i" lines from in: blank lines, one header line before the data and
 * CRLF endings are tolerated. Returns 0, or -EINVAL for a malformed line
 * (err names the line number), -E2BIG past max_samples, -ENOMEM, -EIO.
 */
int analyze_read_csv(FILE *in, size_t max_samples, struct analyze_samples *ret, char *err,
                     size_t errlen);
void analyze_samples_free(struct analyze_samples *s);

/*
 * Analyses n sample pairs taken at rate_hz. Returns 0, or -EINVAL when the
 * capture holds fewer than two full periods of the voltage (err says so).
 */
int analyze_compute(const double *v, const double *i, size_t n, double rate_hz, double nominal_hz,
                    struct analysis *ret, char *err, size_t errlen);

/* Prints the analysis as one JSON object and a newline. Returns 0 or -EIO. */
int analyze_write_json(const struct analysis *a, FILE *out);

/* The whole command: argv[first..argc) are its options. Returns the exit status. */
int analyze_main(int argc, char **argv, int first);

void analyze_print_help(FILE *out);

#endif
