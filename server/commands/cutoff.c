#include "cutoff.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "store.h"
#include "timeutil.h"

static int count_entry(const struct ledger_entry *e, void *ctx)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

/* The billing settings (store_billing_settings_get); a device is under the rules once it has
   money on its ledger or settings of its own. */
static int defaults_get(void *ctx, struct store *st, int64_t device_pk, struct cutoff_settings *ret)
{
    (void)ctx;
    int entries = 0;
    struct billing_settings bs;
    int r = store_ledger_list(st, device_pk, 1, count_entry, &entries);
    if (!r)
        r = store_billing_settings_get(st, device_pk, &bs);
    if (r)
        return r;
    *ret = (struct cutoff_settings){.prepaid = entries > 0 || !bs.is_default,
                                    .low_balance_fen = bs.low_balance_fen,
                                    .cutoff_at_fen = bs.cutoff_at_fen,
                                    .protected_device = bs.is_protected,
                                    .no_cutoff_from_min = bs.no_cutoff_from_min,
                                    .no_cutoff_to_min = bs.no_cutoff_to_min,
                                    .no_cutoff_weekends = bs.no_cutoff_weekends,
                                    .no_cutoff_holidays = bs.no_cutoff_holidays};
    return 0;
}

const struct cutoff_settings_source cutoff_settings_defaults = {defaults_get, NULL};

struct cutoff_clock cutoff_clock_make(int minute, int wday, enum cutoff_day_kind kind)
{
    return (struct cutoff_clock){.minute = minute,
                                 .weekend = (wday == 0 || wday == 6) && kind != CUTOFF_DAY_WORKDAY,
                                 .holiday = kind == CUTOFF_DAY_HOLIDAY};
}

int cutoff_hours_parse(const char *s, int *ret_from_min, int *ret_to_min)
{
    int32_t from = 0, to = 0;
    if (*s && (strlen(s) != 11 || s[5] != '-'))
        return -EINVAL;
    if (*s) {
        char a[6];
        memcpy(a, s, 5);
        a[5] = '\0';
        if (time_parse_hhmm(a, &from) || time_parse_hhmm(s + 6, &to))
            return -EINVAL;
    }
    *ret_from_min = from;
    *ret_to_min = to;
    return 0;
}

void cutoff_hours_format(int from_min, int to_min, char out[CUTOFF_HOURS_LEN])
{
    if (from_min == to_min) {
        out[0] = '\0';
        return;
    }
    time_format_hhmm(from_min, out);
    out[5] = '-';
    time_format_hhmm(to_min, out + 6);
}

bool cutoff_quiet(const struct cutoff_settings *s, const struct cutoff_clock *now)
{
    if ((s->no_cutoff_weekends && now->weekend) || (s->no_cutoff_holidays && now->holiday))
        return true;
    int from = s->no_cutoff_from_min, to = s->no_cutoff_to_min, minute = now->minute;
    if (from == to)
        return false;
    return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

/* a + b without overflow (saturating): balances are bounded, margins small. */
static int64_t add_sat(int64_t a, int64_t b)
{
    return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

enum cutoff_action cutoff_decide(const struct cutoff_settings *s, int64_t balance_fen,
                                 bool intent_on, const struct cutoff_clock *now)
{
    if (!s->prepaid || s->protected_device)
        return CUTOFF_KEEP;
    if (intent_on)
        return balance_fen <= s->cutoff_at_fen && !cutoff_quiet(s, now) ? CUTOFF_SWITCH_OFF
                                                                             : CUTOFF_KEEP;
    return balance_fen > add_sat(s->cutoff_at_fen, CUTOFF_RESTORE_MARGIN_FEN) ? CUTOFF_SWITCH_ON
                                                                              : CUTOFF_KEEP;
}

bool cutoff_low_alert(const struct cutoff_settings *s, int64_t balance_fen, bool *alerted)
{
    if (!s->prepaid)
        return false;
    if (!*alerted && balance_fen <= s->low_balance_fen) {
        *alerted = true;
        return true;
    }
    if (*alerted && balance_fen > add_sat(s->low_balance_fen, CUTOFF_RESTORE_MARGIN_FEN))
        *alerted = false;
    return false;
}
