/*
 * What a DTU sends the server (server/dtu/rtu.c): its registration packet, and
 * the Modbus RTU answers of the meters behind it, on any bytes.
 *
 * The first four bytes choose the request the answer is read against (unit,
 * function, count); the rest is the answer. Checks: a registration accepted is
 * 1..64 printable characters; an answer is only RTU_OK when it is exactly the
 * frame for that request with a good CRC, and RTU_MORE only while shorter than
 * a whole frame.
 */
#include <string.h>

#include "fuzz.h"
#include "rtu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reg[RTU_REGISTRATION_MAX + 1];
    if (rtu_registration(data, size, reg) == 0) {
        size_t n = strlen(reg);
        FUZZ_CHECK(n >= 1 && n <= RTU_REGISTRATION_MAX);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(reg[i] >= 0x20 && reg[i] <= 0x7e);
    }
    if (size < 4)
        return 0;
    uint8_t unit = data[0], function = data[1] & 1 ? 4 : 3;
    uint16_t count = (uint16_t)(1 + ((data[2] << 8 | data[3]) % RTU_READ_MAX));
    const uint8_t *buf = data + 4;
    size_t n = size - 4;
    uint16_t regs[RTU_READ_MAX];
    int ex = -1;
    enum rtu_status st = rtu_read_response(buf, n, unit, function, count, regs, &ex);
    size_t whole = 5 + 2 * (size_t)count;
    if (st == RTU_OK) {
        FUZZ_CHECK(n >= whole && buf[0] == unit && buf[1] == function && buf[2] == 2 * count);
        FUZZ_CHECK(rtu_crc(buf, whole) == 0);
        for (uint16_t i = 0; i < count; i++)
            FUZZ_CHECK(regs[i] == (uint16_t)(buf[3 + 2 * i] << 8 | buf[4 + 2 * i]));
    } else if (st == RTU_EXCEPTION) {
        FUZZ_CHECK(n >= 5 && buf[1] == (function | 0x80) && ex == buf[2]);
    } else if (st == RTU_MORE) {
        FUZZ_CHECK(n < whole);
    }
    return 0;
}
