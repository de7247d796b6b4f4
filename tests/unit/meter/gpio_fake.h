/*
 * gpio_fake: a GPIO chip model behind the gpio backend table, for unit
 * tests. It knows its name and line count, refuses what the kernel would
 * (unknown chip, offset past the last line, a line requested twice), keeps
 * each line's physical level, and delivers falling edges to edge inputs:
 * queued with gpio_fake_inject_edges() (from any thread) or produced by an
 * edge source, e.g. a chip model's ready pin.
 */
#ifndef SMARTMETER_TEST_GPIO_FAKE_H
#define SMARTMETER_TEST_GPIO_FAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hal/gpio_driver.h"

#define GPIO_FAKE_LINES 64

/* Returns 1 when a falling edge comes within timeout_ms (consuming it), else 0. */
typedef int gpio_fake_edge_fn(void *ctx, int timeout_ms);

struct gpio_fake_line {
    bool requested, output, active_low;
    int level; /* physical: 0 low, 1 high */
    char consumer[32];
    atomic_uint pending_edges;
    gpio_fake_edge_fn *source;
    void *source_ctx;
    int set_error; /* nonzero: setting fails with it */
    unsigned sets;
};

struct gpio_fake_chip {
    struct gpio_backend backend; /* pass &chip.backend to gpio_open_*() */
    char name[32];
    unsigned n_lines;
    struct gpio_fake_line line[GPIO_FAKE_LINES];
};

void gpio_fake_init(struct gpio_fake_chip *chip, const char *name, unsigned n_lines);
void gpio_fake_inject_edges(struct gpio_fake_chip *chip, unsigned offset, unsigned n);
void gpio_fake_set_edge_source(struct gpio_fake_chip *chip, unsigned offset, gpio_fake_edge_fn *fn,
                               void *ctx);

#endif
