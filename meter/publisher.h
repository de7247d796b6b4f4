/*
 * publisher: meterd's link to the MQTT broker. The only meter file that
 * talks to the MQTT library.
 *
 * Topics (see docs/meterd.md):
 *   meters/<id>/telemetry  readings, QoS 1, not retained: one JSON object
 *                          (live) or an array of them (backlog)
 *   meters/<id>/status     retained, QoS 1: {"status":"online","boot":N,"ts":"..."}
 *                          on every (re)connect; {"status":"offline"} as the last
 *                          will; {"status":"offline","boot":N,"ts":"..."} on a
 *                          clean stop
 *   meters/<id>/cmd        subscribed, QoS 1, renewed on every (re)connect:
 *                          commands from the server, handed to the command handler
 *   meters/<id>/ack        subscribed, QoS 1, renewed on every (re)connect: the
 *                          server's acknowledgements, handed to the ack handler
 *   meters/<id>/<leaf>     anything else the meter sends (publisher_send): command
 *                          replies and waveform captures (docs/protocol.md)
 *
 * Over ssl:// the broker's certificate must chain to cafile (or the system's
 * store) and name the URL's host (DNS name or IP address), and the link is TLS
 * 1.2 or later; OpenSSL is set up only then.
 *
 * The client connects in the background and reconnects by itself (1 s
 * doubling to 30 s) after the broker goes away. Nothing is buffered in memory
 * while it is disconnected: sends fail with -ENOTCONN and the caller keeps
 * readings in its spool (spool.h, forward.h). The session is clean: what was
 * in flight when the link broke is resent from the spool, not by the MQTT
 * client, and the broker keeps no queue for an absent meter.
 *
 * Callbacks run on the MQTT library's threads; the state they share with the
 * caller is atomic. Ownership: publisher_new() copies everything it keeps
 * (the password too, wiped on free); publisher_free() accepts NULL.
 */
#ifndef SMARTMETER_METER_PUBLISHER_H
#define SMARTMETER_METER_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"
#include "topic.h"

struct publisher;

struct publisher_config {
    const char *url;       /* tcp://HOST:PORT or ssl://HOST:PORT */
    const char *device_id; /* valid per device_id_valid() */
    const char *username;  /* NULL: the URL's user, if any */
    const char *password;  /* NULL: the URL's password, if any */
    const char *cafile;    /* ssl:// trust anchors; NULL: the system's store */
    const char *certfile;  /* ssl:// client certificate chain; NULL: none */
    const char *keyfile;   /* its private key; with certfile */
    uint32_t boot;         /* reported in the status message */
};

#define PUBLISHER_ERR_LEN 256

/* Creates the client (no connection yet). Returns 0, or -errno with err set. */
int publisher_new(const struct publisher_config *cfg, struct publisher **ret, char *err,
                  size_t errlen);

/* Starts connecting in the background. Returns 0, or -errno with err set. */
int publisher_start(struct publisher *p, char *err, size_t errlen);

/* Most readings one publisher_send_readings() call takes. */
#define PUBLISHER_READINGS_MAX 1000

/*
 * Publishes n (1..PUBLISHER_READINGS_MAX) readings on meters/<id>/telemetry,
 * QoS 1: one JSON object when as_array is false (n must be 1), else one JSON
 * array. Returns 0 when the client took the message, -ENOTCONN while
 * disconnected (nothing is buffered), -EINVAL for a bad n, -EMSGSIZE if it
 * did not encode, -EIO otherwise.
 */
int publisher_send_readings(struct publisher *p, const struct reading *r, size_t n, bool as_array);

bool publisher_connected(const struct publisher *p);

/* Counts successful connects (first and every reconnect); changes at each new session. */
uint64_t publisher_generation(const struct publisher *p);

/*
 * Receives the payload of each message on meters/<id>/cmd. Runs on the MQTT
 * library's thread while it waits: it must return quickly (parse and queue,
 * see command_queue_handler) and must not call publisher_stop/free. The
 * payload is valid during the call only.
 */
typedef void (*publisher_command_fn)(const void *payload, size_t len, void *ctx);

/* Sets the command handler; call before publisher_start(). NULL drops commands. */
void publisher_set_command_handler(struct publisher *p, publisher_command_fn fn, void *ctx);

/*
 * Receives the payload of each message on meters/<id>/ack, with the same
 * rules as the command handler (see ack_queue_handler). Call before
 * publisher_start(); NULL: the ack topic is not subscribed.
 */
typedef void (*publisher_ack_fn)(const void *payload, size_t len, void *ctx);
void publisher_set_ack_handler(struct publisher *p, publisher_ack_fn fn, void *ctx);

/*
 * Publishes payload on meters/<id>/<leaf>, not retained, with qos 0 or 1.
 * Unlike readings it is not buffered while disconnected (it would push
 * readings out of the offline buffer): returns 0 when the client took it,
 * -ENOTCONN while disconnected, -EINVAL for a bad leaf, qos or length, -EIO
 * otherwise.
 */
int publisher_send(struct publisher *p, enum topic_leaf leaf, const void *payload, size_t len,
                   int qos);

/*
 * Publishes the retained offline status (when connected), lets in-flight
 * messages finish and disconnects, waiting at most about timeout_ms.
 * Returns the number of messages that were still undelivered.
 */
int publisher_stop(struct publisher *p, int timeout_ms);

void publisher_free(struct publisher *p);

#endif
