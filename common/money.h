/*
 * money: exact conversions between integer fen (1/100 yuan) and decimal text.
 * Money is never a floating-point value inside the system; a JSON number
 * from a client is accepted only when it denotes whole fen exactly.
 */
#ifndef SMARTMETER_MONEY_H
#define SMARTMETER_MONEY_H

#include <stdint.h>

#define MONEY_TEXT_LEN 32

/* "123", "123.4", "123.45", "-0.05": at most two decimals. 0, -EINVAL or -ERANGE. */
int money_parse(const char *s, int64_t *ret_fen);
/* A JSON number already parsed as a double: accepted only when it is exactly the double that
   its value with two decimals reads as (whole fen, nothing rounded); else -EINVAL or -ERANGE. */
int money_from_double(double yuan, int64_t *ret_fen);
/* "123.45", "-0.05", "0.00" */
void money_format(int64_t fen, char out[MONEY_TEXT_LEN]);

#endif
