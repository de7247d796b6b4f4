/*
 * alarms: the alarm service, the thread that runs the state analysis
 * (rules.h) and keeps the alarms table (store.h "Alarms") in step with it.
 *
 * - On every committed reading: the ingest writer tells it which devices a
 *   batch stored readings for (alarms_notify(), writer.h's committed hook:
 *   a note under a lock, never slowing the writer); the thread reads each
 *   noted device's readings newer than the last it judged, oldest first, and
 *   feeds every measured rule. Readings are judged by their own time, so a
 *   backlog a meter sends late is judged as it happened.
 * - On the absence of readings and the command service's judgements: every
 *   sweep_ms it checks each device's silence (the offline rule: minutes
 *   since its newest reading arrived), its newest balance and relay events
 *   (commands.h COMMANDS_EVENT_*: the command service judges those, and this
 *   service makes them alarms: one place raises) and whether the cut-off
 *   rules switched it off.
 *
 * A RAISE inserts an alarm (raised, with the value and the limit), a CLEAR
 * clears the open one; each change goes to the live stream (hub.h), and a
 * new alarm to the device's bound users with a WeChat account (notify.h).
 * On first sight of a device (every device at start) the state is taken from
 * its open alarms, so a restart neither raises twice nor forgets to clear;
 * readings older than the device's newest alarm change are not judged again.
 *
 * A device's limits come from its metadata (meta source), the site's
 * defaults, and its overrides (store_alarm_rules_get), read again every
 * CONFIG_TTL_MS or at once after alarms_rules_changed().
 *
 * The thread owns its own database connection (opened again after a
 * failure). Every function but start and stop from any thread.
 */
#ifndef SMARTMETER_ALARMS_H
#define SMARTMETER_ALARMS_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "notify.h"
#include "rules.h"
#include "store.h"

#define ALARMS_SWEEP_MS_DEFAULT 5000

/*
 * Where the rules learn a device's ratings (nominal voltage and frequency,
 * rated current and kVA, site). get() starts from a copy of the site's
 * defaults in *ret and overwrites what it knows; 0 or -errno. NULL source:
 * the site's defaults for every device.
 */
struct alarm_meta_source {
    int (*get)(void *ctx, struct store *st, const struct device_rec *d,
               struct alarm_device_meta *ret);
    void *ctx;
};

struct alarms_options {
    struct store_source db; /* copied */
    struct alarm_site_config site;
    const struct alarm_meta_source *meta; /* NULL: site defaults; kept */
    int64_t sweep_ms;                     /* 0: ALARMS_SWEEP_MS_DEFAULT */
    struct alarm_hub *hub;                /* NULL: no live stream; kept */
    struct alarm_notifier *notifier;      /* NULL: no WeChat messages; kept */
};

struct alarms_counters {
    uint64_t readings; /* judged */
    uint64_t raised, cleared;
    uint64_t errors; /* database failures (logged; retried) */
};

struct alarms_service;

/* Starts the thread. 0, or -errno with err. */
int alarms_start(const struct alarms_options *o, struct alarms_service **ret, char *err,
                 size_t errlen);
/* Notes that device_pk has new readings (ctx is the service; writer.h's committed hook). */
void alarms_notify(void *ctx, int64_t device_pk);
/* A device's overrides changed: read every device's settings again before judging. */
void alarms_rules_changed(struct alarms_service *s);
/* Judges everything noted so far and runs a sweep, waiting at most timeout_ms: 0 or -ETIMEDOUT. */
int alarms_flush(struct alarms_service *s, int64_t timeout_ms);
void alarms_counters(struct alarms_service *s, struct alarms_counters *ret);
/* Stops the thread and frees. NULL is fine. */
void alarms_stop(struct alarms_service *s);

#endif
