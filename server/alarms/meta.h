/*
 * meta: where the rules learn a device's ratings: the device metadata an
 * operator set (PATCH /api/devices/:id; store_device_meta_get, device_meta.h)
 * over the site's defaults. A field nobody set keeps the site's default
 * (rated current and kVA: none, so their rules stay off).
 */
#ifndef SMARTMETER_ALARM_META_H
#define SMARTMETER_ALARM_META_H

#include "alarms.h"

/* The source that reads store_device_meta_get(); its ctx is unused. */
extern const struct alarm_meta_source alarm_meta_from_store;

#endif
