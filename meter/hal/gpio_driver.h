/*
 * gpio_driver: what a GPIO backend implements. Only hal/ files and test
 * fakes include this.
 *
 * A backend's line embeds struct gpio_line as its first member and sets ops;
 * gpio.c parses specs, checks direction and remembers output states, so a
 * backend only moves bits.
 */
#ifndef SMARTMETER_GPIO_DRIVER_H
#define SMARTMETER_GPIO_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "gpio.h"

struct gpio_line_ops {
    int (*set)(struct gpio_line *line, bool on);              /* outputs */
    int (*wait_edge)(struct gpio_line *line, int timeout_ms); /* inputs: 1, 0 or -errno */
    int (*flush_edges)(struct gpio_line *line);               /* inputs: count or -errno */
    void (*close)(struct gpio_line *line);
};

struct gpio_line {
    const struct gpio_line_ops *ops;
    bool output;
    bool on; /* outputs: last state the line took */
};

/*
 * Opening lines. ctx is passed back (a fake keeps its chip model there).
 * Both return 0 and a line with ops set, or -errno with err naming the chip
 * and line; gpio.c fills in output and on.
 */
struct gpio_backend {
    const char *name;
    void *ctx;
    int (*open_output)(void *ctx, const struct gpio_spec *spec, bool active_low, bool initial_on,
                       const char *consumer, struct gpio_line **ret, char *err, size_t errlen);
    int (*open_edge_input)(void *ctx, const struct gpio_spec *spec, const char *consumer,
                           struct gpio_line **ret, char *err, size_t errlen);
};

#endif
