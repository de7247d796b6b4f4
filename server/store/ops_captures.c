/*
 * ops_captures: waveform captures (store.h "Waveform captures"). Samples
 * are kept as one blob of the channels interleaved as little-endian float32,
 * one value per channel per instant (v,i pairs for single phase, whose
 * wiring and channels columns stay NULL as before three-phase metering), the
 * same bytes in every database. The channels column names them, in order,
 * comma-separated.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f32le.h"
#include "ops.h"

#define CAPTURE_VALUE_BYTES 4
/* The largest blob every driver binds (SQLite's limit of a 32-bit length). */
#define CAPTURE_BLOB_MAX ((size_t)INT32_MAX)

/* A capture's metadata (read_capture()); analysis and data follow where a statement needs them. */
#define CAPTURE_SELECT                                                                             \
    "SELECT c.id, c.device_pk, c.request_id, COALESCE(u.username, ''), c.requested_ms, "           \
    "c.duration_ms, c.status, COALESCE(c.message, ''), c.rate_hz, c.nominal_hz, c.start_ms, "      \
    "c.samples, c.received_ms, c.wiring, c.channels"
#define CAPTURE_NCOLS 15
#define CAPTURE_FROM  " FROM captures c LEFT JOIN users u ON u.id = c.requested_by "

static enum capture_status status_parse(const char *text)
{
    if (strcmp(text, "pending") == 0)
        return CAPTURE_PENDING;
    if (strcmp(text, "complete") == 0)
        return CAPTURE_COMPLETE;
    return CAPTURE_FAILED; /* unknown text reads as failed */
}

/* "va,vb,vc,ia,ib,ic" into c->channel[]; false for anything else. */
static bool parse_channels(const char *text, struct capture_rec *c)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > CAPTURE_CHANNEL_NAME_MAX || count == CAPTURE_CHANNELS_MAX)
            return false;
        for (size_t k = 0; k < len; k++)
            if (!islower((unsigned char)p[k]))
                return false;
        memcpy(c->channel[count], p, len);
        c->channel[count++][len] = '\0';
        if (!p[len])
            break;
        p += len + 1;
    }
    c->channels = count;
    return count >= 2;
}

/* The wiring and channels columns (12 + 1, 12 + 2): NULL is a single-phase capture, v and i. */
static int read_channels(struct sql_store *q, struct db_stmt *st, struct capture_rec *c)
{
    char text[CAPTURE_CHANNELS_MAX * (CAPTURE_CHANNEL_NAME_MAX + 1) + 1];
    if (db_is_null(st, 14)) {
        snprintf(c->wiring, sizeof(c->wiring), "1p2w");
        c->channels = 2;
        snprintf(c->channel[0], sizeof(c->channel[0]), "v");
        snprintf(c->channel[1], sizeof(c->channel[1]), "i");
        return 0;
    }
    int r = sql_text(q, st, 13, c->wiring, sizeof(c->wiring));
    if (!r)
        r = sql_text(q, st, 14, text, sizeof(text));
    if (!r && !parse_channels(text, c))
        r = store_fail(&q->base, -EIO, "capture %lld: stored channels are unreadable",
                       (long long)c->id);
    return r;
}

static int read_capture(struct sql_store *q, struct db_stmt *st, struct capture_rec *c)
{
    char status[16];
    memset(c, 0, sizeof(*c));
    c->id = db_col_int(st, 0);
    c->device_pk = db_col_int(st, 1);
    int r = sql_text(q, st, 2, c->request_id, sizeof(c->request_id));
    if (!r)
        r = sql_text(q, st, 3, c->requested_by, sizeof(c->requested_by));
    c->requested_ms = db_col_int(st, 4);
    c->duration_ms = (int32_t)db_col_int(st, 5);
    if (!r)
        r = sql_text(q, st, 6, status, sizeof(status));
    c->status = r ? CAPTURE_FAILED : status_parse(status);
    if (!r)
        r = sql_text(q, st, 7, c->message, sizeof(c->message));
    c->rate_hz = db_col_double(st, 8);
    c->nominal_hz = db_col_double(st, 9);
    c->start_ms = db_col_int(st, 10);
    int64_t n = db_col_int(st, 11);
    c->samples = n > 0 ? (size_t)n : 0;
    c->received_ms = db_col_int(st, 12);
    if (!r)
        r = read_channels(q, st, c);
    return r;
}

/* Fills c->x[] (allocated) from a blob of c->samples instants of c->channels values. */
static int unpack(struct sql_store *q, const void *blob, size_t len, struct capture_rec *c)
{
    size_t n = c->samples, w = c->channels * CAPTURE_VALUE_BYTES;
    if (n == 0 || w == 0 || n > SIZE_MAX / w || len != n * w)
        return store_fail(&q->base, -EIO, "capture %lld: stored samples do not match their count",
                          (long long)c->id);
    const unsigned char *p = blob;
    for (size_t ch = 0; ch < c->channels; ch++) {
        if (!(c->x[ch] = malloc(n * sizeof(float))))
            return store_fail(&q->base, -ENOMEM, "out of memory");
        for (size_t k = 0; k < n; k++)
            c->x[ch][k] = f32le_get(p + w * k + CAPTURE_VALUE_BYTES * ch);
    }
    if (strcmp(c->wiring, "1p2w") == 0) {
        c->v = c->x[0];
        c->i = c->x[1];
    }
    return 0;
}

/* The channels of d as the blob interleaves them, with their names; -EINVAL when unfit. */
static int data_channels(const struct capture_data *d, const float *ret_x[CAPTURE_CHANNELS_MAX],
                         char ret_names[CAPTURE_CHANNELS_MAX * (CAPTURE_CHANNEL_NAME_MAX + 1) + 1],
                         size_t *ret_count)
{
    if (d->channels == 0) {
        ret_x[0] = d->v;
        ret_x[1] = d->i;
        ret_names[0] = '\0';
        *ret_count = 2;
        return d->v && d->i ? 0 : -EINVAL;
    }
    if (d->channels < 2 || d->channels > CAPTURE_CHANNELS_MAX || !d->wiring ||
        strlen(d->wiring) >= 8)
        return -EINVAL;
    size_t at = 0;
    for (size_t k = 0; k < d->channels; k++) {
        const char *name = d->channel[k];
        size_t len = name ? strlen(name) : 0;
        if (len == 0 || len > CAPTURE_CHANNEL_NAME_MAX || !d->x[k])
            return -EINVAL;
        for (size_t j = 0; j < len; j++)
            if (!islower((unsigned char)name[j]))
                return -EINVAL;
        if (k)
            ret_names[at++] = ',';
        memcpy(ret_names + at, name, len);
        at += len;
        ret_x[k] = d->x[k];
    }
    ret_names[at] = '\0';
    *ret_count = d->channels;
    return 0;
}

int ops_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                       int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                       int64_t *ret_id)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_ADD,
                     "INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, "
                     "duration_ms) VALUES (?, ?, ?, ?, ?)",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_text(st, request_id);
    db_bind_id(st, requested_by);
    db_bind_int(st, requested_ms);
    db_bind_int(st, duration_ms);
    r = sql_run(q, st, "add capture");
    if (r == -EEXIST)
        return store_fail(s, r, "request id '%s' was already used for this device", request_id);
    if (r == -ENOENT)
        return store_fail(s, r, "no such device or user");
    if (!r && ret_id)
        *ret_id = db_last_id(st);
    return r;
}

/* Runs a capture UPDATE that only applies to a pending capture. */
static int update_pending(struct sql_store *q, struct db_stmt *st, int64_t device_pk,
                          const char *request_id, const char *what)
{
    db_bind_int(st, device_pk);
    db_bind_text(st, request_id);
    int r = sql_run(q, st, what);
    if (!r && db_changes(st) == 0)
        r = store_fail(&q->base, -ENOENT, "no pending capture with that request id");
    return r;
}

int ops_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                         const struct capture_data *d)
{
    struct sql_store *q = SQL(s);
    const float *x[CAPTURE_CHANNELS_MAX];
    char names[CAPTURE_CHANNELS_MAX * (CAPTURE_CHANNEL_NAME_MAX + 1) + 1];
    size_t count;
    if (data_channels(d, x, names, &count))
        return store_fail(s, -EINVAL, "capture channels: 2 to %d, named by up to %d letters",
                          CAPTURE_CHANNELS_MAX, CAPTURE_CHANNEL_NAME_MAX);
    size_t w = count * CAPTURE_VALUE_BYTES;
    if (d->samples > CAPTURE_BLOB_MAX / w)
        return store_fail(s, -EINVAL, "capture too large");
    size_t len = d->samples * w;
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_COMPLETE,
                     "UPDATE captures SET status = 'complete', message = ?, rate_hz = ?, "
                     "nominal_hz = ?, start_ms = ?, samples = ?, data = ?, analysis = ?, "
                     "received_ms = ?, wiring = ?, channels = ? WHERE device_pk = ? AND "
                     "request_id = ? AND status = 'pending'",
                     NULL, &st);
    if (r)
        return r;
    unsigned char *blob = malloc(len ? len : 1);
    if (!blob)
        return store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; k < d->samples; k++)
        for (size_t ch = 0; ch < count; ch++)
            f32le_put(blob + w * k + CAPTURE_VALUE_BYTES * ch, x[ch][k]);
    db_bind_text(st, d->message);
    db_bind_double(st, d->rate_hz);
    db_bind_double(st, d->nominal_hz);
    db_bind_int(st, d->start_ms);
    db_bind_int(st, (int64_t)d->samples);
    db_bind_blob(st, blob, len);
    db_bind_text(st, d->analysis);
    db_bind_int(st, d->received_ms);
    if (d->channels) {
        db_bind_text(st, d->wiring);
        db_bind_text(st, names);
    } else {
        db_bind_null(st);
        db_bind_null(st);
    }
    r = update_pending(q, st, device_pk, request_id, "complete capture");
    free(blob);
    return r;
}

int ops_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                     const char *message, int64_t at_ms)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_FAIL,
                     "UPDATE captures SET status = 'failed', message = ?, received_ms = ? "
                     "WHERE device_pk = ? AND request_id = ? AND status = 'pending'",
                     NULL, &st);
    if (r)
        return r;
    db_bind_text(st, message);
    db_bind_int(st, at_ms);
    return update_pending(q, st, device_pk, request_id, "fail capture");
}

/* The analysis (column CAPTURE_NCOLS) and, when asked, the samples (the next column). */
static int read_details(struct sql_store *q, struct db_stmt *st, bool with_samples,
                        struct capture_rec *c)
{
    size_t len = 0;
    const char *analysis = db_col_text(st, CAPTURE_NCOLS, &len);
    if (analysis && !(c->analysis = strndup(analysis, len)))
        return store_fail(&q->base, -ENOMEM, "out of memory");
    if (!with_samples || db_is_null(st, CAPTURE_NCOLS + 1))
        return 0;
    const void *blob = db_col_blob(st, CAPTURE_NCOLS + 1, &len);
    if (!blob && len == 0 && c->samples)
        return sql_fail(q, -EIO, "read capture");
    return unpack(q, blob, len, c);
}

int ops_capture_get(struct store *s, int64_t device_pk, int64_t capture_id, const char *request_id,
                    bool with_samples, struct capture_rec *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r;
    if (request_id)
        r = sql_stmt(q, SQL_CAPTURE_BY_REQUEST,
                     CAPTURE_SELECT CAPTURE_FROM "WHERE c.device_pk = ? AND c.request_id = ?", NULL,
                     &st);
    else if (with_samples)
        r = sql_stmt(q, SQL_CAPTURE_GET_DATA,
                     CAPTURE_SELECT ", c.analysis, c.data" CAPTURE_FROM
                                    "WHERE c.device_pk = ? AND c.id = ?",
                     NULL, &st);
    else
        r = sql_stmt(q, SQL_CAPTURE_GET,
                     CAPTURE_SELECT ", c.analysis" CAPTURE_FROM
                                    "WHERE c.device_pk = ? AND c.id = ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    if (request_id)
        db_bind_text(st, request_id);
    else
        db_bind_int(st, capture_id);
    r = sql_row(q, st, "get capture", "no such capture");
    if (r)
        return r;
    struct capture_rec c;
    r = read_capture(q, st, &c);
    if (!r && !request_id)
        r = read_details(q, st, with_samples, &c);
    db_reset(st);
    if (r)
        capture_rec_clear(&c);
    else
        *ret = c;
    return r;
}

/* Hands each capture st (bound) selects to cb; with ret_more, at most limit of them, and
   ret_more set when another row follows (the statement asks for limit + 1). */
static int read_captures(struct sql_store *q, struct db_stmt *st, size_t limit, store_capture_cb cb,
                         void *ctx, bool *ret_more)
{
    int r;
    size_t n = 0;
    while ((r = sql_step(q, st, "list captures")) == 1) {
        if (ret_more && n == limit) {
            *ret_more = true;
            break;
        }
        struct capture_rec c;
        r = read_capture(q, st, &c);
        if (!r)
            r = cb(&c, ctx);
        if (r)
            break;
        n++;
    }
    db_reset(st);
    return r < 0 ? r : 0;
}

int ops_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                     void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_LIST,
                     CAPTURE_SELECT CAPTURE_FROM "WHERE c.device_pk = ? ORDER BY c.id DESC LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    sql_bind_limit(st, limit);
    return read_captures(q, st, limit, cb, ctx, NULL);
}

int ops_capture_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                     store_capture_cb cb, void *ctx, bool *ret_more)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    /* The (device_pk, id) index, walked backwards from before_id. */
    int r = sql_stmt(q, SQL_CAPTURE_PAGE,
                     CAPTURE_SELECT CAPTURE_FROM
                     "WHERE c.device_pk = ? AND c.id < ? ORDER BY c.id DESC LIMIT ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    db_bind_int(st, before_id > 0 ? before_id : INT64_MAX);
    sql_bind_limit(st, limit + 1);
    bool more = false;
    r = read_captures(q, st, limit, cb, ctx, &more);
    if (!r)
        *ret_more = more;
    return r;
}

int ops_capture_count(struct store *s, int64_t device_pk, int64_t *ret_total)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_COUNT, "SELECT COUNT(*) FROM captures WHERE device_pk = ?",
                     NULL, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    if ((r = sql_row(q, st, "count captures", "no count")))
        return r;
    *ret_total = db_col_int(st, 0);
    db_reset(st);
    return 0;
}
