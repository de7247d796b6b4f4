/*
 * bus_fake: the bus seam (meter/hal/bus.h) for unit tests. A driver opened
 * on &fake.provider gets buses whose transfers go to a chip model's
 * functions; the fake records every transaction byte for byte and can make
 * transactions fail.
 *
 * An SPI bus without a model reads 0xFF (MISO pulled up, nothing there); an
 * I2C bus without a model is not acknowledged (-EREMOTEIO).
 */
#ifndef SMARTMETER_TEST_BUS_FAKE_H
#define SMARTMETER_TEST_BUS_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/bus.h"

#define BUS_FAKE_LOG       64
#define BUS_FAKE_SEG_BYTES 8

/* One SPI chip-select frame: the model answers it like the chip would. */
typedef void bus_fake_spi_fn(void *model, const struct spi_config *cfg, const uint8_t *tx,
                             uint8_t *rx, size_t len);
/* One I2C transaction to addr. Returns 0 or -EREMOTEIO when the address is not acknowledged. */
typedef int bus_fake_i2c_fn(void *model, uint16_t addr, const struct bus_i2c_msg *msgs, size_t n);

struct bus_fake_segment {
    bool read;
    size_t len;
    uint8_t bytes[BUS_FAKE_SEG_BYTES]; /* bytes sent (SPI: tx; I2C: written) or read back */
};

struct bus_fake_txn {
    size_t n;
    struct bus_fake_segment seg[BUS_MAX_SEGMENTS];
};

struct bus_fake {
    struct bus_provider provider; /* pass &fake.provider to adc_*_open_on() */

    bus_fake_spi_fn *spi;
    bus_fake_i2c_fn *i2c;
    void *model;

    /* what the driver opened */
    char path[128];
    struct spi_config spi_cfg;
    uint16_t i2c_addr;
    int opens, closes;
    int open_error; /* nonzero: opening fails with it */

    /* failures: every fail_every-th transaction (1 = all) fails with fail_error */
    int fail_error;
    unsigned fail_every;
    uint64_t failed;

    uint64_t transactions; /* attempted, failed ones included */
    struct bus_fake_txn log[BUS_FAKE_LOG];
};

void bus_fake_init(struct bus_fake *f, void *model, bus_fake_spi_fn *spi, bus_fake_i2c_fn *i2c);

/* The index-th transaction since init (0-based), or NULL when it is not in the log any more. */
const struct bus_fake_txn *bus_fake_txn(const struct bus_fake *f, uint64_t index);

#endif
