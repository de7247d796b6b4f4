/* The sim ADC: spec parsing, driver lookup, waveform properties, pacing. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hal/adc.h"
#include "hal/adc_sim.h"

static char err[256];

static void test_sim_defaults_match_documentation(void **state)
{
    (void)state;
    struct adc_sim_params p;
    assert_int_equal(adc_sim_parse("", &p, err, sizeof(err)), 0);
    assert_int_equal(p.rate_hz, 6400);
    assert_true(p.freq_hz == 50 && p.v_rms == 230 && p.i_rms == 10 && p.phase_deg == 0);
    assert_true(p.noise_pct == 0 && p.realtime && p.seed == 1);
    assert_true(fabs(p.vfs_v - 1.25 * M_SQRT2 * 230) < 1e-9);
    assert_true(fabs(p.ifs_a - 1.25 * M_SQRT2 * 10) < 1e-9);
    assert_true(p.vh_pct[3] == 0 && p.ih_pct[3] == 0);
}

static void test_sim_parses_every_key(void **state)
{
    (void)state;
    struct adc_sim_params p;
    int r = adc_sim_parse("rate=12800,freq=60,v=120,i=5.5,phase=-30,h3=5,vh5=3,ih7=2,noise=0.1,"
                          "vfs=400,ifs=20,seed=42,realtime=0",
                          &p, err, sizeof(err));
    if (r)
        fail_msg("%s", err);
    assert_int_equal(p.rate_hz, 12800);
    assert_true(p.freq_hz == 60 && p.v_rms == 120 && p.i_rms == 5.5 && p.phase_deg == -30);
    assert_true(p.vh_pct[3] == 5 && p.ih_pct[3] == 5);
    assert_true(p.vh_pct[5] == 3 && p.ih_pct[5] == 0);
    assert_true(p.vh_pct[7] == 0 && p.ih_pct[7] == 2);
    assert_true(p.noise_pct == 0.1 && p.vfs_v == 400 && p.ifs_a == 20);
    assert_true(p.seed == 42 && !p.realtime);
}

struct bad_spec {
    const char *params;
    const char *message_part; /* the error must name the problem */
};

static void test_sim_rejects_bad_keys_and_values_naming_them(void **state)
{
    (void)state;
    static const struct bad_spec bad[] = {
        {"foo=1", "unknown key 'foo'"},
        {"freq=abc", "freq=abc is not a number"},
        {"freq=5000", "freq=5000 is out of range"},
        {"rate=50", "rate=50 is out of range"},
        {"rate=6400.5", "rate=6400.5 is not a non-negative integer"},
        {"v=-1", "v=-1 is out of range"},
        {"phase=200", "phase=200 is out of range"},
        {"h1=5", "harmonic order in 'h1' must be 2..50"},
        {"h51=5", "harmonic order in 'h51' must be 2..50"},
        {"vh3x=5", "harmonic order in 'vh3x'"},
        {"h3=101", "h3=101 is out of range"},
        {"noise=nan", "noise=nan is not a number"},
        {"seed=-3", "seed=-3 is not a non-negative integer"},
        {"realtime=maybe", "realtime=maybe must be 0 or 1"},
        {"freq", "'freq' is not key=value"},
        {"=5", "'=5' is not key=value"},
        {"freq=", "'freq=' is not key=value"},
        {"freq=50,,v=1", "empty item"},
        {"freq=50,", "empty item"},
        {"rate=1000,h11=1", "harmonic 11 (550 Hz) is at or above half the sample rate"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct adc_sim_params p;
        err[0] = '\0';
        int r = adc_sim_parse(bad[k].params, &p, err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("'%s' was accepted (r=%d)", bad[k].params, r);
        if (!strstr(err, bad[k].message_part) || strncmp(err, "--adc sim: ", 11) != 0)
            fail_msg("'%s': message '%s' lacks '%s'", bad[k].params, err, bad[k].message_part);
    }
}

static void test_adc_open_hands_hardware_specs_to_their_drivers(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("mcp3208:/dev/spidev0.0", &adc, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--adc mcp3208: vscale= is required"));
    assert_int_equal(adc_open("ads1115:/dev/i2c-1@0x48", &adc, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--adc ads1115: vscale= is required"));
    assert_null(adc);
}

static void test_adc_open_rejects_unknown_driver(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("simulator:x=1", &adc, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "unknown ADC driver 'simulator'"));
    assert_int_equal(adc_open("", &adc, err, sizeof(err)), -ENOENT);
    assert_null(adc);
}

static void test_adc_open_sim_without_params_uses_defaults(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("sim", &adc, err, sizeof(err)), 0);
    assert_true(adc_rate_hz(adc) == 6400);
    assert_string_equal(adc_driver_name(adc), "sim");
    adc_close(adc);
    adc_close(NULL);
}

static struct adc *open_sim(const char *spec)
{
    struct adc *adc = NULL;
    if (adc_open(spec, &adc, err, sizeof(err)))
        fail_msg("%s: %s", spec, err);
    return adc;
}

static double v1[1000], i1[1000], v2[1000], i2[1000];

static void test_sim_phase_is_continuous_across_reads(void **state)
{
    (void)state;
    const char *spec = "sim:freq=49.73,h3=5,noise=0.1,seed=7,realtime=0";
    struct adc *a = open_sim(spec), *b = open_sim(spec);
    assert_int_equal(adc_read(a, v1, i1, 1000), 0);
    assert_int_equal(adc_read(b, v2, i2, 333), 0);
    assert_int_equal(adc_read(b, v2 + 333, i2 + 333, 1), 0);
    assert_int_equal(adc_read(b, v2 + 334, i2 + 334, 666), 0);
    assert_memory_equal(v1, v2, sizeof(v1));
    assert_memory_equal(i1, i2, sizeof(i1));
    adc_close(a);
    adc_close(b);
}

static void test_sim_seed_makes_noise_repeatable_and_distinct(void **state)
{
    (void)state;
    struct adc *a = open_sim("sim:noise=1,seed=5,realtime=0");
    struct adc *b = open_sim("sim:noise=1,seed=6,realtime=0");
    assert_int_equal(adc_read(a, v1, i1, 1000), 0);
    assert_int_equal(adc_read(b, v2, i2, 1000), 0);
    assert_memory_not_equal(v1, v2, sizeof(v1));
    adc_close(a);
    a = open_sim("sim:noise=1,seed=5,realtime=0");
    assert_int_equal(adc_read(a, v2, i2, 1000), 0);
    assert_memory_equal(v1, v2, sizeof(v1));
    adc_close(a);
    adc_close(b);
}

static void test_sim_waveform_has_requested_peak_and_lag(void **state)
{
    (void)state;
    /* 64 samples per period: sample 16 is the voltage peak, current lags 90 deg. */
    struct adc *a = open_sim("sim:rate=3200,freq=50,v=100,i=2,phase=90,realtime=0");
    assert_int_equal(adc_read(a, v1, i1, 64), 0);
    assert_true(fabs(v1[0]) < 1e-9);
    assert_true(fabs(v1[16] - 100 * M_SQRT2) < 1e-9);
    assert_true(fabs(i1[32] - 2 * M_SQRT2) < 1e-9); /* peaks a quarter period later */
    assert_true(fabs(i1[0] + 2 * M_SQRT2) < 1e-9);
    adc_close(a);
}

static void test_sim_draws_no_current_while_the_relay_is_off(void **state)
{
    (void)state;
    struct adc *a = open_sim("sim:rate=3200,freq=50,v=100,i=2,ih5=10,realtime=0");
    adc_set_load_connected(a, false);
    assert_int_equal(adc_read(a, v1, i1, 64), 0);
    assert_true(fabs(v1[16] - 100 * M_SQRT2) < 1e-9); /* the voltage stays */
    for (int k = 0; k < 64; k++)
        assert_true(i1[k] == 0.0);
    adc_set_load_connected(a, true);
    assert_int_equal(adc_read(a, v1, i1, 64), 0);
    assert_true(fabs(i1[16]) > 1.0);
    adc_close(a);

    /* three phases: every line current */
    struct adc *t = NULL;
    if (adc_open_wired("sim:realtime=0", "3p4w", &t, err, sizeof(err)))
        fail_msg("%s", err);
    adc_set_load_connected(t, false);
    float fch[ADC_CHANNELS][64];
    float *const fp[ADC_CHANNELS] = {fch[0], fch[1], fch[2], fch[3], fch[4], fch[5]};
    assert_int_equal(adc_read_frames(t, fp, 64), 0);
    for (int k = 0; k < 64; k++) {
        assert_true(fch[ADC_CH_IA][k] == 0.0f && fch[ADC_CH_IB][k] == 0.0f &&
                    fch[ADC_CH_IC][k] == 0.0f);
        assert_true(fabsf(fch[ADC_CH_VA][k]) <= 400.0f);
    }
    assert_true(fabsf(fch[ADC_CH_VA][16]) > 1.0f || fabsf(fch[ADC_CH_VA][20]) > 1.0f);
    adc_close(t);
}

static void test_sim_clips_at_full_scale(void **state)
{
    (void)state;
    struct adc *a = open_sim("sim:v=230,vfs=300,i=10,ifs=10,realtime=0");
    double vmax = 0, imax = 0;
    assert_int_equal(adc_read(a, v1, i1, 1000), 0);
    for (int k = 0; k < 1000; k++) {
        vmax = fmax(vmax, fabs(v1[k]));
        imax = fmax(imax, fabs(i1[k]));
    }
    assert_true(vmax == 300);
    assert_true(imax == 10);
    adc_close(a);
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_sim_realtime_paces_reads_to_the_sample_clock(void **state)
{
    (void)state;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct adc *a = open_sim("sim:rate=1000");
    for (int k = 0; k < 3; k++)
        assert_int_equal(adc_read(a, v1, i1, 100), 0); /* 0.3 s of samples */
    double t = elapsed_s(&t0);
    assert_true(t >= 0.295);
    assert_true(t < 1.0);
    adc_close(a);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    a = open_sim("sim:rate=1000,realtime=0");
    for (int k = 0; k < 10; k++)
        assert_int_equal(adc_read(a, v1, i1, 1000), 0); /* 10 s of samples */
    assert_true(elapsed_s(&t0) < 1.0);
    adc_close(a);
}

static float ch3[ADC_CHANNELS][1280];

static struct adc *read_frames_of(const char *spec, const char *wiring, size_t n)
{
    struct adc *adc = NULL;
    if (adc_open_wired(spec, wiring, &adc, err, sizeof(err)))
        fail_msg("%s: %s", spec, err);
    float *const dst[ADC_CHANNELS] = {ch3[0], ch3[1], ch3[2], ch3[3], ch3[4], ch3[5]};
    assert_int_equal(adc_read_frames(adc, dst, n), 0);
    return adc;
}

/* RMS and the fundamental's angle (degrees, sine reference) over whole periods. */
static void fundamental(const float *x, size_t n, size_t per, double *ret_rms, double *ret_deg)
{
    double re = 0, im = 0, sq = 0;
    for (size_t k = 0; k < n; k++) {
        double t = 2 * M_PI * (double)(k % per) / (double)per;
        re += x[k] * sin(t);
        im += x[k] * cos(t);
        sq += (double)x[k] * x[k];
    }
    *ret_rms = sqrt(sq / (double)n);
    *ret_deg = atan2(im, re) * 180 / M_PI;
}

static void test_sim_three_phase_makes_each_phase_as_asked(void **state)
{
    (void)state;
    /* 128 samples a period, ten periods. */
    struct adc *a = read_frames_of(
        "sim:rate=6400,wiring=3p4w,v=230,i=10,ib=12,ic=8,vc=220,phase=30,phaseb=0,realtime=0",
        NULL, 1280);
    assert_int_equal(adc_get_wiring(a), ADC_WIRING_3P4W);
    assert_int_equal(adc_channel_mask(a), 0x3f);
    static const double v_want[3] = {230, 230, 220}, i_want[3] = {10, 12, 8};
    static const double v_deg[3] = {0, -120, 120}, lag[3] = {30, 0, 30};
    for (int p = 0; p < 3; p++) {
        double vr, vd, ir, id;
        fundamental(ch3[ADC_CH_VA + p], 1280, 128, &vr, &vd);
        fundamental(ch3[ADC_CH_IA + p], 1280, 128, &ir, &id);
        assert_true(fabs(vr - v_want[p]) < 1e-3);
        assert_true(fabs(ir - i_want[p]) < 1e-4);
        assert_true(fabs(remainder(vd - v_deg[p], 360)) < 1e-6);
        assert_true(fabs(remainder(vd - id - lag[p], 360)) < 1e-6);
    }
    adc_close(a);

    /* Delta: the line-to-line voltages are sqrt(3) times, 30 degrees ahead; no zero sequence
       in the currents. */
    a = read_frames_of("sim:rate=6400,v=230,i=10,ia=15,realtime=0", "3p3w", 1280);
    assert_int_equal(adc_get_wiring(a), ADC_WIRING_3P3W);
    double vr, vd;
    fundamental(ch3[ADC_CH_VA], 1280, 128, &vr, &vd);
    assert_true(fabs(vr - 230 * sqrt(3)) < 1e-2);
    assert_true(fabs(vd - 30) < 1e-6);
    for (int k = 0; k < 1280; k++)
        assert_true(fabs(ch3[ADC_CH_IA][k] + ch3[ADC_CH_IB][k] + ch3[ADC_CH_IC][k]) < 1e-3);
    adc_close(a);

    /* Swapped angles make the order acb; per-phase harmonic only where asked. */
    a = read_frames_of("sim:wiring=3p4w,angleb=120,anglec=-120,vh5b=4,realtime=0", NULL, 1280);
    fundamental(ch3[ADC_CH_VB], 1280, 128, &vr, &vd);
    assert_true(fabs(vd - 120) < 1e-6);
    assert_true(fabs(vr - 230 * sqrt(1 + 0.04 * 0.04)) < 1e-2);
    fundamental(ch3[ADC_CH_VA], 1280, 128, &vr, &vd);
    assert_true(fabs(vr - 230) < 1e-3);
    adc_close(a);
}

static void test_sim_single_phase_is_unchanged_by_the_frame_interface(void **state)
{
    (void)state;
    const char *spec = "sim:freq=49.73,h3=5,noise=0.1,seed=7,realtime=0";
    struct adc *a = open_sim(spec);
    assert_int_equal(adc_read(a, v1, i1, 1000), 0);
    adc_close(a);
    a = read_frames_of(spec, "1p2w", 1000);
    assert_int_equal(adc_channel_mask(a), ADC_CH_BIT(ADC_CH_VA) | ADC_CH_BIT(ADC_CH_IA));
    for (int k = 0; k < 1000; k++) {
        assert_true(ch3[ADC_CH_VA][k] == (float)v1[k]);
        assert_true(ch3[ADC_CH_IA][k] == (float)i1[k]);
    }
    adc_close(a);
}

static void test_sim_three_phase_keys_are_checked(void **state)
{
    (void)state;
    static const struct bad_spec bad[] = {
        {"ib=12", "need wiring=3p4w or 3p3w"},
        {"u2=2", "need wiring=3p4w or 3p3w"},
        {"wiring=3p5w", "wiring=3p5w must be 1p2w, 3p4w or 3p3w"},
        {"wiring=3p4w,vd=3", "unknown key 'vd'"},
        {"wiring=3p4w,u2=60", "u2=60 is out of range"},
        {"wiring=3p4w,angleb=200", "angleb=200 is out of range"},
        {"wiring=3p4w,h99b=1", "harmonic order in 'h99b' must be 2..50"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct adc_sim_params p;
        err[0] = '\0';
        assert_int_equal(adc_sim_parse(bad[k].params, &p, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[k].message_part))
            fail_msg("%s: '%s' does not say '%s'", bad[k].params, err, bad[k].message_part);
    }
    struct adc *a = NULL;
    assert_int_equal(adc_open_wired("sim:wiring=3p4w", "3p3w", &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "differs from the meter's wiring"));
    assert_int_equal(adc_open_wired("sim", "3p2w", &a, err, sizeof(err)), -EINVAL);
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_defaults_match_documentation),
        cmocka_unit_test(test_sim_parses_every_key),
        cmocka_unit_test(test_sim_rejects_bad_keys_and_values_naming_them),
        cmocka_unit_test(test_adc_open_hands_hardware_specs_to_their_drivers),
        cmocka_unit_test(test_adc_open_rejects_unknown_driver),
        cmocka_unit_test(test_adc_open_sim_without_params_uses_defaults),
        cmocka_unit_test(test_sim_phase_is_continuous_across_reads),
        cmocka_unit_test(test_sim_seed_makes_noise_repeatable_and_distinct),
        cmocka_unit_test(test_sim_waveform_has_requested_peak_and_lag),
        cmocka_unit_test(test_sim_clips_at_full_scale),
        cmocka_unit_test(test_sim_realtime_paces_reads_to_the_sample_clock),
        cmocka_unit_test(test_sim_three_phase_makes_each_phase_as_asked),
        cmocka_unit_test(test_sim_single_phase_is_unchanged_by_the_frame_interface),
        cmocka_unit_test(test_sim_three_phase_keys_are_checked),
        cmocka_unit_test(test_sim_draws_no_current_while_the_relay_is_off),
    };
    return cmocka_run_group_tests_name("adc_sim", tests, NULL, NULL);
}
