/*
 * adc_sim: the built-in signal generator behind "--adc sim[:key=value,...]".
 *
 * It produces what an ADC on a single-phase line would sample: a voltage and
 * a current sine at the fundamental, optional harmonics, white noise and
 * clipping at full scale. Current harmonic h lags voltage harmonic h by the
 * same angle as the fundamental, so with equal harmonic content on both
 * channels the power factor is exactly cos(phase).
 *
 * Keys (all optional):
 *   rate=HZ      samples per second per channel, integer 100..204800 (6400)
 *   freq=HZ      fundamental frequency, 1..1000 (50)
 *   v=VOLTS      fundamental RMS voltage, 0..1000000 (230)
 *   i=AMPS       fundamental RMS current, 0..100000 (10)
 *   phase=DEG    current lags voltage by DEG, -180..180; negative leads (0)
 *   hN=PCT       harmonic N (2..50) at PCT % of the fundamental on both channels
 *   vhN=PCT, ihN=PCT   the same on the voltage or the current channel only
 *   noise=PCT    Gaussian white noise with an RMS of PCT % of full scale, 0..100 (0)
 *   vfs=VOLTS, ifs=AMPS  full scale (peak) where samples clip
 *                (1.25 * sqrt(2) * v, resp. i)
 *   seed=N       noise generator seed, so runs repeat exactly (1)
 *   realtime=0|1 1: a read returns when its last sample would have been
 *                taken (paced on CLOCK_MONOTONIC); 0: as fast as possible (1)
 */
#ifndef SMARTMETER_ADC_SIM_H
#define SMARTMETER_ADC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_HARMONIC_MAX 50

struct adc_sim_params {
    uint32_t rate_hz;
    double freq_hz;
    double v_rms, i_rms;
    double phase_deg;
    double vh_pct[SIM_HARMONIC_MAX + 1]; /* index = harmonic order; 0 and 1 unused */
    double ih_pct[SIM_HARMONIC_MAX + 1];
    double noise_pct;
    double vfs_v, ifs_a; /* peak full scale, resolved from v and i when not given */
    uint64_t seed;
    bool realtime;
};

/*
 * Parses the text after "sim:" ("" for all defaults) into *ret. Returns 0, or
 * -EINVAL with a message naming the bad key or value in err.
 */
int adc_sim_parse(const char *params, struct adc_sim_params *ret, char *err, size_t errlen);

#endif
