/*
 * options: meterd's settings. One table drives the config file
 * (/etc/smartmeter/meterd.conf, mosquitto.conf style), the --flags and
 * --help, so every option lives in both places with the same bounds.
 *
 * Strings are heap copies owned by struct meterd_options; release them with
 * meterd_options_free().
 */
#ifndef SMARTMETER_METER_OPTIONS_H
#define SMARTMETER_METER_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

struct meterd_options {
    char *device_id;
    char *mqtt; /* NULL with link */
    char *link; /* the terminal gateway, tcp://HOST:PORT; NULL: MQTT */
    char *adc;
    double interval_s;
    char *state_dir;
    double nominal_hz;
    char *log_level;
    int64_t max_buffered; /* superseded by the spool: accepted so old files load, unused */
    /* The spool (docs/meterd.md "Spool"): its size in days of readings, or in MB when
     * spool_mb > 0; how often it is synced; the resend policy. */
    double spool_days;
    int64_t spool_mb;
    double spool_sync_s;
    double ack_timeout_s;
    int64_t backlog_batch, backlog_rate, max_inflight;
    char *mqtt_username;
    char *mqtt_password_file;
    char *mqtt_cafile;
    char *mqtt_certfile, *mqtt_keyfile; /* a client certificate for ssl:// */
    char *secret_file; /* the device secret: broker login and the key acks and commands carry */
    /* Calibration against a reference meter (docs/calibration.md): the ADC applies
     * v = cal_v_gain * (v_nominal - cal_v_offset), likewise for current; cal_phase_deg is
     * the current channel's lag the analysis removes. */
    double cal_v_gain, cal_v_offset, cal_i_gain, cal_i_offset, cal_phase_deg;
    /* Per channel, in hal/adc.h's order (va vb vc ia ib ic; for 3p3w vab vbc vca): a trim on
     * top of the above. A channel's gain is cal_v_gain * cal_va_gain (or the current's),
     * its offset cal_v_offset + cal_va_offset, its phase correction cal_va_phase_deg
     * (currents: cal_phase_deg + cal_ia_phase_deg). */
    double cal_ch_gain[6], cal_ch_offset[6], cal_ch_phase_deg[6];
    /* How the meter is wired: "1p2w", "3p4w", "3p3w"; NULL: as the ADC spec says (sim's
     * wiring=), else 1p2w. */
    char *wiring;
    /* Maximum demand: the period in minutes (5, 15, 30, 60) and the time zone its blocks and
     * months follow (NULL: the system's). */
    int64_t demand_period_min;
    char *timezone;
    /* GPIO lines as "CHIP:LINE"; NULL when not fitted. */
    char *relay_gpio, *led_gpio, *drdy_gpio;
    bool relay_active_low;
    bool clock_set;       /* sync_clock sets the system clock (meter/clocksync.h) */
    enum log_level level; /* parsed from log_level */
};

extern const struct config_option meterd_option_table[];

/*
 * Applies defaults, then the config file and flags in argv[first..argc), and
 * checks what the table alone cannot (device id present and valid, MQTT URL,
 * log level). Returns 0, or -errno with one line in err naming the problem.
 * On error *o may hold partial values; free it anyway.
 */
int meterd_options_parse(struct meterd_options *o, int argc, char **argv, int first, char *err,
                         size_t errlen);

void meterd_options_free(struct meterd_options *o);

/*
 * Reads a secret from the first line of path (at most 1 KiB, trailing CR/LF
 * removed, must not be empty) into a heap string the caller wipes and frees.
 * Returns 0 or -errno with err naming the file, never the secret.
 */
int meterd_read_secret_file(const char *path, char **ret, char *err, size_t errlen);

/*
 * Reads the device secret from the first line of path (1..SIGN_SECRET_MAX
 * bytes, trailing CR/LF removed) into a heap string the caller wipes and
 * frees. The file must be a regular file no one but its owner may read or
 * write (mode 0600 or 0400): -EPERM otherwise. Returns 0 or -errno with err
 * naming the file and what is wrong, never the secret.
 */
int meterd_read_device_secret(const char *path, char **ret, char *err, size_t errlen);

void meterd_print_help(FILE *out);

#endif
