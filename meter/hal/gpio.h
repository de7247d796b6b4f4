/*
 * gpio: the meter's digital lines: the load relay and the status LED
 * (outputs), and an ADC's data-ready signal (an input whose falling edges
 * are waited for).
 *
 * A line is named "CHIP:OFFSET", e.g. "gpiochip0:17" or "/dev/gpiochip0:17":
 * the GPIO chip by name, number, label or device path, and the line's offset
 * on that chip (what `gpioinfo` lists). Lines are opened through a backend:
 * gpio_backend_gpiod on real hardware, a fake in the unit tests. The backend
 * table is in gpio_driver.h.
 *
 * Ownership: an open function returns a line the caller releases with
 * gpio_close() (which accepts NULL). Opening does the talking to the chip;
 * gpio_set() and gpio_wait_edge() do not allocate.
 */
#ifndef SMARTMETER_GPIO_H
#define SMARTMETER_GPIO_H

#include <stdbool.h>
#include <stddef.h>

#define GPIO_ERR_LEN       256
#define GPIO_CHIP_NAME_MAX 64

struct gpio_spec {
    char chip[GPIO_CHIP_NAME_MAX];
    unsigned offset;
};

struct gpio_line;
struct gpio_backend;

/* libgpiod (character device /dev/gpiochipN). */
extern const struct gpio_backend gpio_backend_gpiod;

/* Parses "CHIP:OFFSET" (offset 0..1023). Returns 0, or -EINVAL with err naming the problem. */
int gpio_spec_parse(const char *text, struct gpio_spec *ret, char *err, size_t errlen);

/*
 * Requests spec as an output driven to initial_on. active_low: "on" drives
 * the line low (relay boards often switch on a low input). consumer is the
 * label `gpioinfo` shows. Returns 0, or -errno with err saying what to fix
 * (unknown chip, offset beyond the chip, line used by someone else).
 */
int gpio_open_output(const struct gpio_backend *be, const char *spec, bool active_low,
                     bool initial_on, const char *consumer, struct gpio_line **ret, char *err,
                     size_t errlen);

/* Requests spec as an input reporting falling edges (active-low ready signals). */
int gpio_open_edge_input(const struct gpio_backend *be, const char *spec, const char *consumer,
                         struct gpio_line **ret, char *err, size_t errlen);

/* Outputs: switches on or off. The state is remembered only once the line took it. */
int gpio_set(struct gpio_line *line, bool on);
/* Outputs: the state last set (initial_on before any gpio_set). */
bool gpio_get(const struct gpio_line *line);

/*
 * Inputs: waits up to timeout_ms for a falling edge and consumes it.
 * Returns 1 for an edge, 0 on timeout, or -errno (-EINVAL on an output).
 */
int gpio_wait_edge(struct gpio_line *line, int timeout_ms);
/* Inputs: discards edges already queued. Returns how many, or -errno. */
int gpio_flush_edges(struct gpio_line *line);

void gpio_close(struct gpio_line *line);

#endif
