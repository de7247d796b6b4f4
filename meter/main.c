/*
 * meterd: samples voltage and current, measures power and energy every
 * interval, persists its counters and publishes each reading over MQTT.
 * "meterd analyze" analyses a captured waveform offline.
 *
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on a runtime
 * failure, 2 on bad input (options, config file, URL, ADC spec).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "dsp.h"
#include "hal/adc.h"
#include "log.h"
#include "measure.h"
#include "options.h"
#include "publisher.h"
#include "state.h"
#include "timeutil.h"

/* Samples are read in blocks of about this long, so a stop request is seen promptly. */
#define BLOCK_S         0.1
#define STOP_TIMEOUT_MS 3000

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return -errno;
    sa.sa_handler = SIG_IGN; /* a broken broker socket must not kill the meter */
    return sigaction(SIGPIPE, &sa, NULL) ? -errno : 0;
}

struct meter {
    struct adc *adc;
    struct publisher *pub;
    struct meter_state st;
    char state_path[4096];
    struct dsp_accum acc;
    double *v, *i;
    size_t block;
};

/* Reads and measures until a stop is requested. Returns 0 or -errno. */
static int run_loop(struct meter *m, uint64_t interval_samples, double interval_s)
{
    uint64_t have = 0;

    while (!stop_requested) {
        size_t want =
            interval_samples - have < m->block ? (size_t)(interval_samples - have) : m->block;
        int r = adc_read(m->adc, m->v, m->i, want);
        if (r) {
            log_error("reading the ADC failed: %s", strerror(-r));
            return r;
        }
        dsp_accum_add(&m->acc, m->v, m->i, want);
        have += want;
        if (have < interval_samples)
            continue;
        have = 0;

        struct dsp_result res;
        struct reading rd;
        if (dsp_accum_result(&m->acc, &res))
            continue;
        dsp_accum_reset_interval(&m->acc);
        measure_close_interval(&m->st, &res, interval_s, time_now_ms(), &rd);
        /* Persist before publishing: a seq that left the meter is never handed out again. */
        r = meter_state_save(m->state_path, &m->st);
        if (r) {
            log_error("cannot persist %s: %s; reading seq %llu withheld", m->state_path,
                      strerror(-r), (unsigned long long)rd.seq);
            continue;
        }
        publisher_send_reading(m->pub, &rd);
        log_debug("seq %llu: %.2f V %.3f A %.1f W pf %.3f %.3f Hz", (unsigned long long)rd.seq,
                  res.vrms, res.irms, res.p_w, res.pf, res.freq_hz);
    }
    return 0;
}

static int run(const struct meterd_options *o)
{
    struct meter m = {0};
    char err[METER_STATE_ERR_LEN];
    char *password = NULL;
    bool fresh = false;
    int status = 1;

    if (adc_open(o->adc, &m.adc, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        return 2;
    }
    if (o->mqtt_password_file &&
        meterd_read_secret_file(o->mqtt_password_file, &password, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        status = 2;
        goto out;
    }
    double rate = adc_rate_hz(m.adc);
    uint64_t interval_samples = (uint64_t)llround(o->interval_s * rate);
    double interval_s = (double)interval_samples / rate; /* exact, for the energy integral */
    if (fabs(interval_s - o->interval_s) > 1e-9)
        log_warn("interval %g s is not a whole number of samples at %g Hz; using %.6f s",
                 o->interval_s, rate, interval_s);

    if (meter_state_open(o->state_dir, o->device_id, &m.st, m.state_path, sizeof(m.state_path),
                         &fresh, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    log_info("device %s boot %u, last seq %llu (%s), energy %lld mWh in / %lld mWh out",
             o->device_id, (unsigned)m.st.boot, (unsigned long long)m.st.seq,
             fresh ? "new state file" : m.state_path, (long long)m.st.energy_import_mwh,
             (long long)m.st.energy_export_mwh);

    struct publisher_config pc = {
        .url = o->mqtt,
        .device_id = o->device_id,
        .username = o->mqtt_username,
        .password = password,
        .cafile = o->mqtt_cafile,
        .max_buffered = (int)o->max_buffered,
        .boot = m.st.boot,
    };
    m.block = (size_t)ceil(rate * BLOCK_S);
    m.v = malloc(m.block * sizeof(double));
    m.i = malloc(m.block * sizeof(double));
    if (!m.v || !m.i) {
        log_error("out of memory");
        goto out;
    }
    if (install_signals()) {
        log_error("cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    if (publisher_new(&pc, &m.pub, err, sizeof(err)) || publisher_start(m.pub, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    dsp_accum_init(&m.acc, rate, o->nominal_hz);
    log_info("sampling with %s at %g Hz, one reading every %g s", adc_driver_name(m.adc), rate,
             interval_s);

    int r = run_loop(&m, interval_samples, interval_s);
    log_info("stopping");
    int undelivered = publisher_stop(m.pub, STOP_TIMEOUT_MS);
    if (undelivered > 0)
        log_warn("%d messages were not delivered before the stop", undelivered);
    if (meter_state_save(m.state_path, &m.st)) {
        log_error("cannot persist %s at stop", m.state_path);
    } else {
        status = r ? 1 : 0;
        log_info("stopped at seq %llu", (unsigned long long)m.st.seq);
    }
out:
    publisher_free(m.pub);
    adc_close(m.adc);
    free(m.v);
    free(m.i);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return status;
}

int main(int argc, char **argv)
{
    struct meterd_options o;
    char err[512];

    log_set_program("meterd");
    if (argc > 1 && strcmp(argv[1], "analyze") == 0)
        return analyze_main(argc, argv, 2);
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            meterd_print_help(stdout);
            return 0;
        }
    }
    if (meterd_options_parse(&o, argc, argv, 1, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        meterd_options_free(&o);
        return 2;
    }
    log_set_level(o.level);
    int status = run(&o);
    meterd_options_free(&o);
    return status;
}
