/*
 * adc: the meter's sampling front end, one driver per converter plus the
 * built-in signal generator "sim".
 *
 * A spec names the driver and its parameters: "sim[:key=value,...]",
 * "mcp3208:/dev/spidev0.0", "ads1115:/dev/i2c-1@0x48". Every driver delivers
 * simultaneous voltage and current sample pairs already scaled to volts and
 * amperes, at a fixed rate per channel. The struct is opaque; drivers
 * implement the ops table in adc_driver.h.
 *
 * Ownership: adc_open() returns a handle the caller releases with
 * adc_close() (which accepts NULL). Buffers passed to adc_read() stay the
 * caller's; the read path does not allocate.
 */
#ifndef SMARTMETER_ADC_H
#define SMARTMETER_ADC_H

#include <stddef.h>

struct adc;

#define ADC_ERR_LEN 256

/*
 * Opens the converter described by spec. Returns 0 and *ret_adc, or a
 * negative errno with a one-line message in err: -EINVAL for a malformed spec
 * or parameter, -ENOTSUP for a known driver this build does not have, -ENOENT
 * for an unknown driver, or whatever opening the device returned.
 */
int adc_open(const char *spec, struct adc **ret_adc, char *err, size_t errlen);

/*
 * Blocks until n sample pairs are available and writes them to v_volts[0..n)
 * and i_amps[0..n). Consecutive reads continue the same sample stream without
 * gaps. Returns 0 or a negative errno.
 */
int adc_read(struct adc *adc, double *v_volts, double *i_amps, size_t n);

/* Samples per second per channel. */
double adc_rate_hz(const struct adc *adc);

/* The driver's name ("sim", "mcp3208", ...), for logs. */
const char *adc_driver_name(const struct adc *adc);

void adc_close(struct adc *adc);

#endif
