/*
 * modbus_server: the Modbus TCP server (docs/modbus.md), off unless
 * modbus_listen is set. Read-only: each device answers on its modbus_unit
 * with its latest committed reading in the Eastron SDM630 input-register map
 * (function 04, float32 high word first), plus this server's extra registers;
 * everything else answers a Modbus exception (answer.h).
 *
 * One thread accepts; each connection has a thread and a database connection
 * of its own (opened at its first request, from the store_source), so a slow
 * client or a slow query holds only itself, and ingest never waits on it
 * (reads only). Connections are capped (more are closed at once), closed when
 * idle, when a frame stalls, or when a frame's MBAP header is malformed.
 *
 * Ownership: modbus_server_start() copies its options; modbus_server_stop()
 * closes every connection, waits for their threads and frees.
 */
#ifndef SMARTMETER_MODBUS_SERVER_H
#define SMARTMETER_MODBUS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct modbus_server;

struct modbus_server_options {
    const char *listen;       /* HOST:PORT, [V6]:PORT; port 0 picks a free one */
    struct store_source db;   /* where each connection opens its store; copied */
    unsigned max_connections; /* 0: 32 */
    unsigned idle_s;          /* a connection without a request this long is closed; 0: 60 */
    int64_t units_refresh_ms; /* how stale the unit directory may be; 0: 2000 */
};

struct modbus_server_counters {
    uint64_t accepted;   /* connections accepted */
    uint64_t refused;    /* connections closed at once: max_connections reached */
    uint64_t requests;   /* requests answered, exceptions included */
    uint64_t exceptions; /* of them answered with an exception */
    uint64_t malformed;  /* connections closed for a malformed frame */
    uint64_t timeouts;   /* connections closed idle or stalled mid-frame */
};

/* Checks listen before anything starts: 0, or -EINVAL with err naming the problem. */
int modbus_server_check(const char *listen, char *err, size_t errlen);
/*
 * Binds and starts serving. 0, or a negative errno with err set (-EINVAL for
 * bad options, the bind's error, -ENOMEM).
 */
int modbus_server_start(const struct modbus_server_options *o, struct modbus_server **ret,
                        char *err, size_t errlen);
/* The port it listens on (useful with port 0). */
int modbus_server_port(const struct modbus_server *s);
void modbus_server_counters(const struct modbus_server *s, struct modbus_server_counters *ret);
/* Stops: closes the listener and every connection, waits for their threads, frees. NULL is fine. */
void modbus_server_stop(struct modbus_server *s);

#endif
