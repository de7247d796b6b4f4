#include "publisher.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTAsync.h>

#include "dynbuf.h"
#include "log.h"
#include "status.h"
#include "timeutil.h"
#include "tlsopt.h"
#include "topic.h"
#include "url.h"

#define RETRY_MIN_S        1
#define RETRY_MAX_S        30
#define KEEPALIVE_S        30
#define CONNECT_TIMEOUT_S  10
#define PAYLOAD_MAX        4096
#define STATUS_PAYLOAD_MAX 256

struct publisher {
    MQTTAsync client;
    char uri[300]; /* scheme://host:port, never with credentials */
    char client_id[DEVICE_ID_MAX + 8];
    char topics[TOPIC__COUNT][TOPIC_MAX]; /* meters/<id>/<leaf>, for every leaf */
    publisher_command_fn on_command;
    void *command_ctx;
    publisher_ack_fn on_ack;
    void *ack_ctx;
    char *username, *password, *cafile, *certfile, *keyfile;
    bool tls;
    uint32_t boot;
    MQTTAsync_willOptions will;
    MQTTAsync_SSLOptions ssl;
    atomic_bool connected;
    atomic_bool disconnected; /* our own disconnect completed */
    atomic_uint_fast64_t generation;
};

static char *dup_or_null(const char *s, bool *ret_failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ret_failed = true;
    return d;
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static int send_status(struct publisher *p, bool online, MQTTAsync_token *ret_token)
{
    const char *status = online ? "online" : "offline";
    struct dynbuf payload;
    dynbuf_init(&payload, STATUS_PAYLOAD_MAX);
    if (status_encode(online, p->boot, time_now_ms(), &payload)) {
        dynbuf_free(&payload);
        log_warn("cannot publish %s status: out of memory", status);
        return -ENOMEM;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = payload.buf;
    msg.payloadlen = (int)payload.len;
    msg.qos = 1;
    msg.retained = 1;
    int rc = MQTTAsync_sendMessage(p->client, p->topics[TOPIC_STATUS], &msg, &ro);
    dynbuf_free(&payload); /* the client keeps its own copy */
    if (rc != MQTTASYNC_SUCCESS) {
        log_warn("cannot publish %s status: %s", status, MQTTAsync_strerror(rc));
        return -EIO;
    }
    if (ret_token)
        *ret_token = ro.token;
    return 0;
}

static int pending_count(struct publisher *p)
{
    MQTTAsync_token *tokens = NULL;
    int n = 0;
    if (MQTTAsync_getPendingTokens(p->client, &tokens) == MQTTASYNC_SUCCESS && tokens) {
        while (tokens[n] != -1)
            n++;
        MQTTAsync_free(tokens);
    }
    return n;
}

static void on_subscribe_failure(void *context, MQTTAsync_failureData *resp)
{
    struct publisher *p = context;
    log_error("cannot subscribe to %s%s%s (code %d); commands and acks will not arrive until "
              "the next reconnect",
              p->on_command ? p->topics[TOPIC_CMD] : "", p->on_command && p->on_ack ? " and " : "",
              p->on_ack ? p->topics[TOPIC_ACK] : "", resp ? resp->code : 0);
}

/* Library thread: after the first connect and after every automatic reconnect. */
static void on_connected(void *context, char *cause)
{
    struct publisher *p = context;
    (void)cause;
    atomic_fetch_add(&p->generation, 1);
    atomic_store(&p->connected, true);
    log_info("connected to %s as %s", p->uri, p->client_id);
    send_status(p, true, NULL);
    /* A clean session starts without subscriptions: make them on every connect. */
    char *topics[2];
    int qos[2] = {1, 1}, n = 0;
    if (p->on_command)
        topics[n++] = p->topics[TOPIC_CMD];
    if (p->on_ack)
        topics[n++] = p->topics[TOPIC_ACK];
    if (n == 0)
        return;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onFailure = on_subscribe_failure;
    ro.context = p;
    int rc = MQTTAsync_subscribeMany(p->client, n, topics, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("cannot subscribe to %s: %s", topics[0], MQTTAsync_strerror(rc));
}

static void on_connection_lost(void *context, char *cause)
{
    struct publisher *p = context;
    atomic_store(&p->connected, false);
    log_warn("connection to %s lost%s%s; reconnecting, readings are spooled", p->uri,
             cause ? ": " : "", cause ? cause : "");
}

static void on_connect_failure(void *context, MQTTAsync_failureData *resp)
{
    struct publisher *p = context;
    /* CONNACK 4 and 5 (MQTT 3.1.1): the login itself was refused; say so plainly. */
    if (resp && (resp->code == 4 || resp->code == 5)) {
        log_warn("cannot connect to %s: the broker refused the login of %s (not authorised: "
                 "a device that is not registered, or another secret); retrying",
                 p->uri, p->username ? p->username : "an anonymous client");
        return;
    }
    log_warn("cannot connect to %s: %s; retrying", p->uri,
             resp && resp->message ? resp->message
                                   : MQTTAsync_strerror(resp ? resp->code : MQTTASYNC_FAILURE));
}

static bool topic_is(const char *topic, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(topic, want, n) == 0;
}

/* Commands and acks go to their handlers; anything else that arrives is dropped. */
static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct publisher *p = context;
    size_t n = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    if (p->on_command && topic_is(topic, n, p->topics[TOPIC_CMD]))
        p->on_command(msg->payload, len, p->command_ctx);
    else if (p->on_ack && topic_is(topic, n, p->topics[TOPIC_ACK]))
        p->on_ack(msg->payload, len, p->ack_ctx);
    else
        log_debug("dropped a message on %.*s", (int)(n < 200 ? n : 200), topic);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_delivered(void *context, MQTTAsync_token token)
{
    (void)context;
    log_debug("message %d delivered", token);
}

static void on_disconnected(void *context, MQTTAsync_successData *resp)
{
    struct publisher *p = context;
    (void)resp;
    atomic_store(&p->disconnected, true);
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData *resp)
{
    struct publisher *p = context;
    (void)resp;
    atomic_store(&p->disconnected, true);
}

int publisher_new(const struct publisher_config *cfg, struct publisher **ret, char *err,
                  size_t errlen)
{
    struct url u;
    bool oom = false;
    int r = url_parse_mqtt(cfg->url, &u, err, errlen);
    if (r)
        return r;

    struct publisher *p = calloc(1, sizeof(*p));
    if (!p) {
        url_clear(&u);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->tls = url_mqtt_tls(&u);
    bool v6 = strchr(u.host, ':') != NULL;
    snprintf(p->uri, sizeof(p->uri), "%s://%s%s%s:%d", p->tls ? "ssl" : "tcp", v6 ? "[" : "",
             u.host, v6 ? "]" : "", u.port);
    snprintf(p->client_id, sizeof(p->client_id), "meterd-%s", cfg->device_id);
    for (int k = 0; k < TOPIC__COUNT && !r; k++)
        r = topic_build(p->topics[k], cfg->device_id, (enum topic_leaf)k);
    p->username = dup_or_null(cfg->username ? cfg->username : (u.user[0] ? u.user : NULL), &oom);
    p->password =
        dup_or_null(cfg->password ? cfg->password : (u.has_password ? u.password : NULL), &oom);
    p->cafile = dup_or_null(cfg->cafile, &oom);
    p->certfile = dup_or_null(cfg->certfile, &oom);
    p->keyfile = dup_or_null(cfg->keyfile, &oom);
    if (!cfg->password && u.has_password)
        log_warn("the MQTT password is part of the URL, where other users can see it; "
                 "use mqtt_password_file instead");
    url_clear(&u);
    p->boot = cfg->boot;
    if (r) {
        snprintf(err, errlen, "device id '%.64s' cannot stand in a topic", cfg->device_id);
        goto fail;
    }
    if (oom) {
        snprintf(err, errlen, "out of memory");
        r = -ENOMEM;
        goto fail;
    }

    /* OpenSSL is set up only for ssl:// brokers: a plain link leaves its pages untouched. */
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;
    io.do_openssl_init = p->tls ? 1 : 0;
    MQTTAsync_global_init(&io);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 0; /* readings wait in the spool, not in memory */
    co.MQTTVersion = MQTTVERSION_3_1_1;
    int rc = MQTTAsync_createWithOptions(&p->client, p->uri, p->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot create MQTT client for %s: %s", p->uri,
                 MQTTAsync_strerror(rc));
        p->client = NULL;
        r = -EINVAL;
        goto fail;
    }
    if (MQTTAsync_setCallbacks(p->client, p, on_connection_lost, on_message, on_delivered) !=
            MQTTASYNC_SUCCESS ||
        MQTTAsync_setConnected(p->client, p, on_connected) != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot set MQTT callbacks");
        r = -EIO;
        goto fail;
    }
    *ret = p;
    return 0;
fail:
    publisher_free(p);
    return r;
}

int publisher_start(struct publisher *p, char *err, size_t errlen)
{
    MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;

    will.topicName = p->topics[TOPIC_STATUS];
    will.message = status_will_payload;
    will.qos = 1;
    will.retained = 1;
    p->will = will;

    opts.keepAliveInterval = KEEPALIVE_S;
    opts.connectTimeout = CONNECT_TIMEOUT_S;
    /*
     * A clean session: the spool, not the broker, keeps what is not yet stored, and resends
     * it until the server's ack (docs/meterd.md). Nothing is left half-sent in the MQTT
     * client across a reconnect, and the broker keeps no queue for an absent meter.
     */
    opts.cleansession = 1;
    opts.automaticReconnect = 1;
    opts.minRetryInterval = RETRY_MIN_S;
    opts.maxRetryInterval = RETRY_MAX_S;
    opts.will = &p->will;
    opts.username = p->username;
    opts.password = p->password;
    opts.onFailure = on_connect_failure;
    opts.context = p;
    if (p->tls) {
        ssl.trustStore = p->cafile; /* NULL: the system's store */
        ssl.keyStore = p->certfile;
        ssl.privateKey = p->keyfile;
        ssl.enableServerCertAuth = 1; /* the chain */
        ssl.verify = 1;               /* the host name or address in the URL */
        ssl.enabledCipherSuites = TLSOPT_MQTT_CIPHERS;
        ssl.ssl_error_cb = tlsopt_log_error;
        ssl.ssl_error_context = p->uri;
        p->ssl = ssl;
        opts.ssl = &p->ssl;
    }
    int rc = MQTTAsync_connect(p->client, &opts);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot start connecting to %s: %s", p->uri, MQTTAsync_strerror(rc));
        return -EIO;
    }
    log_info("connecting to %s as %s", p->uri, p->client_id);
    return 0;
}

bool publisher_connected(const struct publisher *p)
{
    return atomic_load(&((struct publisher *)p)->connected);
}

uint64_t publisher_generation(const struct publisher *p)
{
    return atomic_load(&((struct publisher *)p)->generation);
}

int publisher_send_readings(struct publisher *p, const struct reading *r, size_t n, bool as_array)
{
    struct dynbuf b;
    int ret = 0;

    if (n == 0 || n > PUBLISHER_READINGS_MAX || (!as_array && n != 1))
        return -EINVAL;
    if (!atomic_load(&p->connected))
        return -ENOTCONN;
    dynbuf_init(&b, n * PAYLOAD_MAX + 16);
    if (telemetry_encode_payload(r, n, as_array, &b)) {
        dynbuf_free(&b);
        return -EMSGSIZE;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = b.buf;
    msg.payloadlen = (int)b.len;
    msg.qos = 1;
    msg.retained = 0;
    int rc = MQTTAsync_sendMessage(p->client, p->topics[TOPIC_TELEMETRY], &msg, &ro);
    if (rc == MQTTASYNC_DISCONNECTED)
        ret = -ENOTCONN;
    else if (rc != MQTTASYNC_SUCCESS)
        ret = -EIO;
    if (ret)
        log_warn("readings seq %llu..%llu not sent: %s", (unsigned long long)r[0].seq,
                 (unsigned long long)r[n - 1].seq, MQTTAsync_strerror(rc));
    else
        log_debug("readings seq %llu..%llu queued as message %d", (unsigned long long)r[0].seq,
                  (unsigned long long)r[n - 1].seq, ro.token);
    dynbuf_free(&b);
    return ret;
}

void publisher_set_command_handler(struct publisher *p, publisher_command_fn fn, void *ctx)
{
    p->on_command = fn;
    p->command_ctx = ctx;
}

void publisher_set_ack_handler(struct publisher *p, publisher_ack_fn fn, void *ctx)
{
    p->on_ack = fn;
    p->ack_ctx = ctx;
}

int publisher_send(struct publisher *p, enum topic_leaf leaf, const void *payload, size_t len,
                   int qos)
{
    if ((unsigned)leaf >= TOPIC__COUNT || (qos != 0 && qos != 1) || len > INT32_MAX)
        return -EINVAL;
    if (!atomic_load(&p->connected))
        return -ENOTCONN;
    const char *topic = p->topics[leaf];
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = 0;
    int rc = MQTTAsync_sendMessage(p->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        log_warn("cannot publish %zu bytes on %s: %s", len, topic, MQTTAsync_strerror(rc));
        return rc == MQTTASYNC_DISCONNECTED ? -ENOTCONN : -EIO;
    }
    log_debug("%zu bytes on %s queued as message %d", len, topic, ro.token);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

int publisher_stop(struct publisher *p, int timeout_ms)
{
    if (atomic_load(&p->connected)) {
        MQTTAsync_token token = 0;
        if (send_status(p, false, &token) == 0)
            MQTTAsync_waitForCompletion(p->client, token, (unsigned long)timeout_ms);
    }
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = timeout_ms; /* lets in-flight messages complete first */
    d.onSuccess = on_disconnected;
    d.onFailure = on_disconnect_failed;
    d.context = p;
    if (MQTTAsync_disconnect(p->client, &d) == MQTTASYNC_SUCCESS) {
        for (int waited = 0; waited < timeout_ms + 1000 && !atomic_load(&p->disconnected);
             waited += 10)
            sleep_ms(10);
    }
    int undelivered = pending_count(p);
    atomic_store(&p->connected, false);
    return undelivered;
}

void publisher_free(struct publisher *p)
{
    if (!p)
        return;
    if (p->client)
        MQTTAsync_destroy(&p->client);
    wipe_free(p->password);
    free(p->username);
    free(p->cafile);
    free(p->certfile);
    free(p->keyfile);
    free(p);
}
