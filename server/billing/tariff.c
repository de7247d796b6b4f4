#include "tariff.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "timeutil.h"
#include "wallclock.h"

#define MIN_MS (60 * INT64_C(1000))

static const struct {
    enum tariff_label label;
    const char *zh, *en;
} labels[] = {
    {TARIFF_LABEL_SHARP, "尖", "sharp"},
    {TARIFF_LABEL_PEAK, "峰", "peak"},
    {TARIFF_LABEL_FLAT, "平", "flat"},
    {TARIFF_LABEL_VALLEY, "谷", "valley"},
};

static int fail(char err[TARIFF_ERR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(char err[TARIFF_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, TARIFF_ERR_LEN, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Text from the body is named in messages only when it is short printable ASCII, so a
 * message never carries a cut UTF-8 character or control bytes into an answer. */
static const char *shown(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (n >= 32 || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"')
            return "...";
    return s;
}

int tariff_price_parse(const char *s, int64_t *ret_price)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (*p - '0');
        if (whole > TARIFF_PRICE_MAX / TARIFF_PRICE_SCALE)
            return -ERANGE; /* checked every digit, so whole never overflows */
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++fdigits > 4)
                return -EINVAL;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return -EINVAL;
        for (int i = fdigits; i < 4; i++)
            frac *= 10;
    }
    if (*p != '\0' || digits == 0)
        return -EINVAL;
    int64_t price = whole * TARIFF_PRICE_SCALE + frac;
    if (price > TARIFF_PRICE_MAX)
        return -ERANGE;
    *ret_price = price;
    return 0;
}

int tariff_price_from_json(const json_t *v, int64_t *ret_price)
{
    if (json_is_string(v))
        return tariff_price_parse(json_string_value(v), ret_price);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > TARIFF_PRICE_MAX / TARIFF_PRICE_SCALE)
            return -ERANGE;
        *ret_price = (int64_t)x * TARIFF_PRICE_SCALE;
        return 0;
    }
    if (!json_is_real(v))
        return -EMEDIUMTYPE;
    double x = json_real_value(v);
    if (!isfinite(x))
        return -EINVAL;
    if (x < 0 || x > (double)(TARIFF_PRICE_MAX / TARIFF_PRICE_SCALE))
        return -ERANGE;
    /*
     * Exactly 4 decimals or fewer: the number must be the very double its own value written
     * with 4 decimals reads as, so nothing is ever rounded (0.6 is; 0.00005 is not).
     */
    int64_t price = (int64_t)nearbyint(x * (double)TARIFF_PRICE_SCALE);
    char text[TARIFF_PRICE_TEXT_LEN];
    tariff_price_format(price, text);
    if (strtod(text, NULL) != x)
        return -EINVAL;
    if (price > TARIFF_PRICE_MAX)
        return -ERANGE;
    *ret_price = price;
    return 0;
}

void tariff_price_format(int64_t price, char out[TARIFF_PRICE_TEXT_LEN])
{
    uint64_t u = price < 0 ? (uint64_t)0 - (uint64_t)price : (uint64_t)price;
    snprintf(out, TARIFF_PRICE_TEXT_LEN, "%s%llu.%04llu", price < 0 ? "-" : "",
             (unsigned long long)(u / TARIFF_PRICE_SCALE),
             (unsigned long long)(u % TARIFF_PRICE_SCALE));
}

const char *tariff_label_name(enum tariff_label label)
{
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (labels[i].label == label)
            return labels[i].zh;
    return "";
}

int tariff_label_parse(const char *s, enum tariff_label *ret_label)
{
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(s, labels[i].zh) == 0 || strcmp(s, labels[i].en) == 0) {
            *ret_label = labels[i].label;
            return 0;
        }
    return -EINVAL;
}

static int period_from_json(const json_t *o, size_t i, struct tariff_period *ret,
                            char err[TARIFF_ERR_LEN])
{
    if (!json_is_object(o))
        return fail(
            err, "periods[%zu]: not an object like {\"from\":\"08:00\",\"price\":\"0.6000\"}", i);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)o, key, val)
    {
        if (strcmp(key, "from") && strcmp(key, "price") && strcmp(key, "label"))
            return fail(err, "periods[%zu]: unknown key \"%s\" (known: from, price, label)", i,
                        shown(key));
    }
    struct tariff_period p = {.label = TARIFF_LABEL_NONE};
    const json_t *from = json_object_get(o, "from");
    if (!json_is_string(from) || time_parse_hhmm(json_string_value(from), &p.from_min))
        return fail(err, "periods[%zu].from: give the start as \"HH:MM\", 00:00..23:59", i);
    const json_t *price = json_object_get(o, "price");
    if (!price)
        return fail(err, "periods[%zu].price: missing (yuan per kWh, e.g. \"0.6000\")", i);
    int r = tariff_price_from_json(price, &p.price);
    if (r == -EMEDIUMTYPE || r == -EINVAL)
        return fail(err,
                    "periods[%zu].price: not yuan per kWh with at most 4 decimals (\"0.6000\" or "
                    "0.6)",
                    i);
    if (r)
        return fail(err, "periods[%zu].price: must be 0 to 100.0000 yuan per kWh", i);
    const json_t *label = json_object_get(o, "label");
    if (label && !json_is_null(label) &&
        (!json_is_string(label) || tariff_label_parse(json_string_value(label), &p.label)))
        return fail(err, "periods[%zu].label: one of 尖 峰 平 谷 (or sharp, peak, flat, valley)",
                    i);
    *ret = p;
    return 0;
}

int tariff_validate(const struct tariff *t, char err[TARIFF_ERR_LEN])
{
    if (t->n_periods < 1 || t->n_periods > TARIFF_MAX_PERIODS)
        return fail(err, "periods: give 1 to %d periods", TARIFF_MAX_PERIODS);
    for (uint32_t i = 0; i < t->n_periods; i++) {
        const struct tariff_period *p = &t->period[i];
        if (p->from_min < 0 || p->from_min >= 24 * 60)
            return fail(err, "periods[%u].from: give the start as \"HH:MM\", 00:00..23:59", i);
        if (i > 0 && p->from_min <= t->period[i - 1].from_min)
            return fail(err,
                        "periods[%u].from: periods must be in order of their start, each later "
                        "than the one before",
                        i);
        if (p->price < 0 || p->price > TARIFF_PRICE_MAX)
            return fail(err, "periods[%u].price: must be 0 to 100.0000 yuan per kWh", i);
        if (p->label < TARIFF_LABEL_NONE || p->label > TARIFF_LABEL_VALLEY)
            return fail(err, "periods[%u].label: unknown", i);
    }
    if (t->effective_from_ms < TIME_MIN_VALID_MS || t->effective_from_ms >= TIME_MAX_VALID_MS)
        return fail(err, "effective_from: must be in the years 2000 to 2199");
    return 0;
}

int tariff_from_json(const json_t *body, int64_t now_ms, struct tariff *ret,
                     char err[TARIFF_ERR_LEN])
{
    if (!json_is_object(body))
        return fail(err, "the body must be a JSON object {\"periods\":[...]}");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val)
    {
        if (strcmp(key, "periods") && strcmp(key, "effective_from"))
            return fail(err, "unknown key \"%s\" (known: periods, effective_from)", shown(key));
    }
    struct tariff t = {.effective_from_ms = now_ms};
    const json_t *periods = json_object_get(body, "periods");
    if (!json_is_array(periods) || json_array_size(periods) == 0)
        return fail(err, "periods: give an array of 1 to %d periods", TARIFF_MAX_PERIODS);
    if (json_array_size(periods) > TARIFF_MAX_PERIODS)
        return fail(err, "periods: at most %d periods a day", TARIFF_MAX_PERIODS);
    t.n_periods = (uint32_t)json_array_size(periods);
    for (size_t i = 0; i < t.n_periods; i++) {
        int r = period_from_json(json_array_get(periods, i), i, &t.period[i], err);
        if (r)
            return r;
    }
    const json_t *eff = json_object_get(body, "effective_from");
    if (eff && !json_is_null(eff)) {
        if (!json_is_string(eff) ||
            time_parse_rfc3339(json_string_value(eff), &t.effective_from_ms))
            return fail(err, "effective_from: not an RFC 3339 time like 2026-12-01T00:00:00+08:00");
    }
    int r = tariff_validate(&t, err);
    if (r)
        return r;
    *ret = t;
    return 0;
}

int tariff_parse(const char *buf, size_t len, int64_t now_ms, struct tariff *ret,
                 char err[TARIFF_ERR_LEN])
{
    if (len > TARIFF_BODY_MAX)
        return fail(err, "the body is larger than %d bytes", TARIFF_BODY_MAX);
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN];
    if (json_load_limited(buf, len, TARIFF_BODY_MAX_DEPTH, &root, jerr)) {
        /* jansson quotes the text near the error, control bytes included */
        for (char *p = jerr; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
        return fail(err, "%s", jerr);
    }
    int r = tariff_from_json(root, now_ms, ret, err);
    json_decref(root);
    return r;
}

void tariff_write_json(struct jsonw *w, const struct tariff *t)
{
    jsonw_obj_begin(w);
    tariff_write_members(w, t);
    jsonw_obj_end(w);
}

void tariff_write_members(struct jsonw *w, const struct tariff *t)
{
    jsonw_ktime(w, "effective_from", t->effective_from_ms);
    jsonw_key(w, "periods");
    jsonw_arr_begin(w);
    for (uint32_t i = 0; i < t->n_periods; i++) {
        const struct tariff_period *p = &t->period[i];
        char from[8], price[TARIFF_PRICE_TEXT_LEN];
        snprintf(from, sizeof(from), "%02u:%02u", (unsigned)(p->from_min / 60) % 100u,
                 (unsigned)(p->from_min % 60));
        tariff_price_format(p->price, price);
        jsonw_obj_begin(w);
        jsonw_kstr(w, "from", from);
        jsonw_kstr(w, "price", price);
        if (p->label != TARIFF_LABEL_NONE)
            jsonw_kstr(w, "label", tariff_label_name(p->label));
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

uint32_t tariff_period_at(const struct tariff *t, int64_t tod_ms)
{
    /* Before the first start of the day, the last period (from the day before) still runs. */
    uint32_t in_force = t->n_periods - 1;
    for (uint32_t i = 0; i < t->n_periods; i++)
        if (t->period[i].from_min * MIN_MS <= tod_ms)
            in_force = i;
    return in_force;
}

int tariff_versions_check(const struct tariff *v, size_t n, char err[TARIFF_ERR_LEN])
{
    for (size_t i = 0; i < n; i++) {
        int r = tariff_validate(&v[i], err);
        if (r)
            return r;
        if (i > 0 && v[i].effective_from_ms <= v[i - 1].effective_from_ms)
            return fail(err, "versions: each must start after the one before");
    }
    return 0;
}

const struct tariff *tariff_version_at(const struct tariff *v, size_t n, int64_t t_ms)
{
    /* Binary search: the number of versions starting at or before t_ms. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].effective_from_ms <= t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? NULL : &v[lo - 1];
}

void tariff_quote_at(const struct tariff *v, size_t n, int64_t t_ms, struct tariff_quote *ret)
{
    const struct tariff *t = tariff_version_at(v, n, t_ms);
    size_t next = t ? (size_t)(t - v) + 1 : 0;
    int64_t next_version = next < n ? v[next].effective_from_ms : INT64_MAX;
    struct tariff_quote q = {.version = t, .until_ms = next_version};
    if (t) {
        int64_t tod = wallclock_time_of_day_ms(t_ms);
        q.period = tariff_period_at(t, tod);
        q.price = t->period[q.period].price;
        if (t->n_periods > 1) {
            /* The next start by the wall clock, today or (past the last) tomorrow. */
            int64_t next_start = t->period[0].from_min * MIN_MS + WALLCLOCK_DAY_MS;
            for (uint32_t i = 0; i < t->n_periods; i++)
                if (t->period[i].from_min * MIN_MS > tod) {
                    next_start = t->period[i].from_min * MIN_MS;
                    break;
                }
            /* As far ahead as the wall clock says, unless a DST change comes first: then the
             * clock shows another time and the quote must be taken again from there. */
            int64_t boundary = wallclock_next_change(t_ms, t_ms + (next_start - tod));
            if (boundary < q.until_ms)
                q.until_ms = boundary;
        }
    }
    *ret = q;
}
