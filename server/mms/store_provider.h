/*
 * store_provider: services.h's provider over the server's store, for the
 * MMS loop's thread alone. The device list is read again at most once per
 * MMS_DEVICES_TTL_MS (and whenever the last read failed); a lost database
 * connection is opened again on the next call.
 */
#ifndef SMARTMETER_MMS_STORE_PROVIDER_H
#define SMARTMETER_MMS_STORE_PROVIDER_H

#include "services.h"
#include "store.h"

#define MMS_DEVICES_TTL_MS 1000
#define MMS_DEVICES_MAX    200000

struct mms_store_provider {
    struct store_source src; /* owned copy */
    struct store *s;         /* NULL until the first call, or after a lost connection */
    struct mms_device *devs;
    size_t n, cap;
    int64_t fetched_ms; /* monotonic; 0: never */
    struct mms_provider p;
};

/* 0 or -ENOMEM/-EINVAL. The store is opened on first use. */
int mms_store_provider_init(struct mms_store_provider *sp, const struct store_source *src);
void mms_store_provider_free(struct mms_store_provider *sp);

#endif
