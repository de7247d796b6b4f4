/*
 * meter-server: ingest, REST API, storage, auth and billing in one binary.
 * See --help and SPEC.md for the command line.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "biller.h"
#include "app.h"
#include "broker.h"
#include "cli.h"
#include "dynsec.h"
#include "fileutil.h"
#include "http.h"
#include "log.h"
#include "mqtt_client.h"
#include "options.h"
#include "devcache.h"
#include "histcache.h"
#include "https.h"
#include "proxy.h"
#include "pwpool.h"
#include "retention.h"
#include "modbus_server.h"
#include "dtu.h"
#include "commands.h"
#include "sitetime.h"
#include "static.h"
#include "timeutil.h"
#include "tlsopt.h"
#include "url.h"
#include "wechat.h"
#include "wxpay.h"
#include "payments.h"
#include "writer.h"
#include "terminals.h"
#include "mms.h"
#include "alarms.h"
#include "meta.h"
#include "route_stats.h"
#include "service.h"

/* Devices whose upload keys are kept (devcache.h); ~150 bytes each, touched only when used. */
#define UPLOAD_DEVICE_SLOTS 16384
/*
 * Counters of the login throttle and the request limits (ratelimit.h, 24
 * bytes each): addresses, users and devices active in one window. A full
 * neighbourhood refuses (429) rather than forget a live count.
 */
#define LIMIT_SLOTS       65536
#define LOGIN_WINDOW_MS   (5 * 60 * 1000)
#define REQUEST_WINDOW_MS (60 * 1000)

static void usage(FILE *out)
{
    fprintf(out, "usage:\n"
                 "  meter-server [options]                         run the server\n"
                 "  meter-server migrate [--db URL]                create/upgrade the schema\n"
                 "  meter-server user add NAME --role admin|operator|user [--db URL]\n"
                 "                                                 password read from stdin\n"
                 "  meter-server user delete NAME [--db URL]       delete an account\n"
                 "  meter-server user set NAME [--role ROLE] [--disabled true|false] [--password]\n"
                 "                     [--db URL]                  change an account (--password:\n"
                 "                                                 the new one from stdin); every\n"
                 "                                                 change ends its tokens\n"
                 "  meter-server device add DEVICE_ID --owner NAME [--db URL]\n"
                 "                                                 prints the device secret once\n"
                 "  meter-server device delete DEVICE_ID [--db URL]\n"
                 "                                                 the device and all its data\n"
                 "  meter-server device import FILE.csv|- [--db URL]\n"
                 "                                                 devices from a CSV in one\n"
                 "                                                 transaction; prints\n"
                 "                                                 device_id,secret lines\n"
                 "  meter-server scl export [--db URL]              the MMS port's SCL on stdout\n"
                 "\noptions (each also a line \"name value\" in the --config file):\n");
    config_print_help(server_option_table, out);
}

/* A secret from a file only its owner may read, without trailing newlines. 0 or -errno with err. */
static int read_secret_file(const char *what, const char *path, char **ret, char *err,
                            size_t errlen)
{
    size_t len;
    int r = file_read_secret(what, path, 4096, ret, &len, err, errlen);
    if (r)
        return r;
    while (len > 0 && ((*ret)[len - 1] == '\n' || (*ret)[len - 1] == '\r'))
        (*ret)[--len] = '\0';
    return 0;
}

/*
 * WeChat login is on when wechat_appid and wechat_secret_file are both set.
 * Returns 0, or the exit code after printing why.
 */
static int wechat_setup(const struct server_options *opt, struct wechat **ret)
{
    *ret = NULL;
    if (!opt->wechat_appid && !opt->wechat_secret_file)
        return 0;
    if (!opt->wechat_appid || !opt->wechat_secret_file)
        return cli_fail(2, "WeChat login needs both wechat_appid and wechat_secret_file");
    char *secret = NULL;
    char err[WECHAT_ERR_LEN > 512 ? WECHAT_ERR_LEN : 512];
    if (read_secret_file("wechat_secret_file", opt->wechat_secret_file, &secret, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    struct wechat_options wo = {
        .api_base = opt->wechat_api_base, .appid = opt->wechat_appid, .secret = secret};
    int r = wechat_new(&wo, ret, err);
    auth_wipe(secret, strlen(secret));
    free(secret);
    if (r)
        return cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
    log_info("meter-server: WeChat login enabled for appid %s through %s", opt->wechat_appid,
             opt->wechat_api_base ? opt->wechat_api_base : WECHAT_DEFAULT_API_BASE);
    return 0;
}

/*
 * WeChat Pay is on when any wechatpay_* option but the base URL is set; then
 * wxpay_new() checks them all and reads the keys. Returns 0, or the exit code
 * after printing why.
 */
static int wxpay_setup(const struct server_options *opt, struct wxpay **ret)
{
    *ret = NULL;
    const char *set[] = {opt->wechatpay_appid,
                         opt->wechatpay_mchid,
                         opt->wechatpay_serial_no,
                         opt->wechatpay_private_key_file,
                         opt->wechatpay_apiv3_key_file,
                         opt->wechatpay_platform_public_key_file,
                         opt->wechatpay_platform_public_key_id,
                         opt->wechatpay_notify_url};
    bool any = false;
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
        any = any || set[i];
    if (!any)
        return 0;
    struct wxpay_options wo = {.appid =
                                   opt->wechatpay_appid ? opt->wechatpay_appid : opt->wechat_appid,
                               .mchid = opt->wechatpay_mchid,
                               .serial_no = opt->wechatpay_serial_no,
                               .private_key_file = opt->wechatpay_private_key_file,
                               .apiv3_key_file = opt->wechatpay_apiv3_key_file,
                               .platform_public_key_file = opt->wechatpay_platform_public_key_file,
                               .platform_public_key_id = opt->wechatpay_platform_public_key_id,
                               .notify_url = opt->wechatpay_notify_url,
                               .base_url = opt->wechatpay_base_url};
    char err[WXPAY_ERR_LEN];
    int r = wxpay_new(&wo, ret, err);
    if (r)
        return cli_fail(r == -ENOMEM ? 1 : 2, "WeChat Pay: %s", err);
    log_info("meter-server: WeChat Pay enabled for merchant %s through %s", opt->wechatpay_mchid,
             opt->wechatpay_base_url ? opt->wechatpay_base_url : WXPAY_DEFAULT_BASE_URL);
    return 0;
}

/*
 * The TLS and proxy settings, checked before anything starts: the MQTT
 * client's files (for ssl://; set with tcp:// they are said to be unused),
 * the HTTPS certificate and key (read into *tls), the trusted proxies (parsed
 * into *ret_proxies). Returns 0, or the exit code after printing why.
 */
static int security_setup(const struct server_options *opt, struct http_tls *tls,
                          struct proxy_list **ret_proxies)
{
    char err[512];
    struct tlsopt_mqtt mf = {opt->mqtt_cafile, opt->mqtt_certfile, opt->mqtt_keyfile};
    int r = tlsopt_check_mqtt(opt->mqtt, &mf, err, sizeof(err));
    if (r < 0)
        return cli_fail(2, "%s", err);
    if (r > 0)
        log_warn("meter-server: %s", err);
    if (http_tls_load(tls, opt->tls_cert_file, opt->tls_key_file, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (proxy_list_parse(opt->trusted_proxies, ret_proxies, err, sizeof(err))) {
        http_tls_clear(tls);
        return cli_fail(2, "%s", err);
    }
    return 0;
}

/*
 * Four per CPU, at least 16: a thread blocks only on database queries (an
 * upload waiting for its commit holds none, see http_defer()).
 */
static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned t = n > 0 && n < 64 ? (unsigned)n * 4 : 256;
    return t < 16 ? 16 : t;
}

/* Password threads: one per CPU but one, so that hashing never takes every CPU from the API. */
static unsigned default_password_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (unsigned)(n < 64 ? n - 1 : 63) : 1;
}

/* A limiter of limit events per window, or NULL for limit 0 (no limit). -ENOMEM on failure. */
static int limiter(int64_t limit, int64_t window_ms, struct ratelimit **ret)
{
    *ret = NULL;
    if (limit <= 0)
        return 0;
    *ret = ratelimit_new(LIMIT_SLOTS, window_ms, (uint32_t)limit);
    return *ret ? 0 : -ENOMEM;
}

/* Connections for the API: at most 32 by default (uploads mostly need none, see devcache.h). */
static unsigned default_connections(unsigned threads)
{
    return threads < 32 ? threads : 32;
}

/* The writer's acks go out through the MQTT client, once it exists. */
static int publish_ack(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct app *app = ctx;
    /* A device on a terminal link gets its acks there (terminals.h). */
    int r = terminals_route(atomic_load(&app->terminals), topic, payload, len);
    if (r != -ENOENT)
        return r;
    return mqtt_client_publish(atomic_load(&app->mqtt), topic, payload, len, 0);
}

/* The broker provisioning's requests to the dynamic-security plugin, likewise. */
static int publish_control(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct app *app = ctx;
    /* A device on a terminal link gets its commands there (terminals.h). */
    int r = terminals_route(atomic_load(&app->terminals), topic, payload, len);
    if (r != -ENOENT)
        return r;
    return mqtt_client_publish(atomic_load(&app->mqtt), topic, payload, len, 1);
}

/* A device's account changed: what the server keeps of its secret hash is forgotten. */
struct forget_ctx {
    struct ingest *ingest;
    struct devcache *uploads;
    struct app *app; /* its terminal gateway's links and device cache */
};

static void forget_device(void *ctx, const char *device_id)
{
    struct forget_ctx *f = ctx;
    ingest_forget_device(f->ingest, device_id);
    devcache_forget(f->uploads, device_id);
    if (f->app)
        terminals_forget(atomic_load(&f->app->terminals), device_id);
}

/*
 * Broker provisioning is on with mqtt_provision and an account to do it with.
 * Returns 0 (*ret NULL when off), or the exit code after printing why.
 */
static int broker_setup(const struct server_options *opt, struct app *app, struct forget_ctx *f,
                        struct broker **ret)
{
    char err[BROKER_ERR_LEN];
    *ret = NULL;
    if (!opt->mqtt_provision)
        return 0;
    if (!opt->mqtt_username) {
        log_warn("meter-server: the broker's accounts are not provisioned: no mqtt_username "
                 "(any client can then publish as any meter; see docs/security.md)");
        return 0;
    }
    /* Every device account is bound to its own client id: none may be the server's. */
    if (strncmp(opt->mqtt_client_id, DYNSEC_CLIENT_ID_PREFIX, strlen(DYNSEC_CLIENT_ID_PREFIX)) == 0)
        return cli_fail(2, "mqtt_client_id must not start with '%s' (the meters' client ids)",
                        DYNSEC_CLIENT_ID_PREFIX);
    struct broker_options bo = {.db = {.url = opt->db},
                                .server_user = opt->mqtt_username,
                                .publish = publish_control,
                                .publish_ctx = app,
                                .device_changed = forget_device,
                                .changed_ctx = f};
    int r = broker_start(&bo, ret, err, sizeof(err));
    if (r)
        return cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
    log_info("meter-server: provisioning the broker's accounts from the devices table, as %s",
             opt->mqtt_username);
    return 0;
}

/* --- State analysis and alarms (server/alarms/) --- */

/* Every service the writer tells of committed devices: billing, then the alarms. */
struct committed_fanout {
    struct biller *biller;
    struct alarms_service *alarms;
};

static void committed_fanout(void *ctx, int64_t device_pk)
{
    struct committed_fanout *f = ctx;
    if (f->biller)
        biller_notify(f->biller, device_pk);
    if (f->alarms)
        alarms_notify(f->alarms, device_pk);
}

static void alarm_site_from_options(const struct server_options *opt, struct alarm_site_config *c)
{
    alarm_site_defaults(c);
    c->meta.nominal_voltage = opt->alarm_nominal_voltage;
    c->meta.nominal_hz = opt->alarm_nominal_hz;
    c->over_pct = opt->alarm_over_pct;
    c->under_pct = opt->alarm_under_pct;
    c->under_pct_3p = opt->alarm_under_pct_3p;
    c->freq_dev_hz = opt->alarm_freq_dev_hz;
    c->thd_v_pct = opt->alarm_thd_v_pct;
    c->load_pct = opt->alarm_load_pct;
    c->pf_min = opt->alarm_pf_min;
    c->sag_pct = opt->alarm_sag_pct;
    c->swell_pct = opt->alarm_swell_pct;
    c->offline_min = opt->alarm_offline_min;
    c->min_duration_ms = (int64_t)(opt->alarm_min_duration_s * 1000);
    c->load_min_duration_ms = (int64_t)(opt->alarm_load_min_duration_s * 1000);
}

/*
 * Starts the live stream's hub, the WeChat notifier (when a template is set)
 * and the alarm service; the app gets the hub and the service. 0 or an exit code.
 */
static int alarms_setup(const struct server_options *opt, struct app *app,
                        struct alarm_site_config *site, struct alarm_notifier **ret_notifier)
{
    char err[512];
    if (!opt->alarms)
        return 0;
    alarm_site_from_options(opt, site);
    app->alarm_site = site;
    app->alarm_meta = &alarm_meta_from_store; /* each device's metadata over the site's */
    if (alarm_hub_new((unsigned)opt->alarm_streams_max, opt->alarm_keepalive_s * 1000,
                      &app->alarm_hub))
        return cli_fail(1, "out of memory");
    if (opt->alarm_wechat_template && opt->alarm_wechat_template[0]) {
        struct alarm_notifier_options no = {.wechat = app->wechat,
                                            .template_id = opt->alarm_wechat_template,
                                            .page = opt->alarm_wechat_page,
                                            .state = opt->alarm_wechat_state};
        char ferr[WXMSG_ERR_LEN];
        const char *fields = opt->alarm_wechat_fields ? opt->alarm_wechat_fields : "";
        if (!app->wechat)
            return cli_fail(2, "alarm_wechat_template needs WeChat login (wechat_appid and "
                               "wechat_secret_file): the access token comes from them");
        if (strcmp(no.state, "formal") && strcmp(no.state, "trial") &&
            strcmp(no.state, "developer"))
            return cli_fail(2, "alarm_wechat_state must be formal, trial or developer");
        if (wxmsg_fields_parse(fields, strlen(fields), &no.fields, ferr))
            return cli_fail(2, "%s", ferr);
        if (alarm_notifier_start(&no, ret_notifier, err, sizeof(err)))
            return cli_fail(2, "%s", err);
        log_info("meter-server: raised alarms go to WeChat as subscribe messages (template %s)",
                 opt->alarm_wechat_template);
    }
    struct alarms_options ao = {.db = {.url = opt->db},
                                .site = *site,
                                .meta = app->alarm_meta,
                                .sweep_ms = opt->alarm_sweep_ms,
                                .hub = app->alarm_hub,
                                .notifier = *ret_notifier};
    app->alarm_notifier = *ret_notifier;
    if (alarms_start(&ao, &app->alarms, err, sizeof(err)))
        return cli_fail(1, "%s", err);
    return 0;
}

static int serve(struct server_options *opt)
{
    struct app app;
    struct server_counters stats;
    struct ingest *ing = NULL;
    struct writer *writer = NULL;
    struct biller *biller = NULL; /* prepaid billing */
    struct committed_fanout fanout = {0};
    struct alarm_site_config alarm_site;
    struct alarm_notifier *alarm_notifier = NULL;
    struct mqtt_client *mq = NULL;
    struct commands_service *commands = NULL;
    struct terminals *terminals = NULL; /* the terminal gateway; NULL when off */
    struct mms_server *mms = NULL;      /* the IEC 61850 MMS port; NULL when off */
    struct http_server *http = NULL;
    struct http_server *metrics_http = NULL; /* metrics_listen; NULL when off */
    /* the Modbus TCP server; NULL when off */
    struct modbus_server *modbus = NULL;
    /* meters behind 4G DTUs; NULL when off */
    struct dtu_gateway *dtu = NULL;
    struct forget_ctx forget = {0};
    struct server_service *service = NULL; /* readiness and the watchdog under systemd */
    char *mqtt_password = NULL;
    struct http_tls tls = {0};
    struct proxy_list *proxies = NULL;
    char err[512];
    int code = 1;

    memset(&app, 0, sizeof(app));
    memset(&stats, 0, sizeof(stats));
    enum log_level level;
    if (log_level_parse(opt->log_level, &level))
        return cli_fail(2, "--log-level must be error, warn, info or debug");
    log_set_level(level);
    /* Before any thread starts: the zone is process-wide (TZ). */
    if (sitetime_set_zone(opt->timezone, err, sizeof(err)))
        return cli_fail(2, "--timezone: %s", err);

    if (!opt->jwt_secret_file)
        return cli_fail(2, "no JWT secret: pass --jwt-secret-file FILE or set jwt_secret_file in "
                           "the config file (a file of at least 32 random bytes)");
    if (auth_init())
        return cli_fail(1, "cannot initialise libsodium");
    if (auth_key_load(opt->jwt_secret_file, &app.key, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    struct url u;
    if (url_parse_mqtt(opt->mqtt, &u, err, sizeof(err)))
        return cli_fail(2, "--mqtt: %s", err);
    url_clear(&u);
    if (http_check_listen(opt->listen, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (opt->terminal_listen && opt->terminal_listen[0] &&
        terminals_check(opt->terminal_listen, (unsigned)opt->terminal_heartbeat_s,
                        (unsigned)opt->terminal_idle_s, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (opt->modbus_listen && opt->modbus_listen[0] &&
        modbus_server_check(opt->modbus_listen, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (opt->dtu_listen && opt->dtu_listen[0] && dtu_check(opt->dtu_listen, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (opt->mms_listen && opt->mms_listen[0] &&
        mms_check(opt->mms_listen, opt->mms_allow, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if (opt->metrics_listen && opt->metrics_listen[0] &&
        http_check_listen(opt->metrics_listen, err, sizeof(err)))
        return cli_fail(2, "metrics_listen: %s", err);
    if (opt->ingest_queue < opt->max_batch)
        return cli_fail(2, "ingest_queue (%lld) must hold at least max_batch (%lld) readings",
                        (long long)opt->ingest_queue, (long long)opt->max_batch);
    if (opt->mqtt_password_file && read_secret_file("mqtt_password_file", opt->mqtt_password_file,
                                                    &mqtt_password, err, sizeof(err)))
        return cli_fail(2, "%s", err);
    if ((code = cli_db_url(opt)) != 0)
        goto out;
    /* GET /metrics: its bearer token (besides an admin's), and the requests by route. */
    if (opt->metrics_token_file && read_secret_file("metrics_token_file", opt->metrics_token_file,
                                                    &app.metrics_token, err, sizeof(err))) {
        code = cli_fail(2, "%s", err);
        goto out;
    }
    if (app.metrics_token && strlen(app.metrics_token) < 16) {
        code = cli_fail(2, "metrics_token_file: the token must be at least 16 characters");
        goto out;
    }
    if (route_stats_new(api_route_labels(), &app.http_routes)) {
        code = cli_fail(1, "out of memory");
        goto out;
    }
    if ((code = security_setup(opt, &tls, &proxies)) != 0 ||
        (code = wechat_setup(opt, &app.wechat)) != 0 || (code = wxpay_setup(opt, &app.wxpay)) != 0)
        goto out;
    code = 1;

    /* Check the database before serving: reachable, and the schema this build expects. */
    struct store *probe;
    char serr[STORE_ERR_LEN];
    int r = store_open(opt->db, &probe, serr);
    if (r) {
        code = cli_fail(r == -EINVAL ? 2 : 1, "%s", serr);
        goto out;
    }
    int version = 0;
    r = store_schema_version(probe, &version);
    int latest = store_schema_latest(probe);
    if (r || version != latest) {
        code = r ? cli_fail(1, "cannot read the schema version: %s", store_errmsg(probe))
                 : cli_fail(1,
                            "the database schema is at version %d, this build needs %d: run "
                            "'meter-server migrate' (with the same --db)",
                            version, latest);
        store_close(probe);
        goto out;
    }
    store_close(probe);

    unsigned threads = opt->http_threads ? (unsigned)opt->http_threads : default_threads();
    unsigned conns =
        opt->db_connections ? (unsigned)opt->db_connections : default_connections(threads);
    app.opt = opt;
    app.stats = &stats;
    app.started_ms = time_mono_ms();
    app.pool = store_pool_new(opt->db, conns);
    app.login_failures =
        ratelimit_new(LIMIT_SLOTS, LOGIN_WINDOW_MS, (uint32_t)opt->login_max_failures);
    unsigned pw_threads =
        opt->password_threads ? (unsigned)opt->password_threads : default_password_threads();
    struct ingest_limits limits = {.max_payload_bytes = (size_t)opt->max_payload_bytes,
                                   .max_capture_bytes = (size_t)opt->max_capture_bytes,
                                   .max_batch = (size_t)opt->max_batch};
    ing = ingest_new(&(struct store_source){.url = opt->db}, &limits, &stats);
    app.ingest = ing;
    if (!app.pool || !app.login_failures || !ing ||
        limiter(opt->rate_limit_address, REQUEST_WINDOW_MS, &app.address_requests) ||
        limiter(opt->rate_limit_user, REQUEST_WINDOW_MS, &app.user_requests) ||
        limiter(opt->rate_limit_device, REQUEST_WINDOW_MS, &app.device_uploads) ||
        pwpool_new(pw_threads, (unsigned)opt->password_queue, &app.passwords)) {
        code = cli_fail(1, "out of memory");
        goto out;
    }
    /* A missing dashboard is not fatal: the API serves on without it. */
    if (opt->web_root && opt->web_root[0]) {
        if (static_site_open(opt->web_root, (size_t)opt->web_max_file_bytes, &app.web, err,
                             sizeof(err)))
            log_warn("meter-server: not serving the dashboard: %s", err);
        else
            static_site_serve_source_maps(app.web, opt->web_source_maps);
    }
    if (opt->history_cache_mb > 0 &&
        histcache_new((size_t)opt->history_cache_mb << 20, &app.history_cache)) {
        code = cli_fail(1, "out of memory");
        goto out;
    }
    if (opt->device_cache_s > 0 &&
        devcache_new(UPLOAD_DEVICE_SLOTS, opt->device_cache_s * 1000, &app.devices)) {
        code = cli_fail(1, "out of memory");
        goto out;
    }
    struct writer_options wo = {.db = {.url = opt->db},
                                .queue_max = (size_t)opt->ingest_queue,
                                .batch_max = (size_t)opt->batch_max,
                                .batch_wait_ms = (unsigned)opt->batch_wait_ms,
                                .nice = (int)opt->ingest_nice,
                                .stats = &stats,
                                .publish = publish_ack,
                                .publish_ctx = &app};

    /* Signals are taken synchronously by the main thread; every other thread blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (server_service_start(&stats, &service)) {
        code = cli_fail(1, "cannot start the watchdog's thread");
        goto out;
    }

    struct biller_options bo_billing = {.db = {.url = opt->db},
                                        .gap_wait_ms = opt->billing_gap_wait_ms,
                                        .nice = (int)opt->ingest_nice};
    if (biller_start(&bo_billing, &biller, err, sizeof(err))) {
        code = cli_fail(1, "%s", err);
        goto out;
    }
    if ((code = alarms_setup(opt, &app, &alarm_site, &alarm_notifier)) != 0)
        goto out;
    code = 1;
    fanout = (struct committed_fanout){.biller = biller, .alarms = app.alarms};
    wo.committed = committed_fanout;
    wo.committed_ctx = &fanout;

    r = writer_start(&wo, &writer);
    if (r) {
        code = cli_fail(1, "cannot start the database writer: %s", strerror(-r));
        goto out;
    }
    ingest_set_writer(ing, writer);
    app.writer = writer;

    struct http_options ho = {.listen = opt->listen,
                              .threads = threads,
                              .max_body_bytes = (size_t)opt->max_body_bytes,
                              .max_response_bytes = 64u << 20,
                              .max_connections = (unsigned)opt->max_connections,
                              .max_connections_per_ip = (unsigned)opt->max_connections_per_ip,
                              .timeout_s = 60,
                              .tls = tls.cert_pem ? &tls : NULL,
                              .trusted_proxies = proxies,
                              .header_timeout_s = (unsigned)opt->http_header_timeout_s,
                              .body_timeout_s = (unsigned)opt->http_body_timeout_s,
                              .handler = api_handle,
                              .app = &app};
    ho.observe = api_metrics_observe;
    forget = (struct forget_ctx){.ingest = ing, .uploads = app.devices, .app = &app};
    if ((code = broker_setup(opt, &app, &forget, &app.broker)) != 0)
        goto out;
    code = 1;
    struct mqtt_client_options mo = {.url = opt->mqtt,
                                     .client_id = opt->mqtt_client_id,
                                     .username = opt->mqtt_username,
                                     .password = mqtt_password,
                                     .cafile = opt->mqtt_cafile,
                                     .certfile = opt->mqtt_certfile,
                                     .keyfile = opt->mqtt_keyfile,
                                     .share_group = opt->mqtt_share_group,
                                     .nice = (int)opt->ingest_nice,
                                     .ingest = ing,
                                     .stats = &stats};
    if (app.broker) {
        mo.control_topic = DYNSEC_RESPONSE_TOPIC;
        mo.on_control = broker_on_control;
        mo.on_connected = broker_on_connected;
        mo.control_ctx = app.broker;
    }
    if (mqtt_client_start(&mo, &mq, err, sizeof(err))) {
        code = cli_fail(2, "%s", err);
        goto out;
    }
    atomic_store(&app.mqtt, mq); /* the API publishes commands through it */
    /* Commands to meters (relay cut and restore) and the cut-off rules, on their own thread. */
    struct commands_options co = {.db = {.url = opt->db},
                                  .pub = {.publish = publish_control, .ctx = &app}};
    if (commands_start(&co, &commands, err, sizeof(err))) {
        code = cli_fail(1, "%s", err);
        goto out;
    }
    atomic_store(&app.commands, commands);
    /* Field terminals over TCP (terminal_listen): into the same writer, acks and commands
       routed to their links by publish_ack and publish_control. */
    if (opt->terminal_listen && opt->terminal_listen[0]) {
        struct terminals_options to = {.listen = opt->terminal_listen,
                                       .db = {.url = opt->db},
                                       .limits = limits,
                                       .writer = writer,
                                       .stats = &stats,
                                       .heartbeat_s = (unsigned)opt->terminal_heartbeat_s,
                                       .idle_s = (unsigned)opt->terminal_idle_s,
                                       .max_connections = (unsigned)opt->terminal_max_connections};
        r = terminals_start(&to, &terminals, err, sizeof(err));
        if (r) {
            code = cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
            goto out;
        }
        atomic_store(&app.terminals, terminals);
        log_info("meter-server: terminal gateway on %s (port %d)", opt->terminal_listen,
                 terminals_port(terminals));
    }
    /* The Modbus TCP server (modbus_listen): reads only, each connection on its own store. */
    if (opt->modbus_listen && opt->modbus_listen[0]) {
        struct modbus_server_options mbo = {.listen = opt->modbus_listen,
                                            .db = {.url = opt->db},
                                            .max_connections =
                                                (unsigned)opt->modbus_max_connections,
                                            .idle_s = (unsigned)opt->modbus_idle_s};
        r = modbus_server_start(&mbo, &modbus, err, sizeof(err));
        if (r) {
            code = cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
            goto out;
        }
        app.modbus = modbus;
        log_info("meter-server: Modbus TCP server on %s (port %d)", opt->modbus_listen,
                 modbus_server_port(modbus));
    }
    /* Meters behind 4G DTUs (dtu_listen): polled, their readings into the same writer. */
    if (opt->dtu_listen && opt->dtu_listen[0]) {
        struct dtu_options dto = {.listen = opt->dtu_listen,
                                  .db = {.url = opt->db},
                                  .writer = writer,
                                  .heartbeat = opt->dtu_heartbeat,
                                  .max_connections = (unsigned)opt->dtu_max_connections,
                                  .idle_s = (unsigned)opt->dtu_idle_s,
                                  .response_timeout_ms = (unsigned)opt->dtu_response_timeout_ms,
                                  .default_poll_s = (unsigned)opt->dtu_poll_s};
        r = dtu_start(&dto, &dtu, err, sizeof(err));
        if (r) {
            code = cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
            goto out;
        }
        app.dtu = dtu;
        log_info("meter-server: DTU gateway on %s (port %d)", opt->dtu_listen, dtu_port(dtu));
    }
    /* The IEC 61850 MMS port (mms_listen): read-only, from the store. */
    if (opt->mms_listen && opt->mms_listen[0]) {
        struct mms_options mmso = {
            .listen = opt->mms_listen, .allow = opt->mms_allow, .db = {.url = opt->db}};
        r = mms_start(&mmso, &mms, err, sizeof(err));
        if (r) {
            code = cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
            goto out;
        }
        app.mms = mms;
        log_info("meter-server: MMS server on %s (port %d)", opt->mms_listen, mms_port(mms));
    }
    if (opt->raw_retention_days > 0) {
        struct retention_options ro = {.db = {.url = opt->db},
                                       .keep_days = opt->raw_retention_days};
        if (retention_start(&ro, &app.retention, err, sizeof(err))) {
            code = cli_fail(1, "%s", err);
            goto out;
        }
    }
    if (app.wxpay) {
        struct payments_options po = {.db = {.url = opt->db},
                                      .wxpay = app.wxpay,
                                      .query_after_ms = opt->wechatpay_query_after_s * 1000};
        if (payments_start(&po, &app.payments, err, sizeof(err))) {
            code = cli_fail(1, "%s", err);
            goto out;
        }
    }
    /*
     * The API last: what answers /api/health has every port and service up (a
     * terminal, a test or a load balancer that waits for it finds them listening).
     */
    r = http_start(&ho, &http, err, sizeof(err));
    http_tls_clear(&tls); /* libmicrohttpd has loaded them */
    if (r) {
        code = cli_fail(r == -EINVAL ? 2 : 1, "%s", err);
        goto out;
    }
    const char *scheme = opt->tls_cert_file ? "https" : "http";
    log_info("meter-server: serving the API on %s://%s (port %d), database %s, broker %s", scheme,
             opt->listen, http_port(http), strncmp(opt->db, "sqlite:", 7) == 0 ? "sqlite" : "mysql",
             opt->mqtt);
    if (proxies)
        log_info("meter-server: clients behind %s are named by X-Forwarded-For",
                 opt->trusted_proxies);
    if (app.web)
        log_info("meter-server: serving the dashboard on %s://%s/ from %s", scheme, opt->listen,
                 opt->web_root);
    /* Prometheus metrics without authentication on a listener of their own (docs/metrics.md). */
    if (opt->metrics_listen && opt->metrics_listen[0]) {
        struct http_options mho = {.listen = opt->metrics_listen,
                                   .threads = 1,
                                   .max_body_bytes = 1024,
                                   .max_response_bytes = 16u << 20,
                                   .max_connections = 16,
                                   .max_connections_per_ip = 0,
                                   .timeout_s = 30,
                                   .header_timeout_s = (unsigned)opt->http_header_timeout_s,
                                   .body_timeout_s = (unsigned)opt->http_body_timeout_s,
                                   .handler = api_metrics_listener,
                                   .observe = api_metrics_observe,
                                   .app = &app};
        r = http_start(&mho, &metrics_http, err, sizeof(err));
        if (r) {
            code = cli_fail(r == -EINVAL ? 2 : 1, "metrics_listen: %s", err);
            goto out;
        }
        log_info("meter-server: serving /metrics on http://%s (port %d)", opt->metrics_listen,
                 http_port(metrics_http));
    }
    char status[256];
    snprintf(status, sizeof(status), "API on %s port %d, database %s", scheme, http_port(http),
             strncmp(opt->db, "sqlite:", 7) == 0 ? "sqlite" : "mysql");
    server_service_ready(service, status);

    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("meter-server: stopping (signal %d)", sig);
            server_service_stopping(service);
            break;
        }
        mqtt_client_tick(mq);
        server_service_beat(service);
    }
    code = 0;
out:
    server_service_free(service);
    terminals_stop(terminals);         /* no more readings from terminals; their links closed */
    alarm_hub_shutdown(app.alarm_hub); /* its streams end before the HTTP server stops */
    http_stop(metrics_http);           /* reads what the API reads: stopped first */
    http_stop(http);
    http_tls_clear(&tls);
    /* The grid ports after the API, whose /api/stats reads their counters. */
    modbus_server_stop(modbus);
    dtu_stop(dtu); /* before the writer stops: a poll may be waiting for its commit */
    mms_stop(mms);
    proxy_list_free(proxies);
    retention_stop(app.retention);
    payments_stop(app.payments);
    atomic_store(&app.commands, NULL);
    commands_stop(commands); /* publishes through the MQTT client: stopped before it */
    broker_stop(app.broker); /* publishes through the MQTT client, which calls it back */
    /*
     * First stop taking messages (paho confirms each one to the broker as it reads it, so
     * nothing read may be dropped), then let the writer store what it holds: its acks can
     * no longer go out, and the meters' resends get them as duplicates. The writer stays
     * allocated until the MQTT client, whose callback may still call it, is gone.
     */
    mqtt_client_disconnect(mq);
    writer_stop(writer, 5000);
    atomic_store(&app.mqtt, NULL);
    mqtt_client_stop(mq);
    broker_free(app.broker);
    writer_free(writer);
    atomic_store(&app.terminals, NULL); /* nothing routes to it any more */
    terminals_free(terminals);
    biller_stop(biller);     /* after the writer, which notes devices for it */
    alarms_stop(app.alarms); /* likewise */
    alarm_notifier_stop(alarm_notifier);
    alarm_hub_free(app.alarm_hub); /* after http_stop(): every stream is closed */
    ingest_free(ing);
    store_pool_free(app.pool);
    static_site_free(app.web);
    histcache_free(app.history_cache);
    devcache_free(app.devices);
    /* After http_stop(): a deferred login is answered from a password thread. */
    pwpool_free(app.passwords);
    ratelimit_free(app.login_failures);
    ratelimit_free(app.address_requests);
    ratelimit_free(app.user_requests);
    ratelimit_free(app.device_uploads);
    wechat_free(app.wechat);
    wxpay_free(app.wxpay);
    route_stats_free(app.http_routes); /* after both HTTP servers, which count into it */
    if (app.metrics_token) {
        auth_wipe(app.metrics_token, strlen(app.metrics_token));
        free(app.metrics_token);
    }
    auth_wipe(&app.key, sizeof(app.key));
    if (mqtt_password) {
        auth_wipe(mqtt_password, strlen(mqtt_password));
        free(mqtt_password);
    }
    return code;
}

int main(int argc, char **argv)
{
    log_set_program("meter-server");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (argc > 1 && strcmp(argv[1], "migrate") == 0)
        return cli_migrate(argc, argv);
    if (argc > 2 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "add") == 0)
        return cli_user_add(argc, argv);
    if (argc > 2 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "delete") == 0)
        return cli_user_delete(argc, argv);
    if (argc > 2 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "set") == 0)
        return cli_user_set(argc, argv);
    if (argc > 2 && strcmp(argv[1], "device") == 0 && strcmp(argv[2], "add") == 0)
        return cli_device_add(argc, argv);
    if (argc > 2 && strcmp(argv[1], "device") == 0 && strcmp(argv[2], "delete") == 0)
        return cli_device_delete(argc, argv);
    if (argc > 2 && strcmp(argv[1], "device") == 0 && strcmp(argv[2], "import") == 0)
        return cli_device_import(argc, argv);
    if (argc > 2 && strcmp(argv[1], "scl") == 0 && strcmp(argv[2], "export") == 0)
        return cli_scl_export(argc, argv);
    if (argc > 1 && strncmp(argv[1], "--", 2) != 0)
        return cli_fail(2, "unknown command '%s' (see --help)", argv[1]);

    struct server_options opt;
    char err[CONFIG_ERR_LEN];
    memset(&opt, 0, sizeof(opt));
    int code;
    if (config_defaults(server_option_table, &opt, err) ||
        config_parse_args(server_option_table, &opt, argc, argv, 1, err))
        code = cli_fail(2, "%s", err);
    else
        code = serve(&opt);
    config_free(server_option_table, &opt);
    return code;
}
