/*
 * GET /api/devices/:id/demand: a device's maximum demand per month (需量,
 * what two-part industrial tariffs bill), as the store keeps it from the
 * readings (store.h "Maximum demand"): the largest demand_w of the month
 * with its time, and the largest demand_max_w the meter itself reported.
 * `month=YYYY-MM` answers that month (nulls when no reading carried demand);
 * without it, the newest months that have data, at most `limit`. Months are
 * the site's (option timezone). docs/api.md describes the answer.
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "api_query.h"

#define DEMAND_LIST_DEFAULT 12
#define DEMAND_LIST_MAX     120

/* "YYYY-MM" with a month 01..12 and a year 2000..9999. */
static bool month_valid(const char *s)
{
    if (strlen(s) != DEMAND_MONTH_LEN || s[4] != '-')
        return false;
    for (int k = 0; k < DEMAND_MONTH_LEN; k++)
        if (k != 4 && (s[k] < '0' || s[k] > '9'))
            return false;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    return s[0] >= '2' && month >= 1 && month <= 12;
}

static void write_max(struct jsonw *w, const char *key_w, const char *key_at, bool has, double v,
                      int64_t at_ms)
{
    jsonw_key(w, key_w);
    if (has)
        jsonw_double(w, v);
    else
        jsonw_null(w);
    jsonw_key(w, key_at);
    if (has)
        jsonw_time(w, at_ms);
    else
        jsonw_null(w);
}

/* The month's members (without braces). */
static void write_month_fields(struct jsonw *w, const struct demand_month *d)
{
    jsonw_kstr(w, "month", d->month);
    write_max(w, "demand_max_w", "demand_max_at", d->has_demand, d->demand_max_w, d->demand_max_ms);
    write_max(w, "meter_demand_max_w", "meter_demand_max_at", d->has_meter, d->meter_max_w,
              d->meter_max_ms);
    jsonw_kint(w, "readings", d->readings);
}

static int write_month(const struct demand_month *d, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    write_month_fields(w, d);
    jsonw_obj_end(w);
    return jsonw_error(w) == -E2BIG ? -E2BIG : 0;
}

void api_device_demand(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    const char *month = http_query(c->req, "month"), *ls = http_query(c->req, "limit");
    int64_t limit = DEMAND_LIST_DEFAULT;
    if (month && !month_valid(month)) {
        api_error(c, 400, "month must be YYYY-MM (e.g. 2026-12)");
        return;
    }
    if (ls && (month || api_parse_count(ls, 1, DEMAND_LIST_MAX, &limit))) {
        api_error(c, 400,
                  month ? "give month or limit, not both"
                        : "limit must be an integer from 1 to 120");
        return;
    }
    struct jsonw w;
    if (month) {
        struct demand_month d;
        int r = api_store_result(c, store_demand_month(c->store, dev.id, month, &d));
        if (r == -ENOENT) {
            memset(&d, 0, sizeof(d));
            memcpy(d.month, month, DEMAND_MONTH_LEN + 1);
        } else if (r) {
            api_store_error(c, r);
            return;
        }
        api_success(c, 200, &w);
        jsonw_kstr(&w, "device_id", dev.device_id);
        write_month_fields(&w, &d);
        jsonw_obj_end(&w);
        api_json_done(c, &w);
        return;
    }
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", dev.device_id);
    jsonw_key(&w, "months");
    jsonw_arr_begin(&w);
    int r =
        api_store_result(c, store_demand_list(c->store, dev.id, (size_t)limit, write_month, &w));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
