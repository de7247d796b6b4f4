/*
 * options: meter-server's settings, one table for the config file, the
 * command line and --help (see common/config.h).
 */
#ifndef SMARTMETER_SERVER_OPTIONS_H
#define SMARTMETER_SERVER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct server_options {
    char *db;
    char *db_password_file;
    char *mqtt;
    char *listen;
    char *jwt_secret_file;
    char *log_level;
    char *mqtt_client_id;
    char *mqtt_username;
    char *mqtt_password_file;
    char *mqtt_cafile, *mqtt_certfile, *mqtt_keyfile; /* ssl:// (tlsopt.h) */
    char *tls_cert_file, *tls_key_file;               /* HTTPS when both are set */
    char *trusted_proxies;                            /* proxy.h; NULL: none */
    bool mqtt_provision;
    int64_t token_ttl;
    int64_t http_threads;
    int64_t db_connections;
    int64_t max_body_bytes;
    int64_t max_batch;
    int64_t max_payload_bytes;
    int64_t max_capture_bytes;
    int64_t max_connections;
    int64_t max_connections_per_ip;
    int64_t login_max_failures;
    int64_t rate_limit_address;
    int64_t rate_limit_user;
    int64_t rate_limit_device;
    int64_t password_threads;
    int64_t password_queue;
    int64_t http_header_timeout_s;
    int64_t http_body_timeout_s;
    bool web_source_maps;
    char *timezone;
    char *wechat_appid;
    char *wechat_secret_file;
    char *wechat_api_base;
    int64_t raw_retention_days;
    char *web_root;
    int64_t web_max_file_bytes;
    /* the writer and MQTT ingest at scale */
    int64_t ingest_queue;
    int64_t batch_max;
    int64_t batch_wait_ms;
    int64_t ingest_nice;
    char *mqtt_share_group;
    int64_t history_cache_mb;
    int64_t device_cache_s;
    /* prepaid billing */
    int64_t billing_gap_wait_ms;
    /* WeChat Pay (API v3, JSAPI): on when wechatpay_mchid is set (wxpay.h) */
    char *wechatpay_appid;
    char *wechatpay_mchid;
    char *wechatpay_serial_no;
    char *wechatpay_private_key_file;
    char *wechatpay_apiv3_key_file;
    char *wechatpay_platform_public_key_file;
    char *wechatpay_platform_public_key_id;
    char *wechatpay_notify_url;
    char *wechatpay_base_url;
    int64_t wechatpay_query_after_s;
    int64_t wechatpay_order_ttl_s;
    /* the terminal gateway (server/terminals/): on when terminal_listen is set */
    char *terminal_listen;
    int64_t terminal_heartbeat_s;
    int64_t terminal_idle_s;
    int64_t terminal_max_connections;
    /* the IEC 61850 MMS port (server/mms/): on when mms_listen is set */
    char *mms_listen;
    char *mms_allow;
    /* state analysis and alarms (server/alarms/, docs/alarms.md) */
    bool alarms;
    int64_t alarm_sweep_ms;
    double alarm_nominal_voltage, alarm_nominal_hz;
    double alarm_over_pct, alarm_under_pct, alarm_under_pct_3p;
    double alarm_freq_dev_hz, alarm_thd_v_pct, alarm_load_pct, alarm_pf_min;
    double alarm_sag_pct, alarm_swell_pct, alarm_offline_min;
    double alarm_min_duration_s, alarm_load_min_duration_s;
    int64_t alarm_streams_max;
    int64_t alarm_keepalive_s;
    char *alarm_wechat_template;
    char *alarm_wechat_page;
    char *alarm_wechat_state;
    char *alarm_wechat_fields;
    /* the Modbus TCP server (server/modbus/, docs/modbus.md): on when modbus_listen is set */
    char *modbus_listen;
    int64_t modbus_max_connections;
    int64_t modbus_idle_s;
    /* standard meters behind 4G DTUs (server/dtu/, docs/modbus.md): on when dtu_listen is set */
    char *dtu_listen;
    char *dtu_heartbeat;
    int64_t dtu_idle_s;
    int64_t dtu_response_timeout_ms;
    int64_t dtu_poll_s;
    int64_t dtu_max_connections;
    /* Prometheus metrics (GET /metrics, docs/metrics.md) */
    char *metrics_listen;     /* a listener of its own serving only /metrics; NULL: none */
    char *metrics_token_file; /* a bearer token for /metrics on the API; NULL: admins only */
};

extern const struct config_option server_option_table[];

#endif
