/*
 * Lists that scale: GET /api/devices with limit, cursor and filters (a page
 * of the caller's devices, its total and the next page's cursor),
 * GET /api/devices/summary (fleet counts), and bulk provisioning:
 * POST /api/devices/import (a CSV, provision.h). docs/api.md describes each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_energy.h"
#include "api_query.h"
#include "broker.h"
#include "log.h"
#include "money.h"
#include "provision.h"

#define PAGE_LIMIT_DEFAULT 100
#define PAGE_LIMIT_MAX     1000
/* A cursor is the last device_id of a page, in hex: opaque to the caller, safe in a URL. */
#define CURSOR_MAX (2 * DEVICE_ID_MAX)

static const char *const page_params[] = {"limit",         "cursor", "status", "site",
                                          "balance_below", "alarms", "q"};

bool api_devices_paged(const struct api_call *c)
{
    for (size_t i = 0; i < sizeof(page_params) / sizeof(page_params[0]); i++)
        if (http_query(c->req, page_params[i]))
            return true;
    return false;
}

static bool query_text_ok(const char *s, size_t max_chars)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if ((*p & 0xc0) != 0x80) /* characters, not bytes */
            n++;
    }
    return n >= 1 && n <= max_chars;
}

/* Reads the page's parameters: 0, or -1 after answering 400. */
static int read_params(struct api_call *c, int64_t *limit, char after[DEVICE_ID_MAX + 1],
                       struct device_filter *f)
{
    const char *v;
    if (api_query_limit(c, PAGE_LIMIT_DEFAULT, limit))
        return -1;
    after[0] = '\0';
    if ((v = http_query(c->req, "cursor")) &&
        (api_cursor_decode(v, after, DEVICE_ID_MAX + 1) || !device_id_valid(after)))
        return api_error(c, 400, "cursor is not one this server handed out (next_cursor)");
    memset(f, 0, sizeof(*f));
    if ((v = http_query(c->req, "status"))) {
        f->has_status = true;
        if (strcmp(v, "online") == 0)
            f->status = DEVICE_STATUS_ONLINE;
        else if (strcmp(v, "offline") == 0)
            f->status = DEVICE_STATUS_OFFLINE;
        else if (strcmp(v, "unknown") == 0)
            f->status = DEVICE_STATUS_UNKNOWN;
        else
            return api_error(c, 400, "status must be online, offline or unknown");
    }
    if ((v = http_query(c->req, "site"))) {
        if (!query_text_ok(v, DEVICE_META_SITE_MAX))
            return api_error(c, 400, "site must be 1 to %d characters", DEVICE_META_SITE_MAX);
        f->site = v;
    }
    if ((v = http_query(c->req, "balance_below"))) {
        if (money_parse(v, &f->balance_below_fen))
            return api_error(c, 400, "balance_below must be yuan with at most two decimals");
        f->has_balance_below = true;
    }
    if ((v = http_query(c->req, "alarms"))) {
        if (strcmp(v, "open") != 0)
            return api_error(c, 400, "alarms must be open");
        f->open_alarms = true;
    }
    if ((v = http_query(c->req, "q"))) {
        if (!query_text_ok(v, DEVICE_QUERY_MAX))
            return api_error(c, 400, "q must be 1 to %d characters", DEVICE_QUERY_MAX);
        f->query = v;
    }
    return 0;
}

struct page {
    struct device_page_item *items;
    size_t n, cap;
};

static int page_keep(const struct device_page_item *it, void *ctx)
{
    struct page *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct device_page_item *a = realloc(p->items, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        p->items = a;
        p->cap = cap;
    }
    p->items[p->n++] = *it;
    return 0;
}

/* One device as GET /api/devices has always written it. */
static void write_device(struct jsonw *w, const struct device_page_item *it,
                         const struct device_extras *e)
{
    const struct device_rec *d = &it->d;
    jsonw_obj_begin(w);
    jsonw_kstr(w, "device_id", d->device_id);
    api_write_device_meta(w, &it->names, true);
    jsonw_kmoney(w, "balance", d->balance_fen);
    jsonw_kstr(w, "status", device_status_name(d->status));
    jsonw_key(w, "status_at");
    if (d->status_ms > 0)
        jsonw_time(w, d->status_ms);
    else
        jsonw_null(w);
    api_write_device_extras(w, e);
    jsonw_obj_end(w);
}

/* Writes the page's devices, their extras read DEVICE_EXTRAS_CHUNK at a time. */
static int write_devices(struct api_call *c, struct jsonw *w, const struct page *p)
{
    int64_t *pks = malloc(DEVICE_EXTRAS_CHUNK * sizeof(*pks));
    struct device_extras *ex = malloc(DEVICE_EXTRAS_CHUNK * sizeof(*ex));
    int r = pks && ex ? 0 : -ENOMEM;
    for (size_t k = 0; !r && k < p->n; k += DEVICE_EXTRAS_CHUNK) {
        size_t n = p->n - k < DEVICE_EXTRAS_CHUNK ? p->n - k : DEVICE_EXTRAS_CHUNK;
        for (size_t i = 0; i < n; i++)
            pks[i] = p->items[k + i].d.id;
        r = api_device_extras(c, pks, n, ex);
        for (size_t i = 0; !r && i < n; i++)
            write_device(w, &p->items[k + i], &ex[i]);
    }
    free(pks);
    free(ex);
    return r;
}

void api_devices_page(struct api_call *c)
{
    int64_t limit;
    char after[DEVICE_ID_MAX + 1];
    struct device_filter f;
    if (read_params(c, &limit, after, &f))
        return;
    struct store *st = api_store(c);
    if (!st)
        return;
    int64_t user_id = api_is_staff(c) ? 0 : c->user.id;
    /* Collect first: a connection runs one statement at a time. */
    struct page p = {0};
    bool more = false;
    int64_t total = 0;
    int r = api_store_result(
        c, store_device_page(st, user_id, &f, after, (size_t)limit, page_keep, &p, &more));
    if (!r)
        r = api_store_result(c, store_device_count(st, user_id, &f, &total));
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "devices");
    jsonw_arr_begin(&w);
    r = write_devices(c, &w, &p);
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    jsonw_arr_end(&w);
    char cursor[CURSOR_MAX + 1] = "";
    if (p.n > 0)
        api_cursor_encode(p.items[p.n - 1].d.device_id, cursor, sizeof(cursor));
    api_write_page_end(&w, total, limit, more && p.n > 0 ? cursor : NULL);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    free(p.items);
}

void api_devices_summary(struct api_call *c)
{
    struct store *st = api_store(c);
    if (!st)
        return;
    struct device_summary s;
    int r = api_store_result(c, store_device_summary(st, api_is_staff(c) ? 0 : c->user.id, &s));
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kint(&w, "total", s.total);
    jsonw_kint(&w, "online", s.online);
    jsonw_kint(&w, "offline", s.offline);
    jsonw_kint(&w, "unknown", s.unknown);
    jsonw_kint(&w, "in_arrears", s.in_arrears);
    jsonw_kint(&w, "with_open_alarms", s.with_open_alarms);
    jsonw_kint(&w, "open_alarms", s.open_alarms);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

struct import_answer {
    struct api_call *c;
    struct jsonw *w;
};

static int write_secret(const char *device_id, const char *secret, void *ctx)
{
    struct import_answer *a = ctx;
    jsonw_obj_begin(a->w);
    jsonw_kstr(a->w, "device_id", device_id);
    jsonw_kstr(a->w, "secret", secret);
    jsonw_obj_end(a->w);
    /* Its broker account, now: the device may connect as soon as it has its secret. */
    broker_device_changed(a->c->app->broker, device_id);
    return 0;
}

void api_devices_import(struct api_call *c)
{
    const char *type = http_header(c->req, "Content-Type");
    if (!type || strncmp(type, "text/csv", 8) != 0)
        return (void)api_error(c, 415, "the body must be text/csv");
    struct store *st = api_store(c);
    if (!st)
        return;
    /* The answer is written while the rows are handed over: start it, then fill or drop it.
       It cannot outgrow the response cap once committed: PROVISION_MAX_ROWS entries of about
       110 bytes are 11 MB, the cap 64 MB (main.c). */
    struct jsonw w;
    api_success(c, 201, &w);
    jsonw_key(&w, "devices");
    jsonw_arr_begin(&w);
    struct import_answer a = {.c = c, .w = &w};
    size_t n = 0;
    unsigned line = 0;
    char err[PROVISION_ERR_LEN];
    int r = provision_import(st, c->req->body, c->req->body_len, c->user.username, write_secret, &a,
                             &n, &line, err);
    api_store_result(c, r == -EINVAL || r == -E2BIG ? 0 : r);
    if (r) {
        if (r == -EINVAL || r == -E2BIG)
            api_error(c, r == -E2BIG ? 413 : 400, "%s; nothing was imported", err);
        else
            api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_kint(&w, "imported", (int64_t)n);
    jsonw_obj_end(&w);
    log_info("api: %s imported %zu devices", c->user.username, n);
    api_audit(c, "device.import", "", "devices=%zu", n);
    api_json_done(c, &w);
}
