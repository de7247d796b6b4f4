/*
 * The seed's upload endpoint: POST /api/device/data (a meter uploads, with
 * its own secret). Its history twin, GET /api/device/data/:id, lives in
 * api_history.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "devcache.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"
#include "writer.h"

/* How long an upload waits for the commit of its readings before answering 503. */
#define UPLOAD_COMMIT_TIMEOUT_MS 10000

/*
 * The answer to an upload once its fate is known: 200 with its counts, 409
 * when readings without seq found no seq left (the others are stored), 503
 * when not committed in time (or the server is stopping), else 500.
 */
static void upload_answer(struct api_call *c, int e, size_t n, size_t inserted)
{
    if (e == -ERANGE) {
        atomic_fetch_add(&c->app->stats->http_readings_stored, inserted);
        api_error(c, 409,
                  "no seq left for readings without one: the device's highest seq is the "
                  "largest there is (%lld); send readings with their own seq",
                  (long long)READING_SEQ_MAX);
        return;
    }
    if (e == -ETIMEDOUT || e == -ESHUTDOWN) {
        /* Still queued: a late commit stores them, and a retry finds them as duplicates. */
        log_warn("api: upload of %zu readings not committed in %d ms", n, UPLOAD_COMMIT_TIMEOUT_MS);
        http_response_header(c->res, "Retry-After", "5");
        api_error(c, 503, "database unavailable, try again shortly");
        return;
    }
    if (e) {
        log_error("api: upload of %zu readings: %s", n, strerror(-e));
        api_error(c, 500, "internal error");
        return;
    }
    atomic_fetch_add(&c->app->stats->http_uploads, 1);
    atomic_fetch_add(&c->app->stats->http_readings_stored, inserted);
    atomic_fetch_add(&c->app->stats->http_duplicates, n - inserted);
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kint(&w, "stored", (int64_t)inserted);
    jsonw_kint(&w, "duplicates", (int64_t)(n - inserted));
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* An upload waiting for its commit without holding a thread. */
struct upload_wait {
    struct app *app;
    struct http_deferred *answer;
    size_t n;
};

/* From the writer: the upload's fate; answers it. */
static void upload_done(void *ctx, int e, size_t inserted)
{
    struct upload_wait *u = ctx;
    struct api_call c = {.app = u->app, .res = http_deferred_response(u->answer)};
    upload_answer(&c, e, u->n, inserted);
    http_resume(u->answer);
    free(u);
}

/*
 * Stores one upload's valid readings and answers it: through the writer,
 * sharing its transaction with concurrent uploads (group commit), the answer
 * deferred until the commit so no thread waits; or, without a writer (or
 * while the server stops), in a transaction of its own or waiting.
 */
static void upload_store(struct api_call *c, int64_t device_pk, const struct reading *r, size_t n)
{
    size_t inserted = 0;
    struct writer *w = c->app->writer;
    if (!w) {
        struct store *st = api_store(c);
        if (!st)
            return;
        struct store_batch_item *items = calloc(n, sizeof(*items));
        if (!items) {
            api_error(c, 500, "internal error");
            return;
        }
        for (size_t k = 0; k < n; k++)
            items[k] = (struct store_batch_item){.device_pk = device_pk, .reading = r[k]};
        int e = api_store_result(c, store_readings_insert_batch(st, items, n, &inserted));
        bool no_seq_left = false;
        for (size_t k = 0; k < n; k++)
            no_seq_left |= items[k].no_seq_left;
        free(items);
        if (e)
            api_store_error(c, e);
        else
            upload_answer(c, no_seq_left ? -ERANGE : 0, n, inserted);
        return;
    }
    struct upload_wait *u = malloc(sizeof(*u));
    struct http_deferred *d = u ? http_defer(c->req) : NULL;
    if (!d) {
        free(u);
        int e = writer_submit_wait(w, device_pk, r, n, &inserted, UPLOAD_COMMIT_TIMEOUT_MS);
        upload_answer(c, e, n, inserted);
        return;
    }
    *u = (struct upload_wait){.app = c->app, .answer = d, .n = n};
    int e = writer_submit_async(w, device_pk, r, n, UPLOAD_COMMIT_TIMEOUT_MS, upload_done, u);
    if (e)
        upload_done(u, e, 0); /* not queued: answered at once through the deferred answer */
}

/* The device_id every item of an upload names; all must agree. 0, or answers 400/403. */
static int upload_device_id(struct api_call *c, const json_t *root, const char **ret)
{
    const char *id = NULL;
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_is_array(root) ? json_array_get(root, i) : root;
        const json_t *v = json_object_get(item, "device_id");
        if (!v)
            continue;
        if (!json_is_string(v))
            return api_error(c, 400, "device_id must be a string");
        if (!id)
            id = json_string_value(v);
        else if (strcmp(id, json_string_value(v)) != 0)
            return api_error(c, 403, "one upload may carry only its own device's data");
    }
    if (!id)
        return api_error(c, 400, "device_id is missing");
    *ret = id;
    return 0;
}

/*
 * The uploading device, its secret checked: from the device cache when it
 * holds the device, else from the database (and cached). A secret refused
 * against a cached hash is checked again against the database, so a secret
 * changed there counts at once. 0, or answers 403/5xx and returns -1.
 */
static int upload_device(struct api_call *c, const char *device_id, const char *secret,
                         struct device_rec *dev)
{
    struct devcache *cache = c->app->devices;
    int64_t now = time_mono_ms();
    if (!device_id_valid(device_id))
        return api_error(c, 403, "this secret does not authorize uploads for device %s",
                         "(invalid id)");
    if (devcache_get(cache, device_id, now, dev, NULL, NULL) == 0) {
        if (auth_device_secret_verify(dev->secret_hash, secret))
            return 0;
        devcache_forget(cache, device_id);
    }
    struct store *st = api_store(c);
    if (!st)
        return -1;
    int r = api_store_result(c, store_device_by_name(st, device_id, dev));
    if (r && r != -ENOENT)
        return api_store_error(c, r);
    if (r == -ENOENT || !auth_device_secret_verify(dev->secret_hash, secret))
        return api_error(c, 403, "this secret does not authorize uploads for device %s", device_id);
    devcache_put(cache, dev, now);
    return 0;
}

void api_data_upload(struct api_call *c)
{
    const char *h = http_header(c->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        http_response_header(c->res, "WWW-Authenticate", "Bearer");
        api_error(c, 401, "missing device secret (Authorization: Bearer <device secret>)");
        return;
    }
    const char *secret = h + 7;
    while (*secret == ' ')
        secret++;

    char err[JSON_ERR_LEN];
    json_t *root = NULL;
    struct reading *batch = NULL;
    if (c->req->body_len == 0) {
        api_error(c, 400, "request body must be a reading or an array of readings");
        return;
    }
    if (json_load_limited(c->req->body, c->req->body_len, TELEMETRY_MAX_DEPTH, &root, err)) {
        api_error(c, 400, "%s", err);
        return;
    }
    if (!json_is_object(root) && !json_is_array(root)) {
        api_error(c, 400, "request body must be a reading or an array of readings");
        goto out;
    }
    size_t max = (size_t)c->app->opt->max_batch;
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    if (n == 0 || n > max) {
        api_error(c, 400, "an upload carries 1 to %zu readings", max);
        goto out;
    }
    const char *device_id = NULL;
    if (upload_device_id(c, root, &device_id))
        goto out;

    /* Unknown device and wrong secret answer alike, so ids cannot be probed. */
    struct device_rec dev;
    if (upload_device(c, device_id, secret, &dev))
        goto out;
    /* Counted once the secret is known good: nobody else can spend a device's budget. */
    int64_t retry_ms = 0;
    if (c->app->device_uploads &&
        ratelimit_take(c->app->device_uploads, dev.device_id, time_mono_ms(), NULL, &retry_ms)) {
        api_too_many(c, retry_ms, "too many uploads for this device");
        goto out;
    }

    batch = calloc(n, sizeof(*batch));
    if (!batch) {
        api_error(c, 500, "out of memory");
        goto out;
    }
    struct telemetry_opts opts = {
        .device_id = dev.device_id,
        .now_ms = time_now_ms(),
        .max_future_ms = 24 * 3600 * 1000,
        .require_seq_ts = false,
        .max_items = max,
    };
    struct telemetry_result res;
    if (telemetry_decode_json(root, &opts, batch, n, &res) || res.n_invalid) {
        api_error(c, 400, "%s", res.first_error);
        goto out;
    }
    upload_store(c, dev.id, batch, res.n_valid);
out:
    free(batch);
    json_decref(root);
}
