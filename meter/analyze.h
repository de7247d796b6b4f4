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
 * With --wiring 3p4w or 3p3w the lines are "va,vb,vc,ia,ib,ic" (or
 * "vab,vbc,vca,ia,ib,ic") and the analysis is the three-phase one
 * (common/pq3.h): per phase, totals, line-to-line voltages, neutral current,
 * unbalance and phase sequence, in one JSON object (docs/meterd.md).
 *
 * Ownership: analyze_read_csv() fills a struct analyze_samples whose arrays
 * the caller releases with analyze_samples_free(); analyze_read_columns()
 * likewise a struct analyze_channels (analyze_channels_free()).
 */
#ifndef SMARTMETER_METER_ANALYZE_H
#define SMARTMETER_METER_ANALYZE_H

#include <stddef.h>
#include <stdio.h>

#include "analysis.h"
#include "dynbuf.h"
#include "pq3.h"

#define ANALYZE_MAX_SAMPLES 10000000u
/* Sample instants of a three-phase capture: 6 channels of 4 bytes, at most 120 MB. */
#define ANALYZE3_MAX_SAMPLES 5000000u
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

/* Samples of up to six channels, channel k from column k. */
struct analyze_channels {
    float *ch[PQ3_CHANNELS];
    unsigned columns;
    size_t n, cap;
};

/*
 * Reads lines of `columns` (1..6) comma-separated numbers, with the same
 * tolerance as analyze_read_csv(); `expected` names the columns in messages
 * ("va,vb,vc,ia,ib,ic"). Same returns.
 */
int analyze_read_columns(FILE *in, unsigned columns, const char *expected, size_t max_samples,
                         struct analyze_channels *ret, char *err, size_t errlen);
void analyze_channels_free(struct analyze_channels *c);

/* A three-phase analysis and what it used. */
struct analysis3 {
    struct pq3_interval iv;
    size_t samples;   /* sample instants read */
    unsigned periods; /* fundamental periods in the windows that found one */
};

/*
 * Analyses a 3p4w or 3p3w capture (six columns as pq3.h numbers the
 * channels). Returns 0, -EINVAL (rate out of range, no window found a 40..70
 * Hz fundamental on phase a's voltage) or -ENOMEM; err says which.
 */
int analyze3_compute(const struct analyze_channels *c, enum pq3_wiring wiring, double rate_hz,
                     double nominal_hz, struct analysis3 *ret, char *err, size_t errlen);

/*
 * Appends the three-phase JSON object (docs/meterd.md), values rounded to six
 * decimals as the single-phase one. Returns 0 or the writer's error.
 */
int analyze3_encode(const struct analysis3 *a, struct dynbuf *out);

/* Prints the analysis (ANALYSIS_METERD, analysis.h) and a newline. Returns 0 or -EIO. */
int analyze_write_json(const struct analysis *a, FILE *out);
/* The same for a three-phase analysis. */
int analyze3_write_json(const struct analysis3 *a, FILE *out);

/* The whole command: argv[first..argc) are its options. Returns the exit status. */
int analyze_main(int argc, char **argv, int first);

void analyze_print_help(FILE *out);

#endif
