/*
 * Field groups (server/store/reading_fields.h): every field is in exactly
 * one of the system and the three phase groups; single phase is what meters
 * sent before three-phase metering; each phase has the same fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reading_fields.h"

static int bits(uint64_t m)
{
    return __builtin_popcountll(m);
}

static void test_every_field_is_in_one_group_of_a_partition(void **state)
{
    (void)state;
    uint64_t sys = reading_fields_reals(READING_FIELDS_SYSTEM);
    uint64_t a = reading_fields_reals(READING_FIELDS_PHASE_A),
             b = reading_fields_reals(READING_FIELDS_PHASE_B),
             c = reading_fields_reals(READING_FIELDS_PHASE_C);
    uint64_t all = reading_fields_reals(READING_FIELDS_ALL);
    assert_int_equal(bits(all), RR__COUNT);
    assert_true((sys & a) == 0 && (sys & b) == 0 && (sys & c) == 0);
    assert_true((a & b) == 0 && (b & c) == 0 && (a & c) == 0);
    assert_true((sys | a | b | c) == all);
    uint64_t call = reading_fields_counters(READING_FIELDS_ALL);
    uint64_t csys = reading_fields_counters(READING_FIELDS_SYSTEM);
    uint64_t ca = reading_fields_counters(READING_FIELDS_PHASE_A);
    assert_int_equal(bits(call), RC__COUNT);
    assert_true((csys | ca | reading_fields_counters(READING_FIELDS_PHASE_B) |
                 reading_fields_counters(READING_FIELDS_PHASE_C)) == call);
    assert_true(ca == UINT64_C(1) << RC_ENERGY_IMPORT_A);
}

static void test_phases_hold_their_own_fields(void **state)
{
    (void)state;
    assert_int_equal(reading_real_phase(RR_VOLTAGE_A), 'a');
    assert_int_equal(reading_real_phase(RR_POWER_W_B), 'b');
    assert_int_equal(reading_real_phase(RR_PHASE_DEG_C), 'c');
    assert_int_equal(reading_real_phase(RR_ANGLE_V_B), 'b');
    assert_int_equal(reading_real_phase(RR_VOLTAGE_AB), 0);
    assert_int_equal(reading_real_phase(RR_CURRENT_N), 0);
    assert_int_equal(reading_real_phase(RR_THD_V), 0);
    assert_int_equal(reading_real_phase(RR_DEMAND_MAX_W), 0);
    assert_int_equal(reading_counter_phase(RC_ENERGY_IMPORT_C), 'c');
    assert_int_equal(reading_counter_phase(RC_ENERGY_EXPORT), 0);
    assert_int_equal(reading_counter_phase(RC_DEMAND_MAX_TS), 0);
    /* b and c also have the voltage angle (a's is the reference, 0) */
    assert_int_equal(bits(reading_fields_reals(READING_FIELDS_PHASE_B)),
                     bits(reading_fields_reals(READING_FIELDS_PHASE_A)) + 1);
    assert_int_equal(bits(reading_fields_reals(READING_FIELDS_PHASE_C)),
                     bits(reading_fields_reals(READING_FIELDS_PHASE_B)));
    assert_int_equal(reading_fields_phase('c'), READING_FIELDS_PHASE_C);
}

static void test_single_phase_is_what_meters_sent_before(void **state)
{
    (void)state;
    uint64_t single = reading_fields_reals(READING_FIELDS_SINGLE);
    assert_true(single & (UINT64_C(1) << RR_VOLTAGE));
    assert_true(single & (UINT64_C(1) << RR_PHASE_DEG));
    assert_false(single & (UINT64_C(1) << RR_VOLTAGE_AB));
    assert_false(single & (UINT64_C(1) << RR_DEMAND_W));
    assert_true((single & ~reading_fields_reals(READING_FIELDS_SYSTEM)) == 0);
    uint64_t cs = reading_fields_counters(READING_FIELDS_SINGLE);
    assert_true(cs & (UINT64_C(1) << RC_ENERGY_IMPORT));
    assert_true(cs & (UINT64_C(1) << RC_SAMPLES_DROPPED));
    assert_false(cs & (UINT64_C(1) << RC_DEMAND_MAX_TS));
    assert_int_equal(reading_fields_reals((enum reading_fields)99), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_is_in_one_group_of_a_partition),
        cmocka_unit_test(test_phases_hold_their_own_fields),
        cmocka_unit_test(test_single_phase_is_what_meters_sent_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
