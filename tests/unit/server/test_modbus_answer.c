/* modbus answer: which device a unit names and what one read request gets, on a real SQLite store.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "answer.h"
#include "device_meta.h"
#include "sqlite_fixture.h"
#include "timeutil.h"

enum { DEV_A, DEV_B, DEV_C, DEV_D, DEV__COUNT };

struct fx {
    struct sqlite_fixture db;
    int64_t pk[DEV__COUNT];
    struct modbus_units *units;
};

static void set_unit(struct fx *f, int dev, int unit, const char *dtu)
{
    struct device_meta m;
    memset(&m, 0, sizeof(m));
    char err[DEVICE_META_ERR_LEN];
    assert_int_equal(device_meta_set_number(&m, DM_MODBUS_UNIT, unit, err), 0);
    if (dtu)
        assert_int_equal(device_meta_set_text(&m, DM_DTU_ID, dtu, err), 0);
    assert_int_equal(
        store_device_meta_update(f->db.st, f->pk[dev], &m, 0, "test", time_now_ms(), NULL), 0);
}

static int setup(void **state)
{
    static const char *const devices[] = {"a", "b", "c", "d", NULL};
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || sqlite_fixture_open(&f->db, "modbus_answer", devices, f->pk))
        return -1;
    f->units = modbus_units_new(1);
    *state = f;
    set_unit(f, DEV_A, 3, NULL);
    set_unit(f, DEV_B, 5, "dtu-1"); /* one unit behind two DTUs */
    set_unit(f, DEV_C, 5, "dtu-2");
    set_unit(f, DEV_D, 6, NULL); /* no reading yet */
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.has_seq = true;
    r.seq = 1;
    r.ts_ms = time_now_ms() - 1000;
    reading_set_real(&r, RR_VOLTAGE, 229.5);
    reading_set_real(&r, RR_CURRENT, 1.5);
    size_t n;
    assert_int_equal(store_readings_insert(f->db.st, f->pk[DEV_A], &r, 1, &n), 0);
    r.seq = 2;
    reading_set_real(&r, RR_VOLTAGE, 231.25);
    assert_int_equal(store_readings_insert(f->db.st, f->pk[DEV_A], &r, 1, &n), 0);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    modbus_units_free(f->units);
    sqlite_fixture_close(&f->db);
    free(f);
    return 0;
}

static float f32(const uint16_t *regs)
{
    uint32_t bits = ((uint32_t)regs[0] << 16) | regs[1];
    float v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static int ask(struct fx *f, int unit, int function, uint16_t addr, uint16_t count, uint16_t *regs)
{
    struct modbus_request q = {.unit = unit, .function = function, .addr = addr, .count = count};
    int store_result = -1;
    int ex = modbus_answer(f->units, f->db.st, &q, time_now_ms(), regs, &store_result);
    assert_int_equal(store_result, 0);
    return ex;
}

static void test_a_unit_answers_its_devices_latest_reading(void **state)
{
    struct fx *f = *state;
    uint16_t regs[MODBUS_READ_MAX];
    assert_int_equal(ask(f, 3, 4, 0x0000, 2, regs), 0);
    assert_true(f32(regs) == 231.25f);
    assert_int_equal(ask(f, 3, 4, 0x0206, 1, regs), 0);
    assert_int_equal(regs[0], 3);
}

static void test_a_device_without_readings_answers_not_available(void **state)
{
    struct fx *f = *state;
    uint16_t regs[MODBUS_READ_MAX];
    assert_int_equal(ask(f, 6, 4, 0x0000, 4, regs), 0);
    assert_true(isnan(f32(regs)) && isnan(f32(regs + 2)));
    assert_int_equal(ask(f, 6, 4, 0x0202, 2, regs), 0);
    assert_true(f32(regs) == -1.0f); /* status unknown */
}

static void test_bad_requests_get_their_exceptions_in_order(void **state)
{
    struct fx *f = *state;
    uint16_t regs[MODBUS_READ_MAX];
    assert_int_equal(ask(f, 7, 4, 0, 2, regs), MBX_GATEWAY_TARGET);
    assert_int_equal(ask(f, 0, 4, 0, 2, regs), MBX_GATEWAY_TARGET);
    assert_int_equal(ask(f, 255, 4, 0, 2, regs), MBX_GATEWAY_TARGET);
    assert_int_equal(ask(f, 5, 4, 0, 2, regs), MBX_GATEWAY_PATH);
    assert_int_equal(ask(f, 7, 3, 0, 2, regs), MBX_GATEWAY_TARGET); /* the unit first */
    assert_int_equal(ask(f, 3, 3, 0, 2, regs), MBX_ILLEGAL_FUNCTION);
    assert_int_equal(ask(f, 3, 16, 0, 2, regs), MBX_ILLEGAL_FUNCTION);
    assert_int_equal(ask(f, 3, 4, 0, 0, regs), MBX_ILLEGAL_VALUE);
    assert_int_equal(ask(f, 3, 4, 0, MODBUS_READ_MAX + 1, regs), MBX_ILLEGAL_VALUE);
    assert_int_equal(ask(f, 3, 4, 0x0217, 2, regs), MBX_ILLEGAL_ADDRESS);
    assert_int_equal(ask(f, 3, 4, 0xFFFF, 1, regs), MBX_ILLEGAL_ADDRESS);
    assert_int_equal(ask(f, 3, 4, 0x0217, 1, regs), 0);
    assert_int_equal(ask(f, 3, 4, 0, MODBUS_READ_MAX, regs), 0);
}

static void test_the_directory_follows_a_changed_unit(void **state)
{
    struct fx *f = *state;
    uint16_t regs[MODBUS_READ_MAX];
    assert_int_equal(ask(f, 3, 4, 0, 2, regs), 0);
    set_unit(f, DEV_A, 4, NULL);
    usleep(5000); /* past refresh_ms */
    assert_int_equal(ask(f, 3, 4, 0, 2, regs), MBX_GATEWAY_TARGET);
    assert_int_equal(ask(f, 4, 4, 0, 2, regs), 0);
    assert_true(f32(regs) == 231.25f);
    set_unit(f, DEV_A, 3, NULL);
    usleep(5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_unit_answers_its_devices_latest_reading),
        cmocka_unit_test(test_a_device_without_readings_answers_not_available),
        cmocka_unit_test(test_bad_requests_get_their_exceptions_in_order),
        cmocka_unit_test(test_the_directory_follows_a_changed_unit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
