/*
 * hub: the live alarm stream (GET /api/alarms/stream, server-sent events).
 * The alarm service and the API publish every change of an alarm (raised,
 * acknowledged, cleared); each open stream gets those of the devices its
 * caller may see, as SSE events:
 *
 *   id: <alarm id>
 *   event: alarm
 *   data: <the alarm as GET /api/alarms shows it>
 *
 * and a comment line (": keep-alive") when it has been quiet for
 * keepalive_ms, so proxies and dead clients are noticed.
 *
 * The number of streams is bounded (alarm_hub_subscribe() refuses past
 * max_streams) and so is each stream's backlog (STREAM_BACKLOG_MAX bytes):
 * a client that does not read is ended, and reconnects to read the list
 * again. What a user sees is fixed when the stream opens (the devices bound
 * to them then).
 *
 * Thread safety: every function from any thread. The stream's waker is
 * called under the hub's lock.
 */
#ifndef SMARTMETER_ALARM_HUB_H
#define SMARTMETER_ALARM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define ALARM_HUB_KEEPALIVE_MS   15000
#define ALARM_STREAM_BACKLOG_MAX (64u << 10)

struct alarm_hub;
struct alarm_stream;

/* A hub for at most max_streams streams (>= 1). 0 or -ENOMEM. */
int alarm_hub_new(unsigned max_streams, int64_t keepalive_ms, struct alarm_hub **ret);
/* Ends every stream (they read their end) and refuses new ones; before the HTTP server stops. */
void alarm_hub_shutdown(struct alarm_hub *h);
/* Frees the hub; every stream must be closed. NULL is fine. */
void alarm_hub_free(struct alarm_hub *h);

/*
 * Publishes a change of a (raised, acknowledged, cleared: its state says
 * which): streams that may see a->device_id get it. Never blocks for long.
 */
void alarm_hub_publish(struct alarm_hub *h, const struct alarm_rec *a);

/* Writes a keep-alive to the streams quiet since now_ms - keepalive_ms. */
void alarm_hub_tick(struct alarm_hub *h, int64_t now_ms);

/*
 * Opens a stream. all: the caller sees every device (staff); otherwise only
 * devices[0..n) (copied). -EBUSY when max_streams are open, -ESHUTDOWN after
 * alarm_hub_shutdown(), -ENOMEM.
 */
int alarm_hub_subscribe(struct alarm_hub *h, bool all, const char *const *devices, size_t n,
                        int64_t now_ms, struct alarm_stream **ret);
/* Who to call (under the hub's lock) when the stream has something to read. NULL: nobody. */
void alarm_stream_set_waker(struct alarm_stream *s, void (*wake)(void *ctx), void *ctx);
/* Takes up to max bytes of the stream's backlog: > 0, 0 when empty, -1 when the stream ended. */
ssize_t alarm_stream_read(struct alarm_stream *s, char *buf, size_t max);
/* Closes the stream (its waker is not called after this returns). NULL is fine. */
void alarm_stream_close(struct alarm_stream *s);

/* Streams open now. */
unsigned alarm_hub_streams(struct alarm_hub *h);

#endif
