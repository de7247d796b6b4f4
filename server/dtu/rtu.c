/* rtu: Modbus RTU framing (rtu.h). */
#include "rtu.h"

#include <string.h>

int rtu_registration(const uint8_t *buf, size_t n, char out[RTU_REGISTRATION_MAX + 1])
{
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == '\0'))
        n--;
    if (n == 0 || n > RTU_REGISTRATION_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            return -1;
    memcpy(out, buf, n);
    out[n] = '\0';
    return 0;
}

uint16_t rtu_crc(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

void rtu_read_request(uint8_t unit, uint8_t function, uint16_t addr, uint16_t count,
                      uint8_t out[RTU_REQUEST_LEN])
{
    out[0] = unit;
    out[1] = function;
    out[2] = (uint8_t)(addr >> 8);
    out[3] = (uint8_t)addr;
    out[4] = (uint8_t)(count >> 8);
    out[5] = (uint8_t)count;
    uint16_t crc = rtu_crc(out, 6);
    out[6] = (uint8_t)crc;
    out[7] = (uint8_t)(crc >> 8);
}

static int crc_ok(const uint8_t *buf, size_t len)
{
    uint16_t crc = rtu_crc(buf, len - 2);
    return buf[len - 2] == (uint8_t)crc && buf[len - 1] == (uint8_t)(crc >> 8);
}

enum rtu_status rtu_read_response(const uint8_t *buf, size_t n, uint8_t unit, uint8_t function,
                                  uint16_t count, uint16_t *regs, int *ret_exception)
{
    if (n < 2)
        return RTU_MORE;
    if (buf[0] != unit)
        return RTU_MISMATCH;
    if (buf[1] == (uint8_t)(function | 0x80)) {
        if (n < 5)
            return RTU_MORE;
        if (!crc_ok(buf, 5))
            return RTU_BAD_CRC;
        *ret_exception = buf[2];
        return RTU_EXCEPTION;
    }
    if (buf[1] != function)
        return RTU_MISMATCH;
    if (n < 3)
        return RTU_MORE;
    if (buf[2] != 2 * count || count > RTU_READ_MAX)
        return RTU_MISMATCH;
    size_t len = 5 + 2 * (size_t)count;
    if (n < len)
        return RTU_MORE;
    if (!crc_ok(buf, len))
        return RTU_BAD_CRC;
    for (uint16_t i = 0; i < count; i++)
        regs[i] = (uint16_t)((buf[3 + 2 * i] << 8) | buf[4 + 2 * i]);
    return RTU_OK;
}

size_t rtu_plan(const struct regmap *m, unsigned gap_max, struct rtu_block *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct regmap_entry *e = &m->e[i];
        if (e->server_extra || e->fields[0].kind == REGMAP_PSEUDO)
            continue;
        uint32_t end = (uint32_t)e->addr + regmap_type_words(e->type);
        if (n > 0) {
            struct rtu_block *b = &out[n - 1];
            uint32_t b_end = (uint32_t)b->addr + b->count;
            if (e->addr - b_end <= gap_max && end - b->addr <= RTU_READ_MAX) {
                b->count = (uint16_t)(end - b->addr);
                continue;
            }
        }
        if (n == RTU_BLOCKS_MAX)
            break;
        out[n++] = (struct rtu_block){e->addr, (uint16_t)(end - e->addr)};
    }
    return n;
}
