/*
 * Device metadata: PATCH /api/devices/:id (operator, admin) with any of the
 * fields of device_meta.h ("name", "site", ..., "register_map"): a value
 * sets a field, null clears it, a field left out keeps its value. The
 * answer is the metadata as it now is, as GET /api/devices/:id carries it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alarms.h"
#include "api.h"
#include "log.h"
#include "timeutil.h"

void api_write_device_meta(struct jsonw *w, const struct device_meta *m, bool names_only)
{
    for (int k = 0; k < DM__COUNT; k++) {
        enum device_meta_field f = (enum device_meta_field)k;
        if (names_only && f != DM_NAME && f != DM_SITE)
            continue;
        const struct device_meta_desc *d = device_meta_desc(f);
        jsonw_key(w, d->name);
        if (!(m->present & DM_BIT(f)))
            jsonw_null(w);
        else if (d->type == DMT_TEXT)
            jsonw_str(w, device_meta_text(m, f));
        else if (d->type == DMT_INT)
            jsonw_int(w, (int64_t)device_meta_number(m, f));
        else
            jsonw_double(w, device_meta_number(m, f));
    }
    if (names_only)
        return;
    jsonw_key(w, "metadata_updated_at");
    if (m->updated_ms)
        jsonw_time(w, m->updated_ms);
    else
        jsonw_null(w);
    jsonw_key(w, "metadata_updated_by");
    if (m->updated_by[0])
        jsonw_str(w, m->updated_by);
    else
        jsonw_null(w);
}

int api_device_meta_parse(json_t *body, struct device_meta *set, uint32_t *clear,
                          char err[DEVICE_META_ERR_LEN])
{
    const char *key;
    json_t *v;
    memset(set, 0, sizeof(*set));
    *clear = 0;
    json_object_foreach(body, key, v)
    {
        int f = device_meta_field_named(key);
        if (f < 0) {
            snprintf(err, DEVICE_META_ERR_LEN,
                     "unknown field '%.40s': the metadata are name, site, address, latitude, "
                     "longitude, nominal_voltage, ...",
                     key);
            return -EINVAL;
        }
        const struct device_meta_desc *d = device_meta_desc((enum device_meta_field)f);
        if (json_is_null(v)) {
            *clear |= DM_BIT(f);
            continue;
        }
        int r;
        if (d->type == DMT_TEXT) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
                snprintf(err, DEVICE_META_ERR_LEN, "%s must be a string or null", d->name);
                return -EINVAL;
            }
            r = device_meta_set_text(set, (enum device_meta_field)f, json_string_value(v), err);
        } else {
            if (!json_is_number(v)) {
                snprintf(err, DEVICE_META_ERR_LEN, "%s must be a number or null", d->name);
                return -EINVAL;
            }
            r = device_meta_set_number(set, (enum device_meta_field)f, json_number_value(v), err);
        }
        if (r)
            return r;
    }
    if (!set->present && !*clear) {
        snprintf(err, DEVICE_META_ERR_LEN, "nothing to change: give at least one metadata field");
        return -EINVAL;
    }
    return 0;
}

void api_device_meta_patch(struct api_call *c)
{
    struct device_rec d;
    if (api_device_for_caller(c, c->params[0], &d))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "operator or admin role required");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    struct device_meta set, now;
    uint32_t clear;
    char err[DEVICE_META_ERR_LEN];
    if (api_device_meta_parse(body, &set, &clear, err)) {
        api_error(c, 400, "%s", err);
        goto out;
    }
    int r = api_store_result(c, store_device_meta_update(c->store, d.id, &set, clear,
                                                         c->user.username, time_now_ms(), &now));
    if (r == -ENOENT) {
        api_error(c, 404, "device not found");
        goto out;
    }
    if (r == -EEXIST || r == -EINVAL) {
        api_error(c, r == -EEXIST ? 409 : 400, "%s", store_errmsg(c->store));
        goto out;
    }
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    alarms_rules_changed(c->app->alarms); /* the ratings the alarm rules use may have moved */
    /* The audit names the fields changed (values can be long; the row keeps them). */
    char fields[256] = "";
    size_t n = 0;
    for (int k = 0; k < DM__COUNT && n < sizeof(fields); k++) {
        if ((set.present | clear) & DM_BIT(k))
            n += (size_t)snprintf(fields + n, sizeof(fields) - n, "%s%s%s", n ? "," : "",
                                  device_meta_desc((enum device_meta_field)k)->name,
                                  (clear & DM_BIT(k)) && !(set.present & DM_BIT(k)) ? "=null" : "");
    }
    log_info("api: %s changed the metadata of %s (%s)", c->user.username, d.device_id, fields);
    api_audit(c, "device.metadata", d.device_id, "fields=%s", fields);
    struct jsonw w;
    api_success(c, 200, &w);
    jsonw_kstr(&w, "device_id", d.device_id);
    api_write_device_meta(&w, &now, false);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
out:
    json_decref(body);
}
