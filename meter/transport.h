/*
 * transport: how meterd reaches the server, as the main loop sees it. Two
 * implementations: MQTT through a broker (transport_mqtt.c over
 * publisher.h) and the terminal link, one TCP connection to the server's
 * terminal gateway (link_transport.h, docs/terminal-protocol.md).
 *
 * Both have the same contract, so the spool, the forwarder, the commands
 * and the relay above them do not know which one runs:
 * - sends never buffer while disconnected: they fail with -ENOTCONN and the
 *   caller keeps readings in its spool (forward.h resends them);
 * - generation() changes at every new session, so the forwarder restarts
 *   its backlog at the oldest unacknowledged reading;
 * - what arrives (the server's acks and commands) goes, from the
 *   transport's own thread, into the queues of struct transport_sinks; the
 *   main loop pops them. An MQTT command must carry the server's signature;
 *   a link command is authenticated by the frame's MAC instead. Either way
 *   the command queue refuses an id it took before.
 *
 * Ownership: the sinks stay the caller's and must outlive the transport;
 * transport_free() accepts an empty transport.
 */
#ifndef SMARTMETER_METER_TRANSPORT_H
#define SMARTMETER_METER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"
#include "topic.h"

struct ack_queue;
struct command_queue;

/* Where a transport delivers what the server sends. */
struct transport_sinks {
    struct command_queue *commands;
    struct ack_queue *acks;
};

struct transport_ops {
    const char *name; /* "mqtt", "link" */
    /* Starts connecting in the background. 0, or -errno with err set. */
    int (*start)(void *impl, char *err, size_t errlen);
    bool (*connected)(const void *impl);
    uint64_t (*generation)(const void *impl);
    /* publisher_send_readings()'s contract. */
    int (*send_readings)(void *impl, const struct reading *r, size_t n, bool as_array);
    /* A reply or a capture (TOPIC_REPLY, TOPIC_CAPTURE), delivered at least once while the
       session lasts. 0, -ENOTCONN, -EINVAL (other leaf), -EMSGSIZE, -ENOBUFS or -EIO. */
    int (*send)(void *impl, enum topic_leaf leaf, const void *payload, size_t len);
    /* Says goodbye, lets what is queued go out for at most timeout_ms, disconnects. Returns
       the number of messages (or frames) not delivered. */
    int (*stop)(void *impl, int timeout_ms);
    void (*free)(void *impl);
};

struct transport {
    const struct transport_ops *ops;
    void *impl;
};

static inline int transport_start(struct transport *t, char *err, size_t errlen)
{
    return t->ops->start(t->impl, err, errlen);
}

static inline bool transport_connected(const struct transport *t)
{
    return t->ops->connected(t->impl);
}

static inline uint64_t transport_generation(const struct transport *t)
{
    return t->ops->generation(t->impl);
}

static inline int transport_send_readings(struct transport *t, const struct reading *r, size_t n,
                                          bool as_array)
{
    return t->ops->send_readings(t->impl, r, n, as_array);
}

static inline int transport_send(struct transport *t, enum topic_leaf leaf, const void *payload,
                                 size_t len)
{
    return t->ops->send(t->impl, leaf, payload, len);
}

static inline int transport_stop(struct transport *t, int timeout_ms)
{
    return t->ops->stop(t->impl, timeout_ms);
}

static inline void transport_free(struct transport *t)
{
    if (t->ops && t->impl)
        t->ops->free(t->impl);
    t->ops = NULL;
    t->impl = NULL;
}

#endif
