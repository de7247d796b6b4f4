/* regmap_codec: a reading to register values and back (regmap.h). */
#include <math.h>
#include <string.h>

#include "regmap.h"

/* "Not available" as SunSpec writes it, per integer type. */
static uint32_t sentinel(enum regmap_type t)
{
    switch (t) {
    case REGMAP_UINT16:
        return 0xFFFFu;
    case REGMAP_INT16:
        return 0x8000u;
    case REGMAP_UINT32:
        return 0xFFFFFFFFu;
    case REGMAP_INT32:
        return 0x80000000u;
    case REGMAP_FLOAT32:
        break;
    }
    return 0x7FC00000u; /* a quiet NaN */
}

/* a + b in wire units; one absent counts 0, both absent: none. */
static bool sum_counters(const struct reading *r, enum reading_counter a, enum reading_counter b,
                         double *ret)
{
    if (!r || !(reading_has_counter(r, a) || reading_has_counter(r, b)))
        return false;
    int64_t sum = (reading_has_counter(r, a) ? r->counter[a] : 0) +
                  (reading_has_counter(r, b) ? r->counter[b] : 0);
    *ret = (double)sum / (double)reading_counters[a].scale;
    return true;
}

/* The value an entry's field holds in the field's wire unit; false when it holds none. */
static bool field_value(const struct regmap_field *f, const struct reading *r,
                        const struct regmap_context *c, double *ret)
{
    switch (f->kind) {
    case REGMAP_REAL:
        if (!r || !reading_has_real(r, (enum reading_real)f->index))
            return false;
        *ret = r->real[f->index];
        return true;
    case REGMAP_COUNTER:
        if (!r || !reading_has_counter(r, (enum reading_counter)f->index))
            return false;
        *ret = (double)r->counter[f->index] / (double)reading_counters[f->index].scale;
        return true;
    case REGMAP_PSEUDO:
        break;
    }
    switch ((enum regmap_pseudo)f->index) {
    case REGMAP_AGE_S:
        if (!r)
            return false;
        *ret = c->now_ms > r->ts_ms ? (double)(c->now_ms - r->ts_ms) / 1000.0 : 0.0;
        return true;
    case REGMAP_ONLINE:
        *ret = c->online > 0 ? 1 : c->online == 0 ? 0 : -1;
        return true;
    case REGMAP_TS_S:
        if (!r)
            return false;
        *ret = (double)(r->ts_ms / 1000);
        return true;
    case REGMAP_UNIT:
        if (c->unit <= 0)
            return false;
        *ret = c->unit;
        return true;
    case REGMAP_ENERGY_TOTAL_WH:
        return sum_counters(r, RC_ENERGY_IMPORT, RC_ENERGY_EXPORT, ret);
    case REGMAP_REACTIVE_TOTAL_VARH:
        return sum_counters(r, RC_REACTIVE_IMPORT, RC_REACTIVE_EXPORT, ret);
    case REGMAP__PSEUDO_COUNT:
        break;
    }
    return false;
}

/* The raw 16 or 32 bits of v x scale in type t, or the sentinel when it does not fit. */
static uint32_t to_raw(enum regmap_type t, double v)
{
    if (!isfinite(v))
        return sentinel(t);
    if (t == REGMAP_FLOAT32) {
        float f = (float)v;
        if (!isfinite(f))
            return sentinel(t);
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        return bits;
    }
    double k = nearbyint(v);
    switch (t) {
    case REGMAP_UINT16:
        return k >= 0 && k < 65535 ? (uint32_t)k : sentinel(t);
    case REGMAP_INT16:
        return k > -32768 && k <= 32767 ? (uint32_t)(uint16_t)(int16_t)k : sentinel(t);
    case REGMAP_UINT32:
        return k >= 0 && k < 4294967295.0 ? (uint32_t)k : sentinel(t);
    case REGMAP_INT32:
        return k > -2147483648.0 && k <= 2147483647.0 ? (uint32_t)(int32_t)k : sentinel(t);
    case REGMAP_FLOAT32:
        break;
    }
    return sentinel(t);
}

void regmap_encode(const struct regmap *m, const struct reading *r, const struct regmap_context *c,
                   uint16_t start, uint16_t *regs, size_t n)
{
    memset(regs, 0, n * sizeof(*regs));
    uint32_t lo = start, hi = (uint32_t)start + (uint32_t)n;
    for (size_t i = 0; i < m->n; i++) {
        const struct regmap_entry *e = &m->e[i];
        unsigned words = regmap_type_words(e->type);
        if ((uint32_t)e->addr + words <= lo || e->addr >= hi)
            continue;
        double v = NAN;
        bool have = false;
        for (unsigned k = 0; k < e->n_fields && !have; k++)
            have = field_value(&e->fields[k], r, c, &v);
        uint32_t raw = have ? to_raw(e->type, v * e->scale) : sentinel(e->type);
        uint16_t w[2];
        if (words == 1) {
            w[0] = (uint16_t)raw;
        } else {
            uint16_t high = (uint16_t)(raw >> 16), low = (uint16_t)raw;
            w[0] = e->low_word_first ? low : high;
            w[1] = e->low_word_first ? high : low;
        }
        for (unsigned k = 0; k < words; k++) {
            uint32_t a = (uint32_t)e->addr + k;
            if (a >= lo && a < hi)
                regs[a - lo] = w[k];
        }
    }
}

/* The value of raw bits of type t; false for the sentinel or a float that is not finite. */
static bool from_raw(enum regmap_type t, uint32_t raw, double *ret)
{
    if (t != REGMAP_FLOAT32 && raw == sentinel(t))
        return false;
    switch (t) {
    case REGMAP_UINT16:
    case REGMAP_UINT32:
        *ret = (double)raw;
        return true;
    case REGMAP_INT16:
        *ret = (double)(int16_t)(uint16_t)raw;
        return true;
    case REGMAP_INT32:
        *ret = (double)(int32_t)raw;
        return true;
    case REGMAP_FLOAT32:
        break;
    }
    float f;
    memcpy(&f, &raw, sizeof(f));
    if (!isfinite(f))
        return false;
    *ret = (double)f;
    return true;
}

/* Stores v (the field's wire unit) in r when the field accepts it. */
static bool set_field(const struct regmap_field *f, double v, struct reading *r)
{
    if (f->kind == REGMAP_REAL) {
        const struct reading_real_desc *d = &reading_reals[f->index];
        if (!(v >= d->min && v <= d->max))
            return false;
        reading_set_real(r, (enum reading_real)f->index, v);
        return true;
    }
    if (f->kind == REGMAP_COUNTER) {
        const struct reading_counter_desc *d = &reading_counters[f->index];
        if (!(v >= 0 && v <= (double)d->max))
            return false;
        reading_set_counter(r, (enum reading_counter)f->index,
                            (int64_t)llround(v * (double)d->scale));
        return true;
    }
    return false;
}

size_t regmap_decode(const struct regmap *m, uint16_t start, const uint16_t *regs, size_t n,
                     struct reading *r)
{
    size_t set = 0;
    uint32_t lo = start, hi = (uint32_t)start + (uint32_t)n;
    for (size_t i = 0; i < m->n; i++) {
        const struct regmap_entry *e = &m->e[i];
        unsigned words = regmap_type_words(e->type);
        if (e->addr < lo || (uint32_t)e->addr + words > hi)
            continue;
        const uint16_t *w = regs + (e->addr - lo);
        uint32_t raw = words == 1          ? w[0]
                       : e->low_word_first ? ((uint32_t)w[1] << 16) | w[0]
                                           : ((uint32_t)w[0] << 16) | w[1];
        double v;
        if (!from_raw(e->type, raw, &v))
            continue;
        if (set_field(&e->fields[0], v / e->scale, r))
            set++;
    }
    return set;
}
