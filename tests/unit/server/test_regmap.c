/* regmap: the map format's parser, the built-in maps, and a reading to registers and back. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "regmap.h"
#include "regmap_builtin.h"

#define NOW_MS INT64_C(1796630400000) /* 2026-12-07T08:00:00Z */

static int parse(const char *text, struct regmap *m, char err[REGMAP_ERR_LEN])
{
    err[0] = '\0';
    return regmap_parse(text, strlen(text), m, err);
}

/* The float32 at regs[0..1], high word first. */
static float f32(const uint16_t *regs)
{
    uint32_t bits = ((uint32_t)regs[0] << 16) | regs[1];
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static struct reading three_phase(void)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.ts_ms = NOW_MS - 2500;
    r.has_seq = true;
    r.seq = 7;
    reading_set_real(&r, RR_VOLTAGE, 230.25);
    reading_set_real(&r, RR_CURRENT, 10.5);
    reading_set_real(&r, RR_VOLTAGE_A, 229.5);
    reading_set_real(&r, RR_VOLTAGE_B, 230.75);
    reading_set_real(&r, RR_VOLTAGE_C, 231.0);
    reading_set_real(&r, RR_CURRENT_A, 10.25);
    reading_set_real(&r, RR_POWER_W, 7000.5);
    reading_set_real(&r, RR_POWER_W_B, -120.125);
    reading_set_real(&r, RR_PF, 0.875);
    reading_set_real(&r, RR_FREQ_HZ, 50.0625);
    reading_set_real(&r, RR_THD_V_C, 3.5);
    reading_set_real(&r, RR_UNBALANCE_U2, 1.25);
    reading_set_counter(&r, RC_ENERGY_IMPORT, INT64_C(123456000)); /* 123456 Wh */
    reading_set_counter(&r, RC_ENERGY_EXPORT, INT64_C(4000));      /* 4 Wh */
    return r;
}

static void test_sdm630_puts_spec_quantities_at_eastron_addresses(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("sdm630");
    assert_non_null(m);
    assert_int_equal(m->function, 4);
    struct reading r = three_phase();
    struct regmap_context c = {.now_ms = NOW_MS, .online = 1, .unit = 5};
    static uint16_t regs[0x0220];
    regmap_encode(m, &r, &c, 0, regs, 0x0220);
    assert_true(f32(&regs[0x0000]) == 229.5f);
    assert_true(f32(&regs[0x0002]) == 230.75f);
    assert_true(f32(&regs[0x0004]) == 231.0f);
    assert_true(f32(&regs[0x0006]) == 10.25f);
    assert_true(f32(&regs[0x000E]) == -120.125f);
    assert_true(f32(&regs[0x0034]) == 7000.5f);
    assert_true(f32(&regs[0x003E]) == 0.875f);
    assert_true(f32(&regs[0x0046]) == 50.0625f);
    assert_true(f32(&regs[0x0048]) == 123.456f);
    assert_true(f32(&regs[0x004A]) == 0.004f);
    assert_true(f32(&regs[0x0156]) == 123.46f);
    assert_true(f32(&regs[0x00EE]) == 3.5f);
    /* absent quantities are NaN, gaps 0 */
    assert_true(isnan(f32(&regs[0x0008])));
    assert_int_equal(regs[0x0030], 0);
    /* the extra registers */
    assert_true(f32(&regs[0x0200]) == 2.5f);
    assert_true(f32(&regs[0x0202]) == 1.0f);
    assert_int_equal(((uint32_t)regs[0x0204] << 16) | regs[0x0205], (NOW_MS - 2500) / 1000);
    assert_int_equal(regs[0x0206], 5);
    assert_true(f32(&regs[0x0208]) == 1.25f);
}

static void test_single_phase_reading_fills_phase_one_and_totals(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("sdm630");
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.ts_ms = NOW_MS;
    reading_set_real(&r, RR_VOLTAGE, 221.5);
    reading_set_real(&r, RR_CURRENT, 3.25);
    reading_set_real(&r, RR_POWER_W, 700.0);
    reading_set_counter(&r, RC_ENERGY_IMPORT, INT64_C(2000000));
    struct regmap_context c = {.now_ms = NOW_MS, .online = 0};
    uint16_t regs[0x0160];
    regmap_encode(m, &r, &c, 0, regs, 0x0160);
    assert_true(f32(&regs[0x0000]) == 221.5f);
    assert_true(f32(&regs[0x002A]) == 221.5f);
    assert_true(f32(&regs[0x0006]) == 3.25f);
    assert_true(f32(&regs[0x000C]) == 700.0f);
    assert_true(f32(&regs[0x0034]) == 700.0f);
    assert_true(f32(&regs[0x0048]) == 2.0f);
    assert_true(f32(&regs[0x015A]) == 2.0f);
    assert_true(isnan(f32(&regs[0x0002])));
    assert_true(isnan(f32(&regs[0x000E])));
}

static void test_encode_window_cuts_entries_at_its_edges(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("sdm630");
    struct reading r = three_phase();
    struct regmap_context c = {.now_ms = NOW_MS, .online = 1};
    uint16_t all[8], part[3];
    regmap_encode(m, &r, &c, 0, all, 8);
    regmap_encode(m, &r, &c, 1, part, 3); /* the low word of V1, all of V2 */
    assert_memory_equal(part, all + 1, sizeof(part));
    /* no reading: every quantity absent, the pseudo online still there */
    uint16_t regs[4];
    regmap_encode(m, NULL, &c, 0x0200, regs, 4);
    assert_true(isnan(f32(&regs[0])));
    assert_true(f32(&regs[2]) == 1.0f);
}

static void test_decode_inverts_encode_for_every_type_and_word_order(void **state)
{
    (void)state;
    static const char text[] = "map rt\n"
                               "function 3\n"
                               "0  uint16        10     V    voltage\n"
                               "1  int16         100    W    power_w\n"
                               "2  uint32        1      Wh   energy_wh\n"
                               "4  int32_swap    1      var  reactive_var\n"
                               "6  float32_swap  1      Hz   freq_hz\n"
                               "8  uint32_swap   0.001  kWh  energy_export_wh\n"
                               "10 float32       1      A    current_a|current\n";
    struct regmap m;
    char err[REGMAP_ERR_LEN];
    assert_int_equal(parse(text, &m, err), 0);
    struct reading in;
    memset(&in, 0, sizeof(in));
    reading_set_real(&in, RR_VOLTAGE, 230.1);
    reading_set_real(&in, RR_POWER_W, -12.34);
    reading_set_counter(&in, RC_ENERGY_IMPORT, INT64_C(3000000000)); /* 3 000 000 Wh */
    reading_set_real(&in, RR_REACTIVE_VAR, -70000);
    reading_set_real(&in, RR_FREQ_HZ, 49.96875);
    reading_set_counter(&in, RC_ENERGY_EXPORT, INT64_C(5000000000)); /* 5000 kWh */
    reading_set_real(&in, RR_CURRENT, 4.5);
    struct regmap_context c = {.now_ms = NOW_MS};
    uint16_t regs[12];
    regmap_encode(&m, &in, &c, 0, regs, 12);
    assert_int_equal(regs[0], 2301);
    assert_int_equal((int16_t)regs[1], -1234);
    assert_int_equal(regs[4], (uint16_t)(-70000 & 0xFFFF)); /* low word first */

    struct reading out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(regmap_decode(&m, 0, regs, 12, &out), 7);
    assert_true(fabs(out.real[RR_VOLTAGE] - 230.1) < 1e-9);
    assert_true(fabs(out.real[RR_POWER_W] + 12.34) < 1e-9);
    assert_int_equal(out.counter[RC_ENERGY_IMPORT], INT64_C(3000000000));
    assert_true(out.real[RR_REACTIVE_VAR] == -70000);
    assert_true(out.real[RR_FREQ_HZ] == 49.96875);
    assert_int_equal(out.counter[RC_ENERGY_EXPORT], INT64_C(5000000000));
    /* the first of the alternatives is the one decoding sets */
    assert_true(reading_has_real(&out, RR_CURRENT_A));
    assert_false(reading_has_real(&out, RR_CURRENT));
    assert_true(out.real[RR_CURRENT_A] == 4.5);
}

static void test_decode_skips_sentinels_and_partial_entries(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("sdm630");
    struct regmap_context c = {.now_ms = NOW_MS};
    struct reading in;
    memset(&in, 0, sizeof(in));
    reading_set_real(&in, RR_VOLTAGE_A, 230);
    uint16_t regs[6];
    regmap_encode(m, &in, &c, 0, regs, 6); /* V2 and V3 are NaN */
    struct reading out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(regmap_decode(m, 0, regs, 6, &out), 1);
    assert_true(out.real[RR_VOLTAGE_A] == 230);
    assert_int_equal(out.real_present, UINT64_C(1) << RR_VOLTAGE_A);
    /* a window that holds only half of an entry sets nothing */
    memset(&out, 0, sizeof(out));
    assert_int_equal(regmap_decode(m, 1, regs + 1, 2, &out), 0);
    /* a value outside the field's range is not invented into the reading */
    static const char text[] = "map x\n0 int16 1 - pf\n";
    struct regmap px;
    char err[REGMAP_ERR_LEN];
    assert_int_equal(parse(text, &px, err), 0);
    uint16_t two = 2;
    memset(&out, 0, sizeof(out));
    assert_int_equal(regmap_decode(&px, 0, &two, 1, &out), 0);
    uint16_t na = 0x8000;
    assert_int_equal(regmap_decode(&px, 0, &na, 1, &out), 0);
}

static void test_dtsu666_round_trip_keeps_its_fixed_point_units(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("dtsu666");
    assert_non_null(m);
    struct reading in = three_phase();
    struct regmap_context c = {.now_ms = NOW_MS};
    static uint16_t regs[0x4030 - 0x2000];
    regmap_encode(m, &in, &c, 0x2000, regs, 0x4030 - 0x2000);
    /* Ua at 0x2006 in 0.1 V, Ia at 0x200C in mA, Pt at 0x2012 in 0.1 W, Freq at 0x2044 in 0.01 Hz
     */
    assert_true(f32(&regs[0x0006]) == 2295.0f);
    assert_true(f32(&regs[0x000C]) == 10250.0f);
    assert_true(f32(&regs[0x0012]) == 70005.0f);
    assert_true(f32(&regs[0x0044]) == 5006.25f);
    assert_true(f32(&regs[0x201E]) == 123.456f); /* 0x401E: import kWh */
    struct reading out;
    memset(&out, 0, sizeof(out));
    regmap_decode(m, 0x2000, regs, 0x4030 - 0x2000, &out);
    assert_true(fabs(out.real[RR_VOLTAGE_A] - 229.5) < 1e-9);
    assert_true(fabs(out.real[RR_CURRENT_A] - 10.25) < 1e-9);
    assert_true(fabs(out.real[RR_POWER_W] - 7000.5) < 1e-9);
    assert_true(fabs(out.real[RR_PF] - 0.875) < 1e-9);
    assert_true(fabs(out.real[RR_FREQ_HZ] - 50.0625) < 1e-9);
    assert_true(llabs(out.counter[RC_ENERGY_IMPORT] - INT64_C(123456000)) <= 10);
    /* what the reading did not hold stays absent */
    assert_false(reading_has_real(&out, RR_VOLTAGE_AB));
    assert_false(reading_has_real(&out, RR_REACTIVE_VAR));
}

static void test_every_builtin_map_parses(void **state)
{
    (void)state;
    for (size_t i = 0; regmap_builtin_names[i]; i++) {
        const char *text = regmap_builtin_text(regmap_builtin_names[i]);
        assert_non_null(text);
        struct regmap parsed;
        char err[REGMAP_ERR_LEN];
        if (parse(text, &parsed, err))
            fail_msg("%s.map: %s", regmap_builtin_names[i], err);
        const struct regmap *m = regmap_builtin(regmap_builtin_names[i]);
        assert_non_null(m);
        assert_string_equal(m->name, regmap_builtin_names[i]);
        assert_true(m->n > 10);
    }
    assert_null(regmap_builtin("nosuchmeter"));
    const struct regmap *d = regmap_builtin("dtsu666");
    assert_int_equal(d->function, 3);
    assert_int_equal(d->meter_end, d->end);
    /* the SDM630's own registers end at 0x015F; the server's extras follow */
    const struct regmap *s = regmap_builtin("sdm630");
    assert_int_equal(s->meter_end, 0x0160);
    assert_int_equal(s->end, 0x0218);
    for (size_t i = 0; i < s->n; i++)
        assert_true(s->e[i].server_extra == (s->e[i].addr >= 0x0200));
}

static void expect_error(const char *text, const char *fragment)
{
    struct regmap m;
    char err[REGMAP_ERR_LEN];
    assert_int_equal(parse(text, &m, err), -EINVAL);
    if (!strstr(err, fragment))
        fail_msg("error '%s' does not say '%s'", err, fragment);
}

static void test_parser_names_the_line_of_each_error(void **state)
{
    (void)state;
    expect_error("", "empty map");
    expect_error("0 float32 1 V voltage\n", "line 1: a map starts with");
    expect_error("map a\n", "no entries");
    expect_error("map Bad\n", "line 1: expected 'map NAME'");
    expect_error("map a\nmap b\n", "line 2: a second 'map'");
    expect_error("map a\nfunction 5\n", "line 2: expected 'function 3'");
    expect_error("map a\n0 float32 1 V voltage\nfunction 4\n", "line 3: 'function' comes once");
    expect_error("map a\n\n0x10000 float32 1 V voltage\n", "line 3: '0x10000' is not a register");
    expect_error("map a\n0xFFFF float32 1 V voltage\n", "do not fit");
    expect_error("map a\n0 float64 1 V voltage\n", "line 2: unknown type 'float64'");
    expect_error("map a\n0 float32 0 V voltage\n", "line 2: '0' is not a scale");
    expect_error("map a\n0 float32 nan V voltage\n", "is not a scale");
    expect_error("map a\n0 float32 1 V/s voltage\n", "is not a unit");
    expect_error("map a\n0 float32 1 V voltag\n", "line 2: unknown field 'voltag'");
    expect_error("map a\n0 float32 1 V wiring\n", "unknown field 'wiring'");
    expect_error("map a\n0 float32 1 V a|b|c|d\n", "unknown field 'a'");
    expect_error("map a\n0 float32 1 V voltage|current|pf|freq_hz\n", "more than 3 fields");
    expect_error("map a\n0 float32 1 V voltage\n1 float32 1 A current\n",
                 "line 3: register 0x0001 overlaps or comes before the entry of line 2");
    expect_error("map a\n0 float32 1 V voltage extra\n", "found 6 items");
    expect_error("map a\nextra\n0 float32 1 V voltage\nextra\n", "line 4: 'extra' comes once");
    expect_error("map a\nextra 2\n", "line 2: 'extra' comes once");
    expect_error("map a\n0 float32 1 V\n", "found 4 items");
    expect_error("map a\n0 float32\x01 1 V voltage\n", "line 2: character 0x01");
    char big[REGMAP_LINE_MAX + 20];
    memset(big, ' ', sizeof(big));
    memcpy(big, "map a\n#", 7);
    big[sizeof(big) - 1] = '\0';
    expect_error(big, "line 2: longer than");
}

static void test_parser_takes_comments_blank_lines_and_crlf(void **state)
{
    (void)state;
    static const char text[] = "# header\r\n\r\nmap a_b-1  # name\r\n\t0x0A uint16 1 - $unit\r\n"
                               "12 float32 -1 W power_w|power_w_a";
    struct regmap m;
    char err[REGMAP_ERR_LEN];
    assert_int_equal(parse(text, &m, err), 0);
    assert_string_equal(m.name, "a_b-1");
    assert_int_equal(m.function, 4);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.e[0].addr, 10);
    assert_int_equal(m.e[1].addr, 12);
    assert_int_equal(m.e[1].n_fields, 2);
    assert_int_equal(m.e[1].line, 5);
    assert_int_equal(m.end, 14);
    assert_true(m.e[1].scale == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdm630_puts_spec_quantities_at_eastron_addresses),
        cmocka_unit_test(test_single_phase_reading_fills_phase_one_and_totals),
        cmocka_unit_test(test_encode_window_cuts_entries_at_its_edges),
        cmocka_unit_test(test_decode_inverts_encode_for_every_type_and_word_order),
        cmocka_unit_test(test_decode_skips_sentinels_and_partial_entries),
        cmocka_unit_test(test_dtsu666_round_trip_keeps_its_fixed_point_units),
        cmocka_unit_test(test_every_builtin_map_parses),
        cmocka_unit_test(test_parser_names_the_line_of_each_error),
        cmocka_unit_test(test_parser_takes_comments_blank_lines_and_crlf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
