/* answer: the unit directory and the registers of one request (answer.h). */
#include "answer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "device_meta.h"
#include "log.h"
#include "regmap.h"
#include "timeutil.h"

#define UNIT_MAX 247
/* Devices the directory reads at most (a list answer's cap in the API). */
#define DEVICES_MAX 100000

struct unit_slot {
    int64_t device_pk;
    char device_id[DEVICE_ID_MAX + 1];
    unsigned claims; /* devices with this unit: 1 names one, more name none */
};

struct modbus_units {
    pthread_mutex_t lock;
    int64_t refresh_ms;
    int64_t loaded_mono_ms; /* 0: never loaded */
    struct unit_slot slot[UNIT_MAX + 1];
};

struct modbus_units *modbus_units_new(int64_t refresh_ms)
{
    struct modbus_units *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    pthread_mutex_init(&u->lock, NULL);
    u->refresh_ms = refresh_ms > 0 ? refresh_ms : 2000;
    return u;
}

void modbus_units_free(struct modbus_units *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

struct device_ids {
    struct device_rec *items;
    size_t n;
};

/* Reads every device's modbus_unit into a fresh table, then swaps it in. Called locked. */
static int reload(struct modbus_units *u, struct store *st)
{
    struct device_ids a = {0};
    /* Collect first: a connection runs one statement at a time. */
    int r = store_device_array(st, 0, DEVICES_MAX, &a.items, &a.n);
    struct unit_slot *next = calloc(UNIT_MAX + 1, sizeof(*next));
    if (!next)
        r = r ? r : -ENOMEM;
    for (size_t i = 0; !r && i < a.n; i++) {
        struct device_meta m;
        r = store_device_meta_get(st, a.items[i].id, &m);
        if (r || !(m.present & DM_BIT(DM_MODBUS_UNIT)))
            continue;
        int unit = m.modbus_unit;
        if (unit < 1 || unit > UNIT_MAX)
            continue;
        struct unit_slot *s = &next[unit];
        if (s->claims++ == 0) {
            s->device_pk = a.items[i].id;
            memcpy(s->device_id, a.items[i].device_id, sizeof(s->device_id));
        }
    }
    /* Said once, when a unit becomes ambiguous, rather than at every reload. */
    for (int unit = 1; !r && unit <= UNIT_MAX; unit++)
        if (next[unit].claims > 1 && u->slot[unit].claims < 2)
            log_warn("modbus: %u devices have modbus_unit %d (%s is one): the unit answers none "
                     "of them",
                     next[unit].claims, unit, next[unit].device_id);
    if (!r)
        memcpy(u->slot, next, sizeof(u->slot));
    free(next);
    free(a.items);
    return r;
}

/* The device on unit: 0 with *ret, or an exception; a store error in *ret_store_result. */
static int lookup(struct modbus_units *u, struct store *st, int unit, struct unit_slot *ret,
                  int *ret_store_result)
{
    pthread_mutex_lock(&u->lock);
    int64_t now = time_mono_ms();
    int r = 0;
    if (!u->loaded_mono_ms || now - u->loaded_mono_ms >= u->refresh_ms) {
        r = reload(u, st);
        if (!r)
            u->loaded_mono_ms = now;
    }
    int ex = 0;
    if (r) {
        *ret_store_result = r;
        ex = MBX_DEVICE_FAILURE;
    } else if (unit < 1 || unit > UNIT_MAX || u->slot[unit].claims == 0) {
        ex = MBX_GATEWAY_TARGET;
    } else if (u->slot[unit].claims > 1) {
        ex = MBX_GATEWAY_PATH;
    } else {
        *ret = u->slot[unit];
    }
    pthread_mutex_unlock(&u->lock);
    return ex;
}

int modbus_answer(struct modbus_units *u, struct store *st, const struct modbus_request *q,
                  int64_t now_ms, uint16_t *regs, int *ret_store_result)
{
    *ret_store_result = 0;
    struct unit_slot dev;
    int ex = lookup(u, st, q->unit, &dev, ret_store_result);
    if (ex)
        return ex;
    const struct regmap *m = regmap_builtin("sdm630");
    if (!m || q->function != m->function)
        return MBX_ILLEGAL_FUNCTION;
    if (q->count < 1 || q->count > MODBUS_READ_MAX)
        return MBX_ILLEGAL_VALUE;
    if ((uint32_t)q->addr + q->count > m->end)
        return MBX_ILLEGAL_ADDRESS;

    struct device_rec d;
    int r = store_device_by_name(st, dev.device_id, &d);
    struct reading reading;
    bool have = false;
    if (!r) {
        r = store_reading_latest(st, dev.device_pk, &reading);
        have = r == 0;
        if (r == -ENOENT)
            r = 0;
    }
    if (r == -ENOENT) /* deleted since the directory was read */
        return MBX_GATEWAY_TARGET;
    if (r) {
        *ret_store_result = r;
        return MBX_DEVICE_FAILURE;
    }
    struct regmap_context c = {
        .now_ms = now_ms,
        .online = d.status == DEVICE_STATUS_ONLINE    ? 1
                  : d.status == DEVICE_STATUS_OFFLINE ? 0
                                                      : -1,
        .unit = q->unit,
    };
    regmap_encode(m, have ? &reading : NULL, &c, q->addr, regs, q->count);
    return 0;
}
