/*
 * recharge: the rules a credit to a device's prepaid balance follows before
 * it reaches the ledger (store_recharge() keeps the transaction's own rules:
 * lock, idempotency, balance range). Pure: no I/O, no allocation.
 *
 * An amount is yuan with at most two decimals, given as a JSON integer,
 * number or decimal string (the seed sent {"amount":100}); internally it is
 * integer fen, 0 < fen <= RECHARGE_MAX_FEN.
 */
#ifndef SMARTMETER_BILLING_RECHARGE_H
#define SMARTMETER_BILLING_RECHARGE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Largest single recharge: 10,000,000.00 yuan. */
#define RECHARGE_MAX_FEN INT64_C(1000000000)

/*
 * The amount v (a JSON integer, real or string of yuan) as fen in *ret_fen.
 * Returns 0; -ENOENT when v is NULL; -EMEDIUMTYPE when v is another JSON
 * type; -EINVAL when it is not yuan with at most two decimals; -ERANGE when
 * it is not more than 0 and at most RECHARGE_MAX_FEN.
 */
int recharge_amount_from_json(const json_t *v, int64_t *ret_fen);

/* An Idempotency-Key: 1..IDEMPOTENCY_KEY_MAX printable ASCII characters, no space. */
bool recharge_key_valid(const char *key);

#endif
