/*
 * GET /api/health (for load balancers and monitoring: public, so it says
 * nothing about the build) and GET /api/stats (staff: the version too).
 */
#include "alarms.h"
#include "api.h"
#include "broker.h"
#include "histcache.h"
#include "retention.h"
#include "dtu.h"
#include "mms.h"
#include "modbus_server.h"
#include "terminals.h"
#include "timeutil.h"

#ifndef SMARTMETER_VERSION
#define SMARTMETER_VERSION "dev"
#endif

void api_health(struct api_call *c)
{
    struct store *st = api_store(c);
    int version = 0;
    bool db_ok = st && api_store_result(c, store_schema_version(st, &version)) == 0;
    bool mqtt_ok = atomic_load(&c->app->stats->mqtt_connected);
    struct jsonw w;
    api_json(c, db_ok ? 200 : 503, &w);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "status", db_ok ? "ok" : "degraded");
    jsonw_kstr(&w, "database", db_ok ? "ok" : "unavailable");
    jsonw_kstr(&w, "mqtt", mqtt_ok ? "connected" : "disconnected");
    jsonw_kint(&w, "uptime_s", (time_mono_ms() - c->app->started_ms) / 1000);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* The terminal gateway's counters (terminals.h): its closes by reason. */
static void api_stats_terminals(struct api_call *c, struct jsonw *w)
{
    struct terminals *t = atomic_load(&c->app->terminals);
    struct terminals_stats ts;
    terminals_get_stats(t, &ts);
    const struct {
        const char *key;
        uint64_t n;
    } counts[] = {{"connections", ts.connections},     {"sessions", ts.sessions},
                  {"accepted", ts.accepted},           {"opened", ts.opened},
                  {"frames_in", ts.frames_in},         {"frames_out", ts.frames_out},
                  {"telemetry", ts.telemetry},         {"replies", ts.replies},
                  {"captures", ts.captures},           {"acks_sent", ts.acks_sent},
                  {"commands_sent", ts.commands_sent}, {"routed_dropped", ts.routed_dropped},
                  {"disconnected", ts.disconnected}};
    jsonw_key(w, "terminals");
    jsonw_obj_begin(w);
    jsonw_kbool(w, "listening", t != NULL);
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
        jsonw_kint(w, counts[k].key, (int64_t)counts[k].n);
    const char *groups[] = {"closed", "peer_closed"};
    for (int g = 0; g < 2; g++) {
        jsonw_key(w, groups[g]);
        jsonw_obj_begin(w);
        for (unsigned r = 0; r < TERMINALS_CLOSE_KINDS; r++)
            jsonw_kint(w, link_reason_name(r), (int64_t)(g ? ts.peer_closed[r] : ts.closed[r]));
        jsonw_obj_end(w);
    }
    jsonw_obj_end(w);
}

struct named_count {
    const char *key;
    uint64_t n;
};

/* key: {"listening": on, k[0].key: k[0].n, ...: left open for the caller to add to and end. */
static void counts_obj(struct jsonw *w, const char *key, bool on, const struct named_count *k,
                       size_t n)
{
    jsonw_key(w, key);
    jsonw_obj_begin(w);
    jsonw_kbool(w, "listening", on);
    for (size_t i = 0; i < n; i++)
        jsonw_kint(w, k[i].key, (int64_t)k[i].n);
}

/* The grid ports' counters (modbus_server.h, dtu.h, mms.h); zeros when a port is off. */
static void api_stats_grid(struct api_call *c, struct jsonw *w)
{
    struct modbus_server_counters mb = {0};
    if (c->app->modbus)
        modbus_server_counters(c->app->modbus, &mb);
    const struct named_count mbc[] = {{"accepted", mb.accepted},   {"refused", mb.refused},
                                      {"requests", mb.requests},   {"exceptions", mb.exceptions},
                                      {"malformed", mb.malformed}, {"timeouts", mb.timeouts}};
    counts_obj(w, "modbus", c->app->modbus != NULL, mbc, sizeof(mbc) / sizeof(mbc[0]));
    jsonw_obj_end(w);

    struct dtu_counters d = {0};
    if (c->app->dtu)
        dtu_counters(c->app->dtu, &d);
    const struct named_count dc[] = {
        {"connections", d.connections}, {"registered", d.registered}, {"refused", d.refused},
        {"replaced", d.replaced},       {"polls", d.polls},           {"readings", d.readings},
        {"missed", d.missed},           {"timeouts", d.timeouts},     {"bad_crc", d.bad_crc},
        {"exceptions", d.exceptions},   {"mismatched", d.mismatched}};
    counts_obj(w, "dtu", c->app->dtu != NULL, dc, sizeof(dc) / sizeof(dc[0]));
    jsonw_obj_end(w);

    struct mms_stats m;
    mms_get_stats(c->app->mms, &m);
    const struct named_count mc[] = {{"connections", m.connections},
                                     {"accepted", m.accepted},
                                     {"refused_allow", m.refused_allow},
                                     {"refused_busy", m.refused_busy},
                                     {"associations", m.associations},
                                     {"requests", m.requests},
                                     {"rejects", m.rejects},
                                     {"timeouts", m.timeouts},
                                     {"reports", m.reports}};
    counts_obj(w, "mms", c->app->mms != NULL, mc, sizeof(mc) / sizeof(mc[0]));
    jsonw_key(w, "ended");
    jsonw_obj_begin(w);
    for (unsigned r = 0; r < MMS_END__COUNT; r++)
        jsonw_kint(w, mms_end_name((enum mms_end)r), (int64_t)m.ended[r]);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
}

void api_stats(struct api_call *c)
{
    const struct server_counters *s = c->app->stats;
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "version", SMARTMETER_VERSION);
    jsonw_key(&w, "mqtt");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "messages", (int64_t)atomic_load(&s->messages));
    jsonw_kint(&w, "readings_stored", (int64_t)atomic_load(&s->readings_stored));
    jsonw_kint(&w, "duplicates", (int64_t)atomic_load(&s->duplicates));
    jsonw_kint(&w, "invalid", (int64_t)atomic_load(&s->invalid));
    jsonw_kint(&w, "unknown_device", (int64_t)atomic_load(&s->unknown_device));
    jsonw_kint(&w, "bad_topic", (int64_t)atomic_load(&s->bad_topic));
    jsonw_kint(&w, "too_large", (int64_t)atomic_load(&s->too_large));
    jsonw_kint(&w, "db_errors", (int64_t)atomic_load(&s->db_errors));
    jsonw_kint(&w, "status_updates", (int64_t)atomic_load(&s->status_updates));
    jsonw_kint(&w, "captures_stored", (int64_t)atomic_load(&s->captures_stored));
    jsonw_kint(&w, "unknown_request", (int64_t)atomic_load(&s->unknown_request));
    jsonw_kbool(&w, "connected", atomic_load(&s->mqtt_connected));
    jsonw_obj_end(&w);
    jsonw_key(&w, "writer");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "batches", (int64_t)atomic_load(&s->batches));
    jsonw_kint(&w, "readings", (int64_t)atomic_load(&s->batch_readings));
    jsonw_kint(&w, "queue_depth", (int64_t)atomic_load(&s->queue_depth));
    jsonw_kint(&w, "queue_capacity", c->app->opt->ingest_queue);
    jsonw_kint(&w, "queue_full", (int64_t)atomic_load(&s->queue_full));
    jsonw_kint(&w, "acks_sent", (int64_t)atomic_load(&s->acks_sent));
    jsonw_kint(&w, "ack_failures", (int64_t)atomic_load(&s->ack_failures));
    jsonw_kint(&w, "rejected_acked", (int64_t)atomic_load(&s->rejected_acked));
    jsonw_kint(&w, "retries", (int64_t)atomic_load(&s->retries));
    jsonw_obj_end(&w);
    jsonw_key(&w, "http");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "uploads", (int64_t)atomic_load(&s->http_uploads));
    jsonw_kint(&w, "readings_stored", (int64_t)atomic_load(&s->http_readings_stored));
    jsonw_kint(&w, "duplicates", (int64_t)atomic_load(&s->http_duplicates));
    jsonw_kint(&w, "password_checks_pending", pwpool_pending(c->app->passwords));
    jsonw_obj_end(&w);
    struct retention_counters rc;
    retention_counters(c->app->retention, &rc);
    jsonw_key(&w, "retention");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "raw_retention_days", retention_keep_days(c->app->retention));
    jsonw_kint(&w, "runs", (int64_t)rc.runs);
    jsonw_kint(&w, "rows_deleted", (int64_t)rc.rows_deleted);
    jsonw_kint(&w, "errors", (int64_t)rc.errors);
    jsonw_obj_end(&w);
    struct histcache_stats hc;
    histcache_get_stats(c->app->history_cache, &hc);
    jsonw_key(&w, "history_cache");
    jsonw_obj_begin(&w);
    jsonw_kint(&w, "max_bytes", (int64_t)hc.max_bytes);
    jsonw_kint(&w, "bytes", (int64_t)hc.bytes);
    jsonw_kint(&w, "entries", (int64_t)hc.entries);
    jsonw_kint(&w, "hits", (int64_t)hc.hits);
    jsonw_kint(&w, "misses", (int64_t)hc.misses);
    jsonw_kint(&w, "inserts", (int64_t)hc.inserts);
    jsonw_kint(&w, "evictions", (int64_t)hc.evictions);
    jsonw_obj_end(&w);
    struct broker_stats bs;
    broker_get_stats(c->app->broker, &bs);
    const struct {
        const char *key;
        uint64_t n;
    } counts[] = {{"devices", bs.devices},       {"reconciliations", bs.reconciliations},
                  {"changes", bs.changes},       {"created", bs.created},
                  {"updated", bs.updated},       {"deleted", bs.deleted},
                  {"collisions", bs.collisions}, {"errors", bs.errors}};
    jsonw_key(&w, "broker");
    jsonw_obj_begin(&w);
    jsonw_kbool(&w, "provisioning", c->app->broker != NULL);
    jsonw_kbool(&w, "in_step", bs.in_step);
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
        jsonw_kint(&w, counts[k].key, (int64_t)counts[k].n);
    jsonw_obj_end(&w);
    api_stats_terminals(c, &w);
    api_stats_grid(c, &w);
    /* The state analysis (docs/alarms.md): readings judged, alarms raised and cleared. */
    struct alarms_counters ac = {0};
    struct alarm_notifier_counters nc = {0};
    if (c->app->alarms)
        alarms_counters(c->app->alarms, &ac);
    if (c->app->alarm_notifier)
        alarm_notifier_counters(c->app->alarm_notifier, &nc);
    jsonw_key(&w, "alarms");
    jsonw_obj_begin(&w);
    jsonw_kbool(&w, "running", c->app->alarms != NULL);
    jsonw_kint(&w, "readings_judged", (int64_t)ac.readings);
    jsonw_kint(&w, "raised", (int64_t)ac.raised);
    jsonw_kint(&w, "cleared", (int64_t)ac.cleared);
    jsonw_kint(&w, "errors", (int64_t)ac.errors);
    jsonw_kint(&w, "streams", c->app->alarm_hub ? alarm_hub_streams(c->app->alarm_hub) : 0);
    jsonw_kint(&w, "wechat_sent", (int64_t)nc.sent);
    jsonw_kint(&w, "wechat_failed", (int64_t)nc.failed);
    jsonw_kint(&w, "wechat_dropped", (int64_t)nc.dropped);
    jsonw_obj_end(&w);
    jsonw_kint(&w, "uptime_s", (time_mono_ms() - c->app->started_ms) / 1000);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
