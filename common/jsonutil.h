/*
 * jsonutil: parsing JSON from outside with limits jansson does not impose.
 *
 * jansson accepts nesting up to 2048 levels; we refuse anything deeper than
 * the caller's limit before parsing, so a hostile document costs one linear
 * scan. Duplicate keys are rejected. The caller owns the returned json_t
 * (json_decref).
 */
#ifndef SMARTMETER_JSONUTIL_H
#define SMARTMETER_JSONUTIL_H

#include <stddef.h>

#include <jansson.h>

#define JSON_ERR_LEN 160

/* Nesting depth of a JSON text (brackets outside strings); -1 if it exceeds max_depth. */
int json_nesting_depth(const char *buf, size_t len, int max_depth);

/*
 * Parses buf[0..len). Returns 0 and *ret, or -EINVAL with a message naming
 * the problem and its line and column.
 */
int json_load_limited(const char *buf, size_t len, int max_depth, json_t **ret,
                      char err[JSON_ERR_LEN]);

/* A JSON number (integer or real) as a double; false if v is not a number. */
int json_number(const json_t *v, double *ret);

#endif
