/*
 * store_history: the backend-neutral half of the history functions of
 * store.h (rollups read back, raw readings deleted past retention): argument
 * checks, then the backend's ops. Also the test-only SQL hook of
 * store_testing.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "dynbuf.h"
#include "sitetime.h"
#include "store_internal.h"
#include "store_testing.h"

const enum reading_real rollup_metric_real[RM__COUNT] = {
    [RM_VOLTAGE] = RR_VOLTAGE, [RM_CURRENT] = RR_CURRENT,
    [RM_POWER_W] = RR_POWER_W, [RM_REACTIVE_VAR] = RR_REACTIVE_VAR,
    [RM_PF] = RR_PF,           [RM_FREQ_HZ] = RR_FREQ_HZ,
    [RM_THD_V] = RR_THD_V,     [RM_THD_I] = RR_THD_I,
};

static char rollup_columns[2048];
static pthread_once_t rollup_columns_once = PTHREAD_ONCE_INIT;

static void build_rollup_columns(void)
{
    struct dynbuf b;
    dynbuf_init(&b, sizeof(rollup_columns) - 1);
    dynbuf_addstr(&b, "bucket_ms, n, first_ts_ms, last_ts_ms");
    for (int m = 0; m < RM__COUNT; m++) {
        /* Column names follow the readings table's; voltage and current have no _n column
           because every reading carries them. */
        const char *c = reading_reals[rollup_metric_real[m]].column;
        if (m == RM_VOLTAGE || m == RM_CURRENT)
            dynbuf_addf(&b, ", n, %s_sum, %s_min, %s_max", c, c, c);
        else
            dynbuf_addf(&b, ", %s_n, %s_sum, %s_min, %s_max", c, c, c, c);
    }
    dynbuf_addstr(&b, ", energy_import_min_mwh, energy_import_max_mwh, energy_export_min_mwh, "
                      "energy_export_max_mwh");
    memcpy(rollup_columns, dynbuf_str(&b), b.len + 1);
    dynbuf_free(&b);
}

const char *store_rollup_select_columns(void)
{
    pthread_once(&rollup_columns_once, build_rollup_columns);
    return rollup_columns;
}

static bool period_ok(enum rollup_period period)
{
    return period == ROLLUP_1M || period == ROLLUP_1H || period == ROLLUP_1D;
}

int store_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                        int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                        store_rollup_cb cb, void *ctx)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    if (from_ms >= to_ms || limit == 0)
        return 0;
    return s->ops->rollups_query(s, device_pk, period, from_ms, to_ms, newest_first, limit, cb,
                                 ctx);
}

int store_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                                 int64_t before_ms, struct rollup_counters *ret)
{
    if (!period_ok(period))
        return store_fail(s, -EINVAL, "unknown rollup period");
    if (period == ROLLUP_1D)
        return s->ops->rollup_counters_before(s, device_pk, period, INT64_MIN, before_ms, ret);
    /*
     * Minute and hour rows are many: a counter a device never sends would walk all of them.
     * So walk them only over the local days that hold the last two days (at most about 4,300
     * minute rows), and take what lies before those from the day rows, few, whose largest
     * counter is the last one of a day that ends before the walked span starts.
     */
    int64_t span_start = sitetime_day_start(before_ms - 2 * 86400 * INT64_C(1000));
    struct rollup_counters near, far;
    int r = s->ops->rollup_counters_before(s, device_pk, period, span_start, before_ms, &near);
    if (r || (near.has_import && near.has_export)) {
        if (!r)
            *ret = near;
        return r;
    }
    r = s->ops->rollup_counters_before(s, device_pk, ROLLUP_1D, INT64_MIN, span_start, &far);
    if (r)
        return r;
    *ret = near;
    if (!near.has_import && far.has_import) {
        ret->has_import = true;
        ret->import_max_mwh = far.import_max_mwh;
    }
    if (!near.has_export && far.has_export) {
        ret->has_export = true;
        ret->export_max_mwh = far.export_max_mwh;
    }
    return 0;
}

int store_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                                 size_t max_rows, size_t *ret_deleted)
{
    if (max_rows == 0 || max_rows > 100000)
        return store_fail(s, -EINVAL, "delete 1 to 100000 readings at a time");
    return s->ops->readings_delete_before(s, device_pk, before_ms, max_rows, ret_deleted);
}

int store_testing_exec(struct store *s, const char *sql)
{
    return s->ops->exec_sql(s, sql);
}
