/*
 * link_batch: readings into TELEMETRY payloads of the terminal link, each
 * at most LINK_PAYLOAD_MAX bytes. A live reading is one JSON object; a
 * backlog batch is cut into as few JSON arrays as fit (the forwarder's
 * batch is sized for MQTT, where a message may be larger). The JSON is
 * telemetry.h's, exactly as on meters/<id>/telemetry.
 *
 * Pure: no I/O; the caller owns the buffers.
 */
#ifndef SMARTMETER_METER_LINK_BATCH_H
#define SMARTMETER_METER_LINK_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "dynbuf.h"
#include "telemetry.h"

/*
 * Encodes the payload that starts at r[0]: r[0] alone as an object when
 * as_array is false, else the longest prefix r[0..k) of the n readings
 * whose array fits in LINK_PAYLOAD_MAX bytes. out is reset first and gets
 * the payload; *ret_used is k. Returns 0, -EINVAL for n 0, -EMSGSIZE when
 * r[0] alone does not fit, -ENOMEM.
 */
int link_batch_next(const struct reading *r, size_t n, bool as_array, struct dynbuf *out,
                    size_t *ret_used);

#endif
