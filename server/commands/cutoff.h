/*
 * cutoff: when a prepaid device's load relay should open or close, from its
 * balance (docs/billing.md "Cut-off and restore").
 *
 * - At or below cutoff_at the relay goes off, unless the device is
 *   protected or the site's local time is inside the device's no-cut-off
 *   time: its quiet hours of every day, weekend days (unless the site
 *   calendar makes the day a working day) and the calendar's holidays, as
 *   its settings choose. A cut-off due then waits for that time to end.
 * - Once cut off, it goes back on only when a recharge lifts the balance
 *   above cutoff_at + the restore margin: a balance hovering at the level
 *   does not toggle the load.
 * - The low-balance alert is raised once when the balance falls to
 *   low_balance and again only after it rose above low_balance + the margin.
 *
 * The per-device settings are the billing settings (PUT
 * /api/devices/:device_id/billing). They are read through struct
 * cutoff_settings_source so this module does not depend on where they are
 * kept; cutoff_settings_defaults reads them from the store's billing
 * settings (store_billing_settings_get: 20.00, 0.00, not protected, no
 * no-cut-off time unless set), a device counting as prepaid once its ledger
 * has an entry or it has settings of its own.
 *
 * Pure: no I/O, no clock (the caller passes the times).
 */
#ifndef SMARTMETER_COMMANDS_CUTOFF_H
#define SMARTMETER_COMMANDS_CUTOFF_H

#include <stdbool.h>
#include <stdint.h>

struct store;

#define CUTOFF_LOW_BALANCE_DEFAULT_FEN INT64_C(2000) /* 20.00 yuan */
#define CUTOFF_AT_DEFAULT_FEN          INT64_C(0)
#define CUTOFF_RESTORE_MARGIN_FEN      INT64_C(100) /* 1.00 yuan above the cut-off level */

struct cutoff_settings {
    bool prepaid; /* under these rules at all (a device nobody put money on is not) */
    int64_t low_balance_fen;
    int64_t cutoff_at_fen;
    bool protected_device; /* never cut (hospitals, pumps, ...) */
    /* Local minutes of the day [from, to) during which nothing is cut; from == to: none.
       A range may wrap midnight (22:00 to 06:00). */
    int no_cutoff_from_min, no_cutoff_to_min;
    bool no_cutoff_weekends; /* nothing is cut on a weekend day that is not a working day */
    bool no_cutoff_holidays; /* ... nor on the site calendar's holidays */
};

/* The site's local time a decision is taken at (cutoff_clock_make). */
struct cutoff_clock {
    int minute;   /* of the day, 0..1439 */
    bool weekend; /* Saturday or Sunday, and not a working day by the calendar */
    bool holiday; /* a holiday by the calendar */
};

/* The site calendar's word on a day. */
enum cutoff_day_kind { CUTOFF_DAY_PLAIN = 0, CUTOFF_DAY_HOLIDAY, CUTOFF_DAY_WORKDAY };

/* The clock at local minute of day, weekday wday (0 Sunday .. 6 Saturday) and day kind. */
struct cutoff_clock cutoff_clock_make(int minute, int wday, enum cutoff_day_kind kind);

struct cutoff_settings_source {
    /* Fills *ret for the device: 0, or -errno (the device is then left alone this round). */
    int (*get)(void *ctx, struct store *st, int64_t device_pk, struct cutoff_settings *ret);
    void *ctx;
};

/*
 * The defaults until the billing settings are stored: a device is prepaid
 * once its ledger has an entry (someone put money on it); low_balance 20.00,
 * cutoff_at 0.00, not protected, no no-cut-off hours.
 */
extern const struct cutoff_settings_source cutoff_settings_defaults;

enum cutoff_action { CUTOFF_KEEP = 0, CUTOFF_SWITCH_OFF, CUTOFF_SWITCH_ON };

/*
 * What the relay should do for balance_fen when the current intent is
 * intent_on, at the site's local time now. A protected device is
 * always CUTOFF_KEEP. CUTOFF_SWITCH_ON is the rule's answer for any relay
 * that is off; the caller applies it only to a cut-off the rule made (an
 * operator's "off" stays until an operator lifts it).
 */
enum cutoff_action cutoff_decide(const struct cutoff_settings *s, int64_t balance_fen,
                                 bool intent_on, const struct cutoff_clock *now);
/*
 * No-cut-off hours as text: "HH:MM-HH:MM" (from, to; to before from wraps
 * midnight; equal: none) or "" for none. Parse: 0, or -EINVAL.
 */
#define CUTOFF_HOURS_LEN 12
int cutoff_hours_parse(const char *s, int *ret_from_min, int *ret_to_min);
void cutoff_hours_format(int from_min, int to_min, char out[CUTOFF_HOURS_LEN]);

/* Whether now is inside the device's no-cut-off time. */
bool cutoff_quiet(const struct cutoff_settings *s, const struct cutoff_clock *now);
/* (A device that is not prepaid is always CUTOFF_KEEP and raises no alert.) */

/*
 * The low-balance alert's hysteresis: *alerted is the state kept per device.
 * Returns true exactly when the alert is to be raised now.
 */
bool cutoff_low_alert(const struct cutoff_settings *s, int64_t balance_fen, bool *alerted);

#endif
