/*
 * api_energy: energy per local day and month from the day rollups
 * (GET /api/devices/:id/energy, docs/api.md), and a device's energy today
 * for the device answers.
 */
#ifndef SMARTMETER_API_ENERGY_H
#define SMARTMETER_API_ENERGY_H

#include "api.h"

/*
 * Writes "energy_today_wh": the energy imported since the site's local
 * midnight (0.000 without data today) into w, an open object. Uses the call's
 * store; returns 0 or the store's error (the caller answers it).
 */
int api_write_energy_today(struct api_call *c, struct jsonw *w, const struct device_rec *d);

/*
 * What a list of devices shows of each beside its row: the newest reading
 * ("latest") and "energy_today_wh", read for many devices at once in a few
 * statements (store_readings_latest_of(), store_day_counters_before_of(),
 * store_rollups_of()) rather than three a device.
 */
/* Devices a list reads the extras of at a time (struct reading is a few hundred bytes). */
#define DEVICE_EXTRAS_CHUNK 256
struct device_extras {
    bool has_latest;
    struct reading latest;
    int64_t today_import_mwh;
};
/*
 * ret[i] for device_pks[i] (distinct), i < n, as write_device_extras() then
 * writes it: byte for byte what the one-device answers write. Uses the
 * call's store; returns 0 or the store's error (the caller answers it).
 */
int api_device_extras(struct api_call *c, const int64_t *device_pks, size_t n,
                      struct device_extras *ret);
/* Writes "latest" and "energy_today_wh" of e into w, an open object. */
void api_write_device_extras(struct jsonw *w, const struct device_extras *e);

#endif
