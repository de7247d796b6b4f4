/*
 * service: meterd under systemd (meter/meterd.service, Type=notify): READY=1
 * once sampling and the uplink (MQTT or the terminal link) run, a STATUS=
 * line, STOPPING=1 at the stop, and the watchdog (WatchdogSec=) fed only
 * while both the main loop (analysis, spool, commands) and the sampler thread
 * make progress (watchdog.h), so a hung sampler or a main loop stuck on its
 * disk gets meterd restarted. The uplink is not watched: the broker or the
 * server may be away for days, which the spool covers.
 *
 * Outside systemd ($NOTIFY_SOCKET and $WATCHDOG_USEC unset) all of this does
 * nothing. Ownership: meter_service_ready() borrows the sampler, which must
 * outlive meter_service_stopping() or meter_service_free(). Every function
 * accepts NULL.
 */
#ifndef SMARTMETER_METER_SERVICE_H
#define SMARTMETER_METER_SERVICE_H

#include "sampler.h"

struct meter_service;

/* Starts the watchdog's pinger when the manager asked for one. 0 and *ret, or -ENOMEM/-errno. */
int meter_service_start(struct meter_service **ret);

/*
 * Sampling runs: the pinger now also watches sampler and the main loop's
 * beats, and READY=1 goes out with status as the STATUS= line.
 */
void meter_service_ready(struct meter_service *s, struct sampler *sampler, const char *status);

/* One pass of the main loop. */
void meter_service_beat(struct meter_service *s);

/* STOPPING=1; the pinger stops (neither loop turns any more). */
void meter_service_stopping(struct meter_service *s);

/* Stops the pinger if still running and frees. */
void meter_service_free(struct meter_service *s);

#endif
