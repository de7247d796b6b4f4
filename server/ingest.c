#include "ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"
#include "telemetry.h"
#include "timeutil.h"

#define LOG_WINDOW_MS 60000

struct ingest {
    char *db_url;
    struct ingest_limits limits;
    struct ingest_stats *stats;
    struct store *store;
    struct reading *batch; /* limits.max_batch readings, reused */
    struct ratelimit *log_limit;
};

struct ingest *ingest_new(const char *db_url, const struct ingest_limits *limits,
                          struct ingest_stats *stats)
{
    struct ingest *ing = calloc(1, sizeof(*ing));
    if (!ing)
        return NULL;
    ing->db_url = strdup(db_url);
    ing->limits = *limits;
    ing->stats = stats;
    ing->batch = calloc(limits->max_batch ? limits->max_batch : 1, sizeof(struct reading));
    ing->log_limit = ratelimit_new(4096, LOG_WINDOW_MS, 1);
    if (!ing->db_url || !ing->batch || !ing->log_limit) {
        ingest_free(ing);
        return NULL;
    }
    return ing;
}

void ingest_free(struct ingest *ing)
{
    if (!ing)
        return;
    store_close(ing->store);
    ratelimit_free(ing->log_limit);
    free(ing->batch);
    free(ing->db_url);
    free(ing);
}

/* Logs a rejected message at most once per device and kind per minute. */
static void log_rejected(struct ingest *ing, const char *kind, const char *device,
                         const char *reason)
{
    char key[DEVICE_ID_MAX + 32];
    uint32_t count;
    snprintf(key, sizeof(key), "%s:%s", kind, device);
    ratelimit_hit(ing->log_limit, key, time_mono_ms(), &count, NULL);
    if (count == 1)
        log_warn("ingest: %s from device '%s': %s (further ones logged once a minute)", kind,
                 device, reason);
}

/* Splits meters/<id>/<leaf>. Returns 0 with id copied, or -EINVAL. */
static int parse_topic(const char *topic, char id[DEVICE_ID_MAX + 1], const char **ret_leaf)
{
    if (strncmp(topic, "meters/", 7) != 0)
        return -EINVAL;
    const char *p = topic + 7;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) > DEVICE_ID_MAX)
        return -EINVAL;
    memcpy(id, p, (size_t)(slash - p));
    id[slash - p] = '\0';
    if (!device_id_valid(id))
        return -EINVAL;
    *ret_leaf = slash + 1;
    return 0;
}

/* The ingest's connection, (re)opened as needed; NULL when the database is unreachable. */
static struct store *get_store(struct ingest *ing)
{
    if (!ing->store) {
        char err[STORE_ERR_LEN];
        if (store_open(ing->db_url, &ing->store, err)) {
            ing->store = NULL;
            log_at(LOGL_WARN, "ingest: database unavailable: %s", err);
            return NULL;
        }
    }
    return ing->store;
}

/* Maps a store error to what the broker should do with the message. */
static enum ingest_result store_trouble(struct ingest *ing, int r, const char *what)
{
    atomic_fetch_add(&ing->stats->db_errors, 1);
    log_warn("ingest: %s: %s", what, store_errmsg(ing->store));
    if (r == -ENOTCONN) {
        store_close(ing->store);
        ing->store = NULL;
    }
    return INGEST_RETRY;
}

static enum ingest_result handle_telemetry(struct ingest *ing, const char *device_id,
                                           const void *payload, size_t len)
{
    struct store *st = get_store(ing);
    if (!st)
        return INGEST_RETRY;
    struct device_rec dev;
    int r = store_device_by_name(st, device_id, &dev);
    if (r == -ENOENT) {
        atomic_fetch_add(&ing->stats->unknown_device, 1);
        log_rejected(ing, "message for unknown device", device_id, "not registered");
        return INGEST_DONE;
    }
    if (r)
        return store_trouble(ing, r, "device lookup");

    struct telemetry_opts opts = {
        .device_id = device_id,
        .now_ms = time_now_ms(),
        .max_future_ms = 24 * 3600 * 1000,
        .require_seq_ts = true,
        .max_items = ing->limits.max_batch,
    };
    struct telemetry_result res;
    r = telemetry_decode(payload, len, &opts, ing->batch, ing->limits.max_batch, &res);
    if (r || res.n_invalid) {
        atomic_fetch_add(&ing->stats->invalid, r ? 1 : res.n_invalid);
        log_rejected(ing, "invalid telemetry", device_id, res.first_error);
    }
    if (res.n_valid == 0)
        return INGEST_DONE;

    size_t inserted = 0;
    r = store_readings_insert(st, dev.id, ing->batch, res.n_valid, &inserted);
    if (r)
        return store_trouble(ing, r, "storing readings");
    atomic_fetch_add(&ing->stats->readings_stored, inserted);
    atomic_fetch_add(&ing->stats->duplicates, res.n_valid - inserted);
    return INGEST_DONE;
}

static enum ingest_result handle_status(struct ingest *ing, const char *device_id,
                                        const void *payload, size_t len)
{
    char err[JSON_ERR_LEN];
    json_t *root;
    enum device_status status;

    if (len == 0) /* a retained status being cleared */
        return INGEST_DONE;
    if (json_load_limited(payload, len, 4, &root, err)) {
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid status", device_id, err);
        return INGEST_DONE;
    }
    const char *s = json_string_value(json_object_get(root, "status"));
    int64_t at_ms = time_now_ms();
    const char *ts = json_string_value(json_object_get(root, "ts"));
    int64_t meter_ms;
    /* The meter's own time when it gave one (the last will carries none). */
    if (ts && time_parse_rfc3339(ts, &meter_ms) == 0 && meter_ms >= TIME_MIN_VALID_MS &&
        meter_ms <= at_ms + 24 * 3600 * 1000)
        at_ms = meter_ms;
    if (s && strcmp(s, "online") == 0) {
        status = DEVICE_STATUS_ONLINE;
    } else if (s && strcmp(s, "offline") == 0) {
        status = DEVICE_STATUS_OFFLINE;
    } else {
        json_decref(root);
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid status", device_id, "status must be \"online\" or \"offline\"");
        return INGEST_DONE;
    }
    json_decref(root);

    struct store *st = get_store(ing);
    if (!st)
        return INGEST_RETRY;
    struct device_rec dev;
    int r = store_device_by_name(st, device_id, &dev);
    if (r == -ENOENT) {
        atomic_fetch_add(&ing->stats->unknown_device, 1);
        log_rejected(ing, "status of unknown device", device_id, "not registered");
        return INGEST_DONE;
    }
    /* Retained statuses come again on every (re)subscription: only changes count. */
    if (!r && dev.status == status)
        return INGEST_DONE;
    if (!r)
        r = store_device_set_status(st, dev.id, status, at_ms);
    if (r)
        return store_trouble(ing, r, "storing status");
    atomic_fetch_add(&ing->stats->status_updates, 1);
    return INGEST_DONE;
}

enum ingest_result ingest_message(struct ingest *ing, const char *topic, const void *payload,
                                  size_t len)
{
    char device_id[DEVICE_ID_MAX + 1];
    const char *leaf;

    atomic_fetch_add(&ing->stats->messages, 1);
    if (parse_topic(topic, device_id, &leaf)) {
        atomic_fetch_add(&ing->stats->bad_topic, 1);
        log_rejected(ing, "message on unexpected topic", "-", "topic is not meters/<id>/...");
        return INGEST_DONE;
    }
    if (len > ing->limits.max_payload_bytes) {
        atomic_fetch_add(&ing->stats->too_large, 1);
        log_rejected(ing, "oversized payload", device_id, "larger than max_payload_bytes");
        return INGEST_DONE;
    }
    if (strcmp(leaf, "telemetry") == 0)
        return handle_telemetry(ing, device_id, payload, len);
    if (strcmp(leaf, "status") == 0)
        return handle_status(ing, device_id, payload, len);
    atomic_fetch_add(&ing->stats->bad_topic, 1);
    log_rejected(ing, "message on unexpected topic", device_id, "not telemetry or status");
    return INGEST_DONE;
}
