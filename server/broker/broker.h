/*
 * broker: keeps the MQTT broker's accounts in step with the devices table
 * (docs/security.md "Device identity on MQTT"). The database is the source
 * of truth; mosquitto's dynamic-security plugin holds the accounts
 * (dynsec.h: one account and one role per device, the server's own role,
 * deny by default).
 *
 * One thread with its own database connection:
 *  - after every (re)connect to the broker, and every 10 minutes, a full
 *    reconciliation: the server's role and default access ensured, every
 *    device's account created or corrected (password, client id, role), and
 *    the accounts this server manages whose device is gone deleted (plan.h);
 *  - in between, it follows the log of credential changes (device_changes,
 *    store.h) every second and brings each changed device's account in step,
 *    so a device added, deleted or given a new secret by any process (the
 *    CLI, the API, another instance) is seen within about a second;
 *  - broker_device_changed() wakes it at once for a change made in this
 *    process.
 * Changing an account's password or deleting it makes the broker drop that
 * meter's connection; a meter whose account is in step is never disturbed.
 * Each device change is also passed to the device_changed callback, so the
 * caches that hold a device's secret hash (ingest, uploads) forget it.
 *
 * Requests go out through the MQTT client (publish) and answers come back
 * through broker_on_control(), which the MQTT client calls for messages on
 * DYNSEC_RESPONSE_TOPIC; broker_on_connected() after every connect.
 * Thread safety: every function may be called from any thread.
 * Ownership: broker_start() copies the options' strings; broker_stop()
 * accepts NULL.
 */
#ifndef SMARTMETER_BROKER_H
#define SMARTMETER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct broker_options {
    struct store_source db;  /* the thread's own connection; copied */
    const char *server_user; /* the server's broker account: marks the accounts it manages */
    /* Publishes a control request (QoS 1); 0 when the MQTT client took it. */
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t len);
    void *publish_ctx;
    /* Told each device whose account changed (may be NULL): drop what is cached of it. */
    void (*device_changed)(void *ctx, const char *device_id);
    void *changed_ctx;
};

struct broker;

#define BROKER_ERR_LEN 256

/* Starts the thread. Returns 0, or -EINVAL (no user name) / -ENOMEM / -errno with err set. */
int broker_start(const struct broker_options *o, struct broker **ret, char *err, size_t errlen);

/* The MQTT client's hooks (ctx: the broker). */
void broker_on_control(void *ctx, const void *payload, size_t len);
void broker_on_connected(void *ctx);

/*
 * Tells the thread that device_id was added, deleted or given a new secret
 * (store_device_add/_delete/_set_secret): its account is brought in step at
 * once instead of at the next look at the change log. NULL b is fine.
 */
void broker_device_changed(struct broker *b, const char *device_id);

struct broker_stats {
    bool in_step;             /* the last full reconciliation succeeded, nothing failed since */
    uint64_t reconciliations; /* full ones that succeeded */
    uint64_t changes;         /* devices brought in step one by one */
    uint64_t created, updated, deleted; /* accounts */
    uint64_t collisions; /* devices whose name is an account the server does not manage */
    uint64_t errors;     /* requests the broker refused or did not answer */
    size_t devices;      /* accounts in step at the last full reconciliation */
};
void broker_get_stats(struct broker *b, struct broker_stats *ret);

/*
 * Stops the thread (idempotent); the hooks stay safe to call until
 * broker_free(), so stop it before the MQTT client and free it after.
 */
void broker_stop(struct broker *b);
/* Stops it if needed and frees everything. NULL is fine. */
void broker_free(struct broker *b);

#endif
