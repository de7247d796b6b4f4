#include "chip_ads1115.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { REG_CONV, REG_CONFIG, REG_LO, REG_HI };

static const double data_rate_sps[8] = {8, 16, 32, 64, 128, 250, 475, 860};
static const double fs_v[8] = {6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256};

double chip_ads1115_fs(unsigned pga)
{
    return fs_v[pga & 7];
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void violate(struct chip_ads1115 *c, const char *what)
{
    c->violations++;
    snprintf(c->violation, sizeof(c->violation), "%s", what);
}

void chip_ads1115_init(struct chip_ads1115 *c, uint16_t addr, double vdd)
{
    memset(c, 0, sizeof(*c));
    c->addr = addr;
    c->vdd = vdd;
    c->reg[REG_CONV] = 0x0000;
    c->reg[REG_CONFIG] = 0x8583;
    c->reg[REG_LO] = 0x8000;
    c->reg[REG_HI] = 0x7FFF;
}

static bool ready_mode(const struct chip_ads1115 *c)
{
    uint16_t cfg = c->reg[REG_CONFIG];
    return (c->reg[REG_HI] & 0x8000) && !(c->reg[REG_LO] & 0x8000) && (cfg & 3) != 3 &&
           !(cfg & 0x0008);
}

/* Finishes the conversion in progress if its time has come. */
static void advance(struct chip_ads1115 *c)
{
    if (!c->converting || c->stuck || now_ns() < c->done_ns)
        return;
    c->converting = false;
    c->reg[REG_CONV] = (uint16_t)c->pending;
    c->conversions++;
    if (ready_mode(c))
        c->rdy_edge = true;
}

static double ain(struct chip_ads1115 *c, unsigned k)
{
    double v = c->ain ? c->ain(c->ain_ctx, k, c->conversions) : c->ain_v[k];
    return v < 0 ? 0 : v > c->vdd ? c->vdd : v; /* the input clamps at the rails */
}

static int16_t convert(struct chip_ads1115 *c, uint16_t cfg)
{
    static const int mux_p[8] = {0, 0, 1, 2, 0, 1, 2, 3};
    static const int mux_n[8] = {1, 3, 3, 3, -1, -1, -1, -1};
    unsigned mux = (cfg >> 12) & 7, pga = (cfg >> 9) & 7;
    double vin = ain(c, (unsigned)mux_p[mux]) - (mux_n[mux] < 0 ? 0 : ain(c, (unsigned)mux_n[mux]));
    double code = round(vin / fs_v[pga] * 32768.0);
    if (code > 32767)
        code = 32767;
    if (code < -32768)
        code = -32768;
    return (int16_t)code;
}

static void write_config(struct chip_ads1115 *c, uint16_t value)
{
    if (!(value & 0x0100))
        violate(c, "continuous-conversion mode is not modelled");
    bool start = (value & 0x8000) && (value & 0x0100);
    if (start && c->converting) {
        c->starts_ignored++;
        start = false;
    }
    c->reg[REG_CONFIG] = (uint16_t)(value & 0x7FFF);
    if (!start)
        return;
    double conv_s = (1.0 + c->osc_error) / data_rate_sps[(value >> 5) & 7];
    c->pending = convert(c, value);
    c->converting = true;
    c->rdy_edge = false; /* the pin returns high when a conversion starts */
    c->done_ns = now_ns() + (int64_t)(conv_s * 1e9);
}

static uint16_t read_register(struct chip_ads1115 *c)
{
    if (c->pointer != REG_CONFIG)
        return c->reg[c->pointer];
    c->config_reads++;
    /* OS reads 1 when idle, 0 while converting. */
    return (uint16_t)(c->reg[REG_CONFIG] | (c->converting ? 0 : 0x8000));
}

int chip_ads1115_i2c(void *model, uint16_t addr, const struct bus_i2c_msg *msgs, size_t n)
{
    struct chip_ads1115 *c = model;
    if (addr != c->addr)
        return -EREMOTEIO;
    advance(c);
    for (size_t k = 0; k < n; k++) {
        const struct bus_i2c_msg *m = &msgs[k];
        if (m->read) {
            uint16_t v = read_register(c);
            for (uint16_t b = 0; b < m->len; b++)
                m->buf[b] = b == 0 ? (uint8_t)(v >> 8) : b == 1 ? (uint8_t)v : 0xFF;
            continue;
        }
        if (m->len == 0)
            continue;
        if (m->buf[0] & 0xFC) {
            violate(c, "pointer byte with bits 7..2 set");
            continue;
        }
        c->pointer = m->buf[0] & 3;
        if (m->len == 1)
            continue;
        if (m->len != 3) {
            violate(c, "a register write must be pointer, MSB, LSB");
            continue;
        }
        uint16_t value = (uint16_t)((m->buf[1] << 8) | m->buf[2]);
        if (c->pointer == REG_CONV)
            violate(c, "write to the read-only conversion register");
        else if (c->pointer == REG_CONFIG)
            write_config(c, value);
        else
            c->reg[c->pointer] = value;
    }
    return 0;
}

int chip_ads1115_rdy_edge(void *model, int timeout_ms)
{
    struct chip_ads1115 *c = model;
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;

    advance(c);
    if (!c->rdy_edge && c->converting && !c->stuck && ready_mode(c) && c->done_ns <= deadline) {
        struct timespec t = {(time_t)(c->done_ns / 1000000000), (long)(c->done_ns % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
            ;
        advance(c);
    }
    if (c->rdy_edge) {
        c->rdy_edge = false;
        return 1;
    }
    if (timeout_ms > 0) {
        struct timespec t = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
            ;
    }
    return 0;
}
