#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze.h"
#include "demand.h"
#include "fileutil.h"
#include "link_url.h"
#include "sign.h"
#include "telemetry.h"
#include "url.h"

#define OPT(field)       offsetof(struct meterd_options, field)
#define MQTT_DEFAULT_URL "tcp://127.0.0.1:1883"

const struct config_option meterd_option_table[] = {
    {"device_id", CONFIG_STRING, OPT(device_id), 0, 0, NULL, "ID",
     "this meter's id: 1..64 of A-Z a-z 0-9 _ . : - (required)"},
    {"mqtt", CONFIG_STRING, OPT(mqtt), 0, 0, NULL, "URL",
     "MQTT broker, tcp://HOST:PORT or ssl://HOST:PORT (default " MQTT_DEFAULT_URL
     " unless link is set)"},
    {"link", CONFIG_STRING, OPT(link), 0, 0, NULL, "URL",
     "the server's terminal gateway, tcp://HOST:PORT: the terminal link instead of MQTT "
     "(docs/terminal-protocol.md); needs secret_file, excludes mqtt and the mqtt_* options"},
    {"mqtt_username", CONFIG_STRING, OPT(mqtt_username), 0, 0, NULL, "NAME",
     "user name for the broker"},
    {"mqtt_password_file", CONFIG_STRING, OPT(mqtt_password_file), 0, 0, NULL, "FILE",
     "file holding the broker password (first line); never logged"},
    {"mqtt_cafile", CONFIG_STRING, OPT(mqtt_cafile), 0, 0, NULL, "FILE",
     "CA certificates (PEM) the ssl:// broker's certificate must chain to; the system's store "
     "when unset. The broker's name in the URL must match its certificate"},
    {"mqtt_certfile", CONFIG_STRING, OPT(mqtt_certfile), 0, 0, NULL, "FILE",
     "client certificate chain (PEM) for a broker that asks for one (with mqtt_keyfile)"},
    {"mqtt_keyfile", CONFIG_STRING, OPT(mqtt_keyfile), 0, 0, NULL, "FILE",
     "the client certificate's private key (PEM, unencrypted); mode 0600 or 0400, else "
     "meterd refuses to start"},
    {"secret_file", CONFIG_STRING, OPT(secret_file), 0, 0, NULL, "FILE",
     "the device secret 'meter-server device add' printed (first line; the file readable by "
     "its owner alone): the broker login (user name: the device id) and the key the server's "
     "acks and commands must be signed with; without it they are taken unchecked"},
    {"max_buffered", CONFIG_INT, OPT(max_buffered), 1, 1000000, "3600", "N",
     "superseded by the spool (spool_days, spool_mb); still accepted, ignored"},
    {"spool_days", CONFIG_DOUBLE, OPT(spool_days), 0.01, 3650, "30", "DAYS",
     "unacknowledged readings the on-disk spool holds, in days at one per interval; when "
     "full the oldest are dropped (with a warning)"},
    {"spool_mb", CONFIG_INT, OPT(spool_mb), 0, 1000000, "0", "MB",
     "the spool's size in MiB instead of spool_days (0: use spool_days)"},
    {"spool_sync", CONFIG_DOUBLE, OPT(spool_sync_s), 0, 60, "1", "SECONDS",
     "readings are fdatasync'ed at most this long after they were taken (0: each one); a "
     "power cut loses at most this much"},
    {"ack_timeout", CONFIG_DOUBLE, OPT(ack_timeout_s), 1, 3600, "30", "SECONDS",
     "readings the server has not acknowledged after this long are resent"},
    {"backlog_batch", CONFIG_INT, OPT(backlog_batch), 1, 1000, "100", "N",
     "readings per message (a JSON array) when resending the backlog"},
    {"backlog_rate", CONFIG_INT, OPT(backlog_rate), 1, 100000, "500", "N",
     "backlog readings resent per second at most; live readings are not limited"},
    {"max_inflight", CONFIG_INT, OPT(max_inflight), 1, 100000, "1000", "N",
     "readings sent and not yet acknowledged before the backlog waits"},
    {"adc", CONFIG_STRING, OPT(adc), 0, 0, "sim", "SPEC",
     "sampling front end: sim[:key=value,...], mcp3208:/dev/spidevB.C:key=value,..., "
     "ads1115:/dev/i2c-N@0xAA:key=value,... (see below)"},
    {"cal_v_gain", CONFIG_DOUBLE, OPT(cal_v_gain), 0.1, 10, "1", "FACTOR",
     "voltage correction from calibration: reference / measured (docs/calibration.md)"},
    {"cal_v_offset", CONFIG_DOUBLE, OPT(cal_v_offset), -1000, 1000, "0", "VOLTS",
     "voltage offset subtracted before cal_v_gain"},
    {"cal_i_gain", CONFIG_DOUBLE, OPT(cal_i_gain), 0.1, 10, "1", "FACTOR",
     "current correction from calibration: reference / measured"},
    {"cal_i_offset", CONFIG_DOUBLE, OPT(cal_i_offset), -1000, 1000, "0", "AMPS",
     "current offset subtracted before cal_i_gain"},
    {"cal_phase_deg", CONFIG_DOUBLE, OPT(cal_phase_deg), -45, 45, "0", "DEG",
     "current channel lag (e.g. a CT's phase error) the measurement removes, degrees at "
     "nominal_hz"},
    {"wiring", CONFIG_STRING, OPT(wiring), 0, 0, NULL, "WIRING",
     "1p2w (single phase, the default), 3p4w (three phases and neutral, star) or 3p3w (three "
     "wires, delta/Aron); unset: as the ADC spec says (sim's wiring=), else 1p2w. Channel maps "
     "and wiring diagrams: docs/meterd.md"},
    {"cal_va_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[0]), 0.1, 10, "1", "FACTOR",
     "channel va's gain trim, multiplying cal_v_gain (1p2w: v; 3p3w: vab, and vb is vbc, vc vca)"},
    {"cal_va_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[0]), -1000, 1000, "0", "VOLTS",
     "channel va's offset trim, added to cal_v_offset"},
    {"cal_va_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[0]), -45, 45, "0", "DEG",
     "channel va's lag (its transformer's phase error) removed, degrees at nominal_hz"},
    {"cal_vb_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[1]), 0.1, 10, "1", "FACTOR",
     "channel vb's gain trim, multiplying cal_v_gain"},
    {"cal_vb_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[1]), -1000, 1000, "0", "VOLTS",
     "channel vb's offset trim, added to cal_v_offset"},
    {"cal_vb_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[1]), -45, 45, "0", "DEG",
     "channel vb's lag (its transformer's phase error) removed, degrees at nominal_hz"},
    {"cal_vc_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[2]), 0.1, 10, "1", "FACTOR",
     "channel vc's gain trim, multiplying cal_v_gain"},
    {"cal_vc_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[2]), -1000, 1000, "0", "VOLTS",
     "channel vc's offset trim, added to cal_v_offset"},
    {"cal_vc_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[2]), -45, 45, "0", "DEG",
     "channel vc's lag (its transformer's phase error) removed, degrees at nominal_hz"},
    {"cal_ia_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[3]), 0.1, 10, "1", "FACTOR",
     "channel ia's gain trim, multiplying cal_i_gain"},
    {"cal_ia_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[3]), -1000, 1000, "0", "AMPS",
     "channel ia's offset trim, added to cal_i_offset"},
    {"cal_ia_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[3]), -45, 45, "0", "DEG",
     "channel ia's lag (its transformer's phase error) removed, degrees at nominal_hz, added to "
     "cal_phase_deg"},
    {"cal_ib_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[4]), 0.1, 10, "1", "FACTOR",
     "channel ib's gain trim, multiplying cal_i_gain"},
    {"cal_ib_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[4]), -1000, 1000, "0", "AMPS",
     "channel ib's offset trim, added to cal_i_offset"},
    {"cal_ib_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[4]), -45, 45, "0", "DEG",
     "channel ib's lag (its transformer's phase error) removed, degrees at nominal_hz, added to "
     "cal_phase_deg"},
    {"cal_ic_gain", CONFIG_DOUBLE, OPT(cal_ch_gain[5]), 0.1, 10, "1", "FACTOR",
     "channel ic's gain trim, multiplying cal_i_gain"},
    {"cal_ic_offset", CONFIG_DOUBLE, OPT(cal_ch_offset[5]), -1000, 1000, "0", "AMPS",
     "channel ic's offset trim, added to cal_i_offset"},
    {"cal_ic_phase_deg", CONFIG_DOUBLE, OPT(cal_ch_phase_deg[5]), -45, 45, "0", "DEG",
     "channel ic's lag (its transformer's phase error) removed, degrees at nominal_hz, added to "
     "cal_phase_deg"},
    {"demand_period_min", CONFIG_INT, OPT(demand_period_min), 5, 60, "15", "MINUTES",
     "maximum demand period: 5, 15, 30 or 60; demand_w slides by the minute"},
    {"timezone", CONFIG_STRING, OPT(timezone), 0, 0, NULL, "ZONE",
     "IANA time zone (e.g. Asia/Shanghai) of the demand blocks and the month whose maximum "
     "demand is kept; unset: the system's"},
    {"relay_gpio", CONFIG_STRING, OPT(relay_gpio), 0, 0, NULL, "CHIP:LINE",
     "load relay output, e.g. gpiochip0:17 (none when unset)"},
    {"relay_active_low", CONFIG_BOOL, OPT(relay_active_low), 0, 0, "false", "true|false",
     "the relay closes when its line is driven low"},
    {"led_gpio", CONFIG_STRING, OPT(led_gpio), 0, 0, NULL, "CHIP:LINE",
     "status LED output, e.g. gpiochip0:27 (none when unset)"},
    {"drdy_gpio", CONFIG_STRING, OPT(drdy_gpio), 0, 0, NULL, "CHIP:LINE",
     "ADC data-ready input (the ADS1115's ALERT/RDY), falling edges; polled when unset"},
    {"clock_set", CONFIG_BOOL, OPT(clock_set), 0, 0, "false", "true|false",
     "a server's sync_clock command slews or steps the system clock (needs CAP_SYS_TIME); "
     "false: the offset is only reported, NTP keeps the clock"},
    {"interval", CONFIG_DOUBLE, OPT(interval_s), 0.1, 3600, "1", "SECONDS",
     "measurement interval: one reading is published per interval"},
    {"nominal_hz", CONFIG_DOUBLE, OPT(nominal_hz), 40, 70, "50", "HZ",
     "nominal mains frequency (50 or 60)"},
    {"state_dir", CONFIG_STRING, OPT(state_dir), 0, 0, "./var", "DIR",
     "where meterd-<ID>.state (seq, boot, energy counters) and the spool meterd-<ID>.spool/ "
     "are kept; created if missing"},
    {"log_level", CONFIG_STRING, OPT(log_level), 0, 0, "info", "LEVEL",
     "error, warn, info or debug"},
    {NULL, CONFIG_STRING, 0, 0, 0, NULL, NULL, NULL},
};

int meterd_options_parse(struct meterd_options *o, int argc, char **argv, int first, char *err,
                         size_t errlen)
{
    char cerr[CONFIG_ERR_LEN];
    int r;

    memset(o, 0, sizeof(*o));
    if ((r = config_defaults(meterd_option_table, o, cerr)) ||
        (r = config_parse_args(meterd_option_table, o, argc, argv, first, cerr))) {
        snprintf(err, errlen, "%s", cerr);
        return r;
    }
    if (!o->device_id) {
        snprintf(err, errlen, "--device-id is required (or device_id in the config file)");
        return -EINVAL;
    }
    if (!device_id_valid(o->device_id)) {
        snprintf(err, errlen, "--device-id '%s': must be 1..%d characters of A-Z a-z 0-9 _ . : -",
                 o->device_id, DEVICE_ID_MAX);
        return -EINVAL;
    }
    char uerr[256];
    if (o->link) {
        /* The terminal link: the secret is its only credential, MQTT's settings do not apply. */
        struct link_addr la;
        if ((r = link_url_parse(o->link, &la, uerr, sizeof(uerr))) != 0) {
            snprintf(err, errlen, "--link: %s", uerr);
            return r;
        }
        if (o->mqtt || o->mqtt_username || o->mqtt_password_file || o->mqtt_cafile ||
            o->mqtt_certfile || o->mqtt_keyfile) {
            snprintf(err, errlen, "--link excludes --mqtt and the --mqtt-* options");
            return -EINVAL;
        }
        if (!o->secret_file) {
            snprintf(err, errlen, "--link needs --secret-file (the secret its handshake proves)");
            return -EINVAL;
        }
    } else if (!o->mqtt && !(o->mqtt = strdup(MQTT_DEFAULT_URL))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (o->mqtt) {
        struct url u;
        r = url_parse_mqtt(o->mqtt, &u, uerr, sizeof(uerr));
        url_clear(&u);
        if (r) {
            snprintf(err, errlen, "--mqtt: %s", uerr);
            return r;
        }
    }
    if (log_level_parse(o->log_level, &o->level)) {
        snprintf(err, errlen, "--log-level '%s': must be error, warn, info or debug", o->log_level);
        return -EINVAL;
    }
    if (o->state_dir[0] == '\0') {
        snprintf(err, errlen, "--state-dir must not be empty");
        return -EINVAL;
    }
    if (o->wiring && strcmp(o->wiring, "1p2w") && strcmp(o->wiring, "3p4w") &&
        strcmp(o->wiring, "3p3w")) {
        snprintf(err, errlen, "--wiring '%s': must be 1p2w, 3p4w or 3p3w", o->wiring);
        return -EINVAL;
    }
    if (!demand_period_valid((unsigned)o->demand_period_min)) {
        snprintf(err, errlen, "--demand-period-min %lld: must be 5, 15, 30 or 60",
                 (long long)o->demand_period_min);
        return -EINVAL;
    }
    if (o->secret_file && (o->mqtt_username || o->mqtt_password_file)) {
        snprintf(err, errlen,
                 "--secret-file gives the broker login (the device id and a password derived "
                 "from the secret): leave out --mqtt-username and --mqtt-password-file");
        return -EINVAL;
    }
    return 0;
}

int meterd_read_device_secret(const char *path, char **ret, char *err, size_t errlen)
{
    char buf[SIGN_SECRET_MAX + 2];
    struct stat st;
    size_t len = 0;
    int r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        snprintf(err, errlen, "--secret-file %s: %s", path, strerror(-r));
        return r;
    }
    /* The mode of the file that was opened, not of whatever the path names later. */
    if (fstat(fd, &st)) {
        r = -errno;
        snprintf(err, errlen, "--secret-file %s: %s", path, strerror(-r));
    } else if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        snprintf(err, errlen, "--secret-file %s: not a regular file", path);
    } else if (st.st_mode & 077) {
        r = -EPERM;
        snprintf(err, errlen,
                 "--secret-file %s: others may access it (mode %04o); it must be readable by "
                 "its owner alone: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
    }
    while (!r && len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            snprintf(err, errlen, "--secret-file %s: %s", path, strerror(-r));
        }
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    size_t n = 0;
    while (n < len && buf[n] != '\n' && buf[n] != '\r')
        n++;
    if (!r && n == 0) {
        r = -EINVAL;
        snprintf(err, errlen, "--secret-file %s: the first line is empty", path);
    } else if (!r && (n > SIGN_SECRET_MAX || memchr(buf, '\0', n))) {
        r = -EINVAL;
        snprintf(err, errlen, "--secret-file %s: the first line is not a device secret", path);
    }
    char *secret = r ? NULL : strndup(buf, n);
    explicit_bzero(buf, sizeof(buf));
    if (!r && !secret) {
        r = -ENOMEM;
        snprintf(err, errlen, "out of memory");
    }
    if (!r)
        *ret = secret;
    return r;
}

int meterd_read_secret_file(const char *path, char **ret, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int r = file_read_all(path, 1024, &data, &len);
    if (r) {
        snprintf(err, errlen, "--mqtt-password-file %s: %s", path,
                 r == -E2BIG ? "larger than 1024 bytes" : strerror(-r));
        return r;
    }
    size_t n = strcspn(data, "\r\n");
    if (n == 0) {
        snprintf(err, errlen, "--mqtt-password-file %s: the first line is empty", path);
        explicit_bzero(data, len);
        free(data);
        return -EINVAL;
    }
    explicit_bzero(data + n, len - n);
    data[n] = '\0';
    *ret = data;
    return 0;
}

void meterd_options_free(struct meterd_options *o)
{
    config_free(meterd_option_table, o);
}

void meterd_print_help(FILE *out)
{
    fprintf(out, "Usage: meterd [--config FILE] --device-id ID\n"
                 "              [--mqtt URL | --link tcp://HOST:PORT] [--secret-file FILE]\n"
                 "              [--adc SPEC] [--interval SECONDS] [--state-dir DIR] [options]\n"
                 "       meterd analyze --rate HZ [--nominal 50] < samples.csv\n"
                 "\n"
                 "Samples voltage and current, measures power and energy every interval and\n"
                 "publishes each reading to meters/<ID>/telemetry (QoS 1), with a retained\n"
                 "status on meters/<ID>/status; with --link, sends the same readings over one\n"
                 "TCP connection to the server's terminal gateway instead (no broker). Every\n"
                 "option can also be written in the config file as \"name value\" (e.g.\n"
                 "\"device_id m1\"); flags override the file.\n"
                 "\n"
                 "Options:\n");
    config_print_help(meterd_option_table, out);
    fprintf(out, "  --help                         show this help and exit\n"
                 "\n"
                 "ADC spec 'sim' (built-in signal generator), keys separated by commas:\n"
                 "  rate=HZ       samples/s per channel, 100..204800 (6400)\n"
                 "  freq=HZ       fundamental frequency (50)\n"
                 "  v=VOLTS       fundamental RMS voltage (230)\n"
                 "  i=AMPS        fundamental RMS current (10)\n"
                 "  phase=DEG     current lags voltage by DEG; negative leads (0)\n"
                 "  hN=PCT        harmonic N (2..50) at PCT %% of the fundamental, both channels\n"
                 "  vhN=PCT ihN=PCT  the same on the voltage or current channel only\n"
                 "  noise=PCT     white noise, RMS in %% of full scale (0)\n"
                 "  vfs=V ifs=A   full scale (peak) where samples clip (1.25*sqrt(2)*v, *i)\n"
                 "  seed=N        noise seed (1)\n"
                 "  realtime=0|1  pace to wall time (1) or run as fast as possible (0)\n"
                 "  example: --adc sim:v=230,i=12,phase=30,h3=5,h5=3,noise=0.1\n"
                 "  Three phases (the keys above apply to every phase):\n"
                 "  wiring=W      1p2w (1), 3p4w (va vb vc ia ib ic) or 3p3w (vab vbc vca,\n"
                 "                ia ib ic)\n"
                 "  va= vb= vc=   one phase's RMS voltage to neutral (v)\n"
                 "  ia= ib= ic=   one phase's RMS current (i)\n"
                 "  phasea= phaseb= phasec=  one phase's current lag in degrees (phase)\n"
                 "  angleb= anglec=  phase b's and c's voltage angle to a's (-120, 120: abc)\n"
                 "  u2=PCT        negative-sequence voltage, %% of v (0..50; unbalance)\n"
                 "  hNa= vhNb= ihNc=  harmonic N on one phase only\n"
                 "  example: --adc sim:wiring=3p4w,v=230,i=10,ib=12,ic=8,vc=220,h5=3\n"
                 "\n"
                 "ADC spec 'mcp3208:/dev/spidevB.C' (MCP3208 on SPI), keys:\n"
                 "  vscale=K iscale=K  line volts / amperes per volt at the converter input\n"
                 "                (required; from the divider, CT ratio and burden)\n"
                 "  vbias=V ibias=V  input voltage for zero on the line (vref/2)\n"
                 "  vch=N ich=N   input channels 0..7 (0 and 1)\n"
                 "  vref=V        reference voltage (3.3)\n"
                 "  rate=HZ       sample pairs per second, 100..12800 (6400)\n"
                 "  speed_hz=HZ   SPI clock, 10000..2000000 (2000000; 1 MHz at 2.7 V)\n"
                 "  mode=0|3      SPI mode (0)\n"
                 "  va= vb= vc= ia= ib= ic=  three phases: the input of each channel, or -\n"
                 "                for not wired (va 0, ia 1, vb 2, ib 3, vc 4, ic 5); 3p3w\n"
                 "                also as vab= vbc= vca=\n"
                 "  example: --adc mcp3208:/dev/spidev0.0:vscale=301,iscale=60.6\n"
                 "ADC spec 'ads1115:/dev/i2c-N@0xAA' (ADS1115 on I2C, 0x48..0x4b), keys:\n"
                 "  vscale=K iscale=K  as above (required)\n"
                 "  mux=diff|single  AIN0-AIN1 and AIN2-AIN3, or AIN0 and AIN1 (diff)\n"
                 "  vbias=V ibias=V  input voltage for zero on the line (0; 1.65 single)\n"
                 "  pga=V         full scale 6.144 4.096 2.048 1.024 0.512 0.256 (4.096)\n"
                 "  rate=HZ       sample pairs per second, 1..430 (250): enough for RMS,\n"
                 "                power, PF and frequency, not for harmonics above rate/2\n"
                 "  example: --adc ads1115:/dev/i2c-1@0x48:vscale=281,iscale=111,pga=2.048\n"
                 "  (single phase only: too slow for three)\n"
                 "Calibration and wiring: docs/calibration.md.\n"
                 "\n");
    analyze_print_help(out);
    fprintf(out, "\nExit status: 0 on success, 1 on a runtime failure, 2 on bad input.\n");
}
