/*
 * bus_linux: the bus seam on Linux's userspace drivers, spidev for SPI and
 * i2c-dev for I2C. The only file that includes their headers.
 */
#include "bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/spi/spidev.h>

struct spi_linux {
    struct spi_bus base;
    int fd;
    uint32_t speed_hz;
};

struct i2c_linux {
    struct i2c_bus base;
    int fd;
    uint16_t addr;
};

/* Advice for the errors an installer can fix. */
static const char *open_hint(int e, const char *kind)
{
    switch (e) {
    case ENOENT:
        return strcmp(kind, "spi") == 0
                   ? " (is SPI enabled, e.g. dtparam=spi=on, and the spidev driver loaded?)"
                   : " (is I2C enabled, e.g. dtparam=i2c_arm=on, and i2c-dev loaded?)";
    case EACCES:
        return strcmp(kind, "spi") == 0 ? " (add the meterd user to the spi group)"
                                        : " (add the meterd user to the i2c group)";
    default:
        return "";
    }
}

static int spi_linux_transfer(struct spi_bus *bus, const struct bus_spi_xfer *xfers, size_t n)
{
    struct spi_linux *s = (struct spi_linux *)bus;
    struct spi_ioc_transfer tr[BUS_MAX_SEGMENTS];
    size_t total = 0;

    if (n == 0 || n > BUS_MAX_SEGMENTS)
        return -EINVAL;
    memset(tr, 0, sizeof(tr));
    for (size_t k = 0; k < n; k++) {
        tr[k].tx_buf = (uintptr_t)xfers[k].tx;
        tr[k].rx_buf = (uintptr_t)xfers[k].rx;
        tr[k].len = (uint32_t)xfers[k].len;
        tr[k].speed_hz = s->speed_hz;
        tr[k].bits_per_word = 8;
        /* Release chip select between transfers (not after the last: that would keep it). */
        tr[k].cs_change = k + 1 < n;
        total += xfers[k].len;
    }
    /* SPI_IOC_MESSAGE(n) spelled without its array type, which would be a VLA. */
    int r = ioctl(s->fd, _IOC(_IOC_WRITE, SPI_IOC_MAGIC, 0, SPI_MSGSIZE(n)), tr);
    if (r < 0)
        return -errno;
    return (size_t)r == total ? 0 : -EIO;
}

static void spi_linux_close(struct spi_bus *bus)
{
    struct spi_linux *s = (struct spi_linux *)bus;
    close(s->fd);
    free(s);
}

static const struct spi_bus_ops spi_linux_ops = {
    .transfer = spi_linux_transfer,
    .close = spi_linux_close,
};

static int spi_linux_open(void *ctx, const char *path, const struct spi_config *cfg,
                          struct spi_bus **ret, char *err, size_t errlen)
{
    (void)ctx;
    uint8_t mode = cfg->mode, bits = 8;
    uint32_t speed = cfg->speed_hz;
    int r;

    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: %s%s", path, strerror(-r), open_hint(-r, "spi"));
        return r;
    }
    if (ioctl(fd, SPI_IOC_WR_MODE, &mode) < 0 || ioctl(fd, SPI_IOC_WR_BITS_PER_WORD, &bits) < 0 ||
        ioctl(fd, SPI_IOC_WR_MAX_SPEED_HZ, &speed) < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: cannot set SPI mode %u at %u Hz: %s", path, (unsigned)mode,
                 (unsigned)speed, strerror(-r));
        close(fd);
        return r;
    }
    struct spi_linux *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    s->base.ops = &spi_linux_ops;
    s->fd = fd;
    s->speed_hz = speed;
    *ret = &s->base;
    return 0;
}

static int i2c_linux_transfer(struct i2c_bus *bus, const struct bus_i2c_msg *msgs, size_t n)
{
    struct i2c_linux *c = (struct i2c_linux *)bus;
    struct i2c_msg m[BUS_MAX_SEGMENTS];

    if (n == 0 || n > BUS_MAX_SEGMENTS)
        return -EINVAL;
    for (size_t k = 0; k < n; k++) {
        m[k].addr = c->addr;
        m[k].flags = msgs[k].read ? I2C_M_RD : 0;
        m[k].len = msgs[k].len;
        m[k].buf = msgs[k].buf;
    }
    struct i2c_rdwr_ioctl_data data = {.msgs = m, .nmsgs = (uint32_t)n};
    int r = ioctl(c->fd, I2C_RDWR, &data);
    if (r < 0)
        return -errno;
    return (size_t)r == n ? 0 : -EIO;
}

static void i2c_linux_close(struct i2c_bus *bus)
{
    struct i2c_linux *c = (struct i2c_linux *)bus;
    close(c->fd);
    free(c);
}

static const struct i2c_bus_ops i2c_linux_ops = {
    .transfer = i2c_linux_transfer,
    .close = i2c_linux_close,
};

static int i2c_linux_open(void *ctx, const char *path, uint16_t addr, struct i2c_bus **ret,
                          char *err, size_t errlen)
{
    (void)ctx;
    unsigned long funcs = 0;
    int r;

    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: %s%s", path, strerror(-r), open_hint(-r, "i2c"));
        return r;
    }
    if (ioctl(fd, I2C_FUNCS, &funcs) < 0 || !(funcs & I2C_FUNC_I2C)) {
        snprintf(err, errlen, "%s: the adapter cannot do combined I2C transfers (I2C_RDWR)", path);
        close(fd);
        return -EOPNOTSUPP;
    }
    /* Transfers name the address themselves; claiming it here finds a kernel driver on it. */
    if (ioctl(fd, I2C_SLAVE, (unsigned long)addr) < 0) {
        r = -errno;
        snprintf(err, errlen, "%s: address 0x%02x: %s%s", path, (unsigned)addr, strerror(-r),
                 r == -EBUSY ? " (a kernel driver owns it; unbind it or remove its overlay)" : "");
        close(fd);
        return r;
    }
    struct i2c_linux *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    c->base.ops = &i2c_linux_ops;
    c->fd = fd;
    c->addr = addr;
    *ret = &c->base;
    return 0;
}

const struct bus_provider bus_linux = {
    .ctx = NULL,
    .spi_open = spi_linux_open,
    .i2c_open = i2c_linux_open,
};
