/* The ADS1115 driver against a register-level model of the chip behind the I2C bus fake. */
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
#include "chip_ads1115.h"
#include "gpio_fake.h"
#include "hal/adc.h"
#include "hal/adc_driver.h"
#include "hal/gpio.h"

#define CONVERSION_S (1.0 / 860)

static char err[ADC_ERR_LEN];
static struct chip_ads1115 chip;
static struct bus_fake bus;
static struct gpio_fake_chip gpio;

static int setup(void **state)
{
    (void)state;
    chip_ads1115_init(&chip, 0x48, 3.3);
    bus_fake_init(&bus, &chip, NULL, chip_ads1115_i2c);
    gpio_fake_init(&gpio, "gpiochip0", 32);
    err[0] = '\0';
    return 0;
}

static struct adc *open_ok(const char *params)
{
    struct adc *adc = NULL;
    int r = adc_ads1115_open_on(&bus.provider, params, &adc, err, sizeof(err));
    if (r)
        fail_msg("%s: %d %s", params, r, err);
    return adc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&t, NULL);
}

/* Reads a register of the model the way the driver does: pointer write, then two bytes. */
static uint16_t model_read(uint8_t reg)
{
    uint8_t ptr = reg, rd[2];
    const struct bus_i2c_msg msgs[2] = {{false, &ptr, 1}, {true, rd, 2}};
    assert_int_equal(chip_ads1115_i2c(&chip, 0x48, msgs, 2), 0);
    return (uint16_t)((rd[0] << 8) | rd[1]);
}

static void model_write(uint8_t reg, uint16_t value)
{
    uint8_t w[3] = {reg, (uint8_t)(value >> 8), (uint8_t)value};
    const struct bus_i2c_msg msg = {false, w, 3};
    assert_int_equal(chip_ads1115_i2c(&chip, 0x48, &msg, 1), 0);
}

static void test_ads1115_model_behaves_like_the_datasheet(void **state)
{
    (void)state;
    assert_int_equal(model_read(0x01), 0x8583); /* power-up config, idle */
    assert_int_equal(model_read(0x02), 0x8000);
    assert_int_equal(model_read(0x03), 0x7FFF);
    chip.ain_v[0] = 1.0;
    model_write(0x01, 0xC3E3); /* OS, AIN0-GND, 4.096 V, single shot, 860 SPS, comparator off */
    assert_int_equal(model_read(0x01), 0x43E3); /* OS reads 0 while converting */
    assert_int_equal(model_read(0x00), 0x0000); /* the old result until done */
    sleep_s(1.5 * CONVERSION_S);
    assert_int_equal(model_read(0x01), 0xC3E3);
    assert_int_equal(model_read(0x00), 8000); /* 1.0 / 4.096 * 32768 */

    chip.ain_v[0] = 0.5;
    chip.ain_v[1] = 1.0;
    model_write(0x01, 0x85E3); /* AIN0-AIN1 at 2.048 V: -0.5 V */
    sleep_s(1.5 * CONVERSION_S);
    assert_int_equal(model_read(0x00), 0x10000 - 8000); /* two's complement, big-endian */
    assert_int_equal(chip.conversions, 2);

    uint8_t bad[2] = {0x01, 0x85};
    const struct bus_i2c_msg msg = {false, bad, 2};
    chip_ads1115_i2c(&chip, 0x48, &msg, 1);
    assert_int_equal(chip.violations, 1);
    assert_int_equal(chip_ads1115_i2c(&chip, 0x49, &msg, 1), -EREMOTEIO);
}

static void test_ads1115_defaults_and_every_key(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    assert_string_equal(bus.path, "/dev/i2c-1");
    assert_int_equal(bus.i2c_addr, 0x48);
    assert_true(adc_rate_hz(adc) == 250);
    assert_string_equal(adc_driver_name(adc), "ads1115");
    assert_false(adc_is_block_capable(adc));
    /* the current is converted one conversion after the voltage */
    double lag = adc_current_lag_s(adc);
    assert_true(lag >= 0.95 * CONVERSION_S);
    assert_true(lag < 5e-3);
    adc_close(adc);
    assert_int_equal(bus.closes, 1);

    setup(NULL);
    chip.addr = 0x4B;
    adc = open_ok("/dev/i2c-3@0x4b:mux=single,pga=2.048,rate=200,vscale=100,iscale=20,vbias=1,"
                  "ibias=0.5");
    assert_string_equal(bus.path, "/dev/i2c-3");
    assert_int_equal(bus.i2c_addr, 0x4B);
    assert_true(adc_rate_hz(adc) == 200);
    chip.ain_v[0] = 1.5;
    chip.ain_v[1] = 0.25;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(fabs(v - 0.5 * 100) < 1e-3);
    assert_true(fabs(i - (-0.25) * 20) < 1e-3);
    adc_close(adc);
}

struct bad_spec {
    const char *params;
    const char *message_part;
};

static void test_ads1115_rejects_bad_specs_naming_the_problem(void **state)
{
    (void)state;
    static const struct bad_spec bad[] = {
        {"", "is not DEVICE@ADDRESS"},
        {"/dev/i2c-1", "'/dev/i2c-1' is not DEVICE@ADDRESS"},
        {"@0x48", "is not DEVICE@ADDRESS"},
        {"/dev/i2c-1@48", "address '48' must be hex"},
        {"/dev/i2c-1@0x4g", "address '0x4g' must be hex"},
        {"/dev/i2c-1@0x50", "the ADS1115 answers at 0x48..0x4b"},
        {"/dev/i2c-1@0x48", "vscale= is required"},
        {"/dev/i2c-1@0x48:vscale=1", "iscale= is required"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,pga=3.3", "pga=3.3: full scale must be"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,pga=8", "pga=8 is out of range"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,rate=500", "rate=500 is out of range 1..430"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,mux=both", "mux=both must be diff or single"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,mux=single,pga=1.024",
         "the bias (1.65 V) must lie inside the full scale"},
        {"/dev/i2c-1@0x48:vscale=1,iscale=1,dr=860", "unknown key 'dr'"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct adc *adc = NULL;
        err[0] = '\0';
        int r = adc_ads1115_open_on(&bus.provider, bad[k].params, &adc, err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("'%s' was accepted (r=%d)", bad[k].params, r);
        if (!strstr(err, bad[k].message_part) || strncmp(err, "--adc ads1115: ", 15) != 0)
            fail_msg("'%s': message '%s' lacks '%s'", bad[k].params, err, bad[k].message_part);
        assert_null(adc);
    }
    assert_int_equal(bus.opens, 0);
}

static bool is_write(const struct bus_fake_txn *t, const uint8_t *bytes, size_t len)
{
    return t && t->n == 1 && !t->seg[0].read && t->seg[0].len == len &&
           memcmp(t->seg[0].bytes, bytes, len) == 0;
}

static bool is_register_read(const struct bus_fake_txn *t, uint8_t reg)
{
    return t && t->n == 2 && !t->seg[0].read && t->seg[0].len == 1 && t->seg[0].bytes[0] == reg &&
           t->seg[1].read && t->seg[1].len == 2;
}

/* Checks one conversion's transactions from *k on: start, OS polls, result. */
static void expect_conversion(uint64_t *k, uint16_t config, bool polls)
{
    const uint8_t start[3] = {0x01, (uint8_t)(config >> 8), (uint8_t)config};
    if (!is_write(bus_fake_txn(&bus, *k), start, 3))
        fail_msg("transaction %llu is not the start 01 %02x %02x", (unsigned long long)*k, start[1],
                 start[2]);
    (*k)++;
    unsigned n_polls = 0;
    while (is_register_read(bus_fake_txn(&bus, *k), 0x01)) {
        (*k)++;
        n_polls++;
    }
    if (polls)
        assert_true(n_polls >= 1);
    else
        assert_int_equal(n_polls, 0);
    assert_true(is_register_read(bus_fake_txn(&bus, *k), 0x00));
    (*k)++;
}

static void test_ads1115_sends_single_shot_conversions_for_each_channel(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    uint64_t k = bus.transactions;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    /* OS | mux | PGA 4.096 (001) | single shot | 860 SPS (111) | comparator off (11) */
    expect_conversion(&k, 0x83E3, true); /* AIN0-AIN1 */
    expect_conversion(&k, 0xB3E3, true); /* AIN2-AIN3 */
    assert_int_equal(k, bus.transactions);
    assert_int_equal(chip.starts_ignored, 0);
    assert_int_equal(chip.violations, 0);
    adc_close(adc);

    setup(NULL);
    adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1,mux=single,pga=6.144");
    k = bus.transactions;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    expect_conversion(&k, 0xC1E3, true); /* AIN0-GND at 6.144 V (000) */
    expect_conversion(&k, 0xD1E3, true); /* AIN1-GND */
    adc_close(adc);
}

static void test_ads1115_scales_codes_with_pga_bias_scale_and_calibration(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=400,iscale=50");
    chip.ain_v[0] = 1.5;
    chip.ain_v[1] = 1.0; /* +0.5 V: code 4000 at 4.096 V */
    chip.ain_v[2] = 0.9;
    chip.ain_v[3] = 1.0; /* -0.1 V: code -800 */
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(fabs(v - 4000 * 4.096 / 32768 * 400) < 1e-3);
    assert_true(fabs(i - (-800) * 4.096 / 32768 * 50) < 1e-4);

    struct adc_cal cal = {.v_gain = 0.99, .v_offset_v = 1, .i_gain = 1.01, .i_offset_a = 0.2};
    assert_int_equal(adc_set_calibration(adc, &cal), 0);
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(fabs(v - 0.99 * (200 - 1)) < 1e-3);
    assert_true(fabs(i - 1.01 * (-5 - 0.2)) < 1e-4);
    adc_close(adc);
}

/* 50 Hz at 250 pairs/s on the differential inputs; the current 30 degrees behind. */
static double sine_inputs(void *ctx, unsigned ain, uint64_t conversion)
{
    (void)ctx;
    double w = 2 * M_PI * 50 * (double)(conversion / 2) / 250.0;
    switch (ain) {
    case 0:
        return 1.65 + 1.0 * sin(w);
    case 2:
        return 1.65 + 0.5 * sin(w - M_PI / 6);
    default:
        return 1.65;
    }
}

static void test_ads1115_sine_through_the_chip_keeps_rms_and_phase(void **state)
{
    (void)state;
    char params[128];
    snprintf(params, sizeof(params), "/dev/i2c-1@0x48:pga=2.048,vscale=%.9f,iscale=%.9f",
             230 * M_SQRT2 / 1.0, 10 * M_SQRT2 / 0.5);
    struct adc *adc = open_ok(params);
    chip.ain = sine_inputs;
    chip.conversions = 0;
    double sum_vv = 0, sum_ii = 0, sum_vi = 0;
    const int n = 100; /* 20 periods */
    for (int k = 0; k < n; k++) {
        float v, i;
        assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
        sum_vv += (double)v * v;
        sum_ii += (double)i * i;
        sum_vi += (double)v * i;
    }
    double vrms = sqrt(sum_vv / n), irms = sqrt(sum_ii / n);
    assert_true(fabs(vrms - 230) < 0.1);
    assert_true(fabs(irms - 10) < 0.01);
    assert_true(fabs(sum_vi / n / (vrms * irms) - cos(M_PI / 6)) < 0.001);
    assert_int_equal(chip.violations, 0);
    adc_close(adc);
}

static void test_ads1115_polls_os_until_the_conversion_is_done(void **state)
{
    (void)state;
    chip.osc_error = 0.08; /* a slow oscillator: conversions take 8 % longer */
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    chip.ain_v[0] = 2.0;
    chip.ain_v[1] = 1.0;
    uint64_t polls = chip.config_reads;
    double t0 = now_s();
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_true(now_s() - t0 >= 2 * 1.08 * CONVERSION_S);
    assert_true(chip.config_reads > polls);
    assert_true(fabs(v - 1.0) < 1e-3); /* a result read early would be the old one */
    assert_int_equal(chip.starts_ignored, 0);
    adc_close(adc);
}

static void test_ads1115_waits_on_the_ready_line_instead_of_polling(void **state)
{
    (void)state;
    struct gpio_line *drdy = NULL;
    gpio_fake_set_edge_source(&gpio, 4, chip_ads1115_rdy_edge, &chip);
    assert_int_equal(
        gpio_open_edge_input(&gpio.backend, "gpiochip0:4", "test", &drdy, err, sizeof(err)), 0);
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    assert_int_equal(adc_attach_drdy(adc, drdy, err, sizeof(err)), 0);
    assert_int_equal(chip.reg[3], 0x8000); /* Hi_thresh MSB set */
    assert_int_equal(chip.reg[2], 0x0000); /* Lo_thresh MSB clear */

    chip.ain_v[0] = 1.25;
    chip.ain_v[1] = 1.0;
    uint64_t polls = chip.config_reads, k = bus.transactions;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    expect_conversion(&k, 0x83E0, false); /* comparator queue on: ALERT/RDY after one */
    expect_conversion(&k, 0xB3E0, false);
    assert_int_equal(chip.config_reads, polls);
    assert_true(fabs(v - 0.25) < 1e-3);
    assert_true(adc_current_lag_s(adc) >= 0.95 * CONVERSION_S);
    adc_close(adc);
    gpio_close(drdy);
}

static void test_ads1115_refuses_a_ready_line_that_never_falls(void **state)
{
    (void)state;
    struct gpio_line *drdy = NULL;
    assert_int_equal(
        gpio_open_edge_input(&gpio.backend, "gpiochip0:5", "test", &drdy, err, sizeof(err)), 0);
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    assert_int_equal(adc_attach_drdy(adc, drdy, err, sizeof(err)), -ETIMEDOUT);
    assert_non_null(strstr(err, "check the drdy_gpio wiring"));
    /* still converting by polling */
    uint64_t k = bus.transactions;
    float v, i;
    assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    expect_conversion(&k, 0x83E3, true);
    adc_close(adc);
    gpio_close(drdy);
}

static void test_ads1115_bus_errors_and_stuck_conversions_are_reported(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    float v = 42, i = 43;
    bus.fail_every = 1;
    assert_int_equal(adc_convert_pair(adc, &v, &i), -EIO);
    bus.fail_every = 0;
    chip.stuck = true;
    double t0 = now_s();
    assert_int_equal(adc_convert_pair(adc, &v, &i), -ETIMEDOUT);
    assert_true(now_s() - t0 >= 0.009);
    assert_true(v == 42 && i == 43);
    adc_close(adc);
}

static void test_ads1115_open_refuses_what_cannot_work(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    chip.addr = 0x49; /* wired to another address */
    assert_int_equal(adc_ads1115_open_on(&bus.provider, "/dev/i2c-1@0x48:vscale=1,iscale=1", &adc,
                                         err, sizeof(err)),
                     -EREMOTEIO);
    assert_non_null(strstr(err, "nothing answers at 0x48 on /dev/i2c-1"));
    assert_int_equal(bus.opens, bus.closes);

    setup(NULL);
    /* two conversions need 2.33 ms, more than a period at 430 pairs/s leaves */
    assert_int_equal(adc_ads1115_open_on(&bus.provider,
                                         "/dev/i2c-1@0x48:vscale=1,iscale=1,rate=430", &adc, err,
                                         sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "rate=430 leaves 2.33 ms per pair but one takes"));
    assert_null(adc);
    assert_int_equal(bus.opens, bus.closes);
}

static void test_ads1115_sample_path_does_not_allocate(void **state)
{
    (void)state;
    struct adc *adc = open_ok("/dev/i2c-1@0x48:vscale=1,iscale=1");
    float v, i;
    uint64_t before = alloc_count();
    for (int k = 0; k < 20; k++)
        assert_int_equal(adc_convert_pair(adc, &v, &i), 0);
    assert_int_equal(alloc_count(), before);
    adc_close(adc);
}

static void test_adc_open_names_a_missing_i2c_device(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    int r = adc_open("ads1115:/dev/i2c-missing-9@0x48:vscale=1,iscale=1", &adc, err, sizeof(err));
    assert_int_equal(r, -ENOENT);
    assert_non_null(strstr(err, "--adc ads1115: /dev/i2c-missing-9: No such file"));
    assert_null(adc);
}

static void test_ads1115_refuses_three_phase_naming_why(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    const char *w[] = {"3p4w", "3p3w"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(adc_open_wired("ads1115:/dev/i2c-1@0x48:vscale=1,iscale=1", w[k], &adc,
                                        err, sizeof(err)),
                         -EINVAL);
        assert_null(adc);
        assert_non_null(strstr(err, "measures one phase only"));
        assert_non_null(strstr(err, "MCP3208"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ads1115_model_behaves_like_the_datasheet, setup),
        cmocka_unit_test_setup(test_ads1115_defaults_and_every_key, setup),
        cmocka_unit_test_setup(test_ads1115_rejects_bad_specs_naming_the_problem, setup),
        cmocka_unit_test_setup(test_ads1115_sends_single_shot_conversions_for_each_channel, setup),
        cmocka_unit_test_setup(test_ads1115_scales_codes_with_pga_bias_scale_and_calibration,
                               setup),
        cmocka_unit_test_setup(test_ads1115_sine_through_the_chip_keeps_rms_and_phase, setup),
        cmocka_unit_test_setup(test_ads1115_polls_os_until_the_conversion_is_done, setup),
        cmocka_unit_test_setup(test_ads1115_waits_on_the_ready_line_instead_of_polling, setup),
        cmocka_unit_test_setup(test_ads1115_refuses_a_ready_line_that_never_falls, setup),
        cmocka_unit_test_setup(test_ads1115_bus_errors_and_stuck_conversions_are_reported, setup),
        cmocka_unit_test_setup(test_ads1115_open_refuses_what_cannot_work, setup),
        cmocka_unit_test_setup(test_ads1115_sample_path_does_not_allocate, setup),
        cmocka_unit_test_setup(test_adc_open_names_a_missing_i2c_device, setup),
        cmocka_unit_test_setup(test_ads1115_refuses_three_phase_naming_why, setup),
    };
    return cmocka_run_group_tests_name("adc_ads1115", tests, NULL, NULL);
}
