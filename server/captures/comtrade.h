/*
 * comtrade: waveform captures as IEEE C37.111-1999 (COMTRADE) ASCII files,
 * the format protection and power-quality tools open.
 *
 * Two files describe one capture: the .cfg (configuration: station, channels
 * and their scaling, line frequency, sample rate, time of the first sample
 * and of the trigger) and the .dat (one line per sample: number, time offset
 * in microseconds, one integer per analog channel). A single-phase capture
 * has channel 1 the voltage "V" in volts, channel 2 the current "I" in
 * amperes; a three-phase one has one channel per capture channel, in the
 * capture's order, named VA, VB, VC (or VAB, VBC, VCA), IA, IB, IC with the
 * phase (ph) a, b, c (ab, bc, ca) and unit V or A. Each is stored as an
 * integer x in -99998..99998 with value = a * x + b, where b is the middle
 * of the channel's range and a spreads the range over the integers, so the
 * quantisation step is a (range / 199996). Times are UTC (the 1999 revision
 * has no time zone field); the trigger is the first sample.
 *
 * Pure functions: they append to a dynbuf the caller owns and do no I/O.
 */
#ifndef SMARTMETER_COMTRADE_H
#define SMARTMETER_COMTRADE_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define COMTRADE_REVISION 1999
/*
 * ASCII values of the 1999 revision are integers of at most 6 characters (-99999..99999); we
 * stay one inside, so no sample ever equals the extreme some readers treat as missing data.
 */
#define COMTRADE_INT_MAX 99998

struct comtrade_meta {
    const char *station; /* station_name: the device id (no commas) */
    const char *device;  /* rec_dev_id: what recorded it (no commas) */
    double rate_hz;      /* samples per second per channel */
    double nominal_hz;   /* line frequency */
    int64_t start_ms;    /* wall-clock time of the first sample */
    int64_t trigger_ms;  /* trigger point; the first sample for captures on request */
};

/* The conversion factor a and offset b of a channel: value = a * x + b. */
struct comtrade_scale {
    double a, b;
};

/*
 * The scale comtrade_write_cfg/dat use for n samples (n >= 1). a and b are
 * exactly the numbers the .cfg shows, so a reader reproduces the values.
 */
void comtrade_scale_of(const float *x, size_t n, struct comtrade_scale *ret);

/* Analog channels a file may hold (a capture carries at most six). */
#define COMTRADE_CHANNELS_MAX 16

/* One analog channel: its identifier, phase, unit and n samples. */
struct comtrade_channel {
    const char *id;    /* ch_id: "V", "VA", "IB" (no commas) */
    const char *phase; /* ph: "", "a", "ab" (no commas) */
    const char *unit;  /* uu: "V" or "A" (no commas) */
    const float *x;
};

/*
 * Appends the .cfg of count channels (1..COMTRADE_CHANNELS_MAX) of n samples. Returns 0,
 * -EINVAL (n == 0, a bad count, a comma or line break in a name, bad rate), or the dynbuf's
 * error.
 */
int comtrade_write_cfg_channels(const struct comtrade_meta *m, const struct comtrade_channel *ch,
                                size_t count, size_t n, struct dynbuf *out);
/* Appends the .dat (ASCII, CR LF line ends). Returns 0, -EINVAL, or the dynbuf's error. */
int comtrade_write_dat_channels(const struct comtrade_meta *m, const struct comtrade_channel *ch,
                                size_t count, size_t n, struct dynbuf *out);

/* A single-phase capture: channel V (volts) then I (amperes), as the _channels forms. */
int comtrade_write_cfg(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out);
int comtrade_write_dat(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out);

#endif
