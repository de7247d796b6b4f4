/*
 * clocksync: what meterd does with a sync_clock command (docs/protocol.md
 * "Remote operations", docs/meterd.md "Clock").
 *
 * The command carries the server's clock when it was sent (server_ms); the
 * meter's offset is server_ms less its own clock when the command came
 * (positive: the meter is behind), transit time included (a few ms to a
 * few hundred on 4G). Then:
 *   - clock_set off (the default): the offset is only reported ("reported").
 *     A Pi without an RTC normally keeps time by NTP (systemd-timesyncd);
 *     meterd does not fight it, and an unprivileged meterd cannot set the
 *     clock anyway.
 *   - clock_set on: an offset under CLOCKSYNC_SLEW_MAX_MS is slewed with
 *     adjtime() ("slewed": the clock runs slightly fast or slow until it
 *     catches up, never backwards), a larger one stepped with
 *     clock_settime(CLOCK_REALTIME) ("stepped"). Both need CAP_SYS_TIME;
 *     without it the offset is reported with a note saying so.
 *   - an offset under CLOCKSYNC_IGNORE_MS is within the transit's noise:
 *     reported, nothing set.
 * A meter whose clock is off by more than COMMAND_MAX_AGE_MS refuses every
 * command, this one included, as expired: the error reply says by how much.
 *
 * The clock calls go through struct clocksync_ops so tests fake them.
 */
#ifndef SMARTMETER_METER_CLOCKSYNC_H
#define SMARTMETER_METER_CLOCKSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"

#define CLOCKSYNC_IGNORE_MS   50
#define CLOCKSYNC_SLEW_MAX_MS 500

struct clocksync_ops {
    /* Slews the clock by delta_ms (adjtime's contract): 0 or -errno. */
    int (*slew)(int64_t delta_ms);
    /* Steps the clock by delta_ms: 0 or -errno. */
    int (*step)(int64_t delta_ms);
};
/* The system's clock. */
extern const struct clocksync_ops clocksync_system;

/*
 * The sync_clock command c arrived at now_ms (the meter's clock): fills
 * *ret (offset, action, note; static text) and sets the clock as above when
 * clock_set. Returns 0 (the offset is reported whatever happened), or -errno
 * with why when setting failed for another reason than a missing privilege.
 */
int clocksync_apply(const struct clocksync_ops *ops, bool clock_set, const struct command *c,
                    int64_t now_ms, struct command_clock_result *ret, char *why, size_t whylen);

#endif
