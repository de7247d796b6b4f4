/*
 * sql_store: a connection of a driver as a store: opening and closing it,
 * and the ops table that puts the operations (ops_*.c) behind store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

static void sql_close(struct store *s)
{
    struct sql_store *q = SQL(s);
    for (int i = 0; i < SQL__COUNT; i++)
        q->drv->finalize(q->st[i]);
    for (int k = 0; k < SQL_BULK__COUNT; k++)
        for (unsigned i = 0; i <= SQL_BULK_MAX; i++)
            q->drv->finalize(q->bulk[k][i]);
    q->drv->close(q->db);
    free(q);
}

static int sql_dedicate_to_batches(struct store *s)
{
    struct sql_store *q = SQL(s);
    int r = q->drv->batches_only ? q->drv->batches_only(q->db) : 0;
    return r ? sql_fail(q, r, "dedicate to batches") : 0;
}

static int sql_exec(struct store *s, const char *sql)
{
    struct sql_store *q = SQL(s);
    int r = q->drv->exec(q->db, sql);
    return r ? sql_fail(q, r, "exec") : 0;
}

static const struct store_ops sql_ops = {
    .close = sql_close,
    .schema_latest = ops_schema_latest,
    .schema_version = ops_schema_version,
    .migrate = ops_migrate,
    .user_add = ops_user_add,
    .user_get = ops_user_get,
    .user_list = ops_user_list,
    .user_page = ops_user_page,
    .user_count = ops_user_count,
    .user_update = ops_user_update,
    .user_delete = ops_user_delete,
    .device_add = ops_device_add,
    .device_by_name = ops_device_by_name,
    .device_list = ops_device_list,
    .device_set_status = ops_device_set_status,
    .device_page = ops_device_page,
    .device_count = ops_device_count,
    .device_summary = ops_device_summary,
    .devices_import = ops_devices_import,
    .binding_add = ops_binding_add,
    .binding_remove = ops_binding_remove,
    .binding_check = ops_binding_check,
    .binding_users = ops_binding_users,
    .device_delete = ops_device_delete,
    .device_set_secret = ops_device_set_secret,
    .device_changes = ops_device_changes,
    .device_changes_latest = ops_device_changes_latest,
    .device_changes_prune = ops_device_changes_prune,
    .readings_insert_batch = ops_readings_insert_batch,
    .dedicate_to_batches = sql_dedicate_to_batches,
    .rollup_get = ops_rollup_get,
    .readings_query = ops_readings_query,
    .readings_buckets = ops_readings_buckets,
    .demand_month = ops_demand_month,
    .demand_list = ops_demand_list,
    .reading_latest = ops_reading_latest,
    .recharge = ops_recharge,
    .ledger_list = ops_ledger_list,
    .ledger_page = ops_ledger_page,
    .ledger_count = ops_ledger_count,
    .capture_create = ops_capture_create,
    .capture_complete = ops_capture_complete,
    .capture_fail = ops_capture_fail,
    .capture_get = ops_capture_get,
    .capture_list = ops_capture_list,
    .capture_page = ops_capture_page,
    .capture_count = ops_capture_count,
    .wechat_bind = ops_wechat_bind,
    .wechat_get = ops_wechat_get,
    .wechat_unbind = ops_wechat_unbind,
    .rollups_query = ops_rollups_query,
    .rollups_query_of = ops_rollups_query_of,
    .rollup_counters_before = ops_rollup_counters_before,
    .readings_latest_of = ops_readings_latest_of,
    .day_counters_before_of = ops_day_counters_before_of,
    .rollups_of = ops_rollups_of,
    .readings_delete_before = ops_readings_delete_before,
    .audit_add = ops_audit_add,
    .audit_list = ops_audit_list,
    .tariff_add = ops_tariff_add,
    .tariff_versions = ops_tariff_versions,
    .billing_settings_get = ops_billing_settings_get,
    .billing_settings_set = ops_billing_settings_set,
    .billing_run = ops_billing_run,
    .charges_query = ops_charges_query,
    .payment_create = ops_payment_create,
    .payment_get = ops_payment_get,
    .payment_set_prepay = ops_payment_set_prepay,
    .payment_finish = ops_payment_finish,
    .payment_credit = ops_payment_credit,
    .payments_of_device = ops_payments_of_device,
    .payments_open = ops_payments_open,
    .command_add = ops_command_add,
    .command_get = ops_command_get,
    .command_move = ops_command_move,
    .commands_due = ops_commands_due,
    .commands_expire = ops_commands_expire,
    .commands_count = ops_commands_count,
    .command_finish = ops_command_finish,
    .command_latest = ops_command_latest,
    .device_relay = ops_device_relay,
    .device_event_add = ops_device_event_add,
    .device_events = ops_device_events,
    .devices_having = ops_devices_having,
    .commands_of_device = ops_commands_of_device,
    .calendar_list = ops_calendar_list,
    .calendar_set = ops_calendar_set,
    .calendar_day = ops_calendar_day,
    .alarm_raise = ops_alarm_raise,
    .alarm_clear = ops_alarm_clear,
    .alarm_ack = ops_alarm_ack,
    .alarm_get = ops_alarm_get,
    .alarms_list = ops_alarms_list,
    .alarms_count = ops_alarms_count,
    .alarm_rules_get = ops_alarm_rules_get,
    .alarm_rules_set = ops_alarm_rules_set,
    .device_meta_get = ops_device_meta_get,
    .device_meta_update = ops_device_meta_update,
    .exec_sql = sql_exec,
};

int sql_store_open(const struct db_driver *drv, const char *url, struct store **ret,
                   char err[STORE_ERR_LEN])
{
    char derr[DB_ERR_LEN];
    struct sql_store *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, STORE_ERR_LEN, "out of memory");
        return -ENOMEM;
    }
    int r = drv->open(url, &q->db, derr);
    if (r) {
        snprintf(err, STORE_ERR_LEN, "%s", derr);
        free(q);
        return r;
    }
    q->base.ops = &sql_ops;
    q->base.backend = drv->name;
    q->drv = drv;
    *ret = &q->base;
    return 0;
}
