/*
 * adc_params: the "key=value,..." part of the hardware drivers' specs, with
 * messages that name the driver, the key and the accepted range.
 * Internal to hal/.
 */
#ifndef SMARTMETER_ADC_PARAMS_H
#define SMARTMETER_ADC_PARAMS_H

#include <stddef.h>

#define ADC_PARAM_ITEM_MAX 96

/* Called once per item; returns 0 or -EINVAL (with err set through adc_param_fail). */
typedef int adc_param_fn(void *ctx, const char *key, const char *val, char *err, size_t errlen);

/* Splits list at commas and calls fn for each key=value. driver names the messages. */
int adc_params_each(const char *driver, const char *list, adc_param_fn *fn, void *ctx, char *err,
                    size_t errlen);

/* Writes "--adc DRIVER: <message>" to err and returns -EINVAL. */
int adc_param_fail(char *err, size_t errlen, const char *driver, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int adc_param_double(const char *driver, const char *key, const char *val, double min, double max,
                     double *ret, char *err, size_t errlen);
int adc_param_uint(const char *driver, const char *key, const char *val, unsigned long min,
                   unsigned long max, unsigned long *ret, char *err, size_t errlen);

#endif
