#include "clocksync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int system_slew(int64_t delta_ms)
{
    struct timeval tv = {.tv_sec = (time_t)(delta_ms / 1000),
                         .tv_usec = (suseconds_t)((delta_ms % 1000) * 1000)};
    return adjtime(&tv, NULL) ? -errno : 0;
}

static int system_step(int64_t delta_ms)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts))
        return -errno;
    int64_t ns = (int64_t)ts.tv_nsec + (delta_ms % 1000) * 1000000;
    int64_t s = (int64_t)ts.tv_sec + delta_ms / 1000 + (ns >= 1000000000 ? 1 : ns < 0 ? -1 : 0);
    ns = ns >= 1000000000 ? ns - 1000000000 : ns < 0 ? ns + 1000000000 : ns;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)ns;
    return clock_settime(CLOCK_REALTIME, &ts) ? -errno : 0;
}

const struct clocksync_ops clocksync_system = {system_slew, system_step};

int clocksync_apply(const struct clocksync_ops *ops, bool clock_set, const struct command *c,
                    int64_t now_ms, struct command_clock_result *ret, char *why, size_t whylen)
{
    /* Both within COMMAND_MAX_AGE_MS of now (command_parse refused the rest): no overflow. */
    int64_t offset = c->server_ms - now_ms;
    int64_t mag = offset < 0 ? -offset : offset;
    *ret = (struct command_clock_result){.offset_ms = offset, .action = "reported"};
    if (!clock_set) {
        ret->note = "setting the clock is off (clock_set = false): NTP keeps it";
        return 0;
    }
    if (mag < CLOCKSYNC_IGNORE_MS) {
        ret->note = "within the transit's noise: nothing set";
        return 0;
    }
    bool slew = mag < CLOCKSYNC_SLEW_MAX_MS;
    int r = slew ? ops->slew(offset) : ops->step(offset);
    if (r == -EPERM) {
        ret->note = "no privilege to set the clock (CAP_SYS_TIME)";
        return 0;
    }
    if (r) {
        snprintf(why, whylen, "cannot %s the clock: %s", slew ? "slew" : "step", strerror(-r));
        return r;
    }
    ret->action = slew ? "slewed" : "stepped";
    return 0;
}
