/*
 * GET /api/device/data/:id: a device's history, raw readings or buckets.
 * Buckets of whole minutes and coarser are combined from rollup rows (1m,
 * 1h or local-day 1d rows, whichever divides the interval), so they never
 * read raw readings and still answer past the raw readings' retention;
 * sub-minute buckets come from raw readings over a capped range.
 *
 * `phase=a|b|c` answers that phase's fields only (voltage_a, current_a,
 * power_w_a, ...); without it the answer holds the fields of the whole
 * system (a three-phase device's per-phase fields come with phase=). Raw
 * buckets aggregate only the columns they answer: a single-phase device's
 * history (its newest reading has no three-phase field) costs what it did
 * before three-phase metering.
 *
 * Answers whose meaning cannot change while the device's data_version stays
 * (every raw answer, and bucket answers with an explicit `to`) carry an ETag
 * naming (device, data_version, normalised query), get 304 for a matching
 * If-None-Match, and are kept in the history cache (histcache.h). Bucket
 * answers whose range ends at "now" follow the clock and are neither.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_query.h"
#include "histcache.h"
#include "history.h"
#include "sitetime.h"
#include "timeutil.h"

#define HISTORY_DEFAULT_LIMIT   1000
#define HISTORY_MAX_LIMIT       10000
#define HISTORY_MAX_POINTS      5000
#define DEFAULT_BUCKET_RANGE_MS (24 * HISTORY_HOUR_MS)
/* Raw readings scanned for sub-minute buckets: a day at most (86 400 readings at 1 Hz). */
#define RAW_BUCKET_MAX_RANGE_MS (24 * HISTORY_HOUR_MS)
/* Rollup rows read for one answer: 100 000 is 69 days of minutes, 11 years of hours. */
#define ROLLUP_MAX_ROWS 100000

/* What one history answer holds: its writer and the fields asked for. */
struct history_out {
    struct jsonw *w;
    enum reading_fields fields;
    bool phase; /* phase= was given: only that phase's fields */
};

static int write_row(const struct reading *r, void *ctx)
{
    struct history_out *out = ctx;
    if (!out->phase) {
        api_write_reading(out->w, r);
    } else {
        struct reading one = *r;
        one.real_present &= reading_fields_reals(out->fields);
        one.counter_present &= reading_fields_counters(out->fields);
        memset(one.label, 0, sizeof(one.label));
        api_write_reading(out->w, &one);
    }
    return jsonw_error(out->w) == -E2BIG ? -E2BIG : 0;
}

/* A bucket in the shape docs/api.md gives; used_mwh NULL for raw buckets (not known). */
static int write_bucket_fields(struct jsonw *w, const struct reading_bucket *b,
                               const struct history_bucket *h)
{
    char key[64];
    jsonw_obj_begin(w);
    jsonw_ktime(w, "timestamp", b->start_ms);
    jsonw_kint(w, "count", b->count);
    for (int f = 0; f < RR__COUNT; f++) {
        if (!(b->real_present & (UINT64_C(1) << f)))
            continue;
        const char *name = reading_reals[f].json;
        jsonw_kdouble(w, name, b->avg[f]);
        snprintf(key, sizeof(key), "%s_min", name);
        jsonw_kdouble(w, key, b->min[f]);
        snprintf(key, sizeof(key), "%s_max", name);
        jsonw_kdouble(w, key, b->max[f]);
    }
    for (int k = 0; k < RC__COUNT; k++) {
        if (!(b->counter_present & (UINT64_C(1) << k)))
            continue;
        jsonw_key(w, reading_counters[k].json);
        if (reading_counters[k].scale == 1000)
            jsonw_milli(w, b->counter_last[k]);
        else
            jsonw_int(w, b->counter_last[k]);
    }
    if (h && h->has_import) {
        jsonw_key(w, "energy_used_wh");
        jsonw_milli(w, h->import_used_mwh);
    }
    if (h && h->has_export) {
        jsonw_key(w, "energy_export_used_wh");
        jsonw_milli(w, h->export_used_mwh);
    }
    jsonw_obj_end(w);
    return jsonw_error(w) == -E2BIG ? -E2BIG : 0;
}

static int write_raw_bucket(const struct reading_bucket *b, void *ctx)
{
    struct history_out *out = ctx;
    return write_bucket_fields(out->w, b, NULL);
}

/* Whether a reading comes from a three-phase meter: its wiring says so, or it has per-phase
   fields. */
static bool reading_is_three_phase(const struct reading *r)
{
    const char *wiring = reading_label_text(r, RL_WIRING);
    if (wiring)
        return strcmp(wiring, "1p2w") != 0;
    return (r->real_present & ~reading_fields_reals(READING_FIELDS_SINGLE)) != 0;
}

/* Stops the scan (without an error) once the combiner holds its buckets. */
#define STOP_SCAN (-ECANCELED)

struct rollup_scan {
    struct history_combiner comb;
    size_t rows;
};

static int add_rollup(const struct rollup_rec *r, void *ctx)
{
    struct rollup_scan *scan = ctx;
    int rc = history_combiner_add(&scan->comb, r);
    if (rc == HISTORY_COMBINER_FULL)
        return STOP_SCAN;
    scan->rows++;
    return rc;
}

/* Answers the store result r of a streamed answer (413 when too large). 0 when r is 0. */
static int stream_result(struct api_call *c, int r)
{
    api_store_result(c, r);
    if (r == -E2BIG)
        return api_error(c, 413, "answer too large; ask for a smaller limit or a coarser interval");
    if (r == -ENOMEM)
        return api_error(c, 500, "out of memory");
    if (r)
        return api_store_error(c, r);
    return 0;
}

/*
 * Buckets from rollups: the newest `limit` buckets with data of interval over [from, to),
 * reading rollup rows newest first until they are complete (ROLLUP_MAX_ROWS at most).
 */
static void answer_rollup_buckets(struct api_call *c, const struct device_rec *dev, int64_t from,
                                  int64_t to, int64_t interval, enum rollup_period period,
                                  int64_t limit, enum reading_fields fields)
{
    bool phase = fields >= READING_FIELDS_PHASE_A;
    /* Rows that overlap the range: start at the row holding from. */
    int64_t lo = period == ROLLUP_1D ? sitetime_day_start(from)
                                     : history_bucket_start(from, history_period_ms(period));
    struct rollup_scan scan = {.rows = 0};
    history_combiner_init(&scan.comb, interval, (size_t)limit);
    int r = store_rollups_query(c->store, dev->id, period, lo, to, true, ROLLUP_MAX_ROWS,
                                add_rollup, &scan);
    if (r == STOP_SCAN)
        r = 0;
    else if (!r && scan.rows == ROLLUP_MAX_ROWS) {
        /* The oldest bucket may lack rows: refuse rather than answer it short. */
        api_error(c, 400,
                  "this range needs more than %d %s rollups: ask for a coarser interval, a "
                  "shorter range or a smaller limit",
                  ROLLUP_MAX_ROWS, rollup_period_name(period));
        goto out;
    }
    struct rollup_counters before = {0};
    if (!r && scan.comb.n)
        r = store_rollup_counters_before(c->store, dev->id, period, scan.comb.oldest_row_ms,
                                         &before);
    if (stream_result(c, r))
        goto out;
    history_combiner_finish(&scan.comb, &before);

    struct jsonw w;
    api_json(c, 200, &w);
    jsonw_arr_begin(&w);
    for (size_t i = scan.comb.n; i-- > 0 && !r;) {
        struct reading_bucket b;
        history_bucket_to_reading_bucket(&scan.comb.b[i], &b);
        b.real_present &= reading_fields_reals(fields);
        b.counter_present &= reading_fields_counters(fields);
        /* The energy of a bucket is the whole system's: not part of one phase's answer. */
        r = write_bucket_fields(&w, &b, phase ? NULL : &scan.comb.b[i]);
    }
    if (stream_result(c, r))
        goto out;
    jsonw_arr_end(&w);
    api_json_done(c, &w);
out:
    history_combiner_free(&scan.comb);
}

/*
 * Buckets under a minute, from raw readings over at most RAW_BUCKET_MAX_RANGE_MS: like the
 * rollup buckets, the newest `limit` that hold data. A longer range is first cut to the
 * `limit` buckets before `to` (what a chart of the latest readings asks for).
 */
static void answer_raw_buckets(struct api_call *c, const struct device_rec *dev, int64_t from,
                               int64_t to, int64_t interval, int64_t limit,
                               enum reading_fields fields)
{
    if (to - from > RAW_BUCKET_MAX_RANGE_MS) {
        int64_t oldest = history_bucket_start(to - 1, interval) - (limit - 1) * interval;
        if (oldest > from)
            from = oldest;
    }
    if (to - from > RAW_BUCKET_MAX_RANGE_MS) {
        api_error(c, 400,
                  "intervals under a minute cover at most 24 h: ask for a shorter range or an "
                  "interval of 1m or more");
        return;
    }
    if (fields == READING_FIELDS_SYSTEM) {
        /* Whole-system fields: those of single phase unless the device sends three phases. */
        struct reading latest;
        int r = store_reading_latest(c->store, dev->id, &latest);
        if (r && r != -ENOENT) {
            stream_result(c, r);
            return;
        }
        if (r == -ENOENT || !reading_is_three_phase(&latest))
            fields = READING_FIELDS_SINGLE;
    }
    struct jsonw w;
    api_json(c, 200, &w);
    jsonw_arr_begin(&w);
    struct history_out out = {&w, fields, false};
    int r = store_readings_buckets_of(c->store, dev->id, from, to, interval, fields, (size_t)limit,
                                      write_raw_bucket, &out);
    if (stream_result(c, r))
        return;
    jsonw_arr_end(&w);
    api_json_done(c, &w);
}

/* Builds the answer from the database into c->res (streamed; any status). */
static void answer_from_store(struct api_call *c, const struct device_rec *dev, int64_t from,
                              int64_t to, int64_t limit, int64_t bucket, enum reading_fields fields)
{
    if (!bucket) {
        struct jsonw w;
        api_json(c, 200, &w);
        jsonw_arr_begin(&w);
        struct history_out out = {&w, fields, fields >= READING_FIELDS_PHASE_A};
        int r = store_readings_query(c->store, dev->id, from, to, (size_t)limit, write_row, &out);
        if (stream_result(c, r))
            return;
        jsonw_arr_end(&w);
        api_json_done(c, &w);
        return;
    }
    enum rollup_period period;
    if (history_period_for(bucket, &period) == 0)
        answer_rollup_buckets(c, dev, from, to, bucket, period, limit, fields);
    else
        answer_raw_buckets(c, dev, from, to, bucket, limit, fields);
}

/* Whether the client's If-None-Match (a list of tags, or "*") names etag. */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    return strcmp(if_none_match, "*") == 0 || strstr(if_none_match, etag) != NULL;
}

/*
 * Answers a cacheable query: 304 when the client holds the current ETag, else
 * the cached body, else the body built now (and cached when it is a 200).
 * The data_version was read before the readings, so a body built now is at
 * least as new as its key says: an entry can hold newer data, never older.
 */
static void answer_cacheable(struct api_call *c, const struct device_rec *dev, int64_t from,
                             int64_t to, int64_t limit, int64_t bucket, enum reading_fields fields)
{
    char query[160], etag[96];
    snprintf(query, sizeof(query),
             "from=%" PRId64 "&to=%" PRId64 "&limit=%" PRId64 "&interval=%" PRId64 "&fields=%d",
             from, to, limit, bucket, (int)fields);
    snprintf(etag, sizeof(etag), "\"d%" PRId64 "-v%" PRId64 "-%016" PRIx64 "\"", dev->id,
             dev->data_version, histcache_query_hash(query));
    const char *inm = http_header(c->req, "If-None-Match");
    if (inm && etag_matches(inm, etag)) {
        dynbuf_reset(&c->res->body);
        c->res->status = 304;
        http_response_header(c->res, "ETag", etag);
        http_response_header(c->res, "Cache-Control", "no-cache");
        return;
    }
    struct histcache *cache = c->app->history_cache;
    dynbuf_reset(&c->res->body);
    int r = histcache_get(cache, dev->id, dev->data_version, query, &c->res->body);
    if (r == 0) {
        c->res->status = 200;
    } else {
        dynbuf_reset(&c->res->body);
        answer_from_store(c, dev, from, to, limit, bucket, fields);
        if (c->res->status != 200)
            return;
        if (cache)
            histcache_put(cache, dev->id, dev->data_version, query, c->res->body.buf,
                          c->res->body.len); /* -E2BIG (larger than the cache): not kept */
    }
    http_response_header(c->res, "ETag", etag);
    http_response_header(c->res, "Cache-Control", "no-cache");
}

void api_data_query(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;

    const char *from_s = http_query(c->req, "from"), *to_s = http_query(c->req, "to");
    const char *limit_s = http_query(c->req, "limit"), *interval_s = http_query(c->req, "interval");
    const char *points_s = http_query(c->req, "points"), *phase_s = http_query(c->req, "phase");
    enum reading_fields fields = READING_FIELDS_SYSTEM;
    int64_t from = 0, to = INT64_MAX, limit = HISTORY_DEFAULT_LIMIT, bucket = 0, points = 0;

    if (from_s && api_parse_instant(from_s, &from)) {
        api_error(c, 400,
                  "from must be an RFC 3339 date-time (e.g. 2026-01-31T00:00:00Z) or "
                  "epoch milliseconds");
        return;
    }
    if (to_s && api_parse_instant(to_s, &to)) {
        api_error(c, 400,
                  "to must be an RFC 3339 date-time (e.g. 2026-01-31T00:00:00Z) or "
                  "epoch milliseconds");
        return;
    }
    if (limit_s && api_parse_count(limit_s, 1, HISTORY_MAX_LIMIT, &limit)) {
        api_error(c, 400, "limit must be an integer from 1 to %d", HISTORY_MAX_LIMIT);
        return;
    }
    if (phase_s) {
        if (strlen(phase_s) != 1 || !strchr("abc", phase_s[0]) || !phase_s[0]) {
            api_error(c, 400, "phase must be a, b or c");
            return;
        }
        fields = reading_fields_phase(phase_s[0]);
    }
    if (interval_s && points_s) {
        api_error(c, 400, "give interval or points, not both");
        return;
    }
    if (interval_s) {
        int r = api_parse_duration(interval_s, &bucket);
        if (r || bucket < 1000) {
            api_error(c, 400,
                      "interval must be a duration of 1 s to 366 d, like 60, 15m, 1h or 1d");
            return;
        }
    }
    if (points_s && api_parse_count(points_s, 1, HISTORY_MAX_POINTS, &points)) {
        api_error(c, 400, "points must be an integer from 1 to %d", HISTORY_MAX_POINTS);
        return;
    }
    if (interval_s || points_s) {
        if (!to_s)
            to = time_now_ms() + 1;
        /* No reading is later than that (telemetry refuses it); keeps calendar math in range. */
        if (to > TIME_MAX_VALID_MS)
            to = TIME_MAX_VALID_MS;
        if (!from_s)
            from = to - DEFAULT_BUCKET_RANGE_MS;
    }
    if (from >= to) {
        api_error(c, 400, "from must be earlier than to");
        return;
    }
    if (points && history_pick_interval(from, to, points, &bucket)) {
        api_error(c, 400, "points=%" PRId64 " is too few for this range (366 d buckets at most)",
                  points);
        return;
    }
    if (!api_store(c))
        return;

    if (bucket) {
        char seconds[24];
        snprintf(seconds, sizeof(seconds), "%" PRId64, bucket / 1000);
        http_response_header(c->res, "X-Interval-Seconds", seconds);
    }
    /* A bucket range ending at "now" follows the clock, not data_version: never cached. */
    if (bucket && !to_s)
        answer_from_store(c, &dev, from, to, limit, bucket, fields);
    else
        answer_cacheable(c, &dev, from, to, limit, bucket, fields);
}
