#include "mqtt_client.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTAsync.h>

#include "log.h"
#include "threadprio.h"
#include "timeutil.h"
#include "tlsopt.h"
#include "topic.h"
#include "url.h"

/* What meters send: the leaves ingest takes. */
static const enum topic_leaf leaves[] = {TOPIC_TELEMETRY, TOPIC_STATUS, TOPIC_REPLY, TOPIC_CAPTURE};
#define NTOPICS ((int)(sizeof(leaves) / sizeof(leaves[0])))

struct mqtt_client {
    MQTTAsync client;
    struct mqtt_client_options opts;
    char *password;
    char uri[300];
    bool tls;
    atomic_bool connecting;
    atomic_bool ever_connected;
    atomic_bool stopping; /* mqtt_client_disconnect() called: on_message stops waiting */
    int64_t next_attempt_ms;
    int64_t backoff_ms;
    unsigned retry_sleep_ms;                /* while the database is unavailable */
    char topics[NTOPICS][TOPIC_FILTER_MAX]; /* what we subscribe to */
};
#define RETRY_SLICE_MS 50   /* on_message's wait for the database checks for a stop this often */
#define RETRY_FIRST_MS 50   /* its first pause */
#define RETRY_MAX_MS   2000 /* doubling up to this */
#define MQTT_PUBLISH_QUEUE_MAX                                                                     \
    16384 /* publishes queued in the client (above the writer's outbox) */

static void on_subscribe_failure(void *ctx, MQTTAsync_failureData *resp)
{
    (void)ctx;
    log_error("mqtt: subscribe failed (code %d)", resp ? resp->code : 0);
}

/* Called on every successful connect, including automatic reconnects. */
static void on_connected(void *ctx, char *cause)
{
    struct mqtt_client *m = ctx;
    (void)cause;
    atomic_store(&m->connecting, false);
    atomic_store(&m->ever_connected, true);
    atomic_store(&m->opts.stats->mqtt_connected, true);
    m->backoff_ms = 1000;
    log_info("mqtt: connected to %s", m->uri);

    /* The broker keeps our subscriptions in the session; subscribing again is harmless. */
    int qos[NTOPICS + 1] = {1, 1, 1, 1, 1}, n = NTOPICS;
    char *topics[NTOPICS + 1];
    for (int i = 0; i < NTOPICS; i++)
        topics[i] = m->topics[i];
    if (m->opts.control_topic)
        topics[n++] = (char *)m->opts.control_topic;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onFailure = on_subscribe_failure;
    ro.context = m;
    int rc = MQTTAsync_subscribeMany(m->client, n, topics, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("mqtt: subscribe failed: %s", MQTTAsync_strerror(rc));
    if (m->opts.on_connected)
        m->opts.on_connected(m->opts.control_ctx);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    struct mqtt_client *m = ctx;
    log_warn("mqtt: cannot connect to %s: %s; retrying", m->uri,
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1));
    atomic_store(&m->connecting, false);
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct mqtt_client *m = ctx;
    atomic_store(&m->opts.stats->mqtt_connected, false);
    log_warn("mqtt: connection lost (%s); reconnecting", cause ? cause : "no reason given");
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct mqtt_client *m = ctx;
    /* The library's receiving thread is its own: it gives way the first time it calls us. */
    static _Thread_local bool niced;
    if (!niced) {
        (void)thread_set_nice(m->opts.nice);
        niced = true;
    }
    char name[512];
    size_t n = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, topic, n);
    name[n] = '\0';

    if (m->opts.control_topic && strcmp(name, m->opts.control_topic) == 0) {
        m->opts.on_control(m->opts.control_ctx, msg->payload,
                           (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0));
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
        return 1;
    }
    /*
     * The database is away (or the writer stopping): keep the message here and try again,
     * more slowly each time, so we neither spin nor lose it; meanwhile the client reads
     * nothing more and the broker keeps the rest (back-pressure, as for a full queue).
     * Returning 0 instead would make paho keep the message in a queue of its own, and
     * every message after it, delivering from that queue only one message for each packet
     * it receives later: a backlog that never shrinks under steady traffic, and whose tail
     * waits for the next keepalive when traffic stops.
     */
    enum ingest_result r;
    while ((r = ingest_message(m->opts.ingest, name, msg->payload,
                               (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0))) ==
           INGEST_RETRY) {
        for (unsigned slept = 0; slept < m->retry_sleep_ms && !atomic_load(&m->stopping);
             slept += RETRY_SLICE_MS) {
            struct timespec ts = {0, (long)RETRY_SLICE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (m->retry_sleep_ms < RETRY_MAX_MS)
            m->retry_sleep_ms *= 2;
        if (atomic_load(&m->stopping))
            return 0; /* stopping: paho drops it at the disconnect (a meter resends telemetry) */
    }
    m->retry_sleep_ms = RETRY_FIRST_MS;
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void try_connect(struct mqtt_client *m)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    co.keepAliveInterval = 20;
    /*
     * Alone, the server keeps a persistent session: the broker holds QoS 1 messages while it
     * is away. In a share group it must not: the broker would go on routing the group's
     * messages to a dead member's session, where status, reply and capture messages (which
     * no meter resends) would wait for that member's return. With a clean session a dead
     * member leaves the group and the others get everything; telemetry lost in flight with
     * it is resent by the meters, which get no ack for it.
     */
    co.cleansession = (m->opts.share_group && *m->opts.share_group) ? 1 : 0;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 16;
    co.connectTimeout = 10;
    co.onFailure = on_connect_failure;
    co.context = m;
    co.username = m->opts.username;
    co.password = m->password;
    if (m->tls) {
        ssl.trustStore = m->opts.cafile; /* NULL: the system's store */
        ssl.keyStore = m->opts.certfile;
        ssl.privateKey = m->opts.keyfile;
        ssl.enableServerCertAuth = 1; /* the chain */
        ssl.verify = 1;               /* the host name or address in the URL */
        ssl.enabledCipherSuites = TLSOPT_MQTT_CIPHERS;
        ssl.ssl_error_cb = tlsopt_log_error;
        ssl.ssl_error_context = m->uri;
        co.ssl = &ssl; /* paho keeps a copy */
    }
    atomic_store(&m->connecting, true);
    int rc = MQTTAsync_connect(m->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        atomic_store(&m->connecting, false);
        log_warn("mqtt: connect to %s failed: %s", m->uri, MQTTAsync_strerror(rc));
    }
}

int mqtt_client_start(const struct mqtt_client_options *opts, struct mqtt_client **ret, char *err,
                      size_t errlen)
{
    struct url u;
    int r = url_parse_mqtt(opts->url, &u, err, errlen);
    if (r)
        return r;
    bool shared = opts->share_group && *opts->share_group;
    if (shared && !topic_share_group_valid(opts->share_group)) {
        url_clear(&u);
        snprintf(err, errlen, "mqtt_share_group must be 1 to %d of A-Z a-z 0-9 _ - .",
                 TOPIC_SHARE_GROUP_MAX);
        return -EINVAL;
    }
    struct mqtt_client *m = calloc(1, sizeof(*m));
    if (!m) {
        url_clear(&u);
        return -ENOMEM;
    }
    m->opts = *opts;
    for (int i = 0; i < NTOPICS; i++)
        topic_filter(m->topics[i], leaves[i], opts->share_group); /* the group was checked */
    m->retry_sleep_ms = RETRY_FIRST_MS;
    m->backoff_ms = 1000;
    m->tls = url_mqtt_tls(&u);
    const char *scheme = m->tls ? "ssl" : "tcp";
    if (strchr(u.host, ':'))
        snprintf(m->uri, sizeof(m->uri), "%s://[%s]:%d", scheme, u.host, u.port);
    else
        snprintf(m->uri, sizeof(m->uri), "%s://%s:%d", scheme, u.host, u.port);
    if (opts->password && !(m->password = strdup(opts->password))) {
        free(m);
        return -ENOMEM;
    }
    m->opts.password = NULL;

    /* OpenSSL is set up only for an ssl:// broker. */
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;
    io.do_openssl_init = m->tls ? 1 : 0;
    MQTTAsync_global_init(&io);
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    cro.MQTTVersion = MQTTVERSION_3_1_1;
    /*
     * Publishes (acks, one per device of a batch, and commands) wait in the client's queue
     * for its send thread; past maxBufferedMessages (default 100) a publish is refused even
     * while connected. A batch acknowledges up to a thousand devices at once.
     */
    cro.maxBufferedMessages = MQTT_PUBLISH_QUEUE_MAX;
    int rc = MQTTAsync_createWithOptions(&m->client, m->uri, opts->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot create MQTT client for %s: %s", m->uri,
                 MQTTAsync_strerror(rc));
        free(m->password);
        free(m);
        return -EINVAL;
    }
    MQTTAsync_setCallbacks(m->client, m, on_connection_lost, on_message, NULL);
    MQTTAsync_setConnected(m->client, m, on_connected);
    try_connect(m);
    m->next_attempt_ms = time_mono_ms() + m->backoff_ms;
    *ret = m;
    return 0;
}

void mqtt_client_tick(struct mqtt_client *m)
{
    /* After the first success paho reconnects by itself; until then we retry with backoff. */
    if (atomic_load(&m->ever_connected) || atomic_load(&m->connecting))
        return;
    int64_t now = time_mono_ms();
    if (now < m->next_attempt_ms)
        return;
    try_connect(m);
    if (m->backoff_ms < 16000)
        m->backoff_ms *= 2;
    m->next_attempt_ms = now + m->backoff_ms;
}

int mqtt_client_publish(struct mqtt_client *m, const char *topic, const void *payload, size_t len,
                        int qos)
{
    if (!m)
        return -ENOTCONN;
    if ((qos != 0 && qos != 1) || len > INT32_MAX)
        return -EINVAL;
    if (!MQTTAsync_isConnected(m->client))
        return -ENOTCONN;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = 0;
    int rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
    if (rc == MQTTASYNC_DISCONNECTED)
        return -ENOTCONN;
    return rc == MQTTASYNC_SUCCESS ? 0 : -EIO;
}

void mqtt_client_disconnect(struct mqtt_client *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    dopt.timeout = 2000;
    if (MQTTAsync_isConnected(m->client))
        MQTTAsync_disconnect(m->client, &dopt);
    for (int i = 0; i < 30 && MQTTAsync_isConnected(m->client); i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void mqtt_client_stop(struct mqtt_client *m)
{
    if (!m)
        return;
    mqtt_client_disconnect(m);
    MQTTAsync_destroy(&m->client);
    if (m->password) {
        memset(m->password, 0, strlen(m->password));
        free(m->password);
    }
    free(m);
}
