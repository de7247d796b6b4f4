/*
 * A Modbus register map file (server/regmap/regmap.c) on any bytes.
 *
 * Checks: an accepted map has a name, function 3 or 4, 1..REGMAP_ENTRIES_MAX
 * entries ascending without overlap inside 0..65535, each with 1..3 fields
 * and a finite non-zero scale; a refused one gets a message. An accepted
 * map then encodes a reading into its whole range and decodes it back
 * without tripping the sanitizers.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "regmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct regmap m;
    char err[REGMAP_ERR_LEN] = "";
    int r = regmap_parse((const char *)data, size, &m, err);
    if (r) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(m.name[0] && (m.function == 3 || m.function == 4));
    FUZZ_CHECK(m.n >= 1 && m.n <= REGMAP_ENTRIES_MAX && m.end <= 65536 && m.meter_end <= m.end);
    for (size_t i = 0; i < m.n; i++) {
        const struct regmap_entry *e = &m.e[i];
        FUZZ_CHECK(e->n_fields >= 1 && e->n_fields <= REGMAP_ALTS_MAX);
        FUZZ_CHECK(isfinite(e->scale) && e->scale != 0);
        FUZZ_CHECK((uint32_t)e->addr + regmap_type_words(e->type) <= m.end);
        if (i)
            FUZZ_CHECK(e->addr >= m.e[i - 1].addr + regmap_type_words(m.e[i - 1].type));
    }
    struct reading in;
    memset(&in, 0, sizeof(in));
    in.ts_ms = FUZZ_NOW_MS;
    for (int f = 0; f < RR__COUNT; f++)
        reading_set_real(&in, (enum reading_real)f, reading_reals[f].max);
    for (int c = 0; c < RC__COUNT; c++)
        reading_set_counter(&in, (enum reading_counter)c, reading_counters[c].max);
    static uint16_t regs[65536];
    struct regmap_context ctx = {.now_ms = FUZZ_NOW_MS, .online = 1, .unit = 1};
    uint16_t start = m.e[0].addr;
    size_t n = m.end - start;
    regmap_encode(&m, &in, &ctx, start, regs, n);
    struct reading out;
    memset(&out, 0, sizeof(out));
    FUZZ_CHECK(regmap_decode(&m, start, regs, n, &out) <= m.n);
    return 0;
}
