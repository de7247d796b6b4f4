/*
 * analyze: "meterd analyze", offline power-quality analysis of a captured
 * waveform (CSV lines "v,i" in volts and amperes, one sample pair a line).
 *
 * The analysis is the meter's own (common/pq.h): the capture is cut into
 * windows of 10 cycles (12 at 60 Hz nominal) synchronised to the measured
 * voltage, each analysed with an FFT, and the windows are averaged: RMS as
 * the root of the mean square, powers over time, frequency, angle, THD and
 * harmonics over the windows that found a fundamental. The part of the
 * capture after the last complete window is not used.
 *
 * Ownership: analyze_read_csv() fills a struct analyze_samples whose arrays
 * the caller releases with analyze_samples_free().
 */
#ifndef SMARTMETER_METER_ANALYZE_H
#define SMARTMETER_METER_ANALYZE_H

#include <stddef.h>
#include <stdio.h>

#include "analysis.h"

#define ANALYZE_MAX_SAMPLES 10000000u
#define ANALYZE_ERR_LEN     256

struct analyze_samples {
    float *v, *i; /* the ADC's resolution is far below float's 24 bits */
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
 * Analyses n sample pairs taken at rate_hz. Returns 0, -EINVAL when the rate
 * is out of range or no window found a 40..70 Hz fundamental (a capture needs
 * about 3 cycles to settle plus one window: 0.3 s at 50 Hz), or -ENOMEM; err
 * says which.
 */
int analyze_compute(const float *v, const float *i, size_t n, double rate_hz, double nominal_hz,
                    struct analysis *ret, char *err, size_t errlen);

/* Prints the analysis (ANALYSIS_METERD, analysis.h) and a newline. Returns 0 or -EIO. */
int analyze_write_json(const struct analysis *a, FILE *out);

/* The whole command: argv[first..argc) are its options. Returns the exit status. */
int analyze_main(int argc, char **argv, int first);

void analyze_print_help(FILE *out);

#endif
