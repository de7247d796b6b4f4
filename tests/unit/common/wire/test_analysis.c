/*
 * The capture analysis object: written once for both daemons, each keeps its
 * own output byte for byte. The expected texts in tests/data/wire/analysis/
 * are what `meterd analyze` and the server's capture ingest wrote for the
 * same results before the writer was shared.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis.h"
#include "fileutil.h"
#include "pq.h"

/* Results with digits past the sixth decimal, residues and halves to round. */
static void fixture(struct pq_interval *iv, unsigned freq_windows)
{
    *iv = (struct pq_interval){
        .windows = 7,
        .duration_s = 1.4000000000000001,
        .vrms_min = 229.87654321987,
        .vrms_avg = 230.123456789123,
        .vrms_max = 230.5000004,
        .irms_min = 9.9999994999,
        .irms_avg = 10.0000005001,
        .irms_max = 10.25,
        .freq_min = 49.9876543219,
        .freq_avg = 50.0000012345,
        .freq_max = 50.0123456789,
        .p_avg = 1840.3333333333333,
        .q_avg = -1380.0000004999,
        .s_avg = 2300.1,
        .pf = 0.80001234567,
        .phase_deg = -36.8698976458,
        .thd_v = 5.916079783099616,
        .thd_i = 1e-9,
    };
    for (int h = 1; h <= PQ_MAX_HARMONIC; h++) {
        iv->harmonics_v[h] = h == 1 ? 100 : 100.0 / (h * h) + 1e-7 * h;
        iv->harmonics_i[h] = h == 1 ? 100 : (h % 2 ? 30.0 / h : 0.0000004 * h);
    }
    iv->freq_windows = freq_windows;
}

/* The fixture's interval as an analysis. */
static struct analysis from_fixture(unsigned freq_windows)
{
    struct pq_interval iv;
    struct analysis a;
    fixture(&iv, freq_windows);
    analysis_from_pq(&iv, &a);
    return a;
}

static void assert_writes(const struct analysis *a, unsigned flags, const char *file)
{
    const char *root = getenv("TEST_DATA_DIR");
    char path[1024], *want;
    size_t want_len;
    struct dynbuf b;
    snprintf(path, sizeof(path), "%s/wire/analysis/%s", root ? root : TEST_DATA_DIR_DEFAULT, file);
    if (file_read_all(path, 1 << 20, &want, &want_len))
        fail_msg("cannot read %s", path);
    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    assert_int_equal(analysis_encode(a, flags, &b), 0);
    assert_int_equal(dynbuf_addc(&b, '\n'), 0); /* the files end their one line */
    if (b.len != want_len || memcmp(b.buf, want, want_len) != 0)
        fail_msg("%s differs:\n got %s want %s", file, dynbuf_str(&b), want);
    dynbuf_free(&b);
    free(want);
}

static void test_the_server_stores_what_it_always_stored(void **state)
{
    (void)state;
    struct analysis a = from_fixture(5);
    assert_writes(&a, ANALYSIS_SERVER, "server.json");
    /* no window found a fundamental: no frequency, no frequency spread */
    a = from_fixture(0);
    assert_writes(&a, ANALYSIS_SERVER, "server_without_fundamental.json");
}

static void test_meterd_analyze_prints_what_it_always_printed(void **state)
{
    (void)state;
    struct analysis a = from_fixture(5);
    a.samples = 8960;
    a.window_samples = 8960;
    a.periods = 70;
    assert_writes(&a, ANALYSIS_METERD, "meterd_analyze.json");
}

static void test_the_object_fits_its_cap_and_reports_a_full_buffer(void **state)
{
    (void)state;
    struct analysis a = from_fixture(5);
    struct dynbuf b;
    /* the largest magnitudes a value can take still fit */
    for (int h = 0; h <= ANALYSIS_HARMONICS; h++)
        a.harmonics_v[h] = a.harmonics_i[h] = -1e300;
    dynbuf_init(&b, ANALYSIS_JSON_MAX);
    assert_int_equal(analysis_encode(&a, ANALYSIS_SERVER | ANALYSIS_COUNTS, &b), 0);
    dynbuf_free(&b);
    dynbuf_init(&b, 100);
    assert_int_equal(analysis_encode(&a, ANALYSIS_SERVER, &b), -E2BIG);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_server_stores_what_it_always_stored),
        cmocka_unit_test(test_meterd_analyze_prints_what_it_always_printed),
        cmocka_unit_test(test_the_object_fits_its_cap_and_reports_a_full_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
