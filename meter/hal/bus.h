/*
 * bus: the transfer seam between the ADC drivers and the buses their chips
 * sit on. A driver builds the exact bytes its chip expects and hands them to
 * an SPI or I2C bus through these ops tables; bus_linux.c implements them on
 * spidev and i2c-dev, and the unit tests put byte-level chip models behind
 * fakes of the same tables. Only bus_linux.c includes the kernel's
 * spidev/i2c-dev headers.
 *
 * Ownership: a provider's open functions return a bus the caller releases
 * with spi_bus_close() / i2c_bus_close() (both accept NULL). Transfers use
 * the caller's buffers and do not allocate, so they may run in the sample
 * path.
 */
#ifndef SMARTMETER_BUS_H
#define SMARTMETER_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many transfers (SPI) or messages (I2C) in one bus transaction. */
#define BUS_MAX_SEGMENTS 8 /* a three-phase frame is six single-channel conversions */

struct spi_config {
    uint8_t mode;      /* SPI mode 0..3 (CPOL << 1 | CPHA) */
    uint32_t speed_hz; /* SCLK frequency */
};

/*
 * One SPI transfer: len bytes clocked out of tx while len bytes are clocked
 * into rx. Chip select is asserted for the transfer and released after it,
 * also between the transfers of one message, so each transfer is one
 * conversion frame for chips like the MCP3208.
 */
struct bus_spi_xfer {
    const uint8_t *tx;
    uint8_t *rx;
    size_t len;
};

struct spi_bus;

struct spi_bus_ops {
    /* Runs n (1..BUS_MAX_SEGMENTS) transfers as one message. Returns 0 or -errno. */
    int (*transfer)(struct spi_bus *bus, const struct bus_spi_xfer *xfers, size_t n);
    void (*close)(struct spi_bus *bus);
};

struct spi_bus {
    const struct spi_bus_ops *ops;
};

/*
 * One I2C message to or from the device's address: a write sends buf[0..len),
 * a read fills it. Messages of one transaction are joined by repeated starts
 * (I2C_RDWR), so "write register pointer, read two bytes" is atomic.
 */
struct bus_i2c_msg {
    bool read;
    uint8_t *buf;
    uint16_t len;
};

struct i2c_bus;

struct i2c_bus_ops {
    /* Runs n (1..BUS_MAX_SEGMENTS) messages as one transaction. Returns 0 or -errno
     * (-EREMOTEIO or -ENXIO when nothing acknowledges the address). */
    int (*transfer)(struct i2c_bus *bus, const struct bus_i2c_msg *msgs, size_t n);
    void (*close)(struct i2c_bus *bus);
};

struct i2c_bus {
    const struct i2c_bus_ops *ops;
};

/*
 * Where drivers get their buses from. ctx is passed back to the open
 * functions (fakes keep their chip model there). Both return 0, or -errno
 * with a message naming the device in err.
 */
struct bus_provider {
    void *ctx;
    int (*spi_open)(void *ctx, const char *path, const struct spi_config *cfg, struct spi_bus **ret,
                    char *err, size_t errlen);
    int (*i2c_open)(void *ctx, const char *path, uint16_t addr, struct i2c_bus **ret, char *err,
                    size_t errlen);
};

/* spidev (/dev/spidevB.C) and i2c-dev (/dev/i2c-N). */
extern const struct bus_provider bus_linux;

static inline int spi_bus_transfer(struct spi_bus *bus, const struct bus_spi_xfer *xfers, size_t n)
{
    return bus->ops->transfer(bus, xfers, n);
}

static inline void spi_bus_close(struct spi_bus *bus)
{
    if (bus)
        bus->ops->close(bus);
}

static inline int i2c_bus_transfer(struct i2c_bus *bus, const struct bus_i2c_msg *msgs, size_t n)
{
    return bus->ops->transfer(bus, msgs, n);
}

static inline void i2c_bus_close(struct i2c_bus *bus)
{
    if (bus)
        bus->ops->close(bus);
}

#endif
