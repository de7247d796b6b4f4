/*
 * status: the payload of meters/<id>/status (docs/protocol.md, "Status"),
 * retained: whether a meter is online.
 *
 *   {"status":"online"|"offline","boot":N,"ts":"<RFC 3339>"}   the meter's own
 *   {"status":"offline"}                                      its last will
 *
 * The meter encodes both (status_encode, status_will_payload); the server
 * parses them (status_parse), reading "status" and, when usable, "ts".
 * Pure: the encoder appends to the caller's dynbuf; the will is a constant.
 */
#ifndef SMARTMETER_WIRE_STATUS_H
#define SMARTMETER_WIRE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define STATUS_ERR_LEN 160

/* The last will the broker publishes for a meter that vanished without a goodbye. */
extern const char status_will_payload[];

/* Meter: appends {"status":..,"boot":..,"ts":..} to out. Returns 0 or the dynbuf's error. */
int status_encode(bool online, uint32_t boot, int64_t ts_ms, struct dynbuf *out);

struct status_msg {
    bool online;
    bool has_ts;   /* the meter gave a usable time (the last will gives none) */
    int64_t ts_ms; /* with has_ts */
};

/*
 * Server: parses a status received at now_ms (at most 4 levels deep, no
 * duplicate keys). A "ts" that is not RFC 3339, before 2000 or more than
 * 24 h ahead of now_ms is ignored. Returns 0 with *ret; -ENODATA for an empty
 * payload (a retained status being cleared: nothing to do); -EINVAL with err
 * for anything else.
 */
int status_parse(const void *payload, size_t len, int64_t now_ms, struct status_msg *ret,
                 char err[STATUS_ERR_LEN]);

#endif
