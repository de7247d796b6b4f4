#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sdnotify.h"
#include "watchdog.h"

struct meter_service {
    struct watchdog *wd;
    struct watchdog_beat main_loop;
};

/* The sampler always has work: its sample count moves at the ADC's rate. */
static bool sampler_probe(void *ctx, uint64_t *ret_progress)
{
    struct sampler_stats ss;
    sampler_stats(ctx, &ss);
    *ret_progress = ss.samples;
    return true;
}

int meter_service_start(struct meter_service **ret)
{
    *ret = NULL;
    struct meter_service *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    uint64_t usec = 0;
    int r = sdnotify_watchdog_enabled(&usec);
    if (r < 0)
        log_warn("ignoring WATCHDOG_USEC/WATCHDOG_PID: not numbers");
    if (r > 0) {
        r = watchdog_start(usec, 0, &s->wd);
        if (r) {
            free(s);
            return r;
        }
        log_info("systemd watchdog every %llu ms", (unsigned long long)usec / 1000);
    }
    *ret = s;
    return 0;
}

void meter_service_ready(struct meter_service *s, struct sampler *sampler, const char *status)
{
    if (!s)
        return;
    watchdog_add_beat(s->wd, "the main loop", &s->main_loop);
    watchdog_add_probe(s->wd, "the sampler", sampler_probe, sampler);
    int r = sdnotify_ready(status);
    if (r < 0)
        log_warn("cannot tell the service manager meterd is ready: %s", strerror(-r));
}

void meter_service_beat(struct meter_service *s)
{
    if (s)
        watchdog_beat(&s->main_loop);
}

void meter_service_stopping(struct meter_service *s)
{
    if (!s)
        return;
    watchdog_stop(s->wd);
    s->wd = NULL;
    sdnotify_stopping("stopping");
}

void meter_service_free(struct meter_service *s)
{
    if (!s)
        return;
    watchdog_stop(s->wd);
    free(s);
}
