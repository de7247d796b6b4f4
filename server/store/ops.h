/*
 * ops: the store's operations, each written once over the driver interface
 * for every SQL dialect (sql.h), one file per concern. sql.c puts them in
 * the store's ops table; the facade (store.c) has checked the arguments.
 * Contracts are those of the same-named functions in store.h.
 */
#ifndef SMARTMETER_STORE_OPS_H
#define SMARTMETER_STORE_OPS_H

#include "sql.h"

/* ops_schema.c */
int ops_schema_latest(const struct store *s);
int ops_schema_version(struct store *s, int *ret_version);
int ops_migrate(struct store *s, int *ret_applied);

/* ops_users.c */
int ops_user_add(struct store *s, const char *username, const char *password_hash, enum role role,
                 int64_t *ret_id);
int ops_user_get(struct store *s, const char *username, int64_t id, struct user_rec *ret);
int ops_user_list(struct store *s, store_user_cb cb, void *ctx);
int ops_user_page(struct store *s, const char *after, size_t limit, store_user_cb cb, void *ctx,
                  bool *ret_more);
int ops_user_count(struct store *s, int64_t *ret_total);
int ops_user_update(struct store *s, int64_t user_id, const struct user_change *ch,
                    struct user_rec *ret);
int ops_user_delete(struct store *s, int64_t user_id);

/* ops_devices.c */
/* A device's row as DEVICE_SELECT's first eight columns give it (every device query's). */
int ops_read_device(struct sql_store *q, struct db_stmt *st, struct device_rec *d);
int ops_device_add(struct store *s, const char *device_id, const char *secret_hash,
                   int64_t owner_user_id, int64_t *ret_id);
int ops_device_by_name(struct store *s, const char *device_id, struct device_rec *ret);
int ops_device_list(struct store *s, int64_t user_id, store_device_cb cb, void *ctx);
int ops_device_set_status(struct store *s, int64_t device_pk, enum device_status status,
                          int64_t at_ms);
int ops_binding_add(struct store *s, int64_t user_id, int64_t device_pk);
int ops_binding_remove(struct store *s, int64_t user_id, int64_t device_pk);
int ops_binding_check(struct store *s, int64_t user_id, int64_t device_pk);
int ops_binding_users(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx);
int ops_device_delete(struct store *s, const char *device_id);
int ops_device_set_secret(struct store *s, const char *device_id, const char *secret_hash);

/* ops_device_lists.c */
int ops_device_page(struct store *s, int64_t user_id, const struct device_filter *f,
                    const char *after, size_t limit, store_device_page_cb cb, void *ctx,
                    bool *ret_more);
int ops_device_count(struct store *s, int64_t user_id, const struct device_filter *f,
                     int64_t *ret_total);
int ops_device_summary(struct store *s, int64_t user_id, struct device_summary *ret);
int ops_devices_import(struct store *s, const struct device_import_row *rows, size_t n,
                       const char *by, size_t *ret_bad);
/*
 * A device's search_key (migration 017) is LOWER() of this text: device_id,
 * then a line feed and the name when there is one (name NULL or "": none).
 * Every statement that writes a device_id or a name writes the key beside it.
 */
#define OPS_SEARCH_TEXT_MAX (DEVICE_ID_MAX + 1 + 4 * DEVICE_META_NAME_MAX)
void ops_search_text(const char *device_id, const char *name, char out[OPS_SEARCH_TEXT_MAX + 1]);
/* Sets device_pk's search_key from its device_id and name, in the open transaction. */
int ops_search_key_set(struct sql_store *q, int64_t device_pk, const char *device_id,
                       const char *name);

/* ops_device_changes.c */
/* Logs a change to device_id's credentials, in the open transaction. */
int ops_device_change_log(struct sql_store *q, const char *device_id);
/*
 * Ends a transaction that changed device_id's credentials: when r is 0, logs
 * the change and commits; otherwise (or when that fails) rolls back. Returns
 * r or the failure.
 */
int ops_device_change_commit(struct sql_store *q, int r, const char *device_id);
int ops_device_changes(struct store *s, int64_t after_id, size_t limit, store_change_cb cb,
                       void *ctx);
int ops_device_changes_latest(struct store *s, int64_t *ret_id);
int ops_device_changes_prune(struct store *s, int64_t before_ms, size_t *ret_deleted);

/* ops_readings.c */
int ops_readings_insert_batch(struct store *s, struct store_batch_item *items, size_t n,
                              size_t *ret_inserted);
int ops_readings_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                       size_t limit, store_reading_cb cb, void *ctx);
int ops_readings_buckets(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                         int64_t bucket_ms, enum reading_fields fields, size_t limit,
                         store_bucket_cb cb, void *ctx);
int ops_reading_latest(struct store *s, int64_t device_pk, struct reading *ret);
int ops_readings_latest_of(struct store *s, const int64_t *device_pks, size_t n,
                           store_latest_of_cb cb, void *ctx);
int ops_readings_delete_before(struct store *s, int64_t device_pk, int64_t before_ms,
                               size_t max_rows, size_t *ret_deleted);
/* Moves data_version of every device in pk[0..n) (ascending: one lock order), in the open
   transaction. */
int ops_bump_data_versions(struct sql_store *q, const int64_t *pk, size_t n);

/* ops_rollups.c */
/* Adds the rollup deltas of the items marked inserted, in the open transaction. */
int ops_rollups_add(struct sql_store *q, const struct store_batch_item *items, size_t n);
/* ops_demand.c: the month's maximum demand of the batch's inserted readings. */
int ops_demand_add(struct sql_store *q, const struct store_batch_item *items, size_t n);
int ops_demand_month(struct store *s, int64_t device_pk, const char *month,
                     struct demand_month *ret);
int ops_demand_list(struct store *s, int64_t device_pk, size_t limit, store_demand_cb cb,
                    void *ctx);
int ops_rollup_get(struct store *s, int64_t device_pk, enum rollup_period period, int64_t bucket_ms,
                   struct rollup_delta *ret);
int ops_rollups_query(struct store *s, int64_t device_pk, enum rollup_period period,
                      int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                      store_rollup_cb cb, void *ctx);
int ops_rollups_query_of(struct store *s, int64_t device_pk, enum rollup_period period,
                         int64_t from_ms, int64_t to_ms, bool newest_first,
                         enum reading_fields fields, size_t limit, store_rollup_cb cb, void *ctx);
int ops_rollup_counters_before(struct store *s, int64_t device_pk, enum rollup_period period,
                               int64_t before_ms, struct rollup_counters *ret);
int ops_day_counters_before_of(struct store *s, const int64_t *device_pks, size_t n,
                               int64_t before_ms, struct rollup_counters *ret);
int ops_rollups_of(struct store *s, const int64_t *device_pks, size_t n, enum rollup_period period,
                   int64_t from_ms, int64_t to_ms, store_rollup_of_cb cb, void *ctx);

/* ops_ledger.c */
int ops_recharge(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                 const char *idempotency_key, struct recharge_result *ret);
/*
 * The one way a ledger entry is written, in the open transaction: locks the
 * device row, moves its balance by amount_fen (-ERANGE when it would leave
 * +-STORE_BALANCE_MAX_FEN) and records the entry of kind with the balance
 * after. *ret_ledger_id and *ret_balance_fen are optional.
 */
int ops_ledger_append(struct sql_store *q, int64_t device_pk, const char *kind, int64_t amount_fen,
                      int64_t actor_user_id, const char *key, int64_t *ret_ledger_id,
                      int64_t *ret_balance_fen);
int ops_ledger_list(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                    void *ctx);
int ops_ledger_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                    store_ledger_cb cb, void *ctx, bool *ret_more);
int ops_ledger_count(struct store *s, int64_t device_pk, int64_t *ret_total);
/* ops_billing.c */
int ops_tariff_add(struct store *s, int64_t device_pk, const struct tariff *t);
int ops_tariff_versions(struct store *s, int64_t device_pk, int64_t from_ms, struct tariff *v,
                        size_t max, size_t *ret_n);
int ops_billing_settings_get(struct store *s, int64_t device_pk, struct billing_settings *ret);
int ops_billing_settings_set(struct store *s, int64_t device_pk,
                             const struct billing_settings_change *ch,
                             struct billing_settings *ret);
int ops_billing_run(struct store *s, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                    struct billing_run_result *ret);
int ops_charges_query(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                      size_t limit, store_charge_cb cb, void *ctx);

/* ops_captures.c */
int ops_capture_create(struct store *s, int64_t device_pk, const char *request_id,
                       int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                       int64_t *ret_id);
int ops_capture_complete(struct store *s, int64_t device_pk, const char *request_id,
                         const struct capture_data *d);
int ops_capture_fail(struct store *s, int64_t device_pk, const char *request_id,
                     const char *message, int64_t at_ms);
int ops_capture_get(struct store *s, int64_t device_pk, int64_t capture_id, const char *request_id,
                    bool with_samples, struct capture_rec *ret);
int ops_capture_list(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                     void *ctx);
int ops_capture_page(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                     store_capture_cb cb, void *ctx, bool *ret_more);
int ops_capture_count(struct store *s, int64_t device_pk, int64_t *ret_total);

/* ops_wechat.c */
int ops_wechat_bind(struct store *s, int64_t user_id, const char *appid, const char *openid,
                    int64_t at_ms);
int ops_wechat_get(struct store *s, const char *appid, const char *openid, int64_t user_id,
                   struct wechat_binding_rec *ret);
int ops_wechat_unbind(struct store *s, int64_t user_id);

/* ops_payments.c */
int ops_payment_create(struct store *s, const struct payment_rec *p, int64_t *ret_id);
int ops_payment_get(struct store *s, const char *out_trade_no, struct payment_rec *ret);
int ops_payment_set_prepay(struct store *s, const char *out_trade_no, const char *prepay_id,
                           int64_t at_ms);
int ops_payment_finish(struct store *s, const char *out_trade_no, enum payment_state state,
                       int64_t at_ms);
int ops_payment_credit(struct store *s, const char *out_trade_no, const char *transaction_id,
                       int64_t paid_ms, struct payment_credit *ret);
int ops_payments_of_device(struct store *s, int64_t device_pk, int64_t user_id, size_t limit,
                           store_payment_cb cb, void *ctx);
int ops_payments_open(struct store *s, int64_t created_before_ms, size_t limit, store_payment_cb cb,
                      void *ctx);

/* ops_audit.c */
int ops_audit_add(struct store *s, const struct audit_rec *e);
int ops_audit_list(struct store *s, int64_t before_id, size_t limit, store_audit_cb cb, void *ctx);

/* ops_commands.c */
int ops_command_add(struct store *s, const struct command_rec *c);
int ops_command_get(struct store *s, const char *device_id, const char *id,
                    struct command_rec *ret);
int ops_command_move(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                     int64_t at_ms, const char *message);
int ops_commands_due(struct store *s, int64_t now_ms, int64_t resend_before_ms, store_command_cb cb,
                     void *ctx);
int ops_commands_expire(struct store *s, int64_t now_ms, size_t *ret_n);
int ops_commands_count(struct store *s, uint64_t ret_by_state[CMD__COUNT]);
int ops_command_finish(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                       int64_t at_ms, const char *message, const char *result);
int ops_command_latest(struct store *s, const char *device_id, const char *kind,
                       struct command_rec *ret);
int ops_device_relay(struct store *s, int64_t device_pk, bool *ret_on, int64_t *ret_ts_ms);
int ops_device_event_add(struct store *s, const char *device_id, int64_t at_ms, const char *kind,
                         const char *detail);
int ops_device_events(struct store *s, const char *device_id, const char *kind_prefix, size_t limit,
                      store_event_cb cb, void *ctx);
int ops_devices_having(struct store *s, enum device_having what, int64_t **ret, size_t *ret_n);
int ops_commands_of_device(struct store *s, const char *device_id, size_t limit,
                           store_command_cb cb, void *ctx);
/* ops_calendar.c */
int ops_calendar_list(struct store *s, store_calendar_cb cb, void *ctx);
int ops_calendar_set(struct store *s, const struct calendar_day *days, size_t n);
int ops_calendar_day(struct store *s, const char *day, int *ret_kind);

/* ops_alarms.c */
int ops_alarm_raise(struct store *s, const struct alarm_rec *a, int64_t *ret_id, bool *ret_new);
int ops_alarm_clear(struct store *s, const char *device_id, const char *kind, int64_t at_ms,
                    int64_t *ret_id);
int ops_alarm_ack(struct store *s, int64_t id, const char *user, const char *note, int64_t at_ms);
int ops_alarm_get(struct store *s, int64_t id, struct alarm_rec *ret);
int ops_alarms_list(struct store *s, const struct alarm_filter *f, store_alarm_cb cb, void *ctx);
int ops_alarms_count(struct store *s, const struct alarm_filter *f, int64_t *ret);
int ops_alarm_rules_get(struct store *s, const char *device_id, store_alarm_rule_cb cb, void *ctx);
int ops_alarm_rules_set(struct store *s, const char *device_id, const struct alarm_rule_override *o,
                        size_t n, int64_t at_ms);
/* ops_device_meta.c */
int ops_device_meta_get(struct store *s, int64_t device_pk, struct device_meta *ret);
int ops_device_meta_update(struct store *s, int64_t device_pk, const struct device_meta *set,
                           uint32_t clear_mask, const char *actor, int64_t now_ms,
                           struct device_meta *ret);

#endif
