/*
 * meterd: samples voltage and current, measures power quality and energy,
 * persists its counters and publishes each reading over MQTT, or over the
 * terminal link with --link (transport.h: the main loop sees one interface);
 * obeys commands (waveform capture, the relay). "meterd analyze" analyses a
 * captured waveform offline.
 *
 * Threads: the sampler thread fills the sample ring at the ADC's rate; the
 * main thread takes samples from the ring, runs the analysis, closes an
 * interval every `interval` seconds of samples (the reading goes to the
 * spool, the state file, then out live), runs queued commands and acks, and
 * resends the backlog; the transport's thread (paho's, or the link's)
 * delivers commands and acks into queues.
 * All file I/O is on the main thread: the sampler never waits for a disk.
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
#include <time.h>
#include <unistd.h>

#include "ack_queue.h"
#include "analyze.h"
#include "clocksync.h"
#include "commands.h"
#include "demand.h"
#include "fileutil.h"
#include "forward.h"
#include "hal/adc.h"
#include "hal/gpio.h"
#include "interval.h"
#include "log.h"
#include "measure.h"
#include "options.h"
#include "pq.h"
#include "pq3.h"
#include "link_transport.h"
#include "relay.h"
#include "ring.h"
#include "sampler.h"
#include "service.h"
#include "sign.h"
#include "sitetime.h"
#include "spool.h"
#include "state.h"
#include "timeutil.h"
#include "tlsopt.h"
#include "transport_mqtt.h"

#define BLOCK_S      0.05 /* samples taken from the ring at a time */
#define RING_SECONDS 12   /* >= 10 s of captures plus the ring's 1 s of slack */
/* Three phases: six channels of 12 s would be 1.8 MB, past what the meter may use (RSS under
   8 MB with its libraries); 7 s hold captures of up to 6 s. */
#define RING3_SECONDS   7
#define POP_TIMEOUT_MS  200
#define STOP_TIMEOUT_MS 3000
#define COMMAND_QUEUE   8
#define ACK_QUEUE       16
#define SPOOL_SEGMENT   16384 /* records per segment file: about 9.1 MB */
#define REPORT_MS       60000 /* the counters' log line */
#define ERROR_LOG_MS    60000 /* a repeating spool error is logged this often */

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
    const struct meterd_options *o;
    struct adc *adc;
    struct gpio_line *drdy, *relay, *led;
    struct sample_ring *ring;
    struct sampler *sampler;
    struct pq_analyzer *pq;
    struct pq_interval iv;
    struct transport tr; /* MQTT or the terminal link */
    struct command_queue *commands;
    struct command_env env;
    struct relay_state relay_st; /* the load relay as last commanded, persisted (relay.h) */
    /* Remote operations: the interval a server set (interval.h), when meterd started, and the
       operations answered (so a resend is answered again, not run again). */
    struct interval_state interval_st;
    int64_t started_ms;
    double rate_hz;
    struct command_memory *memory;
    struct ack_queue *acks;
    struct ack_msg ack_scratch;
    struct spool *spool;
    struct forward *fwd;
    int64_t report_ms, spool_error_ms, refused_log_ms;
    uint64_t refused_logged; /* commands refused as of the last log line about them */
    struct meter_state st;
    char state_path[4096];
    int lock_fd; /* flock on <state-dir>/<id>.lock, or -1 */
    float *v, *i;
    size_t block;
    uint64_t interval_samples, have;
    uint64_t dropped_logged;
    /* Three phases (wiring 3p4w or 3p3w): the analysis, the demand and the captures. The ring
       holds the ADC's channels in adc.h's order; ch[k] is ring channel k's block buffer and
       pq_ch[] the same buffers by pq3 channel (NULL where not wired). */
    bool three;
    enum adc_wiring wiring;
    unsigned nch;
    struct pq3_analyzer *pq3;
    struct pq3_interval iv3;
    float *ch[ADC_CHANNELS];
    const float *pq_ch[PQ3_CHANNELS];
    struct demand demand;
    struct capture_layout layout;
    struct meter_service *svc; /* readiness and the watchdog under systemd (service.h) */
};

_Static_assert(PQ3_CHANNELS == ADC_CHANNELS && (int)PQ3_CH_VA == (int)ADC_CH_VA &&
                   (int)PQ3_CH_VB == (int)ADC_CH_VB && (int)PQ3_CH_VC == (int)ADC_CH_VC &&
                   (int)PQ3_CH_IA == (int)ADC_CH_IA && (int)PQ3_CH_IB == (int)ADC_CH_IB &&
                   (int)PQ3_CH_IC == (int)ADC_CH_IC && (int)PQ3_1P2W == (int)ADC_WIRING_1P2W &&
                   (int)PQ3_3P4W == (int)ADC_WIRING_3P4W && (int)PQ3_3P3W == (int)ADC_WIRING_3P3W,
               "the ADC's channels and wirings are the analysis'");

static void on_window(const struct pq_window *w, void *ctx)
{
    pq_interval_add(&((struct meter *)ctx)->iv, w);
}

static void on_window3(const struct pq3_window *w, void *ctx)
{
    pq3_interval_add(&((struct meter *)ctx)->iv3, w);
}

static int capture_snapshot(void *ctx, size_t n, float *v, float *i, int64_t *ret_first_ms)
{
    return ring_snapshot(((struct meter *)ctx)->ring, n, v, i, ret_first_ms);
}

/* The capture layout lists the wired channels in adc.h's order, as the ring holds them. */
static int capture_snapshot_set(void *ctx, size_t n, float *const x[], int64_t *ret_first_ms)
{
    return ring_snapshot_frames(((struct meter *)ctx)->ring, n, x, ret_first_ms);
}

static int command_send(void *ctx, enum topic_leaf leaf, const void *payload, size_t len)
{
    return transport_send(&((struct meter *)ctx)->tr, leaf, payload, len);
}

static int send_readings(void *ctx, const struct reading *r, size_t n, bool as_array)
{
    return transport_send_readings(&((struct meter *)ctx)->tr, r, n, as_array);
}

static void log_counters(struct meter *m, const char *when)
{
    struct spool_stats ss;
    struct forward_stats fs;
    uint64_t bad_acks, dropped_acks;
    spool_get_stats(m->spool, &ss);
    forward_get_stats(m->fwd, &fs);
    ack_queue_counts(m->acks, &bad_acks, &dropped_acks);
    log_info("spool%s: depth %llu, spooled %llu, acked %llu, live %llu, resent %llu, inflight "
             "%llu, dropped_full %llu, rejected %llu, bad_acks %llu, refused_acks %llu, corrupt "
             "%llu, %llu bytes in %u segments",
             when, (unsigned long long)ss.depth, (unsigned long long)ss.spooled,
             (unsigned long long)ss.acked, (unsigned long long)fs.live,
             (unsigned long long)fs.resent, (unsigned long long)fs.inflight,
             (unsigned long long)ss.dropped_full, (unsigned long long)fs.rejected,
             (unsigned long long)bad_acks, (unsigned long long)ack_queue_refused(m->acks),
             (unsigned long long)ss.corrupt, (unsigned long long)ss.bytes, (unsigned)ss.segments);
}

/* The spool's side of the main loop: link state, acks, resends, sync, counters. */
static void run_spool(struct meter *m)
{
    int64_t now = time_now_ms();
    forward_link(m->fwd, transport_connected(&m->tr), transport_generation(&m->tr), now);
    while (ack_queue_pop(m->acks, &m->ack_scratch))
        forward_ack(m->fwd, &m->ack_scratch, now);
    forward_tick(m->fwd, now);
    int r = spool_sync(m->spool, now, false);
    if (r && now - m->spool_error_ms >= ERROR_LOG_MS) {
        log_error("spool: cannot sync: %s", strerror(-r));
        m->spool_error_ms = now;
    }
    if (now - m->report_ms >= REPORT_MS) {
        log_counters(m, "");
        m->report_ms = now;
    }
}

/* Commands refused unanswered (command_queue_handler), logged at most once a minute. */
static void log_refused_commands(struct meter *m)
{
    uint64_t bad_signature, replayed;
    command_queue_refused(m->commands, &bad_signature, &replayed);
    int64_t now = time_now_ms();
    if (bad_signature + replayed == m->refused_logged || now - m->refused_log_ms < ERROR_LOG_MS)
        return;
    log_warn("commands refused unanswered: %llu without the server's signature, %llu replayed "
             "(since the start)",
             (unsigned long long)bad_signature, (unsigned long long)replayed);
    m->refused_logged = bad_signature + replayed;
    m->refused_log_ms = now;
}

/* relay_apply's switch: the line (when there is one) and the simulated load. */
static int relay_switch(void *ctx, bool on)
{
    struct meter *m = ctx;
    adc_set_load_connected(m->adc, on);
    return m->relay ? gpio_set(m->relay, on) : 0;
}

/* command_env.relay: applies the command, then the reply says ok or why not. */
static int relay_command(void *ctx, const struct command *c, char *why, size_t whylen)
{
    struct meter *m = ctx;
    enum relay_outcome outcome;
    int r = relay_apply(&m->relay_st, c, relay_switch, m, &outcome);
    if (r) {
        snprintf(why, whylen, "cannot switch the relay: %s", strerror(-r));
        return r;
    }
    if (outcome == RELAY_SUPERSEDED) {
        snprintf(why, whylen, "superseded by a newer relay command");
        return -ESTALE;
    }
    if (outcome == RELAY_SWITCHED)
        log_info("relay %s (command %s)", m->relay_st.on ? "on" : "off", c->id);
    return 0;
}

#ifndef SMARTMETER_VERSION
#define SMARTMETER_VERSION "dev"
#endif

/* command_env.status: read_status's answer from the meter's own state. */
static int status_command(void *ctx, int64_t now_ms, struct command_status *ret)
{
    struct meter *m = ctx;
    struct sampler_stats ss;
    struct spool_stats sp;
    sampler_stats(m->sampler, &ss);
    spool_get_stats(m->spool, &sp);
    *ret = (struct command_status){
        .uptime_s = (now_ms - m->started_ms) / 1000,
        .version = SMARTMETER_VERSION,
        .adc = adc_driver_name(m->adc),
        .adc_ok = ss.running && ss.last_error == 0,
        .adc_samples = ss.samples,
        .adc_read_errors = ss.read_errors,
        .overruns = ss.overruns,
        .samples_dropped = ss.dropped,
        .rate_hz = m->rate_hz,
        .interval_s = (double)m->interval_samples / m->rate_hz,
        .seq = m->st.seq,
        .boot = m->st.boot,
        .spool_depth = sp.depth,
        .relay = m->relay_st.on ? 1 : 0, /* the relay as commanded (the sim's load follows it) */
        /* the meter's uplink: "mqtt", or "tcp" for the terminal link */
        .link = strcmp(m->tr.ops->name, "mqtt") == 0 ? "mqtt" : "tcp",
        .link_up = transport_connected(&m->tr),
    };
    return 0;
}

/* Samples per reading for an interval of interval_ms at the ADC's rate (at least one). */
static uint64_t samples_per_interval(double rate_hz, uint32_t interval_ms)
{
    uint64_t n = (uint64_t)llround((double)interval_ms * rate_hz / 1000.0);
    return n ? n : 1;
}

/* command_env.set_interval: saved in the state directory first, then used from the next reading. */
static int interval_command(void *ctx, const struct command *c, struct command_interval_result *ret,
                            char *why, size_t whylen)
{
    struct meter *m = ctx;
    uint32_t previous = (uint32_t)llround((double)m->interval_samples * 1000.0 / m->rate_hz);
    enum interval_outcome outcome;
    int r = interval_apply(&m->interval_st, c, &outcome);
    if (r) {
        snprintf(why, whylen, "cannot save the interval: %s", strerror(-r));
        return r;
    }
    m->interval_samples = samples_per_interval(m->rate_hz, m->interval_st.interval_ms);
    if (outcome == INTERVAL_APPLIED)
        log_info("one reading every %g s from now on (command %s)",
                 m->interval_st.interval_ms / 1000.0, c->id);
    *ret = (struct command_interval_result){
        .interval_ms = m->interval_st.interval_ms, .previous_ms = previous, .persisted = true};
    return 0;
}

/* command_env.sync_clock: the offset, and the clock set when clock_set allows (clocksync.h). */
static int clock_command(void *ctx, const struct command *c, int64_t now_ms,
                         struct command_clock_result *ret, char *why, size_t whylen)
{
    struct meter *m = ctx;
    int r = clocksync_apply(&clocksync_system, m->o->clock_set, c, now_ms, ret, why, whylen);
    if (!r)
        log_info("clock offset %lld ms from the server's: %s (command %s)",
                 (long long)ret->offset_ms, ret->action, c->id);
    return r;
}

static void run_commands(struct meter *m)
{
    struct command cmd;
    log_refused_commands(m);
    while (command_queue_pop(m->commands, &cmd)) {
        char why[COMMAND_MESSAGE_MAX];
        if (command_run(&cmd, &m->env, time_now_ms(), why, sizeof(why)))
            log_warn("command %s (%s) not done: %s", cmd.id[0] ? cmd.id : "-",
                     cmd.name[0] ? cmd.name : "?", why);
    }
}

/* The local clock's offset from UTC at ms (the meter's time zone). */
static int64_t utc_offset_ms(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int64_t)tm.tm_gmtoff * 1000;
}

/* Three phases: the interval's reading, with the maximum demand, kept in the state. */
static int three_phase_reading(struct meter *m, int64_t now, struct reading *rd)
{
    if (pq3_interval_finish(&m->iv3))
        return -ENODATA;
    double net_wh = m->iv3.import_wh - m->iv3.export_wh;
    int64_t duration_ms = llround(m->iv3.duration_s * 1000.0);
    measure_close_pq3_interval(&m->st, &m->iv3, now, rd);
    demand_add(&m->demand, now, duration_ms, net_wh, sitetime_month_start(now), utc_offset_ms(now));
    measure_set_demand(rd, &m->demand);
    if (m->demand.has_max) {
        m->st.demand_max_mw = llround(m->demand.max_w * 1000.0);
        m->st.demand_max_ts_ms = m->demand.max_ts_ms;
        m->st.demand_month_ms = m->demand.month_start_ms;
    } else {
        m->st.demand_max_mw = m->st.demand_max_ts_ms = m->st.demand_month_ms = 0;
    }
    pq3_interval_reset(&m->iv3);
    return 0;
}

/* Ends an interval: one reading, persisted, then published. */
static void close_interval(struct meter *m)
{
    struct reading rd;
    int64_t now = time_now_ms();
    if (m->three) {
        if (three_phase_reading(m, now, &rd))
            return; /* no complete window yet (interval shorter than 10 cycles): keep going */
    } else if (pq_interval_finish(&m->iv)) {
        return;
    }

    struct sampler_stats ss;
    sampler_stats(m->sampler, &ss);
    if (ss.dropped > m->dropped_logged) {
        log_warn("%llu samples dropped in this interval (%llu overruns, %llu read errors so far)",
                 (unsigned long long)(ss.dropped - m->dropped_logged),
                 (unsigned long long)ss.overruns, (unsigned long long)ss.read_errors);
        m->dropped_logged = ss.dropped;
    }

    if (!m->three) {
        measure_close_pq_interval(&m->st, &m->iv, now, &rd);
        pq_interval_reset(&m->iv);
    }
    reading_set_counter(&rd, RC_SAMPLES_DROPPED, (int64_t)ss.dropped);
    reading_set_label(&rd, RL_RELAY, m->relay_st.on ? "on" : "off");
    /* Spool first (a kill -9 at any instant after this loses nothing: a restart rolls the
       state forward over a spooled reading), then persist the counters, then publish: a seq
       that left the meter is durable in the state file and never handed out again. */
    now = time_now_ms();
    int r = spool_append(m->spool, &rd, now);
    if (r && now - m->spool_error_ms >= ERROR_LOG_MS) {
        log_error("spool: reading seq %llu not spooled: %s; it is only sent live",
                  (unsigned long long)rd.seq, strerror(-r));
        m->spool_error_ms = now;
    }
    r = meter_state_save(m->state_path, &m->st);
    if (r) {
        log_error("cannot persist %s: %s; reading seq %llu withheld until the next connection",
                  m->state_path, strerror(-r), (unsigned long long)rd.seq);
        return;
    }
    forward_live(m->fwd, &rd, now);
    /* A heartbeat an installer can see while the load is supplied; lit steadily while the
       relay holds it off. */
    if (m->led)
        gpio_set(m->led, m->relay_st.on ? (rd.seq & 1) : true);
    log_debug("seq %llu: %.2f V %.3f A %.1f W pf %.4f", (unsigned long long)rd.seq,
              rd.real[RR_VOLTAGE], rd.real[RR_CURRENT], rd.real[RR_POWER_W], rd.real[RR_PF]);
}

static void raise_to(int64_t *counter, const struct reading *r, enum reading_counter c)
{
    if (reading_has_counter(r, c) && r->counter[c] > *counter)
        *counter = r->counter[c];
}

/* Takes the state's counters up to those of a reading it missed. */
static void roll_forward(struct meter_state *st, const struct reading *r)
{
    raise_to(&st->energy_import_mwh, r, RC_ENERGY_IMPORT);
    raise_to(&st->energy_export_mwh, r, RC_ENERGY_EXPORT);
    raise_to(&st->reactive_import_mvarh, r, RC_REACTIVE_IMPORT);
    raise_to(&st->reactive_export_mvarh, r, RC_REACTIVE_EXPORT);
    raise_to(&st->energy_import_phase_mwh[0], r, RC_ENERGY_IMPORT_A);
    raise_to(&st->energy_import_phase_mwh[1], r, RC_ENERGY_IMPORT_B);
    raise_to(&st->energy_import_phase_mwh[2], r, RC_ENERGY_IMPORT_C);
}

/* Opens <state-dir>/meterd-<id>.spool; returns 0 or -errno with err set. */
static int open_spool(struct meter *m, char *err, size_t errlen)
{
    const struct meterd_options *o = m->o;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/meterd-%s.spool", o->state_dir, o->device_id) >=
        (int)sizeof(dir)) {
        snprintf(err, errlen, "--state-dir: path too long");
        return -ENAMETOOLONG;
    }
    /* spool_days counts readings at the interval in force (a server's set_interval included). */
    double interval_s = (double)m->interval_samples / m->rate_hz;
    double records = o->spool_mb > 0 ? (double)o->spool_mb * 1048576.0 / SPOOL_RECORD_SIZE
                                     : o->spool_days * 86400.0 / interval_s;
    struct spool_config sc = {
        .dir = dir,
        .max_records = records < 1 ? 1 : (uint64_t)ceil(records),
        .records_per_segment = SPOOL_SEGMENT,
        .sync_interval_ms = (int64_t)llround(o->spool_sync_s * 1000.0),
    };
    if (sc.max_records < SPOOL_SEGMENT)
        sc.records_per_segment = sc.max_records < 2 ? 2 : (uint32_t)sc.max_records;
    int r = spool_open(&sc, &m->spool, err, errlen);
    if (r)
        return r;
    /* A reading is spooled just before the state is saved: after a kill in between, the
       spool's newest reading is ahead of the state, which rolls forward over it (seq and energy
       counters), so no seq is reused and no counter goes backwards. */
    uint64_t newest = spool_newest_seq(m->spool);
    if (newest > m->st.seq) {
        struct reading last;
        if (spool_last(m->spool, &last) == 0 && last.seq == newest) {
            roll_forward(&m->st, &last);
            log_info("state rolled forward to the spooled reading seq %llu",
                     (unsigned long long)newest);
        } else {
            log_warn("the spool holds seq %llu, above the state's %llu: continuing from it",
                     (unsigned long long)newest, (unsigned long long)m->st.seq);
        }
        m->st.seq = newest;
        r = meter_state_save(m->state_path, &m->st);
        if (r) {
            snprintf(err, errlen, "cannot persist the state file: %s", strerror(-r));
            return r;
        }
    }
    struct spool_stats ss;
    spool_get_stats(m->spool, &ss);
    log_info("spool %s: %llu unacknowledged readings (watermark seq %llu), room for %llu", dir,
             (unsigned long long)ss.depth, (unsigned long long)ss.watermark,
             (unsigned long long)sc.max_records);
    return 0;
}

/* Measures until a stop is requested. Returns 0, or -errno when sampling failed for good. */
static int run_loop(struct meter *m)
{
    while (!stop_requested) {
        meter_service_beat(m->svc);
        bool gap = false;
        size_t n = m->three ? ring_pop_frames(m->ring, m->ch, m->block, POP_TIMEOUT_MS, &gap)
                            : ring_pop(m->ring, m->v, m->i, m->block, POP_TIMEOUT_MS, &gap);
        run_commands(m);
        run_spool(m);
        if (n == 0) {
            struct sampler_stats ss;
            sampler_stats(m->sampler, &ss);
            if (!ss.running) {
                log_error("sampling stopped: %s", strerror(-ss.last_error));
                return ss.last_error ? ss.last_error : -EIO;
            }
            continue;
        }
        if (m->three) {
            if (gap)
                pq3_analyzer_reset(m->pq3);
            pq3_analyzer_feed(m->pq3, m->pq_ch, n, on_window3, m);
        } else {
            if (gap)
                pq_analyzer_reset(m->pq); /* a window must not span missing samples */
            pq_analyzer_feed(m->pq, m->v, m->i, n, on_window, m);
        }
        m->have += n;
        if (m->have >= m->interval_samples) {
            m->have -= m->interval_samples;
            close_interval(m);
        }
    }
    return 0;
}

/* Opens the optional GPIO lines. Returns 0 or exit status 2 (bad spec) / 1. */
static int open_gpio(struct meter *m, char *err, size_t errlen)
{
    const struct meterd_options *o = m->o;
    if (o->drdy_gpio) {
        if (gpio_open_edge_input(&gpio_backend_gpiod, o->drdy_gpio, "meterd-drdy", &m->drdy, err,
                                 errlen) ||
            adc_attach_drdy(m->adc, m->drdy, err, errlen))
            return 1;
    }
    /* Driven straight to the persisted state: a meter cut off stays off through a power cut. */
    if (o->relay_gpio && gpio_open_output(&gpio_backend_gpiod, o->relay_gpio, o->relay_active_low,
                                          m->relay_st.on, "meterd-relay", &m->relay, err, errlen))
        return 1;
    if (o->led_gpio && gpio_open_output(&gpio_backend_gpiod, o->led_gpio, false, true, "meterd-led",
                                        &m->led, err, errlen))
        return 1;
    return 0;
}

/*
 * With --secret-file: the broker password, the key of the server's
 * signatures (common/wire/sign.h) and the secret's hash H the terminal
 * link's handshake uses, the secret itself wiped at once. Returns 0, or 2
 * after saying why.
 */
static int read_credentials(const struct meterd_options *o, char **ret_password,
                            struct sign_key *ret_key, uint8_t ret_hash[SIGN_HASH_LEN])
{
    char err[512];
    char *secret = NULL;
    if (meterd_read_device_secret(o->secret_file, &secret, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        return 2;
    }
    uint8_t h[SIGN_HASH_LEN];
    char pw[SIGN_PASSWORD_HEX + 1];
    sign_secret_hash(secret, strlen(secret), h);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    sign_broker_password(h, pw);
    sign_key_derive(h, ret_key);
    memcpy(ret_hash, h, SIGN_HASH_LEN);
    explicit_bzero(h, sizeof(h));
    *ret_password = strdup(pw);
    explicit_bzero(pw, sizeof(pw));
    if (!*ret_password) {
        fprintf(stderr, "meterd: out of memory\n");
        return 2;
    }
    return 0;
}

/* Only the server's signed acks and commands are taken; without a key, a warning says so. */
static int require_signatures(struct meter *m, const struct sign_key *key)
{
    char ack_topic[TOPIC_MAX], cmd_topic[TOPIC_MAX];
    if (!key) {
        log_warn("no --secret-file: acks and commands are taken without checking that the "
                 "server sent them (see docs/security.md)");
        return 0;
    }
    if (topic_build(ack_topic, m->o->device_id, TOPIC_ACK) ||
        topic_build(cmd_topic, m->o->device_id, TOPIC_CMD))
        return -EINVAL;
    ack_queue_require_signature(m->acks, key, ack_topic);
    command_queue_require_signature(m->commands, key, cmd_topic);
    return 0;
}

/*
 * Three phases: each channel's phase correction (its transformer's lag from
 * the calibration, less the lag at which the ADC reads it in the frame), the
 * analysis and the capture layout. Returns 0, or -errno after logging why.
 */
static int setup_three_phase(struct meter *m, double rate)
{
    const struct meterd_options *o = m->o;
    unsigned mask = adc_channel_mask(m->adc);
    struct pq3_config pc = {.rate_hz = rate,
                            .nominal_hz = o->nominal_hz,
                            .wiring = (enum pq3_wiring)m->wiring,
                            .channel_mask = mask};
    m->layout = (struct capture_layout){
        .wiring = m->wiring == ADC_WIRING_3P4W ? CAPTURE_WIRING_3P4W : CAPTURE_WIRING_3P3W};
    static const enum capture_channel cap_ch[2][ADC_CHANNELS] = {
        {CAPTURE_CH_VA, CAPTURE_CH_VB, CAPTURE_CH_VC, CAPTURE_CH_IA, CAPTURE_CH_IB, CAPTURE_CH_IC},
        {CAPTURE_CH_VAB, CAPTURE_CH_VBC, CAPTURE_CH_VCA, CAPTURE_CH_IA, CAPTURE_CH_IB,
         CAPTURE_CH_IC}};
    m->nch = 0;
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        if (!(mask & ADC_CH_BIT(c)))
            continue;
        double cal = o->cal_ch_phase_deg[c] + (ADC_CH_IS_VOLTAGE(c) ? 0 : o->cal_phase_deg);
        pc.phase_cal_deg[c] = cal - 360.0 * o->nominal_hz * adc_channel_lag_s(m->adc, c);
        m->layout.ch[m->nch] = cap_ch[m->wiring == ADC_WIRING_3P3W][c];
        m->layout.cal_deg[m->nch] = pc.phase_cal_deg[c];
        m->nch++;
    }
    m->layout.count = m->nch;
    int r = pq3_analyzer_new(&pc, &m->pq3);
    if (r) {
        log_error("cannot set up the three-phase analysis (rate %g Hz, wiring %s, channels "
                  "0x%02x): %s",
                  rate, adc_wiring_name(m->wiring), mask, strerror(-r));
        return r;
    }
    if (!capture_layout_valid(&m->layout))
        log_warn("waveform captures of this wiring cannot be encoded (channels 0x%02x); "
                 "capture commands will be answered with an error",
                 mask);
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        if (mask & ADC_CH_BIT(c))
            log_info("channel %s: phase correction %.4f deg", adc_channel_name(m->wiring, c),
                     pc.phase_cal_deg[c]);
    }
    return 0;
}

static int run(const struct meterd_options *o)
{
    struct meter m = {.o = o, .lock_fd = -1};
    char err[512];
    char *password = NULL;
    struct sign_key key;
    uint8_t secret_hash[SIGN_HASH_LEN] = {0};
    bool fresh = false;
    int status = 1;

    memset(&key, 0, sizeof(key));
    if (sign_init()) {
        fprintf(stderr, "meterd: cannot initialise libsodium\n");
        return 1;
    }
    if (o->secret_file && (status = read_credentials(o, &password, &key, secret_hash)) != 0)
        return status;
    status = 1;

    if (o->timezone && sitetime_set_zone(o->timezone, err, sizeof(err))) {
        fprintf(stderr, "meterd: --timezone: %s\n", err);
        return 2;
    }
    if (adc_open_wired(o->adc, o->wiring, &m.adc, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        return 2;
    }
    m.wiring = adc_get_wiring(m.adc);
    m.three = m.wiring != ADC_WIRING_1P2W;
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        bool volts = ADC_CH_IS_VOLTAGE(c);
        double gain = (volts ? o->cal_v_gain : o->cal_i_gain) * o->cal_ch_gain[c];
        double offset = (volts ? o->cal_v_offset : o->cal_i_offset) + o->cal_ch_offset[c];
        if (adc_set_channel_calibration(m.adc, c, gain, offset)) {
            fprintf(stderr, "meterd: calibration rejected by the ADC driver\n");
            status = 2;
            goto out;
        }
    }
    if (!o->secret_file && o->mqtt_password_file &&
        meterd_read_secret_file(o->mqtt_password_file, &password, err, sizeof(err))) {
        fprintf(stderr, "meterd: %s\n", err);
        status = 2;
        goto out;
    }
    /* The broker link's files, before the first handshake. */
    struct tlsopt_mqtt tf = {o->mqtt_cafile, o->mqtt_certfile, o->mqtt_keyfile};
    int tr = o->mqtt ? tlsopt_check_mqtt(o->mqtt, &tf, err, sizeof(err)) : 0;
    if (tr < 0) {
        fprintf(stderr, "meterd: %s\n", err);
        status = 2;
        goto out;
    } else if (tr > 0) {
        log_warn("%s", err);
    }
    if (relay_load(o->state_dir, o->device_id, &m.relay_st, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    adc_set_load_connected(m.adc, m.relay_st.on);
    if (!m.relay_st.on)
        log_info("relay off, as last commanded");
    if (open_gpio(&m, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }

    double rate = adc_rate_hz(m.adc);
    m.rate_hz = rate;
    m.started_ms = time_now_ms();
    m.interval_samples = (uint64_t)llround(o->interval_s * rate);
    if (m.interval_samples == 0)
        m.interval_samples = 1;
    /* A server's set_interval outlives restarts: it wins over --interval until its file goes. */
    if (interval_load(o->state_dir, o->device_id, &m.interval_st, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    if (m.interval_st.present) {
        m.interval_samples = samples_per_interval(rate, m.interval_st.interval_ms);
        log_info("one reading every %g s, as the server set it (%s; --interval is %g s)",
                 m.interval_st.interval_ms / 1000.0, m.interval_st.path, o->interval_s);
    }
    /* The ADS1115 converts V and I one after the other: that lag is corrected with the CT's. */
    double phase_cal = o->cal_phase_deg - 360.0 * o->nominal_hz * adc_current_lag_s(m.adc);
    int r = 0;
    if (m.three) {
        r = setup_three_phase(&m, rate);
    } else {
        struct pq_config pc = {
            .rate_hz = rate, .nominal_hz = o->nominal_hz, .phase_cal_deg = phase_cal};
        r = pq_analyzer_new(&pc, &m.pq);
        if (r)
            log_error("cannot set up the analysis (rate %g Hz, phase correction %g deg): %s", rate,
                      phase_cal, strerror(-r));
    }
    if (r)
        goto out;
    m.block = (size_t)ceil(rate * BLOCK_S);
    if (!m.three) {
        m.v = malloc(m.block * sizeof(float));
        m.i = malloc(m.block * sizeof(float));
        r = m.v && m.i ? 0 : -ENOMEM;
    }
    for (unsigned k = 0; m.three && k < m.nch && !r; k++) {
        m.ch[k] = malloc(m.block * sizeof(float));
        r = m.ch[k] ? 0 : -ENOMEM;
    }
    double ring_s = m.three ? RING3_SECONDS : RING_SECONDS;
    if (r || ring_new_channels((size_t)ceil(rate * ring_s), rate, m.three ? m.nch : 2, &m.ring) ||
        command_queue_new(COMMAND_QUEUE, &m.commands) || ack_queue_new(ACK_QUEUE, &m.acks) ||
        command_memory_new(&m.memory)) {
        log_error("out of memory");
        goto out;
    }
    for (unsigned c = 0, k = 0; m.three && c < ADC_CHANNELS; c++) {
        if (adc_channel_mask(m.adc) & ADC_CH_BIT(c))
            m.pq_ch[c] = m.ch[k++];
    }
    pq_interval_reset(&m.iv);
    pq3_interval_reset(&m.iv3);
    demand_init(&m.demand, (unsigned)o->demand_period_min);

    /* One meterd per device and state directory: two would hand out the same seqs. */
    char lock_path[4096];
    int r2 = file_mkdirs(o->state_dir, 0700);
    if (r2 == 0 && snprintf(lock_path, sizeof(lock_path), "%s/%s.lock", o->state_dir,
                            o->device_id) >= (int)sizeof(lock_path))
        r2 = -ENAMETOOLONG;
    if (r2 == 0) {
        m.lock_fd = file_lock_exclusive(lock_path);
        r2 = m.lock_fd < 0 ? m.lock_fd : 0;
    }
    if (r2 == -EWOULDBLOCK) {
        log_error("another meterd is running for device %s with state dir %s", o->device_id,
                  o->state_dir);
        goto out;
    } else if (r2) {
        log_error("cannot lock the state of device %s in %s: %s", o->device_id, o->state_dir,
                  strerror(-r2));
        goto out;
    }
    if (meter_state_open(o->state_dir, o->device_id, &m.st, m.state_path, sizeof(m.state_path),
                         &fresh, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    if (err[0])
        log_warn("%s", err);
    if (open_spool(&m, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    if (strcmp(m.st.wiring, adc_wiring_name(m.wiring)) != 0) {
        if (!fresh)
            log_warn("the wiring changed from %s to %s: the energy counters carry on", m.st.wiring,
                     adc_wiring_name(m.wiring));
        snprintf(m.st.wiring, sizeof(m.st.wiring), "%s", adc_wiring_name(m.wiring));
        if (meter_state_save(m.state_path, &m.st)) {
            log_error("cannot persist %s", m.state_path);
            goto out;
        }
    }
    if (m.st.demand_max_ts_ms)
        demand_restore_max(&m.demand, (double)m.st.demand_max_mw / 1000.0, m.st.demand_max_ts_ms,
                           m.st.demand_month_ms);
    log_info("device %s boot %u, last seq %llu (%s), energy %lld mWh in / %lld mWh out",
             o->device_id, (unsigned)m.st.boot, (unsigned long long)m.st.seq,
             fresh ? "new state file" : m.state_path, (long long)m.st.energy_import_mwh,
             (long long)m.st.energy_export_mwh);

    struct publisher_config pub = {
        .url = o->mqtt,
        .device_id = o->device_id,
        .username = o->secret_file ? o->device_id : o->mqtt_username,
        .password = password,
        .cafile = o->mqtt_cafile,
        .certfile = o->mqtt_certfile,
        .keyfile = o->mqtt_keyfile,
        .boot = m.st.boot,
    };
    if (install_signals()) {
        log_error("cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    if (meter_service_start(&m.svc)) {
        log_error("cannot start the watchdog's thread");
        goto out;
    }
    /* Acks and commands go into the queues from the transport's thread. */
    struct transport_sinks sinks = {.commands = m.commands, .acks = m.acks};
    struct link_transport_config lc = {
        .url = o->link, .device_id = o->device_id, .secret_hash = secret_hash};
    if (o->link ? transport_link_new(&lc, &sinks, &m.tr, err, sizeof(err))
                : transport_mqtt_new(&pub, &sinks, &m.tr, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    m.env = (struct command_env){.rate_hz = rate,
                                 .nominal_hz = o->nominal_hz,
                                 .phase_cal_deg = phase_cal,
                                 .snapshot = capture_snapshot,
                                 .layout = m.three ? &m.layout : NULL,
                                 .snapshot_set = capture_snapshot_set,
                                 .send = command_send,
                                 .relay = relay_command,
                                 .status = status_command,
                                 .set_interval = interval_command,
                                 .sync_clock = clock_command,
                                 .memory = m.memory,
                                 .ctx = &m};
    if (require_signatures(&m, o->secret_file ? &key : NULL)) {
        log_error("device id '%s' cannot stand in a topic", o->device_id);
        goto out;
    }
    struct forward_config fc = {
        .ack_timeout_ms = (int64_t)llround(o->ack_timeout_s * 1000.0),
        .backlog_batch = (uint32_t)o->backlog_batch,
        .backlog_rate = (uint32_t)o->backlog_rate,
        .max_inflight = (uint32_t)o->max_inflight,
    };
    if (forward_new(&fc, m.spool, send_readings, &m, &m.fwd)) {
        log_error("out of memory");
        goto out;
    }
    if (transport_start(&m.tr, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    if (sampler_start(m.adc, m.ring, &m.sampler, err, sizeof(err))) {
        log_error("%s", err);
        goto out;
    }
    struct sampler_stats ss;
    sampler_stats(m.sampler, &ss);
    log_info("sampling with %s at %g Hz%s, wiring %s (%u channels), one reading every %g s",
             adc_driver_name(m.adc), rate, ss.realtime ? " (real-time priority)" : "",
             adc_wiring_name(m.wiring), m.three ? m.nch : 2, (double)m.interval_samples / rate);
    char service_status[256];
    snprintf(service_status, sizeof(service_status),
             "device %s: %s at %g Hz, %s, one reading every %g s, over %s", o->device_id,
             adc_driver_name(m.adc), rate, adc_wiring_name(m.wiring),
             (double)m.interval_samples / rate, o->link ? "the terminal link" : "MQTT");
    meter_service_ready(m.svc, m.sampler, service_status);

    r = run_loop(&m);
    log_info("stopping");
    meter_service_stopping(m.svc);
    sampler_stop(m.sampler);
    int undelivered = transport_stop(&m.tr, STOP_TIMEOUT_MS);
    if (undelivered > 0)
        log_warn("%d messages were not delivered before the stop; the spool keeps the readings",
                 undelivered);
    r2 = spool_sync(m.spool, time_now_ms(), true);
    if (r2)
        log_error("spool: cannot sync at stop: %s", strerror(-r2));
    log_counters(&m, " at stop");
    sampler_stats(m.sampler, &ss);
    if (meter_state_save(m.state_path, &m.st)) {
        log_error("cannot persist %s at stop", m.state_path);
    } else {
        status = r ? 1 : 0;
        log_info("stopped at seq %llu; %llu samples taken, %llu dropped",
                 (unsigned long long)m.st.seq, (unsigned long long)ss.samples,
                 (unsigned long long)ss.dropped);
    }
out:
    meter_service_free(m.svc); /* before the sampler its probe reads */
    sampler_free(m.sampler);
    transport_free(&m.tr);
    forward_free(m.fwd);
    spool_close(m.spool);
    ack_queue_free(m.acks);
    command_queue_free(m.commands);
    command_memory_free(m.memory);
    ring_free(m.ring);
    pq_analyzer_free(m.pq);
    pq3_analyzer_free(m.pq3);
    for (unsigned k = 0; k < ADC_CHANNELS; k++)
        free(m.ch[k]);
    adc_close(m.adc);
    gpio_close(m.drdy);
    gpio_close(m.relay);
    gpio_close(m.led);
    if (m.lock_fd >= 0)
        close(m.lock_fd);
    free(m.v);
    free(m.i);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    sign_key_wipe(&key);
    explicit_bzero(secret_hash, sizeof(secret_hash));
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
