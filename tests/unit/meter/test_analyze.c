/* "meterd analyze": CSV input rules and the harmonic analysis. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "analyze.h"

#define RATE 6400.0

static char err[ANALYZE_ERR_LEN];

struct tone {
    unsigned order;
    double pct;
};

/*
 * Writes rate * seconds lines of v = V sqrt2 (sin + sum pct sin(h)), i likewise
 * lagging by phase_deg, like a scope export.
 */
static FILE *generate_csv(double freq, double seconds, double phase_deg, const struct tone *vh,
                          size_t nvh, const struct tone *ih, size_t nih)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fprintf(f, "voltage,current\n");
    double phi = phase_deg * M_PI / 180;
    for (long k = 0; k < (long)(RATE * seconds); k++) {
        double th = 2 * M_PI * freq * (double)k / RATE;
        double v = sin(th), i = sin(th - phi);
        for (size_t h = 0; h < nvh; h++)
            v += vh[h].pct / 100 * sin(vh[h].order * th);
        for (size_t h = 0; h < nih; h++)
            i += ih[h].pct / 100 * sin(ih[h].order * (th - phi));
        fprintf(f, "%.6f,%.6f\n", 230 * M_SQRT2 * v, 10 * M_SQRT2 * i);
    }
    rewind(f);
    return f;
}

static void assert_within_pct_of_reading(double got, double want, double pct, const char *what)
{
    if (fabs(got - want) > fabs(want) * pct / 100)
        fail_msg("%s = %.5f, expected %.5f within %g %%", what, got, want, pct);
}

static void test_analyze_finds_known_harmonics_within_5_percent(void **state)
{
    (void)state;
    static const struct tone vh[] = {{3, 5}, {5, 3}, {7, 2}, {11, 1}};
    static const struct tone ih[] = {{3, 20}, {5, 10}, {7, 5}, {13, 2}};
    FILE *f = generate_csv(49.9, 1.0, 30, vh, 4, ih, 4);
    struct analyze_samples s;
    struct analysis a;
    assert_int_equal(analyze_read_csv(f, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err)), 0);
    fclose(f);
    assert_int_equal(s.n, 6400);
    int r = analyze_compute(s.v, s.i, s.n, RATE, 50, &a, err, sizeof(err));
    analyze_samples_free(&s);
    if (r)
        fail_msg("%s", err);

    assert_true(fabs(a.frequency_hz - 49.9) < 0.01);
    assert_true(a.harmonics_v[0] == 0);
    assert_true(fabs(a.harmonics_v[1] - 100) < 1e-9 && fabs(a.harmonics_i[1] - 100) < 1e-9);
    for (size_t k = 0; k < 4; k++) {
        assert_within_pct_of_reading(a.harmonics_v[vh[k].order], vh[k].pct, 5, "V harmonic");
        assert_within_pct_of_reading(a.harmonics_i[ih[k].order], ih[k].pct, 5, "I harmonic");
    }
    /* Absent harmonics stay near zero. */
    assert_true(a.harmonics_v[2] < 0.05 && a.harmonics_v[9] < 0.05 && a.harmonics_i[4] < 0.05);
    assert_within_pct_of_reading(a.thd_v, sqrt(25 + 9 + 4 + 1), 5, "THD V");
    assert_within_pct_of_reading(a.thd_i, sqrt(400 + 100 + 25 + 4), 5, "THD I");
    assert_true(fabs(a.phase_deg - 30) < 0.2);
    assert_within_pct_of_reading(a.vrms, 230 * sqrt(1 + 0.0039), 0.1, "Vrms");
    assert_within_pct_of_reading(a.irms, 10 * sqrt(1 + 0.0529), 0.1, "Irms");
    /* 49.9 cycles: 3 to settle and up to one to the first crossing, then 10-cycle windows. */
    assert_int_equal(a.periods, 40);
    assert_true(a.window_samples > 5500 && a.window_samples < 6400);
}

static void test_analyze_prints_one_object_with_51_element_arrays(void **state)
{
    (void)state;
    static const struct tone vh[] = {{3, 4}};
    FILE *f = generate_csv(50, 0.5, -20, vh, 1, NULL, 0);
    struct analyze_samples s;
    struct analysis a;
    assert_int_equal(analyze_read_csv(f, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err)), 0);
    fclose(f);
    assert_int_equal(analyze_compute(s.v, s.i, s.n, RATE, 50, &a, err, sizeof(err)), 0);
    analyze_samples_free(&s);

    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(analyze_write_json(&a, out), 0);
    rewind(out);
    json_error_t jerr;
    json_t *doc = json_loadf(out, 0, &jerr);
    fclose(out);
    if (!doc)
        fail_msg("output is not one JSON document: %s", jerr.text);
    static const char *const keys[] = {"frequency_hz", "vrms", "irms",  "p_w",   "q_var",
                                       "s_va",         "pf",   "thd_v", "thd_i", "phase_deg"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (!json_is_number(json_object_get(doc, keys[k])))
            fail_msg("key %s missing or not a number", keys[k]);
    json_t *hv = json_object_get(doc, "harmonics_v");
    json_t *hi = json_object_get(doc, "harmonics_i");
    assert_int_equal(json_array_size(hv), 51);
    assert_int_equal(json_array_size(hi), 51);
    assert_true(json_number_value(json_array_get(hv, 0)) == 0);
    assert_true(json_number_value(json_array_get(hv, 1)) == 100);
    assert_true(fabs(json_number_value(json_array_get(hv, 3)) - 4) < 0.2);
    assert_true(fabs(json_number_value(json_object_get(doc, "phase_deg")) + 20) < 0.2);
    assert_true(json_number_value(json_object_get(doc, "q_var")) < 0);
    json_decref(doc);
}

static FILE *open_data(const char *rel)
{
    const char *base = getenv("TEST_DATA_DIR");
    char p[1024];
    snprintf(p, sizeof(p), "%s/meter/analyze/%s", base ? base : TEST_DATA_DIR_DEFAULT, rel);
    FILE *f = fopen(p, "r");
    if (!f)
        fail_msg("cannot open %s", p);
    return f;
}

static void test_analyze_tolerates_header_crlf_and_blank_lines(void **state)
{
    (void)state;
    FILE *f = open_data("valid/header_crlf_blank_lines.csv");
    struct analyze_samples s;
    struct analysis a;
    int r = analyze_read_csv(f, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err));
    fclose(f);
    if (r)
        fail_msg("%s", err);
    assert_int_equal(s.n, 1280);
    assert_true(fabs(s.v[1] - 17.8693) < 1e-5);
    /* Ten cycles are one window but no more: too short to settle on and analyse. */
    assert_int_equal(analyze_compute(s.v, s.i, s.n, RATE, 50, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no window of 10 cycles"));
    /* They are exactly 10 cycles of 50 Hz, so repeated they are a continuous signal. */
    float v[1280 * 3], i[1280 * 3];
    for (size_t k = 0; k < 1280 * 3; k++) {
        v[k] = s.v[k % 1280];
        i[k] = s.i[k % 1280];
    }
    analyze_samples_free(&s);
    r = analyze_compute(v, i, 1280 * 3, RATE, 50, &a, err, sizeof(err));
    if (r)
        fail_msg("%s", err);
    assert_true(fabs(a.frequency_hz - 50) < 0.01);
    assert_true(fabs(a.harmonics_v[3] - 4) < 0.2);
    assert_true(fabs(a.phase_deg - 30) < 0.2);
}

static void test_analyze_rejects_malformed_lines_naming_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *line;
    } cases[] = {
        {"text_instead_of_number.csv", "line 3:"}, {"three_columns.csv", "line 3:"},
        {"missing_comma.csv", "line 1:"},          {"not_finite.csv", "line 4:"},
        {"second_header.csv", "line 3:"},          {"semicolon.csv", "line 1:"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char rel[128];
        struct analyze_samples s = {0};
        snprintf(rel, sizeof(rel), "invalid/%s", cases[k].file);
        FILE *f = open_data(rel);
        err[0] = '\0';
        int r = analyze_read_csv(f, ANALYZE_MAX_SAMPLES, &s, err, sizeof(err));
        fclose(f);
        if (r != -EINVAL || strncmp(err, cases[k].line, strlen(cases[k].line)) != 0)
            fail_msg("%s: r=%d err='%s', expected -EINVAL and '%s'", cases[k].file, r, err,
                     cases[k].line);
        assert_null(s.v);
    }
}

static void test_analyze_caps_the_number_of_samples(void **state)
{
    (void)state;
    FILE *f = generate_csv(50, 0.1, 0, NULL, 0, NULL, 0); /* 640 samples */
    struct analyze_samples s = {0};
    assert_int_equal(analyze_read_csv(f, 600, &s, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "more than 600 samples"));
    rewind(f);
    assert_int_equal(analyze_read_csv(f, 640, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 640);
    analyze_samples_free(&s);
    fclose(f);
}

static void test_analyze_without_a_periodic_voltage_is_an_error(void **state)
{
    (void)state;
    static float v[6400], i[6400];
    struct analysis a;
    for (int k = 0; k < 6400; k++) {
        v[k] = 5.0f;
        i[k] = (float)sin(2 * M_PI * 50 * k / RATE);
    }
    assert_int_equal(analyze_compute(v, i, 6400, RATE, 50, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no fundamental"));
}

static void test_analyze_rejects_a_rate_the_analysis_cannot_take(void **state)
{
    (void)state;
    static float v[6400], i[6400];
    struct analysis a;
    assert_int_equal(analyze_compute(v, i, 6400, 500, 50, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cannot analyse at 500 Hz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyze_finds_known_harmonics_within_5_percent),
        cmocka_unit_test(test_analyze_prints_one_object_with_51_element_arrays),
        cmocka_unit_test(test_analyze_tolerates_header_crlf_and_blank_lines),
        cmocka_unit_test(test_analyze_rejects_malformed_lines_naming_the_line),
        cmocka_unit_test(test_analyze_caps_the_number_of_samples),
        cmocka_unit_test(test_analyze_without_a_periodic_voltage_is_an_error),
        cmocka_unit_test(test_analyze_rejects_a_rate_the_analysis_cannot_take),
    };
    return cmocka_run_group_tests_name("analyze", tests, NULL, NULL);
}
