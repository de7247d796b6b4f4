#include "gpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_driver.h"

#define GPIO_OFFSET_MAX 1023

int gpio_spec_parse(const char *text, struct gpio_spec *ret, char *err, size_t errlen)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon) {
        snprintf(err, errlen, "'%s' is not CHIP:LINE (e.g. gpiochip0:17)", text ? text : "");
        return -EINVAL;
    }
    size_t chip_len = (size_t)(colon - text);
    if (chip_len == 0) {
        snprintf(err, errlen, "'%s': the GPIO chip is missing (e.g. gpiochip0:17)", text);
        return -EINVAL;
    }
    if (chip_len >= GPIO_CHIP_NAME_MAX) {
        snprintf(err, errlen, "'%.16s...': the GPIO chip name is longer than %d characters", text,
                 GPIO_CHIP_NAME_MAX - 1);
        return -EINVAL;
    }
    const char *digits = colon + 1;
    char *end;
    errno = 0;
    unsigned long off = strtoul(digits, &end, 10);
    if (digits[0] < '0' || digits[0] > '9' || errno || *end != '\0' || off > GPIO_OFFSET_MAX) {
        snprintf(err, errlen, "'%s': the line offset must be a number 0..%d", text,
                 GPIO_OFFSET_MAX);
        return -EINVAL;
    }
    memcpy(ret->chip, text, chip_len);
    ret->chip[chip_len] = '\0';
    ret->offset = (unsigned)off;
    return 0;
}

int gpio_open_output(const struct gpio_backend *be, const char *spec, bool active_low,
                     bool initial_on, const char *consumer, struct gpio_line **ret, char *err,
                     size_t errlen)
{
    struct gpio_spec s;
    struct gpio_line *line = NULL;
    int r = gpio_spec_parse(spec, &s, err, errlen);
    if (r)
        return r;
    r = be->open_output(be->ctx, &s, active_low, initial_on, consumer, &line, err, errlen);
    if (r)
        return r;
    line->output = true;
    line->on = initial_on;
    *ret = line;
    return 0;
}

int gpio_open_edge_input(const struct gpio_backend *be, const char *spec, const char *consumer,
                         struct gpio_line **ret, char *err, size_t errlen)
{
    struct gpio_spec s;
    struct gpio_line *line = NULL;
    int r = gpio_spec_parse(spec, &s, err, errlen);
    if (r)
        return r;
    r = be->open_edge_input(be->ctx, &s, consumer, &line, err, errlen);
    if (r)
        return r;
    line->output = false;
    line->on = false;
    *ret = line;
    return 0;
}

int gpio_set(struct gpio_line *line, bool on)
{
    if (!line->output)
        return -EINVAL;
    int r = line->ops->set(line, on);
    if (!r)
        line->on = on;
    return r;
}

bool gpio_get(const struct gpio_line *line)
{
    return line->on;
}

int gpio_wait_edge(struct gpio_line *line, int timeout_ms)
{
    if (line->output)
        return -EINVAL;
    return line->ops->wait_edge(line, timeout_ms < 0 ? 0 : timeout_ms);
}

int gpio_flush_edges(struct gpio_line *line)
{
    if (line->output)
        return -EINVAL;
    return line->ops->flush_edges(line);
}

void gpio_close(struct gpio_line *line)
{
    if (line)
        line->ops->close(line);
}
