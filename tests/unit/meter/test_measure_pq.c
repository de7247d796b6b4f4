/* Closing a power-quality interval: the reading meterd publishes, its energy, and the wire. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dynbuf.h"
#include "jsonw.h"
#include "measure.h"
#include "pq.h"
#include "telemetry.h"

/* Five 200 ms windows: 1 s, P 1800..2200 W, Q 1350 var, 49.98..50.02 Hz. */
static void interval_of_five(struct pq_interval *iv, double p_sign, bool with_voltage)
{
    pq_interval_reset(iv);
    for (int k = 0; k < 5; k++) {
        struct pq_window w;
        memset(&w, 0, sizeof(w));
        w.duration_s = 0.2;
        w.vrms = 229 + k * 0.5;
        w.irms = 9.8 + k * 0.1;
        w.p_w = p_sign * (1800 + k * 100);
        w.q_var = p_sign * 1350;
        w.s_va = 2500;
        w.pf = w.p_w / w.s_va;
        if (with_voltage) {
            w.freq_hz = 49.98 + k * 0.01;
            w.phase_deg = p_sign > 0 ? 36.9 : -143.1;
            w.thd_v = 3;
            w.thd_i = 12;
            w.harmonics_v[1] = w.harmonics_i[1] = 100;
        }
        pq_interval_add(iv, &w);
    }
    assert_int_equal(pq_interval_finish(iv), 0);
}

static void test_measure_pq_fills_averages_extremes_and_counters(void **state)
{
    (void)state;
    struct meter_state s;
    struct pq_interval iv;
    struct reading r;
    meter_state_init(&s, "m1");
    s.seq = 41;
    s.boot = 3;
    interval_of_five(&iv, 1, true);
    measure_close_pq_interval(&s, &iv, 1700000000123, &r);

    assert_true(r.seq == 42 && s.seq == 42 && r.has_seq && r.ts_ms == 1700000000123);
    assert_true(fabs(r.real[RR_POWER_W] - 2000) < 1e-9);
    assert_true(r.real[RR_POWER_W_MIN] == 1800 && r.real[RR_POWER_W_MAX] == 2200);
    assert_true(r.real[RR_VOLTAGE_MIN] == 229 && r.real[RR_VOLTAGE_MAX] == 231);
    assert_true(fabs(r.real[RR_CURRENT_MAX] - 10.2) < 1e-9 && r.real[RR_CURRENT_MIN] == 9.8);
    assert_true(fabs(r.real[RR_FREQ_HZ] - 50) < 1e-9);
    assert_true(r.real[RR_FREQ_HZ_MIN] == 49.98 && fabs(r.real[RR_FREQ_HZ_MAX] - 50.02) < 1e-9);
    assert_true(fabs(r.real[RR_PHASE_DEG] - 36.9) < 1e-9);
    assert_true(r.real[RR_THD_V] == 3 && r.real[RR_THD_I] == 12);
    assert_true(fabs(r.real[RR_PF] - 0.8) < 1e-9 && r.real[RR_APPARENT_VA] == 2500);
    assert_true(r.real[RR_REACTIVE_VAR] == 1350);
    /* 2000 W and 1350 var for 1 s: 0.5556 Wh and 0.375 varh; the fractions carry. */
    assert_int_equal(r.counter[RC_ENERGY_IMPORT], 555);
    assert_int_equal(r.counter[RC_REACTIVE_IMPORT], 375);
    assert_int_equal(r.counter[RC_ENERGY_EXPORT], 0);
    assert_int_equal(r.counter[RC_REACTIVE_EXPORT], 0);
    assert_int_equal(r.counter[RC_BOOT], 3);
    for (int k = 0; k < 8; k++)
        measure_close_pq_interval(&s, &iv, 1700000001123 + k * 1000, &r);
    /* 9 s of 2000 W and 1350 var, to within the carried fraction of a mWh */
    assert_true(r.counter[RC_ENERGY_IMPORT] >= 4999 && r.counter[RC_ENERGY_IMPORT] <= 5000);
    assert_true(r.counter[RC_REACTIVE_IMPORT] >= 3374 && r.counter[RC_REACTIVE_IMPORT] <= 3375);
    int64_t imported = r.counter[RC_ENERGY_IMPORT];

    interval_of_five(&iv, -1, true);
    measure_close_pq_interval(&s, &iv, 1700000010123, &r);
    assert_int_equal(r.counter[RC_ENERGY_IMPORT], imported);
    assert_int_equal(r.counter[RC_ENERGY_EXPORT], 555);
    assert_int_equal(r.counter[RC_REACTIVE_EXPORT], 375);
    assert_true(r.real[RR_POWER_W] < 0 && r.real[RR_PF] < 0);
}

static void test_measure_pq_without_voltage_leaves_out_frequency_and_angle(void **state)
{
    (void)state;
    struct meter_state s;
    struct pq_interval iv;
    struct reading r;
    meter_state_init(&s, "m1");
    interval_of_five(&iv, 1, false);
    measure_close_pq_interval(&s, &iv, 1700000000123, &r);
    assert_false(reading_has_real(&r, RR_FREQ_HZ));
    assert_false(reading_has_real(&r, RR_FREQ_HZ_MIN) || reading_has_real(&r, RR_FREQ_HZ_MAX));
    assert_false(reading_has_real(&r, RR_PHASE_DEG) || reading_has_real(&r, RR_THD_V));
    assert_true(reading_has_real(&r, RR_VOLTAGE) && reading_has_real(&r, RR_POWER_W_MAX));
}

static void test_measure_pq_reading_survives_the_wire_format(void **state)
{
    (void)state;
    static float v[6400 * 2], i[6400 * 2];
    struct meter_state s;
    struct pq_interval iv;
    struct reading r, back;
    struct pq_config cfg = {.rate_hz = 6400, .nominal_hz = 50};

    /* A real analysis: 230 V, 10 A lagging 60 degrees, 3 % 5th harmonic, 49.9 Hz. */
    for (int k = 0; k < 6400 * 2; k++) {
        double th = 2 * M_PI * 49.9 * k / 6400;
        v[k] = (float)(230 * M_SQRT2 * (sin(th) + 0.03 * sin(5 * th)));
        i[k] = (float)(10 * M_SQRT2 * sin(th - M_PI / 3));
    }
    assert_int_equal(pq_analyze_capture(&cfg, v, i, 6400 * 2, &iv), 0);
    meter_state_init(&s, "m1");
    s.seq = 999;
    const int64_t ts = 1790000000123;
    measure_close_pq_interval(&s, &iv, ts, &r);

    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 4096);
    jsonw_init(&w, &b);
    telemetry_encode(&w, &r, NULL);
    assert_int_equal(jsonw_error(&w), 0);
    struct telemetry_opts opts = {.device_id = "m1",
                                  .now_ms = ts + 1000,
                                  .max_future_ms = 60000,
                                  .require_seq_ts = true,
                                  .max_items = 1};
    struct telemetry_result tr;
    assert_int_equal(telemetry_decode(b.buf, b.len, &opts, &back, 1, &tr), 0);
    if (tr.n_valid != 1)
        fail_msg("payload %s rejected: %s", dynbuf_str(&b), tr.first_error);
    dynbuf_free(&b);
    assert_true(back.seq == 1000);
    assert_true(fabs(back.real[RR_VOLTAGE] - 230 * sqrt(1.0009)) < 0.23);
    assert_true(fabs(back.real[RR_POWER_W] - 1150) < 2.3);
    assert_true(fabs(back.real[RR_FREQ_HZ] - 49.9) < 0.01);
    assert_true(fabs(back.real[RR_PHASE_DEG] - 60) < 0.1);
    assert_true(fabs(back.real[RR_THD_V] - 3) < 0.15);
    assert_true(back.real[RR_POWER_W_MIN] <= back.real[RR_POWER_W] &&
                back.real[RR_POWER_W] <= back.real[RR_POWER_W_MAX]);
    assert_true(back.counter[RC_REACTIVE_IMPORT] == s.reactive_import_mvarh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_pq_fills_averages_extremes_and_counters),
        cmocka_unit_test(test_measure_pq_without_voltage_leaves_out_frequency_and_angle),
        cmocka_unit_test(test_measure_pq_reading_survives_the_wire_format),
    };
    return cmocka_run_group_tests_name("measure_pq", tests, NULL, NULL);
}
