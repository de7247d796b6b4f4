#include "cutoff.h"

#include <stddef.h>

#include "store.h"

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
                                    .protected_device = bs.is_protected};
    return 0;
}

const struct cutoff_settings_source cutoff_settings_defaults = {defaults_get, NULL};

static bool in_quiet_hours(const struct cutoff_settings *s, int minute)
{
    int from = s->no_cutoff_from_min, to = s->no_cutoff_to_min;
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
                                 bool intent_on, int minute)
{
    if (!s->prepaid || s->protected_device)
        return CUTOFF_KEEP;
    if (intent_on)
        return balance_fen <= s->cutoff_at_fen && !in_quiet_hours(s, minute) ? CUTOFF_SWITCH_OFF
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
