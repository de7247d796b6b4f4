/*
 * spool_record: the spool's on-disk record of one reading (spool.h), a fixed
 * SPOOL_RECORD_SIZE bytes with a CRC-32. Pure functions on caller buffers.
 */
#ifndef SMARTMETER_METER_SPOOL_RECORD_H
#define SMARTMETER_METER_SPOOL_RECORD_H

#include <stdint.h>

#include "spool.h"
#include "telemetry.h"

/* Writes r into rec[SPOOL_RECORD_SIZE]. */
void spool_record_encode(const struct reading *r, unsigned char *rec);

/*
 * Checks rec (magic, CRC, seq 1..READING_SEQ_MAX) and, when r is not NULL,
 * decodes it into *r. Returns 0, or -EBADMSG when the record is not intact.
 */
int spool_record_decode(const unsigned char *rec, struct reading *r);

/* The seq field of a record (check it with spool_record_decode first). */
uint64_t spool_record_seq(const unsigned char *rec);

/*
 * Decodes a record of the layout before three-phase readings ("SMR1",
 * SPOOL_RECORD_V1_SIZE bytes), for converting a spool an older meterd left.
 * Returns 0, or -EBADMSG when the record is not intact.
 */
int spool_record_decode_v1(const unsigned char *rec, struct reading *r);

#endif
