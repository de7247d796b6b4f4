/*
 * A single pass over the telemetry payloads meters actually send (telemetry.h,
 * telemetry_decode_fast()): one object, or an array of objects, whose members are all
 * readings' own fields with plain values. It builds no JSON tree and looks each key up
 * once, where the general decoder (telemetry.c, over jansson) allocates a node per
 * member and asks the tree for every field the wire defines.
 *
 * It answers only when the whole payload is in that subset and every reading in it is
 * valid, and then exactly as the general decoder would (the fuzz harness compares the
 * two on every input). Anything else, including every error, is left to the general
 * decoder, which gives the messages and the rejected seqs: a string with an escape or a
 * byte outside printable ASCII, a member the wire does not define, a duplicate member,
 * true or false, a nested value, a number out of int64_t or double, a value out of its
 * range.
 */
#include "telemetry.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

enum field_kind { F_DEVICE_ID, F_SEQ, F_TS, F_REAL, F_COUNTER, F_LABEL };

struct field {
    const char *name;
    size_t len;
    enum field_kind kind;
    int index; /* into reading_reals, reading_counters or reading_labels */
};

#define N_FIELDS (3 + RR__COUNT + RC__COUNT + RL__COUNT)
/* Bits of a reading's members seen so far (duplicates are refused, as jansson is told). */
#define SEEN_WORDS ((N_FIELDS + 63) / 64)

static struct field fields[N_FIELDS];
static pthread_once_t fields_once = PTHREAD_ONCE_INIT;

static int cmp_field(const void *pa, const void *pb)
{
    const struct field *a = pa, *b = pb;
    return strcmp(a->name, b->name);
}

static void fields_build(void)
{
    size_t n = 0;
    fields[n++] = (struct field){"device_id", 0, F_DEVICE_ID, 0};
    fields[n++] = (struct field){"seq", 0, F_SEQ, 0};
    fields[n++] = (struct field){"ts", 0, F_TS, 0};
    for (int f = 0; f < RR__COUNT; f++)
        fields[n++] = (struct field){reading_reals[f].json, 0, F_REAL, f};
    for (int c = 0; c < RC__COUNT; c++)
        fields[n++] = (struct field){reading_counters[c].json, 0, F_COUNTER, c};
    for (int l = 0; l < RL__COUNT; l++)
        fields[n++] = (struct field){reading_labels[l].json, 0, F_LABEL, l};
    for (size_t k = 0; k < n; k++)
        fields[k].len = strlen(fields[k].name);
    qsort(fields, n, sizeof(fields[0]), cmp_field);
}

/* The field named by key[0..len), or -1. */
static int field_find(const char *key, size_t len)
{
    size_t lo = 0, hi = N_FIELDS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct field *f = &fields[mid];
        size_t m = len < f->len ? len : f->len;
        int c = memcmp(key, f->name, m);
        if (c == 0)
            c = len < f->len ? -1 : len > f->len;
        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool take(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A string of printable ASCII without escapes: its text in [*s, *s + *n). */
static bool plain_string(struct cursor *c, const char **s, size_t *n)
{
    if (!take(c, '"'))
        return false;
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return false;
        c->p++;
    }
    if (c->p == c->end)
        return false;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return true;
}

struct number {
    bool integer; /* no fraction or exponent: jansson's integer */
    int64_t i;
    double d; /* the value as a double (an integer converted, as json_number() does) */
};

/* A JSON number, its type as jansson would give it; false outside int64_t or double. */
static bool number(struct cursor *c, struct number *ret)
{
    skip_ws(c);
    const char *start = c->p, *p = c->p, *end = c->end;
    bool neg = p < end && *p == '-';
    if (neg)
        p++;
    if (p == end || *p < '0' || *p > '9')
        return false;
    uint64_t mag = 0;
    bool overflow = false;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned digit = (unsigned)(*p++ - '0');
            if (mag > (UINT64_MAX - digit) / 10)
                overflow = true;
            else
                mag = mag * 10 + digit;
        }
    }
    bool integer = true;
    if (p < end && *p == '.') {
        integer = false;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    ret->integer = integer;
    if (integer) {
        if (overflow || mag > (uint64_t)INT64_MAX + neg)
            return false;
        ret->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        ret->d = (double)ret->i;
        return true;
    }
    char text[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof(text))
        return false;
    memcpy(text, start, n);
    text[n] = '\0';
    errno = 0;
    char *stop;
    ret->d = strtod(text, &stop);
    return errno == 0 && *stop == '\0';
}

static bool literal_null(struct cursor *c)
{
    skip_ws(c);
    if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
        c->p += 4;
        return true;
    }
    return false;
}

/* One member's value into r, valid as parse_object() in telemetry.c would find it. */
static bool member(struct cursor *c, const struct field *f, const struct telemetry_opts *o,
                   struct reading *r, bool *ts_seen)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == 'n') {
        /* null is an absent member: fine unless the field is required (the general decoder
           then names it) or is one of device_id, seq and ts, which take no null */
        if (!literal_null(c))
            return false;
        return (f->kind == F_REAL && !reading_reals[f->index].required) || f->kind == F_COUNTER ||
               f->kind == F_LABEL;
    }
    const char *s;
    size_t n;
    struct number x;
    switch (f->kind) {
    case F_DEVICE_ID:
        if (!plain_string(c, &s, &n))
            return false;
        return !o->device_id || (strlen(o->device_id) == n && memcmp(o->device_id, s, n) == 0);
    case F_SEQ:
        if (!number(c, &x) || !x.integer || x.i < 0)
            return false;
        r->seq = (uint64_t)x.i;
        r->has_seq = true;
        return true;
    case F_TS:
        if (c->p < c->end && *c->p == '"') {
            char text[64];
            if (!plain_string(c, &s, &n) || n >= sizeof(text))
                return false;
            memcpy(text, s, n);
            text[n] = '\0';
            if (time_parse_rfc3339(text, &r->ts_ms))
                return false;
        } else {
            if (!number(c, &x) || !x.integer)
                return false;
            r->ts_ms = x.i;
        }
        *ts_seen = true;
        return r->ts_ms >= TIME_MIN_VALID_MS && r->ts_ms <= o->now_ms + o->max_future_ms;
    case F_REAL: {
        const struct reading_real_desc *d = &reading_reals[f->index];
        if (!number(c, &x) || !isfinite(x.d) || x.d < d->min || x.d > d->max)
            return false;
        reading_set_real(r, (enum reading_real)f->index, x.d);
        return true;
    }
    case F_COUNTER: {
        const struct reading_counter_desc *d = &reading_counters[f->index];
        if (!number(c, &x))
            return false;
        if (x.integer) {
            if (x.i < 0 || x.i > d->max)
                return false;
            reading_set_counter(r, (enum reading_counter)f->index, x.i * d->scale);
            return true;
        }
        if (d->scale == 1 || !(x.d >= 0 && x.d <= (double)d->max))
            return false;
        reading_set_counter(r, (enum reading_counter)f->index, llround(x.d * (double)d->scale));
        return true;
    }
    case F_LABEL: {
        char text[16];
        if (!plain_string(c, &s, &n) || n >= sizeof(text))
            return false;
        memcpy(text, s, n);
        text[n] = '\0';
        return reading_set_label(r, (enum reading_label)f->index, text) == 0;
    }
    }
    return false;
}

/* One reading object, every member known and valid. */
static bool object(struct cursor *c, const struct telemetry_opts *o, struct reading *r)
{
    memset(r, 0, sizeof(*r));
    if (!take(c, '{'))
        return false;
    uint64_t seen[SEEN_WORDS] = {0};
    bool ts_seen = false, device_seen = false;
    if (!take(c, '}')) {
        do {
            const char *key;
            size_t n;
            if (!plain_string(c, &key, &n) || !take(c, ':'))
                return false;
            int k = field_find(key, n);
            if (k < 0 || (seen[k / 64] & (UINT64_C(1) << (k % 64))))
                return false;
            seen[k / 64] |= UINT64_C(1) << (k % 64);
            device_seen |= fields[k].kind == F_DEVICE_ID;
            if (!member(c, &fields[k], o, r, &ts_seen))
                return false;
        } while (take(c, ','));
        if (!take(c, '}'))
            return false;
    }
    if (o->require_device_id && !device_seen)
        return false;
    if (o->require_seq_ts && (!r->has_seq || !ts_seen))
        return false;
    if (!ts_seen)
        r->ts_ms = o->now_ms;
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_reals[f].required && !reading_has_real(r, (enum reading_real)f))
            return false;
    return true;
}

int telemetry_decode_fast(const char *payload, size_t len, const struct telemetry_opts *o,
                          struct reading *out, size_t max, struct telemetry_result *res)
{
    pthread_once(&fields_once, fields_build);
    struct cursor c = {payload, payload + len};
    size_t n = 0;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '[') {
        c.p++;
        size_t cap = o->max_items < max ? o->max_items : max;
        do {
            if (n == cap || !object(&c, o, &out[n]))
                return 0;
            n++;
        } while (take(&c, ','));
        if (!take(&c, ']'))
            return 0;
    } else {
        if (max == 0 || !object(&c, o, &out[0]))
            return 0;
        n = 1;
    }
    skip_ws(&c);
    if (c.p != c.end)
        return 0;
    memset(res, 0, sizeof(*res));
    res->n_valid = n;
    return 1;
}
