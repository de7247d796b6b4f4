/* rtu: Modbus RTU framing of the DTU gateway and the reads a register map needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rtu.h"

static void test_crc_and_request_match_the_modbus_spec(void **state)
{
    (void)state;
    /* Read input registers 0x0000..0x0001 of unit 1: 01 04 00 00 00 02 71 CB. */
    uint8_t req[RTU_REQUEST_LEN];
    rtu_read_request(1, 4, 0x0000, 2, req);
    static const uint8_t want[RTU_REQUEST_LEN] = {0x01, 0x04, 0x00, 0x00, 0x00, 0x02, 0x71, 0xCB};
    assert_memory_equal(req, want, sizeof(want));
    /* The CRC of a frame with its own CRC appended is 0. */
    assert_int_equal(rtu_crc(req, sizeof(req)), 0);
}

/* A response frame: unit, function, byte count, the registers, the CRC. */
static size_t response(uint8_t unit, uint8_t fn, const uint16_t *regs, size_t n, uint8_t *out)
{
    out[0] = unit;
    out[1] = fn;
    out[2] = (uint8_t)(2 * n);
    for (size_t i = 0; i < n; i++) {
        out[3 + 2 * i] = (uint8_t)(regs[i] >> 8);
        out[4 + 2 * i] = (uint8_t)regs[i];
    }
    uint16_t crc = rtu_crc(out, 3 + 2 * n);
    out[3 + 2 * n] = (uint8_t)crc;
    out[4 + 2 * n] = (uint8_t)(crc >> 8);
    return 5 + 2 * n;
}

static void test_response_is_read_whole_checked_and_matched(void **state)
{
    (void)state;
    static const uint16_t regs[3] = {0x4365, 0x8000, 0x1234};
    uint8_t buf[RTU_RESPONSE_MAX];
    size_t len = response(3, 4, regs, 3, buf);
    uint16_t got[3];
    int ex = 0;
    for (size_t n = 0; n < len; n++)
        assert_int_equal(rtu_read_response(buf, n, 3, 4, 3, got, &ex), RTU_MORE);
    assert_int_equal(rtu_read_response(buf, len, 3, 4, 3, got, &ex), RTU_OK);
    assert_memory_equal(got, regs, sizeof(regs));
    assert_int_equal(rtu_read_response(buf, len, 5, 4, 3, got, &ex), RTU_MISMATCH);
    assert_int_equal(rtu_read_response(buf, len, 3, 3, 3, got, &ex), RTU_MISMATCH);
    assert_int_equal(rtu_read_response(buf, len, 3, 4, 2, got, &ex), RTU_MISMATCH);
    buf[4] ^= 0x01;
    assert_int_equal(rtu_read_response(buf, len, 3, 4, 3, got, &ex), RTU_BAD_CRC);
    /* an exception: 03 84 02 + CRC */
    uint8_t exc[5] = {0x03, 0x84, 0x02};
    uint16_t crc = rtu_crc(exc, 3);
    exc[3] = (uint8_t)crc;
    exc[4] = (uint8_t)(crc >> 8);
    assert_int_equal(rtu_read_response(exc, 4, 3, 4, 3, got, &ex), RTU_MORE);
    assert_int_equal(rtu_read_response(exc, 5, 3, 4, 3, got, &ex), RTU_EXCEPTION);
    assert_int_equal(ex, 2);
}

static void test_plan_reads_the_meters_registers_only(void **state)
{
    (void)state;
    const struct regmap *m = regmap_builtin("sdm630");
    assert_non_null(m);
    struct rtu_block b[RTU_BLOCKS_MAX];
    size_t n = rtu_plan(m, 16, b);
    assert_true(n >= 3);
    uint32_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(b[i].count >= 1 && b[i].count <= RTU_READ_MAX);
        assert_true((uint32_t)b[i].addr + b[i].count <= m->meter_end);
        if (i)
            assert_true(b[i].addr >= b[i - 1].addr + b[i - 1].count);
        covered += b[i].count;
    }
    /* every entry a meter has lies in one block */
    for (size_t k = 0; k < m->n; k++) {
        const struct regmap_entry *e = &m->e[k];
        if (e->server_extra || e->fields[0].kind == REGMAP_PSEUDO)
            continue;
        int in = 0;
        for (size_t i = 0; i < n; i++)
            in += e->addr >= b[i].addr &&
                  e->addr + regmap_type_words(e->type) <= (uint32_t)b[i].addr + b[i].count;
        assert_int_equal(in, 1);
    }
    assert_true(covered < 0x0160); /* the long gaps are not read */
    assert_int_equal(b[0].addr, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_and_request_match_the_modbus_spec),
        cmocka_unit_test(test_response_is_read_whole_checked_and_matched),
        cmocka_unit_test(test_plan_reads_the_meters_registers_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
