/*
 * Devices: GET /api/devices, GET /api/devices/:id, POST /api/devices,
 * DELETE /api/devices/:id, POST /api/devices/:id/secret (a new secret), and
 * who may see them: POST /api/devices/:id/bindings,
 * DELETE /api/devices/:id/bindings/:username.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_energy.h"
#include "broker.h"
#include "devcache.h"
#include "ingest.h"
#include "log.h"
#include "money.h"
#include "terminals.h"

/* Most devices one list answer carries. */
#define DEVICE_LIST_MAX 10000

static void write_status(struct jsonw *w, const struct device_rec *d)
{
    jsonw_kstr(w, "status", device_status_name(d->status));
    jsonw_key(w, "status_at");
    if (d->status_ms > 0)
        jsonw_time(w, d->status_ms);
    else
        jsonw_null(w);
}

/* Writes "latest": the newest reading or null. Returns 0 or a store error. */
static int write_latest(struct api_call *c, struct jsonw *w, const struct device_rec *d)
{
    struct reading r;
    int rc = api_store_result(c, store_reading_latest(c->store, d->id, &r));
    jsonw_key(w, "latest");
    if (rc == -ENOENT) {
        jsonw_null(w);
        return 0;
    }
    if (rc)
        return rc;
    api_write_reading(w, &r);
    return 0;
}

struct device_array {
    struct device_rec *items;
    size_t n;
};

/* The device's metadata (device_meta.h): every field, or only name and site for lists. */
static int write_meta(struct api_call *c, struct jsonw *w, const struct device_rec *d,
                      bool names_only)
{
    struct device_meta m;
    int r = api_store_result(c, store_device_meta_get(c->store, d->id, &m));
    if (!r)
        api_write_device_meta(w, &m, names_only);
    return r;
}

void api_devices_list(struct api_call *c)
{
    /* Without paging or filters: the seed's answer, every device (docs/api.md). */
    if (api_devices_paged(c)) {
        api_devices_page(c);
        return;
    }
    struct store *st = api_store(c);
    if (!st)
        return;
    /* Collect first: a connection runs one statement at a time. */
    struct device_array a = {0};
    struct device_extras *ex = NULL;
    int r = api_store_result(c, store_device_array(st, api_is_staff(c) ? 0 : c->user.id,
                                                   DEVICE_LIST_MAX, &a.items, &a.n));
    if (r == -E2BIG) {
        api_error(c, 413, "more than %d devices", DEVICE_LIST_MAX);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "devices");
    jsonw_arr_begin(&w);
    /* The newest reading and today's energy of DEVICE_EXTRAS_CHUNK devices at a time. */
    int64_t pks[DEVICE_EXTRAS_CHUNK];
    ex = malloc(DEVICE_EXTRAS_CHUNK * sizeof(*ex));
    if (!ex)
        r = -ENOMEM;
    for (size_t k = 0; !r && k < a.n; k += DEVICE_EXTRAS_CHUNK) {
        size_t n = a.n - k < DEVICE_EXTRAS_CHUNK ? a.n - k : DEVICE_EXTRAS_CHUNK;
        for (size_t i = 0; i < n; i++)
            pks[i] = a.items[k + i].id;
        r = api_device_extras(c, pks, n, ex);
        for (size_t i = 0; i < n && !r; i++) {
            const struct device_rec *d = &a.items[k + i];
            jsonw_obj_begin(&w);
            jsonw_kstr(&w, "device_id", d->device_id);
            r = write_meta(c, &w, d, true);
            jsonw_kmoney(&w, "balance", d->balance_fen);
            write_status(&w, d);
            api_write_device_extras(&w, &ex[i]);
            jsonw_obj_end(&w);
        }
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    free(ex);
    free(a.items);
}

static int write_name(const char *name, void *ctx)
{
    jsonw_str(ctx, name);
    return 0;
}

/* "relay": "on"|"off" as the newest reading that carries it reported, null before any. */
static int write_relay(struct api_call *c, struct jsonw *w, const struct device_rec *d)
{
    bool on;
    int64_t ts;
    int r = api_store_result(c, store_device_relay(c->store, d->id, &on, &ts));
    jsonw_key(w, "relay");
    if (r == -ENOENT) {
        jsonw_null(w);
        return 0;
    }
    if (!r)
        jsonw_str(w, on ? "on" : "off");
    return r;
}

void api_device_detail(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", d.device_id);
    jsonw_kmoney(&w, "balance", d.balance_fen);
    write_status(&w, &d);
    jsonw_ktime(&w, "created_at", d.created_ms);
    int r = write_relay(c, &w, &d);
    if (!r)
        r = write_meta(c, &w, &d, false);
    if (!r)
        r = write_latest(c, &w, &d);
    if (!r)
        r = api_write_energy_today(c, &w, &d);
    if (!r && api_is_staff(c)) {
        jsonw_key(&w, "users");
        jsonw_arr_begin(&w);
        r = api_store_result(c, store_binding_users(c->store, d.id, write_name, &w));
        jsonw_arr_end(&w);
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_device_create(struct api_call *c)
{
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *device_id = api_body_string(c, body, "device_id", DEVICE_ID_MAX);
    if (!device_id)
        goto out;
    if (!device_id_valid(device_id)) {
        api_error(c, 400, "device_id must be 1 to %d of A-Z a-z 0-9 _ - . :", DEVICE_ID_MAX);
        goto out;
    }
    const json_t *owner_v = json_object_get(body, "owner");
    const char *owner = NULL;
    if (owner_v && !json_is_null(owner_v)) {
        owner = api_body_string(c, body, "owner", USERNAME_MAX);
        if (!owner)
            goto out;
    }
    struct store *st = api_store(c);
    if (!st)
        goto out;
    struct user_rec u;
    int r;
    if (owner) {
        r = username_valid(owner) ? api_store_result(c, store_user_by_name(st, owner, &u))
                                  : -ENOENT;
        if (r == -ENOENT) {
            api_error(c, 400, "owner '%s' is not a user", username_valid(owner) ? owner : "?");
            goto out;
        }
        if (r) {
            api_store_error(c, r);
            goto out;
        }
    }
    char secret[AUTH_DEVICE_SECRET_LEN + 1], hash[SECRET_HASH_LEN + 1];
    auth_device_secret_new(secret, hash);
    int64_t pk;
    r = api_store_result(c, store_device_add(st, device_id, hash, owner ? u.id : 0, &pk));
    if (r == -EEXIST) {
        api_error(c, 409, "device %s already exists", device_id);
        goto wipe;
    }
    if (r) {
        api_store_error(c, r);
        goto wipe;
    }
    log_info("api: %s added device %s", c->user.username, device_id);
    broker_device_changed(c->app->broker, device_id); /* its broker account, now */
    api_audit(c, "device.create", device_id, "owner=%s", owner ? owner : "");
    struct jsonw w;
    api_success(c, 201, &w);
    jsonw_kstr(&w, "device_id", device_id);
    jsonw_kstr(&w, "secret", secret);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
wipe:
    auth_wipe(secret, sizeof(secret));
out:
    json_decref(body);
}

void api_binding_add(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *username = api_body_string(c, body, "username", USERNAME_MAX);
    if (!username)
        goto out;
    struct user_rec u;
    int r = username_valid(username)
                ? api_store_result(c, store_user_by_name(c->store, username, &u))
                : -ENOENT;
    if (r == -ENOENT) {
        api_error(c, 404, "user not found");
        goto out;
    }
    if (!r)
        r = api_store_result(c, store_binding_add(c->store, u.id, d.id));
    if (r == -EEXIST) {
        api_error(c, 409, "%s is already bound to %s", u.username, d.device_id);
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: %s bound %s to %s", c->user.username, d.device_id, u.username);
    api_audit(c, "binding.add", d.device_id, "user=%s", u.username);
    struct jsonw w;
    api_success(c, 201, &w);
    jsonw_kstr(&w, "device_id", d.device_id);
    jsonw_kstr(&w, "username", u.username);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    json_decref(body);
}

void api_binding_remove(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    const char *username = c->params[1];
    struct user_rec u;
    int r = username_valid(username)
                ? api_store_result(c, store_user_by_name(c->store, username, &u))
                : -ENOENT;
    if (!r)
        r = api_store_result(c, store_binding_remove(c->store, u.id, d.id));
    if (r == -ENOENT) {
        api_error(c, 404, "no such binding");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    log_info("api: %s unbound %s from %s", c->user.username, d.device_id, u.username);
    api_audit(c, "binding.remove", d.device_id, "user=%s", u.username);
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_device_credentials_changed(struct app *app, const char *device_id,
                                    const char *new_secret_hash)
{
    /* This process's caches first: an upload or a message after this sees the change. */
    devcache_forget(app->devices, device_id);
    if (!new_secret_hash && app->ingest)
        ingest_forget_device(app->ingest, device_id);
    broker_device_changed(app->broker, device_id); /* its broker account, now */
    /* A terminal link opened with the old secret ends (terminals.h). */
    terminals_forget(atomic_load(&app->terminals), device_id);
}

void api_device_secret(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    char secret[AUTH_DEVICE_SECRET_LEN + 1], hash[SECRET_HASH_LEN + 1];
    auth_device_secret_new(secret, hash);
    int r = api_store_result(c, store_device_set_secret(c->store, d.device_id, hash));
    if (r == -ENOENT) {
        api_error(c, 404, "device not found");
        goto wipe;
    }
    if (r) {
        api_store_error(c, r);
        goto wipe;
    }
    api_device_credentials_changed(c->app, d.device_id, hash);
    log_info("api: %s gave device %s a new secret", c->user.username, d.device_id);
    api_audit(c, "device.secret", d.device_id, "%s", "");
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", d.device_id);
    jsonw_kstr(&w, "secret", secret);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
wipe:
    auth_wipe(secret, sizeof(secret));
}

void api_device_delete(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    int r = api_store_result(c, store_device_delete(c->store, d.device_id));
    if (r == -ENOENT) {
        api_error(c, 404, "device not found");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    api_device_credentials_changed(c->app, d.device_id, NULL);
    log_info("api: %s deleted device %s", c->user.username, d.device_id);
    char balance[MONEY_TEXT_LEN];
    money_format(d.balance_fen, balance);
    api_audit(c, "device.delete", d.device_id, "balance=%s", balance);
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
