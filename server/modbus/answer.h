/*
 * answer: what the Modbus TCP server answers to one read request, apart
 * from the protocol (docs/modbus.md): which device a unit id names, and its
 * latest committed reading in the SDM630 map (server/regmap/), or the
 * exception the request earns.
 *
 * The unit directory maps each Modbus unit (1..247) to the device whose
 * metadata sets that modbus_unit (PATCH /api/devices/:id). It is shared by
 * every connection, reloaded from the store at most every refresh_ms when a
 * request needs it, and thread-safe. A unit that two devices claim (behind
 * different DTUs) names neither: it answers "gateway path unavailable".
 *
 * Values come from the same place as the API's: store_reading_latest() and
 * the device's status, read through the caller's connection at each request.
 */
#ifndef SMARTMETER_MODBUS_ANSWER_H
#define SMARTMETER_MODBUS_ANSWER_H

#include <stdint.h>

#include "store.h"

/* Modbus exception codes this server answers. */
enum modbus_exception {
    MBX_ILLEGAL_FUNCTION = 0x01, /* anything but function 04 (read input registers) */
    MBX_ILLEGAL_ADDRESS = 0x02,  /* registers past the map */
    MBX_ILLEGAL_VALUE = 0x03,    /* a count outside 1..125 */
    MBX_DEVICE_FAILURE = 0x04,   /* the database did not answer */
    MBX_GATEWAY_PATH = 0x0A,     /* a unit two devices claim */
    MBX_GATEWAY_TARGET = 0x0B    /* a unit no device has */
};

/* Most registers one read may ask for (the Modbus limit of function 04). */
#define MODBUS_READ_MAX 125

struct modbus_units;

/* A directory reloaded at most every refresh_ms (> 0). NULL on ENOMEM. */
struct modbus_units *modbus_units_new(int64_t refresh_ms);
void modbus_units_free(struct modbus_units *u); /* NULL is fine */

struct modbus_request {
    int unit;       /* 0..255 as the MBAP header carries it */
    int function;   /* 1..255 */
    uint16_t addr;  /* first register */
    uint16_t count; /* registers */
};

/*
 * Answers q for the device on its unit: 0 with regs[0..q->count) filled
 * (regs holds MODBUS_READ_MAX), or an enum modbus_exception. The checks come
 * in this order: the unit (0x0B, 0x0A), the function (0x01), the count
 * (0x03), the address range (0x02). st is the caller's connection; a store
 * error answers 0x04 and is left in *ret_store_result (0 otherwise), so the
 * caller can drop a connection that reported -ENOTCONN.
 */
int modbus_answer(struct modbus_units *u, struct store *st, const struct modbus_request *q,
                  int64_t now_ms, uint16_t *regs, int *ret_store_result);

#endif
