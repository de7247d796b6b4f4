/*
 * service: meter-server under systemd (server/meter-server.service,
 * Type=notify): READY=1 once the API serves, a STATUS= line that follows the
 * counters, STOPPING=1 at the stop, and the watchdog (WatchdogSec=) fed only
 * while the main loop turns and the database writer makes progress, so a
 * writer hung on its database gets the service restarted (watchdog.h).
 *
 * The writer is judged by the counters it keeps (counters.h): while readings
 * are queued, batches committed or retried must keep coming; an empty queue
 * is idle. The HTTP threads are libmicrohttpd's and are not watched.
 *
 * Outside systemd ($NOTIFY_SOCKET and $WATCHDOG_USEC unset) all of this does
 * nothing. Ownership: server_service_start() borrows stats, which must
 * outlive server_service_free(). Start it once the signals the main thread
 * waits for are blocked: the pinger thread inherits the mask. Every function
 * accepts NULL.
 */
#ifndef SMARTMETER_SERVER_SERVICE_H
#define SMARTMETER_SERVER_SERVICE_H

#include "counters.h"

struct server_service;

/* Starts the watchdog's pinger when the manager asked for one. 0 and *ret, or -ENOMEM/-errno. */
int server_service_start(struct server_counters *stats, struct server_service **ret);

/* READY=1 with status (the API's address, the database, the broker) as the STATUS= line. */
void server_service_ready(struct server_service *s, const char *status);

/* One pass of the main loop; refreshes the STATUS= line with the counters now and then. */
void server_service_beat(struct server_service *s);

/* STOPPING=1; the pinger stops (the main loop no longer turns). */
void server_service_stopping(struct server_service *s);

/* Stops the pinger if still running and frees. */
void server_service_free(struct server_service *s);

#endif
