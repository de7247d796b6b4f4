/*
 * adc: the meter's sampling front end, one driver per converter plus the
 * built-in signal generator "sim".
 *
 * A spec names the driver and its parameters: "sim[:key=value,...]",
 * "mcp3208:/dev/spidev0.0[:key=value,...]", "ads1115:/dev/i2c-1@0x48[:...]"
 * (keys in docs/calibration.md and meterd --help). Every driver delivers
 * voltage and current sample pairs already scaled to volts and amperes and
 * corrected by the calibration (adc_set_calibration), at a fixed rate per
 * channel. The struct is opaque; drivers implement the ops table in
 * adc_driver.h.
 *
 * Drivers come in two kinds. Block drivers (sim) produce a stream that is
 * read in blocks (adc_read_block); per-conversion drivers (mcp3208, ads1115)
 * convert one pair whenever asked (adc_convert_pair) and the caller keeps the
 * sample clock: the sampler (sampler.h) does either, counting what it misses.
 *
 * Ownership: adc_open() returns a handle the caller releases with
 * adc_close() (which accepts NULL). Buffers passed to the read functions stay
 * the caller's; the read paths do not allocate.
 */
#ifndef SMARTMETER_ADC_H
#define SMARTMETER_ADC_H

#include <stdbool.h>
#include <stddef.h>

struct adc;
struct gpio_line;

#define ADC_ERR_LEN 256

/*
 * Correction found by calibrating against a reference meter, applied to
 * every sample: v = v_gain * (v_nominal - v_offset_v), likewise for current.
 * Gains are factors near 1; offsets are in volts and amperes on the line
 * side, subtracted before the gain so that changing one does not move the
 * other. The nominal scaling from component values is part of the spec.
 */
struct adc_cal {
    double v_gain, v_offset_v;
    double i_gain, i_offset_a;
};

#define ADC_CAL_IDENTITY ((struct adc_cal){1.0, 0.0, 1.0, 0.0})

/*
 * Opens the converter described by spec. Returns 0 and *ret_adc, or a
 * negative errno with a one-line message in err: -EINVAL for a malformed spec
 * or parameter, -ENOENT for an unknown driver, or whatever opening or probing
 * the device returned (e.g. -ENOENT for a missing /dev node, -EIO when the
 * chip does not answer). The calibration starts as ADC_CAL_IDENTITY.
 */
int adc_open(const char *spec, struct adc **ret_adc, char *err, size_t errlen);

/* Returns 0, or -EINVAL for a gain that is not finite and positive or an offset that is not
 * finite. */
int adc_set_calibration(struct adc *adc, const struct adc_cal *cal);

/*
 * Blocks until n sample pairs are available and writes them to v_volts[0..n)
 * and i_amps[0..n). Consecutive reads continue the same sample stream; for
 * per-conversion drivers this paces conversions on CLOCK_MONOTONIC and, when
 * the caller falls behind by more than a sample period, restarts the clock
 * without counting the samples missed (use the sampler, which counts them).
 * Returns 0 or a negative errno.
 */
int adc_read(struct adc *adc, double *v_volts, double *i_amps, size_t n);

/* True for block drivers (adc_read_block), false for per-conversion ones (adc_convert_pair). */
bool adc_is_block_capable(const struct adc *adc);

/*
 * Block drivers: the next n pairs of the stream, blocking at most until the
 * last one is due. Returns 0, -ENOTSUP for a per-conversion driver, or -errno.
 */
int adc_read_block(struct adc *adc, float *v_volts, float *i_amps, size_t n);

/*
 * Per-conversion drivers: converts one voltage/current pair now. Returns 0,
 * -ENOTSUP for a block driver, or -errno from the bus (-EIO, -ETIMEDOUT,
 * -EREMOTEIO); nothing is written on error.
 */
int adc_convert_pair(struct adc *adc, float *ret_v_volts, float *ret_i_amps);

/* Samples per second per channel. */
double adc_rate_hz(const struct adc *adc);

/*
 * Seconds by which the current sample of a pair is taken after the voltage
 * sample (converters with one multiplexed input). The current then appears
 * to lead by 360 * f * lag degrees, which the analysis corrects:
 * phase_cal_deg = cal_phase_deg - 360 * nominal_hz * adc_current_lag_s().
 */
double adc_current_lag_s(const struct adc *adc);

/*
 * Lets the driver wait for conversions on a data-ready line (opened with
 * gpio_open_edge_input) instead of polling the chip. The line stays the
 * caller's and must outlive the adc. Returns 0, or -ENOTSUP with err saying
 * the chip has no such output.
 */
int adc_attach_drdy(struct adc *adc, struct gpio_line *drdy, char *err, size_t errlen);

/* The driver's name ("sim", "mcp3208", ...), for logs. */
const char *adc_driver_name(const struct adc *adc);

void adc_close(struct adc *adc);

#endif
