#include "spool_record.h"

#include <errno.h>
#include <string.h>

#include "fileutil.h"

/*
 * Record layout, little-endian, SPOOL_RECORD_SIZE bytes:
 *   0  u32 magic "SMR1"          4 u32 real_present       8 u32 counter_present
 *  12  u32 reserved (0)         16 u64 seq               24 i64 ts_ms
 *  32  f64 real[18]            176 i64 counter[6]       224 u32 CRC-32 of bytes 0..223
 * The reals are kept as doubles so a resent reading encodes to exactly the
 * bytes it was first sent as. A new telemetry field needs a new magic.
 */
#define RECORD_MAGIC   0x31524d53u /* "SMR1" */
#define RECORD_CRC_OFF (SPOOL_RECORD_SIZE - 4)
#define REAL_OFF       32
#define COUNTER_OFF    (REAL_OFF + 8 * RR__COUNT)
_Static_assert(COUNTER_OFF + 8 * RC__COUNT == RECORD_CRC_OFF, "record layout");

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

void spool_record_encode(const struct reading *r, unsigned char *rec)
{
    memset(rec, 0, SPOOL_RECORD_SIZE);
    put_u32(rec, RECORD_MAGIC);
    put_u32(rec + 4, r->real_present);
    put_u32(rec + 8, r->counter_present);
    put_u64(rec + 16, r->seq);
    put_u64(rec + 24, (uint64_t)r->ts_ms);
    for (int k = 0; k < RR__COUNT; k++) {
        uint64_t bits;
        memcpy(&bits, &r->real[k], sizeof(bits));
        put_u64(rec + REAL_OFF + 8 * k, bits);
    }
    for (int k = 0; k < RC__COUNT; k++)
        put_u64(rec + COUNTER_OFF + 8 * k, (uint64_t)r->counter[k]);
    put_u32(rec + RECORD_CRC_OFF, crc32_ieee(rec, RECORD_CRC_OFF));
}

int spool_record_decode(const unsigned char *rec, struct reading *r)
{
    if (get_u32(rec) != RECORD_MAGIC ||
        get_u32(rec + RECORD_CRC_OFF) != crc32_ieee(rec, RECORD_CRC_OFF))
        return -EBADMSG;
    uint64_t seq = get_u64(rec + 16);
    if (seq == 0 || seq > READING_SEQ_MAX)
        return -EBADMSG;
    if (!r)
        return 0;
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = (int64_t)get_u64(rec + 24);
    r->real_present = get_u32(rec + 4) & ((1u << RR__COUNT) - 1);
    r->counter_present = get_u32(rec + 8) & ((1u << RC__COUNT) - 1);
    for (int k = 0; k < RR__COUNT; k++) {
        uint64_t bits = get_u64(rec + REAL_OFF + 8 * k);
        memcpy(&r->real[k], &bits, sizeof(bits));
    }
    for (int k = 0; k < RC__COUNT; k++)
        r->counter[k] = (int64_t)get_u64(rec + COUNTER_OFF + 8 * k);
    return 0;
}

uint64_t spool_record_seq(const unsigned char *rec)
{
    return get_u64(rec + 16);
}
