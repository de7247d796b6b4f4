/*
 * Closing a three-phase interval: the reading meterd publishes (aggregates under today's
 * names, every per-phase field, line-to-line voltages, neutral, unbalance, sequence,
 * wiring), the per-phase energy counters, the demand fields and the wire format.
 * The interval comes from the real three-phase analysis fed synthetic phases.
 */
#include <complex.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "demand.h"
#include "dynbuf.h"
#include "measure.h"
#include "pq3.h"
#include "telemetry.h"

#define RATE 6400
#define N    RATE /* one second */

static const double VOLTS[3] = {230, 230, 220}, AMPS[3] = {10, 12, 8};
static const double ANG[3] = {0, -120, 120};
static const double LAG = 25;
static float ch[PQ3_CHANNELS][N];

static void on_window(const struct pq3_window *w, void *ctx)
{
    pq3_interval_add(ctx, w);
}

/* One second of wiring w's channels, fed through the analysis into *iv. */
static void analysed_second(enum pq3_wiring wiring, bool swap_bc, struct pq3_interval *iv)
{
    for (int k = 0; k < N; k++) {
        double t = 2 * M_PI * 50.0 * k / RATE, v[3], i[3];
        for (int p = 0; p < 3; p++) {
            double a = (swap_bc && p ? -ANG[p] : ANG[p]) * M_PI / 180;
            v[p] = sqrt(2) * VOLTS[p] * sin(t + a);
            i[p] = sqrt(2) * AMPS[p] * sin(t + a - LAG * M_PI / 180);
        }
        for (int p = 0; p < 3; p++) {
            ch[PQ3_CH_VA + p][k] =
                (float)(wiring == PQ3_3P3W ? v[p] - v[(p + 1) % 3] : v[p]);
            ch[PQ3_CH_IA + p][k] = (float)i[p];
        }
        if (wiring == PQ3_3P3W) { /* no neutral: no zero sequence in the currents */
            double i0 = (i[0] + i[1] + i[2]) / 3;
            for (int p = 0; p < 3; p++)
                ch[PQ3_CH_IA + p][k] = (float)(i[p] - i0);
        }
    }
    struct pq3_config cfg = {.rate_hz = RATE, .nominal_hz = 50, .wiring = wiring};
    struct pq3_analyzer *a = NULL;
    assert_int_equal(pq3_analyzer_new(&cfg, &a), 0);
    const float *const chs[PQ3_CHANNELS] = {ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]};
    pq3_interval_reset(iv);
    pq3_analyzer_feed(a, chs, N, on_window, iv);
    pq3_analyzer_free(a);
    assert_int_equal(pq3_interval_finish(iv), 0);
}

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: %.6f, want %.6f +- %g", what, got, want, tol);
}

static void test_a_three_phase_reading_carries_every_phase_and_the_aggregates(void **state)
{
    (void)state;
    struct meter_state s;
    struct pq3_interval iv;
    struct reading r;
    meter_state_init(&s, "m3");
    s.seq = 9;
    s.boot = 2;
    analysed_second(PQ3_3P4W, false, &iv);
    measure_close_pq3_interval(&s, &iv, 1700000000000, &r);

    assert_true(r.seq == 10 && r.has_seq && r.ts_ms == 1700000000000);
    assert_string_equal(reading_label_text(&r, RL_WIRING), "3p4w");
    assert_string_equal(reading_label_text(&r, RL_SEQUENCE), "abc");
    double cosl = cos(LAG * M_PI / 180), p_total = 0;
    static const enum reading_real vf[3] = {RR_VOLTAGE_A, RR_VOLTAGE_B, RR_VOLTAGE_C};
    static const enum reading_real i_f[3] = {RR_CURRENT_A, RR_CURRENT_B, RR_CURRENT_C};
    static const enum reading_real pf_[3] = {RR_POWER_W_A, RR_POWER_W_B, RR_POWER_W_C};
    static const enum reading_real ph[3] = {RR_PHASE_DEG_A, RR_PHASE_DEG_B, RR_PHASE_DEG_C};
    for (int p = 0; p < 3; p++) {
        near(r.real[vf[p]], VOLTS[p], VOLTS[p] * 1e-3, "voltage_p");
        near(r.real[i_f[p]], AMPS[p], AMPS[p] * 1e-3, "current_p");
        near(r.real[pf_[p]], VOLTS[p] * AMPS[p] * cosl, VOLTS[p] * AMPS[p] * 2e-3, "power_w_p");
        near(r.real[ph[p]], LAG, 0.05, "phase_deg_p");
        p_total += VOLTS[p] * AMPS[p] * cosl;
    }
    /* Aggregates as docs/protocol.md defines them. */
    near(r.real[RR_VOLTAGE], (VOLTS[0] + VOLTS[1] + VOLTS[2]) / 3, 0.2, "voltage");
    near(r.real[RR_CURRENT], (AMPS[0] + AMPS[1] + AMPS[2]) / 3, 0.01, "current");
    near(r.real[RR_POWER_W], p_total, p_total * 2e-3, "power_w");
    near(r.real[RR_PF], cosl, 0.002, "pf");
    near(r.real[RR_ANGLE_V_B], -120, 0.05, "angle_v_b");
    near(r.real[RR_ANGLE_V_C], 120, 0.05, "angle_v_c");
    /* Line to line, neutral and unbalance from the phasors. */
    double complex v[3], i[3];
    for (int p = 0; p < 3; p++) {
        v[p] = VOLTS[p] * cexp(_Complex_I * ANG[p] * M_PI / 180);
        i[p] = AMPS[p] * cexp(_Complex_I * (ANG[p] - LAG) * M_PI / 180);
    }
    near(r.real[RR_VOLTAGE_AB], cabs(v[0] - v[1]), 0.5, "voltage_ab");
    near(r.real[RR_VOLTAGE_CA], cabs(v[2] - v[0]), 0.5, "voltage_ca");
    near(r.real[RR_CURRENT_N], cabs(i[0] + i[1] + i[2]), 0.02, "current_n");
    double complex a = cexp(_Complex_I * 2 * M_PI / 3);
    double complex v1 = (v[0] + a * v[1] + a * a * v[2]) / 3;
    double complex v2 = (v[0] + a * a * v[1] + a * v[2]) / 3;
    double complex v0 = (v[0] + v[1] + v[2]) / 3;
    near(r.real[RR_UNBALANCE_U2], 100 * cabs(v2) / cabs(v1), 0.02, "unbalance_u2_pct");
    near(r.real[RR_UNBALANCE_U0], 100 * cabs(v0) / cabs(v1), 0.02, "unbalance_u0_pct");
    assert_true(reading_has_real(&r, RR_UNBALANCE_I2));
    /* Energy: each phase's import to its own counter, the total to today's. */
    /* The interval's complete windows (from the first zero crossing) hold the energy. */
    double hours = iv.duration_s / 3600;
    near((double)s.energy_import_mwh, p_total * hours * 1000, p_total * hours * 3, "import");
    int64_t parts = 0;
    for (int p = 0; p < 3; p++) {
        near((double)s.energy_import_phase_mwh[p], VOLTS[p] * AMPS[p] * cosl * hours * 1000, 2,
             "phase energy");
        parts += s.energy_import_phase_mwh[p];
        assert_int_equal(r.counter[RC_ENERGY_IMPORT_A + p], s.energy_import_phase_mwh[p]);
    }
    assert_true(llabs(parts - s.energy_import_mwh) <= 3);
    assert_int_equal(r.counter[RC_BOOT], 2);
    /* Demand only once a period was measured. */
    assert_false(reading_has_real(&r, RR_DEMAND_W) || reading_has_real(&r, RR_DEMAND_MAX_W));
}

static void test_three_wire_has_no_zero_sequence_and_a_swap_reads_acb(void **state)
{
    (void)state;
    struct meter_state s;
    struct pq3_interval iv;
    struct reading r;
    meter_state_init(&s, "m3");
    analysed_second(PQ3_3P3W, true, &iv);
    measure_close_pq3_interval(&s, &iv, 1700000000000, &r);
    assert_string_equal(reading_label_text(&r, RL_WIRING), "3p3w");
    assert_string_equal(reading_label_text(&r, RL_SEQUENCE), "acb");
    assert_false(reading_has_real(&r, RR_CURRENT_N));
    assert_false(reading_has_real(&r, RR_UNBALANCE_U0));
    /* The aggregate voltage of a three-wire meter is the mean line-to-line voltage. */
    double mean_ll = (r.real[RR_VOLTAGE_AB] + r.real[RR_VOLTAGE_BC] + r.real[RR_VOLTAGE_CA]) / 3;
    near(r.real[RR_VOLTAGE], mean_ll, 1e-6, "voltage of 3p3w");
    near(r.real[RR_VOLTAGE], 391, 10, "about sqrt(3) x 226");
}

static void test_demand_fields_and_the_wire(void **state)
{
    (void)state;
    struct meter_state s;
    struct pq3_interval iv;
    struct reading r;
    meter_state_init(&s, "m3");
    analysed_second(PQ3_3P4W, false, &iv);
    measure_close_pq3_interval(&s, &iv, 1700000000000, &r);
    struct demand d;
    demand_init(&d, 5);
    for (int k = 1; k <= 5 * 60; k++)
        demand_add(&d, INT64_C(1700000040000) + k * 1000, 1000, 6000 / 3600.0,
                   INT64_C(1698796800000), 0);
    measure_set_demand(&r, &d);
    near(r.real[RR_DEMAND_W], 6000, 1e-6, "demand_w");
    near(r.real[RR_DEMAND_MAX_W], 6000, 1e-6, "demand_max_w");
    assert_int_equal(r.counter[RC_DEMAND_MAX_TS], d.max_ts_ms);

    /* Everything set survives the wire format. */
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    assert_int_equal(telemetry_encode_payload(&r, 1, false, &b), 0);
    assert_non_null(strstr(b.buf, "\"wiring\":\"3p4w\""));
    assert_non_null(strstr(b.buf, "\"sequence\":\"abc\""));
    struct telemetry_opts opts = {.device_id = "m3",
                                  .now_ms = 1700000000000,
                                  .max_future_ms = 60000,
                                  .require_seq_ts = true,
                                  .max_items = 1};
    struct reading back;
    struct telemetry_result res;
    assert_int_equal(telemetry_decode(b.buf, b.len, &opts, &back, 1, &res), 0);
    assert_int_equal(res.n_valid, 1);
    assert_true(back.real_present == r.real_present);
    assert_true(back.counter_present == r.counter_present);
    for (int k = 0; k < RR__COUNT; k++) {
        if (reading_has_real(&r, k))
            near(back.real[k], r.real[k], fabs(r.real[k]) * 1e-6 + 1e-6, reading_reals[k].json);
    }
    assert_int_equal(back.label[RL_WIRING], r.label[RL_WIRING]);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_three_phase_reading_carries_every_phase_and_the_aggregates),
        cmocka_unit_test(test_three_wire_has_no_zero_sequence_and_a_swap_reads_acb),
        cmocka_unit_test(test_demand_fields_and_the_wire),
    };
    return cmocka_run_group_tests_name("measure_pq3", tests, NULL, NULL);
}
