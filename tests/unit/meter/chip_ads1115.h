/*
 * chip_ads1115: a register-level model of the ADS1115 for the I2C bus fake.
 *
 * Registers: conversion (0x00, read-only), config (0x01, power-up 0x8583),
 * Lo_thresh (0x02, 0x8000), Hi_thresh (0x03, 0x7FFF), all 16-bit
 * big-endian. A write message is [pointer] or [pointer, MSB, LSB]; a read
 * returns the pointed register. Writing config with OS = 1 in single-shot
 * mode starts a conversion of the selected mux input at the selected PGA
 * full scale; it completes 1/DR seconds later on CLOCK_MONOTONIC (scaled by
 * 1 + osc_error). Until then OS reads 0 and the conversion register still
 * holds the previous result, as on the chip.
 *
 * ALERT/RDY is modelled in conversion-ready mode only (Hi_thresh MSB = 1,
 * Lo_thresh MSB = 0, COMP_QUE != 11, COMP_POL = 0): a falling edge at the
 * end of each conversion, which chip_ads1115_rdy_edge() hands to a GPIO
 * fake. Continuous mode and the threshold comparator are not modelled and
 * count as violations if used, as do malformed messages.
 */
#ifndef SMARTMETER_TEST_CHIP_ADS1115_H
#define SMARTMETER_TEST_CHIP_ADS1115_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_fake.h"

/* Volts at AINx (0..3) for the conversion-th conversion (0-based). */
typedef double chip_ads1115_ain_fn(void *ctx, unsigned ain, uint64_t conversion);

struct chip_ads1115 {
    uint16_t addr;
    double vdd;
    chip_ads1115_ain_fn *ain; /* NULL: ain_v[] */
    void *ain_ctx;
    double ain_v[4];
    double osc_error; /* 0.05: conversions take 5 % longer */
    bool stuck;       /* conversions never finish */

    uint16_t reg[4];
    uint8_t pointer;
    bool converting;
    int64_t done_ns;
    int16_t pending;
    bool rdy_edge; /* a ready edge not yet consumed */

    uint64_t conversions;    /* finished */
    uint64_t config_reads;   /* OS polls among them */
    uint64_t starts_ignored; /* OS = 1 written while converting */
    unsigned violations;
    char violation[160];
};

void chip_ads1115_init(struct chip_ads1115 *c, uint16_t addr, double vdd);

/* The bus fake's I2C callback (model = struct chip_ads1115 *). */
bus_fake_i2c_fn chip_ads1115_i2c;

/* GPIO fake edge source for ALERT/RDY: 1 for a falling edge within timeout_ms, else 0. */
int chip_ads1115_rdy_edge(void *model, int timeout_ms);

/* Full scale in volts of a PGA code (0..7). */
double chip_ads1115_fs(unsigned pga);

#endif
