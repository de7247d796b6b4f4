/* Closing an interval: the reading meterd publishes, and that the server side accepts it. */
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
#include "telemetry.h"

static void test_measure_fills_reading_and_advances_seq(void **state)
{
    (void)state;
    struct meter_state s;
    struct reading r;
    struct dsp_result res = {.vrms = 230,
                             .irms = 10,
                             .p_w = 1800,
                             .q_var = 1431,
                             .s_va = 2300,
                             .pf = 0.7826,
                             .freq_hz = 49.98,
                             .phase_deg = 38.5};
    meter_state_init(&s, "m1");
    s.seq = 41;
    s.boot = 3;
    measure_close_interval(&s, &res, 2.0, 1700000000123, &r);
    assert_true(r.seq == 42 && s.seq == 42 && r.has_seq);
    assert_true(r.ts_ms == 1700000000123);
    assert_true(r.real[RR_VOLTAGE] == 230 && reading_has_real(&r, RR_VOLTAGE));
    assert_true(r.real[RR_POWER_W] == 1800 && r.real[RR_PF] == 0.7826);
    assert_true(r.real[RR_FREQ_HZ] == 49.98 && reading_has_real(&r, RR_FREQ_HZ));
    assert_false(reading_has_real(&r, RR_THD_V));
    assert_int_equal(r.counter[RC_ENERGY_IMPORT], 1000); /* 1800 W * 2 s = 1 Wh */
    assert_int_equal(r.counter[RC_ENERGY_EXPORT], 0);
    assert_int_equal(r.counter[RC_BOOT], 3);

    res.p_w = -3600;
    res.freq_hz = 0;
    measure_close_interval(&s, &res, 1.0, 1700000001123, &r);
    assert_true(r.seq == 43);
    assert_int_equal(r.counter[RC_ENERGY_IMPORT], 1000);
    assert_int_equal(r.counter[RC_ENERGY_EXPORT], 1000);
    assert_false(reading_has_real(&r, RR_FREQ_HZ)); /* no full period: no frequency */
}

static void test_measure_reading_survives_the_wire_format(void **state)
{
    (void)state;
    struct meter_state s;
    struct reading r, back;
    struct dsp_result res = {.vrms = 229.87,
                             .irms = 9.95,
                             .p_w = -1500.5,
                             .q_var = -250.25,
                             .s_va = 2287.2,
                             .pf = -0.656,
                             .freq_hz = 49.97};
    meter_state_init(&s, "m1");
    s.seq = 999;
    s.boot = 12;
    s.energy_import_mwh = 123456789;
    const int64_t ts = 1790000000123;
    measure_close_interval(&s, &res, 1.0, ts, &r);

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
    assert_true(back.ts_ms == ts);
    assert_true(fabs(back.real[RR_VOLTAGE] - 229.87) < 1e-6);
    assert_true(fabs(back.real[RR_POWER_W] + 1500.5) < 1e-6);
    assert_true(fabs(back.real[RR_FREQ_HZ] - 49.97) < 1e-6);
    assert_int_equal(back.counter[RC_ENERGY_IMPORT], 123456789);
    assert_int_equal(back.counter[RC_ENERGY_EXPORT], s.energy_export_mwh);
    assert_true(s.energy_export_mwh == 416); /* 1500.5 W for 1 s = 0.4168 Wh */
    assert_int_equal(back.counter[RC_BOOT], 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_fills_reading_and_advances_seq),
        cmocka_unit_test(test_measure_reading_survives_the_wire_format),
    };
    return cmocka_run_group_tests_name("measure", tests, NULL, NULL);
}
