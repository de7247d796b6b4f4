/*
 * `meterd analyze --wiring 3p4w|3p3w`'s six-column CSV reader
 * (meter/analyze.c, analyze_read_columns) on a file's contents through
 * fmemopen(), with a small sample cap so the "too many samples" path is
 * reached; then, as the command goes on, the three-phase analysis of what was
 * read for both wirings (analyze3_compute at 1000 Hz, 50 Hz mains: a window
 * is 200 samples) and its JSON (analyze3_encode).
 *
 * Checks: what was read is at most the cap and every sample finite; the
 * analysis of any finite samples is JSON that parses.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "analyze.h"
#include "fuzz.h"

#define MAX_SAMPLES 512

static void analyse(const struct analyze_channels *c, enum pq3_wiring wiring)
{
    struct analysis3 a;
    char err[ANALYZE_ERR_LEN];
    int r = analyze3_compute(c, wiring, 1000, 50, &a, err, sizeof(err));
    if (r) {
        FUZZ_CHECK(r == -EINVAL && err[0]);
        return;
    }
    struct dynbuf b;
    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    FUZZ_CHECK(analyze3_encode(&a, &b) == 0);
    FUZZ_CHECK(fuzz_json_valid(b.buf, b.len));
    dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen() refuses an empty buffer; an empty file reads no line */
    FILE *in = fmemopen((void *)data, size, "r");
    FUZZ_CHECK(in != NULL);
    struct analyze_channels c;
    char err[ANALYZE_ERR_LEN];
    int r = analyze_read_columns(in, PQ3_CHANNELS, "va,vb,vc,ia,ib,ic", MAX_SAMPLES, &c, err,
                                 sizeof(err));
    fclose(in);
    if (r) {
        FUZZ_CHECK((r == -EINVAL || r == -E2BIG) && err[0]);
        return 0;
    }
    FUZZ_CHECK(c.n <= MAX_SAMPLES && c.columns == PQ3_CHANNELS);
    for (size_t k = 0; k < c.n; k++)
        for (unsigned ch = 0; ch < PQ3_CHANNELS; ch++)
            FUZZ_CHECK(isfinite(c.ch[ch][k]));
    analyse(&c, PQ3_3P4W);
    analyse(&c, PQ3_3P3W);
    analyze_channels_free(&c);
    return 0;
}
