/*
 * adc_driver: what an ADC driver implements. Only hal/ files include this.
 *
 * A driver embeds struct adc as the first member of its own state and sets
 * ops; adc.c dispatches through the table and looks drivers up by name.
 */
#ifndef SMARTMETER_ADC_DRIVER_H
#define SMARTMETER_ADC_DRIVER_H

#include <stddef.h>

#include "adc.h"

struct adc_ops {
    const char *name;
    int (*read)(struct adc *adc, double *v_volts, double *i_amps, size_t n);
    double (*rate_hz)(const struct adc *adc);
    void (*close)(struct adc *adc);
};

struct adc {
    const struct adc_ops *ops;
};

/*
 * A driver's constructor: params is the text after "name:" ("" when absent).
 * Same return contract as adc_open().
 */
typedef int adc_open_fn(const char *params, struct adc **ret_adc, char *err, size_t errlen);

adc_open_fn adc_sim_open;

#endif
