/*
 * Waveform captures: POST /api/devices/:id/captures asks a meter for one
 * through the durable command service (commands.h); GET .../captures lists them; GET
 * .../captures/:cid gives one with its analysis; .../samples, .../comtrade.cfg and .../comtrade.dat
 * give the samples as JSON and as COMTRADE files. docs/api.md describes each.
 *
 * The meter answers asynchronously (ingest.c stores what it sends). A
 * capture still pending CAPTURES_TIMEOUT_MS after it was requested is
 * shown as failed, and recorded so when it is read on its own.
 */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_query.h"
#include "captures.h"
#include "command.h"
#include "commands.h"
#include "comtrade.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#define CAPTURE_LIST_DEFAULT 100
#define CAPTURE_LIST_MAX     1000
#define CAPTURE_DECIMATE_MAX 10000
/* Sample pairs one JSON answer carries (a few MB); longer captures need decimate. */
#define CAPTURE_POINTS_MAX  262144
#define ANALYSIS_JSON_DEPTH 4
#define COMTRADE_RECORDER   "smartmeter"

/* Shows a pending capture past its time as what it is: failed. */
static void apply_timeout(struct capture_rec *cap, int64_t now_ms)
{
    if (captures_timed_out(cap, now_ms))
        captures_show_timeout(cap);
}

/* The capture :cid of the device; answers 404 or a store error and returns -1 otherwise. */
static int load_capture(struct api_call *c, const struct device_rec *dev, bool with_samples,
                        struct capture_rec *ret)
{
    int64_t id;
    if (api_parse_count(c->params[1], 1, INT64_MAX, &id))
        return api_error(c, 404, "capture not found");
    int r = api_store_result(c, store_capture_get(c->store, dev->id, id, with_samples, ret));
    if (!r && captures_timed_out(ret, time_now_ms())) {
        /* Recorded, so a late answer from the meter is dropped rather than stored. */
        r = api_store_result(c, captures_expire(c->store, dev->id, ret));
        capture_rec_clear(ret);
        /* Read it again: failed now, or completed by the meter's answer just before. */
        if (!r || r == -ENOENT)
            r = api_store_result(c, store_capture_get(c->store, dev->id, id, with_samples, ret));
        if (r)
            capture_rec_clear(ret);
    }
    if (r == -ENOENT)
        return api_error(c, 404, "capture not found");
    if (r)
        return api_store_error(c, r);
    return 0;
}

/* The fields every view of a capture shares. */
/* A stored channel's unit: currents are named i..., voltages v.... */
static const char *channel_unit(const char *name)
{
    return name[0] == 'i' ? "A" : "V";
}

/* The capture's channel names (or their units) as an array. */
static void write_channel_list(struct jsonw *w, const char *key, const struct capture_rec *cap,
                               bool units)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t k = 0; k < cap->channels; k++)
        jsonw_str(w, units ? channel_unit(cap->channel[k]) : cap->channel[k]);
    jsonw_arr_end(w);
}

static bool three_phase(const struct capture_rec *cap)
{
    return strcmp(cap->wiring, "1p2w") != 0;
}

static void write_summary(struct jsonw *w, const struct capture_rec *cap)
{
    jsonw_kint(w, "capture_id", cap->id);
    jsonw_kstr(w, "request_id", cap->request_id);
    jsonw_kstr(w, "state", capture_status_name(cap->status));
    jsonw_key(w, "message");
    if (cap->message[0])
        jsonw_str(w, cap->message);
    else
        jsonw_null(w);
    jsonw_kint(w, "duration_ms", cap->duration_ms);
    jsonw_ktime(w, "requested_at", cap->requested_ms);
    jsonw_key(w, "requested_by");
    if (cap->requested_by[0])
        jsonw_str(w, cap->requested_by);
    else
        jsonw_null(w);
    jsonw_key(w, "received_at");
    if (cap->status != CAPTURE_PENDING && cap->received_ms > 0)
        jsonw_time(w, cap->received_ms);
    else
        jsonw_null(w);
    if (cap->status != CAPTURE_COMPLETE)
        return;
    jsonw_kdouble(w, "rate_hz", cap->rate_hz);
    jsonw_kdouble(w, "nominal_hz", cap->nominal_hz);
    jsonw_ktime(w, "start", cap->start_ms);
    jsonw_kint(w, "samples", (int64_t)cap->samples);
    if (three_phase(cap)) { /* a single-phase capture answers exactly as it always did */
        jsonw_kstr(w, "wiring", cap->wiring);
        write_channel_list(w, "channels", cap, false);
        write_channel_list(w, "units", cap, true);
    }
}

void api_capture_create(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "operator or admin role required");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const json_t *d = json_object_get(body, "duration_ms");
    json_int_t duration = json_is_integer(d) ? json_integer_value(d) : 0;
    if (!d) {
        api_error(c, 400, "duration_ms is missing");
        goto out;
    }
    if (duration < CAPTURE_MIN_MS || duration > CAPTURE_MAX_MS) {
        api_error(c, 400, "duration_ms must be an integer from %d to %d", CAPTURE_MIN_MS,
                  CAPTURE_MAX_MS);
        goto out;
    }
    char request_id[33];
    int rid = commands_new_id(request_id);
    if (rid) {
        log_error("api: no random bytes for a request id: %s", strerror(-rid));
        api_error(c, 500, "internal error");
        goto out;
    }
    int64_t now = time_now_ms(), id = 0;
    int r = api_store_result(c, store_capture_create(c->store, dev.id, request_id, c->user.id,
                                                     (int32_t)duration, now, &id));
    if (r) {
        api_store_error(c, r);
        goto out;
    }

    /* Kept in the database and sent by the command service (sent again while the meter is
       away, until the capture's own timeout): a broker outage delays it, never loses it. */
    r = api_store_result(c, commands_capture_request(c->store, dev.device_id, request_id,
                                                     (int32_t)duration, c->user.username, now,
                                                     CAPTURES_TIMEOUT_MS));
    if (r) {
        store_capture_fail(c->store, dev.id, request_id, "the request was not queued",
                           time_now_ms());
        api_store_error(c, r);
        goto out;
    }
    commands_wake(atomic_load(&c->app->commands));
    log_info("api: %s asked %s for a %d ms capture (capture %lld, request %s)", c->user.username,
             dev.device_id, (int)duration, (long long)id, request_id);
    api_audit(c, "capture.request", dev.device_id, "duration_ms=%d capture_id=%lld", (int)duration,
              (long long)id);

    char location[128];
    snprintf(location, sizeof(location), "/api/devices/%s/captures/%lld", dev.device_id,
             (long long)id);
    http_response_header(c->res, "Location", location);
    struct jsonw w;
    api_success(c, 202, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_kint(&w, "capture_id", id);
    jsonw_kstr(&w, "request_id", request_id);
    jsonw_kstr(&w, "state", "pending");
    jsonw_kint(&w, "duration_ms", (int64_t)duration);
    jsonw_ktime(&w, "requested_at", now);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    json_decref(body);
}

struct list_ctx {
    struct jsonw *w;
    int64_t now_ms;
    int64_t last_id; /* of the last capture written */
};

static int write_list_item(const struct capture_rec *cap, void *ctx)
{
    struct list_ctx *l = ctx;
    struct capture_rec shown = *cap;
    l->last_id = cap->id;
    apply_timeout(&shown, l->now_ms);
    jsonw_obj_begin(l->w);
    write_summary(l->w, &shown);
    jsonw_obj_end(l->w);
    return 0;
}

/* GET .../captures with cursor ("" from the newest, else next_cursor): a page, the total and the
   next page's cursor (the last capture's id). */
static void captures_page(struct api_call *c, const struct device_rec *dev, int64_t limit,
                          const char *cursor)
{
    int64_t before = 0, total = 0;
    if (cursor[0] && api_parse_count(cursor, 1, INT64_MAX, &before))
        return (void)api_error(c, 400, "cursor is not one this server handed out (next_cursor)");
    int r = api_store_result(c, store_capture_count(c->store, dev->id, &total));
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    struct list_ctx l = {.w = &w, .now_ms = time_now_ms()};
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev->device_id);
    jsonw_key(&w, "captures");
    jsonw_arr_begin(&w);
    bool more = false;
    r = api_store_result(c, store_capture_page(c->store, dev->id, before, (size_t)limit,
                                               write_list_item, &l, &more));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    char next[24];
    snprintf(next, sizeof(next), "%lld", (long long)l.last_id);
    api_write_page_end(&w, total, limit, more && l.last_id > 0 ? next : NULL);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_captures_list(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    int64_t limit = CAPTURE_LIST_DEFAULT;
    const char *q = http_query(c->req, "limit");
    if (q && api_parse_count(q, 1, CAPTURE_LIST_MAX, &limit)) {
        api_error(c, 400, "limit must be an integer from 1 to %d", CAPTURE_LIST_MAX);
        return;
    }
    /* With a cursor: a page with its total; without one, the answer as before paging. */
    const char *cursor = http_query(c->req, "cursor");
    if (cursor) {
        captures_page(c, &dev, limit, cursor);
        return;
    }
    struct jsonw w;
    struct list_ctx l = {.w = &w, .now_ms = time_now_ms()};
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_key(&w, "captures");
    jsonw_arr_begin(&w);
    int r = api_store_result(
        c, store_capture_list(c->store, dev.id, (size_t)limit, write_list_item, &l));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_capture_detail(struct api_call *c)
{
    struct device_rec dev;
    struct capture_rec cap;
    if (api_device_for_caller(c, c->params[0], &dev) || load_capture(c, &dev, false, &cap))
        return;
    json_t *analysis = NULL;
    if (cap.analysis) {
        char err[JSON_ERR_LEN];
        if (json_load_limited(cap.analysis, strlen(cap.analysis), ANALYSIS_JSON_DEPTH, &analysis,
                              err)) {
            log_error("api: capture %lld of %s: stored analysis unreadable: %s", (long long)cap.id,
                      dev.device_id, err);
            analysis = NULL;
        }
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    write_summary(&w, &cap);
    jsonw_key(&w, "analysis");
    if (analysis)
        api_json_value(&w, analysis);
    else
        jsonw_null(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
    json_decref(analysis);
    capture_rec_clear(&cap);
}

/* Loads a complete capture with its samples; answers and returns -1 otherwise. */
static int load_samples(struct api_call *c, struct device_rec *dev, struct capture_rec *cap)
{
    if (api_device_for_caller(c, c->params[0], dev) || load_capture(c, dev, true, cap))
        return -1;
    if (cap->status != CAPTURE_COMPLETE || !cap->x[0]) {
        capture_rec_clear(cap);
        return api_error(c, 409, "capture %lld is %s: it has no samples", (long long)cap->id,
                         capture_status_name(cap->status));
    }
    return 0;
}

static void write_samples(struct jsonw *w, const char *key, const float *x, size_t n, size_t step)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t k = 0; k < n; k += step)
        jsonw_double(w, x[k]);
    jsonw_arr_end(w);
}

void api_capture_samples(struct api_call *c)
{
    int64_t decimate = 1;
    const char *q = http_query(c->req, "decimate");
    struct device_rec dev;
    struct capture_rec cap;
    if (load_samples(c, &dev, &cap))
        return;
    if (q && api_parse_count(q, 1, CAPTURE_DECIMATE_MAX, &decimate)) {
        api_error(c, 400, "decimate must be an integer from 1 to %d", CAPTURE_DECIMATE_MAX);
        goto out;
    }
    size_t step = (size_t)decimate;
    size_t points = (cap.samples + step - 1) / step;
    /* CAPTURE_POINTS_MAX pairs: the same count of values over all channels. */
    size_t max_points = 2 * CAPTURE_POINTS_MAX / (cap.channels ? cap.channels : 2);
    if (points > max_points) {
        api_error(c, 413,
                  "%zu samples are more than one answer carries (%zu); ask with decimate=%zu",
                  points, max_points, (cap.samples + max_points - 1) / max_points);
        goto out;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_kint(&w, "capture_id", cap.id);
    jsonw_kint(&w, "decimate", decimate);
    jsonw_kdouble(&w, "rate_hz", cap.rate_hz / (double)step);
    jsonw_ktime(&w, "start", cap.start_ms);
    jsonw_kint(&w, "samples", (int64_t)points);
    if (three_phase(&cap)) {
        jsonw_kstr(&w, "wiring", cap.wiring);
        write_channel_list(&w, "channels", &cap, false);
    }
    write_channel_list(&w, "units", &cap, true);
    for (size_t k = 0; k < cap.channels; k++)
        write_samples(&w, cap.channel[k], cap.x[k], cap.samples, step);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    capture_rec_clear(&cap);
}

/* Answers the capture's COMTRADE .cfg (cfg) or .dat. */
static void comtrade_answer(struct api_call *c, bool cfg)
{
    struct device_rec dev;
    struct capture_rec cap;
    if (load_samples(c, &dev, &cap))
        return;
    struct comtrade_meta m = {
        .station = dev.device_id,
        .device = COMTRADE_RECORDER,
        .rate_hz = cap.rate_hz,
        .nominal_hz = cap.nominal_hz > 0 ? cap.nominal_hz : 50,
        .start_ms = cap.start_ms,
        .trigger_ms = cap.start_ms,
    };
    /* Channel ids in capitals (V, I; VA, IAB, ...), the phase from the name's tail. */
    struct comtrade_channel ch[CAPTURE_CHANNELS_MAX];
    char ids[CAPTURE_CHANNELS_MAX][CAPTURE_CHANNEL_NAME_MAX + 1];
    for (size_t k = 0; k < cap.channels; k++) {
        const char *name = cap.channel[k];
        size_t len = strlen(name);
        for (size_t j = 0; j <= len; j++)
            ids[k][j] = (char)toupper((unsigned char)name[j]);
        ch[k] = (struct comtrade_channel){ids[k], name + 1, channel_unit(name), cap.x[k]};
    }
    dynbuf_reset(&c->res->body);
    int r = cfg ? comtrade_write_cfg_channels(&m, ch, cap.channels, cap.samples, &c->res->body)
                : comtrade_write_dat_channels(&m, ch, cap.channels, cap.samples, &c->res->body);
    if (r == -E2BIG) {
        api_error(c, 413, "answer too large");
    } else if (r) {
        log_error("api: COMTRADE of capture %lld of %s: %s", (long long)cap.id, dev.device_id,
                  strerror(-r));
        api_error(c, 500, "internal error");
    } else {
        /* The same base name for both files, as COMTRADE readers expect; ':' is not for files. */
        char base[DEVICE_ID_MAX + 1], disposition[128];
        snprintf(base, sizeof(base), "%s", dev.device_id);
        for (char *p = base; *p; p++)
            if (*p == ':')
                *p = '_';
        snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s-capture-%lld.%s\"",
                 base, (long long)cap.id, cfg ? "cfg" : "dat");
        c->res->status = 200;
        c->res->content_type = "text/plain; charset=us-ascii";
        http_response_header(c->res, "Content-Disposition", disposition);
    }
    capture_rec_clear(&cap);
}

void api_capture_comtrade_cfg(struct api_call *c)
{
    comtrade_answer(c, true);
}

void api_capture_comtrade_dat(struct api_call *c)
{
    comtrade_answer(c, false);
}
