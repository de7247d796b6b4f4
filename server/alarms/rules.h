/*
 * rules: the state analysis, pure. Each rule watches one quantity of a
 * device (a reading's field, the silence since its last reading, a condition
 * the command service noticed) against a limit, with a minimum duration and a
 * hysteresis band, so a value hovering at the limit raises one alarm, not a
 * storm:
 *
 *   normal --crossed--> pending --crossed for min_duration--> active (RAISE)
 *   pending --back within the limit--> normal
 *   active --beyond the hysteresis band--> recovering
 *   recovering --still back for min_duration--> normal (CLEAR)
 *   recovering --inside the band or crossed again--> active
 *
 * "Back" means on the safe side of the limit moved by the hysteresis (an
 * over-limit rule clears below limit - hysteresis, an under-limit rule above
 * limit + hysteresis). A reading without the rule's quantity changes nothing.
 *
 * Limits come from the device's metadata (nominal voltage and frequency,
 * rated current and kVA) and the site defaults (the standards' values, in
 * the table of rules.c), each overridable per device (store.h
 * alarm_rule_override). No I/O, no allocation, no clock: times are passed in.
 */
#ifndef SMARTMETER_ALARM_RULES_H
#define SMARTMETER_ALARM_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "telemetry.h"

enum alarm_kind {
    AK_VOLTAGE_OVER,   /* "voltage.over": highest phase voltage above nominal + 7 % */
    AK_VOLTAGE_UNDER,  /* "voltage.under": lowest below nominal - 10 % (three-phase - 7 %) */
    AK_FREQUENCY,      /* "frequency": |f - nominal| above 0.2 Hz */
    AK_THD_V,          /* "thd_v": voltage THD above 5 % */
    AK_CURRENT_OVER,   /* "current.over": above the rated current (off without one) */
    AK_LOAD_OVER,      /* "load.over": apparent power above 85 % of the rated kVA (off without) */
    AK_PF_LOW,         /* "pf.low": |power factor| below 0.9 while current flows */
    AK_SAG,            /* "voltage.sag": the interval's minimum below 90 % of nominal */
    AK_SWELL,          /* "voltage.swell": the interval's maximum above 110 % of nominal */
    AK_OFFLINE,        /* "offline": no reading for longer than the limit (minutes) */
    AK_RELAY_MISMATCH, /* "relay.mismatch": the relay does not do what it was asked */
    AK_BALANCE_LOW,    /* "balance.low": the prepaid balance under its alert level */
    AK_CUTOFF,         /* "cutoff": the cut-off rules switched the supply off */
    AK__COUNT
};

enum alarm_direction { ALARM_ABOVE, ALARM_BELOW };

/* Below this current (A, the highest phase) the power factor rule has no opinion. */
#define ALARM_PF_MIN_CURRENT_A 0.5

struct alarm_kind_info {
    const char *name;     /* the alarm's kind in the API and the database */
    const char *severity; /* "critical", "major" or "minor" */
    const char *unit;     /* of value and limit: "V", "Hz", "%", "A", "min", "" */
    enum alarm_direction direction;
    const char *title; /* a short English description for messages */
};
extern const struct alarm_kind_info alarm_kinds[AK__COUNT];

/* The kind named name, or -1. */
int alarm_kind_parse(const char *name);

/* What the rules need to know of a device; 0 for rated_* means not known (those rules are off). */
struct alarm_device_meta {
    double nominal_voltage; /* V, phase to neutral */
    double nominal_hz;
    double rated_current; /* A */
    double rated_kva;
    char site[STORE_ALARM_SITE_MAX + 1];
};

/* The site's defaults for the rules (alarms.md "Settings"); alarm_site_defaults() fills them. */
struct alarm_site_config {
    struct alarm_device_meta meta; /* 220 V, 50 Hz, no rated current or kVA, site "" */
    double over_pct;               /* 7 */
    double under_pct;              /* 10 single-phase */
    double under_pct_3p;           /* 7 */
    double freq_dev_hz;            /* 0.2 */
    double thd_v_pct;              /* 5 */
    double load_pct;               /* 85 */
    double pf_min;                 /* 0.9 */
    double sag_pct;                /* 90 */
    double swell_pct;              /* 110 */
    double offline_min;            /* 5 */
    int64_t min_duration_ms;       /* 60000 for the measured rules */
    int64_t load_min_duration_ms;  /* 900000: "long-term" load */
};
void alarm_site_defaults(struct alarm_site_config *ret);

/* One rule as it applies to one device. */
struct alarm_rule {
    bool enabled;
    double limit;
    int64_t min_duration_ms;
    double hysteresis;
};

/*
 * The rules of a device of meta under site, with three_phase deciding the
 * under-voltage limit, then the overrides o[0..n) (unknown kinds ignored).
 */
void alarm_rules_for(const struct alarm_site_config *site, const struct alarm_device_meta *meta,
                     bool three_phase, const struct alarm_rule_override *o, size_t n,
                     struct alarm_rule ret[AK__COUNT]);

enum alarm_phase { AP_NORMAL, AP_PENDING, AP_ACTIVE, AP_RECOVERING };
struct alarm_rule_state {
    enum alarm_phase phase;
    int64_t since_ms; /* pending or recovering since */
    double value;     /* the value that raised it (or the worst while pending) */
};

enum alarm_step { ALARM_STEP_NONE, ALARM_STEP_RAISE, ALARM_STEP_CLEAR };

/*
 * Feeds one observation x at now_ms to the rule's state. RAISE: the alarm
 * starts (st->value holds the value to report); CLEAR: it ends. A disabled
 * rule clears an active alarm and otherwise stays normal.
 */
enum alarm_step alarm_rule_step(enum alarm_kind kind, const struct alarm_rule *rule,
                                struct alarm_rule_state *st, double x, int64_t now_ms);

/*
 * The quantity of kind a reading holds, for the measured rules (voltage ..
 * swell): *ret_x, true; false when the reading lacks it (or the rule does not
 * look at readings). meta gives the nominal frequency (the frequency rule
 * watches the deviation).
 */
bool alarm_reading_value(enum alarm_kind kind, const struct reading *r,
                         const struct alarm_device_meta *meta, double *ret_x);
/* The value to report for kind: x itself but for the frequency, nominal_hz +- the deviation. */
double alarm_report_value(enum alarm_kind kind, const struct reading *r, double x);
/* True when the reading has per-phase voltages (a three-phase meter). */
bool alarm_reading_three_phase(const struct reading *r);

#endif
