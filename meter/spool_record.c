#include "spool_record.h"

#include <errno.h>
#include <string.h>

#include "fileutil.h"

/*
 * Record layout, little-endian, SPOOL_RECORD_SIZE bytes:
 *   0  u32 magic "SMR2"          4 u32 reserved (0)       8 u64 real_present
 *  16  u64 counter_present      24 u64 seq               32 i64 ts_ms
 *  40  u8 label[2], 6 reserved  48 f64 real[56]         496 i64 counter[10]
 * 576  u32 CRC-32 of bytes 0..575
 * The reals are kept as doubles so a resent reading encodes to exactly the
 * bytes it was first sent as. A new telemetry field needs a new magic.
 *
 * The layout before three-phase readings, "SMR1", SPOOL_RECORD_V1_SIZE bytes:
 *   0  u32 magic "SMR1"          4 u32 real_present       8 u32 counter_present
 *  12  u32 reserved (0)         16 u64 seq               24 i64 ts_ms
 *  32  f64 real[18]            176 i64 counter[6]       224 u32 CRC-32 of bytes 0..223
 */
#define RECORD_MAGIC   0x32524d53u /* "SMR2" */
#define RECORD_CRC_OFF (SPOOL_RECORD_SIZE - 4)
#define LABEL_OFF      40
#define REAL_OFF       48
#define COUNTER_OFF    (REAL_OFF + 8 * RR__COUNT)
_Static_assert(COUNTER_OFF + 8 * RC__COUNT == RECORD_CRC_OFF, "record layout");
_Static_assert(RL__COUNT <= 8, "record layout");

#define V1_MAGIC       0x31524d53u /* "SMR1" */
#define V1_CRC_OFF     (SPOOL_RECORD_V1_SIZE - 4)
#define V1_REALS       18
#define V1_COUNTERS    6
#define V1_REAL_OFF    32
#define V1_COUNTER_OFF (V1_REAL_OFF + 8 * V1_REALS)
_Static_assert(V1_COUNTER_OFF + 8 * V1_COUNTERS == V1_CRC_OFF, "v1 record layout");

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
    put_u64(rec + 8, r->real_present);
    put_u64(rec + 16, r->counter_present);
    put_u64(rec + 24, r->seq);
    put_u64(rec + 32, (uint64_t)r->ts_ms);
    memcpy(rec + LABEL_OFF, r->label, RL__COUNT);
    for (int k = 0; k < RR__COUNT; k++) {
        uint64_t bits;
        memcpy(&bits, &r->real[k], sizeof(bits));
        put_u64(rec + REAL_OFF + 8 * k, bits);
    }
    for (int k = 0; k < RC__COUNT; k++)
        put_u64(rec + COUNTER_OFF + 8 * k, (uint64_t)r->counter[k]);
    put_u32(rec + RECORD_CRC_OFF, crc32_ieee(rec, RECORD_CRC_OFF));
}

/* Only the fields this build knows: bits past them were written by no one. */
static uint64_t mask(uint64_t bits, unsigned n)
{
    return n >= 64 ? bits : bits & ((UINT64_C(1) << n) - 1);
}

int spool_record_decode(const unsigned char *rec, struct reading *r)
{
    if (get_u32(rec) != RECORD_MAGIC ||
        get_u32(rec + RECORD_CRC_OFF) != crc32_ieee(rec, RECORD_CRC_OFF))
        return -EBADMSG;
    uint64_t seq = get_u64(rec + 24);
    if (seq == 0 || seq > READING_SEQ_MAX)
        return -EBADMSG;
    if (!r)
        return 0;
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = (int64_t)get_u64(rec + 32);
    r->real_present = mask(get_u64(rec + 8), RR__COUNT);
    r->counter_present = mask(get_u64(rec + 16), RC__COUNT);
    for (int k = 0; k < RR__COUNT; k++) {
        uint64_t bits = get_u64(rec + REAL_OFF + 8 * k);
        memcpy(&r->real[k], &bits, sizeof(bits));
    }
    for (int k = 0; k < RC__COUNT; k++)
        r->counter[k] = (int64_t)get_u64(rec + COUNTER_OFF + 8 * k);
    for (int k = 0; k < RL__COUNT; k++) {
        uint8_t v = rec[LABEL_OFF + k];
        unsigned n = 0;
        while (reading_labels[k].values[n])
            n++;
        r->label[k] = v <= n ? v : 0;
    }
    return 0;
}

uint64_t spool_record_seq(const unsigned char *rec)
{
    return get_u64(rec + 24);
}

int spool_record_decode_v1(const unsigned char *rec, struct reading *r)
{
    if (get_u32(rec) != V1_MAGIC || get_u32(rec + V1_CRC_OFF) != crc32_ieee(rec, V1_CRC_OFF))
        return -EBADMSG;
    uint64_t seq = get_u64(rec + 16);
    if (seq == 0 || seq > READING_SEQ_MAX)
        return -EBADMSG;
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = (int64_t)get_u64(rec + 24);
    /* The first 18 reals and 6 counters kept their numbers. */
    r->real_present = mask(get_u32(rec + 4), V1_REALS);
    r->counter_present = mask(get_u32(rec + 8), V1_COUNTERS);
    for (int k = 0; k < V1_REALS; k++) {
        uint64_t bits = get_u64(rec + V1_REAL_OFF + 8 * k);
        memcpy(&r->real[k], &bits, sizeof(bits));
    }
    for (int k = 0; k < V1_COUNTERS; k++)
        r->counter[k] = (int64_t)get_u64(rec + V1_COUNTER_OFF + 8 * k);
    return 0;
}
