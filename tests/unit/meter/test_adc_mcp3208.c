/* The MCP3208 driver against a bit-level model of the chip behind the SPI bus fake. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "bus_fake.h"
#include "chip_mcp3208.h"
#include "hal/adc.h"
#include "hal/adc_driver.h"

static char err[ADC_ERR_LEN];
static struct chip_mcp3208 chip;
static struct bus_fake bus;

static int setup(void **state)
{
    (void)state;
    chip_mcp3208_init(&chip, 3.3, 5.0);
    bus_fake_init(&bus, &chip, chip_mcp3208_frame, NULL);
    err[0] = '\0';
    return 0;
}

static struct adc *open_ok(const char *params)
{
    struct adc *adc = NULL;
    int r = adc_mcp3208_open_on(&bus.provider, params, &adc, err, sizeof(err));
    if (r)
        fail_msg("%s: %d %s", params, r, err);
    return adc;
}

static void test_mcp3208_model_answers_like_the_datasheet(void **state)
{
    (void)state;
    uint8_t tx[4] = {0x06, 0x40, 0x00, 0x00}, rx[4];
    struct spi_config cfg = {0, 1000000};
    chip.pin_v[1] = 1.0;
    unsigned code = chip_mcp3208_code(&chip, 1.0); /* floor(1.0 * 4096 / 3.3) */
    assert_int_equal(code, 1241);
    chip_mcp3208_frame(&chip, &cfg, tx, rx, sizeof(rx));
    assert_int_equal(rx[0], 0xFF);               /* DOUT floats during the command */
    assert_int_equal(rx[1], 0xE0 | (code >> 8)); /* two floating bits, sample, null, B11..B8 */
    assert_int_equal(rx[2], code & 0xFF);
    uint8_t lsb_first = 0; /* B1..B8 follow, least significant first */
    for (int b = 1; b <= 8; b++)
        lsb_first = (uint8_t)((lsb_first << 1) | ((code >> b) & 1));
    assert_int_equal(rx[3], lsb_first);
    assert_true(chip.last_single);
    assert_int_equal(chip.last_channel, 1);
    assert_int_equal(chip.violations, 0);
}

static void test_mcp3208_defaults_and_every_key(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=300,iscale=30");
    assert_string_equal(bus.path, "/dev/spidev0.0");
    assert_int_equal(bus.spi_cfg.mode, 0);
    assert_int_equal(bus.spi_cfg.speed_hz, 2000000);
    assert_true(adc_rate_hz(adc) == 6400);
    assert_string_equal(adc_driver_name(adc), "mcp3208");
    assert_false(adc_is_block_capable(adc));
    assert_true(fabs(adc_current_lag_s(adc) - 24 / 2e6) < 1e-12);
    adc_close(adc);
    assert_int_equal(bus.closes, 1);

    setup(NULL);
    chip.vref = 5.0; /* the board's reference, which vref= tells the driver */
    adc = open_ok("/dev/spidev1.2:vch=7,ich=4,speed_hz=1000000,rate=10000,mode=3,vref=5,"
                  "vscale=1,iscale=2,vbias=2,ibias=3");
    assert_string_equal(bus.path, "/dev/spidev1.2");
    assert_int_equal(bus.spi_cfg.mode, 3);
    assert_int_equal(bus.spi_cfg.speed_hz, 1000000);
    assert_true(adc_rate_hz(adc) == 10000);
    chip.pin_v[7] = 2.5;
    chip.pin_v[4] = 3.5;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    /* vref 5: 2.5 V is code 2048, 0.5 V above vbias; 3.5 V is 2867, 0.5 V above ibias */
    assert_true(fabs(v - 0.5) < 1e-6);
    assert_true(fabs(i - 2 * (2867 * 5.0 / 4096 - 3)) < 1e-6);
    adc_close(adc);
}

struct bad_spec {
    const char *params;
    const char *message_part;
};

static void test_mcp3208_rejects_bad_specs_naming_the_problem(void **state)
{
    (void)state;
    static const struct bad_spec bad[] = {
        {"", "the SPI device is missing"},
        {":vscale=1,iscale=1", "the SPI device is missing"},
        {"/dev/spidev0.0", "vscale= is required"},
        {"/dev/spidev0.0:vscale=300", "iscale= is required"},
        {"/dev/spidev0.0:vscale=1,iscale=1,vch=8", "vch=8 is out of range 0..7"},
        {"/dev/spidev0.0:vscale=1,iscale=1,ich=0", "vch and ich are both channel 0"},
        {"/dev/spidev0.0:vscale=1,iscale=1,speed_hz=3000000", "speed_hz=3000000 is out of range"},
        {"/dev/spidev0.0:vscale=1,iscale=1,speed_hz=5000", "speed_hz=5000 is out of range"},
        {"/dev/spidev0.0:vscale=1,iscale=1,mode=1", "SPI mode 0 or 3, not mode=1"},
        {"/dev/spidev0.0:vscale=1,iscale=1,rate=20000", "rate=20000 is out of range"},
        {"/dev/spidev0.0:vscale=1,iscale=1,rate=64.5", "rate=64.5 is not a whole number"},
        {"/dev/spidev0.0:vscale=1,iscale=1,vbias=4", "vbias=4 is above vref=3.3"},
        {"/dev/spidev0.0:vscale=1,iscale=1,speed_hz=100000,rate=12800",
         "speed_hz=100000 is too slow for rate=12800"},
        {"/dev/spidev0.0:vscale=abc,iscale=1", "vscale=abc is not a number"},
        {"/dev/spidev0.0:vscale=1,,iscale=1", "empty item"},
        {"/dev/spidev0.0:vscale=1,iscale=1,", "empty item"},
        {"/dev/spidev0.0:vscale", "'vscale' is not key=value"},
        {"/dev/spidev0.0:gain=2", "unknown key 'gain'"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct adc *adc = NULL;
        err[0] = '\0';
        int r = adc_mcp3208_open_on(&bus.provider, bad[k].params, &adc, err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("'%s' was accepted (r=%d)", bad[k].params, r);
        if (!strstr(err, bad[k].message_part) || strncmp(err, "--adc mcp3208: ", 15) != 0)
            fail_msg("'%s': message '%s' lacks '%s'", bad[k].params, err, bad[k].message_part);
        assert_null(adc);
    }
    assert_int_equal(bus.opens, 0);
}

static void test_mcp3208_sends_one_frame_per_channel_in_one_message(void **state)
{
    (void)state;
    for (unsigned vch = 0; vch < 8; vch++) {
        unsigned ich = (vch + 3) % 8;
        char params[96];
        snprintf(params, sizeof(params), "/dev/spidev0.0:vscale=1,iscale=1,vch=%u,ich=%u", vch,
                 ich);
        setup(NULL);
        for (unsigned ch = 0; ch < 8; ch++)
            chip.pin_v[ch] = 0.1 * (ch + 1);
        struct adc *adc = open_ok(params);
        uint64_t before = bus.transactions;
        float v, i;
        assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
        assert_int_equal(bus.transactions, before + 1);
        const struct bus_fake_txn *t = bus_fake_txn(&bus, before);
        assert_non_null(t);
        assert_int_equal(t->n, 2);
        const uint8_t want_v[3] = {(uint8_t)(0x06 | (vch >> 2)), (uint8_t)((vch & 3) << 6), 0};
        const uint8_t want_i[3] = {(uint8_t)(0x06 | (ich >> 2)), (uint8_t)((ich & 3) << 6), 0};
        assert_int_equal(t->seg[0].len, 3);
        assert_memory_equal(t->seg[0].bytes, want_v, 3);
        assert_int_equal(t->seg[1].len, 3);
        assert_memory_equal(t->seg[1].bytes, want_i, 3);
        /* and the chip converted those channels: vbias 1.65 */
        double code_v = chip_mcp3208_code(&chip, 0.1 * (vch + 1));
        assert_true(fabs(v - (code_v * 3.3 / 4096 - 1.65)) < 1e-6);
        assert_int_equal(chip.last_channel, ich);
        adc_close(adc);
    }
}

static void test_mcp3208_scales_codes_with_bias_scale_and_calibration(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=250,iscale=40");
    chip.pin_v[0] = 1.65 + 0.5;
    chip.pin_v[1] = 1.65 - 0.25;
    const double lsb = 3.3 / 4096;
    double v_nom = (chip_mcp3208_code(&chip, 2.15) * lsb - 1.65) * 250;
    double i_nom = (chip_mcp3208_code(&chip, 1.40) * lsb - 1.65) * 40;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(fabs(v - v_nom) < 1e-3);
    assert_true(fabs(i - i_nom) < 1e-4);
    assert_true(fabs(v - 125) < 250 * lsb); /* within a code of the pin's 0.5 V */

    struct adc_cal cal = {.v_gain = 1.02, .v_offset_v = 0.5, .i_gain = 0.98, .i_offset_a = -0.1};
    assert_int_equal(adc_set_calibration(adc, &cal), 0);
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(fabs(v - 1.02 * (v_nom - 0.5)) < 1e-3);
    assert_true(fabs(i - 0.98 * (i_nom + 0.1)) < 1e-4);

    struct adc_cal bad = cal;
    bad.v_gain = 0;
    assert_int_equal(adc_set_calibration(adc, &bad), -EINVAL);
    bad = cal;
    bad.i_offset_a = NAN;
    assert_int_equal(adc_set_calibration(adc, &bad), -EINVAL);
    adc_close(adc);
}

/* 50 Hz on both inputs around mid-scale, current 30 degrees behind, at 6400 pairs/s. */
static double sine_pins(void *ctx, unsigned ch, uint64_t conversion)
{
    (void)ctx;
    double t = (double)(conversion / 2) / 6400.0;
    double w = 2 * M_PI * 50 * t;
    return ch == 0 ? 1.65 + 1.2 * sin(w) : 1.65 + 0.8 * sin(w - M_PI / 6);
}

static float sv[6400], si[6400];

static void test_mcp3208_sine_through_the_chip_keeps_rms_amplitude_and_phase(void **state)
{
    (void)state;
    chip.pin = sine_pins;
    /* 1.2 V peak at the pin is 230 V RMS on the line; 0.8 V peak is 10 A RMS. */
    char params[128];
    snprintf(params, sizeof(params), "/dev/spidev0.0:vscale=%.9f,iscale=%.9f", 230 * M_SQRT2 / 1.2,
             10 * M_SQRT2 / 0.8);
    struct adc *adc = open_ok(params);
    chip.conversions = 0; /* the probe at open took one pair */
    double sum_vv = 0, sum_ii = 0, sum_vi = 0, vmax = 0;
    for (int k = 0; k < 6400; k++) {
        assert_int_equal(adc_convert_pair(adc, &sv[k], &si[k]), 0);
        sum_vv += (double)sv[k] * sv[k];
        sum_ii += (double)si[k] * si[k];
        sum_vi += (double)sv[k] * si[k];
        vmax = fmax(vmax, sv[k]);
    }
    double vrms = sqrt(sum_vv / 6400), irms = sqrt(sum_ii / 6400);
    double pf = sum_vi / 6400 / (vrms * irms);
    assert_true(fabs(vrms - 230) < 0.5);
    assert_true(fabs(irms - 10) < 0.05);
    assert_true(fabs(vmax - 230 * M_SQRT2) < 1.0);
    assert_true(fabs(pf - cos(M_PI / 6)) < 0.005);
    assert_int_equal(chip.violations, 0);
    adc_close(adc);
}

static void test_mcp3208_bus_errors_propagate_and_leave_outputs_alone(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=1,iscale=1");
    float v = 42, i = 43;
    bus.fail_every = 1;
    assert_int_equal(adc_convert_pair(adc, &v, &i), -EIO);
    bus.fail_error = -ETIMEDOUT;
    assert_int_equal(adc_convert_pair(adc, &v, &i), -ETIMEDOUT);
    assert_true(v == 42 && i == 43);
    bus.fail_every = 0;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    /* a frame whose null bit is high (nothing drove MISO) is refused too */
    bus.spi = NULL;
    assert_int_equal(adc_convert_pair(adc, &v, &i), -EIO);
    adc_close(adc);
}

static void test_mcp3208_open_refuses_a_bus_without_chip(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    bus.spi = NULL; /* MISO pulled up: all ones */
    assert_int_equal(adc_mcp3208_open_on(&bus.provider, "/dev/spidev0.1:vscale=1,iscale=1", &adc,
                                         err, sizeof(err)),
                     -EIO);
    assert_non_null(strstr(err, "no MCP3208 answers on /dev/spidev0.1"));
    assert_null(adc);
    assert_int_equal(bus.opens, bus.closes);

    bus.open_error = -EACCES;
    assert_int_equal(adc_mcp3208_open_on(&bus.provider, "/dev/spidev0.1:vscale=1,iscale=1", &adc,
                                         err, sizeof(err)),
                     -EACCES);
    assert_non_null(strstr(err, "/dev/spidev0.1"));
}

static void test_mcp3208_model_flags_a_clock_too_fast_for_its_supply(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    chip.vdd = 2.7; /* 1 MHz at most */
    assert_int_equal(adc_mcp3208_open_on(&bus.provider, "/dev/spidev0.0:vscale=1,iscale=1", &adc,
                                         err, sizeof(err)),
                     -EIO);
    assert_true(chip.violations > 0);
    assert_non_null(strstr(chip.violation, "clock 2000000 Hz above"));

    setup(NULL);
    chip.vdd = 2.7;
    adc = open_ok("/dev/spidev0.0:vscale=1,iscale=1,speed_hz=1000000");
    assert_int_equal(chip.violations, 0);
    adc_close(adc);
}

static double dv[640], di[640];

static void test_mcp3208_adc_read_paces_conversions_to_the_rate(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=1,iscale=1");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(adc_read(adc, dv, di, 640), 0); /* 0.1 s at 6400/s */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s >= 0.095);
    assert_true(s < 1.0);
    assert_int_equal(chip.conversions, 2 * (640 + 1));
    adc_close(adc);
}

static void test_mcp3208_sample_path_does_not_allocate(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=1,iscale=1");
    float v, i;
    uint64_t before = alloc_count();
    for (int k = 0; k < 1000; k++)
        assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_int_equal(adc_read(adc, dv, di, 64), 0);
    assert_int_equal(alloc_count(), before);
    adc_close(adc);
}

static void test_mcp3208_has_no_data_ready_line(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/spidev0.0:vscale=1,iscale=1");
    assert_int_equal(adc_attach_drdy(adc, NULL, err, sizeof(err)), -ENOTSUP);
    assert_non_null(strstr(err, "the mcp3208 ADC has no data-ready output"));
    adc_close(adc);
}

static void test_adc_open_names_a_missing_spi_device(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    int r = adc_open("mcp3208:/dev/spidev-missing9.9:vscale=1,iscale=1", &adc, err, sizeof(err));
    assert_int_equal(r, -ENOENT);
    assert_non_null(strstr(err, "--adc mcp3208: /dev/spidev-missing9.9: No such file"));
    assert_null(adc);
}

static struct adc *open_wired(const char *params, const char *wiring)
{
    struct adc *adc = NULL;
    int r = adc_mcp3208_open_wired_on(&bus.provider, params, wiring, &adc, err, sizeof(err));
    if (r)
        fail_msg("%s (%s): %d %s", params, wiring, r, err);
    return adc;
}

static void test_mcp3208_reads_six_channels_of_one_instant_with_their_lags(void **state)
{
    (void)state;
    /* Default map: va 0, ia 1, vb 2, ib 3, vc 4, ic 5; inputs at distinct levels. */
    for (unsigned k = 0; k < 8; k++)
        chip.pin_v[k] = 0.3 + 0.3 * k;
    struct adc *adc = open_wired("/dev/spidev0.0:vscale=100,iscale=10", "3p4w");
    assert_int_equal(adc_get_wiring(adc), ADC_WIRING_3P4W);
    assert_int_equal(adc_channel_mask(adc), 0x3f);
    uint64_t before = chip.conversions;
    float f[ADC_CHANNELS];
    assert_int_equal(adc_convert_frame(adc, f), 0);
    assert_int_equal(chip.conversions - before, 6);
    static const unsigned input[ADC_CHANNELS] = {0, 2, 4, 1, 3, 5};
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        double pin = chip_mcp3208_code(&chip, chip.pin_v[input[c]]) * 3.3 / 4096;
        double want = (pin - 1.65) * (ADC_CH_IS_VOLTAGE(c) ? 100 : 10);
        assert_true(fabs(f[c] - want) < 1e-3);
    }
    /* Converted in the order va ia vb ib vc ic, one 24-clock frame apart at 2 MHz. */
    static const unsigned pos[ADC_CHANNELS] = {0, 2, 4, 1, 3, 5};
    for (unsigned c = 0; c < ADC_CHANNELS; c++)
        assert_true(fabs(adc_channel_lag_s(adc, c) - pos[c] * 24 / 2e6) < 1e-12);
    adc_close(adc);

    /* Aron: two line-to-line voltages and two currents on inputs of the installer's choice. */
    setup(NULL);
    adc = open_wired("/dev/spidev0.0:vscale=100,iscale=10,vab=7,vbc=6,vca=-,ia=0,ib=-,ic=1",
                     "3p3w");
    assert_int_equal(adc_channel_mask(adc), ADC_CH_BIT(ADC_CH_VA) | ADC_CH_BIT(ADC_CH_VB) |
                                                ADC_CH_BIT(ADC_CH_IA) | ADC_CH_BIT(ADC_CH_IC));
    assert_true(fabs(adc_channel_lag_s(adc, ADC_CH_IC) - 3 * 24 / 2e6) < 1e-12);
    assert_true(adc_channel_lag_s(adc, ADC_CH_VC) == 0);
    adc_close(adc);
}

static void test_mcp3208_refuses_channel_maps_that_cannot_work(void **state)
{
    (void)state;
    static const struct {
        const char *params, *wiring, *message_part;
    } bad[] = {
        {"/dev/spidev0.0:vscale=1,iscale=1,vc=-", "3p4w", "3p4w needs all of"},
        {"/dev/spidev0.0:vscale=1,iscale=1,vab=-,vbc=-", "3p3w", "at least two of vab"},
        {"/dev/spidev0.0:vscale=1,iscale=1,ia=0", "3p4w", "va and ia are both input 0"},
        {"/dev/spidev0.0:vscale=1,iscale=1,vb=3", "1p2w", "vb= is for a three-phase wiring"},
        {"/dev/spidev0.0:vscale=1,iscale=1,vch=2,ich=3", "3p4w", "vch= and ich= are for 1p2w"},
        {"/dev/spidev0.0:vscale=1,iscale=1,speed_hz=1000000", "3p4w", "too slow for rate=6400"},
        {"/dev/spidev0.0:vscale=1,iscale=1,ic=8", "3p4w", "ic=8 is out of range"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        setup(NULL);
        struct adc *adc = NULL;
        int r = adc_mcp3208_open_wired_on(&bus.provider, bad[k].params, bad[k].wiring, &adc, err,
                                          sizeof(err));
        if (r != -EINVAL || !strstr(err, bad[k].message_part))
            fail_msg("%s (%s): got %d '%s', want '%s'", bad[k].params, bad[k].wiring, r, err,
                     bad[k].message_part);
        assert_null(adc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mcp3208_model_answers_like_the_datasheet, setup),
        cmocka_unit_test_setup(test_mcp3208_defaults_and_every_key, setup),
        cmocka_unit_test_setup(test_mcp3208_rejects_bad_specs_naming_the_problem, setup),
        cmocka_unit_test_setup(test_mcp3208_sends_one_frame_per_channel_in_one_message, setup),
        cmocka_unit_test_setup(test_mcp3208_scales_codes_with_bias_scale_and_calibration, setup),
        cmocka_unit_test_setup(test_mcp3208_sine_through_the_chip_keeps_rms_amplitude_and_phase,
                               setup),
        cmocka_unit_test_setup(test_mcp3208_bus_errors_propagate_and_leave_outputs_alone, setup),
        cmocka_unit_test_setup(test_mcp3208_open_refuses_a_bus_without_chip, setup),
        cmocka_unit_test_setup(test_mcp3208_model_flags_a_clock_too_fast_for_its_supply, setup),
        cmocka_unit_test_setup(test_mcp3208_adc_read_paces_conversions_to_the_rate, setup),
        cmocka_unit_test_setup(test_mcp3208_sample_path_does_not_allocate, setup),
        cmocka_unit_test_setup(test_mcp3208_has_no_data_ready_line, setup),
        cmocka_unit_test_setup(test_adc_open_names_a_missing_spi_device, setup),
        cmocka_unit_test_setup(test_mcp3208_reads_six_channels_of_one_instant_with_their_lags,
                               setup),
        cmocka_unit_test_setup(test_mcp3208_refuses_channel_maps_that_cannot_work, setup),
    };
    return cmocka_run_group_tests_name("adc_mcp3208", tests, NULL, NULL);
}
