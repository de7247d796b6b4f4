#include "ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capture.h"
#include "captures.h"
#include "command.h"
#include "commands.h"
#include "devcache.h"
#include "jsonutil.h"
#include "log.h"
#include "ratelimit.h"
#include "sign.h"
#include "status.h"
#include "store.h"
#include "telemetry.h"
#include "timeutil.h"
#include "topic.h"
#include "writer.h"

#define LOG_WINDOW_MS 60000
/*
 * A device's key, once looked up, is kept a minute. A device deleted or given a new
 * secret here is forgotten at once (ingest_forget_device(), called by the API and by the
 * broker provisioning as soon as it sees a change made anywhere); one changed through
 * another instance without provisioning within the TTL (meanwhile the store drops the
 * readings of a deleted device, see store_readings_insert_batch()).
 */
#define DEVICE_CACHE_SLOTS  4096
#define DEVICE_CACHE_TTL_MS 60000

/* The store keeps every request id the wire allows. */
_Static_assert(COMMAND_ID_MAX <= CAPTURE_REQUEST_ID_MAX, "request ids must fit the store");

struct ingest {
    struct store_source db;
    struct ingest_limits limits;
    struct server_counters *stats;
    struct store *store;
    struct reading *batch;   /* limits.max_batch readings, reused */
    uint64_t *rejected;      /* seqs of a message's invalid readings, max_batch, reused */
    struct reading *scratch; /* one reading, for checking items one by one */
    struct ratelimit *log_limit;
    struct writer *writer;
    struct devcache *devices; /* device ids to keys, kept DEVICE_CACHE_TTL_MS */
};

struct ingest *ingest_new(const struct store_source *db, const struct ingest_limits *limits,
                          struct server_counters *stats)
{
    struct ingest *ing = calloc(1, sizeof(*ing));
    if (!ing || store_source_copy(&ing->db, db)) {
        free(ing);
        return NULL;
    }
    ing->limits = *limits;
    if (!ing->limits.max_capture_bytes)
        ing->limits.max_capture_bytes = INGEST_MAX_CAPTURE_BYTES;
    ing->stats = stats;
    size_t max_batch = limits->max_batch ? limits->max_batch : 1;
    ing->batch = calloc(max_batch, sizeof(struct reading));
    ing->rejected = calloc(max_batch, sizeof(uint64_t));
    ing->scratch = calloc(1, sizeof(struct reading));
    if (devcache_new(DEVICE_CACHE_SLOTS, DEVICE_CACHE_TTL_MS, &ing->devices))
        ing->devices = NULL;
    ing->log_limit = ratelimit_new(4096, LOG_WINDOW_MS, 1);
    if (!ing->batch || !ing->rejected || !ing->scratch || !ing->devices || !ing->log_limit) {
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
    devcache_free(ing->devices);
    free(ing->scratch);
    free(ing->rejected);
    free(ing->batch);
    store_source_clear(&ing->db);
    free(ing);
}

void ingest_forget_device(struct ingest *ing, const char *device_id)
{
    devcache_forget(ing->devices, device_id);
}

void ingest_set_writer(struct ingest *ing, struct writer *w)
{
    ing->writer = w;
}

/* Logs a rejected message at most once per device and kind per minute. */
static void log_rejected(struct ingest *ing, const char *kind, const char *device,
                         const char *reason)
{
    char key[DEVICE_ID_MAX + 32];
    uint32_t count;
    snprintf(key, sizeof(key), "%s:%s", kind, device);
    ratelimit_hit(ing->log_limit, key, time_mono_ms(), &count);
    if (count == 1)
        log_warn("ingest: %s from device '%s': %s (further ones logged once a minute)", kind,
                 device, reason);
}

/* The ingest's connection, (re)opened as needed; NULL when the database is unreachable. */
static struct store *get_store(struct ingest *ing)
{
    if (!ing->store) {
        char err[STORE_ERR_LEN];
        if (store_source_open(&ing->db, &ing->store, err)) {
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

/*
 * The device's key, and its secret hash when ret_hash is not NULL: from the
 * cache, else from the database (and cached). Returns 0, -ENOENT for an
 * unregistered device (not cached: it may be registered later), or
 * INGEST_RETRY's cause as a negative errno with the trouble already counted
 * and logged.
 */
/* The device's key and hash; with ret_key, also the signing key of its acks (*ret_keyed: the
   hash gave one), derived once per cache entry rather than once a message. */
static int device_lookup(struct ingest *ing, const char *device_id, int64_t *ret,
                         char ret_hash[SECRET_HASH_LEN + 1], struct sign_key *ret_key,
                         bool *ret_keyed)
{
    struct device_rec dev;
    int64_t now = time_mono_ms();
    int r = devcache_get(ing->devices, device_id, now, &dev, ret_key, ret_keyed);
    if (r) {
        struct store *st = get_store(ing);
        if (!st)
            return -ENOTCONN;
        r = store_device_by_name(st, device_id, &dev);
        if (r == -ENOENT)
            return r;
        if (r) {
            store_trouble(ing, r, "device lookup");
            return r;
        }
        devcache_put(ing->devices, &dev, now);
        if (ret_key)
            *ret_keyed = sign_key_from_hex(dev.secret_hash, ret_key) == 0;
    }
    *ret = dev.id;
    if (ret_hash)
        memcpy(ret_hash, dev.secret_hash, sizeof(dev.secret_hash));
    return 0;
}

int ingest_device_hash(struct ingest *ing, const char *device_id, char ret_hash[65])
{
    _Static_assert(SECRET_HASH_LEN + 1 == 65, "a secret hash is 64 hex characters");
    int64_t pk;
    return device_lookup(ing, device_id, &pk, ret_hash, NULL, NULL);
}

/*
 * The seqs of a message's invalid readings that carry a usable seq (a
 * non-negative integer that no valid reading of the message has), so they can
 * be acknowledged as rejected. Other invalid readings cannot be named.
 */
static size_t rejected_seqs(struct ingest *ing, const json_t *root,
                            const struct telemetry_opts *opts, size_t n_valid)
{
    size_t n = 0, items = json_is_array(root) ? json_array_size(root) : 1;
    for (size_t k = 0; k < items && n < ing->limits.max_batch; k++) {
        const json_t *item = json_is_array(root) ? json_array_get(root, k) : root;
        struct telemetry_result one;
        if (telemetry_decode_json(item, opts, ing->scratch, 1, &one) == 0 && one.n_valid == 1)
            continue;
        uint64_t s;
        if (!telemetry_item_seq(item, &s))
            continue;
        bool also_valid = false;
        for (size_t v = 0; v < n_valid && !also_valid; v++)
            also_valid = ing->batch[v].seq == s;
        if (!also_valid)
            ing->rejected[n++] = s;
    }
    return n;
}

/* Without a writer: store now, one transaction for the message. */
static enum ingest_result store_now(struct ingest *ing, int64_t pk, size_t n)
{
    struct store *st = get_store(ing);
    if (!st)
        return INGEST_RETRY;
    size_t inserted = 0;
    int r = store_readings_insert(st, pk, ing->batch, n, &inserted);
    if (r)
        return store_trouble(ing, r, "storing readings");
    atomic_fetch_add(&ing->stats->readings_stored, inserted);
    atomic_fetch_add(&ing->stats->duplicates, n - inserted);
    return INGEST_DONE;
}

static enum ingest_result handle_telemetry(struct ingest *ing, const char *device_id,
                                           const void *payload, size_t len)
{
    int64_t pk = 0;
    struct sign_key key;
    bool keyed = false;
    int r = device_lookup(ing, device_id, &pk, NULL, &key, &keyed);
    if (r == -ENOENT) {
        /* No ack either: the meter keeps the readings until the device is registered. */
        atomic_fetch_add(&ing->stats->unknown_device, 1);
        log_rejected(ing, "message for unknown device", device_id, "not registered");
        return INGEST_DONE;
    }
    if (r)
        return INGEST_RETRY;

    struct telemetry_opts opts = {
        .device_id = device_id,
        .now_ms = time_now_ms(),
        .max_future_ms = 24 * 3600 * 1000,
        .require_seq_ts = true,
        .max_items = ing->limits.max_batch,
    };
    struct telemetry_result res;
    char err[JSON_ERR_LEN];
    json_t *root = NULL;
    memset(&res, 0, sizeof(res));
    /* What meters send decodes without a tree; anything else (and every error) with one. */
    if (telemetry_decode_fast(payload, len, &opts, ing->batch, ing->limits.max_batch, &res)) {
        r = 0;
    } else if ((r = json_load_limited(payload, len, TELEMETRY_MAX_DEPTH, &root, err)) != 0) {
        snprintf(res.first_error, sizeof(res.first_error), "%.150s", err);
    } else {
        r = telemetry_decode_json(root, &opts, ing->batch, ing->limits.max_batch, &res);
    }
    if (r || res.n_invalid) {
        atomic_fetch_add(&ing->stats->invalid, r ? 1 : res.n_invalid);
        log_rejected(ing, "invalid telemetry", device_id, res.first_error);
    }
    size_t n_rejected = !r && res.n_invalid ? rejected_seqs(ing, root, &opts, res.n_valid) : 0;
    json_decref(root);
    if ((res.n_valid == 0 && n_rejected == 0) || !ing->writer) {
        sign_key_wipe(&key);
        return res.n_valid && !ing->writer ? store_now(ing, pk, res.n_valid) : INGEST_DONE;
    }

    /* The acks carry the device's signature (sign.h): only they make the meter let go. */
    if (!keyed)
        log_rejected(ing, "stored secret hash unusable", device_id, "its acks go unsigned");
    r = writer_submit(ing->writer, pk, device_id, keyed ? &key : NULL, ing->batch, res.n_valid,
                      ing->rejected, n_rejected);
    sign_key_wipe(&key);
    if (r == -E2BIG) { /* cannot happen with ingest_queue >= max_batch, which main checks */
        log_error("ingest: a message from device '%s' is larger than the whole queue", device_id);
        return INGEST_DONE;
    }
    return r ? INGEST_RETRY : INGEST_DONE;
}

static enum ingest_result handle_status(struct ingest *ing, const char *device_id,
                                        const void *payload, size_t len)
{
    char err[STATUS_ERR_LEN];
    struct status_msg msg;
    int64_t now = time_now_ms();

    int r = status_parse(payload, len, now, &msg, err);
    if (r == -ENODATA) /* a retained status being cleared */
        return INGEST_DONE;
    if (r) {
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid status", device_id, err);
        return INGEST_DONE;
    }
    enum device_status status = msg.online ? DEVICE_STATUS_ONLINE : DEVICE_STATUS_OFFLINE;
    /* The meter's own time when it gave one (the last will carries none). */
    int64_t at_ms = msg.has_ts ? msg.ts_ms : now;

    struct store *st = get_store(ing);
    if (!st)
        return INGEST_RETRY;
    struct device_rec dev;
    r = store_device_by_name(st, device_id, &dev);
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

/* --- command replies and waveform captures ------------------------------------------------ */

/*
 * Finds the pending request a capture answers. Returns 1 with *ret (the
 * device's key in *ret_device_pk), 0 when the capture was counted and
 * dropped (unknown device or request, no longer pending, or too late), or -1
 * for a database failure (*ret_result says what to do).
 */
static int find_pending(struct ingest *ing, const char *device_id, const char *request_id,
                        struct capture_rec *ret, int64_t *ret_device_pk,
                        enum ingest_result *ret_result)
{
    struct store *st = get_store(ing);
    if (!st) {
        *ret_result = INGEST_RETRY;
        return -1;
    }
    struct device_rec dev;
    int r = store_device_by_name(st, device_id, &dev);
    if (r == -ENOENT) {
        atomic_fetch_add(&ing->stats->unknown_device, 1);
        log_rejected(ing, "message for unknown device", device_id, "not registered");
        return 0;
    }
    if (!r)
        r = store_capture_by_request(st, dev.id, request_id, ret);
    if (r == -ENOENT || (!r && ret->status != CAPTURE_PENDING)) {
        atomic_fetch_add(&ing->stats->unknown_request, 1);
        log_rejected(ing, "capture for no pending request", device_id,
                     r ? "no such request id" : "the request is no longer pending");
        return 0;
    }
    if (r) {
        *ret_result = store_trouble(ing, r, "capture lookup");
        return -1;
    }
    if (captures_timed_out(ret, time_now_ms())) {
        /* Too late: the operator was told it failed (or will be on the next look). */
        r = captures_expire(st, dev.id, ret);
        if (r && r != -ENOENT) {
            *ret_result = store_trouble(ing, r, "capture timeout");
            return -1;
        }
        atomic_fetch_add(&ing->stats->unknown_request, 1);
        log_rejected(ing, "capture for no pending request", device_id,
                     "the request timed out before the capture came");
        return 0;
    }
    *ret_device_pk = dev.id;
    return 1;
}

/* The capture's command (commands.h) follows its capture; should that fail, the command
   expires at the capture's own timeout, which changes nothing the capture shows. */
static void capture_command_done(struct ingest *ing, const char *request_id, bool ok,
                                 const char *message, int64_t now_ms)
{
    int r = commands_capture_done(ing->store, request_id, ok, message, now_ms);
    if (r)
        log_warn("ingest: capture %s: its command not updated: %s", request_id,
                 store_errmsg(ing->store));
}

/* Marks a pending capture failed; a database failure decides the message's fate. */
static enum ingest_result fail_capture(struct ingest *ing, int64_t device_pk,
                                       const char *request_id, const char *message)
{
    int64_t now = time_now_ms();
    int r = store_capture_fail(ing->store, device_pk, request_id, message, now);
    if (r && r != -ENOENT)
        return store_trouble(ing, r, "storing a failed capture");
    capture_command_done(ing, request_id, false, message, now);
    return INGEST_DONE;
}

static enum ingest_result handle_reply(struct ingest *ing, const char *device_id,
                                       const void *payload, size_t len)
{
    char err[COMMAND_ERR_LEN];
    struct command_reply reply;

    if (command_reply_parse(payload, len, &reply, err)) {
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid reply", device_id, err);
        return INGEST_DONE;
    }
    struct store *st = get_store(ing);
    if (!st)
        return INGEST_RETRY;
    /* Recorded on the command (server/commands/); a capture's refusal also fails the capture.
       -ENOENT: no command of that id (a capture asked for before captures were commands). */
    int rc = commands_on_reply(st, device_id, &reply, time_now_ms());
    if (rc && rc != -ENOENT)
        return store_trouble(ing, rc, "command reply");
    if (rc == 0 && reply.ok)
        return INGEST_DONE;
    struct device_rec dev;
    struct capture_rec cap;
    int r = store_device_by_name(st, device_id, &dev);
    if (r == -ENOENT) {
        atomic_fetch_add(&ing->stats->unknown_device, 1);
        log_rejected(ing, "message for unknown device", device_id, "not registered");
        return INGEST_DONE;
    }
    if (!r)
        r = store_capture_by_request(st, dev.id, reply.id, &cap);
    if (r == -ENOENT && rc == 0) /* a relay command's refusal, recorded on it */
        return INGEST_DONE;
    if (r == -ENOENT) {
        atomic_fetch_add(&ing->stats->unknown_request, 1);
        log_rejected(ing, "reply to no request", device_id, "no such request id");
        return INGEST_DONE;
    }
    if (r)
        return store_trouble(ing, r, "capture lookup");
    /* "ok" to a capture changes nothing: the capture message, sent before it, completes it. */
    if (reply.ok)
        return INGEST_DONE;
    if (cap.status != CAPTURE_PENDING) {
        atomic_fetch_add(&ing->stats->unknown_request, 1);
        log_rejected(ing, "reply to no pending request", device_id,
                     "an error for a request that is no longer pending");
        return INGEST_DONE;
    }
    /* The store keeps CAPTURE_MESSAGE_MAX bytes: the meter's message is cut to what fits. */
    static const char refused[] = "the meter refused: ";
    char why[CAPTURE_MESSAGE_MAX + 1];
    snprintf(why, sizeof(why), "%s%.*s", refused, (int)(sizeof(why) - sizeof(refused)),
             reply.has_message ? reply.message : "no reason given");
    return fail_capture(ing, dev.id, reply.id, why);
}

static enum ingest_result handle_capture(struct ingest *ing, const char *device_id,
                                         const void *payload, size_t len)
{
    char err[CAPTURE_ERR_LEN], id[COMMAND_ID_MAX + 1];
    json_t *root;
    struct capture_samples c = {0};
    enum ingest_result result = INGEST_DONE;

    if (capture_parse_head(payload, len, &root, id, err)) {
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid capture", device_id, err);
        return INGEST_DONE;
    }
    struct capture_rec cap;
    int64_t device_pk;
    if (find_pending(ing, device_id, id, &cap, &device_pk, &result) <= 0)
        goto out;

    int64_t now = time_now_ms();
    int r = capture_decode(root, now, &c, err);
    if (r) {
        /* The operator waits for this one: say why it failed rather than let it time out. */
        atomic_fetch_add(&ing->stats->invalid, 1);
        log_rejected(ing, "invalid capture", device_id, err);
        char why[CAPTURE_MESSAGE_MAX + 1];
        snprintf(why, sizeof(why), "invalid capture from the meter: %s", err);
        result = fail_capture(ing, device_pk, id, why);
        goto out;
    }

    const char *note;
    r = captures_complete(ing->store, device_pk, id, &c, now, &note);
    if (r == -ENOENT) { /* completed or failed meanwhile by someone else */
        atomic_fetch_add(&ing->stats->unknown_request, 1);
    } else if (r) {
        result = store_trouble(ing, r, "storing a capture");
    } else {
        atomic_fetch_add(&ing->stats->captures_stored, 1);
        capture_command_done(ing, id, true, NULL, now);
        log_info("ingest: capture %s from device '%s': %zu samples at %g Hz%s%s", id, device_id,
                 c.n, c.rate_hz, note ? "; " : "", note ? note : "");
    }
out:
    capture_samples_free(&c);
    json_decref(root);
    return result;
}

typedef enum ingest_result (*leaf_handler)(struct ingest *ing, const char *device_id,
                                           const void *payload, size_t len);

/* What the server takes from meters; cmd and ack are its own (no handler). */
static const leaf_handler handlers[TOPIC__COUNT] = {
    [TOPIC_TELEMETRY] = handle_telemetry,
    [TOPIC_STATUS] = handle_status,
    [TOPIC_REPLY] = handle_reply,
    [TOPIC_CAPTURE] = handle_capture,
};

enum ingest_result ingest_message(struct ingest *ing, const char *topic, const void *payload,
                                  size_t len)
{
    char device_id[DEVICE_ID_MAX + 1];
    enum topic_leaf leaf = TOPIC__COUNT;

    atomic_fetch_add(&ing->stats->messages, 1);
    int r = topic_split(topic, strlen(topic), device_id, &leaf);
    if (r == -EINVAL) {
        atomic_fetch_add(&ing->stats->bad_topic, 1);
        log_rejected(ing, "message on unexpected topic", "-", "topic is not meters/<id>/...");
        return INGEST_DONE;
    }
    /* A waveform is far larger than any reading: it has its own cap. */
    bool capture = leaf == TOPIC_CAPTURE;
    if (len > (capture ? ing->limits.max_capture_bytes : ing->limits.max_payload_bytes)) {
        atomic_fetch_add(&ing->stats->too_large, 1);
        log_rejected(ing, "oversized payload", device_id,
                     capture ? "larger than max_capture_bytes" : "larger than max_payload_bytes");
        return INGEST_DONE;
    }
    if (leaf < TOPIC__COUNT && handlers[leaf])
        return handlers[leaf](ing, device_id, payload, len);
    atomic_fetch_add(&ing->stats->bad_topic, 1);
    log_rejected(ing, "message on unexpected topic", device_id,
                 "not telemetry, status, reply or capture");
    return INGEST_DONE;
}
