/* GPIO lines: spec parsing, outputs that remember their state, edge inputs, clear errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gpio_fake.h"
#include "hal/gpio.h"

static char err[GPIO_ERR_LEN];
static struct gpio_fake_chip chip;

static int setup(void **state)
{
    (void)state;
    gpio_fake_init(&chip, "gpiochip0", 54);
    err[0] = '\0';
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_gpio_spec_names_chip_and_offset(void **state)
{
    (void)state;
    struct gpio_spec s;
    assert_int_equal(gpio_spec_parse("gpiochip0:17", &s, err, sizeof(err)), 0);
    assert_string_equal(s.chip, "gpiochip0");
    assert_int_equal(s.offset, 17);
    assert_int_equal(gpio_spec_parse("/dev/gpiochip1:0", &s, err, sizeof(err)), 0);
    assert_string_equal(s.chip, "/dev/gpiochip1");
    assert_int_equal(s.offset, 0);
    assert_int_equal(gpio_spec_parse("pinctrl-bcm2711:1023", &s, err, sizeof(err)), 0);
    assert_string_equal(s.chip, "pinctrl-bcm2711");
}

static void test_gpio_spec_rejects_malformed_text(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message_part;
    } bad[] = {
        {"gpiochip0", "is not CHIP:LINE"},
        {":17", "the GPIO chip is missing"},
        {"gpiochip0:", "the line offset must be a number 0..1023"},
        {"gpiochip0:x", "the line offset must be a number"},
        {"gpiochip0:-1", "the line offset must be a number"},
        {"gpiochip0:1024", "0..1023"},
        {"gpiochip0:17 ", "the line offset must be a number"},
        {"a-very-long-chip-name-that-nobody-would-give-a-gpio-controller-ever:1",
         "longer than 63 characters"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct gpio_spec s;
        err[0] = '\0';
        if (gpio_spec_parse(bad[k].text, &s, err, sizeof(err)) != -EINVAL)
            fail_msg("'%s' was accepted", bad[k].text);
        if (!strstr(err, bad[k].message_part))
            fail_msg("'%s': message '%s' lacks '%s'", bad[k].text, err, bad[k].message_part);
    }
}

static void test_gpio_relay_output_remembers_and_drives_its_state(void **state)
{
    (void)state;
    struct gpio_line *relay = NULL;
    assert_int_equal(gpio_open_output(&chip.backend, "gpiochip0:17", false, false, "meterd-relay",
                                      &relay, err, sizeof(err)),
                     0);
    assert_false(gpio_get(relay));
    assert_int_equal(chip.line[17].level, 0);
    assert_string_equal(chip.line[17].consumer, "meterd-relay");
    assert_int_equal(gpio_set(relay, true), 0);
    assert_true(gpio_get(relay));
    assert_int_equal(chip.line[17].level, 1);

    /* a failed switch leaves the remembered state as it was */
    chip.line[17].set_error = -EIO;
    assert_int_equal(gpio_set(relay, false), -EIO);
    assert_true(gpio_get(relay));
    assert_int_equal(chip.line[17].level, 1);
    chip.line[17].set_error = 0;
    assert_int_equal(gpio_set(relay, false), 0);
    assert_false(gpio_get(relay));
    assert_int_equal(gpio_wait_edge(relay, 0), -EINVAL); /* not an input */
    gpio_close(relay);
    assert_false(chip.line[17].requested);
}

static void test_gpio_active_low_relay_is_on_when_the_line_is_low(void **state)
{
    (void)state;
    struct gpio_line *relay = NULL;
    assert_int_equal(gpio_open_output(&chip.backend, "/dev/gpiochip0:22", true, true, "relay",
                                      &relay, err, sizeof(err)),
                     0);
    assert_true(gpio_get(relay));
    assert_int_equal(chip.line[22].level, 0);
    assert_int_equal(gpio_set(relay, false), 0);
    assert_int_equal(chip.line[22].level, 1);
    gpio_close(relay);
}

static void test_gpio_status_led_switches(void **state)
{
    (void)state;
    struct gpio_line *led = NULL;
    assert_int_equal(
        gpio_open_output(&chip.backend, "gpiochip0:27", false, true, "led", &led, err, sizeof(err)),
        0);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(gpio_set(led, k % 2 == 0 ? false : true), 0);
        assert_int_equal(chip.line[27].level, k % 2);
    }
    assert_int_equal(chip.line[27].sets, 4);
    gpio_close(led);
}

static void test_gpio_data_ready_waits_for_edges_and_times_out(void **state)
{
    (void)state;
    struct gpio_line *drdy = NULL;
    assert_int_equal(
        gpio_open_edge_input(&chip.backend, "gpiochip0:4", "drdy", &drdy, err, sizeof(err)), 0);
    gpio_fake_inject_edges(&chip, 4, 2);
    assert_int_equal(gpio_wait_edge(drdy, 100), 1);
    assert_int_equal(gpio_wait_edge(drdy, 100), 1);
    double t0 = now_s();
    assert_int_equal(gpio_wait_edge(drdy, 20), 0);
    assert_true(now_s() - t0 >= 0.019);

    gpio_fake_inject_edges(&chip, 4, 3);
    assert_int_equal(gpio_flush_edges(drdy), 3);
    assert_int_equal(gpio_wait_edge(drdy, 0), 0);
    assert_int_equal(gpio_set(drdy, true), -EINVAL); /* not an output */
    gpio_close(drdy);
}

static void test_gpio_refuses_unknown_chip_missing_line_and_busy_line(void **state)
{
    (void)state;
    struct gpio_line *a = NULL, *b = NULL;
    assert_int_equal(
        gpio_open_output(&chip.backend, "gpiochip7:1", false, false, "x", &a, err, sizeof(err)),
        -ENOENT);
    assert_non_null(strstr(err, "no GPIO chip 'gpiochip7'"));
    assert_int_equal(
        gpio_open_output(&chip.backend, "gpiochip0:54", false, false, "x", &a, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "lines 0..53 only"));
    assert_int_equal(
        gpio_open_output(&chip.backend, "gpiochip0:5", false, false, "relay", &a, err, sizeof(err)),
        0);
    assert_int_equal(
        gpio_open_edge_input(&chip.backend, "gpiochip0:5", "drdy", &b, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "in use by 'relay'"));
    assert_int_equal(
        gpio_open_output(&chip.backend, "gpiochip0", false, false, "x", &b, err, sizeof(err)),
        -EINVAL);
    assert_null(b);
    gpio_close(a);
    gpio_close(NULL);
}

static void test_gpiod_says_clearly_when_the_chip_does_not_exist(void **state)
{
    (void)state;
    struct gpio_line *line = NULL;
    int r = gpio_open_output(&gpio_backend_gpiod, "gpiochip-missing-42:17", false, false, "test",
                             &line, err, sizeof(err));
    assert_true(r == -ENOENT || r == -ENODEV);
    assert_non_null(strstr(err, "there is no GPIO chip 'gpiochip-missing-42'"));
    assert_non_null(strstr(err, "gpiodetect"));
    assert_null(line);
    r = gpio_open_edge_input(&gpio_backend_gpiod, "/dev/gpiochip-missing-42:4", "test", &line, err,
                             sizeof(err));
    assert_true(r < 0);
    assert_non_null(strstr(err, "/dev/gpiochip-missing-42"));
    assert_null(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gpio_spec_names_chip_and_offset, setup),
        cmocka_unit_test_setup(test_gpio_spec_rejects_malformed_text, setup),
        cmocka_unit_test_setup(test_gpio_relay_output_remembers_and_drives_its_state, setup),
        cmocka_unit_test_setup(test_gpio_active_low_relay_is_on_when_the_line_is_low, setup),
        cmocka_unit_test_setup(test_gpio_status_led_switches, setup),
        cmocka_unit_test_setup(test_gpio_data_ready_waits_for_edges_and_times_out, setup),
        cmocka_unit_test_setup(test_gpio_refuses_unknown_chip_missing_line_and_busy_line, setup),
        cmocka_unit_test_setup(test_gpiod_says_clearly_when_the_chip_does_not_exist, setup),
    };
    return cmocka_run_group_tests_name("gpio", tests, NULL, NULL);
}
