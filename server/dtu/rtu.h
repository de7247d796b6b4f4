/*
 * rtu: what goes over a DTU's link (docs/modbus.md, "Meters behind 4G
 * DTUs"): its registration packet, and Modbus RTU framing: the CRC, a read
 * request, what a response buffer holds so far, and the reads a register map
 * needs. Pure: no I/O, no allocation.
 */
#ifndef SMARTMETER_DTU_RTU_H
#define SMARTMETER_DTU_RTU_H

#include <stddef.h>
#include <stdint.h>

#include "regmap.h"

#define RTU_REQUEST_LEN  8
#define RTU_READ_MAX     125 /* registers one read may ask for */
#define RTU_RESPONSE_MAX (5 + 2 * RTU_READ_MAX)

/* The Modbus CRC-16 of p[0..n) (polynomial 0xA001, initial 0xFFFF). */
uint16_t rtu_crc(const uint8_t *p, size_t n);

/* Writes the read request (function 3 or 4) with its CRC, low byte first, into out. */
void rtu_read_request(uint8_t unit, uint8_t function, uint16_t addr, uint16_t count,
                      uint8_t out[RTU_REQUEST_LEN]);

enum rtu_status {
    RTU_MORE,      /* not complete yet: read more */
    RTU_OK,        /* the registers are in regs */
    RTU_EXCEPTION, /* the device answered an exception (code in *ret_exception) */
    RTU_BAD_CRC,   /* a whole frame whose CRC does not match */
    RTU_MISMATCH   /* a frame from another unit or function, or of the wrong length */
};

/*
 * What buf[0..n) holds as the answer to a read of count registers from unit
 * with function: RTU_MORE until a whole frame is there, then RTU_OK with
 * regs[0..count) filled, or another status. Never reads past n.
 */
enum rtu_status rtu_read_response(const uint8_t *buf, size_t n, uint8_t unit, uint8_t function,
                                  uint16_t count, uint16_t *regs, int *ret_exception);

#define RTU_REGISTRATION_MAX 64 /* characters of a DTU's registration packet */

/*
 * A DTU's registration packet buf[0..n) as a string: printable ASCII, 1..64
 * characters once CR, LF and NUL at its end are dropped. 0 with out set, or
 * -1 for anything else.
 */
int rtu_registration(const uint8_t *buf, size_t n, char out[RTU_REGISTRATION_MAX + 1]);

/* One read of a poll. */
struct rtu_block {
    uint16_t addr, count;
};
#define RTU_BLOCKS_MAX REGMAP_ENTRIES_MAX

/*
 * The reads that cover every entry a meter has (before 'extra') of m, in
 * address order: entries share a read while it stays within RTU_READ_MAX
 * registers and the gap between two stays within gap_max. Returns how many
 * blocks it wrote (at most RTU_BLOCKS_MAX; 0 for a map without such entries).
 */
size_t rtu_plan(const struct regmap *m, unsigned gap_max, struct rtu_block *out);

#endif
