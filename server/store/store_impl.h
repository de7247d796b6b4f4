/*
 * store_impl: what an implementation of store.h provides. The facade
 * (store.c) checks arguments and calls through the ops table; the SQL store
 * (sql.c and its operations, ops_*.c) is the implementation for every
 * database, and tests put a fake behind the same table. Implementations never
 * call back into the facade.
 *
 * Every implementation's connection struct starts with struct store.
 */
#ifndef SMARTMETER_STORE_IMPL_H
#define SMARTMETER_STORE_IMPL_H

#include "store.h"

struct store_ops {
    void (*close)(struct store *s);
    int (*schema_latest)(const struct store *s);
    int (*schema_version)(struct store *s, int *ret_version);
    int (*migrate)(struct store *s, int *ret_applied);
    int (*user_add)(struct store *s, const char *username, const char *password_hash,
                    enum role role, int64_t *ret_id);
    /* By name when username is not NULL, else by id. */
    int (*user_get)(struct store *s, const char *username, int64_t id, struct user_rec *ret);
    int (*user_list)(struct store *s, store_user_cb cb, void *ctx);
    int (*user_page)(struct store *s, const char *after, size_t limit, store_user_cb cb, void *ctx,
                     bool *ret_more);
    int (*user_count)(struct store *s, int64_t *ret_total);
    int (*user_update)(struct store *s, int64_t user_id, const struct user_change *ch,
                       struct user_rec *ret);
    int (*user_delete)(struct store *s, int64_t user_id);
    int (*device_add)(struct store *s, const char *device_id, const char *secret_hash,
                      int64_t owner_user_id, int64_t *ret_id);
    int (*device_by_name)(struct store *s, const char *device_id, struct device_rec *ret);
    int (*device_list)(struct store *s, int64_t user_id, store_device_cb cb, void *ctx);
    int (*device_page)(struct store *s, int64_t user_id, const struct device_filter *f,
                       const char *after, size_t limit, store_device_page_cb cb, void *ctx,
                       bool *ret_more);
    int (*device_count)(struct store *s, int64_t user_id, const struct device_filter *f,
                        int64_t *ret_total);
    int (*device_summary)(struct store *s, int64_t user_id, struct device_summary *ret);
    int (*devices_import)(struct store *s, const struct device_import_row *rows, size_t n,
                          const char *by, size_t *ret_bad);
    int (*device_set_status)(struct store *s, int64_t device_pk, enum device_status status,
                             int64_t at_ms);
    int (*binding_add)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_remove)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_check)(struct store *s, int64_t user_id, int64_t device_pk);
    int (*binding_users)(struct store *s, int64_t device_pk, store_name_cb cb, void *ctx);
    int (*device_delete)(struct store *s, const char *device_id);
    int (*device_set_secret)(struct store *s, const char *device_id, const char *secret_hash);
    int (*device_changes)(struct store *s, int64_t after_id, size_t limit, store_change_cb cb,
                          void *ctx);
    int (*device_changes_latest)(struct store *s, int64_t *ret_id);
    int (*device_changes_prune)(struct store *s, int64_t before_ms, size_t *ret_deleted);
    /* store_readings_insert_batch(); n > 0, every item's inserted false on entry. */
    int (*readings_insert_batch)(struct store *s, struct store_batch_item *items, size_t n,
                                 size_t *ret_inserted);
    int (*dedicate_to_batches)(struct store *s);
    int (*rollup_get)(struct store *s, int64_t device_pk, enum rollup_period period,
                      int64_t bucket_ms, struct rollup_delta *ret);
    int (*readings_query)(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                          size_t limit, store_reading_cb cb, void *ctx);
    int (*readings_buckets)(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                            int64_t bucket_ms, enum reading_fields fields, size_t limit,
                            store_bucket_cb cb, void *ctx);
    int (*demand_month)(struct store *s, int64_t device_pk, const char *month,
                        struct demand_month *ret);
    int (*demand_list)(struct store *s, int64_t device_pk, size_t limit, store_demand_cb cb,
                       void *ctx);
    int (*reading_latest)(struct store *s, int64_t device_pk, struct reading *ret);
    int (*recharge)(struct store *s, int64_t device_pk, int64_t amount_fen, int64_t actor_user_id,
                    const char *idempotency_key, struct recharge_result *ret);
    int (*ledger_list)(struct store *s, int64_t device_pk, size_t limit, store_ledger_cb cb,
                       void *ctx);
    int (*ledger_page)(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                       store_ledger_cb cb, void *ctx, bool *ret_more);
    int (*ledger_count)(struct store *s, int64_t device_pk, int64_t *ret_total);
    int (*capture_create)(struct store *s, int64_t device_pk, const char *request_id,
                          int64_t requested_by, int32_t duration_ms, int64_t requested_ms,
                          int64_t *ret_id);
    int (*capture_complete)(struct store *s, int64_t device_pk, const char *request_id,
                            const struct capture_data *d);
    int (*capture_fail)(struct store *s, int64_t device_pk, const char *request_id,
                        const char *message, int64_t at_ms);
    /* By id, or by request_id (without analysis and samples) when that is not NULL. */
    int (*capture_get)(struct store *s, int64_t device_pk, int64_t capture_id,
                       const char *request_id, bool with_samples, struct capture_rec *ret);
    int (*capture_list)(struct store *s, int64_t device_pk, size_t limit, store_capture_cb cb,
                        void *ctx);
    int (*capture_page)(struct store *s, int64_t device_pk, int64_t before_id, size_t limit,
                        store_capture_cb cb, void *ctx, bool *ret_more);
    int (*capture_count)(struct store *s, int64_t device_pk, int64_t *ret_total);
    int (*wechat_bind)(struct store *s, int64_t user_id, const char *appid, const char *openid,
                       int64_t at_ms);
    /* By openid (with appid) when openid is not NULL, else by user_id. */
    int (*wechat_get)(struct store *s, const char *appid, const char *openid, int64_t user_id,
                      struct wechat_binding_rec *ret);
    int (*wechat_unbind)(struct store *s, int64_t user_id);
    int (*rollups_query)(struct store *s, int64_t device_pk, enum rollup_period period,
                         int64_t from_ms, int64_t to_ms, bool newest_first, size_t limit,
                         store_rollup_cb cb, void *ctx);
    int (*rollups_query_of)(struct store *s, int64_t device_pk, enum rollup_period period,
                            int64_t from_ms, int64_t to_ms, bool newest_first,
                            enum reading_fields fields, size_t limit, store_rollup_cb cb,
                            void *ctx);
    int (*rollup_counters_before)(struct store *s, int64_t device_pk, enum rollup_period period,
                                  int64_t before_ms, struct rollup_counters *ret);
    int (*readings_latest_of)(struct store *s, const int64_t *device_pks, size_t n,
                              store_latest_of_cb cb, void *ctx);
    int (*day_counters_before_of)(struct store *s, const int64_t *device_pks, size_t n,
                                  int64_t before_ms, struct rollup_counters *ret);
    int (*rollups_of)(struct store *s, const int64_t *device_pks, size_t n,
                      enum rollup_period period, int64_t from_ms, int64_t to_ms,
                      store_rollup_of_cb cb, void *ctx);
    int (*readings_delete_before)(struct store *s, int64_t device_pk, int64_t before_ms,
                                  size_t max_rows, size_t *ret_deleted);
    int (*audit_add)(struct store *s, const struct audit_rec *e);
    int (*audit_list)(struct store *s, int64_t before_id, size_t limit, store_audit_cb cb,
                      void *ctx);
    /* Prepaid billing (ops_billing.c). */
    int (*tariff_add)(struct store *s, int64_t device_pk, const struct tariff *t);
    int (*tariff_versions)(struct store *s, int64_t device_pk, int64_t from_ms, struct tariff *v,
                           size_t max, size_t *ret_n);
    int (*billing_settings_get)(struct store *s, int64_t device_pk, struct billing_settings *ret);
    int (*billing_settings_set)(struct store *s, int64_t device_pk,
                                const struct billing_settings_change *ch,
                                struct billing_settings *ret);
    int (*billing_run)(struct store *s, int64_t device_pk, int64_t now_ms, int64_t gap_wait_ms,
                       struct billing_run_result *ret);
    int (*charges_query)(struct store *s, int64_t device_pk, int64_t from_ms, int64_t to_ms,
                         size_t limit, store_charge_cb cb, void *ctx);
    int (*payment_create)(struct store *s, const struct payment_rec *p, int64_t *ret_id);
    int (*payment_get)(struct store *s, const char *out_trade_no, struct payment_rec *ret);
    int (*payment_set_prepay)(struct store *s, const char *out_trade_no, const char *prepay_id,
                              int64_t at_ms);
    int (*payment_finish)(struct store *s, const char *out_trade_no, enum payment_state state,
                          int64_t at_ms);
    int (*payment_credit)(struct store *s, const char *out_trade_no, const char *transaction_id,
                          int64_t paid_ms, struct payment_credit *ret);
    int (*payments_of_device)(struct store *s, int64_t device_pk, int64_t user_id, size_t limit,
                              store_payment_cb cb, void *ctx);
    int (*payments_open)(struct store *s, int64_t created_before_ms, size_t limit,
                         store_payment_cb cb, void *ctx);
    /* Commands to meters (ops_commands.c) */
    int (*command_add)(struct store *s, const struct command_rec *c);
    int (*command_get)(struct store *s, const char *device_id, const char *id,
                       struct command_rec *ret);
    int (*command_move)(struct store *s, const char *id, unsigned from_mask, enum command_state to,
                        int64_t at_ms, const char *message);
    int (*commands_due)(struct store *s, int64_t now_ms, int64_t resend_before_ms,
                        store_command_cb cb, void *ctx);
    int (*commands_expire)(struct store *s, int64_t now_ms, size_t *ret_n);
    int (*commands_count)(struct store *s, uint64_t ret_by_state[CMD__COUNT]);
    int (*command_finish)(struct store *s, const char *id, unsigned from_mask,
                          enum command_state to, int64_t at_ms, const char *message,
                          const char *result);
    int (*command_latest)(struct store *s, const char *device_id, const char *kind,
                          struct command_rec *ret);
    int (*device_relay)(struct store *s, int64_t device_pk, bool *ret_on, int64_t *ret_ts_ms);
    int (*device_event_add)(struct store *s, const char *device_id, int64_t at_ms, const char *kind,
                            const char *detail);
    int (*device_events)(struct store *s, const char *device_id, const char *kind_prefix,
                         size_t limit, store_event_cb cb, void *ctx);
    int (*devices_having)(struct store *s, enum device_having what, int64_t **ret, size_t *ret_n);
    int (*commands_of_device)(struct store *s, const char *device_id, size_t limit,
                              store_command_cb cb, void *ctx);
    int (*calendar_list)(struct store *s, store_calendar_cb cb, void *ctx);
    int (*calendar_set)(struct store *s, const struct calendar_day *days, size_t n);
    int (*calendar_day)(struct store *s, const char *day, int *ret_kind);
    /* Alarms of the state analysis (ops_alarms.c). */
    int (*alarm_raise)(struct store *s, const struct alarm_rec *a, int64_t *ret_id, bool *ret_new);
    int (*alarm_clear)(struct store *s, const char *device_id, const char *kind, int64_t at_ms,
                       int64_t *ret_id);
    int (*alarm_ack)(struct store *s, int64_t id, const char *user, const char *note,
                     int64_t at_ms);
    int (*alarm_get)(struct store *s, int64_t id, struct alarm_rec *ret);
    int (*alarms_list)(struct store *s, const struct alarm_filter *f, store_alarm_cb cb, void *ctx);
    int (*alarms_count)(struct store *s, const struct alarm_filter *f, int64_t *ret);
    int (*alarm_rules_get)(struct store *s, const char *device_id, store_alarm_rule_cb cb,
                           void *ctx);
    int (*alarm_rules_set)(struct store *s, const char *device_id,
                           const struct alarm_rule_override *o, size_t n, int64_t at_ms);
    /* Device metadata (ops_device_meta.c) */
    int (*device_meta_get)(struct store *s, int64_t device_pk, struct device_meta *ret);
    int (*device_meta_update)(struct store *s, int64_t device_pk, const struct device_meta *set,
                              uint32_t clear_mask, const char *actor, int64_t now_ms,
                              struct device_meta *ret);
    /* Runs SQL without parameters or rows (store_testing.h: tests only). */
    int (*exec_sql)(struct store *s, const char *sql);
};

struct store {
    const struct store_ops *ops;
    const char *backend; /* store_backend() */
    char errmsg[STORE_ERR_LEN];
};

/* Records the last error message; returns err so callers can `return store_fail(...)`. */
int store_fail(struct store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
