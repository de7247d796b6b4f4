/* The store-backed provider of store_provider.h. */
#include "store_provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

static int connect_store(struct mms_store_provider *sp)
{
    char err[STORE_ERR_LEN];
    if (sp->s)
        return 0;
    return store_source_open(&sp->src, &sp->s, err);
}

static void lost(struct mms_store_provider *sp, int r)
{
    if (r == -ENOTCONN) {
        store_close(sp->s);
        sp->s = NULL;
    }
}

static int add_device(const struct device_rec *d, void *ctx)
{
    struct mms_store_provider *sp = ctx;
    /* Offline only once the server saw it go (an unknown status, HTTP uploads, counts as live). */
    struct mms_device m = {.pk = d->id, .online = d->status != DEVICE_STATUS_OFFLINE};
    if (mms_domain_name(d->device_id, m.domain))
        return 0; /* too long for an MMS name: not shown */
    if (sp->n == sp->cap) {
        if (sp->cap >= MMS_DEVICES_MAX)
            return 0;
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        struct mms_device *p = realloc(sp->devs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        sp->devs = p;
        sp->cap = cap;
    }
    snprintf(m.device_id, sizeof(m.device_id), "%s", d->device_id);
    sp->devs[sp->n++] = m;
    return 0;
}

static int by_domain(const void *a, const void *b)
{
    const struct mms_device *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->device_id, y->device_id);
}

static int devices(void *ctx, const struct mms_device **ret, size_t *ret_n)
{
    struct mms_store_provider *sp = ctx;
    int64_t now = time_mono_ms();
    if (!sp->fetched_ms || now - sp->fetched_ms >= MMS_DEVICES_TTL_MS) {
        int r = connect_store(sp);
        sp->n = 0;
        sp->fetched_ms = 0;
        if (r == 0)
            r = store_device_list(sp->s, 0, add_device, sp);
        if (r) {
            lost(sp, r);
            sp->n = 0;
            return r;
        }
        qsort(sp->devs, sp->n, sizeof(*sp->devs), by_domain);
        /* Two ids that differ only in '-', '.', ':' against '_' share a name: the first wins. */
        size_t k = 0;
        for (size_t i = 0; i < sp->n; i++)
            if (k == 0 || strcmp(sp->devs[k - 1].domain, sp->devs[i].domain) != 0)
                sp->devs[k++] = sp->devs[i];
        sp->n = k;
        sp->fetched_ms = now;
    }
    *ret = sp->devs;
    *ret_n = sp->n;
    return 0;
}

static int latest(void *ctx, const struct mms_device *d, struct reading *ret)
{
    struct mms_store_provider *sp = ctx;
    int r = connect_store(sp);
    if (r == 0)
        r = store_reading_latest(sp->s, d->pk, ret);
    if (r && r != -ENOENT)
        lost(sp, r);
    return r;
}

int mms_store_provider_init(struct mms_store_provider *sp, const struct store_source *src)
{
    memset(sp, 0, sizeof(*sp));
    int r = store_source_copy(&sp->src, src);
    if (r)
        return r;
    sp->p = (struct mms_provider){.devices = devices, .latest = latest, .ctx = sp};
    return 0;
}

void mms_store_provider_free(struct mms_store_provider *sp)
{
    store_close(sp->s);
    free(sp->devs);
    store_source_clear(&sp->src);
    memset(sp, 0, sizeof(*sp));
}
