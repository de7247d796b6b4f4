#include "gpio_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_line {
    struct gpio_line base;
    struct gpio_fake_chip *chip;
    unsigned offset;
};

static struct gpio_fake_line *state(struct gpio_line *l)
{
    struct fake_line *f = (struct fake_line *)l;
    return &f->chip->line[f->offset];
}

static int fake_set(struct gpio_line *l, bool on)
{
    struct gpio_fake_line *s = state(l);
    if (s->set_error)
        return s->set_error;
    s->level = (on != s->active_low) ? 1 : 0;
    s->sets++;
    return 0;
}

static bool take_edge(struct gpio_fake_line *s)
{
    unsigned n = atomic_load(&s->pending_edges);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&s->pending_edges, &n, n - 1))
            return true;
    }
    return false;
}

static int fake_wait_edge(struct gpio_line *l, int timeout_ms)
{
    struct gpio_fake_line *s = state(l);
    if (take_edge(s))
        return 1;
    if (s->source)
        return s->source(s->source_ctx, timeout_ms);
    /* Millisecond steps, so edges injected from another thread are seen. */
    for (int waited = 0; waited < timeout_ms; waited++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        if (take_edge(s))
            return 1;
    }
    return 0;
}

static int fake_flush_edges(struct gpio_line *l)
{
    struct gpio_fake_line *s = state(l);
    int n = (int)atomic_exchange(&s->pending_edges, 0);
    while (s->source && s->source(s->source_ctx, 0) == 1)
        n++;
    return n;
}

static void fake_close(struct gpio_line *l)
{
    struct gpio_fake_line *s = state(l);
    s->requested = false;
    free(l);
}

static const struct gpio_line_ops fake_line_ops = {
    .set = fake_set,
    .wait_edge = fake_wait_edge,
    .flush_edges = fake_flush_edges,
    .close = fake_close,
};

static int request(struct gpio_fake_chip *chip, const struct gpio_spec *spec, const char *consumer,
                   bool output, struct gpio_line **ret, char *err, size_t errlen)
{
    char path[48];
    snprintf(path, sizeof(path), "/dev/%s", chip->name);
    if (strcmp(spec->chip, chip->name) != 0 && strcmp(spec->chip, path) != 0) {
        snprintf(err, errlen, "%s:%u: there is no GPIO chip '%s'", spec->chip, spec->offset,
                 spec->chip);
        return -ENOENT;
    }
    if (spec->offset >= chip->n_lines) {
        snprintf(err, errlen, "%s:%u: %s has lines 0..%u only", spec->chip, spec->offset,
                 chip->name, chip->n_lines - 1);
        return -EINVAL;
    }
    struct gpio_fake_line *s = &chip->line[spec->offset];
    if (s->requested) {
        snprintf(err, errlen, "%s:%u: the line is in use by '%s'", spec->chip, spec->offset,
                 s->consumer);
        return -EBUSY;
    }
    struct fake_line *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->base.ops = &fake_line_ops;
    l->chip = chip;
    l->offset = spec->offset;
    s->requested = true;
    s->output = output;
    snprintf(s->consumer, sizeof(s->consumer), "%s", consumer);
    *ret = &l->base;
    return 0;
}

static int fake_open_output(void *ctx, const struct gpio_spec *spec, bool active_low,
                            bool initial_on, const char *consumer, struct gpio_line **ret,
                            char *err, size_t errlen)
{
    struct gpio_fake_chip *chip = ctx;
    int r = request(chip, spec, consumer, true, ret, err, errlen);
    if (r)
        return r;
    struct gpio_fake_line *s = &chip->line[spec->offset];
    s->active_low = active_low;
    s->level = (initial_on != active_low) ? 1 : 0;
    return 0;
}

static int fake_open_edge_input(void *ctx, const struct gpio_spec *spec, const char *consumer,
                                struct gpio_line **ret, char *err, size_t errlen)
{
    struct gpio_fake_chip *chip = ctx;
    int r = request(chip, spec, consumer, false, ret, err, errlen);
    if (r)
        return r;
    chip->line[spec->offset].level = 1; /* pulled up */
    return 0;
}

void gpio_fake_init(struct gpio_fake_chip *chip, const char *name, unsigned n_lines)
{
    memset(chip, 0, sizeof(*chip));
    chip->backend = (struct gpio_backend){"fake", chip, fake_open_output, fake_open_edge_input};
    snprintf(chip->name, sizeof(chip->name), "%s", name);
    chip->n_lines = n_lines < GPIO_FAKE_LINES ? n_lines : GPIO_FAKE_LINES;
    for (unsigned k = 0; k < GPIO_FAKE_LINES; k++)
        atomic_init(&chip->line[k].pending_edges, 0);
}

void gpio_fake_inject_edges(struct gpio_fake_chip *chip, unsigned offset, unsigned n)
{
    atomic_fetch_add(&chip->line[offset].pending_edges, n);
}

void gpio_fake_set_edge_source(struct gpio_fake_chip *chip, unsigned offset, gpio_fake_edge_fn *fn,
                               void *ctx)
{
    chip->line[offset].source = fn;
    chip->line[offset].source_ctx = ctx;
}
