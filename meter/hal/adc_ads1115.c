/*
 * adc_ads1115: TI ADS1115, 16-bit delta-sigma converter with a 4-input
 * multiplexer on I2C, spec "ads1115:/dev/i2c-N@0xAA[:key=value,...]".
 *
 * Every sample is a single-shot conversion at the fastest data rate
 * (860 SPS): write the config register (0x01) with OS = 1 and the input's
 * multiplexer setting, wait until the conversion is done, read the
 * conversion register (0x00, 16-bit big-endian two's complement). Done is
 * seen either by polling OS in the config register (1 = idle) or, with a
 * data-ready line attached, on the ALERT/RDY pin: with the high threshold's
 * MSB set and the low threshold's clear, and the comparator queue enabled,
 * the pin goes low at the end of each conversion.
 *
 * One converter takes the voltage and then the current, so a pair needs two
 * conversions (2 / 860 s) plus the bus traffic: at most about 430 pairs per
 * second, and the current sample is taken about one conversion after the
 * voltage one (adc_current_lag_s() reports the lag measured at open). That is
 * enough for RMS, power, power factor and frequency, not for harmonics
 * beyond the Nyquist frequency (rate / 2).
 *
 * Inputs (mux=): "diff" (default) measures AIN0-AIN1 for voltage and
 * AIN2-AIN3 for current, each negative input tied to the front end's bias so
 * zero on the line reads zero; "single" measures AIN0 and AIN1 against GND,
 * each biased to vbias/ibias (default 1.65 V, mid-supply of a 3.3 V board).
 * Scaling: line value = (code * fs / 32768 - bias) * scale, fs from pga=.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adc_driver.h"
#include "adc_params.h"
#include "bus.h"
#include "gpio.h"

#define DRIVER     "ads1115"
#define KNOWN_KEYS "mux, pga, rate, vscale, iscale, vbias, ibias"

#define REG_CONVERSION 0x00
#define REG_CONFIG     0x01
#define REG_LO_THRESH  0x02
#define REG_HI_THRESH  0x03

#define CFG_OS          0x8000u
#define CFG_MUX_SHIFT   12
#define CFG_PGA_SHIFT   9
#define CFG_MODE_SINGLE 0x0100u
#define CFG_DR_860      0x00E0u
#define CFG_QUE_MASK    0x0003u
#define CFG_QUE_OFF     0x0003u /* comparator off, ALERT/RDY high impedance */
#define CFG_QUE_ONE     0x0000u /* with the ready thresholds: RDY low after each conversion */

#define MUX_AIN0_AIN1 0u
#define MUX_AIN2_AIN3 3u
#define MUX_AIN0_GND  4u
#define MUX_AIN1_GND  5u

#define DATA_RATE_SPS 860.0
/* The internal oscillator may run 10 % fast: the first poll comes after 90 % of a conversion. */
#define FIRST_POLL_NS    ((int64_t)(0.9e9 / DATA_RATE_SPS))
#define POLL_GAP_NS      20000
#define READY_TIMEOUT_MS 10
#define TIMING_PAIRS     8
#define RATE_MAX         430

static const double pga_fs_v[] = {6.144, 4.096, 2.048, 1.024, 0.512, 0.256};
#define N_PGA (sizeof(pga_fs_v) / sizeof(pga_fs_v[0]))

struct ads1115_params {
    char device[128];
    uint16_t addr;
    bool diff;
    unsigned pga;          /* index into pga_fs_v, which is also the PGA field's code */
    double vscale, iscale; /* 0 until given: required */
    double vbias, ibias;   /* < 0 until given */
    unsigned long rate_hz;
};

struct ads1115 {
    struct adc base;
    struct ads1115_params p;
    struct i2c_bus *bus;
    struct gpio_line *drdy; /* the caller's; NULL: poll OS */
    double volts_per_code;
    uint16_t cfg_v, cfg_i;
    double lag_s;
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void sleep_until_ns(int64_t t_ns)
{
    struct timespec t = {(time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

static int apply(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    struct ads1115_params *p = ctx;

    if (strcmp(key, "mux") == 0) {
        if (strcmp(val, "diff") == 0)
            p->diff = true;
        else if (strcmp(val, "single") == 0)
            p->diff = false;
        else
            return adc_param_fail(err, errlen, DRIVER, "mux=%s must be diff or single", val);
        return 0;
    }
    if (strcmp(key, "pga") == 0) {
        double fs;
        int r = adc_param_double(DRIVER, key, val, 0.256, 6.144, &fs, err, errlen);
        if (r)
            return r;
        for (unsigned k = 0; k < N_PGA; k++) {
            if (fabs(fs - pga_fs_v[k]) < 1e-9) {
                p->pga = k;
                return 0;
            }
        }
        return adc_param_fail(err, errlen, DRIVER,
                              "pga=%s: full scale must be 6.144, 4.096, 2.048, 1.024, 0.512 or "
                              "0.256 (volts)",
                              val);
    }
    if (strcmp(key, "rate") == 0)
        return adc_param_uint(DRIVER, key, val, 1, RATE_MAX, &p->rate_hz, err, errlen);
    if (strcmp(key, "vscale") == 0)
        return adc_param_double(DRIVER, key, val, 1e-6, 1e6, &p->vscale, err, errlen);
    if (strcmp(key, "iscale") == 0)
        return adc_param_double(DRIVER, key, val, 1e-6, 1e6, &p->iscale, err, errlen);
    if (strcmp(key, "vbias") == 0)
        return adc_param_double(DRIVER, key, val, 0, 5.5, &p->vbias, err, errlen);
    if (strcmp(key, "ibias") == 0)
        return adc_param_double(DRIVER, key, val, 0, 5.5, &p->ibias, err, errlen);
    return adc_param_fail(err, errlen, DRIVER, "unknown key '%s' (known: " KNOWN_KEYS ")", key);
}

static int parse_address(const char *text, uint16_t *ret, char *err, size_t errlen)
{
    char *end;
    if (strncmp(text, "0x", 2) != 0 && strncmp(text, "0X", 2) != 0)
        return adc_param_fail(err, errlen, DRIVER, "address '%s' must be hex, e.g. @0x48", text);
    errno = 0;
    unsigned long a = strtoul(text + 2, &end, 16);
    if (errno || end == text + 2 || *end != '\0')
        return adc_param_fail(err, errlen, DRIVER, "address '%s' must be hex, e.g. @0x48", text);
    if (a < 0x48 || a > 0x4B)
        return adc_param_fail(err, errlen, DRIVER,
                              "address %s: the ADS1115 answers at 0x48..0x4b (ADDR pin to GND, "
                              "VDD, SDA or SCL)",
                              text);
    *ret = (uint16_t)a;
    return 0;
}

static int parse(const char *params, struct ads1115_params *ret, char *err, size_t errlen)
{
    struct ads1115_params p = {
        .diff = true,
        .pga = 1, /* 4.096 V */
        .vbias = -1,
        .ibias = -1,
        .rate_hz = 250,
    };
    char addr[8];
    const char *colon = strchr(params, ':');
    size_t len = colon ? (size_t)(colon - params) : strlen(params);
    const char *at = memrchr(params, '@', len);

    if (!at || at == params)
        return adc_param_fail(err, errlen, DRIVER,
                              "'%.*s' is not DEVICE@ADDRESS, e.g. ads1115:/dev/i2c-1@0x48",
                              (int)len, params);
    size_t dev_len = (size_t)(at - params), addr_len = len - dev_len - 1;
    if (dev_len >= sizeof(p.device))
        return adc_param_fail(err, errlen, DRIVER, "the device path is too long");
    if (addr_len >= sizeof(addr))
        return adc_param_fail(err, errlen, DRIVER, "address '%.*s' must be hex, e.g. @0x48",
                              (int)addr_len, at + 1);
    memcpy(p.device, params, dev_len);
    p.device[dev_len] = '\0';
    memcpy(addr, at + 1, addr_len);
    addr[addr_len] = '\0';
    int r = parse_address(addr, &p.addr, err, errlen);
    if (r)
        return r;
    r = adc_params_each(DRIVER, colon ? colon + 1 : "", apply, &p, err, errlen);
    if (r)
        return r;
    if (p.vscale == 0 || p.iscale == 0)
        return adc_param_fail(err, errlen, DRIVER,
                              "%s= is required: line %s per volt at the converter input, from "
                              "the front end's components (docs/calibration.md)",
                              p.vscale == 0 ? "vscale" : "iscale",
                              p.vscale == 0 ? "volts" : "amperes");
    double bias_default = p.diff ? 0.0 : 1.65;
    if (p.vbias < 0)
        p.vbias = bias_default;
    if (p.ibias < 0)
        p.ibias = bias_default;
    double fs = pga_fs_v[p.pga];
    if (!p.diff && (p.vbias >= fs || p.ibias >= fs))
        return adc_param_fail(err, errlen, DRIVER,
                              "with mux=single the bias (%g V) must lie inside the full scale "
                              "pga=%g; choose pga of at least twice the bias",
                              p.vbias >= fs ? p.vbias : p.ibias, fs);
    *ret = p;
    return 0;
}

static uint16_t config_word(const struct ads1115 *a, unsigned mux)
{
    return (uint16_t)(CFG_OS | (mux << CFG_MUX_SHIFT) | (a->p.pga << CFG_PGA_SHIFT) |
                      CFG_MODE_SINGLE | CFG_DR_860 | CFG_QUE_OFF);
}

static int write_reg(struct ads1115 *a, uint8_t reg, uint16_t value)
{
    uint8_t w[3] = {reg, (uint8_t)(value >> 8), (uint8_t)(value & 0xFF)};
    const struct bus_i2c_msg msg = {false, w, sizeof(w)};
    return i2c_bus_transfer(a->bus, &msg, 1);
}

static int read_reg(struct ads1115 *a, uint8_t reg, uint16_t *ret)
{
    uint8_t ptr = reg, rd[2];
    const struct bus_i2c_msg msgs[2] = {{false, &ptr, 1}, {true, rd, sizeof(rd)}};
    int r = i2c_bus_transfer(a->bus, msgs, 2);
    if (r)
        return r;
    *ret = (uint16_t)((rd[0] << 8) | rd[1]);
    return 0;
}

static int wait_ready(struct ads1115 *a, int64_t start_ns)
{
    if (a->drdy) {
        int r = gpio_wait_edge(a->drdy, READY_TIMEOUT_MS);
        return r == 1 ? 0 : r == 0 ? -ETIMEDOUT : r;
    }
    const int64_t deadline = start_ns + (int64_t)READY_TIMEOUT_MS * 1000000;
    sleep_until_ns(start_ns + FIRST_POLL_NS);
    for (;;) {
        uint16_t cfg;
        int r = read_reg(a, REG_CONFIG, &cfg);
        if (r)
            return r;
        if (cfg & CFG_OS)
            return 0;
        int64_t now = mono_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        sleep_until_ns(now + POLL_GAP_NS);
    }
}

/* One single-shot conversion; *ret_start_ns is when it was started. */
static int convert_one(struct ads1115 *a, uint16_t cfg, int *ret_code, int64_t *ret_start_ns)
{
    uint16_t raw;
    int r;

    if (a->drdy && (r = gpio_flush_edges(a->drdy)) < 0)
        return r;
    r = write_reg(a, REG_CONFIG, cfg);
    if (r)
        return r;
    int64_t start = mono_ns();
    if ((r = wait_ready(a, start)) || (r = read_reg(a, REG_CONVERSION, &raw)))
        return r;
    *ret_code = raw >= 0x8000 ? (int)raw - 0x10000 : (int)raw;
    *ret_start_ns = start;
    return 0;
}

static int convert_codes(struct ads1115 *a, int *ret_v, int *ret_i, int64_t *ret_v_start_ns,
                         int64_t *ret_i_start_ns)
{
    int r = convert_one(a, a->cfg_v, ret_v, ret_v_start_ns);
    return r ? r : convert_one(a, a->cfg_i, ret_i, ret_i_start_ns);
}

static int ads_convert_pair(struct adc *adc, double *ret_v, double *ret_i)
{
    struct ads1115 *a = (struct ads1115 *)adc;
    int v, i;
    int64_t tv, ti;
    int r = convert_codes(a, &v, &i, &tv, &ti);
    if (r)
        return r;
    *ret_v = ((double)v * a->volts_per_code - a->p.vbias) * a->p.vscale;
    *ret_i = ((double)i * a->volts_per_code - a->p.ibias) * a->p.iscale;
    return 0;
}

/*
 * Converts a few pairs to learn how far the current sample trails the
 * voltage one on this bus (the median, so a preempted pair does not count),
 * and refuses a rate the bus cannot keep even in the best case.
 */
static int measure_timing(struct ads1115 *a, char *err, size_t errlen)
{
    double lag_s[TIMING_PAIRS], best_pair_s = INFINITY;
    int v, i;
    int64_t tv, ti;

    for (int k = 0; k < TIMING_PAIRS; k++) {
        int r = convert_codes(a, &v, &i, &tv, &ti);
        if (r) {
            snprintf(err, errlen, "--adc " DRIVER ": %s@0x%02x: %s%s", a->p.device,
                     (unsigned)a->p.addr, strerror(-r),
                     r == -ETIMEDOUT && a->drdy
                         ? " waiting for ALERT/RDY: check the drdy_gpio wiring and its pull-up"
                     : r == -ETIMEDOUT ? " waiting for a conversion"
                                       : "");
            return r;
        }
        best_pair_s = fmin(best_pair_s, (double)(mono_ns() - tv) / 1e9);
        /* insertion into the sorted prefix */
        double lag = (double)(ti - tv) / 1e9;
        int j = k;
        for (; j > 0 && lag_s[j - 1] > lag; j--)
            lag_s[j] = lag_s[j - 1];
        lag_s[j] = lag;
    }
    double period_s = 1.0 / (double)a->p.rate_hz;
    if (best_pair_s > period_s) {
        snprintf(err, errlen,
                 "--adc " DRIVER ": rate=%lu leaves %.2f ms per pair but one takes %.2f ms on "
                 "%s: lower the rate, or run the I2C bus at 400 kHz",
                 a->p.rate_hz, period_s * 1e3, best_pair_s * 1e3, a->p.device);
        return -EINVAL;
    }
    a->lag_s = lag_s[TIMING_PAIRS / 2];
    return 0;
}

static int ads_attach_drdy(struct adc *adc, struct gpio_line *drdy, char *err, size_t errlen)
{
    struct ads1115 *a = (struct ads1115 *)adc;
    uint16_t cfg_v = a->cfg_v, cfg_i = a->cfg_i;
    int r;

    /* Conversion-ready mode: Hi_thresh MSB = 1, Lo_thresh MSB = 0. */
    if ((r = write_reg(a, REG_HI_THRESH, 0x8000)) || (r = write_reg(a, REG_LO_THRESH, 0x0000))) {
        snprintf(err, errlen, "--adc " DRIVER ": %s@0x%02x: setting the ready thresholds: %s",
                 a->p.device, (unsigned)a->p.addr, strerror(-r));
        return r;
    }
    a->drdy = drdy;
    a->cfg_v = (uint16_t)((cfg_v & ~CFG_QUE_MASK) | CFG_QUE_ONE);
    a->cfg_i = (uint16_t)((cfg_i & ~CFG_QUE_MASK) | CFG_QUE_ONE);
    r = measure_timing(a, err, errlen);
    if (r) {
        a->drdy = NULL;
        a->cfg_v = cfg_v;
        a->cfg_i = cfg_i;
    }
    return r;
}

static double ads_rate_hz(const struct adc *adc)
{
    return (double)((const struct ads1115 *)adc)->p.rate_hz;
}

static double ads_current_lag_s(const struct adc *adc)
{
    return ((const struct ads1115 *)adc)->lag_s;
}

static void ads_close(struct adc *adc)
{
    struct ads1115 *a = (struct ads1115 *)adc;
    i2c_bus_close(a->bus);
    free(a);
}

static const struct adc_ops ads1115_ops = {
    .name = DRIVER,
    .convert_pair = ads_convert_pair,
    .rate_hz = ads_rate_hz,
    .current_lag_s = ads_current_lag_s,
    .attach_drdy = ads_attach_drdy,
    .close = ads_close,
};

int adc_ads1115_open_on(const struct bus_provider *buses, const char *params, struct adc **ret_adc,
                        char *err, size_t errlen)
{
    struct ads1115_params p;
    char berr[ADC_ERR_LEN];
    uint16_t cfg;

    int r = parse(params, &p, err, errlen);
    if (r)
        return r;
    struct ads1115 *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "--adc " DRIVER ": out of memory");
        return -ENOMEM;
    }
    adc_base_init(&a->base, &ads1115_ops);
    a->p = p;
    a->volts_per_code = pga_fs_v[p.pga] / 32768.0;
    a->cfg_v = config_word(a, p.diff ? MUX_AIN0_AIN1 : MUX_AIN0_GND);
    a->cfg_i = config_word(a, p.diff ? MUX_AIN2_AIN3 : MUX_AIN1_GND);

    r = buses->i2c_open(buses->ctx, p.device, p.addr, &a->bus, berr, sizeof(berr));
    if (r) {
        snprintf(err, errlen, "--adc " DRIVER ": %s", berr);
        free(a);
        return r;
    }
    r = read_reg(a, REG_CONFIG, &cfg);
    if (r) {
        snprintf(err, errlen,
                 "--adc " DRIVER ": nothing answers at 0x%02x on %s (%s): check power, wiring "
                 "and the ADDR pin",
                 (unsigned)p.addr, p.device, strerror(-r));
        ads_close(&a->base);
        return r;
    }
    r = measure_timing(a, err, errlen);
    if (r) {
        ads_close(&a->base);
        return r;
    }
    *ret_adc = &a->base;
    return 0;
}

int adc_ads1115_open(const char *params, const char *wiring, struct adc **ret_adc, char *err,
                     size_t errlen)
{
    /* Four inputs on one multiplexed converter of 860 conversions a second: three phases
       would get at most 215 frames a second (Aron's four channels), too few for the
       analysis' windows (at least 1000 samples a second per channel). */
    if (wiring && strcmp(wiring, "1p2w") != 0)
        return adc_param_fail(err, errlen, DRIVER,
                              "wiring %s: the ADS1115 measures one phase only (its one "
                              "multiplexed converter would give four channels 215 samples a "
                              "second each, too few for a three-phase analysis); use an MCP3208 "
                              "for three phases (docs/meterd.md \"Wiring\")",
                              wiring);
    return adc_ads1115_open_on(&bus_linux, params, ret_adc, err, errlen);
}
