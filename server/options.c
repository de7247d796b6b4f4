#include "options.h"

#include <stddef.h>

#define OPT(field) offsetof(struct server_options, field)

/* The build's dashboard output; CMake sets it, and web_root overrides it. */
#ifndef SMARTMETER_WEB_ROOT_DEFAULT
#define SMARTMETER_WEB_ROOT_DEFAULT ""
#endif

const struct config_option server_option_table[] = {
    {"db", CONFIG_STRING, OPT(db), 0, 0, "sqlite:./var/meter.db", "URL",
     "database: sqlite:PATH or mysql://USER[:PASS]@HOST[:PORT]/DB"},
    {"db_password_file", CONFIG_STRING, OPT(db_password_file), 0, 0, NULL, "FILE",
     "file holding the MySQL password (readable by its owner only), for a mysql:// URL "
     "with a user and no password: keeps it out of the command line and ps"},
    {"mqtt", CONFIG_STRING, OPT(mqtt), 0, 0, "tcp://127.0.0.1:1883", "URL",
     "MQTT broker: tcp://HOST:PORT or ssl://HOST:PORT"},
    {"listen", CONFIG_STRING, OPT(listen), 0, 0, "127.0.0.1:8080", "HOST:PORT",
     "HTTP address for the REST API"},
    {"jwt_secret_file", CONFIG_STRING, OPT(jwt_secret_file), 0, 0, NULL, "FILE",
     "file holding the token signing secret (32..4096 bytes); required to serve"},
    {"token_ttl", CONFIG_INT, OPT(token_ttl), 60, 2592000, "43200", "SECONDS",
     "lifetime of login tokens"},
    {"log_level", CONFIG_STRING, OPT(log_level), 0, 0, "info", "LEVEL",
     "error, warn, info or debug"},
    {"mqtt_client_id", CONFIG_STRING, OPT(mqtt_client_id), 0, 0, "meter-server", "ID",
     "MQTT client id; the broker keeps this id's session while the server is away"},
    {"mqtt_username", CONFIG_STRING, OPT(mqtt_username), 0, 0, NULL, "NAME",
     "MQTT user name, if the broker requires one"},
    {"mqtt_password_file", CONFIG_STRING, OPT(mqtt_password_file), 0, 0, NULL, "FILE",
     "file holding the MQTT password"},
    {"mqtt_cafile", CONFIG_STRING, OPT(mqtt_cafile), 0, 0, NULL, "FILE",
     "CA certificates (PEM) the ssl:// broker's certificate must chain to (default: the "
     "system's store); the broker's name in the URL must match its certificate"},
    {"mqtt_certfile", CONFIG_STRING, OPT(mqtt_certfile), 0, 0, NULL, "FILE",
     "client certificate chain (PEM) for a broker that asks for one (with mqtt_keyfile)"},
    {"mqtt_keyfile", CONFIG_STRING, OPT(mqtt_keyfile), 0, 0, NULL, "FILE",
     "the client certificate's private key (PEM, unencrypted); mode 0600 or 0400"},
    {"tls_cert_file", CONFIG_STRING, OPT(tls_cert_file), 0, 0, NULL, "FILE",
     "HTTPS: the server's certificate chain (PEM); with tls_key_file the listener speaks only "
     "HTTPS (TLS 1.2 or later)"},
    {"tls_key_file", CONFIG_STRING, OPT(tls_key_file), 0, 0, NULL, "FILE",
     "HTTPS: the certificate's private key (PEM, unencrypted); mode 0600 or 0400, else the "
     "server refuses to start"},
    {"trusted_proxies", CONFIG_STRING, OPT(trusted_proxies), 0, 0, NULL, "ADDRS",
     "reverse proxies (addresses or CIDR blocks, separated by commas or spaces) whose "
     "X-Forwarded-For names the client for rate limits and logs (default: none; the TCP peer "
     "is the client)"},
    {"mqtt_provision", CONFIG_BOOL, OPT(mqtt_provision), 0, 0, "true", "true|false",
     "keep the broker's accounts (mosquitto's dynamic-security plugin) in step with the devices: "
     "one per device, its password derived from the device secret; needs mqtt_username, an "
     "admin of the plugin (docs/security.md)"},
    {"http_threads", CONFIG_INT, OPT(http_threads), 0, 256, "0", "N",
     "HTTP worker threads (0: four per CPU, at least 16, at most 256)"},
    {"db_connections", CONFIG_INT, OPT(db_connections), 0, 512, "0", "N",
     "database connections for the API (0: one per HTTP thread, at most 32)"},
    {"max_body_bytes", CONFIG_INT, OPT(max_body_bytes), 1024, 67108864, "1048576", "BYTES",
     "largest HTTP request body accepted"},
    {"max_batch", CONFIG_INT, OPT(max_batch), 1, 100000, "1000", "N",
     "most readings in one upload or MQTT message"},
    {"max_payload_bytes", CONFIG_INT, OPT(max_payload_bytes), 256, 67108864, "262144", "BYTES",
     "largest MQTT payload accepted"},
    {"max_capture_bytes", CONFIG_INT, OPT(max_capture_bytes), 4096, 268435456, "4194304", "BYTES",
     "largest waveform capture message accepted from a meter"},
    {"max_connections", CONFIG_INT, OPT(max_connections), 1, 1000000, "4096", "N",
     "most simultaneous HTTP connections"},
    {"max_connections_per_ip", CONFIG_INT, OPT(max_connections_per_ip), 0, 1000000, "64", "N",
     "most simultaneous HTTP connections from one address (0: no limit; behind a reverse proxy, "
     "every client shares the proxy's)"},
    {"http_header_timeout_s", CONFIG_INT, OPT(http_header_timeout_s), 0, 3600, "30", "SECONDS",
     "a request's line and headers must arrive within this of the connection opening or the "
     "previous answer, or the connection is closed (0: no deadline)"},
    {"http_body_timeout_s", CONFIG_INT, OPT(http_body_timeout_s), 0, 3600, "60", "SECONDS",
     "a request's body must arrive within this of its headers, or the connection is closed "
     "(0: no deadline)"},
    {"login_max_failures", CONFIG_INT, OPT(login_max_failures), 1, 1000000, "10", "N",
     "password checks that may fail per client address (and per user name from it) in 5 "
     "minutes; more answer 429"},
    {"rate_limit_address", CONFIG_INT, OPT(rate_limit_address), 0, 100000000, "6000", "N",
     "API requests per minute from one client address (all but /api/health; 0: no limit)"},
    {"rate_limit_user", CONFIG_INT, OPT(rate_limit_user), 0, 100000000, "1200", "N",
     "API requests per minute with one user's tokens (0: no limit)"},
    {"rate_limit_device", CONFIG_INT, OPT(rate_limit_device), 0, 100000000, "600", "N",
     "HTTP uploads per minute of one device (0: no limit)"},
    {"password_threads", CONFIG_INT, OPT(password_threads), 0, 256, "0", "N",
     "threads that hash and check passwords, off the HTTP threads (0: one per CPU but one, at "
     "least one)"},
    {"password_queue", CONFIG_INT, OPT(password_queue), 1, 100000, "64", "N",
     "password checks waiting for those threads; more answer 503 with Retry-After"},
    {"timezone", CONFIG_STRING, OPT(timezone), 0, 0, "UTC", "ZONE",
     "the site's time zone (IANA name, like Asia/Shanghai): where days and months of energy "
     "start"},
    {"wechat_appid", CONFIG_STRING, OPT(wechat_appid), 0, 0, NULL, "APPID",
     "the mini program's AppID; with wechat_secret_file, enables WeChat login"},
    {"wechat_secret_file", CONFIG_STRING, OPT(wechat_secret_file), 0, 0, NULL, "FILE",
     "file holding the mini program's AppSecret (never logged)"},
    {"wechat_api_base", CONFIG_STRING, OPT(wechat_api_base), 0, 0, "https://api.weixin.qq.com",
     "URL", "WeChat's API (https://; http:// only to a loopback address, for tests)"},
    {"raw_retention_days", CONFIG_INT, OPT(raw_retention_days), 0, 36500, "0", "DAYS",
     "delete raw readings older than this many days (0: keep forever); rollups are kept"},
    {"web_root", CONFIG_STRING, OPT(web_root), 0, 0, SMARTMETER_WEB_ROOT_DEFAULT, "DIR",
     "directory of the web dashboard's built files, served for paths outside /api/ (empty: "
     "no dashboard)"},
    {"web_max_file_bytes", CONFIG_INT, OPT(web_max_file_bytes), 1024, 268435456, "16777216",
     "BYTES", "largest dashboard file served"},
    {"web_source_maps", CONFIG_BOOL, OPT(web_source_maps), 0, 0, "false", "BOOL",
     "serve the dashboard's source maps (*.map; they give its source away)"},
    {"ingest_queue", CONFIG_INT, OPT(ingest_queue), 1, 10000000, "20000", "READINGS",
     "readings of MQTT telemetry held in memory waiting for the database writer (at least "
     "max_batch); when full, the server stops reading from the broker until there is room"},
    {"batch_max", CONFIG_INT, OPT(batch_max), 1, 100000, "1000", "READINGS",
     "most readings the writer stores in one transaction (a bigger message goes whole)"},
    {"batch_wait_ms", CONFIG_INT, OPT(batch_wait_ms), 0, 10000, "20", "MS",
     "how long the writer waits for a batch to fill before storing what it has"},
    {"ingest_nice", CONFIG_INT, OPT(ingest_nice), 0, 19, "0", "N",
     "nice value of the threads that receive, store and bill telemetry: above 0, on a busy "
     "machine API requests run first and ingest takes the time left"},
    {"mqtt_share_group", CONFIG_STRING, OPT(mqtt_share_group), 0, 0, NULL, "GROUP",
     "subscribe as $share/GROUP/meters/+/...: the server instances of one group split the "
     "meters' messages between them (empty: plain subscriptions)"},
    {"history_cache_mb", CONFIG_INT, OPT(history_cache_mb), 0, 1048576, "64", "MIB",
     "memory for finished GET /api/device/data answers, reused until the device's readings "
     "change (0: no cache)"},
    {"device_cache_s", CONFIG_INT, OPT(device_cache_s), 0, 3600, "10", "SECONDS",
     "how long an HTTP upload may trust a device's key and secret hash read earlier, instead of "
     "reading them for every upload (0: read every time)"},
    /* prepaid billing */
    {"billing_gap_wait_ms", CONFIG_INT, OPT(billing_gap_wait_ms), 0, 3600000, "30000", "MS",
     "how long billing waits for readings missing before later ones (a backlog still on its "
     "way) before it bills across the gap; the balance lags consumption by at most this"},
    {"wechatpay_appid", CONFIG_STRING, OPT(wechatpay_appid), 0, 0, NULL, "APPID",
     "WeChat Pay: the mini program's AppID the orders are for (default: wechat_appid)"},
    {"wechatpay_mchid", CONFIG_STRING, OPT(wechatpay_mchid), 0, 0, NULL, "MCHID",
     "WeChat Pay merchant id; set, it enables tenants' payments and every wechatpay_* option "
     "below but wechatpay_base_url is required"},
    {"wechatpay_serial_no", CONFIG_STRING, OPT(wechatpay_serial_no), 0, 0, NULL, "SERIAL",
     "WeChat Pay: the serial number of the merchant API certificate"},
    {"wechatpay_private_key_file", CONFIG_STRING, OPT(wechatpay_private_key_file), 0, 0, NULL,
     "FILE", "WeChat Pay: the merchant's RSA private key (PEM, unencrypted; mode 0600 or 0400)"},
    {"wechatpay_apiv3_key_file", CONFIG_STRING, OPT(wechatpay_apiv3_key_file), 0, 0, NULL, "FILE",
     "WeChat Pay: file holding the 32-byte APIv3 key (mode 0600 or 0400; never logged)"},
    {"wechatpay_platform_public_key_file", CONFIG_STRING, OPT(wechatpay_platform_public_key_file),
     0, 0, NULL, "FILE",
     "WeChat Pay's public key (PEM) its answers and notifications are signed with"},
    {"wechatpay_platform_public_key_id", CONFIG_STRING, OPT(wechatpay_platform_public_key_id), 0, 0,
     NULL, "ID", "the id of that public key (PUB_KEY_ID_...), named by Wechatpay-Serial"},
    {"wechatpay_notify_url", CONFIG_STRING, OPT(wechatpay_notify_url), 0, 0, NULL, "URL",
     "where WeChat Pay posts payment notifications: https://HOST/api/payments/wechat/notify"},
    {"wechatpay_base_url", CONFIG_STRING, OPT(wechatpay_base_url), 0, 0,
     "https://api.mch.weixin.qq.com", "URL",
     "WeChat Pay's API (https://; http:// only to a loopback address, for tests)"},
    {"wechatpay_query_after_s", CONFIG_INT, OPT(wechatpay_query_after_s), 1, 86400, "300",
     "SECONDS",
     "ask WeChat Pay about an order still unpaid this long after it was placed (a "
     "notification may be lost), and close it once expired"},
    {"wechatpay_order_ttl_s", CONFIG_INT, OPT(wechatpay_order_ttl_s), 60, 86400, "1800", "SECONDS",
     "how long a tenant has to pay an order (its time_expire at WeChat Pay); unpaid, it is closed "
     "then"},
    /* the terminal gateway (docs/terminal-protocol.md) */
    {"terminal_listen", CONFIG_STRING, OPT(terminal_listen), 0, 0, NULL, "HOST:PORT",
     "accept field terminals over the TCP link protocol here (docs/terminal-protocol.md; unset: "
     "no gateway)"},
    {"terminal_heartbeat_s", CONFIG_INT, OPT(terminal_heartbeat_s), 1, 3600, "30", "SECONDS",
     "heartbeat interval the gateway announces to terminals"},
    {"terminal_idle_s", CONFIG_INT, OPT(terminal_idle_s), 2, 7200, "90", "SECONDS",
     "the gateway closes a terminal silent this long (more than terminal_heartbeat_s)"},
    {"terminal_max_connections", CONFIG_INT, OPT(terminal_max_connections), 1, 1000000, "20000",
     "N", "terminal connections at most; more are refused with the close reason busy"},
    /* the IEC 61850 MMS port (docs/iec61850.md) */
    {"mms_listen", CONFIG_STRING, OPT(mms_listen), 0, 0, NULL, "HOST:PORT",
     "serve IEC 61850 MMS (read-only: each meter a logical device) here (docs/iec61850.md; unset: "
     "no MMS port)"},
    {"mms_allow", CONFIG_STRING, OPT(mms_allow), 0, 0, NULL, "ADDR[/PREFIX],...",
     "MMS clients allowed to connect, by address or CIDR, IPv4 or IPv6 (unset: any)"},
    /* state analysis and alarms (docs/alarms.md) */
    {"alarms", CONFIG_BOOL, OPT(alarms), 0, 0, "true", "true|false",
     "judge every reading and every silence against the alarm rules (docs/alarms.md)"},
    {"alarm_sweep_ms", CONFIG_INT, OPT(alarm_sweep_ms), 100, 3600000, "5000", "MS",
     "how often the alarm service checks each device's silence and the command service's alerts"},
    {"alarm_nominal_voltage", CONFIG_DOUBLE, OPT(alarm_nominal_voltage), 1, 1000000, "220", "V",
     "the site's nominal phase voltage, for devices without their own"},
    {"alarm_nominal_hz", CONFIG_DOUBLE, OPT(alarm_nominal_hz), 1, 1000, "50", "HZ",
     "the site's nominal frequency, for devices without their own"},
    {"alarm_over_pct", CONFIG_DOUBLE, OPT(alarm_over_pct), 0, 100, "7", "PCT",
     "over-voltage above nominal plus this (GB/T 12325)"},
    {"alarm_under_pct", CONFIG_DOUBLE, OPT(alarm_under_pct), 0, 100, "10", "PCT",
     "under-voltage below nominal minus this, single-phase (GB/T 12325)"},
    {"alarm_under_pct_3p", CONFIG_DOUBLE, OPT(alarm_under_pct_3p), 0, 100, "7", "PCT",
     "under-voltage below nominal minus this, three-phase (GB/T 12325)"},
    {"alarm_freq_dev_hz", CONFIG_DOUBLE, OPT(alarm_freq_dev_hz), 0.001, 100, "0.2", "HZ",
     "frequency deviation beyond this (GB/T 15945)"},
    {"alarm_thd_v_pct", CONFIG_DOUBLE, OPT(alarm_thd_v_pct), 0, 1000, "5", "PCT",
     "voltage THD above this (GB/T 14549)"},
    {"alarm_load_pct", CONFIG_DOUBLE, OPT(alarm_load_pct), 1, 1000, "85", "PCT",
     "transformer load rate above this share of the rated kVA (GB 51348-2019)"},
    {"alarm_pf_min", CONFIG_DOUBLE, OPT(alarm_pf_min), 0, 1, "0.9", "PF",
     "power factor below this (while at least 0.5 A flows)"},
    {"alarm_sag_pct", CONFIG_DOUBLE, OPT(alarm_sag_pct), 1, 100, "90", "PCT",
     "a sag: the interval's lowest voltage below this share of nominal (IEC 61000-4-30)"},
    {"alarm_swell_pct", CONFIG_DOUBLE, OPT(alarm_swell_pct), 100, 1000, "110", "PCT",
     "a swell: the interval's highest voltage above this share of nominal (IEC 61000-4-30)"},
    {"alarm_offline_min", CONFIG_DOUBLE, OPT(alarm_offline_min), 0.01, 100000, "5", "MINUTES",
     "a device that sent readings before is offline after this long without one"},
    {"alarm_min_duration_s", CONFIG_DOUBLE, OPT(alarm_min_duration_s), 0, 86400, "60", "SECONDS",
     "how long a measured condition must last before it raises, and be gone before it clears"},
    {"alarm_load_min_duration_s", CONFIG_DOUBLE, OPT(alarm_load_min_duration_s), 0, 86400, "900",
     "SECONDS", "the same for the transformer load rate (a long-term limit)"},
    {"alarm_streams_max", CONFIG_INT, OPT(alarm_streams_max), 1, 100000, "64", "N",
     "live alarm streams (GET /api/alarms/stream) open at once; more answer 503"},
    {"alarm_keepalive_s", CONFIG_INT, OPT(alarm_keepalive_s), 1, 3600, "15", "SECONDS",
     "a quiet live alarm stream gets a comment this often"},
    {"alarm_wechat_template", CONFIG_STRING, OPT(alarm_wechat_template), 0, 0, NULL, "ID",
     "WeChat subscribe message template for raised alarms; set (with WeChat login), each raised "
     "alarm is sent to the device's bound users who have a WeChat account"},
    {"alarm_wechat_page", CONFIG_STRING, OPT(alarm_wechat_page), 0, 0, "pages/alarms/alarms",
     "PAGE", "the mini program page the message opens (\"?id=<alarm id>\" is added)"},
    {"alarm_wechat_state", CONFIG_STRING, OPT(alarm_wechat_state), 0, 0, "formal",
     "formal|trial|developer", "which version of the mini program the message opens"},
    {"alarm_wechat_fields", CONFIG_STRING, OPT(alarm_wechat_fields), 0, 0,
     "thing1=device,thing2=title,time3=time,thing4=detail", "FIELDS",
     "which alarm value fills which template field (docs/alarms.md, \"WeChat messages\")"},
    /* the Modbus TCP server (docs/modbus.md) */
    {"modbus_listen", CONFIG_STRING, OPT(modbus_listen), 0, 0, NULL, "HOST:PORT",
     "serve every device's latest reading over Modbus TCP here, read-only, in the Eastron SDM630 "
     "map on its modbus_unit (docs/modbus.md; unset: no Modbus server)"},
    {"modbus_max_connections", CONFIG_INT, OPT(modbus_max_connections), 1, 1024, "32", "N",
     "Modbus TCP connections at most; more are closed at once"},
    {"modbus_idle_s", CONFIG_INT, OPT(modbus_idle_s), 1, 86400, "60", "SECONDS",
     "a Modbus TCP connection without a request this long is closed"},
    /* standard meters behind 4G DTUs (docs/modbus.md, "Meters behind 4G DTUs") */
    {"dtu_listen", CONFIG_STRING, OPT(dtu_listen), 0, 0, NULL, "HOST:PORT",
     "accept 4G DTUs here and poll the meters behind them with Modbus RTU (docs/modbus.md; unset: "
     "off)"},
    {"dtu_heartbeat", CONFIG_STRING, OPT(dtu_heartbeat), 0, 0, NULL, "TEXT",
     "the DTUs' heartbeat packet, dropped where it arrives, even between the parts of a meter's "
     "answer"},
    {"dtu_idle_s", CONFIG_INT, OPT(dtu_idle_s), 5, 86400, "300", "SECONDS",
     "a DTU that sends nothing (no heartbeat, no answer) this long is closed"},
    {"dtu_response_timeout_ms", CONFIG_INT, OPT(dtu_response_timeout_ms), 50, 60000, "1000", "MS",
     "how long a meter behind a DTU has to answer one request (asked once more, then missed)"},
    {"dtu_poll_s", CONFIG_INT, OPT(dtu_poll_s), 1, 86400, "60", "SECONDS",
     "how often a device behind a DTU is polled when its poll_interval_s is not set"},
    {"dtu_max_connections", CONFIG_INT, OPT(dtu_max_connections), 1, 100000, "1000", "N",
     "DTU connections at most; more are closed at once"},
    /* Prometheus metrics (docs/metrics.md) */
    {"metrics_listen", CONFIG_STRING, OPT(metrics_listen), 0, 0, NULL, "HOST:PORT",
     "serve GET /metrics, and nothing else, here without authentication (plain HTTP: bind it to "
     "loopback or a private network; unset: only the API's /metrics)"},
    {"metrics_token_file", CONFIG_STRING, OPT(metrics_token_file), 0, 0, NULL, "FILE",
     "file (mode 0600 or 0400) holding a bearer token that may read the API's GET /metrics "
     "besides an admin's token"},
    {0},
};
