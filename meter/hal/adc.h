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
 * Wiring and channels. A driver delivers frames: the samples of every wired
 * channel taken at one sample instant (back to back on a multiplexed
 * converter). Channels are named by their logical role, in the order
 * common/pq3.h uses:
 *
 *   channel   0    1    2    3   4   5
 *   1p2w      v    -    -    i   -   -
 *   3p4w      va   vb   vc   ia  ib  ic   (phase-to-neutral volts, line amperes)
 *   3p3w      vab  vbc  vca  ia  ib  ic   (line-to-line volts; Aron wires two of each)
 *
 * Which converter input carries which channel is the driver's channel map
 * (docs/meterd.md "Wiring").
 */
#define ADC_CHANNELS 6
enum adc_channel { ADC_CH_VA, ADC_CH_VB, ADC_CH_VC, ADC_CH_IA, ADC_CH_IB, ADC_CH_IC };
#define ADC_CH_BIT(ch) (1u << (ch))
#define ADC_CH_IS_VOLTAGE(ch) ((ch) < ADC_CH_IA)

enum adc_wiring { ADC_WIRING_1P2W, ADC_WIRING_3P4W, ADC_WIRING_3P3W };

/* "1p2w", "3p4w", "3p3w"; parse returns 0 or -EINVAL. */
const char *adc_wiring_name(enum adc_wiring w);
int adc_wiring_parse(const char *s, enum adc_wiring *ret);
/* The channel's name under a wiring ("v", "va", "vab", "ia", ...). */
const char *adc_channel_name(enum adc_wiring w, unsigned ch);

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

/*
 * Like adc_open(), with the wiring the meter is configured for (meterd's
 * option `wiring`): the driver sets up its channel map for it, or refuses
 * with -EINVAL and a message (e.g. a converter with too few inputs). NULL
 * means the spec decides (sim's key wiring=), else 1p2w. A spec naming
 * another wiring than a non-NULL one is refused.
 */
int adc_open_wired(const char *spec, const char *wiring, struct adc **ret_adc, char *err,
                   size_t errlen);

/* The wiring the driver delivers. */
enum adc_wiring adc_get_wiring(const struct adc *adc);
/* The channels it delivers, ADC_CH_BIT()s (1p2w: VA and IA). */
unsigned adc_channel_mask(const struct adc *adc);

/*
 * Block drivers: the next n frames. ch[k] receives channel k's n samples for
 * every channel in adc_channel_mask(); the other entries are not used and may
 * be NULL. Returns 0, -ENOTSUP for a per-conversion driver, or -errno.
 */
int adc_read_frames(struct adc *adc, float *const ch[ADC_CHANNELS], size_t n);

/*
 * Per-conversion drivers: converts one frame now into ret[k] for every
 * channel in the mask. Returns as adc_convert_pair(); nothing is written on
 * error.
 */
int adc_convert_frame(struct adc *adc, float ret[ADC_CHANNELS]);

/*
 * Seconds by which channel ch is taken after the frame's first conversion
 * (0 for simultaneous sampling). The analysis corrects it as a phase shift
 * of 360 * f * lag degrees, like the V-I lag of a single-phase meter.
 */
double adc_channel_lag_s(const struct adc *adc, unsigned ch);

/*
 * Calibration of one channel: sample = gain * (nominal - offset), offset in
 * volts or amperes. Returns 0, or -EINVAL for ch out of range, a gain that is
 * not finite and positive or an offset that is not finite.
 */
int adc_set_channel_calibration(struct adc *adc, unsigned ch, double gain, double offset);

/* Sets the voltage calibration on every voltage channel and the current one on every current
 * channel. Returns 0, or -EINVAL for a gain that is not finite and positive or an offset that
 * is not finite. */
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

/*
 * Tells a generator (the sim) whether the load behind the load relay is
 * connected: while it is not, no current flows. A real ADC ignores this: it
 * measures what flows. Any thread; does not block.
 */
void adc_set_load_connected(struct adc *adc, bool connected);

void adc_close(struct adc *adc);

#endif
