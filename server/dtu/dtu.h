/*
 * dtu: standard meters behind 4G DTUs (SPEC.md "Grid ports", docs/modbus.md
 * "Meters behind 4G DTUs"), off unless dtu_listen is set. A DTU connects,
 * sends its registration packet (printable ASCII, 1..64 characters: its IMEI,
 * ICCID or a custom string) and then heartbeats, and passes Modbus RTU
 * through to the RS-485 bus behind it. The devices whose metadata sets that
 * dtu_id and a modbus_unit are polled over the connection every
 * poll_interval_s (60 unless set), one request in flight per DTU, with a
 * timeout and one retry, in the device's register_map (sdm630 unless set);
 * what they answer is stored as their readings through the writer, the
 * server numbering them. A poll that fails (timeout, bad CRC, an exception, a
 * reading without voltage and current) is counted as missed, never invented.
 *
 * A DTU that registers with a string another connected DTU has replaces it
 * (the older connection is closed: a DTU that lost its network reconnects
 * before the server sees the old connection die). The devices of a
 * registered DTU show online, and offline when it goes.
 *
 * One thread per DTU, capped; each has its own store connection (device
 * bindings and status); readings go through the writer. dtu_start() copies
 * its options; dtu_stop() closes every link, waits for the threads and frees.
 */
#ifndef SMARTMETER_DTU_H
#define SMARTMETER_DTU_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct writer;
struct dtu_gateway;

struct dtu_options {
    const char *listen;     /* HOST:PORT (port 0: any free port) */
    struct store_source db; /* copied */
    struct writer *writer;  /* where readings go; must outlive the gateway */
    const char
        *heartbeat; /* the DTU's heartbeat packet, dropped wherever it comes; NULL or "": none */
    unsigned max_connections;     /* 0: 1000 */
    unsigned register_timeout_ms; /* for the registration packet; 0: 10000 */
    unsigned idle_s;              /* a DTU silent this long is closed; 0: 300 */
    unsigned response_timeout_ms; /* for one Modbus answer; 0: 1000 */
    unsigned default_poll_s;      /* for a device without poll_interval_s; 0: 60 */
    unsigned reload_ms;           /* how often a DTU's devices are read again; 0: 30000 */
};

struct dtu_counters {
    uint64_t connections, registered, refused, replaced;
    uint64_t polls, readings, missed;
    uint64_t timeouts, bad_crc, exceptions, mismatched;
};

int dtu_check(const char *listen, char *err, size_t errlen);
int dtu_start(const struct dtu_options *o, struct dtu_gateway **ret, char *err, size_t errlen);
int dtu_port(const struct dtu_gateway *g);
void dtu_counters(const struct dtu_gateway *g, struct dtu_counters *ret);
void dtu_stop(struct dtu_gateway *g); /* NULL is fine */

#endif
