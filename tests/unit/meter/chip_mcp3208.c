#include "chip_mcp3208.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void chip_mcp3208_init(struct chip_mcp3208 *c, double vref, double vdd)
{
    memset(c, 0, sizeof(*c));
    c->vref = vref;
    c->vdd = vdd;
}

unsigned chip_mcp3208_code(const struct chip_mcp3208 *c, double vin)
{
    if (vin <= 0)
        return 0;
    double code = floor(vin * 4096.0 / c->vref);
    return code > 4095 ? 4095 : (unsigned)code;
}

static double max_clock_hz(double vdd)
{
    if (vdd >= 5.0)
        return 2e6;
    if (vdd <= 2.7)
        return 1e6;
    return 1e6 + (vdd - 2.7) / (5.0 - 2.7) * 1e6;
}

static bool frame_allowed(struct chip_mcp3208 *c, const struct spi_config *cfg)
{
    if (cfg->mode != 0 && cfg->mode != 3)
        snprintf(c->violation, sizeof(c->violation), "SPI mode %u (the chip needs 0 or 3)",
                 (unsigned)cfg->mode);
    else if (cfg->speed_hz > max_clock_hz(c->vdd))
        snprintf(c->violation, sizeof(c->violation), "clock %u Hz above %.0f Hz at VDD %.2f V",
                 (unsigned)cfg->speed_hz, max_clock_hz(c->vdd), c->vdd);
    else if (cfg->speed_hz < 10000)
        snprintf(c->violation, sizeof(c->violation), "clock %u Hz below 10 kHz",
                 (unsigned)cfg->speed_hz);
    else
        return true;
    c->violations++;
    return false;
}

static double pin(struct chip_mcp3208 *c, unsigned ch)
{
    return c->pin ? c->pin(c->pin_ctx, ch, c->conversions) : c->pin_v[ch];
}

/* Samples the input the command selected. */
static unsigned sample(struct chip_mcp3208 *c, bool single, unsigned sel)
{
    double vin;
    if (single) {
        vin = pin(c, sel);
        c->last_channel = sel;
    } else {
        /* Pairs CH0/CH1, CH2/CH3, ...: D0 = 1 swaps IN+ and IN-. */
        unsigned plus = sel, minus = sel ^ 1;
        vin = pin(c, plus) - pin(c, minus);
        c->last_channel = plus;
    }
    c->last_single = single;
    c->conversions++;
    return chip_mcp3208_code(c, vin);
}

void chip_mcp3208_frame(void *model, const struct spi_config *cfg, const uint8_t *tx, uint8_t *rx,
                        size_t len)
{
    struct chip_mcp3208 *c = model;
    long start = -1; /* clock of the start bit */
    unsigned cmd = 0, code = 0;

    memset(rx, 0xFF, len);
    if (!frame_allowed(c, cfg))
        return;
    for (size_t t = 0; t < len * 8; t++) {
        unsigned din = (tx[t / 8] >> (7 - t % 8)) & 1;
        unsigned dout = 1; /* floating */
        if (start < 0) {
            if (din)
                start = (long)t;
        } else {
            long p = (long)t - start;
            if (p >= 1 && p <= 4)
                cmd = (cmd << 1) | din; /* SGL, D2, D1, D0 */
            if (p == 4)
                code = sample(c, (cmd >> 3) & 1, cmd & 7);
            if (p == 6)
                dout = 0; /* null bit */
            else if (p >= 7 && p <= 18)
                dout = (code >> (18 - p)) & 1; /* B11..B0 */
            else if (p >= 19 && p <= 29)
                dout = (code >> (p - 18)) & 1; /* B1..B11 */
            else if (p > 29)
                dout = 0;
        }
        if (!dout)
            rx[t / 8] &= (uint8_t) ~(1u << (7 - t % 8));
    }
}
