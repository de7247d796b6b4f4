/*
 * commands: the durable command service (docs/protocol.md "Relay"). A
 * command to a meter is a row of the commands table (store.h "Commands to
 * meters") from the moment it is asked for, so a server restart loses none:
 *
 *   queued -> sent -> acknowledged -> done
 *                 \-> failed (the meter refused, or a newer intent took its place)
 *   queued|sent -> expired (no acknowledgement within its TTL)
 *
 * - commands_relay_request() queues a relay command (who asked, why); the
 *   device's older outstanding relay commands give way to it.
 * - commands_send_due() signs and publishes what is due: queued commands of
 *   online devices, and sent ones still unanswered after COMMANDS_RESEND_MS
 *   (so a meter that was away gets them when it is back). Every send has a
 *   fresh "ts" and the same id: the meter acts once per id and answers again.
 * - commands_on_reply() records the meter's answer.
 * - commands_reconcile() compares the relay a device's readings report with
 *   the intent: agreement completes an acknowledged command; a contradiction
 *   queues the intent again as a new command (its reason starting
 *   "rule:resend", its actor who asked for the intent).
 * - commands_cutoff_round() applies the cut-off rules (cutoff.h) to every
 *   device.
 * - commands_start() runs all of this on a thread with its own database
 *   connection: sends every COMMANDS_TICK_MS, the rules every
 *   COMMANDS_RULES_EVERY ticks.
 *
 * Library code apart from the thread, which logs what it did. Times are
 * passed in (tests inject them); the thread takes time_now_ms().
 */
#ifndef SMARTMETER_COMMANDS_H
#define SMARTMETER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "cutoff.h"
#include "store.h"

#define COMMANDS_TTL_MS      INT64_C(86400000) /* a relay command is tried for a day */
#define COMMANDS_RESEND_MS   INT64_C(10000)
#define COMMANDS_TICK_MS     500
#define COMMANDS_RULES_EVERY 4 /* ticks: the rules and the reconciliation every 2 s */
/* A reading this long after the last send that still contradicts an acknowledged command means
   the meter did not do it: the intent is sent again. */
#define COMMANDS_CONFIRM_MS   INT64_C(30000)
#define COMMANDS_ACTOR_CUTOFF "rule:cutoff"
#define COMMANDS_ACTOR_RESEND "rule:resend" /* starts the reason of a resent intent */
/* Readings that contradict the relay's intent this long, the device online, raise an alert. */
#define COMMANDS_MISMATCH_ALERT_MS INT64_C(60000)
/* The events the rules record (store_device_event_add), each raised once and then cleared. */
#define COMMANDS_EVENT_LOW              "balance.low"
#define COMMANDS_EVENT_LOW_CLEARED      "balance.ok"
#define COMMANDS_EVENT_MISMATCH         "relay.mismatch"
#define COMMANDS_EVENT_MISMATCH_CLEARED "relay.ok"

/* Publishes a command payload on topic at QoS 1 (mqtt_client_publish's contract). */
struct commands_publisher {
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t len);
    void *ctx;
};

/* A fresh request id: 32 hex digits from the system's random source. 0 or -errno. */
int commands_new_id(char ret[33]);

/*
 * Queues "relay on|off" for device_id at now_ms, kept for ttl_ms, asked for
 * by actor (a user name or a rule) for reason. ret_id gets its id. Returns
 * 0, -EINVAL, or the store's error.
 */
int commands_relay_request(struct store *st, const char *device_id, bool on, const char *actor,
                           const char *reason, int64_t now_ms, int64_t ttl_ms,
                           char ret_id[STORE_COMMAND_ID_MAX + 1]);

/* Sends what is due at now_ms; *ret_sent (may be NULL) counts the sends. 0 or the store's error. */
int commands_send_due(struct store *st, const struct commands_publisher *pub, int64_t now_ms,
                      size_t *ret_sent);

/*
 * The meter's reply to command rep->id of device_id. Returns 0 when it was
 * one of ours (recorded, or a late copy that changes nothing), -ENOENT when
 * the id is not a command of this service (a capture's), or the store's error.
 */
int commands_on_reply(struct store *st, const char *device_id, const struct command_reply *rep,
                      int64_t now_ms);

/* Compares dev's reported relay with its intent (see above). 0 or the store's error. */
int commands_reconcile(struct store *st, const struct device_rec *dev, int64_t now_ms);

/*
 * Per-device state of the rules between rounds (the alerts' hysteresis, how
 * long a relay mismatch lasts); loaded from the device's events on first
 * sight, so a restart raises nothing twice.
 */
struct commands_rules;
int commands_rules_new(struct commands_rules **ret);
void commands_rules_free(struct commands_rules *r); /* NULL is fine */

/*
 * The site's local time at now_ms for the cut-off rules: the minute of the
 * day and the weekday in the site's zone (sitetime.h), and what the site
 * calendar says of the day. 0 or the store's error.
 */
int commands_clock_at(struct store *st, int64_t now_ms, struct cutoff_clock *ret);

/*
 * One round of the rules and the reconciliation over every device at now_ms
 * (the site's clock from commands_clock_at). Switches are queued as
 * COMMANDS_ACTOR_CUTOFF with the reason; the alerts are device events
 * (COMMANDS_EVENT_*: a low balance, a relay that does not do what it was
 * asked). 0 or the first store error.
 */
int commands_cutoff_round(struct store *st, const struct cutoff_settings_source *settings,
                          struct commands_rules *rules, int64_t now_ms);

struct commands_service;
struct commands_options {
    struct store_source db; /* copied */
    struct commands_publisher pub;
    const struct cutoff_settings_source *settings; /* NULL: cutoff_settings_defaults */
};
/* Starts the thread. 0, or -errno with err. */
int commands_start(const struct commands_options *o, struct commands_service **ret, char *err,
                   size_t errlen);
/* Stops and frees (NULL is fine). */
void commands_stop(struct commands_service *s);

#endif
