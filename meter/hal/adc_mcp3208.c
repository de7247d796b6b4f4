/*
 * adc_mcp3208: Microchip MCP3208, 8-channel 12-bit SAR converter on SPI,
 * spec "mcp3208:/dev/spidevB.C[:key=value,...]".
 *
 * A single-ended conversion is one 3-byte frame (datasheet section 6.1,
 * "using the MCP3208 with 8-bit segments"):
 *   tx  0x06 | ch >> 2      (ch & 3) << 6      0x00
 *   rx  --                  ???0 B11..B8       B7..B0
 * The voltage and the current channel are converted in one SPI message of
 * two frames, chip select released between them, so the current sample is
 * taken one frame (24 clocks plus the chip-select gap) after the voltage one.
 * The bit before B11 is the chip's null bit, always low: a high one means
 * nothing answered (MISO pulled up) and the pair is refused with -EIO.
 *
 * Scaling: the front end biases the AC signal to vbias (mid-scale by
 * default) at the converter input, so
 *   volts at the pin = code * vref / 4096
 *   line value       = (volts at the pin - vbias) * vscale
 * with vscale the line volts (or amperes) per volt at the pin, from the
 * divider or the CT's ratio and burden (docs/calibration.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adc_driver.h"
#include "adc_params.h"
#include "bus.h"

#define DRIVER     "mcp3208"
#define KNOWN_KEYS "vch, ich, vscale, iscale, vbias, ibias, vref, rate, speed_hz, mode"

#define CODES     4096.0
#define FRAME_LEN 3
/* Clocks per pair: two 24-clock frames. */
#define PAIR_CLOCKS 48

struct mcp3208_params {
    char device[128];
    unsigned long vch, ich;
    double vscale, iscale; /* 0 until given: both are required */
    double vbias, ibias;   /* < 0 until given: default vref / 2 */
    double vref;
    unsigned long rate_hz;
    unsigned long speed_hz;
    unsigned long mode;
};

struct mcp3208 {
    struct adc base;
    struct mcp3208_params p;
    struct spi_bus *bus;
    double volts_per_code;
    uint8_t tx[2][FRAME_LEN], rx[2][FRAME_LEN];
    struct bus_spi_xfer xfer[2];
};

static int apply(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    struct mcp3208_params *p = ctx;

    if (strcmp(key, "vch") == 0)
        return adc_param_uint(DRIVER, key, val, 0, 7, &p->vch, err, errlen);
    if (strcmp(key, "ich") == 0)
        return adc_param_uint(DRIVER, key, val, 0, 7, &p->ich, err, errlen);
    if (strcmp(key, "vscale") == 0)
        return adc_param_double(DRIVER, key, val, 1e-6, 1e6, &p->vscale, err, errlen);
    if (strcmp(key, "iscale") == 0)
        return adc_param_double(DRIVER, key, val, 1e-6, 1e6, &p->iscale, err, errlen);
    if (strcmp(key, "vbias") == 0)
        return adc_param_double(DRIVER, key, val, 0, 5.5, &p->vbias, err, errlen);
    if (strcmp(key, "ibias") == 0)
        return adc_param_double(DRIVER, key, val, 0, 5.5, &p->ibias, err, errlen);
    if (strcmp(key, "vref") == 0)
        return adc_param_double(DRIVER, key, val, 0.25, 5.5, &p->vref, err, errlen);
    if (strcmp(key, "rate") == 0)
        return adc_param_uint(DRIVER, key, val, 100, 12800, &p->rate_hz, err, errlen);
    /* 10 kHz: below it the sample-and-hold droops; 2 MHz at VDD = 5 V, 1 MHz at 2.7 V. */
    if (strcmp(key, "speed_hz") == 0)
        return adc_param_uint(DRIVER, key, val, 10000, 2000000, &p->speed_hz, err, errlen);
    if (strcmp(key, "mode") == 0) {
        int r = adc_param_uint(DRIVER, key, val, 0, 3, &p->mode, err, errlen);
        if (!r && p->mode != 0 && p->mode != 3)
            return adc_param_fail(err, errlen, DRIVER,
                                  "the MCP3208 speaks SPI mode 0 or 3, not mode=%s", val);
        return r;
    }
    return adc_param_fail(err, errlen, DRIVER, "unknown key '%s' (known: " KNOWN_KEYS ")", key);
}

static int parse(const char *params, struct mcp3208_params *ret, char *err, size_t errlen)
{
    struct mcp3208_params p = {
        .vch = 0,
        .ich = 1,
        .vbias = -1,
        .ibias = -1,
        .vref = 3.3,
        .rate_hz = 6400,
        .speed_hz = 2000000,
        .mode = 0,
    };
    const char *colon = strchr(params, ':');
    size_t dev_len = colon ? (size_t)(colon - params) : strlen(params);

    if (dev_len == 0)
        return adc_param_fail(err, errlen, DRIVER,
                              "the SPI device is missing, e.g. mcp3208:/dev/spidev0.0:vscale=...");
    if (dev_len >= sizeof(p.device))
        return adc_param_fail(err, errlen, DRIVER, "the device path is too long");
    memcpy(p.device, params, dev_len);
    p.device[dev_len] = '\0';
    int r = adc_params_each(DRIVER, colon ? colon + 1 : "", apply, &p, err, errlen);
    if (r)
        return r;
    if (p.vch == p.ich)
        return adc_param_fail(err, errlen, DRIVER, "vch and ich are both channel %lu", p.vch);
    if (p.vscale == 0 || p.iscale == 0)
        return adc_param_fail(err, errlen, DRIVER,
                              "%s= is required: line %s per volt at the converter input, from "
                              "the front end's components (docs/calibration.md)",
                              p.vscale == 0 ? "vscale" : "iscale",
                              p.vscale == 0 ? "volts" : "amperes");
    if (p.vbias < 0)
        p.vbias = p.vref / 2;
    if (p.ibias < 0)
        p.ibias = p.vref / 2;
    if (p.vbias > p.vref || p.ibias > p.vref)
        return adc_param_fail(err, errlen, DRIVER, "%s=%g is above vref=%g",
                              p.vbias > p.vref ? "vbias" : "ibias",
                              p.vbias > p.vref ? p.vbias : p.ibias, p.vref);
    /* Two frames must fit well inside a sample period, leaving time for the system call. */
    if ((double)PAIR_CLOCKS / (double)p.speed_hz > 0.5 / (double)p.rate_hz)
        return adc_param_fail(err, errlen, DRIVER,
                              "speed_hz=%lu is too slow for rate=%lu: a pair takes %d clocks "
                              "and must fit in half a sample period",
                              p.speed_hz, p.rate_hz, PAIR_CLOCKS);
    *ret = p;
    return 0;
}

static void frame_command(uint8_t tx[FRAME_LEN], unsigned ch)
{
    tx[0] = (uint8_t)(0x06 | (ch >> 2)); /* start bit, single-ended, D2 */
    tx[1] = (uint8_t)((ch & 3) << 6);    /* D1 D0 */
    tx[2] = 0x00;
}

/* The 12-bit result of a frame, or -EIO when the null bit was not low. */
static int frame_code(const uint8_t rx[FRAME_LEN])
{
    if (rx[1] & 0x10)
        return -EIO;
    return ((rx[1] & 0x0F) << 8) | rx[2];
}

static int convert_codes(struct mcp3208 *m, int *ret_v, int *ret_i)
{
    int r = spi_bus_transfer(m->bus, m->xfer, 2);
    if (r)
        return r;
    int v = frame_code(m->rx[0]), i = frame_code(m->rx[1]);
    if (v < 0 || i < 0)
        return -EIO;
    *ret_v = v;
    *ret_i = i;
    return 0;
}

static int mcp_convert_pair(struct adc *adc, double *ret_v, double *ret_i)
{
    struct mcp3208 *m = (struct mcp3208 *)adc;
    int v, i;
    int r = convert_codes(m, &v, &i);
    if (r)
        return r;
    *ret_v = ((double)v * m->volts_per_code - m->p.vbias) * m->p.vscale;
    *ret_i = ((double)i * m->volts_per_code - m->p.ibias) * m->p.iscale;
    return 0;
}

static double mcp_rate_hz(const struct adc *adc)
{
    return (double)((const struct mcp3208 *)adc)->p.rate_hz;
}

static double mcp_current_lag_s(const struct adc *adc)
{
    return (PAIR_CLOCKS / 2) / (double)((const struct mcp3208 *)adc)->p.speed_hz;
}

static void mcp_close(struct adc *adc)
{
    struct mcp3208 *m = (struct mcp3208 *)adc;
    spi_bus_close(m->bus);
    free(m);
}

static const struct adc_ops mcp3208_ops = {
    .name = DRIVER,
    .convert_pair = mcp_convert_pair,
    .rate_hz = mcp_rate_hz,
    .current_lag_s = mcp_current_lag_s,
    .close = mcp_close,
};

int adc_mcp3208_open_on(const struct bus_provider *buses, const char *params, struct adc **ret_adc,
                        char *err, size_t errlen)
{
    struct mcp3208_params p;
    char berr[ADC_ERR_LEN];
    int v, i;

    int r = parse(params, &p, err, errlen);
    if (r)
        return r;
    struct mcp3208 *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "--adc " DRIVER ": out of memory");
        return -ENOMEM;
    }
    adc_base_init(&m->base, &mcp3208_ops);
    m->p = p;
    m->volts_per_code = p.vref / CODES;
    frame_command(m->tx[0], (unsigned)p.vch);
    frame_command(m->tx[1], (unsigned)p.ich);
    for (int k = 0; k < 2; k++)
        m->xfer[k] = (struct bus_spi_xfer){m->tx[k], m->rx[k], FRAME_LEN};

    struct spi_config cfg = {.mode = (uint8_t)p.mode, .speed_hz = (uint32_t)p.speed_hz};
    r = buses->spi_open(buses->ctx, p.device, &cfg, &m->bus, berr, sizeof(berr));
    if (r) {
        snprintf(err, errlen, "--adc " DRIVER ": %s", berr);
        free(m);
        return r;
    }
    /* One conversion proves a chip answers before the daemon reports it is sampling. */
    r = convert_codes(m, &v, &i);
    if (r) {
        if (r == -EIO)
            snprintf(err, errlen,
                     "--adc " DRIVER ": no MCP3208 answers on %s (its null bit was not low): "
                     "check power, wiring and which chip select it is on",
                     p.device);
        else
            snprintf(err, errlen, "--adc " DRIVER ": %s: first conversion failed: %s", p.device,
                     strerror(-r));
        mcp_close(&m->base);
        return r;
    }
    *ret_adc = &m->base;
    return 0;
}

int adc_mcp3208_open(const char *params, struct adc **ret_adc, char *err, size_t errlen)
{
    return adc_mcp3208_open_on(&bus_linux, params, ret_adc, err, errlen);
}
