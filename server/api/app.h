/*
 * app: what the API handlers share for the life of the server.
 */
#ifndef SMARTMETER_APP_H
#define SMARTMETER_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "ingest.h"
#include "options.h"
#include "ratelimit.h"
#include "store_pool.h"

struct mqtt_client;
struct wechat;
struct retention;
struct static_site;
struct writer;
struct histcache;
struct devcache;
struct broker;
struct pwpool;
struct wxpay;
struct payments;
struct terminals;
struct modbus_server;
struct dtu_gateway;
struct mms_server;
struct alarm_hub;
struct alarms_service;
struct alarm_site_config;
struct alarm_meta_source;
struct alarm_notifier;

struct app {
    const struct server_options *opt;
    struct store_pool *pool;
    struct auth_key key;
    /* Password checks per client address and per (user name, address): ratelimit.h. */
    struct ratelimit *login_failures;
    /* Requests per minute (options rate_limit_*); NULL: not limited. */
    struct ratelimit *address_requests; /* every API call but /api/health, per client address */
    struct ratelimit *user_requests;    /* calls with a token, per user */
    struct ratelimit *device_uploads;   /* POST /api/device/data, per device */
    struct pwpool *passwords;           /* Argon2id off the HTTP threads */
    struct server_counters *stats;
    struct mqtt_client *_Atomic mqtt; /* publishes commands to meters; NULL until it starts */
    /* The durable command service (commands.h): captures are queued there; NULL until it starts. */
    struct commands_service *_Atomic commands;
    int64_t started_ms;
    struct wechat *wechat;       /* code2Session client; NULL when WeChat login is not configured */
    struct retention *retention; /* NULL when raw readings are kept forever */
    struct static_site *web;     /* the dashboard's files; NULL when not served */
    struct writer *writer;       /* uploads share its transactions; NULL: each stores its own */
    struct histcache *history_cache; /* history answers; NULL when history_cache_mb is 0 */
    struct devcache *devices;        /* uploaders' keys and secret hashes; NULL: none kept */
    struct ingest *ingest;           /* MQTT ingest, whose device cache forgets deleted devices */
    struct broker *broker; /* keeps the broker's accounts in step; NULL when provisioning is off */
    struct wxpay *wxpay;   /* WeChat Pay; NULL when wechatpay_mchid is not set */
    struct payments *payments; /* the query thread of unfinished orders; NULL without WeChat Pay */
    struct terminals *_Atomic terminals; /* the terminal gateway; NULL when off or not yet up */
    /* The grid ports, for their counters in /api/stats; NULL when off. Set before the API
       starts and freed after it stops. */
    struct modbus_server *modbus;
    struct dtu_gateway *dtu;
    struct mms_server *mms;
    /* Alarms (server/alarms/): the live stream, the service, the site's limits and where a
       device's ratings come from; NULL until they start. */
    struct alarm_hub *alarm_hub;
    struct alarms_service *alarms;
    const struct alarm_site_config *alarm_site;
    const struct alarm_meta_source *alarm_meta;
    struct alarm_notifier *alarm_notifier; /* WeChat subscribe messages; NULL when not configured */
    /* GET /metrics (api_metrics.c): requests by route (api_route_label()); NULL: not counted */
    struct route_stats *http_routes;
    char *metrics_token; /* from metrics_token_file, also admits to the API's /metrics; or NULL */
};

#endif
