/*
 * tariff: what a kWh costs, when. A tariff version is up to TARIFF_MAX_PERIODS
 * time-of-use periods a day by the site's wall clock (wallclock.h), each from
 * its "HH:MM" to the next one's, the last wrapping past midnight to the first;
 * one period is a flat tariff. Periods may carry a label: 尖 (sharp peak),
 * 峰 (peak), 平 (flat), 谷 (valley). Versions follow each other by their
 * effective-from instant: a version holds from its effective_from_ms until the
 * next version's, so a price change never reaches consumption before it.
 *
 * Prices are integers in TARIFF_PRICE_SCALE units per yuan/kWh: one unit is
 * 0.0001 yuan/kWh (0.01 fen/kWh), the finest price the API takes. One mWh at
 * one unit costs 10^-8 fen, the "nanofen" charge.h counts money in, so a
 * charge is an exact integer product and nothing is ever rounded on the way.
 *
 * Parsing takes the body of PUT /api/devices/:device_id/tariff (SPEC.md,
 * "Prepaid"):
 *   {"periods":[{"from":"00:00","price":"0.3000","label":"谷"},
 *               {"from":"08:00","price":0.95,"label":"峰"}, ...],
 *    "effective_from":"2026-12-01T00:00:00+08:00"}
 * and refuses anything else with a message naming the field.
 *
 * Ownership: every struct here is plain data the caller owns; parsing reads
 * jansson's tree and keeps nothing of it. No I/O, no allocation but jansson's
 * parse tree in tariff_parse(), released before it returns.
 */
#ifndef SMARTMETER_BILLING_TARIFF_H
#define SMARTMETER_BILLING_TARIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jsonw.h"

#define TARIFF_MAX_PERIODS 8
/* Price units per yuan/kWh: prices have at most 4 decimals. */
#define TARIFF_PRICE_SCALE INT64_C(10000)
/* Dearest price taken: 100.0000 yuan/kWh (real prices are under 3). */
#define TARIFF_PRICE_MAX (100 * TARIFF_PRICE_SCALE)
/* "100.0000" and room to spare, with the NUL. */
#define TARIFF_PRICE_TEXT_LEN 24
#define TARIFF_ERR_LEN        160
/* Largest body tariff_parse() reads, and its nesting: object, array, object. */
#define TARIFF_BODY_MAX       8192
#define TARIFF_BODY_MAX_DEPTH 3

enum tariff_label {
    TARIFF_LABEL_NONE,
    TARIFF_LABEL_SHARP,  /* 尖 */
    TARIFF_LABEL_PEAK,   /* 峰 */
    TARIFF_LABEL_FLAT,   /* 平 */
    TARIFF_LABEL_VALLEY, /* 谷 */
};

struct tariff_period {
    int32_t from_min;        /* wall-clock minute of the day it starts, 0..1439 */
    enum tariff_label label; /* TARIFF_LABEL_NONE when the body gave none */
    int64_t price;           /* TARIFF_PRICE_SCALE units per yuan/kWh, 0..TARIFF_PRICE_MAX */
};

struct tariff {
    int64_t effective_from_ms;
    uint32_t n_periods; /* 1..TARIFF_MAX_PERIODS, strictly ascending from_min */
    struct tariff_period period[TARIFF_MAX_PERIODS];
};

/*
 * A price as decimal text, "0.6", "0.6000", "12": digits, then optionally a
 * point and 1..4 digits; no sign, exponent or spaces. 0, or -EINVAL when it is
 * not such text (more than 4 decimals included), -ERANGE past TARIFF_PRICE_MAX.
 */
int tariff_price_parse(const char *s, int64_t *ret_price);

/*
 * A price as JSON: a string as above, an integer, or a real that is exactly
 * the double its own value with 4 decimals reads as (0.6 and 1e-4 are; 0.00005
 * is not). 0; -EMEDIUMTYPE for another JSON type; -EINVAL; -ERANGE for a
 * negative price or one past TARIFF_PRICE_MAX.
 */
int tariff_price_from_json(const json_t *v, int64_t *ret_price);

/* "0.6000": always 4 decimals. */
void tariff_price_format(int64_t price, char out[TARIFF_PRICE_TEXT_LEN]);

/* "尖", "峰", "平", "谷", or "" for none. */
const char *tariff_label_name(enum tariff_label label);

/*
 * A label as the body gives it: "尖"/"sharp", "峰"/"peak", "平"/"flat",
 * "谷"/"valley". 0 or -EINVAL.
 */
int tariff_label_parse(const char *s, enum tariff_label *ret_label);

/*
 * The tariff a PUT body holds (a JSON object with "periods" and an optional
 * "effective_from", RFC 3339, which defaults to now_ms). Returns 0 and fills
 * *ret; or -EINVAL with err naming the field and what is wrong with it:
 * unknown keys, no periods or more than TARIFF_MAX_PERIODS, a "from" not
 * "HH:MM" or not after the previous one, a bad or missing price, an unknown
 * label, an effective_from that is not RFC 3339 in 2000..2199.
 *
 * Whether a version may start at effective_from is the caller's to decide
 * with what it knows: a device's billing never reprices what it billed, so a
 * version must start after the device's billed frontier (charge.h,
 * charge_version_allowed()).
 */
int tariff_from_json(const json_t *body, int64_t now_ms, struct tariff *ret,
                     char err[TARIFF_ERR_LEN]);

/* The same from the body's text (at most TARIFF_BODY_MAX bytes, nesting checked first). */
int tariff_parse(const char *buf, size_t len, int64_t now_ms, struct tariff *ret,
                 char err[TARIFF_ERR_LEN]);

/*
 * Whether t obeys the rules the parser enforces (for a tariff read back from
 * the database). 0, or -EINVAL with err.
 */
int tariff_validate(const struct tariff *t, char err[TARIFF_ERR_LEN]);

/*
 * Writes t as the value of a GET: {"effective_from":"...Z","periods":[{"from":
 * "08:00","price":"0.9500","label":"峰"},...]} ("label" only when it has one).
 * What it writes, tariff_from_json() reads back as the same tariff.
 */
void tariff_write_json(struct jsonw *w, const struct tariff *t);
/* The same members without the braces, into an object the caller has open (an API answer). */
void tariff_write_members(struct jsonw *w, const struct tariff *t);

/* The index of the period in force at wall-clock time of day tod_ms (0..86,399,999). */
uint32_t tariff_period_at(const struct tariff *t, int64_t tod_ms);

/*
 * A device's versions: v[0..n) ascending by effective_from_ms, no two alike,
 * each valid. 0, or -EINVAL with err.
 */
int tariff_versions_check(const struct tariff *v, size_t n, char err[TARIFF_ERR_LEN]);

/* The version in force at t_ms among v[0..n) (ascending): the last one starting at or
 * before t_ms, or NULL when none has started yet. */
const struct tariff *tariff_version_at(const struct tariff *v, size_t n, int64_t t_ms);

/* What a kWh costs at one instant, and until when that holds. */
struct tariff_quote {
    const struct tariff *version; /* NULL: no version in force (nothing is priced) */
    uint32_t period;              /* index into version->period */
    int64_t price;                /* TARIFF_PRICE_SCALE units; 0 without a version */
    /*
     * The first instant after t_ms at which the quote may change: the next
     * period's start by the wall clock, a DST change, or the next version's
     * effective_from; INT64_MAX when nothing follows.
     */
    int64_t until_ms;
};

/* The quote at t_ms among the versions v[0..n) (ascending, tariff_versions_check()). */
void tariff_quote_at(const struct tariff *v, size_t n, int64_t t_ms, struct tariff_quote *ret);

#endif
