/*
 * The alarm rules, pure, with injected time: each rule fires on a synthetic
 * series that crosses its limit for longer than its minimum duration, does
 * not fire on one that crosses for less, and clears only past its
 * hysteresis band (and for as long), so a value hovering at the limit raises
 * once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

#define STEP_MS 10000 /* one reading every 10 s */

struct rig {
    struct alarm_site_config site;
    struct alarm_device_meta meta;
    struct alarm_rule rules[AK__COUNT];
};

static void rig_init(struct rig *g, double rated_a, double rated_kva)
{
    alarm_site_defaults(&g->site);
    g->meta = g->site.meta;
    g->meta.rated_current = rated_a;
    g->meta.rated_kva = rated_kva;
    alarm_rules_for(&g->site, &g->meta, false, NULL, 0, g->rules);
}

/* A reading with field f = v (plus whatever set_extra adds), as a single-phase meter sends it. */
static struct reading reading_of(enum reading_real f, double v, int64_t ts)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.ts_ms = ts;
    reading_set_real(&r, f, v);
    return r;
}

struct outcome {
    int raises, clears;
    int64_t raised_at, cleared_at;
    double raised_value;
};

/* Feeds rule k the series values[0..n) of field f, one every STEP_MS from t = 0. */
static struct outcome run(struct rig *g, enum alarm_kind k, enum reading_real f,
                          const double *values, size_t n, double current_a)
{
    struct alarm_rule_state st = {0};
    struct outcome o = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t t = (int64_t)i * STEP_MS;
        struct reading r = reading_of(f, values[i], t);
        if (current_a > 0)
            reading_set_real(&r, RR_CURRENT, current_a);
        double x;
        if (!alarm_reading_value(k, &r, &g->meta, &x))
            continue;
        enum alarm_step s = alarm_rule_step(k, &g->rules[k], &st, x, t);
        if (s == ALARM_STEP_RAISE) {
            o.raises++;
            o.raised_at = t;
            o.raised_value = alarm_report_value(k, &r, st.value);
        } else if (s == ALARM_STEP_CLEAR) {
            o.clears++;
            o.cleared_at = t;
        }
    }
    return o;
}

/* n values: `before` normal ones, `cross` at bad, then `after` at back. */
static size_t series(double *out, size_t before, double normal, size_t cross, double bad,
                     size_t after, double back)
{
    size_t n = 0;
    for (size_t i = 0; i < before; i++)
        out[n++] = normal;
    for (size_t i = 0; i < cross; i++)
        out[n++] = bad;
    for (size_t i = 0; i < after; i++)
        out[n++] = back;
    return n;
}

struct rule_case {
    enum alarm_kind kind;
    enum reading_real field;
    double normal, bad,
        hover;        /* hover: inside the hysteresis band, on the safe side of the limit */
    double current_a; /* for the power factor rule */
};

/* The measured rules at the site defaults (60 s; sags and swells at once). */
static const struct rule_case cases[] = {
    {AK_VOLTAGE_OVER, RR_VOLTAGE, 220, 240, 234.0, 0},   /* limit 235.4, band 2.2 */
    {AK_VOLTAGE_UNDER, RR_VOLTAGE, 220, 190, 199.0, 0},  /* limit 198, band 2.2 */
    {AK_FREQUENCY, RR_FREQ_HZ, 50.0, 50.35, 50.17, 0},   /* |dev| 0.2, band 0.05 */
    {AK_THD_V, RR_THD_V, 2.0, 7.5, 4.8, 0},              /* 5 %, band 0.5 */
    {AK_CURRENT_OVER, RR_CURRENT, 20, 45, 39.5, 0},      /* rated 40 A, band 0.8 */
    {AK_LOAD_OVER, RR_APPARENT_VA, 5000, 9500, 8200, 0}, /* 10 kVA: 85 %, band 5 */
    {AK_PF_LOW, RR_PF, 0.98, 0.7, 0.91, 5},              /* 0.9, band 0.02 */
    {AK_SAG, RR_VOLTAGE_MIN, 215, 150, 199, 0},          /* 198, band 4.4 */
    {AK_SWELL, RR_VOLTAGE_MAX, 225, 260, 241, 0},        /* 242, band 4.4 */
};

static void test_each_rule_fires_past_its_minimum_duration_and_clears_past_its_band(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct rule_case *k = &cases[c];
        struct rig g;
        rig_init(&g, 40, 10);
        int64_t min = g.rules[k->kind].min_duration_ms;
        size_t need = (size_t)(min / STEP_MS) + 1; /* readings spanning min_duration */
        double v[512];
        /* Crosses for longer than its minimum duration: raises once, clears once after. */
        size_t n = series(v, 3, k->normal, need + 3, k->bad, need + 3, k->normal);
        struct outcome o = run(&g, k->kind, k->field, v, n, k->current_a);
        print_message("%s: limit %.3f, min %lld ms\n", alarm_kinds[k->kind].name,
                      g.rules[k->kind].limit, (long long)min);
        assert_int_equal(o.raises, 1);
        assert_int_equal(o.clears, 1);
        assert_int_equal(o.raised_at, 3 * STEP_MS + min);
        assert_true(o.cleared_at >= (int64_t)(3 + need + 3) * STEP_MS + min);
        if (k->kind == AK_FREQUENCY)
            assert_true(o.raised_value > 50.3); /* the frequency, not the deviation */
        else if (k->kind == AK_LOAD_OVER)
            assert_float_equal(o.raised_value, 95.0, 1e-9); /* % of the rated 10 kVA */
        else
            assert_true(o.raised_value == k->bad);
    }
}

static void test_a_crossing_shorter_than_the_minimum_duration_raises_nothing(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct rule_case *k = &cases[c];
        struct rig g;
        rig_init(&g, 40, 10);
        int64_t min = g.rules[k->kind].min_duration_ms;
        if (min == 0)
            continue; /* sags and swells: an interval's extreme is the event itself */
        double v[512];
        /* Crossings spanning less than min, again and again, with a reading back between. */
        size_t span = (size_t)(min / STEP_MS); /* spans (span-1) * STEP_MS < min */
        size_t n = 0;
        for (int rep = 0; rep < 4; rep++)
            n += series(v + n, 1, k->normal, span, k->bad, 0, 0);
        struct outcome o = run(&g, k->kind, k->field, v, n, k->current_a);
        assert_int_equal(o.raises, 0);
    }
}

static void test_a_value_hovering_inside_the_band_raises_once_and_does_not_clear(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct rule_case *k = &cases[c];
        struct rig g;
        rig_init(&g, 40, 10);
        int64_t min = g.rules[k->kind].min_duration_ms;
        size_t need = (size_t)(min / STEP_MS) + 1;
        double v[512];
        size_t n = series(v, 1, k->normal, need, k->bad, 0, 0);
        /* Then it hovers: bad, just inside the band, bad, ... */
        for (int rep = 0; rep < 10; rep++)
            v[n++] = rep % 2 ? k->bad : k->hover;
        v[n++] = k->hover;
        struct outcome o = run(&g, k->kind, k->field, v, n, k->current_a);
        assert_int_equal(o.raises, 1);
        assert_int_equal(o.clears, 0);
    }
}

static void test_a_short_return_inside_the_clear_duration_keeps_the_alarm(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, 0, 0);
    /* Over-voltage raised, then back to normal for 30 s (< 60 s), then bad again: one alarm. */
    double v[40];
    size_t n = series(v, 1, 220, 8, 245, 3, 220);
    n += series(v + n, 0, 0, 3, 245, 8, 220);
    struct outcome o = run(&g, AK_VOLTAGE_OVER, RR_VOLTAGE, v, n, 0);
    assert_int_equal(o.raises, 1);
    assert_int_equal(o.clears, 1);
}

static void test_rules_needing_a_rating_stay_off_without_one(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, 0, 0);
    assert_false(g.rules[AK_CURRENT_OVER].enabled);
    assert_false(g.rules[AK_LOAD_OVER].enabled);
    double v[20];
    size_t n = series(v, 1, 10, 15, 500, 0, 0);
    assert_int_equal(run(&g, AK_CURRENT_OVER, RR_CURRENT, v, n, 0).raises, 0);
    /* A limit given per device is a rated current given. */
    struct alarm_rule_override o = {.kind = "current.over", .has_limit = true, .limit = 100};
    alarm_rules_for(&g.site, &g.meta, false, &o, 1, g.rules);
    assert_true(g.rules[AK_CURRENT_OVER].enabled);
    assert_int_equal(run(&g, AK_CURRENT_OVER, RR_CURRENT, v, n, 0).raises, 1);
}

static void test_standard_limits_single_and_three_phase(void **state)
{
    (void)state;
    struct alarm_site_config site;
    struct alarm_rule r1[AK__COUNT], r3[AK__COUNT];
    alarm_site_defaults(&site);
    alarm_rules_for(&site, &site.meta, false, NULL, 0, r1);
    alarm_rules_for(&site, &site.meta, true, NULL, 0, r3);
    assert_float_equal(r1[AK_VOLTAGE_OVER].limit, 235.4, 1e-9);  /* 220 V + 7 % */
    assert_float_equal(r1[AK_VOLTAGE_UNDER].limit, 198.0, 1e-9); /* 220 V - 10 % */
    assert_float_equal(r3[AK_VOLTAGE_UNDER].limit, 204.6, 1e-9); /* three-phase - 7 % */
    assert_float_equal(r1[AK_FREQUENCY].limit, 0.2, 1e-12);
    assert_float_equal(r1[AK_THD_V].limit, 5.0, 1e-12);
    assert_float_equal(r1[AK_PF_LOW].limit, 0.9, 1e-12);
    assert_float_equal(r1[AK_SAG].limit, 198.0, 1e-9);
    assert_float_equal(r1[AK_SWELL].limit, 242.0, 1e-9);
    /* A device's own nominal moves every voltage limit. */
    struct alarm_device_meta m = site.meta;
    m.nominal_voltage = 230;
    alarm_rules_for(&site, &m, false, NULL, 0, r1);
    assert_float_equal(r1[AK_VOLTAGE_OVER].limit, 246.1, 1e-9);
}

static void test_overrides_replace_only_what_they_set(void **state)
{
    (void)state;
    struct alarm_site_config site;
    struct alarm_rule r[AK__COUNT];
    alarm_site_defaults(&site);
    struct alarm_rule_override o[2] = {
        {.kind = "voltage.over",
         .has_limit = true,
         .limit = 240,
         .has_min_duration = true,
         .min_duration_ms = 5000},
        {.kind = "thd_v", .has_enabled = true, .enabled = false},
    };
    alarm_rules_for(&site, &site.meta, false, o, 2, r);
    assert_float_equal(r[AK_VOLTAGE_OVER].limit, 240, 1e-12);
    assert_int_equal(r[AK_VOLTAGE_OVER].min_duration_ms, 5000);
    assert_float_equal(r[AK_VOLTAGE_OVER].hysteresis, 2.2, 1e-9);
    assert_false(r[AK_THD_V].enabled);
    assert_true(r[AK_VOLTAGE_UNDER].enabled);
}

static void test_three_phase_uses_the_worst_phase(void **state)
{
    (void)state;
    struct alarm_site_config site;
    alarm_site_defaults(&site);
    struct reading r;
    memset(&r, 0, sizeof(r));
    reading_set_real(&r, RR_VOLTAGE_A, 221);
    reading_set_real(&r, RR_VOLTAGE_B, 238);
    reading_set_real(&r, RR_VOLTAGE_C, 200);
    double x;
    assert_true(alarm_reading_three_phase(&r));
    assert_true(alarm_reading_value(AK_VOLTAGE_OVER, &r, &site.meta, &x));
    assert_float_equal(x, 238, 1e-12);
    assert_true(alarm_reading_value(AK_VOLTAGE_UNDER, &r, &site.meta, &x));
    assert_float_equal(x, 200, 1e-12);
}

static void test_power_factor_without_current_is_no_opinion(void **state)
{
    (void)state;
    struct alarm_site_config site;
    alarm_site_defaults(&site);
    struct reading r = reading_of(RR_PF, 0.2, 0);
    double x;
    assert_false(alarm_reading_value(AK_PF_LOW, &r, &site.meta, &x));
    reading_set_real(&r, RR_CURRENT, 0.1);
    assert_false(alarm_reading_value(AK_PF_LOW, &r, &site.meta, &x));
    reading_set_real(&r, RR_CURRENT, 3);
    assert_true(alarm_reading_value(AK_PF_LOW, &r, &site.meta, &x));
}

static void test_offline_raises_past_the_silence_and_clears_on_a_reading(void **state)
{
    (void)state;
    struct alarm_site_config site;
    struct alarm_rule r[AK__COUNT];
    alarm_site_defaults(&site);
    alarm_rules_for(&site, &site.meta, false, NULL, 0, r);
    struct alarm_rule_state st = {0};
    /* Sweeps every 30 s of a meter silent since t = 0: minutes of silence. */
    int raised = 0;
    int64_t raised_at = 0;
    for (int64_t t = 0; t <= 8 * 60000; t += 30000) {
        enum alarm_step s = alarm_rule_step(AK_OFFLINE, &r[AK_OFFLINE], &st, t / 60000.0, t);
        if (s == ALARM_STEP_RAISE) {
            raised++;
            raised_at = t;
        }
        assert_int_not_equal(s, ALARM_STEP_CLEAR);
    }
    assert_int_equal(raised, 1);
    assert_int_equal(raised_at, 5 * 60000 + 30000); /* the first sweep past 5 minutes */
    /* A reading: silence 0. */
    assert_int_equal(alarm_rule_step(AK_OFFLINE, &r[AK_OFFLINE], &st, 0, 9 * 60000),
                     ALARM_STEP_CLEAR);
}

static void test_a_disabled_rule_clears_what_it_raised(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, 0, 0);
    struct alarm_rule_state st = {0};
    g.rules[AK_SWELL].enabled = true;
    assert_int_equal(alarm_rule_step(AK_SWELL, &g.rules[AK_SWELL], &st, 300, 0), ALARM_STEP_RAISE);
    g.rules[AK_SWELL].enabled = false;
    assert_int_equal(alarm_rule_step(AK_SWELL, &g.rules[AK_SWELL], &st, 300, 1), ALARM_STEP_CLEAR);
    assert_int_equal(alarm_rule_step(AK_SWELL, &g.rules[AK_SWELL], &st, 300, 2), ALARM_STEP_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rule_fires_past_its_minimum_duration_and_clears_past_its_band),
        cmocka_unit_test(test_a_crossing_shorter_than_the_minimum_duration_raises_nothing),
        cmocka_unit_test(test_a_value_hovering_inside_the_band_raises_once_and_does_not_clear),
        cmocka_unit_test(test_a_short_return_inside_the_clear_duration_keeps_the_alarm),
        cmocka_unit_test(test_rules_needing_a_rating_stay_off_without_one),
        cmocka_unit_test(test_standard_limits_single_and_three_phase),
        cmocka_unit_test(test_overrides_replace_only_what_they_set),
        cmocka_unit_test(test_three_phase_uses_the_worst_phase),
        cmocka_unit_test(test_power_factor_without_current_is_no_opinion),
        cmocka_unit_test(test_offline_raises_past_the_silence_and_clears_on_a_reading),
        cmocka_unit_test(test_a_disabled_rule_clears_what_it_raised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
