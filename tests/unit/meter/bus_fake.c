#include "bus_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_spi {
    struct spi_bus base;
    struct bus_fake *f;
};

struct fake_i2c {
    struct i2c_bus base;
    struct bus_fake *f;
};

/* Counts the transaction and clears its log entry (a failed one stays empty). Returns the
 * error it must fail with, or 0. */
static int begin(struct bus_fake *f, struct bus_fake_txn **ret_log)
{
    struct bus_fake_txn *t = &f->log[f->transactions % BUS_FAKE_LOG];
    memset(t, 0, sizeof(*t));
    *ret_log = t;
    f->transactions++;
    if (f->fail_every && f->transactions % f->fail_every == 0) {
        f->failed++;
        return f->fail_error ? f->fail_error : -EIO;
    }
    return 0;
}

static void log_segment(struct bus_fake_txn *t, bool read, const uint8_t *bytes, size_t len)
{
    struct bus_fake_segment *s = &t->seg[t->n++];
    s->read = read;
    s->len = len;
    memcpy(s->bytes, bytes, len < BUS_FAKE_SEG_BYTES ? len : BUS_FAKE_SEG_BYTES);
}

static int fake_spi_transfer(struct spi_bus *bus, const struct bus_spi_xfer *xfers, size_t n)
{
    struct bus_fake *f = ((struct fake_spi *)bus)->f;
    if (n == 0 || n > BUS_MAX_SEGMENTS)
        return -EINVAL;
    struct bus_fake_txn *t;
    int r = begin(f, &t);
    if (r)
        return r;
    for (size_t k = 0; k < n; k++) {
        log_segment(t, false, xfers[k].tx, xfers[k].len);
        if (f->spi)
            f->spi(f->model, &f->spi_cfg, xfers[k].tx, xfers[k].rx, xfers[k].len);
        else
            memset(xfers[k].rx, 0xFF, xfers[k].len);
    }
    return 0;
}

static void fake_spi_close(struct spi_bus *bus)
{
    ((struct fake_spi *)bus)->f->closes++;
    free(bus);
}

static const struct spi_bus_ops fake_spi_ops = {fake_spi_transfer, fake_spi_close};

static int fake_i2c_transfer(struct i2c_bus *bus, const struct bus_i2c_msg *msgs, size_t n)
{
    struct bus_fake *f = ((struct fake_i2c *)bus)->f;
    if (n == 0 || n > BUS_MAX_SEGMENTS)
        return -EINVAL;
    struct bus_fake_txn *t;
    int r = begin(f, &t);
    if (r)
        return r;
    r = f->i2c ? f->i2c(f->model, f->i2c_addr, msgs, n) : -EREMOTEIO;
    for (size_t k = 0; k < n; k++)
        log_segment(t, msgs[k].read, msgs[k].buf, msgs[k].len);
    return r;
}

static void fake_i2c_close(struct i2c_bus *bus)
{
    ((struct fake_i2c *)bus)->f->closes++;
    free(bus);
}

static const struct i2c_bus_ops fake_i2c_ops = {fake_i2c_transfer, fake_i2c_close};

static int fake_spi_open(void *ctx, const char *path, const struct spi_config *cfg,
                         struct spi_bus **ret, char *err, size_t errlen)
{
    struct bus_fake *f = ctx;
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->spi_cfg = *cfg;
    if (f->open_error) {
        snprintf(err, errlen, "%s: %s", path, strerror(-f->open_error));
        return f->open_error;
    }
    struct fake_spi *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base.ops = &fake_spi_ops;
    s->f = f;
    f->opens++;
    *ret = &s->base;
    return 0;
}

static int fake_i2c_open(void *ctx, const char *path, uint16_t addr, struct i2c_bus **ret,
                         char *err, size_t errlen)
{
    struct bus_fake *f = ctx;
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->i2c_addr = addr;
    if (f->open_error) {
        snprintf(err, errlen, "%s: %s", path, strerror(-f->open_error));
        return f->open_error;
    }
    struct fake_i2c *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->base.ops = &fake_i2c_ops;
    c->f = f;
    f->opens++;
    *ret = &c->base;
    return 0;
}

void bus_fake_init(struct bus_fake *f, void *model, bus_fake_spi_fn *spi, bus_fake_i2c_fn *i2c)
{
    memset(f, 0, sizeof(*f));
    f->provider = (struct bus_provider){f, fake_spi_open, fake_i2c_open};
    f->model = model;
    f->spi = spi;
    f->i2c = i2c;
}

const struct bus_fake_txn *bus_fake_txn(const struct bus_fake *f, uint64_t index)
{
    if (index >= f->transactions || f->transactions - index > BUS_FAKE_LOG)
        return NULL;
    return &f->log[index % BUS_FAKE_LOG];
}
