/*
 * dsp accuracy on signals from the sim ADC: the meter's measurement contract.
 * 6400 samples/s, 1 s intervals; frequency within 0.01 Hz, Vrms and Irms
 * within 0.1 %, P within 0.2 %, PF within 0.002, at nominal and off-nominal
 * frequency, lagging and leading, clean and with 3rd/5th/7th harmonics at
 * 5/3/2 % plus 0.1 % full-scale noise.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dsp.h"
#include "hal/adc.h"

#define RATE        6400
#define INTERVALS   4
#define V_RMS       230.0
#define I_RMS       10.0
#define DISTORTION  "h3=5,h5=3,h7=2,noise=0.1"
#define HARM_SQ_SUM (0.05 * 0.05 + 0.03 * 0.03 + 0.02 * 0.02)

static double vbuf[RATE * INTERVALS], ibuf[RATE * INTERVALS];

struct expect {
    double freq_hz, vrms, irms, p_w, pf;
};

/* Fills vbuf/ibuf from the sim with the given parameters (realtime off). */
static void generate(const char *params, size_t n)
{
    char spec[256], err[256];
    struct adc *adc = NULL;
    snprintf(spec, sizeof(spec), "sim:rate=%d,realtime=0,%s", RATE, params);
    int r = adc_open(spec, &adc, err, sizeof(err));
    if (r)
        fail_msg("adc_open(%s): %s", spec, err);
    /* Several reads, to exercise phase continuity across blocks as meterd does. */
    for (size_t off = 0; off < n; off += RATE / 10) {
        size_t want = n - off < RATE / 10 ? n - off : RATE / 10;
        assert_int_equal(adc_read(adc, vbuf + off, ibuf + off, want), 0);
    }
    adc_close(adc);
}

/* Expected values for the sim's model: equal harmonic % on both channels, same lag per harmonic. */
static struct expect expected(double freq, double phase_deg, bool distorted)
{
    double k = distorted ? 1.0 + HARM_SQ_SUM : 1.0;
    double noise_v = distorted ? 0.001 * 1.25 * M_SQRT2 * V_RMS : 0;
    double noise_i = distorted ? 0.001 * 1.25 * M_SQRT2 * I_RMS : 0;
    struct expect e;
    e.freq_hz = freq;
    e.vrms = sqrt(V_RMS * V_RMS * k + noise_v * noise_v);
    e.irms = sqrt(I_RMS * I_RMS * k + noise_i * noise_i);
    e.p_w = V_RMS * I_RMS * k * cos(phase_deg * M_PI / 180.0);
    e.pf = e.p_w / (e.vrms * e.irms);
    return e;
}

static void assert_rel(double got, double want, double rel, const char *what, int interval)
{
    double err = fabs(got - want) / fabs(want);
    if (err > rel)
        fail_msg("interval %d: %s = %.6f, expected %.6f (error %.4f %% > %.4f %%)", interval, what,
                 got, want, err * 100, rel * 100);
}

static void check_accuracy(double freq, double phase_deg, bool distorted)
{
    char params[160];
    snprintf(params, sizeof(params), "freq=%g,phase=%g%s%s", freq, phase_deg, distorted ? "," : "",
             distorted ? DISTORTION : "");
    generate(params, RATE * INTERVALS);
    struct expect e = expected(freq, phase_deg, distorted);

    struct dsp_accum acc;
    dsp_accum_init(&acc, RATE, 50);
    for (int k = 0; k < INTERVALS; k++) {
        struct dsp_result r;
        dsp_accum_add(&acc, vbuf + k * RATE, ibuf + k * RATE, RATE);
        assert_int_equal(dsp_accum_result(&acc, &r), 0);
        dsp_accum_reset_interval(&acc);
        if (fabs(r.freq_hz - e.freq_hz) > 0.01)
            fail_msg("interval %d: frequency %.5f Hz, expected %.5f +- 0.01", k, r.freq_hz,
                     e.freq_hz);
        assert_rel(r.vrms, e.vrms, 0.001, "Vrms", k);
        assert_rel(r.irms, e.irms, 0.001, "Irms", k);
        assert_rel(r.p_w, e.p_w, 0.002, "P", k);
        if (fabs(r.pf - e.pf) > 0.002)
            fail_msg("interval %d: PF %.5f, expected %.5f +- 0.002", k, r.pf, e.pf);
        assert_int_equal(r.interval_samples, RATE);
    }
}

#define ACCURACY_CASE(name, freq, phase, distorted)                                                \
    static void name(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        check_accuracy(freq, phase, distorted);                                                    \
    }

ACCURACY_CASE(test_dsp_accurate_50hz_in_phase, 50, 0, false)
ACCURACY_CASE(test_dsp_accurate_50hz_36_87deg_lag, 50, 36.87, false)
ACCURACY_CASE(test_dsp_accurate_50hz_60deg_lag, 50, 60, false)
ACCURACY_CASE(test_dsp_accurate_50hz_30deg_lead, 50, -30, false)
ACCURACY_CASE(test_dsp_accurate_49_73hz_in_phase, 49.73, 0, false)
ACCURACY_CASE(test_dsp_accurate_49_73hz_36_87deg_lag, 49.73, 36.87, false)
ACCURACY_CASE(test_dsp_accurate_49_73hz_60deg_lag, 49.73, 60, false)
ACCURACY_CASE(test_dsp_accurate_49_73hz_30deg_lead, 49.73, -30, false)
ACCURACY_CASE(test_dsp_accurate_50hz_in_phase_harmonics_noise, 50, 0, true)
ACCURACY_CASE(test_dsp_accurate_50hz_36_87deg_lag_harmonics_noise, 50, 36.87, true)
ACCURACY_CASE(test_dsp_accurate_50hz_60deg_lag_harmonics_noise, 50, 60, true)
ACCURACY_CASE(test_dsp_accurate_50hz_30deg_lead_harmonics_noise, 50, -30, true)
ACCURACY_CASE(test_dsp_accurate_49_73hz_in_phase_harmonics_noise, 49.73, 0, true)
ACCURACY_CASE(test_dsp_accurate_49_73hz_36_87deg_lag_harmonics_noise, 49.73, 36.87, true)
ACCURACY_CASE(test_dsp_accurate_49_73hz_60deg_lag_harmonics_noise, 49.73, 60, true)
ACCURACY_CASE(test_dsp_accurate_49_73hz_30deg_lead_harmonics_noise, 49.73, -30, true)

static struct dsp_result one_interval(const char *params, double nominal)
{
    struct dsp_accum acc;
    struct dsp_result r;
    generate(params, RATE);
    dsp_accum_init(&acc, RATE, nominal);
    dsp_accum_add(&acc, vbuf, ibuf, RATE);
    assert_int_equal(dsp_accum_result(&acc, &r), 0);
    return r;
}

static void test_sim_phase_lag_gives_positive_q(void **state)
{
    (void)state;
    struct dsp_result r = one_interval("phase=36.87," DISTORTION, 50);
    /* Q = S sin(phi): 2300 * 1.0038 * 0.6 */
    assert_true(r.q_var > 0);
    assert_rel(r.q_var, V_RMS * I_RMS * (1 + HARM_SQ_SUM) * 0.6, 0.01, "Q", 0);
    assert_rel(r.phase_deg, 36.87, 0.005, "phase", 0);
}

static void test_sim_phase_lead_gives_negative_q(void **state)
{
    (void)state;
    struct dsp_result r = one_interval("freq=49.73,phase=-30", 50);
    assert_true(r.q_var < 0);
    assert_rel(r.q_var, -V_RMS * I_RMS * 0.5, 0.002, "Q", 0);
    assert_rel(r.phase_deg, -30, 0.005, "phase", 0);
}

static void test_dsp_q_sign_right_far_off_nominal(void **state)
{
    (void)state;
    /* 59.5 Hz on a 50 Hz delay line: a 107 degree shift, still the right sign. */
    struct dsp_result r = one_interval("freq=59.5,phase=-10", 50);
    assert_true(r.q_var < 0);
    r = one_interval("freq=59.5,phase=10", 50);
    assert_true(r.q_var > 0);
}

static void test_dsp_export_gives_negative_power(void **state)
{
    (void)state;
    struct dsp_result r = one_interval("phase=180", 50);
    assert_rel(r.p_w, -V_RMS * I_RMS, 0.001, "P", 0);
    assert_true(r.pf < -0.999);
}

static void test_dsp_tracks_60hz_mains(void **state)
{
    (void)state;
    struct dsp_result r = one_interval("freq=59.95,phase=25,h5=4,noise=0.1", 60);
    assert_true(fabs(r.freq_hz - 59.95) <= 0.01);
    assert_rel(r.pf, cos(25 * M_PI / 180), 0.002, "PF", 0);
}

static void test_dsp_removes_dc_offset(void **state)
{
    (void)state;
    struct dsp_accum acc;
    struct dsp_result r;
    generate("phase=0", RATE);
    for (size_t k = 0; k < RATE; k++) {
        vbuf[k] += 12.0;
        ibuf[k] -= 0.5;
    }
    dsp_accum_init(&acc, RATE, 50);
    dsp_accum_add(&acc, vbuf, ibuf, RATE);
    assert_int_equal(dsp_accum_result(&acc, &r), 0);
    assert_rel(r.vrms, V_RMS, 0.001, "Vrms", 0);
    assert_rel(r.irms, I_RMS, 0.001, "Irms", 0);
    assert_rel(r.p_w, V_RMS * I_RMS, 0.002, "P", 0);
}

/*
 * Windows tile the stream: over many short intervals that cut periods
 * anywhere, sum(P * T) equals the energy of the whole stream.
 */
static void test_dsp_windows_tile_so_energy_sums_exactly(void **state)
{
    (void)state;
    const size_t chunk = 2371; /* 0.37 s: 18.4 periods at 49.73 Hz */
    struct dsp_accum acc;
    double energy_ws = 0, seconds = 0;
    generate("freq=49.73,phase=60," DISTORTION, RATE * INTERVALS);
    dsp_accum_init(&acc, RATE, 50);
    for (size_t off = 0; off + chunk <= RATE * INTERVALS; off += chunk) {
        struct dsp_result r;
        dsp_accum_add(&acc, vbuf + off, ibuf + off, chunk);
        assert_int_equal(dsp_accum_result(&acc, &r), 0);
        dsp_accum_reset_interval(&acc);
        assert_true(r.periods >= 17);
        energy_ws += r.p_w * (double)chunk / RATE;
        seconds += (double)chunk / RATE;
    }
    struct expect e = expected(49.73, 60, true);
    assert_rel(energy_ws / seconds, e.p_w, 0.002, "mean P", 0);
}

static void test_dsp_without_voltage_reports_zero_frequency(void **state)
{
    (void)state;
    struct dsp_result r = one_interval("v=0,i=5", 50);
    assert_true(r.freq_hz == 0);
    assert_int_equal(r.periods, 0);
    assert_true(r.vrms == 0);
    assert_rel(r.irms, 5, 0.001, "Irms", 0);
    assert_true(r.p_w == 0);
}

static void test_dsp_empty_interval_is_nodata(void **state)
{
    (void)state;
    struct dsp_accum acc;
    struct dsp_result r;
    dsp_accum_init(&acc, RATE, 50);
    assert_int_equal(dsp_accum_result(&acc, &r), -ENODATA);
}

static void test_dsp_harmonics_finds_amplitude_and_phase(void **state)
{
    (void)state;
    double peak[8], phase[8];
    /* 50 periods of 50 Hz at 6400 Hz: 6400 samples, exactly whole. */
    for (size_t k = 0; k < RATE; k++) {
        double t = 2 * M_PI * 50.0 * (double)k / RATE;
        vbuf[k] = 1.5 + 100 * cos(t + 0.3) + 7 * cos(3 * t - 1.0);
    }
    dsp_harmonics(vbuf, RATE, 50.0 / RATE, 7, peak, phase);
    assert_true(fabs(peak[0] - 1.5) < 1e-9);
    assert_true(fabs(peak[1] - 100) < 1e-9);
    assert_true(fabs(phase[1] - 0.3) < 1e-9);
    assert_true(fabs(peak[3] - 7) < 1e-9);
    assert_true(fabs(phase[3] + 1.0) < 1e-9);
    assert_true(peak[2] < 1e-9 && peak[5] < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsp_accurate_50hz_in_phase),
        cmocka_unit_test(test_dsp_accurate_50hz_36_87deg_lag),
        cmocka_unit_test(test_dsp_accurate_50hz_60deg_lag),
        cmocka_unit_test(test_dsp_accurate_50hz_30deg_lead),
        cmocka_unit_test(test_dsp_accurate_49_73hz_in_phase),
        cmocka_unit_test(test_dsp_accurate_49_73hz_36_87deg_lag),
        cmocka_unit_test(test_dsp_accurate_49_73hz_60deg_lag),
        cmocka_unit_test(test_dsp_accurate_49_73hz_30deg_lead),
        cmocka_unit_test(test_dsp_accurate_50hz_in_phase_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_50hz_36_87deg_lag_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_50hz_60deg_lag_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_50hz_30deg_lead_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_49_73hz_in_phase_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_49_73hz_36_87deg_lag_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_49_73hz_60deg_lag_harmonics_noise),
        cmocka_unit_test(test_dsp_accurate_49_73hz_30deg_lead_harmonics_noise),
        cmocka_unit_test(test_sim_phase_lag_gives_positive_q),
        cmocka_unit_test(test_sim_phase_lead_gives_negative_q),
        cmocka_unit_test(test_dsp_q_sign_right_far_off_nominal),
        cmocka_unit_test(test_dsp_export_gives_negative_power),
        cmocka_unit_test(test_dsp_tracks_60hz_mains),
        cmocka_unit_test(test_dsp_removes_dc_offset),
        cmocka_unit_test(test_dsp_windows_tile_so_energy_sums_exactly),
        cmocka_unit_test(test_dsp_without_voltage_reports_zero_frequency),
        cmocka_unit_test(test_dsp_empty_interval_is_nodata),
        cmocka_unit_test(test_dsp_harmonics_finds_amplitude_and_phase),
    };
    return cmocka_run_group_tests_name("dsp", tests, NULL, NULL);
}
