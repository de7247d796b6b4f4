/*
 * loadgen: publishes telemetry for many meters through an MQTT broker as fast
 * as QoS 1 allows, for the ingest, history and memory benchmarks (bench/README.md).
 *
 * Each device gets `--readings` readings in docs/protocol.md's shape: seq
 * strictly increasing from `--seq-start`, ts stepping by `--step-ms` and ending
 * at `--ts-end-ms` (default: now), energy_wh increasing with the power drawn
 * (and, with --export, energy_export_wh at 0 as meterd sends it).
 * One message carries `--batch` readings of one device (1: a single reading
 * object, as meterd sends; more: an array, as a meter's backlog is sent).
 * Messages go round-robin over the devices (every device's first message,
 * then every device's second, ...), so the stream looks like many meters
 * publishing at once. Devices are split over `--connections` MQTT connections,
 * one thread each; each keeps at most `--window` messages awaiting PUBACK.
 *
 * With `--lines DIR` it publishes nothing: it writes each device's messages to
 * DIR/<device id>, one payload a line, for `mosquitto_pub -l -q 1 -t meters/<id>/telemetry`
 * (the publishers a user reaches for first; bench/ingest.sh's headline), and exits.
 *
 * When every PUBACK has arrived it prints one line of key=value pairs:
 *   messages=N readings=N first_publish_ms=T0 last_puback_ms=T1 seconds=S rate=R
 * T0 and T1 are wall-clock epoch milliseconds (CLOCK_REALTIME), comparable
 * with other processes' clocks on the same machine; rate is readings per
 * second between them. Exit status 0 on success, 1 on an MQTT error, 2 on bad
 * arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "dynbuf.h"
#include "telemetry.h"
#include "topic.h"

#define MAX_CONNECTIONS 64
#define MAX_DEVICES     1000000
#define MAX_BATCH       1000
#define READING_MAX     256  /* bytes of one reading's JSON, with room to spare */
#define DEADLINE_S      3600 /* give up on a run (a broker that stopped answering) */

struct config {
    const char *url;
    const char *lines_dir; /* --lines: write the payloads to files instead */
    const char *prefix;
    int64_t first_device, devices, readings, batch, connections, window;
    int64_t seq_start, ts_end_ms, step_ms;
    int64_t power_w; /* 0: the energy of 1 W counted from each run's first reading */
    bool export_wh;  /* send "energy_export_wh":0 as meterd does (else leave it out) */
};

/* One connection: its devices are first_device + k * connections + index. */
struct conn {
    const struct config *cfg;
    int index;
    MQTTAsync client;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t inflight;
    int64_t acked;
    int64_t failed;
    bool connected, connect_failed;
    int64_t first_publish_ms, last_puback_ms;
    int64_t messages, readings;
    int result;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_connect(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    struct conn *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->connected = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    struct conn *c = ctx;
    fprintf(stderr, "loadgen: connection %d: connect failed: %s\n", c->index,
            resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1));
    pthread_mutex_lock(&c->lock);
    c->connect_failed = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void on_puback(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    struct conn *c = ctx;
    int64_t now = wall_ms();
    pthread_mutex_lock(&c->lock);
    c->inflight--;
    c->acked++;
    c->last_puback_ms = now;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void on_publish_failure(void *ctx, MQTTAsync_failureData *resp)
{
    struct conn *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->inflight--;
    c->failed++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    fprintf(stderr, "loadgen: connection %d: publish failed: %s\n", c->index,
            resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1));
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct conn *c = ctx;
    fprintf(stderr, "loadgen: connection %d lost: %s\n", c->index, cause ? cause : "(no cause)");
    pthread_mutex_lock(&c->lock);
    c->connect_failed = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    (void)ctx;
    (void)topic_len;
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

/* Waits on c->cond until pred(c) or the deadline; false on timeout. Called with c->lock held. */
static bool wait_until(struct conn *c, bool (*pred)(const struct conn *), int64_t deadline_ms)
{
    while (!pred(c)) {
        if (wall_ms() > deadline_ms)
            return false;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    return true;
}

static bool connect_done(const struct conn *c)
{
    return c->connected || c->connect_failed;
}

static bool window_open(const struct conn *c)
{
    return c->inflight < c->cfg->window || c->connect_failed;
}

static bool all_acked(const struct conn *c)
{
    return c->inflight == 0 || c->connect_failed;
}

/* Reading j of device d: a load that varies with device and time, 1.0 to 8.9 A at about 230 V. */
static void make_reading(struct reading *r, const struct config *cfg, int64_t d, int64_t j)
{
    int64_t current_da = 10 + (d * 7 + j * 13) % 80;
    int64_t voltage_dv = 2280 + (d + j) % 41;
    memset(r, 0, sizeof(*r));
    r->seq = (uint64_t)(cfg->seq_start + j);
    r->has_seq = true;
    r->ts_ms = cfg->ts_end_ms - (cfg->readings - 1 - j) * cfg->step_ms;
    reading_set_real(r, RR_VOLTAGE, (double)voltage_dv / 10);
    reading_set_real(r, RR_CURRENT, (double)current_da / 10);
    reading_set_real(r, RR_POWER_W, (double)voltage_dv * (double)current_da / 100.0 * 0.98);
    reading_set_real(r, RR_PF, 0.98);
    reading_set_real(r, RR_FREQ_HZ, 50.01);
    /* Energy in mWh: the device's offset plus what 1 W draws each step (the default), or
     * with --power-w what W watts drew up to this seq, so that runs with consecutive seqs
     * continue one counter. */
    int64_t mwh = cfg->power_w ? (int64_t)r->seq * cfg->step_ms * cfg->power_w / 3600
                               : (j + 1) * cfg->step_ms / 3600;
    reading_set_counter(r, RC_ENERGY_IMPORT, d * 1000 + mwh);
    if (cfg->export_wh)
        reading_set_counter(r, RC_ENERGY_EXPORT, 0);
    reading_set_counter(r, RC_BOOT, 1);
}

/* Publishes message m (readings m*batch ...) of device d, encoded into out (with rs, batch
   readings of room). 0 or an MQTTAsync error code. */
static int publish_one(struct conn *c, struct reading *rs, struct dynbuf *out, int64_t d, int64_t m)
{
    const struct config *cfg = c->cfg;
    int64_t j0 = m * cfg->batch;
    int64_t j1 = j0 + cfg->batch < cfg->readings ? j0 + cfg->batch : cfg->readings;
    for (int64_t j = j0; j < j1; j++)
        make_reading(&rs[j - j0], cfg, d, j);
    dynbuf_reset(out);
    if (telemetry_encode_payload(rs, (size_t)(j1 - j0), cfg->batch > 1, out))
        return MQTTASYNC_FAILURE;

    char id[DEVICE_ID_MAX + 1], topic[TOPIC_MAX];
    snprintf(id, sizeof(id), "%s%" PRId64, cfg->prefix, d);
    if (topic_build(topic, id, TOPIC_TELEMETRY))
        return MQTTASYNC_FAILURE; /* not reached: --prefix is checked */
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = out->buf;
    msg.payloadlen = (int)out->len;
    msg.qos = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_puback;
    ro.onFailure = on_publish_failure;
    ro.context = c;

    pthread_mutex_lock(&c->lock);
    c->inflight++;
    if (!c->first_publish_ms)
        c->first_publish_ms = wall_ms();
    pthread_mutex_unlock(&c->lock);
    int rc = MQTTAsync_sendMessage(c->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&c->lock);
        c->inflight--;
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    c->messages++;
    c->readings += j1 - j0;
    return 0;
}

static void *run_conn(void *arg)
{
    struct conn *c = arg;
    const struct config *cfg = c->cfg;
    int64_t deadline = wall_ms() + (int64_t)DEADLINE_S * 1000;
    struct dynbuf out;
    dynbuf_init(&out, (size_t)cfg->batch * READING_MAX + 2);
    struct reading *rs = calloc((size_t)cfg->batch, sizeof(*rs));
    if (!rs) {
        fprintf(stderr, "loadgen: out of memory\n");
        c->result = 1;
        return NULL;
    }
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.keepAliveInterval = 60;
    co.cleansession = 1;
    co.maxInflight = (int)cfg->window + 16; /* slack: a slot frees just after on_puback */
    co.onSuccess = on_connect;
    co.onFailure = on_connect_failure;
    co.context = c;
    int rc = MQTTAsync_connect(c->client, &co);
    pthread_mutex_lock(&c->lock);
    bool ok = rc == MQTTASYNC_SUCCESS && wait_until(c, connect_done, deadline) && c->connected;
    pthread_mutex_unlock(&c->lock);
    if (!ok) {
        fprintf(stderr, "loadgen: connection %d: could not connect to %s\n", c->index, cfg->url);
        c->result = 1;
        free(rs);
        dynbuf_free(&out);
        return NULL;
    }

    int64_t per_device = (cfg->readings + cfg->batch - 1) / cfg->batch;
    for (int64_t m = 0; m < per_device && !c->result; m++) {
        for (int64_t k = c->index; k < cfg->devices; k += cfg->connections) {
            pthread_mutex_lock(&c->lock);
            ok = wait_until(c, window_open, deadline) && !c->connect_failed;
            pthread_mutex_unlock(&c->lock);
            if (!ok || (rc = publish_one(c, rs, &out, cfg->first_device + k, m)) != 0) {
                fprintf(stderr, "loadgen: connection %d: publish stopped: %s\n", c->index,
                        ok ? MQTTAsync_strerror(rc) : "no PUBACK in time or connection lost");
                c->result = 1;
                break;
            }
        }
    }
    pthread_mutex_lock(&c->lock);
    if (!wait_until(c, all_acked, deadline) || c->connect_failed || c->failed)
        c->result = 1;
    pthread_mutex_unlock(&c->lock);
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    dopt.timeout = 1000;
    MQTTAsync_disconnect(c->client, &dopt);
    free(rs);
    dynbuf_free(&out);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: bench_loadgen --url tcp://127.0.0.1:PORT [options]\n"
        "       bench_loadgen --lines DIR [options]   (DIR/<device id>: a payload a line)\n"
        "  --prefix P          device ids are P<number> (default bench-)\n"
        "  --first-device K    number of the first device (default 1)\n"
        "  --devices N         devices to publish for (default 100)\n"
        "  --readings R        readings per device (default 2000)\n"
        "  --batch B           readings per message, 1..%d (default 1: one object)\n"
        "  --connections C     MQTT connections, 1..%d (default 4)\n"
        "  --window W          messages awaiting PUBACK per connection (default 1000)\n"
        "  --seq-start S       seq of each device's first reading (default 1)\n"
        "  --ts-end-ms T       ts of each device's last reading (default: now)\n"
        "  --step-ms D         ts step between readings (default 1000)\n"
        "  --power-w W         energy_wh grows by what W watts draw per step, counted from seq 0\n"
        "                      (default: 1 W, counted from each run's first reading)\n"
        "  --export            send energy_export_wh (0, as meterd does); default: leave it out\n",
        MAX_BATCH, MAX_CONNECTIONS);
}

static int parse_int(const char *name, const char *s, int64_t lo, int64_t hi, int64_t *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s must be an integer from %" PRId64 " to %" PRId64 "\n", name,
                lo, hi);
        return -1;
    }
    *ret = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"prefix", required_argument, NULL, 'p'},
        {"first-device", required_argument, NULL, 'f'},
        {"devices", required_argument, NULL, 'd'},
        {"readings", required_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"connections", required_argument, NULL, 'c'},
        {"window", required_argument, NULL, 'w'},
        {"seq-start", required_argument, NULL, 's'},
        {"ts-end-ms", required_argument, NULL, 't'},
        {"step-ms", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {"export", no_argument, NULL, 'x'},
        {"power-w", required_argument, NULL, 'P'},
        {"lines", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    *cfg = (struct config){.prefix = "bench-",
                           .first_device = 1,
                           .devices = 100,
                           .readings = 2000,
                           .batch = 1,
                           .connections = 4,
                           .window = 1000,
                           .seq_start = 1,
                           .ts_end_ms = wall_ms(),
                           .step_ms = 1000};
    int opt, r = 0;
    while (!r && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            cfg->url = optarg;
            break;
        case 'p':
            cfg->prefix = optarg;
            if (strlen(optarg) > 40 || (*optarg && !device_id_valid(optarg))) {
                fprintf(stderr, "loadgen: --prefix is at most 40 of A-Z a-z 0-9 _ - . :\n");
                r = -1;
            }
            break;
        case 'f':
            r = parse_int("--first-device", optarg, 0, INT64_C(1) << 40, &cfg->first_device);
            break;
        case 'd':
            r = parse_int("--devices", optarg, 1, MAX_DEVICES, &cfg->devices);
            break;
        case 'r':
            r = parse_int("--readings", optarg, 1, INT64_C(1) << 32, &cfg->readings);
            break;
        case 'b':
            r = parse_int("--batch", optarg, 1, MAX_BATCH, &cfg->batch);
            break;
        case 'c':
            r = parse_int("--connections", optarg, 1, MAX_CONNECTIONS, &cfg->connections);
            break;
        case 'w':
            r = parse_int("--window", optarg, 1, 65535, &cfg->window);
            break;
        case 's':
            r = parse_int("--seq-start", optarg, 0, INT64_C(1) << 52, &cfg->seq_start);
            break;
        case 't':
            r = parse_int("--ts-end-ms", optarg, INT64_C(946684800000), INT64_C(1) << 46,
                          &cfg->ts_end_ms);
            break;
        case 'm':
            r = parse_int("--step-ms", optarg, 1, 86400000, &cfg->step_ms);
            break;
        case 'x':
            cfg->export_wh = true;
            break;
        case 'P':
            r = parse_int("--power-w", optarg, 1, 10000000, &cfg->power_w);
            break;
        case 'L':
            cfg->lines_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!r && (optind != argc || (!cfg->url == !cfg->lines_dir))) {
        usage(stderr);
        r = -1;
    }
    if (!r && cfg->connections > cfg->devices)
        cfg->connections = cfg->devices;
    if (!r && cfg->power_w &&
        cfg->seq_start + cfg->readings > INT64_MAX / cfg->step_ms / cfg->power_w) {
        fprintf(stderr, "loadgen: --power-w too large for these seqs and --step-ms\n");
        r = -1;
    }
    if (!r && cfg->ts_end_ms - (cfg->readings - 1) * cfg->step_ms < INT64_C(946684800000)) {
        fprintf(stderr, "loadgen: the first reading would be before 2000-01-01\n");
        r = -1;
    }
    return r;
}

/* --lines: every device's messages, a payload a line, in DIR/<device id>. */
static int write_lines(const struct config *cfg)
{
    struct reading *rs = calloc((size_t)cfg->batch, sizeof(*rs));
    struct dynbuf out;
    dynbuf_init(&out, (size_t)cfg->batch * READING_MAX);
    int result = rs ? 0 : 1;
    int64_t messages = (cfg->readings + cfg->batch - 1) / cfg->batch;
    for (int64_t d = cfg->first_device; !result && d < cfg->first_device + cfg->devices; d++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s%" PRId64, cfg->lines_dir, cfg->prefix, d);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
            result = 1;
            break;
        }
        for (int64_t m = 0; m < messages && !result; m++) {
            int64_t j0 = m * cfg->batch;
            int64_t j1 = j0 + cfg->batch < cfg->readings ? j0 + cfg->batch : cfg->readings;
            for (int64_t j = j0; j < j1; j++)
                make_reading(&rs[j - j0], cfg, d, j);
            dynbuf_reset(&out);
            if (telemetry_encode_payload(rs, (size_t)(j1 - j0), cfg->batch > 1, &out) ||
                fwrite(out.buf, 1, out.len, f) != out.len || putc('\n', f) == EOF)
                result = 1;
        }
        if (fclose(f) || result) {
            fprintf(stderr, "loadgen: %s: cannot write\n", path);
            result = 1;
        }
    }
    dynbuf_free(&out);
    free(rs);
    return result;
}

int main(int argc, char **argv)
{
    struct config cfg;
    if (parse_args(argc, argv, &cfg))
        return 2;
    if (cfg.lines_dir)
        return write_lines(&cfg);

    struct conn conns[MAX_CONNECTIONS];
    pthread_t threads[MAX_CONNECTIONS];
    int n = (int)cfg.connections, started = 0, result = 0;
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        *c = (struct conn){.cfg = &cfg, .index = i};
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        char id[64];
        snprintf(id, sizeof(id), "bench-loadgen-%ld-%d", (long)getpid(), i);
        int rc = MQTTAsync_create(&c->client, cfg.url, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
        if (rc != MQTTASYNC_SUCCESS) {
            fprintf(stderr, "loadgen: %s: %s\n", cfg.url, MQTTAsync_strerror(rc));
            return 1;
        }
        MQTTAsync_setCallbacks(c->client, c, on_connection_lost, on_message, NULL);
    }
    for (; started < n; started++) {
        if (pthread_create(&threads[started], NULL, run_conn, &conns[started])) {
            fprintf(stderr, "loadgen: cannot start a thread\n");
            result = 1;
            break;
        }
    }
    int64_t first = INT64_MAX, last = 0, messages = 0, readings = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        struct conn *c = &conns[i];
        if (c->result)
            result = 1;
        if (c->first_publish_ms && c->first_publish_ms < first)
            first = c->first_publish_ms;
        if (c->last_puback_ms > last)
            last = c->last_puback_ms;
        messages += c->acked;
        readings += c->readings;
    }
    for (int i = 0; i < n; i++) {
        MQTTAsync_destroy(&conns[i].client);
        pthread_mutex_destroy(&conns[i].lock);
        pthread_cond_destroy(&conns[i].cond);
    }
    if (result)
        return 1;
    double secs = (double)(last - first) / 1000.0;
    printf("messages=%" PRId64 " readings=%" PRId64 " first_publish_ms=%" PRId64
           " last_puback_ms=%" PRId64 " seconds=%.3f rate=%.0f\n",
           messages, readings, first, last, secs, secs > 0 ? (double)readings / secs : 0.0);
    return 0;
}
