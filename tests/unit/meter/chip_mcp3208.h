/*
 * chip_mcp3208: a bit-level model of the MCP3208 for the SPI bus fake.
 *
 * Each chip-select frame is clocked bit by bit as the datasheet describes:
 * DOUT floats (reads 1 here) until the start bit and the four command bits
 * (SGL/DIFF, D2, D1, D0) are in, one more clock completes the sample, then
 * comes the null bit (0), B11..B0 MSB first, B1..B11 LSB first again, then
 * zeros. The input is sampled from a per-channel pin function, clamped to
 * 0..vref and coded as floor(vin * 4096 / vref).
 *
 * It checks what a real chip would not forgive: SPI mode other than 0 or 3,
 * a clock above its limit at the given VDD (2 MHz at 5 V, 1 MHz at 2.7 V,
 * linear between) or below 10 kHz. Such a frame reads all ones and counts
 * as a violation.
 */
#ifndef SMARTMETER_TEST_CHIP_MCP3208_H
#define SMARTMETER_TEST_CHIP_MCP3208_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_fake.h"

/* Volts at input ch (0..7) for the conversion-th conversion of the chip (0-based). */
typedef double chip_mcp3208_pin_fn(void *ctx, unsigned ch, uint64_t conversion);

struct chip_mcp3208 {
    double vref, vdd;
    chip_mcp3208_pin_fn *pin; /* NULL: pin_v[] */
    void *pin_ctx;
    double pin_v[8];

    uint64_t conversions;
    unsigned last_channel; /* single-ended channel, or IN+ of a differential pair */
    bool last_single;
    unsigned violations;
    char violation[160];
};

void chip_mcp3208_init(struct chip_mcp3208 *c, double vref, double vdd);

/* The bus fake's SPI callback (model = struct chip_mcp3208 *). */
bus_fake_spi_fn chip_mcp3208_frame;

/* The code the chip returns for vin at its vref. */
unsigned chip_mcp3208_code(const struct chip_mcp3208 *c, double vin);

#endif
