/* meta: the device metadata as the rules read it (meta.h). */
#include "meta.h"

#include <stdio.h>

static int from_store(void *ctx, struct store *st, const struct device_rec *d,
                      struct alarm_device_meta *ret)
{
    (void)ctx;
    struct device_meta m;
    int r = store_device_meta_get(st, d->id, &m);
    if (r)
        return r;
    if (m.present & DM_BIT(DM_NOMINAL_VOLTAGE))
        ret->nominal_voltage = m.nominal_voltage;
    if (m.present & DM_BIT(DM_NOMINAL_HZ))
        ret->nominal_hz = m.nominal_hz;
    if (m.present & DM_BIT(DM_RATED_CURRENT))
        ret->rated_current = m.rated_current;
    if (m.present & DM_BIT(DM_RATED_KVA))
        ret->rated_kva = m.rated_kva;
    if (m.present & DM_BIT(DM_SITE))
        snprintf(ret->site, sizeof(ret->site), "%s", m.site);
    return 0;
}

const struct alarm_meta_source alarm_meta_from_store = {.get = from_store, .ctx = NULL};
