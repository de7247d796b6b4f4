/*
 * Per-device billing settings (SPEC.md, "Prepaid"; docs/api.md, docs/billing.md "Cut-off and
 * restore"): PUT/GET /api/devices/:id/billing: low_balance, cutoff_at, protected and the
 * no-cut-off time (no_cutoff_hours, no_cutoff_weekends, no_cutoff_holidays).
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "cutoff.h"
#include "money.h"

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

/* An optional boolean member: 0 (absent or set), or answers 400 (-1). */
static int bool_field(struct api_call *c, const json_t *body, const char *name, bool *ret_has,
                      bool *ret)
{
    const json_t *v = json_object_get(body, name);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return api_error(c, 400, "%s must be true or false", name);
    *ret_has = true;
    *ret = json_is_true(v);
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
    char hours[CUTOFF_HOURS_LEN];
    cutoff_hours_format(s->no_cutoff_from_min, s->no_cutoff_to_min, hours);
    jsonw_kstr(&w, "no_cutoff_hours", hours);
    jsonw_kbool(&w, "no_cutoff_weekends", s->no_cutoff_weekends);
    jsonw_kbool(&w, "no_cutoff_holidays", s->no_cutoff_holidays);
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
    static const char *const known[] = {
        "low_balance",        "cutoff_at",          "protected", "no_cutoff_hours",
        "no_cutoff_weekends", "no_cutoff_holidays", NULL};
    json_object_foreach(body, key, val)
    {
        size_t k = 0;
        while (known[k] && strcmp(key, known[k]) != 0)
            k++;
        if (!known[k]) {
            bad = api_error(c, 400,
                            "unknown field %.40s: low_balance, cutoff_at, protected, "
                            "no_cutoff_hours, no_cutoff_weekends, no_cutoff_holidays",
                            key);
            break;
        }
    }
    int r = bad ? -1 : money_field(c, body, "low_balance", &ch.low_balance_fen);
    ch.has_low_balance = r == 0;
    if (r >= 0) {
        r = money_field(c, body, "cutoff_at", &ch.cutoff_at_fen);
        ch.has_cutoff_at = r == 0;
    }
    if (r >= 0)
        r = bool_field(c, body, "protected", &ch.has_protected, &ch.is_protected);
    if (r >= 0)
        r = bool_field(c, body, "no_cutoff_weekends", &ch.has_no_cutoff_weekends,
                       &ch.no_cutoff_weekends);
    if (r >= 0)
        r = bool_field(c, body, "no_cutoff_holidays", &ch.has_no_cutoff_holidays,
                       &ch.no_cutoff_holidays);
    const json_t *h = json_object_get(body, "no_cutoff_hours");
    if (r >= 0 && h) {
        ch.has_no_cutoff_hours = true;
        if (json_is_null(h))
            ch.no_cutoff_from_min = ch.no_cutoff_to_min = 0;
        else if (!json_is_string(h) ||
                 cutoff_hours_parse(json_string_value(h), &ch.no_cutoff_from_min,
                                    &ch.no_cutoff_to_min))
            r = api_error(c, 400,
                          "no_cutoff_hours must be \"HH:MM-HH:MM\" (like \"22:00-08:00\") or "
                          "\"\" for none");
    }
    json_decref(body);
    if (r < 0)
        return;
    if (!ch.has_low_balance && !ch.has_cutoff_at && !ch.has_protected && !ch.has_no_cutoff_hours &&
        !ch.has_no_cutoff_weekends && !ch.has_no_cutoff_holidays) {
        api_error(c, 400,
                  "give any of low_balance, cutoff_at, protected, no_cutoff_hours, "
                  "no_cutoff_weekends, no_cutoff_holidays");
        return;
    }
    struct billing_settings s;
    r = api_store_result(c, store_billing_settings_set(c->store, dev.id, &ch, &s));
    if (r) {
        api_store_error(c, r);
        return;
    }
    char low[MONEY_TEXT_LEN], cut[MONEY_TEXT_LEN], hours[CUTOFF_HOURS_LEN];
    money_format(s.low_balance_fen, low);
    money_format(s.cutoff_at_fen, cut);
    cutoff_hours_format(s.no_cutoff_from_min, s.no_cutoff_to_min, hours);
    api_audit(c, "billing.set", dev.device_id,
              "low_balance=%s cutoff_at=%s protected=%s no_cutoff_hours=%s weekends=%s "
              "holidays=%s",
              low, cut, s.is_protected ? "true" : "false", hours,
              s.no_cutoff_weekends ? "true" : "false", s.no_cutoff_holidays ? "true" : "false");
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
