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
 *   v=VOLTS      fundamental RMS voltage, 0..1000000 (230); three-phase: of every phase
 *                to neutral
 *   i=AMPS       fundamental RMS current, 0..100000 (10); three-phase: of every phase
 *   phase=DEG    current lags voltage by DEG, -180..180; negative leads (0)
 *   hN=PCT       harmonic N (2..50) at PCT % of the fundamental on both channels
 *   vhN=PCT, ihN=PCT   the same on the voltage or the current channel only
 *   noise=PCT    Gaussian white noise with an RMS of PCT % of full scale, 0..100 (0)
 *   vfs=VOLTS, ifs=AMPS  full scale (peak) where samples clip
 *                (1.25 * sqrt(2) * the largest channel's RMS)
 *   seed=N       noise generator seed, so runs repeat exactly (1)
 *   realtime=0|1 1: a read returns when its last sample would have been
 *                taken (paced on CLOCK_MONOTONIC); 0: as fast as possible (1)
 *
 * Three phases (wiring=3p4w or 3p3w): a star source of three phase voltages
 * feeding three line currents. Every key above applies to each phase; these
 * set one phase apart:
 *   wiring=W     1p2w (default), 3p4w (channels va vb vc ia ib ic) or 3p3w
 *                (vab vbc vca ia ib ic: the line-to-line differences of the
 *                star voltages; the currents lose their zero-sequence part,
 *                which no neutral carries)
 *   va=, vb=, vc=VOLTS   RMS phase-to-neutral voltage of one phase (v)
 *   ia=, ib=, ic=AMPS    RMS current of one phase (i)
 *   phasea=, phaseb=, phasec=DEG  current lag of one phase (phase)
 *   angleb=DEG, anglec=DEG  voltage angle of phase b and c relative to a,
 *                -180..180 (-120 and 120: the order abc; swap them for acb)
 *   u2=PCT       a negative-sequence voltage of PCT % of v added to the three
 *                phases (0..50): voltage unbalance with all amplitudes equal
 *   hNa=PCT, vhNb=PCT, ihNc=PCT  harmonic N on one phase only (overrides hN)
 *   Harmonic N of phase p is at N times p's angle, so the 5th runs in the
 *   negative and the 3rd in the zero sequence, as on a real network.
 * Example: sim:wiring=3p4w,v=230,i=10,ib=12,ic=8,vc=220,phase=20,h5=3
 */
#ifndef SMARTMETER_ADC_SIM_H
#define SMARTMETER_ADC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adc.h"

#define SIM_HARMONIC_MAX 50

#define SIM_PHASES 3

struct adc_sim_params {
    uint32_t rate_hz;
    double freq_hz;
    double v_rms, i_rms;
    double phase_deg;
    double vh_pct[SIM_HARMONIC_MAX + 1]; /* index = harmonic order; 0 and 1 unused */
    double ih_pct[SIM_HARMONIC_MAX + 1];
    /* Three phases (the single-phase generator uses phase a's, which are the above). */
    enum adc_wiring wiring;
    bool wiring_given;
    double v_ph[SIM_PHASES], i_ph[SIM_PHASES], phase_ph_deg[SIM_PHASES];
    double angle_deg[SIM_PHASES]; /* voltage angle relative to phase a: 0, -120, 120 */
    double u2_pct;
    double vh_ph[SIM_PHASES][SIM_HARMONIC_MAX + 1]; /* resolved per phase */
    double ih_ph[SIM_PHASES][SIM_HARMONIC_MAX + 1];
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
