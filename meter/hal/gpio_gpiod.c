/*
 * gpio_gpiod: GPIO lines through libgpiod's v1 API (Debian 12 ships 1.6),
 * the only file that includes gpiod.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpiod.h>

#include "gpio.h"
#include "gpio_driver.h"

struct gd_line {
    struct gpio_line base;
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

static int gd_set(struct gpio_line *l, bool on)
{
    struct gd_line *g = (struct gd_line *)l;
    return gpiod_line_set_value(g->line, on ? 1 : 0) < 0 ? -errno : 0;
}

static int gd_wait_edge(struct gpio_line *l, int timeout_ms)
{
    struct gd_line *g = (struct gd_line *)l;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    struct gpiod_line_event ev;

    int r = gpiod_line_event_wait(g->line, &ts);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    return gpiod_line_event_read(g->line, &ev) < 0 ? -errno : 1;
}

static int gd_flush_edges(struct gpio_line *l)
{
    struct gd_line *g = (struct gd_line *)l;
    const struct timespec zero = {0, 0};
    struct gpiod_line_event ev;
    int n = 0, r;

    while ((r = gpiod_line_event_wait(g->line, &zero)) > 0) {
        if (gpiod_line_event_read(g->line, &ev) < 0)
            return -errno;
        n++;
    }
    return r < 0 ? -errno : n;
}

static void gd_close(struct gpio_line *l)
{
    struct gd_line *g = (struct gd_line *)l;
    gpiod_line_release(g->line);
    gpiod_chip_close(g->chip);
    free(g);
}

static const struct gpio_line_ops gd_line_ops = {
    .set = gd_set,
    .wait_edge = gd_wait_edge,
    .flush_edges = gd_flush_edges,
    .close = gd_close,
};

/* Opens the chip and finds the line; on success *ret holds both, nothing requested yet. */
static int find_line(const struct gpio_spec *spec, struct gd_line **ret, char *err, size_t errlen)
{
    struct gd_line *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "%s:%u: out of memory", spec->chip, spec->offset);
        return -ENOMEM;
    }
    g->base.ops = &gd_line_ops;
    errno = 0;
    g->chip = gpiod_chip_open_lookup(spec->chip);
    if (!g->chip) {
        int e = errno ? errno : ENOENT;
        if (e == ENOENT || e == ENODEV)
            snprintf(err, errlen,
                     "%s:%u: there is no GPIO chip '%s' (gpiodetect lists the chips; is the "
                     "board's GPIO driver loaded?)",
                     spec->chip, spec->offset, spec->chip);
        else
            snprintf(err, errlen, "%s:%u: cannot open GPIO chip '%s': %s%s", spec->chip,
                     spec->offset, spec->chip, strerror(e),
                     e == EACCES ? " (add the meterd user to the gpio group)" : "");
        free(g);
        return -e;
    }
    unsigned n_lines = gpiod_chip_num_lines(g->chip);
    if (spec->offset >= n_lines) {
        snprintf(err, errlen, "%s:%u: %s has lines 0..%u only", spec->chip, spec->offset,
                 gpiod_chip_name(g->chip), n_lines ? n_lines - 1 : 0);
        gpiod_chip_close(g->chip);
        free(g);
        return -EINVAL;
    }
    g->line = gpiod_chip_get_line(g->chip, spec->offset);
    if (!g->line) {
        int e = errno ? errno : EIO;
        snprintf(err, errlen, "%s:%u: %s", spec->chip, spec->offset, strerror(e));
        gpiod_chip_close(g->chip);
        free(g);
        return -e;
    }
    *ret = g;
    return 0;
}

static int request_failed(struct gd_line *g, const struct gpio_spec *spec, char *err, size_t errlen)
{
    int e = errno ? errno : EIO;
    if (e == EBUSY) {
        const char *user = gpiod_line_consumer(g->line);
        snprintf(err, errlen, "%s:%u: the line is in use by '%s'", spec->chip, spec->offset,
                 user ? user : "another program");
    } else {
        snprintf(err, errlen, "%s:%u: cannot request the line: %s", spec->chip, spec->offset,
                 strerror(e));
    }
    gpiod_chip_close(g->chip);
    free(g);
    return -e;
}

static int gd_open_output(void *ctx, const struct gpio_spec *spec, bool active_low, bool initial_on,
                          const char *consumer, struct gpio_line **ret, char *err, size_t errlen)
{
    (void)ctx;
    struct gd_line *g;
    int r = find_line(spec, &g, err, errlen);
    if (r)
        return r;
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    errno = 0;
    if (gpiod_line_request_output_flags(g->line, consumer, flags, initial_on ? 1 : 0) < 0)
        return request_failed(g, spec, err, errlen);
    *ret = &g->base;
    return 0;
}

static int gd_open_edge_input(void *ctx, const struct gpio_spec *spec, const char *consumer,
                              struct gpio_line **ret, char *err, size_t errlen)
{
    (void)ctx;
    struct gd_line *g;
    int r = find_line(spec, &g, err, errlen);
    if (r)
        return r;
    /* Ready outputs (the ADS1115's ALERT/RDY) are open drain: ask for the pull-up, and do
     * without it on kernels that cannot bias lines (an external pull-up is then needed). */
    errno = 0;
    if (gpiod_line_request_falling_edge_events_flags(g->line, consumer,
                                                     GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) < 0) {
        if (errno != EINVAL && errno != EOPNOTSUPP)
            return request_failed(g, spec, err, errlen);
        errno = 0;
        if (gpiod_line_request_falling_edge_events(g->line, consumer) < 0)
            return request_failed(g, spec, err, errlen);
    }
    *ret = &g->base;
    return 0;
}

const struct gpio_backend gpio_backend_gpiod = {
    .name = "gpiod",
    .ctx = NULL,
    .open_output = gd_open_output,
    .open_edge_input = gd_open_edge_input,
};
