#include "jsonw.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

void jsonw_init(struct jsonw *w, struct dynbuf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

int jsonw_error(const struct jsonw *w)
{
    if (w->err)
        return w->err;
    return w->depth == 0 ? 0 : -EINVAL;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
    if (w->err)
        return;
    /* The common case, room in the buffer, without a call (answers run to megabytes). */
    struct dynbuf *b = w->b;
    if (n < b->cap - b->len && b->len + n <= b->max) {
        memcpy(b->buf + b->len, s, n);
        b->len += n;
        b->buf[b->len] = '\0';
        return;
    }
    int r = dynbuf_add(b, s, n);
    if (r)
        w->err = r;
}

/* Writes the separator a new value needs at the current position. */
static void value_prefix(struct jsonw *w)
{
    if (w->err)
        return;
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            put(w, ",", 1);
        w->has_items[w->depth - 1] = 1;
    }
}

static void open(struct jsonw *w, char c)
{
    value_prefix(w);
    if (w->err)
        return;
    if (w->depth >= JSONW_MAX_DEPTH) {
        w->err = -EINVAL;
        return;
    }
    put(w, &c, 1);
    w->has_items[w->depth++] = 0;
}

static void close_(struct jsonw *w, char c)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->after_key) {
        w->err = -EINVAL;
        return;
    }
    w->depth--;
    put(w, &c, 1);
}

void jsonw_obj_begin(struct jsonw *w)
{
    open(w, '{');
}
void jsonw_obj_end(struct jsonw *w)
{
    close_(w, '}');
}
void jsonw_arr_begin(struct jsonw *w)
{
    open(w, '[');
}
void jsonw_arr_end(struct jsonw *w)
{
    close_(w, ']');
}

static void put_escaped(struct jsonw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    put(w, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, 6);
        }
        }
    }
    put(w, s + start, len - start);
    put(w, "\"", 1);
}

void jsonw_key(struct jsonw *w, const char *key)
{
    if (w->err)
        return;
    if (w->after_key || w->depth == 0) {
        w->err = -EINVAL;
        return;
    }
    value_prefix(w);
    put_escaped(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = true;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t len)
{
    value_prefix(w);
    put_escaped(w, s, len);
}

void jsonw_str(struct jsonw *w, const char *s)
{
    if (!s) {
        jsonw_null(w);
        return;
    }
    jsonw_strn(w, s, strlen(s));
}

static size_t format_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t format_i64(int64_t v, char *out)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + format_u64((uint64_t)0 - (uint64_t)v, out + 1);
    }
    return format_u64((uint64_t)v, out);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char buf[24];
    value_prefix(w);
    put(w, buf, format_i64(v, buf));
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
    char buf[24];
    value_prefix(w);
    put(w, buf, format_u64(v, buf));
}

/* Writes |units| / 10^places as a decimal, dropping trailing zeros beyond min_places. */
static size_t format_scaled(int64_t units, int places, int min_places, char *out)
{
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    size_t n = 0;
    uint64_t u = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    if (units < 0)
        out[n++] = '-';
    n += format_u64(u / pow10[places], out + n);
    uint64_t frac = u % pow10[places];
    int keep = places;
    while (keep > min_places && frac % 10 == 0) {
        frac /= 10;
        keep--;
    }
    if (keep > 0) {
        out[n++] = '.';
        for (int i = keep - 1; i >= 0; i--) {
            out[n + (size_t)i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        n += (size_t)keep;
    }
    return n;
}

size_t jsonw_format_double(double v, char out[32])
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    /*
     * Measurements are written with six decimal places (a microvolt, a
     * microampere), using integer arithmetic (several times faster than
     * printf); noise below that reads 0 rather than 2.9e-06. Values of 10^12
     * and more use %.15g, which round-trips any decimal of up to 15 digits.
     */
    double a = fabs(v);
    if (a < 1e12) {
        int64_t units = (int64_t)llround(v * 1e6);
        size_t n = format_scaled(units, 6, 0, out);
        out[n] = '\0';
        return n;
    }
    int n = snprintf(out, 32, "%.15g", v);
    return n > 0 ? (size_t)n : 0;
}

void jsonw_double(struct jsonw *w, double v)
{
    char buf[32];
    value_prefix(w);
    put(w, buf, jsonw_format_double(v, buf));
}

void jsonw_milli(struct jsonw *w, int64_t thousandths)
{
    char buf[32];
    value_prefix(w);
    put(w, buf, format_scaled(thousandths, 3, 0, buf));
}

void jsonw_milli_fixed(struct jsonw *w, int64_t thousandths)
{
    char buf[32];
    value_prefix(w);
    put(w, buf, format_scaled(thousandths, 3, 3, buf));
}

void jsonw_money(struct jsonw *w, int64_t fen)
{
    char buf[32];
    value_prefix(w);
    put(w, buf, format_scaled(fen, 2, 2, buf));
}

void jsonw_bool(struct jsonw *w, bool v)
{
    value_prefix(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w)
{
    value_prefix(w);
    put(w, "null", 4);
}

void jsonw_time(struct jsonw *w, int64_t ms)
{
    char buf[TIME_RFC3339_LEN + 2];
    value_prefix(w);
    buf[0] = '"';
    time_format_rfc3339_ms(ms, buf + 1);
    buf[TIME_RFC3339_LEN] = '"';
    put(w, buf, TIME_RFC3339_LEN + 1);
}

void jsonw_kstr(struct jsonw *w, const char *key, const char *s)
{
    jsonw_key(w, key);
    jsonw_str(w, s);
}
void jsonw_kint(struct jsonw *w, const char *key, int64_t v)
{
    jsonw_key(w, key);
    jsonw_int(w, v);
}
void jsonw_kdouble(struct jsonw *w, const char *key, double v)
{
    jsonw_key(w, key);
    jsonw_double(w, v);
}
void jsonw_kbool(struct jsonw *w, const char *key, bool v)
{
    jsonw_key(w, key);
    jsonw_bool(w, v);
}
void jsonw_ktime(struct jsonw *w, const char *key, int64_t ms)
{
    jsonw_key(w, key);
    jsonw_time(w, ms);
}
void jsonw_kmoney(struct jsonw *w, const char *key, int64_t fen)
{
    jsonw_key(w, key);
    jsonw_money(w, fen);
}
