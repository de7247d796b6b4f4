/*
 * terminals: the server's gateway for field terminals over the TCP link
 * protocol (docs/terminal-protocol.md; the codec is common/wire/link.h).
 *
 * One thread runs one epoll loop that carries every connection: sockets are
 * non-blocking, each connection is a struct link plus a few counters and
 * timers (about half a kilobyte; the link's receive buffer and the output
 * buffer are freed whenever they are empty), so thousands of idle terminals
 * cost little memory and no thread each.
 *
 * What comes in goes through the same ingest path as MQTT (ingest.h, with a
 * struct ingest of the gateway's own): TELEMETRY as meters/<id>/telemetry,
 * REPLY as meters/<id>/reply, a CAPTURE upload reassembled and given as
 * meters/<id>/capture, the session's start and end as the device's status
 * (online, offline). What goes out for a device connected here goes over its
 * link instead of MQTT: terminals_route() takes what the writer (acks after
 * commit) and the command service publish by topic.
 *
 * Frames the link refuses close that connection with the protocol's reason;
 * each close is counted by reason (terminals_get_stats) and logged at most
 * once per reason per minute.
 *
 * Thread safety: terminals_route(), terminals_forget() and
 * terminals_get_stats() from any thread (they queue work to the loop and
 * wake it); terminals_start() and terminals_stop() from one thread.
 */
#ifndef SMARTMETER_TERMINALS_H
#define SMARTMETER_TERMINALS_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "link.h"

struct writer;

struct terminals_options {
    const char *listen;          /* HOST:PORT (port 0: any free port, see terminals_port()) */
    struct store_source db;      /* the gateway's own ingest opens it; copied */
    struct ingest_limits limits; /* as MQTT ingest's */
    struct writer *writer;       /* stores telemetry and acks it after commit (terminals_route) */
    struct server_counters *stats;
    unsigned heartbeat_s, idle_s; /* announced in WELCOME; 0: the protocol's defaults */
    unsigned max_connections;     /* more are refused with CLOSE busy; 0: 20000 */
};

/* Why a connection ended, beyond the protocol's close reasons (link.h's enum link_reason). */
#define TERMINALS_CLOSE_KINDS (LINK_R_MAX + 1)

struct terminals_stats {
    uint64_t connections; /* open now (handshaking or in session) */
    uint64_t sessions;    /* authenticated now */
    uint64_t accepted, opened;
    uint64_t frames_in, frames_out;
    uint64_t telemetry, replies, captures, acks_sent, commands_sent;
    uint64_t routed_dropped;                     /* acks/commands for a link that ended meanwhile */
    uint64_t closed[TERMINALS_CLOSE_KINDS];      /* closed by the server, by reason */
    uint64_t peer_closed[TERMINALS_CLOSE_KINDS]; /* a CLOSE from the terminal, by its reason */
    uint64_t disconnected;                       /* the terminal dropped the TCP connection */
};

struct terminals;

/*
 * Binds o->listen and starts the loop's thread. Returns 0, -EINVAL for a bad
 * address or options, or -errno (err says why in words).
 */
int terminals_start(const struct terminals_options *o, struct terminals **ret, char *err,
                    size_t errlen);

/*
 * Checks the options before anything starts: listen is HOST:PORT (the host
 * resolvable, a numeric port), the idle timeout above the heartbeat. 0, or
 * -EINVAL with err naming the option.
 */
int terminals_check(const char *listen, unsigned heartbeat_s, unsigned idle_s, char *err,
                    size_t errlen);

/* The port listened on (useful with port 0). */
int terminals_port(const struct terminals *t);

/*
 * What the server publishes to a device by topic: meters/<id>/ack (ack.h's
 * JSON) becomes ACK frames, meters/<id>/cmd (command.h's JSON, signed)
 * becomes a COMMAND frame without its "sig". Returns 0 when the device has an
 * open link here (the frames are queued to it), -ENOENT when it has none (or
 * for any other topic, t NULL included): publish over MQTT then; -EINVAL for
 * a payload that cannot be carried (not dropped silently: the caller logs),
 * -ENOMEM.
 */
int terminals_route(struct terminals *t, const char *topic, const void *payload, size_t len);

/* Device device_id was deleted or given a new secret: its link, if any, is closed. */
void terminals_forget(struct terminals *t, const char *device_id);

/* The counters now (zeros when t is NULL). */
void terminals_get_stats(struct terminals *t, struct terminals_stats *ret);

/*
 * Stops the loop: every link gets CLOSE shutdown, devices go offline (for at
 * most a few seconds of database work) and the thread ends. terminals_route()
 * may still be called (it answers -ENOENT) until terminals_free(), which
 * frees everything: call it once nothing can route any more (after the
 * writer and the command service stopped). NULL is fine for both.
 */
void terminals_stop(struct terminals *t);
void terminals_free(struct terminals *t);

#endif
