/*
 * Prepaid billing's settings (SPEC.md, "Prepaid"; docs/api.md):
 *   PUT/GET /api/devices/:id/tariff   a tariff version / the one in force
 *   PUT/GET /api/devices/:id/billing  low_balance, cutoff_at, protected
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "charge.h"
#include "money.h"
#include "tariff.h"
#include "timeutil.h"

/* Most upcoming versions a GET lists after the one in force. */
#define TARIFF_UPCOMING_MAX 16

void api_tariff_put(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "only operators and admins may set a tariff");
        return;
    }
    struct tariff t;
    char err[TARIFF_ERR_LEN];
    if (tariff_parse(c->req->body, c->req->body_len, time_now_ms(), &t, err)) {
        api_error(c, 400, "%s", err);
        return;
    }
    int r = api_store_result(c, store_tariff_add(c->store, dev.id, &t));
    if (r == -ESTALE) {
        api_error(c, 409,
                  "effective_from must be after the last reading already billed: billed "
                  "consumption is never priced again");
        return;
    }
    if (r == -EEXIST) {
        api_error(c, 409, "a tariff version already starts at that effective_from");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    api_audit(c, "tariff.set", dev.device_id, "effective_from_ms=%lld periods=%u",
              (long long)t.effective_from_ms, (unsigned)t.n_periods);
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    tariff_write_members(&w, &t);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_tariff_get(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    static _Thread_local struct tariff v[CHARGE_MAX_VERSIONS];
    size_t n = 0;
    int64_t now = time_now_ms();
    int r = api_store_result(
        c, store_tariff_versions(c->store, dev.id, now, v, CHARGE_MAX_VERSIONS, &n));
    if (r) {
        api_store_error(c, r);
        return;
    }
    const struct tariff *in_force = tariff_version_at(v, n, now);
    if (!in_force) {
        api_error(c, 404, "no tariff is in force for this device");
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    tariff_write_members(&w, in_force);
    jsonw_key(&w, "upcoming");
    jsonw_arr_begin(&w);
    size_t shown = 0;
    for (const struct tariff *t = in_force + 1; t < v + n && shown < TARIFF_UPCOMING_MAX; t++) {
        tariff_write_json(&w, t);
        shown++;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/*
 * A money setting (signed yuan, at most 2 decimals: a number or a decimal
 * string). 0 with *ret_fen, 1 when absent, or -1 after answering 400.
 */
static int money_field(struct api_call *c, const json_t *body, const char *name, int64_t *ret_fen)
{
    const json_t *v = json_object_get(body, name);
    if (!v)
        return 1;
    int64_t fen = 0;
    int r;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        r = x > STORE_BALANCE_MAX_FEN / 100 || x < -STORE_BALANCE_MAX_FEN / 100 ? -ERANGE : 0;
        fen = r ? 0 : (int64_t)x * 100;
    } else if (json_is_real(v)) {
        r = money_from_double(json_real_value(v), &fen);
    } else if (json_is_string(v)) {
        r = money_parse(json_string_value(v), &fen);
    } else {
        r = -EMEDIUMTYPE;
    }
    if (!r && (fen > STORE_BALANCE_MAX_FEN || fen < -STORE_BALANCE_MAX_FEN))
        r = -ERANGE;
    if (r)
        return api_error(c, 400, "%s must be yuan with at most two decimals, like 20.00%s", name,
                         r == -ERANGE ? ", within the balance's range" : "");
    *ret_fen = fen;
    return 0;
}

static void write_settings(struct api_call *c, const struct device_rec *dev,
                           const struct billing_settings *s)
{
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev->device_id);
    jsonw_kmoney(&w, "balance", dev->balance_fen);
    jsonw_kmoney(&w, "low_balance", s->low_balance_fen);
    jsonw_kmoney(&w, "cutoff_at", s->cutoff_at_fen);
    jsonw_kbool(&w, "protected", s->is_protected);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_billing_put(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "only operators and admins may change billing settings");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    struct billing_settings_change ch = {0};
    const char *key;
    json_t *val;
    int bad = 0;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "low_balance") != 0 && strcmp(key, "cutoff_at") != 0 &&
            strcmp(key, "protected") != 0) {
            bad = api_error(c, 400, "unknown field %.40s: low_balance, cutoff_at, protected", key);
            break;
        }
    }
    int r = bad ? -1 : money_field(c, body, "low_balance", &ch.low_balance_fen);
    ch.has_low_balance = r == 0;
    if (r >= 0) {
        r = money_field(c, body, "cutoff_at", &ch.cutoff_at_fen);
        ch.has_cutoff_at = r == 0;
    }
    const json_t *p = json_object_get(body, "protected");
    if (r >= 0 && p) {
        if (!json_is_boolean(p))
            r = api_error(c, 400, "protected must be true or false");
        ch.has_protected = true;
        ch.is_protected = json_is_true(p);
    }
    json_decref(body);
    if (r < 0)
        return;
    if (!ch.has_low_balance && !ch.has_cutoff_at && !ch.has_protected) {
        api_error(c, 400, "give any of low_balance, cutoff_at, protected");
        return;
    }
    struct billing_settings s;
    r = api_store_result(c, store_billing_settings_set(c->store, dev.id, &ch, &s));
    if (r) {
        api_store_error(c, r);
        return;
    }
    char low[MONEY_TEXT_LEN], cut[MONEY_TEXT_LEN];
    money_format(s.low_balance_fen, low);
    money_format(s.cutoff_at_fen, cut);
    api_audit(c, "billing.set", dev.device_id, "low_balance=%s cutoff_at=%s protected=%s", low, cut,
              s.is_protected ? "true" : "false");
    write_settings(c, &dev, &s);
}

void api_billing_get(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    struct billing_settings s;
    int r = api_store_result(c, store_billing_settings_get(c->store, dev.id, &s));
    if (r) {
        api_store_error(c, r);
        return;
    }
    write_settings(c, &dev, &s);
}
