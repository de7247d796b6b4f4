/*
 * The site's calendar and a device's events (docs/api.md):
 *   GET/PUT /api/site/calendar      holidays and working weekend days, for the no-cut-off time
 *   GET /api/devices/:id/events     what the rules noticed (low balance, relay mismatch), newest first
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

static int write_day(const struct calendar_day *d, void *ctx)
{
    struct jsonw *w = ctx;
    if (d->kind == CALENDAR_HOLIDAY)
        jsonw_str(w, d->day);
    return 0;
}

static int write_workday(const struct calendar_day *d, void *ctx)
{
    struct jsonw *w = ctx;
    if (d->kind == CALENDAR_WORKDAY)
        jsonw_str(w, d->day);
    return 0;
}

static void calendar_answer(struct api_call *c)
{
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_key(&w, "holidays");
    jsonw_arr_begin(&w);
    int r = api_store_result(c, store_calendar_list(c->store, write_day, &w));
    jsonw_arr_end(&w);
    jsonw_key(&w, "workdays");
    jsonw_arr_begin(&w);
    if (!r)
        r = api_store_result(c, store_calendar_list(c->store, write_workday, &w));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_site_calendar_get(struct api_call *c)
{
    if (!api_is_staff(c)) {
        api_error(c, 403, "operator or admin role required");
        return;
    }
    calendar_answer(c);
}

/* Appends the dates of array `name` (absent: none) as kind. 0, or -1 after answering 400. */
static int read_days(struct api_call *c, const json_t *body, const char *name,
                     enum calendar_kind kind, struct calendar_day *days, size_t *n)
{
    const json_t *a = json_object_get(body, name);
    if (!a)
        return 0;
    if (!json_is_array(a))
        return api_error(c, 400, "%s must be an array of dates \"YYYY-MM-DD\"", name);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        if (*n == STORE_CALENDAR_MAX)
            return api_error(c, 400, "the calendar holds at most %d days", STORE_CALENDAR_MAX);
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s || strlen(s) != 10)
            return api_error(c, 400, "%s[%zu] must be a date \"YYYY-MM-DD\"", name, i);
        memcpy(days[*n].day, s, 11);
        days[*n].kind = kind;
        ++*n;
    }
    return 0;
}

void api_site_calendar_put(struct api_call *c)
{
    if (!api_is_staff(c)) {
        api_error(c, 403, "operator or admin role required");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    static _Thread_local struct calendar_day days[STORE_CALENDAR_MAX];
    size_t n = 0;
    const char *key;
    json_t *val;
    int r = 0;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "holidays") != 0 && strcmp(key, "workdays") != 0) {
            r = api_error(c, 400, "unknown field %.40s: holidays, workdays", key);
            break;
        }
    }
    if (!r)
        r = read_days(c, body, "holidays", CALENDAR_HOLIDAY, days, &n);
    if (!r)
        r = read_days(c, body, "workdays", CALENDAR_WORKDAY, days, &n);
    json_decref(body);
    if (r)
        return;
    r = api_store_result(c, store_calendar_set(c->store, days, n));
    if (r == -EINVAL) {
        api_error(c, 400, "%s", store_errmsg(c->store));
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    api_audit(c, "calendar.set", "site", "days=%zu", n);
    calendar_answer(c);
}

static int write_event(const struct device_event *e, void *ctx)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    jsonw_ktime(w, "at", e->at_ms);
    jsonw_kstr(w, "kind", e->kind);
    jsonw_kstr(w, "detail", e->detail);
    jsonw_obj_end(w);
    return 0;
}

static int fill_events(struct api_call *c, const struct device_rec *dev, size_t limit,
                       struct jsonw *w)
{
    return store_device_events(c->store, dev->device_id, NULL, limit, write_event, w);
}

void api_device_events(struct api_call *c)
{
    api_device_list_answer(c, "events", 50, fill_events);
}
