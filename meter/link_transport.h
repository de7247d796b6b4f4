/*
 * link_transport: the terminal link transport (transport.h): one TCP
 * connection to the server's terminal gateway, speaking the client side of
 * docs/terminal-protocol.md through the pure codec common/wire/link.h.
 *
 * A thread of its own connects (non-blocking, CONNECT_TIMEOUT per address),
 * runs the handshake with the device's secret hash H (the secret itself
 * never leaves the meter), then reads frames: an ACK is parsed into struct
 * ack_msg and queued (ack_queue_push), a COMMAND goes to
 * command_queue_handler_authenticated (the frame's MAC stands for "sig"; a
 * command id taken before is still refused), a HEARTBEAT only proves the
 * server alive, a CLOSE ends the session with its reason logged. It sends
 * HEARTBEAT when the meter has sent nothing for the interval WELCOME gave,
 * and drops a connection from which nothing arrived for the idle timeout
 * (10 s during the handshake). After any end of a session it reconnects
 * after a wait with backoff and jitter (link_backoff.h); a session that
 * opened bumps the generation, so the forwarder resends from the spool
 * whatever was not acknowledged, as after an MQTT reconnect.
 *
 * The main thread's sends (readings as TELEMETRY payloads of at most 4 KiB,
 * link_batch.h; replies; captures as CAPTURE chunks) encode their frames
 * under the lock into the output buffer, which the link thread writes out.
 * Nothing is kept across sessions: a frame is bound to its session's keys
 * and counters, and the spool resends readings.
 *
 * Ownership: transport_link_new() copies the configuration (the hash is
 * wiped on free); the sinks stay the caller's.
 */
#ifndef SMARTMETER_METER_LINK_TRANSPORT_H
#define SMARTMETER_METER_LINK_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sign.h"
#include "transport.h"

struct link_transport_config {
    const char *url;            /* tcp://HOST:PORT (link_url.h) */
    const char *device_id;      /* 1..64 of topic.h's alphabet */
    const uint8_t *secret_hash; /* SIGN_HASH_LEN bytes: H of the device secret (sign.h) */
    int64_t connect_timeout_ms; /* one connection attempt; 0: 10 s */
    int64_t retry_min_ms;       /* the backoff's first ceiling; 0: 1 s */
    int64_t retry_max_ms;       /* its largest; 0: 30 s */
};

/* Creates the transport (no connection yet). 0, or -errno with err set. */
int transport_link_new(const struct link_transport_config *cfg, const struct transport_sinks *sinks,
                       struct transport *ret, char *err, size_t errlen);

#endif
