/*
 * mqtt_client: the server's MQTT client (paho.mqtt.c; the only server file
 * that includes MQTTAsync.h). It keeps a persistent session (clean session
 * off, fixed client id) so the broker queues QoS 1 telemetry while the server
 * is away, subscribes to meters/+/telemetry, meters/+/status, meters/+/reply
 * and meters/+/capture (as $share/<group>/... with a share group), and passes
 * each message to ingest. Telemetry is handed to the writer's bounded queue;
 * while it is full the callback waits, so the client reads nothing more and
 * the broker keeps the rest (back-pressure). Paho confirms a QoS 1 message
 * to the broker (PUBACK) when it reads it, before the callback; a message the
 * callback cannot take yet (the database is away) stays in the callback, which
 * tries again with pauses growing to 2 s, so here too the client reads nothing
 * more meanwhile. Readings are acknowledged to the meters end to end
 * on meters/<id>/ack by the writer, after commit. It also publishes the
 * server's commands to meters (mqtt_client_publish).
 *
 * Over ssl:// the broker's certificate must chain to the CA file (or the
 * system's store) and name the URL's host, and the link is TLS 1.2 or later;
 * OpenSSL is set up only then.
 */
#ifndef SMARTMETER_MQTT_CLIENT_H
#define SMARTMETER_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest.h"

struct mqtt_client_options {
    const char *url; /* tcp://HOST:PORT or ssl://HOST:PORT */
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none; copied, never logged */
    /* ssl:// only (tlsopt.h): the broker's trust anchors (NULL: the system's store), and a
       client certificate chain and its key (NULL: none). Read at every connect. */
    const char *cafile, *certfile, *keyfile;
    /* NULL or "": plain subscriptions. Otherwise $share/<group>/meters/+/<leaf>, so the
       instances of one group split the meters' messages (1..64 of A-Z a-z 0-9 _ - .). */
    const char *share_group;
    int nice; /* the MQTT library's receiving thread's nice value, set at its first message */
    struct ingest *ingest;
    struct server_counters *stats;
    /*
     * One more subscription, whose messages go to on_control instead of
     * ingest (the broker's answers to the server's control requests,
     * server/broker/), and a call after every (re)connect. Both on the MQTT
     * library's thread: return quickly. NULL: none.
     */
    const char *control_topic;
    void (*on_control)(void *ctx, const void *payload, size_t len);
    void (*on_connected)(void *ctx);
    void *control_ctx;
};

struct mqtt_client;

/* Creates the client and starts connecting in the background. Returns 0 or -errno with err set. */
int mqtt_client_start(const struct mqtt_client_options *opts, struct mqtt_client **ret, char *err,
                      size_t errlen);
/* Call about once a second: retries the first connection until it succeeds. */
void mqtt_client_tick(struct mqtt_client *m);
/*
 * Publishes payload on topic, not retained, with qos 0 or 1; any thread. The
 * client copies the payload. Nothing is buffered while disconnected: returns
 * 0 when the client took the message, -ENOTCONN when the broker is not
 * connected (or m is NULL), -EINVAL for a bad qos or size, -EIO otherwise.
 */
int mqtt_client_publish(struct mqtt_client *m, const char *topic, const void *payload, size_t len,
                        int qos);
/*
 * Stops taking messages: disconnects from the broker (waiting up to about
 * 3 s) and does not reconnect. What the broker still holds stays in the
 * session for the next start. The client stays valid (publishing fails with
 * -ENOTCONN) until mqtt_client_stop(). NULL is fine.
 */
void mqtt_client_disconnect(struct mqtt_client *m);
/* Disconnects if still connected and frees the client. NULL is fine. */
void mqtt_client_stop(struct mqtt_client *m);

#endif
