/*
 * store: the facade of store.h. A table of URL schemes and how to open
 * them; then, per call, the checks every implementation relies on
 * (arguments, limits, what a message may hold) and a call through the
 * store's ops table (store_impl.h).
 */
#include "store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "sitetime.h"
#include "sql.h"
#include "store_testing.h"
#include "tariff.h"
#include "utf8.h"

static const struct scheme {
    const char *prefix;
    int (*open)(const struct db_driver *drv, const char *url, struct store **ret,
                char err[STORE_ERR_LEN]);
    const struct db_driver *drv;
} schemes[] = {
    {"sqlite:", sql_store_open, &db_driver_sqlite},
    {"mysql://", sql_store_open, &db_driver_mysql},
    {"mariadb://", sql_store_open, &db_driver_mysql},
};

int store_open(const char *url, struct store **ret, char err[STORE_ERR_LEN])
{
    for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++)
        if (strncmp(url, schemes[k].prefix, strlen(schemes[k].prefix)) == 0)
            return schemes[k].open(schemes[k].drv, url, ret, err);
    snprintf(err, STORE_ERR_LEN,
             "bad database URL: expected sqlite:PATH or mysql://USER[:PASS]@HOST[:PORT]/DB");
    return -EINVAL;
}

int store_source_open(const struct store_source *src, struct store **ret, char err[STORE_ERR_LEN])
{
    if (src->open)
        return src->open(src->ctx, ret, err);
    return store_open(src->url, ret, err);
}

int store_source_copy(struct store_source *dst, const struct store_source *src)
{
    if (!src->open && !src->url)
        return -EINVAL;
    *dst = *src;
    if (src->open)
        dst->url = NULL;
    else if (!(dst->url = strdup(src->url)))
        return -ENOMEM;
    return 0;
}

void store_source_clear(struct store_source *src)
{
    free((char *)src->url);
    src->url = NULL;
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
    return s->backend;
}

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

int store_schema_latest(const struct store *s)
{
    return s->ops->schema_latest(s);
}

int store_schema_version(struct store *s, int *ret_version)
{
    return s->ops->schema_version(s, ret_version);
}

int store_migrate(struct store *s, int *ret_applied)
{
    return s->ops->migrate(s, ret_applied);
}

/* --- users, devices, bindings ----------------------------------------------------------- */

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

int store_user_page(struct store *s, const char *after, size_t limit, store_user_cb cb, void *ctx,
                    bool *ret_more)
{
    if (limit == 0 || limit > 10000)
        return store_fail(s, -EINVAL, "a page of 1 to 10000 users");
    return s->ops->user_page(s, after ? after : "", limit, cb, ctx, ret_more);
}

int store_user_count(struct store *s, int64_t *ret_total)
{
    return s->ops->user_count(s, ret_total);
}

int store_user_update(struct store *s, int64_t user_id, const struct user_change *ch,
                      struct user_rec *ret)
{
    if (ch->password_hash &&
        (!ch->password_hash[0] || strlen(ch->password_hash) > PASSWORD_HASH_MAX))
        return store_fail(s, -EINVAL, "password hash must be 1 to %d bytes", PASSWORD_HASH_MAX);
    if (ch->set_role && (unsigned)ch->role > ROLE_ADMIN)
        return store_fail(s, -EINVAL, "unknown role");
    return s->ops->user_update(s, user_id, ch, ret);
}

int store_user_delete(struct store *s, int64_t user_id)
{
    return s->ops->user_delete(s, user_id);
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

struct device_buf {
    struct device_rec *items;
    size_t n, cap, max;
};

static int device_keep(const struct device_rec *d, void *ctx)
{
    struct device_buf *b = ctx;
    if (b->n == b->cap) {
        if (b->cap >= b->max)
            return -E2BIG;
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > b->max)
            cap = b->max;
        struct device_rec *p = realloc(b->items, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        b->items = p;
        b->cap = cap;
    }
    b->items[b->n++] = *d;
    return 0;
}

int store_device_array(struct store *s, int64_t user_id, size_t max, struct device_rec **ret,
                       size_t *ret_n)
{
    struct device_buf b = {.max = max};
    int r = store_device_list(s, user_id, device_keep, &b);
    if (r) {
        free(b.items);
        return r;
    }
    *ret = b.items;
    *ret_n = b.n;
    return 0;
}

int store_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                            int64_t at_ms)
{
    return s->ops->device_set_status(s, device_pk, status, at_ms);
}

static bool device_filter_valid(const struct device_filter *f)
{
    if (!f->query)
        return true;
    /* No control character: a device's search key joins its id and name with one. */
    for (const unsigned char *p = (const unsigned char *)f->query; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return strlen(f->query) <= DEVICE_QUERY_BYTES_MAX;
}

int store_device_page(struct store *s, int64_t user_id, const struct device_filter *f,
                      const char *after, size_t limit, store_device_page_cb cb, void *ctx,
                      bool *ret_more)
{
    if (limit < 1 || limit > 10000 || strlen(after) > DEVICE_ID_MAX || !device_filter_valid(f))
        return store_fail(s, -EINVAL, "bad device page");
    return s->ops->device_page(s, user_id, f, after, limit, cb, ctx, ret_more);
}

int store_device_count(struct store *s, int64_t user_id, const struct device_filter *f,
                       int64_t *ret_total)
{
    if (!device_filter_valid(f))
        return store_fail(s, -EINVAL, "bad device filter");
    return s->ops->device_count(s, user_id, f, ret_total);
}

int store_device_summary(struct store *s, int64_t user_id, struct device_summary *ret)
{
    return s->ops->device_summary(s, user_id, ret);
}

int store_devices_import(struct store *s, const struct device_import_row *rows, size_t n,
                         const char *by, size_t *ret_bad)
{
    *ret_bad = n;
    for (size_t i = 0; i < n; i++) {
        if (!device_id_valid(rows[i].device_id) || strlen(rows[i].secret_hash) != SECRET_HASH_LEN) {
            *ret_bad = i;
            return store_fail(s, -EINVAL, "bad device id or secret hash");
        }
        /* The bounds an API change of the metadata has (device_meta.h). */
        struct device_meta m = {0};
        char err[DEVICE_META_ERR_LEN];
        if ((rows[i].name && device_meta_set_text(&m, DM_NAME, rows[i].name, err)) ||
            (rows[i].site && device_meta_set_text(&m, DM_SITE, rows[i].site, err))) {
            *ret_bad = i;
            return store_fail(s, -EINVAL, "%s", err);
        }
    }
    if (n == 0)
        return 0;
    return s->ops->devices_import(s, rows, n, by, ret_bad);
}

int store_device_delete(struct store *s, const char *device_id)
{
    if (!device_id_valid(device_id))
        return store_fail(s, -ENOENT, "no such device");
    return s->ops->device_delete(s, device_id);
}

int store_device_set_secret(struct store *s, const char *device_id, const char *secret_hash)
{
    if (strlen(secret_hash) != SECRET_HASH_LEN)
        return store_fail(s, -EINVAL, "a secret hash is %d hex characters", SECRET_HASH_LEN);
    if (!device_id_valid(device_id))
        return store_fail(s, -ENOENT, "no such device");
    return s->ops->device_set_secret(s, device_id, secret_hash);
}

int store_device_changes(struct store *s, int64_t after_id, size_t limit, store_change_cb cb,
                         void *ctx)
{
    if (limit == 0 || limit > 10000)
        return store_fail(s, -EINVAL, "read 1 to 10000 changes at a time");
    return s->ops->device_changes(s, after_id, limit, cb, ctx);
}

int store_device_changes_latest(struct store *s, int64_t *ret_id)
{
    return s->ops->device_changes_latest(s, ret_id);
}

int store_device_changes_prune(struct store *s, int64_t before_ms, size_t *ret_deleted)
{
    size_t dummy;
    return s->ops->device_changes_prune(s, before_ms, ret_deleted ? ret_deleted : &dummy);
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

/* --- readings ----------------------------------------------------------------------------- */

int store_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                                size_t *ret_inserted)
{
    size_t dummy;
    for (size_t k = 0; k < n; k++)
        items[k].inserted = items[k].no_seq_left = false;
    if (!ret_inserted)
        ret_inserted = &dummy;
    *ret_inserted = 0;
    if (n == 0)
        return 0;
    return s->ops->readings_insert_batch(s, items, n, ret_inserted);
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

int store_dedicate_to_batches(struct store *s)
{
    return s->ops->dedicate_to_batches(s);
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
    return s->ops->readings_buckets(s, device_pk, from_ms, to_ms, bucket_ms, READING_FIELDS_ALL,
                                    limit, cb, ctx);
}

int store_readings_buckets_of(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                              int64_t bucket_ms, enum reading_fields fields, size_t limit,
                              store_bucket_cb cb, void *ctx)
{
    if (bucket_ms <= 0)
        return store_fail(s, -EINVAL, "bucket size must be positive");
    return s->ops->readings_buckets(s, device_pk, from_ms, to_ms, bucket_ms, fields, limit, cb,
                                    ctx);
}

int store_demand_month(struct store *s, int64_t device_pk, const char *month,
                       struct demand_month *ret)
{
    return s->ops->demand_month(s, device_pk, month, ret);
}

int store_demand_list(struct store *s, int64_t device_pk, size_t limit, store_demand_cb cb,
                      void *ctx)
{
    return s->ops->demand_list(s, device_pk, limit, cb, ctx);
}

int store_reading_latest(struct store *s, int64_t device_pk, struct reading *ret)
{
    return s->ops->reading_latest(s, device_pk, ret);
}

int store_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                 size_t max_rows, size_t *ret_deleted)
{
    if (max_rows == 0 || max_rows > 100000)
        return store_fail(s, -EINVAL, "delete 1 to 100000 readings at a time");
    return s->ops->readings_delete_before(s, device_pk, before_ms, max_rows, ret_deleted);
}

/* --- rollups ------------------------------------------------------------------------------ */

static bool period_ok(enum rollup_period period)
{
    return (unsigned)period < ROLLUP__COUNT;
}

int store_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period,
                     int64_t bucket_ms, struct rollup_delta *ret)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    return s->ops->rollup_get(s, device_pk, period, bucket_ms, ret);
}

int store_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                        int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                        store_rollup_cb cb, void *ctx)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    if (from_ms >= to_ms || limit == 0)
        return 0;
    return s->ops->rollups_query(s, device_pk, period, from_ms, to_ms, newest_first, limit, cb,
                                 ctx);
}

int store_rollups_query_of(struct store *s, int64_t device_pk, enum rollup_period period,
                           int64_t from_ms, int64_t to_ms, bool newest_first,
                           enum reading_fields fields, size_t limit, store_rollup_cb cb, void *ctx)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    if (from_ms >= to_ms || limit == 0)
        return 0;
    return s->ops->rollups_query_of(s, device_pk, period, from_ms, to_ms, newest_first, fields,
                                    limit, cb, ctx);
}

int store_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                                 int64_t before_ms, struct rollup_counters *ret)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    return s->ops->rollup_counters_before(s, device_pk, period, before_ms, ret);
}

int store_readings_latest_of(struct store *s, const int64_t *device_pks, size_t n,
                             store_latest_of_cb cb, void *ctx)
{
    return n ? s->ops->readings_latest_of(s, device_pks, n, cb, ctx) : 0;
}

int store_day_counters_before_of(struct store *s, const int64_t *device_pks, size_t n,
                                 int64_t before_ms, struct rollup_counters *ret)
{
    return n ? s->ops->day_counters_before_of(s, device_pks, n, before_ms, ret) : 0;
}

int store_rollups_of(struct store *s, const int64_t *device_pks, size_t n,
                     enum rollup_period period, int64_t from_ms, int64_t to_ms,
                     store_rollup_of_cb cb, void *ctx)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    if (from_ms >= to_ms || n == 0)
        return 0;
    return s->ops->rollups_of(s, device_pks, n, period, from_ms, to_ms, cb, ctx);
}

/* --- money -------------------------------------------------------------------------------- */

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

int store_ledger_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                      store_ledger_cb cb, void *ctx, bool *ret_more)
{
    if (limit == 0 || limit > 10000)
        return store_fail(s, -EINVAL, "a page of 1 to 10000 entries");
    return s->ops->ledger_page(s, device_pk, before_id, limit, cb, ctx, ret_more);
}

int store_ledger_count(struct store *s, int64_t device_pk, int64_t *ret_total)
{
    return s->ops->ledger_count(s, device_pk, ret_total);
}

/* --- captures ----------------------------------------------------------------------------- */

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
    if (d->samples == 0)
        return store_fail(s, -EINVAL, "a capture holds at least one sample");
    return s->ops->capture_complete(s, device_pk, request_id, d);
}

int store_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                       const char *message, int64_t at_ms)
{
    char clean[CAPTURE_MESSAGE_MAX + 1];
    if (!request_id_ok(request_id))
        return store_fail(s, -ENOENT, "no pending capture with that request id");
    /* Messages can come from a meter: keep them printable UTF-8 and short in every database. */
    utf8_clean(message ? message : "", clean, sizeof(clean));
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

int store_capture_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                       store_capture_cb cb, void *ctx, bool *ret_more)
{
    if (limit == 0 || limit > 10000)
        return store_fail(s, -EINVAL, "a page of 1 to 10000 captures");
    return s->ops->capture_page(s, device_pk, before_id, limit, cb, ctx, ret_more);
}

int store_capture_count(struct store *s, int64_t device_pk, int64_t *ret_total)
{
    return s->ops->capture_count(s, device_pk, ret_total);
}

/* --- WeChat bindings ---------------------------------------------------------------------- */

/* Lengths checked here so every implementation sees values that fit its columns. */
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

/* --- the audit log ----------------------------------------------------------------------- */

static bool text_fits(const char *t, size_t max, bool may_be_empty)
{
    size_t n = strnlen(t, max + 1);
    return n <= max && (may_be_empty || n > 0);
}

int store_audit_add(struct store *s, const struct audit_rec *e)
{
    if (!text_fits(e->actor, USERNAME_MAX, false) ||
        !text_fits(e->action, AUDIT_ACTION_MAX, false) ||
        !text_fits(e->target, AUDIT_TARGET_MAX, true) ||
        !text_fits(e->address, AUDIT_ADDRESS_MAX, true) ||
        !text_fits(e->detail, AUDIT_DETAIL_MAX, true))
        return store_fail(s, -EINVAL,
                          "an audit entry needs an actor and an action, and fields "
                          "within their lengths");
    return s->ops->audit_add(s, e);
}

int store_audit_list(struct store *s, int64_t before_id, size_t limit, store_audit_cb cb, void *ctx)
{
    if (limit == 0)
        return 0;
    return s->ops->audit_list(s, before_id, limit, cb, ctx);
}

/* --- prepaid billing ------------------------------------------------------------------------ */

int store_tariff_add(struct store *s, int64_t device_pk, const struct tariff *t)
{
    char err[TARIFF_ERR_LEN];
    if (device_pk < 0)
        return store_fail(s, -EINVAL, "no such device");
    if (tariff_validate(t, err))
        return store_fail(s, -EINVAL, "tariff: %s", err);
    return s->ops->tariff_add(s, device_pk, t);
}

int store_tariff_versions(struct store *s, int64_t device_pk, int64_t from_ms, struct tariff *v,
                          size_t max, size_t *ret_n)
{
    if (device_pk < 0 || max == 0)
        return store_fail(s, -EINVAL, "tariff versions: a device and room for one");
    return s->ops->tariff_versions(s, device_pk, from_ms, v, max, ret_n);
}

int store_billing_settings_get(struct store *s, int64_t device_pk, struct billing_settings *ret)
{
    return s->ops->billing_settings_get(s, device_pk, ret);
}

static bool money_ok(int64_t fen)
{
    return fen >= -STORE_BALANCE_MAX_FEN && fen <= STORE_BALANCE_MAX_FEN;
}

int store_billing_settings_set(struct store *s, int64_t device_pk,
                               const struct billing_settings_change *ch,
                               struct billing_settings *ret)
{
    if ((ch->has_low_balance && !money_ok(ch->low_balance_fen)) ||
        (ch->has_cutoff_at && !money_ok(ch->cutoff_at_fen)))
        return store_fail(s, -ERANGE, "a billing setting is out of the money range");
    if (ch->has_no_cutoff_hours && (ch->no_cutoff_from_min < 0 || ch->no_cutoff_from_min >= 1440 ||
                                    ch->no_cutoff_to_min < 0 || ch->no_cutoff_to_min >= 1440))
        return store_fail(s, -EINVAL, "no-cut-off hours are minutes of the day, 0..1439");
    return s->ops->billing_settings_set(s, device_pk, ch, ret);
}

int store_billing_run(struct store *s, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                      struct billing_run_result *ret)
{
    if (gap_wait_ms < 0)
        return store_fail(s, -EINVAL, "gap_wait_ms must not be negative");
    return s->ops->billing_run(s, device_pk, now_ms, gap_wait_ms, ret);
}

int store_charges_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                        size_t limit, store_charge_cb cb, void *ctx)
{
    if (limit == 0 || from_ms >= to_ms)
        return 0;
    return s->ops->charges_query(s, device_pk, from_ms, to_ms, limit, cb, ctx);
}

int store_testing_exec(struct store *s, const char *sql)
{
    return s->ops->exec_sql(s, sql);
}

/* --- WeChat Pay orders -------------------------------------------------------------------- */

const char *payment_state_name(enum payment_state st)
{
    switch (st) {
    case PAYMENT_CREATED:
        return "created";
    case PAYMENT_PAID:
        return "paid";
    case PAYMENT_CLOSED:
        return "closed";
    case PAYMENT_FAILED:
        return "failed";
    }
    return "unknown";
}

static bool trade_no_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= PAYMENT_TRADE_NO_MAX;
}

int store_payment_create(struct store *s, const struct payment_rec *p, int64_t *ret_id)
{
    if (!trade_no_ok(p->out_trade_no))
        return store_fail(s, -EINVAL, "out_trade_no must be 1 to %d characters",
                          PAYMENT_TRADE_NO_MAX);
    if (p->amount_fen <= 0 || p->amount_fen > STORE_BALANCE_MAX_FEN)
        return store_fail(s, -ERANGE, "payment amount out of range");
    return s->ops->payment_create(s, p, ret_id);
}

int store_payment_get(struct store *s, const char *out_trade_no, struct payment_rec *ret)
{
    if (!trade_no_ok(out_trade_no))
        return store_fail(s, -ENOENT, "no such payment");
    return s->ops->payment_get(s, out_trade_no, ret);
}

int store_payment_set_prepay(struct store *s, const char *out_trade_no, const char *prepay_id,
                             int64_t at_ms)
{
    if (!trade_no_ok(out_trade_no) || !prepay_id || !prepay_id[0] ||
        strlen(prepay_id) > PAYMENT_PREPAY_ID_MAX)
        return store_fail(s, -EINVAL, "malformed out_trade_no or prepay_id");
    return s->ops->payment_set_prepay(s, out_trade_no, prepay_id, at_ms);
}

int store_payment_finish(struct store *s, const char *out_trade_no, enum payment_state state,
                         int64_t at_ms)
{
    if (!trade_no_ok(out_trade_no) || (state != PAYMENT_CLOSED && state != PAYMENT_FAILED))
        return store_fail(s, -EINVAL, "an order finishes closed or failed");
    return s->ops->payment_finish(s, out_trade_no, state, at_ms);
}

int store_payment_credit(struct store *s, const char *out_trade_no, const char *transaction_id,
                         int64_t paid_ms, struct payment_credit *ret)
{
    if (!trade_no_ok(out_trade_no) || !trade_no_ok(transaction_id))
        return store_fail(s, -EINVAL, "malformed out_trade_no or transaction_id");
    return s->ops->payment_credit(s, out_trade_no, transaction_id, paid_ms, ret);
}

int store_payments_of_device(struct store *s, int64_t device_pk, int64_t user_id, size_t limit,
                             store_payment_cb cb, void *ctx)
{
    return s->ops->payments_of_device(s, device_pk, user_id, limit, cb, ctx);
}

int store_payments_open(struct store *s, int64_t created_before_ms, size_t limit,
                        store_payment_cb cb, void *ctx)
{
    return s->ops->payments_open(s, created_before_ms, limit, cb, ctx);
}

/* --- commands to meters (ops_commands.c) --------------------------------------------------- */

static const char *const command_states[CMD__COUNT] = {
    [CMD_QUEUED] = "queued", [CMD_SENT] = "sent",     [CMD_ACKNOWLEDGED] = "acknowledged",
    [CMD_DONE] = "done",     [CMD_FAILED] = "failed", [CMD_EXPIRED] = "expired",
};

const char *command_state_name(enum command_state st)
{
    return (unsigned)st < CMD__COUNT ? command_states[st] : NULL;
}

static bool command_text_ok(const char *t, size_t max)
{
    size_t n = strlen(t);
    return n > 0 && n <= max;
}

/* A remote operation: read_status, sync_clock, or set_interval within its bounds. */
static bool command_operation_ok(const struct command_rec *c)
{
    if (strcmp(c->kind, "set_interval") == 0)
        return c->interval_ms >= COMMAND_INTERVAL_MIN_MS &&
               c->interval_ms <= COMMAND_INTERVAL_MAX_MS;
    return strcmp(c->kind, "read_status") == 0 || strcmp(c->kind, "sync_clock") == 0;
}

int store_command_add(struct store *s, const struct command_rec *c)
{
    if (!command_text_ok(c->id, STORE_COMMAND_ID_MAX) ||
        !command_text_ok(c->device_id, DEVICE_ID_MAX) ||
        (strcmp(c->kind, "relay") != 0 &&
         (strcmp(c->kind, "capture") != 0 || c->duration_ms < CAPTURE_MIN_MS ||
          c->duration_ms > CAPTURE_MAX_MS) &&
         !command_operation_ok(c)) ||
        !command_text_ok(c->actor, STORE_COMMAND_ACTOR_MAX) ||
        !command_text_ok(c->reason, STORE_COMMAND_REASON_MAX) || c->expires_ms <= c->created_ms)
        return store_fail(s, -EINVAL,
                          "a command needs an id, a device, the kind \"relay\" or \"capture\" "
                          "(with its duration), an actor, a reason and a later expiry");
    struct command_rec clean = *c;
    utf8_clean(c->reason, clean.reason, sizeof(clean.reason));
    utf8_clean(c->actor, clean.actor, sizeof(clean.actor));
    return s->ops->command_add(s, &clean);
}

int store_command_get(struct store *s, const char *device_id, const char *id,
                      struct command_rec *ret)
{
    if (!command_text_ok(id, STORE_COMMAND_ID_MAX))
        return store_fail(s, -ENOENT, "no such command");
    return s->ops->command_get(s, device_id, id, ret);
}

int store_command_move(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                       int64_t at_ms, const char *message)
{
    char clean[STORE_COMMAND_MSG_MAX + 1];
    if (!command_text_ok(id, STORE_COMMAND_ID_MAX))
        return store_fail(s, -ENOENT, "no such command");
    if ((unsigned)to >= CMD__COUNT || from_mask == 0 || from_mask >= CMD_BIT(CMD__COUNT))
        return store_fail(s, -EINVAL, "bad command state");
    /* Messages can come from a meter: printable UTF-8, short in every database. */
    if (message)
        utf8_clean(message, clean, sizeof(clean));
    return s->ops->command_move(s, id, from_mask, to, at_ms, message ? clean : NULL);
}

int store_command_finish(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                         int64_t at_ms, const char *message, const char *result)
{
    char clean[STORE_COMMAND_MSG_MAX + 1];
    if (!command_text_ok(id, STORE_COMMAND_ID_MAX))
        return store_fail(s, -ENOENT, "no such command");
    if ((unsigned)to >= CMD__COUNT || from_mask == 0 || from_mask >= CMD_BIT(CMD__COUNT) ||
        (result && strlen(result) > STORE_COMMAND_RESULT_MAX))
        return store_fail(s, -EINVAL, "bad command state or result");
    if (message)
        utf8_clean(message, clean, sizeof(clean));
    return s->ops->command_finish(s, id, from_mask, to, at_ms, message ? clean : NULL, result);
}

int store_commands_due(struct store *s, int64_t now_ms, int64_t resend_before_ms,
                       store_command_cb cb, void *ctx)
{
    return s->ops->commands_due(s, now_ms, resend_before_ms, cb, ctx);
}

int store_commands_expire(struct store *s, int64_t now_ms, size_t *ret_n)
{
    return s->ops->commands_expire(s, now_ms, ret_n);
}

int store_commands_count(struct store *s, uint64_t ret_by_state[CMD__COUNT])
{
    if (!s->ops->commands_count)
        return -ENOTSUP;
    return s->ops->commands_count(s, ret_by_state);
}

int store_devices_having(struct store *s, enum device_having what, int64_t **ret, size_t *ret_n)
{
    if ((unsigned)what >= DEVICES_HAVING__COUNT)
        return -EINVAL;
    return s->ops->devices_having(s, what, ret, ret_n);
}

bool device_pks_have(const int64_t *pks, size_t n, int64_t pk)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pks[mid] < pk)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && pks[lo] == pk;
}

int store_command_latest(struct store *s, const char *device_id, const char *kind,
                         struct command_rec *ret)
{
    return s->ops->command_latest(s, device_id, kind, ret);
}

int store_device_relay(struct store *s, int64_t device_pk, bool *ret_on, int64_t *ret_ts_ms)
{
    return s->ops->device_relay(s, device_pk, ret_on, ret_ts_ms);
}

int store_device_event_add(struct store *s, const char *device_id, int64_t at_ms, const char *kind,
                           const char *detail)
{
    char clean[256];
    if (!command_text_ok(device_id, DEVICE_ID_MAX) || !command_text_ok(kind, 32))
        return store_fail(s, -EINVAL, "an event needs a device and a kind");
    utf8_clean(detail ? detail : "", clean, sizeof(clean));
    return s->ops->device_event_add(s, device_id, at_ms, kind, clean);
}

int store_device_events(struct store *s, const char *device_id, const char *kind_prefix,
                        size_t limit, store_event_cb cb, void *ctx)
{
    if (!command_text_ok(device_id, DEVICE_ID_MAX) ||
        (kind_prefix && strlen(kind_prefix) > STORE_EVENT_KIND_MAX))
        return store_fail(s, -EINVAL, "events need a device");
    return s->ops->device_events(s, device_id, kind_prefix, limit, cb, ctx);
}

int store_commands_of_device(struct store *s, const char *device_id, size_t limit,
                             store_command_cb cb, void *ctx)
{
    if (!command_text_ok(device_id, DEVICE_ID_MAX))
        return store_fail(s, -EINVAL, "commands need a device");
    return s->ops->commands_of_device(s, device_id, limit, cb, ctx);
}

int store_calendar_list(struct store *s, store_calendar_cb cb, void *ctx)
{
    return s->ops->calendar_list(s, cb, ctx);
}

/* "YYYY-MM-DD" naming a real date of years 2000..2199. */
static bool calendar_day_ok(const char *d)
{
    int64_t ms;
    return sitetime_parse_day(d, &ms) == 0;
}

int store_calendar_set(struct store *s, const struct calendar_day *days, size_t n)
{
    if (n > STORE_CALENDAR_MAX)
        return store_fail(s, -EINVAL, "the calendar holds at most %d days", STORE_CALENDAR_MAX);
    for (size_t k = 0; k < n; k++) {
        if (!calendar_day_ok(days[k].day))
            return store_fail(s, -EINVAL, "not a date of 2000..2199 (YYYY-MM-DD): %.10s",
                              days[k].day);
        if (days[k].kind != CALENDAR_HOLIDAY && days[k].kind != CALENDAR_WORKDAY)
            return store_fail(s, -EINVAL, "a calendar day is a holiday or a workday");
        for (size_t j = 0; j < k; j++)
            if (strcmp(days[j].day, days[k].day) == 0)
                return store_fail(s, -EINVAL, "%s is listed twice", days[k].day);
    }
    return s->ops->calendar_set(s, days, n);
}

int store_calendar_day(struct store *s, const char *day, int *ret_kind)
{
    return s->ops->calendar_day(s, day, ret_kind);
}

/* --- device metadata (ops_device_meta.c) ---------------------------------------------------- */

_Static_assert(DEVICE_META_BY_MAX == USERNAME_MAX, "updated_by holds a user name");

int store_device_meta_get(struct store *s, int64_t device_pk, struct device_meta *ret)
{
    return s->ops->device_meta_get(s, device_pk, ret);
}

int store_device_meta_update(struct store *s, int64_t device_pk, const struct device_meta *set,
                             uint32_t clear_mask, const char *actor, int64_t now_ms,
                             struct device_meta *ret)
{
    char err[DEVICE_META_ERR_LEN];
    if ((clear_mask & ~DM_ALL) || device_meta_check(set, err))
        return store_fail(s, -EINVAL, "%s",
                          (clear_mask & ~DM_ALL) ? "unknown metadata fields" : err);
    if (!actor || !command_text_ok(actor, USERNAME_MAX))
        return store_fail(s, -EINVAL, "a metadata change needs who made it");
    return s->ops->device_meta_update(s, device_pk, set, clear_mask, actor, now_ms, ret);
}
