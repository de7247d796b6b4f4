/*
 * Tariffs (SPEC.md, "Prepaid"; docs/api.md, docs/billing.md):
 *   PUT/GET /api/devices/:id/tariff  a device's tariff version / the one in force
 *   PUT/GET /api/site/tariff         the park's default, the same for every device
 *                                    without versions of its own
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "charge.h"
#include "tariff.h"
#include "timeutil.h"

/* Most upcoming versions a GET lists after the one in force. */
#define TARIFF_UPCOMING_MAX 16

/* Puts version t for pk (a device, or STORE_PARK with device_id NULL). */
static void tariff_put(struct api_call *c, int64_t pk, const char *device_id)
{
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
    int r = api_store_result(c, store_tariff_add(c->store, pk, &t));
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
    api_audit(c, "tariff.set", device_id ? device_id : "park", "effective_from_ms=%lld periods=%u",
              (long long)t.effective_from_ms, (unsigned)t.n_periods);
    struct jsonw w;
    api_success(c, 200, &w);
    if (device_id)
        jsonw_kstr(&w, "device_id", device_id);
    tariff_write_members(&w, &t);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

/* The version in force for pk and the upcoming ones. */
static void tariff_get(struct api_call *c, int64_t pk, const char *device_id)
{
    static _Thread_local struct tariff v[CHARGE_MAX_VERSIONS];
    size_t n = 0;
    int64_t now = time_now_ms();
    int r = api_store_result(c, store_tariff_versions(c->store, pk, now, v, CHARGE_MAX_VERSIONS, &n));
    if (r) {
        api_store_error(c, r);
        return;
    }
    const struct tariff *in_force = tariff_version_at(v, n, now);
    if (!in_force) {
        api_error(c, 404, device_id ? "no tariff is in force for this device"
                                    : "the park has no default tariff in force");
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    if (device_id)
        jsonw_kstr(&w, "device_id", device_id);
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

void api_tariff_put(struct api_call *c)
{
    struct device_rec dev;
    if (!api_device_for_caller(c, c->params[0], &dev))
        tariff_put(c, dev.id, dev.device_id);
}

void api_tariff_get(struct api_call *c)
{
    struct device_rec dev;
    if (!api_device_for_caller(c, c->params[0], &dev))
        tariff_get(c, dev.id, dev.device_id);
}

void api_site_tariff_put(struct api_call *c)
{
    tariff_put(c, STORE_PARK, NULL);
}

void api_site_tariff_get(struct api_call *c)
{
    tariff_get(c, STORE_PARK, NULL);
}
