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

#endif
