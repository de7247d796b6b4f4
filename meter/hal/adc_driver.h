/*
 * adc_driver: what an ADC driver implements. Only hal/ files (and test
 * fakes) include this.
 *
 * A driver embeds struct adc as the first member of its own state, calls
 * adc_base_init() on it and fills in either read (block drivers) or
 * convert_pair (per-conversion drivers). Drivers deliver nominal volts and
 * amperes; adc.c applies the calibration and paces per-conversion drivers
 * for adc_read(). adc.c looks drivers up by name.
 */
#ifndef SMARTMETER_ADC_DRIVER_H
#define SMARTMETER_ADC_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "adc.h"
#include "bus.h"

struct adc_ops {
    const char *name;
    /* Block drivers of several channels: n frames into ch[k] for every wired k (NULL: read). */
    int (*read_frames)(struct adc *adc, double *const ch[ADC_CHANNELS], size_t n);
    /* Per-conversion drivers of several channels: one frame now (NULL: convert_pair). */
    int (*convert_frame)(struct adc *adc, double ret[ADC_CHANNELS]);
    /* Lag of channel ch behind the frame's first conversion (NULL: current_lag_s for the
       current channel of 1p2w, else 0). */
    double (*channel_lag_s)(const struct adc *adc, unsigned ch);
    /* Block drivers: n pairs continuing the stream, blocking until the last is due. */
    int (*read)(struct adc *adc, double *v_volts, double *i_amps, size_t n);
    /* Per-conversion drivers: one pair now; writes nothing on error. */
    int (*convert_pair)(struct adc *adc, double *ret_v_volts, double *ret_i_amps);
    double (*rate_hz)(const struct adc *adc);
    double (*current_lag_s)(const struct adc *adc); /* NULL: 0 */
    int (*attach_drdy)(struct adc *adc, struct gpio_line *drdy, char *err,
                       size_t errlen); /* NULL: none */
    /* Generators: the load behind the relay is connected or not (NULL: a real ADC, which
       measures whatever flows). Called from any thread. */
    void (*set_load_connected)(struct adc *adc, bool connected);
    void (*close)(struct adc *adc);
};

struct adc_channel_cal {
    double gain, offset;
};

struct adc {
    const struct adc_ops *ops;
    enum adc_wiring wiring;
    unsigned channel_mask;                  /* set by the driver; adc_base_init: 1p2w */
    struct adc_channel_cal cal[ADC_CHANNELS];
    struct timespec next_due; /* adc_read() pacing of per-conversion drivers; 0 = not started */
};

/* Sets ops, the wiring 1p2w (channels VA and IA) and the identity calibration. */
void adc_base_init(struct adc *adc, const struct adc_ops *ops);

/* Sets the wiring and the channels a driver delivers. */
void adc_base_set_wiring(struct adc *adc, enum adc_wiring w, unsigned channel_mask);

/*
 * A driver's constructor: params is the text after "name:" ("" when absent);
 * wiring the one meterd is configured for, or NULL (adc_open_wired()). Same
 * return contract as adc_open().
 */
typedef int adc_open_fn(const char *params, const char *wiring, struct adc **ret_adc, char *err,
                        size_t errlen);

adc_open_fn adc_sim_open;
adc_open_fn adc_mcp3208_open;
adc_open_fn adc_ads1115_open;

/* The hardware drivers on buses from a given provider (the unit tests pass fakes). */
int adc_mcp3208_open_on(const struct bus_provider *buses, const char *params, struct adc **ret_adc,
                        char *err, size_t errlen);
int adc_mcp3208_open_wired_on(const struct bus_provider *buses, const char *params,
                              const char *wiring, struct adc **ret_adc, char *err, size_t errlen);
int adc_ads1115_open_on(const struct bus_provider *buses, const char *params, struct adc **ret_adc,
                        char *err, size_t errlen);

#endif
