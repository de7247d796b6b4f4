#include "store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "f32le.h"

static const char *const role_names[] = {"user", "operator", "admin"};

const char *role_name(enum role role)
{
    return (unsigned)role < 3 ? role_names[role] : "?";
}

int role_parse(const char *name, enum role *ret_role)
{
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *ret_role = (enum role)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool username_valid(const char *name)
{
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '@';
        if (!ok || n >= USERNAME_MAX)
            return false;
    }
    return n > 0;
}

const char *device_status_name(enum device_status status)
{
    switch (status) {
    case DEVICE_STATUS_ONLINE:
        return "online";
    case DEVICE_STATUS_OFFLINE:
        return "offline";
    default:
        return "unknown";
    }
}

int store_fail(struct store *s, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

int store_open(const char *url, struct store **ret, char err[STORE_ERR_LEN])
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        char path[4096];
        const char *rest = url + 7;
        const char *q = strchr(rest, '?');
        size_t n = q ? (size_t)(q - rest) : strlen(rest);
        if (n == 0 || n >= sizeof(path)) {
            snprintf(err, STORE_ERR_LEN, "bad database URL: sqlite:PATH needs a path");
            return -EINVAL;
        }
        memcpy(path, rest, n);
        path[n] = '\0';
        return store_sqlite_open(path, q ? q + 1 : "", ret, err);
    }
    if (strncmp(url, "mysql://", 8) == 0 || strncmp(url, "mariadb://", 10) == 0)
        return store_mysql_open(url, ret, err);
    snprintf(err, STORE_ERR_LEN,
             "bad database URL: expected sqlite:PATH or mysql://USER[:PASS]@HOST[:PORT]/DB");
    return -EINVAL;
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
    return s->ops->name;
}

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

int store_migrations_latest(const struct migration *m)
{
    int n = 0;
    while (m[n].sql)
        n++;
    return n;
}

int store_schema_latest(const struct store *s)
{
    return store_migrations_latest(s->migrations);
}

int store_split_sql(const char *sql, int (*fn)(const char *stmt, void *ctx), void *ctx)
{
    struct dynbuf stmt;
    int r = 0;
    dynbuf_init(&stmt, 1 << 20);
    const char *p = sql;
    while (*p && !r) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        /* Skip comment-only lines so a ';' in a comment cannot end a statement. */
        const char *t = p;
        while (t < p + len && (*t == ' ' || *t == '\t'))
            t++;
        bool comment = (size_t)(p + len - t) >= 2 && t[0] == '-' && t[1] == '-';
        if (!comment) {
            r = dynbuf_add(&stmt, p, len);
            if (!r)
                r = dynbuf_addc(&stmt, '\n');
            const char *e = p + len;
            while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            if (!r && e > p && e[-1] == ';') {
                /* drop the ';' and what follows it on this line */
                size_t tail = (size_t)(p + len - e) + 2;
                stmt.len -= tail;
                stmt.buf[stmt.len] = '\0';
                r = fn(stmt.buf, ctx);
                dynbuf_reset(&stmt);
            }
        }
        p += len + (eol ? 1 : 0);
    }
    if (!r) {
        const char *q = dynbuf_str(&stmt);
        while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r')
            q++;
        if (*q)
            r = fn(q, ctx);
    }
    dynbuf_free(&stmt);
    return r;
}

static char reading_columns[2048];
static pthread_once_t reading_columns_once = PTHREAD_ONCE_INIT;

static void build_reading_columns(void)
{
    struct dynbuf b;
    dynbuf_init(&b, sizeof(reading_columns) - 1);
    dynbuf_addstr(&b, "seq, ts_ms");
    for (int f = 0; f < RR__COUNT; f++)
        dynbuf_addf(&b, ", %s", reading_reals[f].column);
    for (int c = 0; c < RC__COUNT; c++)
        dynbuf_addf(&b, ", %s", reading_counters[c].column);
    memcpy(reading_columns, dynbuf_str(&b), b.len + 1);
    dynbuf_free(&b);
}

const char *store_reading_columns(void)
{
    /* Built once from the field tables; connections on several threads share it. */
    pthread_once(&reading_columns_once, build_reading_columns);
    return reading_columns;
}

int store_schema_version(struct store *s, int *ret_version)
{
    return s->ops->schema_version(s, ret_version);
}

int store_migrate(struct store *s, int *ret_applied)
{
    return s->ops->migrate(s, ret_applied);
}

int store_user_add(struct store *s, const char *username, const char *password_hash, enum role role,
                   int64_t *ret_id)
{
    return s->ops->user_add(s, username, password_hash, role, ret_id);
}

int store_user_by_name(struct store *s, const char *username, struct user_rec *ret)
{
    return s->ops->user_get(s, username, 0, ret);
}

int store_user_by_id(struct store *s, int64_t id, struct user_rec *ret)
{
    return s->ops->user_get(s, NULL, id, ret);
}

int store_user_list(struct store *s, store_user_cb cb, void *ctx)
{
    return s->ops->user_list(s, cb, ctx);
}

int store_device_add(struct store *s, const char *device_id, const char *secret_hash,
                     int64_t owner_user_id, int64_t *ret_id)
{
    return s->ops->device_add(s, device_id, secret_hash, owner_user_id, ret_id);
}

int store_device_by_name(struct store *s, const char *device_id, struct device_rec *ret)
{
    return s->ops->device_by_name(s, device_id, ret);
}

int store_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx)
{
    return s->ops->device_list(s, user_id, cb, ctx);
}

int store_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                            int64_t at_ms)
{
    return s->ops->device_set_status(s, device_pk, status, at_ms);
}

int store_binding_add(struct store *s, int64_t user_id, int64_t device_pk)
{
    return s->ops->binding_add(s, user_id, device_pk);
}

int store_binding_remove(struct store *s, int64_t user_id, int64_t device_pk)
{
    return s->ops->binding_remove(s, user_id, device_pk);
}

int store_binding_check(struct store *s, int64_t user_id, int64_t device_pk)
{
    return s->ops->binding_check(s, user_id, device_pk);
}

int store_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx)
{
    return s->ops->binding_users(s, device_pk, cb, ctx);
}

int store_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                size_t *ret_inserted)
{
    size_t dummy;
    for (size_t k = 0; k < n; k++)
        items[k].inserted = false;
    if (!ret_inserted)
        ret_inserted = &dummy;
    *ret_inserted = 0;
    if (n == 0)
        return 0;
    return s->ops->readings_insert_batch(s, items, n, ret_inserted);
}

int store_dedicate_to_batches(struct store *s)
{
    return s->ops->dedicate_to_batches ? s->ops->dedicate_to_batches(s) : 0;
}

int store_readings_insert(struct store *s, int64_t device_pk, const struct reading *r, size_t n,
                          size_t *ret_inserted)
{
    size_t dummy;
    if (!ret_inserted)
        ret_inserted = &dummy;
    *ret_inserted = 0;
    if (n == 0)
        return 0;
    struct store_batch_item *items = calloc(n, sizeof(*items));
    if (!items)
        return store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        items[k].device_pk = device_pk;
        items[k].reading = r[k];
    }
    int ret = store_readings_insert_batch(s, items, n, ret_inserted);
    free(items);
    return ret;
}

int store_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period,
                     int64_t bucket_ms, struct rollup_delta *ret)
{
    if ((unsigned)period >= ROLLUP__COUNT)
        return store_fail(s, -EINVAL, "unknown rollup period");
    return s->ops->rollup_get(s, device_pk, period, bucket_ms, ret);
}

int64_t store_batch_device_max_seq(const struct store_batch_item *items, size_t n,
                                   int64_t device_pk)
{
    int64_t max = 0;
    for (size_t k = 0; k < n; k++)
        if (items[k].device_pk == device_pk && items[k].reading.has_seq &&
            (int64_t)items[k].reading.seq > max)
            max = (int64_t)items[k].reading.seq;
    return max;
}

static int cmp_pk(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int store_batch_rollup_deltas(const struct store_batch_item *items, size_t n,
                              struct rollup_delta **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    struct rollup_input *in = malloc((n ? n : 1) * sizeof(*in));
    if (!in)
        return -ENOMEM;
    size_t used = 0;
    for (size_t k = 0; k < n; k++)
        if (items[k].inserted)
            in[used++] = (struct rollup_input){items[k].device_pk, &items[k].reading};
    int r = rollup_build(in, used, ret, ret_n);
    free(in);
    return r;
}

int store_batch_inserted_devices(const struct store_batch_item *items, size_t n, int64_t **ret,
                                 size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        m += items[k].inserted;
    if (!m)
        return 0;
    int64_t *pk = malloc(m * sizeof(*pk));
    if (!pk)
        return -ENOMEM;
    m = 0;
    for (size_t k = 0; k < n; k++)
        if (items[k].inserted)
            pk[m++] = items[k].device_pk;
    qsort(pk, m, sizeof(*pk), cmp_pk);
    size_t u = 1;
    for (size_t k = 1; k < m; k++)
        if (pk[k] != pk[u - 1])
            pk[u++] = pk[k];
    *ret = pk;
    *ret_n = u;
    return 0;
}

bool store_reading_complete(const struct reading *r)
{
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_reals[f].required && !reading_has_real(r, (enum reading_real)f))
            return false;
    return true;
}

static char rollup_columns[2048];
static int rollup_ncols;
static pthread_once_t rollup_columns_once = PTHREAD_ONCE_INIT;

static void build_rollup_columns(void)
{
    struct dynbuf b;
    dynbuf_init(&b, sizeof(rollup_columns) - 1);
    int n = 3;
    dynbuf_addstr(&b, "n, first_ts_ms, last_ts_ms");
    for (int k = 0; k < RM__COUNT; k++) {
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted) {
            dynbuf_addf(&b, ", %s_n", c);
            n++;
        }
        dynbuf_addf(&b, ", %s_sum, %s_min, %s_max", c, c, c);
        n += 3;
    }
    for (int k = 0; k < RE__COUNT; k++) {
        dynbuf_addf(&b, ", %s_min_mwh, %s_max_mwh", rollup_energy_columns[k],
                    rollup_energy_columns[k]);
        n += 2;
    }
    snprintf(rollup_columns, sizeof(rollup_columns), "%s", dynbuf_str(&b));
    rollup_ncols = n;
    dynbuf_free(&b);
}

enum combine { ADD, LOW, HIGH };

static void combine(struct dynbuf *b, bool *first, const char *col, enum combine how,
                    const char *const excluded[2], const char *least, const char *greatest)
{
    char ex[96];
    snprintf(ex, sizeof(ex), "%s%s%s", excluded[0], col, excluded[1]);
    dynbuf_addf(b, "%s%s = ", *first ? "" : ", ", col);
    *first = false;
    if (how == ADD)
        dynbuf_addf(b, "%s + %s", col, ex);
    else /* min/max of the two, taking whichever is not NULL */
        dynbuf_addf(b, "%s(COALESCE(%s, %s), COALESCE(%s, %s))", how == LOW ? least : greatest, col,
                    ex, ex, col);
}

char *store_rollup_update_sql(const char *const excluded[2], const char *least,
                              const char *greatest)
{
    struct dynbuf b;
    bool first = true;
    char col[64];
    dynbuf_init(&b, 8192);
    combine(&b, &first, "n", ADD, excluded, least, greatest);
    combine(&b, &first, "first_ts_ms", LOW, excluded, least, greatest);
    combine(&b, &first, "last_ts_ms", HIGH, excluded, least, greatest);
    for (int k = 0; k < RM__COUNT; k++) {
        const char *c = rollup_metrics[k].column;
        if (rollup_metrics[k].counted) {
            snprintf(col, sizeof(col), "%s_n", c);
            combine(&b, &first, col, ADD, excluded, least, greatest);
        }
        snprintf(col, sizeof(col), "%s_sum", c);
        combine(&b, &first, col, ADD, excluded, least, greatest);
        snprintf(col, sizeof(col), "%s_min", c);
        combine(&b, &first, col, LOW, excluded, least, greatest);
        snprintf(col, sizeof(col), "%s_max", c);
        combine(&b, &first, col, HIGH, excluded, least, greatest);
    }
    for (int k = 0; k < RE__COUNT; k++) {
        snprintf(col, sizeof(col), "%s_min_mwh", rollup_energy_columns[k]);
        combine(&b, &first, col, LOW, excluded, least, greatest);
        snprintf(col, sizeof(col), "%s_max_mwh", rollup_energy_columns[k]);
        combine(&b, &first, col, HIGH, excluded, least, greatest);
    }
    return dynbuf_steal(&b, NULL);
}

const char *store_rollup_columns(void)
{
    pthread_once(&rollup_columns_once, build_rollup_columns);
    return rollup_columns;
}

int store_rollup_ncols(void)
{
    pthread_once(&rollup_columns_once, build_rollup_columns);
    return rollup_ncols;
}

int store_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                         size_t limit, store_reading_cb cb, void *ctx)
{
    return s->ops->readings_query(s, device_pk, from_ms, to_ms, limit, cb, ctx);
}

int store_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                           int64_t bucket_ms, size_t limit, store_bucket_cb cb, void *ctx)
{
    if (bucket_ms <= 0)
        return store_fail(s, -EINVAL, "bucket size must be positive");
    return s->ops->readings_buckets(s, device_pk, from_ms, to_ms, bucket_ms, limit, cb, ctx);
}

int store_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    return s->ops->reading_latest(s, device_pk, ret);
}

int store_recharge(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                   const char *idempotency_key, struct recharge_result *ret)
{
    if (amount_fen <= 0 || amount_fen > STORE_BALANCE_MAX_FEN)
        return store_fail(s, -ERANGE, "recharge amount out of range");
    if (idempotency_key && strlen(idempotency_key) > IDEMPOTENCY_KEY_MAX)
        return store_fail(s, -EINVAL, "idempotency key too long");
    return s->ops->recharge(s, device_pk, amount_fen, actor_user_id, idempotency_key, ret);
}

int store_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                      void *ctx)
{
    return s->ops->ledger_list(s, device_pk, limit, cb, ctx);
}

/* --- captures ------------------------------------------------------------------------------ */

const char *capture_status_name(enum capture_status status)
{
    switch (status) {
    case CAPTURE_PENDING:
        return "pending";
    case CAPTURE_COMPLETE:
        return "complete";
    default:
        return "failed";
    }
}

enum capture_status store_capture_status_parse(const char *text)
{
    if (strcmp(text, "pending") == 0)
        return CAPTURE_PENDING;
    if (strcmp(text, "complete") == 0)
        return CAPTURE_COMPLETE;
    return CAPTURE_FAILED;
}

void capture_rec_clear(struct capture_rec *c)
{
    if (!c)
        return;
    free(c->analysis);
    free(c->v);
    free(c->i);
    c->analysis = NULL;
    c->v = NULL;
    c->i = NULL;
}

int store_capture_unpack(const void *blob, size_t len, size_t n, struct capture_rec *ret)
{
    if (n == 0 || n > SIZE_MAX / CAPTURE_PAIR_BYTES || len != n * CAPTURE_PAIR_BYTES)
        return -EIO;
    const unsigned char *p = blob;
    float *v = malloc(n * sizeof(float)), *i = malloc(n * sizeof(float));
    if (!v || !i) {
        free(v);
        free(i);
        return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        v[k] = f32le_get(p + CAPTURE_PAIR_BYTES * k);
        i[k] = f32le_get(p + CAPTURE_PAIR_BYTES * k + 4);
    }
    ret->v = v;
    ret->i = i;
    return 0;
}

static bool request_id_ok(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= CAPTURE_REQUEST_ID_MAX;
}

int store_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                         int64_t requested_by_user_id, int32_t duration_ms, int64_t requested_ms,
                         int64_t *ret_id)
{
    if (!request_id_ok(request_id))
        return store_fail(s, -EINVAL, "request id must be 1 to %d bytes", CAPTURE_REQUEST_ID_MAX);
    if (duration_ms <= 0)
        return store_fail(s, -EINVAL, "capture duration must be positive");
    return s->ops->capture_create(s, device_pk, request_id, requested_by_user_id, duration_ms,
                                  requested_ms, ret_id);
}

int store_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                           const struct capture_data *d)
{
    if (!request_id_ok(request_id))
        return store_fail(s, -ENOENT, "no pending capture with that request id");
    if (d->samples == 0 || d->samples > SIZE_MAX / CAPTURE_PAIR_BYTES)
        return store_fail(s, -EINVAL, "a capture holds at least one sample");
    size_t len = d->samples * CAPTURE_PAIR_BYTES;
    unsigned char *blob = malloc(len);
    if (!blob)
        return store_fail(s, -ENOMEM, "out of memory");
    for (size_t k = 0; k < d->samples; k++) {
        f32le_put(blob + CAPTURE_PAIR_BYTES * k, d->v[k]);
        f32le_put(blob + CAPTURE_PAIR_BYTES * k + 4, d->i[k]);
    }
    int r = s->ops->capture_complete(s, device_pk, request_id, d, blob, len);
    free(blob);
    return r;
}

int store_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                       const char *message, int64_t at_ms)
{
    char clean[CAPTURE_MESSAGE_MAX + 1];
    size_t n = 0;
    if (!request_id_ok(request_id))
        return store_fail(s, -ENOENT, "no pending capture with that request id");
    /* Messages can come from a meter: keep them printable and short in every database. */
    for (const char *p = message ? message : ""; *p && n < CAPTURE_MESSAGE_MAX; p++)
        clean[n++] = (*p >= ' ' && *p <= '~') ? *p : '?';
    clean[n] = '\0';
    return s->ops->capture_fail(s, device_pk, request_id, clean, at_ms);
}

int store_capture_get(struct store *s, int64_t device_pk, int64_t capture_id, bool with_samples,
                      struct capture_rec *ret)
{
    return s->ops->capture_get(s, device_pk, capture_id, NULL, with_samples, ret);
}

int store_capture_by_request(struct store *s, int64_t device_pk, const char *request_id,
                             struct capture_rec *ret)
{
    if (!request_id_ok(request_id))
        return store_fail(s, -ENOENT, "no capture with that request id");
    return s->ops->capture_get(s, device_pk, 0, request_id, false, ret);
}

int store_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                       void *ctx)
{
    return s->ops->capture_list(s, device_pk, limit, cb, ctx);
}

/* Lengths checked here so both backends see values that fit their columns. */
static bool wechat_ids_ok(const char *appid, const char *openid)
{
    size_t a = appid ? strlen(appid) : 0, o = openid ? strlen(openid) : 0;
    return a > 0 && a <= STORE_APPID_MAX && o > 0 && o <= STORE_OPENID_MAX;
}

int store_wechat_bind(struct store *s, int64_t user_id, const char *appid, const char *openid,
                      int64_t at_ms)
{
    if (!wechat_ids_ok(appid, openid))
        return store_fail(s, -EINVAL, "appid and openid must be 1 to %d bytes", STORE_OPENID_MAX);
    return s->ops->wechat_bind(s, user_id, appid, openid, at_ms);
}

int store_wechat_by_openid(struct store *s, const char *appid, const char *openid,
                           struct wechat_binding_rec *ret)
{
    if (!wechat_ids_ok(appid, openid))
        return store_fail(s, -ENOENT, "no such WeChat binding");
    return s->ops->wechat_get(s, appid, openid, 0, ret);
}

int store_wechat_by_user(struct store *s, int64_t user_id, struct wechat_binding_rec *ret)
{
    return s->ops->wechat_get(s, NULL, NULL, user_id, ret);
}

int store_wechat_unbind(struct store *s, int64_t user_id)
{
    return s->ops->wechat_unbind(s, user_id);
}
