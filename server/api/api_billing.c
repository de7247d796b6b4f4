/* POST /api/device/recharge/:id (the seed's recharge) and GET /api/devices/:id/ledger (a page
   of it with cursor). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_query.h"
#include "money.h"
#include "recharge.h"

/* The amount as integer fen. 0, or answers 400. */
static int parse_amount(struct api_call *c, const json_t *v, int64_t *ret_fen)
{
    switch (recharge_amount_from_json(v, ret_fen)) {
    case 0:
        return 0;
    case -ENOENT:
        return api_error(c, 400, "amount is missing");
    case -EMEDIUMTYPE:
        return api_error(c, 400, "amount must be a number of yuan, like 100 or 100.50");
    case -EINVAL:
        return api_error(c, 400, "amount must be yuan with at most two decimals, like 100.50");
    default:
        return api_error(c, 400, "amount must be more than 0 and at most 10000000.00");
    }
}

void api_recharge(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403,
                  "only operators and admins recharge at the counter; tenants pay online "
                  "(POST /api/devices/:id/payments)");
        return;
    }
    const char *key = http_header(c->req, "Idempotency-Key");
    if (key && !recharge_key_valid(key)) {
        api_error(c, 400, "Idempotency-Key must be 1 to %d printable ASCII characters",
                  IDEMPOTENCY_KEY_MAX);
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    int64_t fen;
    if (parse_amount(c, json_object_get(body, "amount"), &fen)) {
        json_decref(body);
        return;
    }
    json_decref(body);

    struct recharge_result res;
    int r = api_store_result(c, store_recharge(c->store, dev.id, fen, c->user.id, key, &res));
    if (r == -EEXIST) {
        api_error(c, 409, "this Idempotency-Key was already used for a different recharge");
        return;
    }
    if (r == -ERANGE) {
        api_error(c, 400, "the balance would exceed its maximum");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    if (res.replayed) {
        http_response_header(c->res, "Idempotent-Replayed", "true");
    } else {
        char amount[MONEY_TEXT_LEN];
        money_format(fen, amount);
        api_audit(c, "recharge", dev.device_id, "amount=%s ledger_id=%lld", amount,
                  (long long)res.ledger_id);
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kmoney(&w, "new_balance", res.new_balance_fen);
    jsonw_kint(&w, "ledger_id", res.ledger_id);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

static int write_entry(const struct ledger_entry *e, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    jsonw_kint(w, "id", e->id);
    jsonw_kstr(w, "kind", e->kind);
    jsonw_kmoney(w, "amount", e->amount_fen);
    jsonw_kmoney(w, "balance_after", e->balance_after_fen);
    jsonw_key(w, "actor");
    if (e->actor[0])
        jsonw_str(w, e->actor);
    else
        jsonw_null(w);
    jsonw_ktime(w, "created_at", e->created_ms);
    jsonw_obj_end(w);
    return 0;
}

/* Writes each entry of a page, keeping the last one's id for the next page's cursor. */
struct ledger_page {
    struct jsonw *w;
    int64_t last_id;
};

static int write_page_entry(const struct ledger_entry *e, void *ctx)
{
    struct ledger_page *p = ctx;
    p->last_id = e->id;
    return write_entry(e, p->w);
}

/* GET .../ledger with cursor ("" from the newest, else next_cursor): a page, the total and the
   next page's cursor (the last entry's id). */
static void ledger_page(struct api_call *c, const struct device_rec *dev, int64_t limit,
                        const char *cursor)
{
    int64_t before = 0, total = 0;
    if (cursor[0] && api_parse_count(cursor, 1, INT64_MAX, &before))
        return (void)api_error(c, 400, "cursor is not one this server handed out (next_cursor)");
    int r = api_store_result(c, store_ledger_count(c->store, dev->id, &total));
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev->device_id);
    jsonw_kmoney(&w, "balance", dev->balance_fen);
    jsonw_key(&w, "entries");
    jsonw_arr_begin(&w);
    struct ledger_page p = {.w = &w};
    bool more = false;
    r = api_store_result(c, store_ledger_page(c->store, dev->id, before, (size_t)limit,
                                              write_page_entry, &p, &more));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    char next[24];
    snprintf(next, sizeof(next), "%lld", (long long)p.last_id);
    api_write_page_end(&w, total, limit, more && p.last_id > 0 ? next : NULL);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_ledger(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    int64_t limit;
    if (api_query_limit(c, 100, &limit))
        return;
    /* With a cursor: a page with its total; without one, the answer as before paging. */
    const char *cursor = http_query(c->req, "cursor");
    if (cursor) {
        ledger_page(c, &dev, limit, cursor);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_kmoney(&w, "balance", dev.balance_fen);
    jsonw_key(&w, "entries");
    jsonw_arr_begin(&w);
    int r =
        api_store_result(c, store_ledger_list(c->store, dev.id, (size_t)limit, write_entry, &w));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
