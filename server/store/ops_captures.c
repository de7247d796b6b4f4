/*
 * ops_captures: waveform captures (store.h "Waveform captures"). Samples
 * are kept as one blob of v,i pairs interleaved as little-endian float32
 * (CAPTURE_PAIR_BYTES a pair), the same bytes in every database.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "f32le.h"
#include "ops.h"

#define CAPTURE_PAIR_BYTES 8
/* The largest blob every driver binds (SQLite's limit of a 32-bit length). */
#define CAPTURE_BLOB_MAX ((size_t)INT32_MAX)

/* A capture's metadata (read_capture()); analysis and data follow where a statement needs them. */
#define CAPTURE_SELECT                                                                             \
    "SELECT c.id, c.device_pk, c.request_id, COALESCE(u.username, ''), c.requested_ms, "           \
    "c.duration_ms, c.status, COALESCE(c.message, ''), c.rate_hz, c.nominal_hz, c.start_ms, "      \
    "c.samples, c.received_ms"
#define CAPTURE_NCOLS 13
#define CAPTURE_FROM  " FROM captures c LEFT JOIN users u ON u.id = c.requested_by "

static enum capture_status status_parse(const char *text)
{
    if (strcmp(text, "pending") == 0)
        return CAPTURE_PENDING;
    if (strcmp(text, "complete") == 0)
        return CAPTURE_COMPLETE;
    return CAPTURE_FAILED; /* unknown text reads as failed */
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
    return r;
}

/* Fills c->v and c->i (allocated) from a blob of c->samples pairs. */
static int unpack(struct sql_store *q, const void *blob, size_t len, struct capture_rec *c)
{
    size_t n = c->samples;
    if (n == 0 || n > SIZE_MAX / CAPTURE_PAIR_BYTES || len != n * CAPTURE_PAIR_BYTES)
        return store_fail(&q->base, -EIO, "capture %lld: stored samples do not match their count",
                          (long long)c->id);
    const unsigned char *p = blob;
    c->v = malloc(n * sizeof(float));
    c->i = malloc(n * sizeof(float));
    if (!c->v || !c->i)
        return store_fail(&q->base, -ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        c->v[k] = f32le_get(p + CAPTURE_PAIR_BYTES * k);
        c->i[k] = f32le_get(p + CAPTURE_PAIR_BYTES * k + 4);
    }
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
    if (d->samples > CAPTURE_BLOB_MAX / CAPTURE_PAIR_BYTES)
        return store_fail(s, -EINVAL, "capture too large");
    size_t len = d->samples * CAPTURE_PAIR_BYTES;
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_COMPLETE,
                     "UPDATE captures SET status = 'complete', message = ?, rate_hz = ?, "
                     "nominal_hz = ?, start_ms = ?, samples = ?, data = ?, analysis = ?, "
                     "received_ms = ? WHERE device_pk = ? AND request_id = ? AND "
                     "status = 'pending'",
                     NULL, &st);
    if (r)
        return r;
    unsigned char *blob = malloc(len);
    if (!blob)
        return store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; k < d->samples; k++) {
        f32le_put(blob + CAPTURE_PAIR_BYTES * k, d->v[k]);
        f32le_put(blob + CAPTURE_PAIR_BYTES * k + 4, d->i[k]);
    }
    db_bind_text(st, d->message);
    db_bind_double(st, d->rate_hz);
    db_bind_double(st, d->nominal_hz);
    db_bind_int(st, d->start_ms);
    db_bind_int(st, (int64_t)d->samples);
    db_bind_blob(st, blob, len);
    db_bind_text(st, d->analysis);
    db_bind_int(st, d->received_ms);
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

int ops_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                     void *ctx)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    int r = sql_stmt(q, SQL_CAPTURE_LIST,
                     CAPTURE_SELECT CAPTURE_FROM "WHERE c.device_pk = ? ORDER BY c.id DESC LIMIT ?",
                     NULL, &st);
    if (!r) {
        db_bind_int(st, device_pk);
        sql_bind_limit(st, limit);
    }
    while (!r && (r = sql_step(q, st, "list captures")) == 1) {
        struct capture_rec c;
        r = read_capture(q, st, &c);
        if (!r)
            r = cb(&c, ctx);
    }
    db_reset(st);
    return r;
}
