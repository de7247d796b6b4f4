/*
 * GET /metrics: the server's counters in the Prometheus text format
 * (docs/metrics.md), on the API (an admin, or the metrics_token_file token)
 * and on the metrics_listen listener (no authentication). The values are
 * the ones /api/stats serves, read from their atomics, plus the latency
 * histograms and a few gauges the database answers at scrape time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "dtu.h"
#include "expo.h"
#include "log.h"
#include "mms.h"
#include "modbus_server.h"
#include "route_stats.h"
#include "terminals.h"
#include "timeutil.h"

#ifndef SMARTMETER_VERSION
#define SMARTMETER_VERSION "dev"
#endif

#define LEN(a)            (sizeof(a) / sizeof((a)[0]))
#define METRICS_MAX_BYTES (16u << 20)
#define SEVERITIES_MAX    8 /* distinct alarm severities counted; the rules know two */

static uint64_t load(const atomic_uint_fast64_t *v)
{
    return atomic_load((atomic_uint_fast64_t *)v);
}

/* A family of one sample without labels. */
static void single(struct expo *e, const char *name, const char *type, const char *help, uint64_t v)
{
    expo_family(e, name, type, help);
    expo_u64(e, name, NULL, 0, v);
}

static void ingest_metrics(struct expo *e, const struct app *app)
{
    const struct server_counters *s = app->stats;
    expo_family(e, "smartmeter_ingest_messages_total", "counter",
                "MQTT messages the server received (telemetry, status, replies, captures).");
    expo_u64(e, "smartmeter_ingest_messages_total", NULL, 0, load(&s->messages));

    const char *stored = "smartmeter_ingest_readings_stored_total";
    expo_family(e, stored, "counter", "Readings stored, by the transport they came over.");
    expo_u64(e, stored, (struct expo_label[]){{"transport", "mqtt"}}, 1, load(&s->readings_stored));
    expo_u64(e, stored, (struct expo_label[]){{"transport", "http"}}, 1,
             load(&s->http_readings_stored));

    const char *refused = "smartmeter_ingest_refused_total";
    const struct {
        const char *reason;
        const atomic_uint_fast64_t *n;
    } why[] = {{"duplicate", &s->duplicates},          {"invalid", &s->invalid},
               {"unknown_device", &s->unknown_device}, {"bad_topic", &s->bad_topic},
               {"too_large", &s->too_large},           {"http_duplicate", &s->http_duplicates}};
    expo_family(e, refused, "counter",
                "Readings or messages not stored, by reason (duplicates were stored before).");
    for (size_t i = 0; i < LEN(why); i++)
        expo_u64(e, refused, (struct expo_label[]){{"reason", why[i].reason}}, 1, load(why[i].n));

    single(e, "smartmeter_http_uploads_total", "counter",
           "Uploads over HTTP (POST /api/device/data).", load(&s->http_uploads));
    single(e, "smartmeter_status_updates_total", "counter", "Meter status messages stored.",
           load(&s->status_updates));
    single(e, "smartmeter_mqtt_connected", "gauge",
           "1 while the server's MQTT client is connected to the broker.",
           atomic_load((atomic_bool *)&s->mqtt_connected) ? 1 : 0);

    single(e, "smartmeter_writer_queue_depth", "gauge", "Readings queued or being written now.",
           load(&s->queue_depth));
    single(e, "smartmeter_writer_queue_capacity", "gauge", "Readings the writer's queue holds.",
           (uint64_t)app->opt->ingest_queue);
    single(e, "smartmeter_writer_queue_full_total", "counter",
           "Messages that waited for room in the writer's queue.", load(&s->queue_full));
    single(e, "smartmeter_writer_batches_total", "counter", "Transactions the writer committed.",
           load(&s->batches));
    single(e, "smartmeter_writer_batch_readings_total", "counter",
           "Readings in the committed transactions (stored and duplicates).",
           load(&s->batch_readings));
    single(e, "smartmeter_writer_retries_total", "counter",
           "Batch attempts that failed and were retried.", load(&s->retries));
    single(e, "smartmeter_writer_rejected_acked_total", "counter",
           "Invalid readings acknowledged as rejected.", load(&s->rejected_acked));
    struct histogram_snapshot hs;
    histogram_read(&s->commit_duration, &hs);
    expo_family(e, "smartmeter_writer_commit_duration_seconds", "histogram",
                "Time one batch's transaction took, from the insert to its commit.");
    expo_histogram(e, "smartmeter_writer_commit_duration_seconds", NULL, 0, &hs);

    single(e, "smartmeter_acks_sent_total", "counter", "Ack messages handed to the MQTT client.",
           load(&s->acks_sent));
    single(e, "smartmeter_ack_failures_total", "counter",
           "Ack messages that could not be sent (not connected, outbox full).",
           load(&s->ack_failures));
    single(e, "smartmeter_database_errors_total", "counter",
           "Database errors of the ingest path (each failed batch attempt counts).",
           load(&s->db_errors));
}

static void http_metrics(struct expo *e, const struct app *app)
{
    const struct route_stats *rs = app->http_routes;
    const char *req = "smartmeter_http_requests_total";
    const char *dur = "smartmeter_http_request_duration_seconds";
    expo_family(e, req, "counter",
                "HTTP requests answered, by method, route pattern and status code.");
    for (size_t i = 0; rs && i < rs->n; i++) {
        const char *method, *route;
        if (api_route_label(i, &method, &route))
            continue;
        struct route_stats_route *r = &rs->routes[i];
        for (unsigned k = 0; k < ROUTE_STATS_CODES; k++) {
            unsigned code = atomic_load(&r->codes[k].code);
            if (!code)
                break;
            char cs[12];
            snprintf(cs, sizeof(cs), "%u", code);
            struct expo_label l[] = {{"method", method}, {"route", route}, {"code", cs}};
            expo_u64(e, req, l, LEN(l), atomic_load(&r->codes[k].n));
        }
        uint64_t other = atomic_load(&r->other_codes);
        if (other) {
            struct expo_label l[] = {{"method", method}, {"route", route}, {"code", "other"}};
            expo_u64(e, req, l, LEN(l), other);
        }
    }
    expo_family(e, dur, "histogram",
                "Time from a request's headers to its answer, by method and route pattern.");
    for (size_t i = 0; rs && i < rs->n; i++) {
        const char *method, *route;
        if (api_route_label(i, &method, &route))
            continue;
        struct histogram_snapshot hs;
        histogram_read(&rs->routes[i].duration, &hs);
        if (!hs.count)
            continue; /* routes nobody called: thousands of zero lines otherwise */
        struct expo_label l[] = {{"method", method}, {"route", route}};
        expo_histogram(e, dur, l, LEN(l), &hs);
    }
}

/* The TCP ports: terminal links, Modbus TCP, DTUs, MMS (zeros for a port that is off). */
static void port_metrics(struct expo *e, const struct app *app)
{
    struct terminals_stats ts;
    terminals_get_stats(atomic_load(&((struct app *)app)->terminals), &ts);
    single(e, "smartmeter_terminal_connections", "gauge",
           "Terminal links open now (handshaking or in session).", ts.connections);
    single(e, "smartmeter_terminal_telemetry_total", "counter",
           "Telemetry frames received over terminal links.", ts.telemetry);
    single(e, "smartmeter_terminal_acks_sent_total", "counter", "Acks sent over terminal links.",
           ts.acks_sent);

    struct modbus_server_counters mb = {0};
    if (app->modbus)
        modbus_server_counters(app->modbus, &mb);
    single(e, "smartmeter_modbus_connections_total", "counter", "Modbus TCP connections accepted.",
           mb.accepted);
    single(e, "smartmeter_modbus_requests_total", "counter", "Modbus TCP requests answered.",
           mb.requests);

    struct dtu_counters d = {0};
    if (app->dtu)
        dtu_counters(app->dtu, &d);
    single(e, "smartmeter_dtu_connections_total", "counter", "DTU connections accepted.",
           d.connections);
    single(e, "smartmeter_dtu_polls_total", "counter", "Polls of meters behind DTUs.", d.polls);
    single(e, "smartmeter_dtu_readings_total", "counter",
           "Readings polled from meters behind DTUs.", d.readings);

    struct mms_stats m;
    mms_get_stats(app->mms, &m);
    single(e, "smartmeter_mms_connections_total", "counter", "MMS connections accepted.",
           m.accepted);
    single(e, "smartmeter_mms_requests_total", "counter", "MMS requests answered.", m.requests);
}

struct meter_count {
    uint64_t by_status[3]; /* enum device_status */
};

static int count_meter(const struct device_rec *d, void *ctx)
{
    struct meter_count *mc = ctx;
    if ((unsigned)d->status < LEN(mc->by_status))
        mc->by_status[d->status]++;
    return 0;
}

struct severity_count {
    size_t n;
    struct {
        char name[STORE_ALARM_SEVERITY_MAX + 1];
        uint64_t open;
    } s[SEVERITIES_MAX];
};

static int count_alarm(const struct alarm_rec *a, void *ctx)
{
    struct severity_count *sc = ctx;
    size_t i = 0;
    while (i < sc->n && strcmp(sc->s[i].name, a->severity) != 0)
        i++;
    if (i == sc->n) {
        if (sc->n == SEVERITIES_MAX)
            return 0;
        snprintf(sc->s[sc->n++].name, sizeof(sc->s[0].name), "%s", a->severity);
    }
    sc->s[i].open++;
    return 0;
}

/*
 * What the database answers: meters by their last status, open alarms by
 * severity. Whether it answered (what is left out otherwise).
 */
static bool store_metrics(struct expo *e, struct app *app, struct terminals_stats *ts)
{
    char err[STORE_ERR_LEN];
    struct store *st = store_pool_get(app->pool, err);
    if (!st)
        return false;
    struct meter_count mc = {{0}};
    int r = store_device_list(st, 0, count_meter, &mc);
    if (!r) {
        const char *n = "smartmeter_meters_connected";
        expo_family(e, n, "gauge",
                    "Meters connected now: over MQTT, those whose last status message said "
                    "online; over terminal links, the authenticated sessions.");
        expo_u64(e, n, (struct expo_label[]){{"transport", "mqtt"}}, 1,
                 mc.by_status[DEVICE_STATUS_ONLINE]);
        expo_u64(e, n, (struct expo_label[]){{"transport", "terminal"}}, 1, ts->sessions);
        single(e, "smartmeter_meters", "gauge", "Meters (devices) the server knows.",
               mc.by_status[0] + mc.by_status[1] + mc.by_status[2]);
    }
    uint64_t cmds[CMD__COUNT];
    int rc = r ? r : store_commands_count(st, cmds);
    if (!rc) {
        const char *n = "smartmeter_commands";
        expo_family(e, n, "gauge", "Commands to meters kept by the server, by state.");
        for (int k = 0; k < CMD__COUNT; k++)
            expo_u64(e, n,
                     (struct expo_label[]){{"state", command_state_name((enum command_state)k)}}, 1,
                     cmds[k]);
    } else if (rc == -ENOTSUP) {
        rc = 0;
    }
    r = r ? r : rc;
    struct severity_count sc = {0};
    struct alarm_filter f = {.state_mask = ALARM_OPEN_MASK, .limit = STORE_ALARMS_MAX};
    int r2 = r ? r : store_alarms_list(st, &f, count_alarm, &sc);
    if (!r2) {
        const char *n = "smartmeter_alarms_open";
        expo_family(e, n, "gauge",
                    "Open alarms (raised or acknowledged, not cleared) by severity; counts at "
                    "most the newest 1000.");
        const char *known[] = {"critical", "major", "minor"}; /* server/alarms/rules.c */
        for (size_t k = 0; k < LEN(known); k++) {
            bool seen = false;
            for (size_t i = 0; i < sc.n; i++)
                seen = seen || strcmp(sc.s[i].name, known[k]) == 0;
            if (!seen)
                expo_u64(e, n, (struct expo_label[]){{"severity", known[k]}}, 1, 0);
        }
        for (size_t i = 0; i < sc.n; i++)
            expo_u64(e, n, (struct expo_label[]){{"severity", sc.s[i].name}}, 1, sc.s[i].open);
    }
    if (r || r2)
        log_warn("metrics: database gauges left out: %s", store_errmsg(st));
    store_pool_put(app->pool, st, r ? r : r2);
    return !r && !r2;
}

int api_metrics_collect(struct app *app, struct dynbuf *out)
{
    struct expo e;
    expo_init(&e, out);
    expo_family(&e, "smartmeter_build_info", "gauge", "The server's version; always 1.");
    expo_u64(&e, "smartmeter_build_info", (struct expo_label[]){{"version", SMARTMETER_VERSION}}, 1,
             1);
    /* started_ms is monotonic: the wall clock's start is now minus the time since. */
    int64_t up_ms = time_mono_ms() - app->started_ms;
    expo_family(&e, "smartmeter_process_start_time_seconds", "gauge",
                "When the server started, in seconds since the Unix epoch.");
    expo_double(&e, "smartmeter_process_start_time_seconds", NULL, 0,
                (double)((time_now_ms() - up_ms) / 1000));
    ingest_metrics(&e, app);
    http_metrics(&e, app);
    port_metrics(&e, app);
    struct terminals_stats ts;
    terminals_get_stats(atomic_load(&app->terminals), &ts);
    bool db_up = app->pool && store_metrics(&e, app, &ts);
    single(&e, "smartmeter_database_up", "gauge",
           "1 when the scrape's database queries answered (else their gauges are left out).",
           db_up);
    return expo_error(&e);
}

void api_metrics_observe(void *app, int label, int status, uint64_t duration_ns)
{
    struct app *a = app;
    if (label < 0)
        label = (int)api_route_other();
    route_stats_observe(a->http_routes, (size_t)label, (unsigned)status, duration_ns);
}

bool api_metrics_token_ok(const struct api_call *c)
{
    const char *want = c->app->metrics_token;
    const char *h = http_header(c->req, "Authorization");
    if (!want || !want[0] || !h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *got = h + 7;
    while (*got == ' ')
        got++;
    /* Constant time over the expected token's length: the answer's timing tells nothing of it. */
    size_t wl = strlen(want), gl = strlen(got);
    unsigned char diff = (unsigned char)(wl != gl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

static void answer(struct app *app, struct http_response *res)
{
    dynbuf_reset(&res->body);
    if (api_metrics_collect(app, &res->body)) {
        dynbuf_reset(&res->body);
        res->status = 500;
        res->content_type = "text/plain; charset=utf-8";
        dynbuf_addstr(&res->body, "metrics too large\n");
        return;
    }
    res->status = 200;
    res->content_type = EXPO_CONTENT_TYPE;
}

void api_metrics(struct api_call *c)
{
    answer(c->app, c->res);
}

void api_metrics_listener(void *app, const struct http_request *req, struct http_response *res)
{
    http_request_label(req, strcmp(req->path, "/metrics") == 0 ? (int)api_route_metrics()
                                                               : (int)api_route_other());
    res->content_type = "text/plain; charset=utf-8";
    if (strcmp(req->path, "/metrics") != 0) {
        res->status = 404;
        dynbuf_addstr(&res->body, "only /metrics is served here\n");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        res->status = 405;
        http_response_header(res, "Allow", "GET, HEAD");
        dynbuf_addstr(&res->body, "GET only\n");
        return;
    }
    answer(app, res);
}
