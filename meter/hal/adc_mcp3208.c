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
 * Three phases (wiring 3p4w or 3p3w): one SPI message of a frame per wired
 * channel, in the order va ia vb ib vc ic, so each phase's current follows
 * its voltage by one frame; channel k of the message is taken k frames after
 * the first (adc_channel_lag_s). Which input carries which channel is set by
 * the keys va= vb= vc= ia= ib= ic= (input 0..7, or "-" for not wired; for
 * 3p3w also vab= vbc= vca=, the same as va= vb= vc=). Default map: va 0,
 * ia 1, vb 2, ib 3, vc 4, ic 5 (inputs 6 and 7 free). 3p4w needs all six;
 * 3p3w at least two voltages and two currents (Aron: e.g. vca=-,ib=-).
 *
 * Scaling: the front end biases the AC signal to vbias (mid-scale by
 * default) at the converter input, so
 *   volts at the pin = code * vref / 4096
 *   line value       = (volts at the pin - vbias) * vscale
 * with vscale the line volts (or amperes) per volt at the pin, from the
 * divider or the CT's ratio and burden (docs/calibration.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adc_driver.h"
#include "adc_params.h"
#include "bus.h"

#define DRIVER     "mcp3208"
#define KNOWN_KEYS                                                                                 \
    "vch, ich, vscale, iscale, vbias, ibias, vref, rate, speed_hz, mode, va, vb, vc, ia, ib, ic, "  \
    "vab, vbc, vca"

#define CODES     4096.0
#define FRAME_LEN 3
/* Clocks per pair: two 24-clock frames. */
#define PAIR_CLOCKS  48
#define FRAME_CLOCKS 24
#define NOT_WIRED    8ul
#define MAP_UNSET    9ul
/* The order channels are converted in: each phase's current right after its voltage. */
static const unsigned conversion_order[ADC_CHANNELS] = {ADC_CH_VA, ADC_CH_IA, ADC_CH_VB,
                                                        ADC_CH_IB, ADC_CH_VC, ADC_CH_IC};

struct mcp3208_params {
    char device[128];
    unsigned long vch, ich;
    double vscale, iscale; /* 0 until given: both are required */
    double vbias, ibias;   /* < 0 until given: default vref / 2 */
    double vref;
    unsigned long rate_hz;
    unsigned long speed_hz;
    unsigned long mode;
    unsigned long map[ADC_CHANNELS]; /* input per channel; NOT_WIRED; MAP_UNSET: default */
    bool pair_keys;                  /* vch= or ich= given */
};

static void frame_command(uint8_t tx[FRAME_LEN], unsigned ch)
{
    tx[0] = (uint8_t)(0x06 | (ch >> 2)); /* start bit, single-ended, D2 */
    tx[1] = (uint8_t)((ch & 3) << 6);    /* D1 D0 */
    tx[2] = 0x00;
}

struct mcp3208 {
    struct adc base;
    struct mcp3208_params p;
    struct spi_bus *bus;
    double volts_per_code;
    uint8_t tx[ADC_CHANNELS][FRAME_LEN], rx[ADC_CHANNELS][FRAME_LEN];
    struct bus_spi_xfer xfer[ADC_CHANNELS];
    unsigned nframes;
    unsigned frame_ch[ADC_CHANNELS]; /* the channel frame k converts */
    int frame_of[ADC_CHANNELS];      /* the frame converting channel c, -1: none */
};

/* "va".."ic" and "vab".."vca": the channel a key names, -1 when none. */
static int map_key(const char *key)
{
    static const char *const names[][2] = {{"va", "vab"}, {"vb", "vbc"}, {"vc", "vca"},
                                           {"ia", NULL},  {"ib", NULL},  {"ic", NULL}};
    for (int c = 0; c < ADC_CHANNELS; c++) {
        if (strcmp(key, names[c][0]) == 0 || (names[c][1] && strcmp(key, names[c][1]) == 0))
            return c;
    }
    return -1;
}

static int apply(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    struct mcp3208_params *p = ctx;

    int c = map_key(key);
    if (c >= 0) {
        if (strcmp(val, "-") == 0) {
            p->map[c] = NOT_WIRED;
            return 0;
        }
        return adc_param_uint(DRIVER, key, val, 0, 7, &p->map[c], err, errlen);
    }
    if (strcmp(key, "vch") == 0 || strcmp(key, "ich") == 0)
        p->pair_keys = true;
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
        .map = {MAP_UNSET, MAP_UNSET, MAP_UNSET, MAP_UNSET, MAP_UNSET, MAP_UNSET},
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
    *ret = p;
    return 0;
}

/* Sets up the frames for the wiring: which input each wired channel is read from. */
static int set_wiring(struct mcp3208 *m, enum adc_wiring w, char *err, size_t errlen)
{
    struct mcp3208_params *p = &m->p;
    unsigned long map[ADC_CHANNELS];
    unsigned mask = 0, nv = 0, ni = 0;
    for (int c = 0; c < ADC_CHANNELS; c++) {
        if (w == ADC_WIRING_1P2W)
            map[c] = c == ADC_CH_VA ? p->vch : c == ADC_CH_IA ? p->ich : NOT_WIRED;
        else
            map[c] = p->map[c] != MAP_UNSET ? p->map[c]
                                            : (unsigned long)(ADC_CH_IS_VOLTAGE(c) ? 2 * c
                                                                                  : 2 * (c - 3) + 1);
        if (map[c] == NOT_WIRED)
            continue;
        mask |= ADC_CH_BIT(c);
        if (ADC_CH_IS_VOLTAGE(c))
            nv++;
        else
            ni++;
        for (int d = 0; d < c; d++) {
            if (map[d] == map[c])
                return adc_param_fail(err, errlen, DRIVER, "%s and %s are both input %lu",
                                      adc_channel_name(w, (unsigned)d),
                                      adc_channel_name(w, (unsigned)c), map[c]);
        }
    }
    if (w != ADC_WIRING_1P2W) {
        if (p->pair_keys)
            return adc_param_fail(err, errlen, DRIVER,
                                  "vch= and ich= are for 1p2w; a three-phase meter names its "
                                  "inputs with va= ... ic=");
        if (w == ADC_WIRING_3P4W && (nv < 3 || ni < 3))
            return adc_param_fail(err, errlen, DRIVER,
                                  "3p4w needs all of va vb vc ia ib ic wired (one left out)");
        if (w == ADC_WIRING_3P3W && (nv < 2 || ni < 2))
            return adc_param_fail(err, errlen, DRIVER,
                                  "3p3w needs at least two of vab vbc vca and two of ia ib ic");
    } else {
        for (int c = 0; c < ADC_CHANNELS; c++) {
            if (p->map[c] != MAP_UNSET)
                return adc_param_fail(err, errlen, DRIVER,
                                      "%s= is for a three-phase wiring (wiring 3p4w or 3p3w); "
                                      "a single-phase meter uses vch= and ich=",
                                      adc_channel_name(ADC_WIRING_3P4W, (unsigned)c));
        }
    }
    m->nframes = 0;
    for (int c = 0; c < ADC_CHANNELS; c++)
        m->frame_of[c] = -1;
    for (int k = 0; k < ADC_CHANNELS; k++) {
        unsigned c = conversion_order[k];
        if (map[c] == NOT_WIRED)
            continue;
        frame_command(m->tx[m->nframes], (unsigned)map[c]);
        m->xfer[m->nframes] = (struct bus_spi_xfer){m->tx[m->nframes], m->rx[m->nframes], FRAME_LEN};
        m->frame_ch[m->nframes] = c;
        m->frame_of[c] = (int)m->nframes;
        m->nframes++;
    }
    /* The frames must fit well inside a sample period, leaving time for the system call. */
    unsigned clocks = FRAME_CLOCKS * m->nframes;
    if ((double)clocks / (double)p->speed_hz > 0.5 / (double)p->rate_hz)
        return adc_param_fail(err, errlen, DRIVER,
                              "speed_hz=%lu is too slow for rate=%lu: %s %u frames take %u clocks "
                              "and must fit in half a sample period",
                              p->speed_hz, p->rate_hz, w == ADC_WIRING_1P2W ? "a pair's" : "the",
                              m->nframes, clocks);
    adc_base_set_wiring(&m->base, w, mask);
    return 0;
}


/* The 12-bit result of a frame, or -EIO when the null bit was not low. */
static int frame_code(const uint8_t rx[FRAME_LEN])
{
    if (rx[1] & 0x10)
        return -EIO;
    return ((rx[1] & 0x0F) << 8) | rx[2];
}

/* One message of every frame; codes[k] of frame k. */
static int convert_codes(struct mcp3208 *m, int codes[ADC_CHANNELS])
{
    int r = spi_bus_transfer(m->bus, m->xfer, m->nframes);
    if (r)
        return r;
    for (unsigned k = 0; k < m->nframes; k++) {
        codes[k] = frame_code(m->rx[k]);
        if (codes[k] < 0)
            return -EIO;
    }
    return 0;
}

static int mcp_convert_frame(struct adc *adc, double ret[ADC_CHANNELS])
{
    struct mcp3208 *m = (struct mcp3208 *)adc;
    int codes[ADC_CHANNELS];
    int r = convert_codes(m, codes);
    if (r)
        return r;
    for (unsigned k = 0; k < m->nframes; k++) {
        unsigned c = m->frame_ch[k];
        bool v = ADC_CH_IS_VOLTAGE(c);
        ret[c] = ((double)codes[k] * m->volts_per_code - (v ? m->p.vbias : m->p.ibias)) *
                 (v ? m->p.vscale : m->p.iscale);
    }
    return 0;
}

static int mcp_convert_pair(struct adc *adc, double *ret_v, double *ret_i)
{
    double f[ADC_CHANNELS];
    int r = mcp_convert_frame(adc, f);
    if (r)
        return r;
    *ret_v = f[ADC_CH_VA];
    *ret_i = f[ADC_CH_IA];
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

static double mcp_channel_lag_s(const struct adc *adc, unsigned ch)
{
    const struct mcp3208 *m = (const struct mcp3208 *)adc;
    int k = m->frame_of[ch];
    return k < 0 ? 0.0 : (double)(k * FRAME_CLOCKS) / (double)m->p.speed_hz;
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
    .convert_frame = mcp_convert_frame,
    .rate_hz = mcp_rate_hz,
    .current_lag_s = mcp_current_lag_s,
    .channel_lag_s = mcp_channel_lag_s,
    .close = mcp_close,
};

int adc_mcp3208_open_on(const struct bus_provider *buses, const char *params, struct adc **ret_adc,
                        char *err, size_t errlen)
{
    return adc_mcp3208_open_wired_on(buses, params, NULL, ret_adc, err, errlen);
}

int adc_mcp3208_open_wired_on(const struct bus_provider *buses, const char *params,
                              const char *wiring, struct adc **ret_adc, char *err, size_t errlen)
{
    struct mcp3208_params p;
    char berr[ADC_ERR_LEN];
    int codes[ADC_CHANNELS];
    enum adc_wiring w = ADC_WIRING_1P2W;

    if (wiring && adc_wiring_parse(wiring, &w))
        return adc_param_fail(err, errlen, DRIVER, "unknown wiring '%s'", wiring);
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
    r = set_wiring(m, w, err, errlen);
    if (r) {
        free(m);
        return r;
    }

    struct spi_config cfg = {.mode = (uint8_t)p.mode, .speed_hz = (uint32_t)p.speed_hz};
    r = buses->spi_open(buses->ctx, p.device, &cfg, &m->bus, berr, sizeof(berr));
    if (r) {
        snprintf(err, errlen, "--adc " DRIVER ": %s", berr);
        free(m);
        return r;
    }
    /* One conversion proves a chip answers before the daemon reports it is sampling. */
    r = convert_codes(m, codes);
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

int adc_mcp3208_open(const char *params, const char *wiring, struct adc **ret_adc, char *err,
                     size_t errlen)
{
    return adc_mcp3208_open_wired_on(&bus_linux, params, wiring, ret_adc, err, errlen);
}
