/* "meterd analyze": CSV input rules and the harmonic analysis. */
#include <complex.h>
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

/* ---- three-phase (--wiring 3p4w / 3p3w) ---- */

/* A three-phase system as RMS phasors of the fundamental, plus a 3rd harmonic on every
 * voltage (h * the phase's angle, so it is zero sequence when balanced). */
struct system3 {
    double complex v[3], i[3];
    double h3_pct;
};

static double complex polar(double mag, double deg)
{
    return mag * cexp(I * deg * M_PI / 180);
}

/* Phase b at 90 %, phase c 5 degrees off and at 120 % current, a 3rd harmonic of 4 %. */
static struct system3 unbalanced(void)
{
    struct system3 s = {.h3_pct = 4};
    const double vdeg[3] = {0, -120, 125}, vmag[3] = {230, 207, 230};
    const double imag[3] = {10, 10, 12}, lag[3] = {25, 45, -15};
    for (int p = 0; p < 3; p++) {
        s.v[p] = polar(vmag[p], vdeg[p]);
        s.i[p] = polar(imag[p], vdeg[p] - lag[p]);
    }
    return s;
}

static double inst(double complex x, double th, double h3_pct)
{
    double ang = carg(x);
    return M_SQRT2 * cabs(x) * (sin(th + ang) + h3_pct / 100 * sin(3 * (th + ang)));
}

/* rate * seconds lines of the six channels; 3p3w writes line-to-line voltages. */
static FILE *generate_csv3(const struct system3 *s, bool delta, double freq, double seconds)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fprintf(f, delta ? "vab,vbc,vca,ia,ib,ic\n" : "va,vb,vc,ia,ib,ic\n");
    for (long k = 0; k < (long)(RATE * seconds); k++) {
        double th = 2 * M_PI * freq * (double)k / RATE, v[3], i[3];
        for (int p = 0; p < 3; p++) {
            v[p] = inst(s->v[p], th, s->h3_pct);
            i[p] = inst(s->i[p], th, 0);
        }
        if (delta)
            fprintf(f, "%.5f,%.5f,%.5f,", v[0] - v[1], v[1] - v[2], v[2] - v[0]);
        else
            fprintf(f, "%.5f,%.5f,%.5f,", v[0], v[1], v[2]);
        fprintf(f, "%.5f,%.5f,%.5f\n", i[0], i[1], i[2]);
    }
    rewind(f);
    return f;
}

/* Runs the command's steps on f and returns the printed object. */
static json_t *analyse3(FILE *f, enum pq3_wiring wiring)
{
    struct analyze_channels c;
    struct analysis3 a;
    const char *cols = wiring == PQ3_3P4W ? "va,vb,vc,ia,ib,ic" : "vab,vbc,vca,ia,ib,ic";
    if (analyze_read_columns(f, PQ3_CHANNELS, cols, ANALYZE3_MAX_SAMPLES, &c, err, sizeof(err)))
        fail_msg("%s", err);
    fclose(f);
    int r = analyze3_compute(&c, wiring, RATE, 50, &a, err, sizeof(err));
    analyze_channels_free(&c);
    if (r)
        fail_msg("%s", err);
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(analyze3_write_json(&a, out), 0);
    rewind(out);
    json_error_t jerr;
    json_t *doc = json_loadf(out, 0, &jerr);
    fclose(out);
    if (!doc)
        fail_msg("output is not one JSON document: %s", jerr.text);
    return doc;
}

static double num(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_number(v))
        fail_msg("key %s missing or not a number", key);
    return json_number_value(v);
}

static double phase_num(json_t *doc, int p, const char *key)
{
    const char name[2] = {(char)('a' + p), 0};
    json_t *ph = json_object_get(json_object_get(doc, "phases"), name);
    if (!json_is_object(ph))
        fail_msg("phases.%s missing", name);
    return num(ph, key);
}

static double u2_of(const double complex *v)
{
    const double complex a = cexp(I * 2 * M_PI / 3);
    return 100 * cabs(v[0] + a * a * v[1] + a * v[2]) / cabs(v[0] + a * v[1] + a * a * v[2]);
}

static void test_analyze_three_phase_prints_per_phase_totals_and_unbalance(void **state)
{
    (void)state;
    struct system3 s = unbalanced();
    json_t *doc = analyse3(generate_csv3(&s, false, 49.9, 1.0), PQ3_3P4W);
    const double h = s.h3_pct / 100;
    double p_total = 0;
    for (int p = 0; p < 3; p++) {
        const double vrms = cabs(s.v[p]) * sqrt(1 + h * h), irms = cabs(s.i[p]);
        const double pw = creal(s.v[p] * conj(s.i[p]));
        p_total += pw;
        assert_within_pct_of_reading(phase_num(doc, p, "vrms"), vrms, 0.1, "Vrms");
        assert_within_pct_of_reading(phase_num(doc, p, "irms"), irms, 0.1, "Irms");
        assert_within_pct_of_reading(phase_num(doc, p, "p_w"), pw, 0.2, "P");
        assert_true(fabs(phase_num(doc, p, "pf") - pw / (vrms * irms)) < 0.002);
        double lag = (carg(s.v[p]) - carg(s.i[p])) * 180 / M_PI;
        assert_true(fabs(phase_num(doc, p, "phase_deg") - lag) < 0.1);
        assert_true(phase_num(doc, p, "q_var") * lag > 0);
        assert_within_pct_of_reading(phase_num(doc, p, "thd_v"), s.h3_pct, 5, "THD V");
        assert_true(phase_num(doc, p, "thd_i") < 0.05);
        const char name[2] = {(char)('a' + p), 0};
        json_t *ph = json_object_get(json_object_get(doc, "phases"), name);
        assert_int_equal(json_array_size(json_object_get(ph, "harmonics_v")), 51);
        assert_int_equal(json_array_size(json_object_get(ph, "harmonics_i")), 51);
    }
    assert_true(fabs(phase_num(doc, 1, "angle_v_deg") + 120) < 0.1);
    assert_true(fabs(phase_num(doc, 2, "angle_v_deg") - 125) < 0.1);
    assert_true(fabs(num(doc, "frequency_hz") - 49.9) < 0.01);
    assert_within_pct_of_reading(num(doc, "p_w"), p_total, 0.2, "total P");
    assert_true(num(doc, "s_va") > num(doc, "p_w") && num(doc, "q_var") > 0);
    assert_true(fabs(num(doc, "pf") - num(doc, "p_w") / num(doc, "s_va")) < 1e-5);
    assert_true(fabs(num(doc, "unbalance_u2_pct") - u2_of(s.v)) < 0.15);
    /* zero sequence: V0 / V1 of the fundamentals */
    const double complex a = cexp(I * 2 * M_PI / 3);
    double u0 = 100 * cabs(s.v[0] + s.v[1] + s.v[2]) / cabs(s.v[0] + a * s.v[1] + a * a * s.v[2]);
    assert_true(fabs(num(doc, "unbalance_u0_pct") - u0) < 0.15);
    /* the neutral carries the sum of the line currents */
    double in = cabs(s.i[0] + s.i[1] + s.i[2]);
    assert_within_pct_of_reading(num(doc, "neutral_irms"), in, 0.5, "neutral");
    assert_string_equal(json_string_value(json_object_get(doc, "sequence")), "abc");
    assert_string_equal(json_string_value(json_object_get(doc, "wiring")), "3p4w");
    /* vab = va - vb at the fundamental and at the 3rd harmonic (phasors at 3 x the angle) */
    double complex a3 = h * cabs(s.v[0]) * cexp(3 * I * carg(s.v[0]));
    double complex b3 = h * cabs(s.v[1]) * cexp(3 * I * carg(s.v[1]));
    double vab = hypot(cabs(s.v[0] - s.v[1]), cabs(a3 - b3));
    assert_within_pct_of_reading(num(doc, "voltage_ab"), vab, 0.1, "Vab");
    assert_int_equal((int)num(doc, "samples"), 6400);
    json_decref(doc);
}

static void test_analyze_three_wire_has_no_neutral_and_the_same_total(void **state)
{
    (void)state;
    struct system3 s = unbalanced();
    s.h3_pct = 0;
    s.i[2] = -(s.i[0] + s.i[1]); /* no neutral: the line currents sum to zero */
    json_t *doc = analyse3(generate_csv3(&s, true, 50.2, 1.0), PQ3_3P3W);
    double p_total = 0;
    for (int p = 0; p < 3; p++)
        p_total += creal(s.v[p] * conj(s.i[p]));
    assert_within_pct_of_reading(num(doc, "p_w"), p_total, 0.2, "total P");
    assert_true(json_is_null(json_object_get(doc, "neutral_irms")));
    assert_true(json_is_null(json_object_get(doc, "unbalance_u0_pct")));
    /* u2 of the line-to-line voltages is that of the phase voltages */
    assert_true(fabs(num(doc, "unbalance_u2_pct") - u2_of(s.v)) < 0.15);
    assert_within_pct_of_reading(num(doc, "voltage_bc"), cabs(s.v[1] - s.v[2]), 0.1, "Vbc");
    /* per phase against the virtual star point: the phase voltage less the zero sequence */
    double complex v0 = (s.v[0] + s.v[1] + s.v[2]) / 3;
    assert_within_pct_of_reading(phase_num(doc, 0, "vrms"), cabs(s.v[0] - v0), 0.1, "Va'");
    assert_string_equal(json_string_value(json_object_get(doc, "wiring")), "3p3w");
    json_decref(doc);
}

static void test_analyze_swapped_phases_read_acb(void **state)
{
    (void)state;
    struct system3 s = unbalanced();
    double complex t = s.v[1];
    s.v[1] = s.v[2];
    s.v[2] = t;
    t = s.i[1];
    s.i[1] = s.i[2];
    s.i[2] = t;
    json_t *doc = analyse3(generate_csv3(&s, false, 50, 1.0), PQ3_3P4W);
    assert_string_equal(json_string_value(json_object_get(doc, "sequence")), "acb");
    /* unbalance is that of the rotation the meter sees, so the same as before the swap */
    struct system3 orig = unbalanced();
    assert_true(fabs(num(doc, "unbalance_u2_pct") - u2_of(orig.v)) < 0.15);
    json_decref(doc);
}

static void test_analyze_three_phase_needs_six_numbers_a_line(void **state)
{
    (void)state;
    FILE *f = generate_csv(50, 0.1, 0, NULL, 0, NULL, 0); /* "v,i" lines */
    struct analyze_channels c = {0};
    assert_int_equal(analyze_read_columns(f, 6, "va,vb,vc,ia,ib,ic", 1000, &c, err, sizeof(err)),
                     -EINVAL);
    fclose(f);
    assert_string_equal(err, "line 2: expected 'va,vb,vc,ia,ib,ic' (six numbers), got "
                             "'0.000000,0.000000'");
    assert_null(c.ch[0]);

    char *bad_wiring[] = {"meterd", "analyze", "--rate", "6400", "--wiring", "3p5w"};
    assert_int_equal(analyze_main(6, bad_wiring, 2), 2);
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
        cmocka_unit_test(test_analyze_three_phase_prints_per_phase_totals_and_unbalance),
        cmocka_unit_test(test_analyze_three_wire_has_no_neutral_and_the_same_total),
        cmocka_unit_test(test_analyze_swapped_phases_read_acb),
        cmocka_unit_test(test_analyze_three_phase_needs_six_numbers_a_line),
    };
    return cmocka_run_group_tests_name("analyze", tests, NULL, NULL);
}
