/*
 * jsonw: a streaming JSON writer into a capped dynbuf.
 *
 * Used for every response and payload we produce, so that large answers
 * (thousands of readings) are written in one pass without building a tree.
 * Errors are sticky: after the first failure (cap reached, out of memory,
 * nesting too deep) every call is a no-op and jsonw_error() reports it.
 */
#ifndef SMARTMETER_JSONW_H
#define SMARTMETER_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
    struct dynbuf *b;
    int depth;
    bool after_key;
    int err;
    uint8_t has_items[JSONW_MAX_DEPTH];
};

void jsonw_init(struct jsonw *w, struct dynbuf *b);
/* 0, or the first error (-E2BIG, -ENOMEM, -EINVAL). */
int jsonw_error(const struct jsonw *w);

void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
void jsonw_key(struct jsonw *w, const char *key);

void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t len);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
/* Finite values only; NaN and infinities are written as null. */
void jsonw_double(struct jsonw *w, double v);
/* An integer count of thousandths written as a decimal number ("12.345"). */
void jsonw_milli(struct jsonw *w, int64_t thousandths);
/* The same with always three places ("12.300", "0.000"): energy in Wh from mWh. */
void jsonw_milli_fixed(struct jsonw *w, int64_t thousandths);
/* Money: integer fen written as a decimal number with two places ("100.30"). */
void jsonw_money(struct jsonw *w, int64_t fen);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* An RFC 3339 UTC timestamp string with milliseconds. */
void jsonw_time(struct jsonw *w, int64_t ms_since_epoch);

/* Shorthands for key + value. */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_kint(struct jsonw *w, const char *key, int64_t v);
void jsonw_kdouble(struct jsonw *w, const char *key, double v);
void jsonw_kbool(struct jsonw *w, const char *key, bool v);
void jsonw_ktime(struct jsonw *w, const char *key, int64_t ms_since_epoch);
void jsonw_kmoney(struct jsonw *w, const char *key, int64_t fen);

/* Formats a double the way jsonw_double does; returns the length written (< 32). */
size_t jsonw_format_double(double v, char out[32]);

#endif
