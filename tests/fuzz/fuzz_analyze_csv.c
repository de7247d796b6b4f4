/*
 * `meterd analyze`'s CSV reader (meter/analyze.c, analyze_read_csv) on a
 * file's contents through fmemopen(), with a small sample cap so the "too
 * many samples" path is reached; then, as the command goes on, the analysis
 * (analyze_compute at 1000 Hz, 50 Hz mains: a window is 200 samples) and its
 * JSON (analysis_encode).
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

static void analyse(const struct analyze_samples *s)
{
    struct analysis a;
    char err[ANALYZE_ERR_LEN];
    int r = analyze_compute(s->v, s->i, s->n, 1000, 50, &a, err, sizeof(err));
    if (r) {
        FUZZ_CHECK(r == -EINVAL && err[0]);
        return;
    }
    struct dynbuf b;
    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    FUZZ_CHECK(analysis_encode(&a, ANALYSIS_METERD, &b) == 0);
    FUZZ_CHECK(fuzz_json_valid(b.buf, b.len));
    dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen() refuses an empty buffer; an empty file reads no line */
    FILE *in = fmemopen((void *)data, size, "r");
    FUZZ_CHECK(in != NULL);
    struct analyze_samples s;
    char err[ANALYZE_ERR_LEN];
    int r = analyze_read_csv(in, MAX_SAMPLES, &s, err, sizeof(err));
    fclose(in);
    if (r) {
        FUZZ_CHECK((r == -EINVAL || r == -E2BIG) && err[0]);
        return 0;
    }
    FUZZ_CHECK(s.n <= MAX_SAMPLES);
    for (size_t k = 0; k < s.n; k++)
        FUZZ_CHECK(isfinite(s.v[k]) && isfinite(s.i[k]));
    analyse(&s);
    analyze_samples_free(&s);
    return 0;
}
