/*
 * rules: the state analysis's limits and their state machine (rules.h).
 * Default limits follow the Chinese standards the issue names: supply
 * voltage deviation GB/T 12325 (220 V single-phase +7 %/-10 %, three-phase
 * +-7 %), frequency deviation GB/T 15945 (+-0.2 Hz), voltage harmonics GB/T
 * 14549 (THD 5 % at low voltage), transformer load rate GB 51348-2019 (85 %),
 * and the IEC 61000-4-30 sag and swell thresholds (90 % / 110 %).
 */
#include "rules.h"

#include <math.h>
#include <string.h>

const struct alarm_kind_info alarm_kinds[AK__COUNT] = {
    [AK_VOLTAGE_OVER] = {"voltage.over", "major", "V", ALARM_ABOVE, "over-voltage"},
    [AK_VOLTAGE_UNDER] = {"voltage.under", "major", "V", ALARM_BELOW, "under-voltage"},
    [AK_FREQUENCY] = {"frequency", "major", "Hz", ALARM_ABOVE, "frequency deviation"},
    [AK_THD_V] = {"thd_v", "minor", "%", ALARM_ABOVE, "voltage THD"},
    [AK_CURRENT_OVER] = {"current.over", "major", "A", ALARM_ABOVE, "over-current"},
    [AK_LOAD_OVER] = {"load.over", "major", "%", ALARM_ABOVE, "transformer load rate"},
    [AK_PF_LOW] = {"pf.low", "minor", "", ALARM_BELOW, "low power factor"},
    [AK_SAG] = {"voltage.sag", "major", "V", ALARM_BELOW, "voltage sag"},
    [AK_SWELL] = {"voltage.swell", "major", "V", ALARM_ABOVE, "voltage swell"},
    [AK_OFFLINE] = {"offline", "critical", "min", ALARM_ABOVE, "meter silent"},
    [AK_RELAY_MISMATCH] = {"relay.mismatch", "critical", "", ALARM_ABOVE, "relay not as commanded"},
    [AK_BALANCE_LOW] = {"balance.low", "minor", "", ALARM_ABOVE, "low balance"},
    [AK_CUTOFF] = {"cutoff", "major", "", ALARM_ABOVE, "supply cut off"},
};

int alarm_kind_parse(const char *name)
{
    for (int k = 0; k < AK__COUNT; k++)
        if (strcmp(name, alarm_kinds[k].name) == 0)
            return k;
    return -1;
}

void alarm_site_defaults(struct alarm_site_config *c)
{
    memset(c, 0, sizeof(*c));
    c->meta.nominal_voltage = 220;
    c->meta.nominal_hz = 50;
    c->over_pct = 7;
    c->under_pct = 10;
    c->under_pct_3p = 7;
    c->freq_dev_hz = 0.2;
    c->thd_v_pct = 5;
    c->load_pct = 85;
    c->pf_min = 0.9;
    c->sag_pct = 90;
    c->swell_pct = 110;
    c->offline_min = 5;
    c->min_duration_ms = 60000;
    c->load_min_duration_ms = 900000;
}

static struct alarm_rule rule(bool on, double limit, int64_t min_ms, double hyst)
{
    return (struct alarm_rule){
        .enabled = on, .limit = limit, .min_duration_ms = min_ms, .hysteresis = hyst};
}

void alarm_rules_for(const struct alarm_site_config *c, const struct alarm_device_meta *m,
                     bool three_phase, const struct alarm_rule_override *o, size_t n,
                     struct alarm_rule ret[AK__COUNT])
{
    double un = m->nominal_voltage > 0 ? m->nominal_voltage : c->meta.nominal_voltage;
    double i_r = m->rated_current, kva = m->rated_kva;
    int64_t d = c->min_duration_ms;
    double under = three_phase ? c->under_pct_3p : c->under_pct;
    ret[AK_VOLTAGE_OVER] = rule(true, un * (1 + c->over_pct / 100), d, un * 0.01);
    ret[AK_VOLTAGE_UNDER] = rule(true, un * (1 - under / 100), d, un * 0.01);
    ret[AK_FREQUENCY] = rule(true, c->freq_dev_hz, d, c->freq_dev_hz / 4);
    ret[AK_THD_V] = rule(true, c->thd_v_pct, d, c->thd_v_pct / 10);
    ret[AK_CURRENT_OVER] = rule(i_r > 0, i_r, d, i_r * 0.02);
    ret[AK_LOAD_OVER] = rule(kva > 0, c->load_pct, c->load_min_duration_ms, 5);
    ret[AK_PF_LOW] = rule(true, c->pf_min, d, 0.02);
    /* A sag or swell is an event inside the interval: one interval shows it. */
    ret[AK_SAG] = rule(true, un * c->sag_pct / 100, 0, un * 0.02);
    ret[AK_SWELL] = rule(true, un * c->swell_pct / 100, 0, un * 0.02);
    /* The silence itself is the duration. */
    ret[AK_OFFLINE] = rule(true, c->offline_min, 0, 0);
    /* Conditions the command service judged (with its own delays): 1 when on. */
    ret[AK_RELAY_MISMATCH] = rule(true, 0.5, 0, 0);
    ret[AK_BALANCE_LOW] = rule(true, 0.5, 0, 0);
    ret[AK_CUTOFF] = rule(true, 0.5, 0, 0);
    for (size_t i = 0; i < n; i++) {
        int k = alarm_kind_parse(o[i].kind);
        if (k < 0)
            continue;
        if (o[i].has_enabled)
            ret[k].enabled = o[i].enabled;
        if (o[i].has_limit) {
            ret[k].limit = o[i].limit;
            if (k == AK_CURRENT_OVER && !o[i].has_enabled)
                ret[k].enabled = true; /* a limit given is a rated current given */
        }
        if (o[i].has_min_duration)
            ret[k].min_duration_ms = o[i].min_duration_ms;
        if (o[i].has_hysteresis)
            ret[k].hysteresis = o[i].hysteresis;
    }
    /* A rule that needs a rating stays off without one, unless the limit itself is given. */
    if (!(ret[AK_CURRENT_OVER].limit > 0))
        ret[AK_CURRENT_OVER].enabled = false;
    if (!(kva > 0))
        ret[AK_LOAD_OVER].enabled = false;
}

static bool crossed(const struct alarm_rule *r, enum alarm_direction dir, double x)
{
    return dir == ALARM_ABOVE ? x > r->limit : x < r->limit;
}

static bool back(const struct alarm_rule *r, enum alarm_direction dir, double x)
{
    return dir == ALARM_ABOVE ? x <= r->limit - r->hysteresis : x >= r->limit + r->hysteresis;
}

static bool worse(enum alarm_direction dir, double x, double than)
{
    return dir == ALARM_ABOVE ? x > than : x < than;
}

/* The direction is the kind's; the state machine itself knows only above or below. */
static enum alarm_step step(const struct alarm_rule *rule, enum alarm_direction dir,
                            struct alarm_rule_state *st, double x, int64_t now)
{
    if (!rule->enabled || !isfinite(x)) {
        if (!rule->enabled && (st->phase == AP_ACTIVE || st->phase == AP_RECOVERING)) {
            st->phase = AP_NORMAL;
            return ALARM_STEP_CLEAR;
        }
        if (!rule->enabled)
            st->phase = AP_NORMAL;
        return ALARM_STEP_NONE;
    }
    switch (st->phase) {
    case AP_NORMAL:
        if (!crossed(rule, dir, x))
            return ALARM_STEP_NONE;
        st->phase = AP_PENDING;
        st->since_ms = now;
        st->value = x;
        /* A zero duration raises at once. */
        __attribute__((fallthrough));
    case AP_PENDING:
        if (!crossed(rule, dir, x)) {
            st->phase = AP_NORMAL;
            return ALARM_STEP_NONE;
        }
        if (worse(dir, x, st->value))
            st->value = x;
        if (now - st->since_ms < rule->min_duration_ms)
            return ALARM_STEP_NONE;
        st->phase = AP_ACTIVE;
        return ALARM_STEP_RAISE;
    case AP_ACTIVE:
        if (!back(rule, dir, x))
            return ALARM_STEP_NONE;
        st->phase = AP_RECOVERING;
        st->since_ms = now;
        __attribute__((fallthrough));
    case AP_RECOVERING:
        if (!back(rule, dir, x)) {
            st->phase = AP_ACTIVE;
            return ALARM_STEP_NONE;
        }
        if (now - st->since_ms < rule->min_duration_ms)
            return ALARM_STEP_NONE;
        st->phase = AP_NORMAL;
        return ALARM_STEP_CLEAR;
    }
    return ALARM_STEP_NONE;
}

enum alarm_step alarm_rule_step(enum alarm_kind kind, const struct alarm_rule *rule,
                                struct alarm_rule_state *st, double x, int64_t now_ms)
{
    return step(rule, alarm_kinds[kind].direction, st, x, now_ms);
}

static bool real(const struct reading *r, enum reading_real f, double *x)
{
    if (!reading_has_real(r, f) || !isfinite(r->real[f]))
        return false;
    *x = r->real[f];
    return true;
}

/* The worst of the phases a reading has (or the single-phase field): max when hi, else min. */
static bool worst(const struct reading *r, enum reading_real single, enum reading_real a,
                  enum reading_real b, enum reading_real c, bool hi, double *x)
{
    enum reading_real f[3] = {a, b, c};
    bool any = false;
    for (int k = 0; k < 3; k++) {
        double v;
        if (real(r, f[k], &v) && (!any || (hi ? v > *x : v < *x))) {
            *x = v;
            any = true;
        }
    }
    return any || real(r, single, x);
}

bool alarm_reading_three_phase(const struct reading *r)
{
    return reading_has_real(r, RR_VOLTAGE_A) && reading_has_real(r, RR_VOLTAGE_B);
}

bool alarm_reading_value(enum alarm_kind kind, const struct reading *r,
                         const struct alarm_device_meta *meta, double *ret_x)
{
    double x, i;
    switch (kind) {
    case AK_VOLTAGE_OVER:
        return worst(r, RR_VOLTAGE, RR_VOLTAGE_A, RR_VOLTAGE_B, RR_VOLTAGE_C, true, ret_x);
    case AK_VOLTAGE_UNDER:
        return worst(r, RR_VOLTAGE, RR_VOLTAGE_A, RR_VOLTAGE_B, RR_VOLTAGE_C, false, ret_x);
    case AK_FREQUENCY:
        if (!real(r, RR_FREQ_HZ, &x) || !(meta->nominal_hz > 0))
            return false;
        *ret_x = fabs(x - meta->nominal_hz);
        return true;
    case AK_THD_V:
        return worst(r, RR_THD_V, RR_THD_V_A, RR_THD_V_B, RR_THD_V_C, true, ret_x);
    case AK_CURRENT_OVER:
        return worst(r, RR_CURRENT, RR_CURRENT_A, RR_CURRENT_B, RR_CURRENT_C, true, ret_x);
    case AK_LOAD_OVER:
        if (!real(r, RR_APPARENT_VA, &x) || !(meta->rated_kva > 0))
            return false;
        *ret_x = x / (meta->rated_kva * 1000) * 100;
        return true;
    case AK_PF_LOW:
        /* Without current flowing the power factor is noise: no opinion. */
        if (!real(r, RR_PF, &x) ||
            !worst(r, RR_CURRENT, RR_CURRENT_A, RR_CURRENT_B, RR_CURRENT_C, true, &i) ||
            i < ALARM_PF_MIN_CURRENT_A)
            return false;
        *ret_x = fabs(x);
        return true;
    case AK_SAG:
        return real(r, RR_VOLTAGE_MIN, ret_x);
    case AK_SWELL:
        return real(r, RR_VOLTAGE_MAX, ret_x);
    default:
        return false;
    }
}

double alarm_report_value(enum alarm_kind kind, const struct reading *r, double x)
{
    double f;
    if (kind == AK_FREQUENCY && real(r, RR_FREQ_HZ, &f))
        return f;
    return x;
}
