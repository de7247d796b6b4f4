#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sdnotify.h"
#include "timeutil.h"
#include "watchdog.h"

#define STATUS_EVERY_MS 10000 /* the STATUS= line's counters */

struct server_service {
    struct server_counters *stats;
    struct watchdog *wd;
    struct watchdog_beat main_loop;
    char ready_status[SDNOTIFY_STATUS_MAX / 2]; /* room left for the counters */
    bool ready;
    int64_t status_ms;
};

/* The writer: busy while readings are queued, moving as batches commit or are retried. */
static bool writer_probe(void *ctx, uint64_t *ret_progress)
{
    struct server_counters *s = ctx;
    *ret_progress =
        atomic_load(&s->batches) + atomic_load(&s->retries) + atomic_load(&s->rejected_acked);
    return atomic_load(&s->queue_depth) > 0;
}

int server_service_start(struct server_counters *stats, struct server_service **ret)
{
    *ret = NULL;
    struct server_service *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->stats = stats;
    uint64_t usec = 0;
    int r = sdnotify_watchdog_enabled(&usec);
    if (r < 0)
        log_warn("meter-server: ignoring WATCHDOG_USEC/WATCHDOG_PID: not numbers");
    if (r > 0) {
        r = watchdog_start(usec, 0, &s->wd);
        if (r) {
            free(s);
            return r;
        }
        watchdog_add_beat(s->wd, "the main loop", &s->main_loop);
        watchdog_add_probe(s->wd, "the database writer", writer_probe, stats);
        log_info("meter-server: systemd watchdog every %llu ms", (unsigned long long)usec / 1000);
    }
    *ret = s;
    return 0;
}

void server_service_ready(struct server_service *s, const char *status)
{
    if (!s)
        return;
    snprintf(s->ready_status, sizeof(s->ready_status), "%s", status ? status : "serving");
    s->ready = true;
    s->status_ms = time_mono_ms();
    int r = sdnotify_ready(s->ready_status);
    if (r < 0)
        log_warn("meter-server: cannot tell the service manager it is ready: %s", strerror(-r));
}

void server_service_beat(struct server_service *s)
{
    if (!s)
        return;
    watchdog_beat(&s->main_loop);
    int64_t now = time_mono_ms();
    if (!s->ready || now - s->status_ms < STATUS_EVERY_MS)
        return;
    s->status_ms = now;
    char status[SDNOTIFY_STATUS_MAX];
    snprintf(status, sizeof(status), "%s; MQTT %s, %llu readings stored, %llu queued",
             s->ready_status, atomic_load(&s->stats->mqtt_connected) ? "connected" : "down",
             (unsigned long long)(atomic_load(&s->stats->readings_stored) +
                                  atomic_load(&s->stats->http_readings_stored)),
             (unsigned long long)atomic_load(&s->stats->queue_depth));
    sdnotify_status(status);
}

void server_service_stopping(struct server_service *s)
{
    if (!s)
        return;
    watchdog_stop(s->wd);
    s->wd = NULL;
    sdnotify_stopping("stopping");
}

void server_service_free(struct server_service *s)
{
    if (!s)
        return;
    watchdog_stop(s->wd);
    free(s);
}
