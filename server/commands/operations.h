/*
 * operations: remote operations on a meter through the command service
 * (docs/protocol.md "Remote operations", docs/api.md "Remote operations"):
 *
 *   read_status   the meter answers its state (uptime, version, clock
 *                 offset, ADC health, overruns, spool depth, relay, link);
 *   set_interval  the meter publishes one reading every interval_ms from
 *                 then on and keeps that over restarts;
 *   sync_clock    the command carries the server's clock at each send; the
 *                 meter answers its offset and what it did about it.
 *
 * Each is a command row (store.h "Commands to meters") with the same
 * lifecycle as a relay command, except that the meter's "ok" reply, sent
 * after it acted, makes it done at once, with the reply's "result" kept
 * with the command: queued -> sent -> done | failed | expired. A newer
 * set_interval takes the place of an outstanding one. The meter acts once
 * per command id; the service resends the same id until it has an answer.
 *
 * Library code: no logging, no threads; times are passed in.
 */
#ifndef SMARTMETER_OPERATIONS_H
#define SMARTMETER_OPERATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "store.h"

/* An operation is tried this long before it expires (the meter may be away for a while). */
#define OPERATIONS_TTL_MS INT64_C(86400000)

/* The operation named name ("read_status", ...); COMMAND_INVALID for any other. */
enum command_kind operations_kind(const char *name);
/* Whether kind is a remote operation (its reply carries a result). */
bool operations_is_operation(enum command_kind kind);

/*
 * Queues operation kind for device_id at now_ms, kept for ttl_ms, asked for
 * by actor for reason (NULL or "": a reason naming the operation);
 * interval_ms for COMMAND_SET_INTERVAL (COMMAND_INTERVAL_MIN_MS..MAX_MS).
 * ret_id gets its id. Returns 0, -EINVAL, or the store's error.
 */
int operations_request(struct store *st, const char *device_id, enum command_kind kind,
                       uint32_t interval_ms, const char *actor, const char *reason, int64_t now_ms,
                       int64_t ttl_ms, char ret_id[STORE_COMMAND_ID_MAX + 1]);

/*
 * The meter's reply rep to operation c (already loaded): "ok" makes it done,
 * "error" failed (with the meter's message); the result, when the reply has
 * one, is kept either way. A late copy changes nothing. 0 or the store's
 * error.
 */
int operations_on_reply(struct store *st, const struct command_rec *c,
                        const struct command_reply *rep, int64_t now_ms);

#endif
