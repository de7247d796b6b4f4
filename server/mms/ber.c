/*
 * The BER subset of ber.h. A reader never trusts a length before comparing
 * it with what remains of the enclosing element; a writer reserves one
 * length byte per open element and widens it on close when the contents
 * turned out longer than 127 bytes.
 */
#include "ber.h"

#include <errno.h>
#include <string.h>

void ber_cursor_init(struct ber_cursor *c, const uint8_t *buf, size_t len)
{
    c->p = buf;
    c->end = buf + len;
    c->depth = 0;
}

static int read_tag(const uint8_t **pp, const uint8_t *end, uint32_t *ret)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -EBADMSG;
    uint8_t b = *p++;
    uint32_t cls = b >> 6, cons = (b >> 5) & 1, num = b & 0x1f;
    if (num == 0x1f) {
        /* Base 128, most significant group first; a leading 0x80 would be padding. */
        num = 0;
        for (int i = 0;; i++) {
            if (p >= end || i == 4)
                return -EBADMSG;
            uint8_t x = *p++;
            if (i == 0 && x == 0x80)
                return -EBADMSG;
            num = (num << 7) | (x & 0x7f);
            if (!(x & 0x80))
                break;
        }
        if (num < 0x1f || num > BER_TAG_MAX)
            return -EBADMSG;
    }
    *ret = BER_TAG(cls, cons, num);
    *pp = p;
    return 0;
}

static int read_len(const uint8_t **pp, const uint8_t *end, size_t *ret)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -EBADMSG;
    uint8_t b = *p++;
    size_t len;
    if (b < 0x80) {
        len = b;
    } else {
        unsigned n = b & 0x7f;
        if (n == 0 || n > 4) /* 0x80: indefinite, refused; 0xff reserved */
            return -EBADMSG;
        if ((size_t)(end - p) < n)
            return -EBADMSG;
        len = 0;
        for (unsigned i = 0; i < n; i++)
            len = (len << 8) | *p++;
    }
    if (len > BER_LEN_MAX || len > (size_t)(end - p))
        return -EMSGSIZE;
    *ret = len;
    *pp = p;
    return 0;
}

int ber_next(struct ber_cursor *c, struct ber_tlv *ret)
{
    if (c->p >= c->end)
        return -ENOENT;
    const uint8_t *p = c->p;
    uint32_t tag;
    size_t len;
    int r = read_tag(&p, c->end, &tag);
    if (r == 0)
        r = read_len(&p, c->end, &len);
    if (r)
        return r;
    ret->tag = tag;
    ret->val = p;
    ret->len = len;
    ret->depth = c->depth;
    c->p = p + len;
    return 0;
}

int ber_expect(struct ber_cursor *c, uint32_t tag, struct ber_tlv *ret)
{
    struct ber_tlv t;
    int r = ber_next(c, &t);
    if (r == -ENOENT)
        return -EBADMSG; /* something was required */
    if (r)
        return r;
    if (t.tag != tag)
        return -EBADMSG;
    *ret = t;
    return 0;
}

int ber_enter(const struct ber_tlv *t, struct ber_cursor *ret)
{
    if (!ber_constructed(t))
        return -EBADMSG;
    if (t->depth + 1 >= BER_MAX_DEPTH)
        return -ELOOP;
    ret->p = t->val;
    ret->end = t->val + t->len;
    ret->depth = t->depth + 1;
    return 0;
}

int ber_get_int(const struct ber_tlv *t, int64_t *ret)
{
    if (ber_constructed(t) || t->len == 0)
        return -EBADMSG;
    if (t->len > 8)
        return -ERANGE;
    uint64_t v = (t->val[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < t->len; i++)
        v = (v << 8) | t->val[i];
    *ret = (int64_t)v;
    return 0;
}

int ber_get_uint(const struct ber_tlv *t, uint64_t *ret)
{
    if (ber_constructed(t) || t->len == 0)
        return -EBADMSG;
    if (t->val[0] & 0x80)
        return -ERANGE; /* negative */
    const uint8_t *p = t->val;
    size_t n = t->len;
    if (n == 9 && p[0] == 0) {
        p++;
        n--;
    }
    if (n > 8)
        return -ERANGE;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    *ret = v;
    return 0;
}

int ber_get_bool(const struct ber_tlv *t, bool *ret)
{
    if (ber_constructed(t) || t->len != 1)
        return -EBADMSG;
    *ret = t->val[0] != 0;
    return 0;
}

int ber_get_visible(const struct ber_tlv *t, char *buf, size_t cap)
{
    if (ber_constructed(t))
        return -EBADMSG;
    if (t->len >= cap)
        return -EMSGSIZE;
    for (size_t i = 0; i < t->len; i++)
        if (t->val[i] < 0x20 || t->val[i] > 0x7e)
            return -EBADMSG;
    memcpy(buf, t->val, t->len);
    buf[t->len] = '\0';
    return 0;
}

int ber_get_bits(const struct ber_tlv *t, uint8_t *buf, size_t cap, size_t *ret_nbits)
{
    if (ber_constructed(t) || t->len == 0)
        return -EBADMSG;
    unsigned unused = t->val[0];
    size_t n = t->len - 1;
    if (unused > 7 || (n == 0 && unused != 0))
        return -EBADMSG;
    if (n > cap)
        return -EMSGSIZE;
    memcpy(buf, t->val + 1, n);
    if (n)
        buf[n - 1] &= (uint8_t)(0xff << unused);
    *ret_nbits = n * 8 - unused;
    return 0;
}

int ber_get_mms_float(const struct ber_tlv *t, double *ret)
{
    if (ber_constructed(t))
        return -EBADMSG;
    if (t->len == 5 && t->val[0] == 8) {
        uint32_t u = (uint32_t)t->val[1] << 24 | (uint32_t)t->val[2] << 16 |
                     (uint32_t)t->val[3] << 8 | t->val[4];
        float f;
        memcpy(&f, &u, sizeof(f));
        *ret = f;
        return 0;
    }
    if (t->len == 9 && t->val[0] == 11) {
        uint64_t u = 0;
        for (int i = 1; i < 9; i++)
            u = (u << 8) | t->val[i];
        double d;
        memcpy(&d, &u, sizeof(d));
        *ret = d;
        return 0;
    }
    return -EBADMSG;
}

int ber_get_utc_ms(const struct ber_tlv *t, int64_t *ret_ms, uint8_t *ret_quality)
{
    if (ber_constructed(t) || t->len != 8)
        return -EBADMSG;
    const uint8_t *v = t->val;
    int64_t s = (int64_t)((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3]);
    uint32_t frac = (uint32_t)v[4] << 16 | (uint32_t)v[5] << 8 | v[6];
    *ret_ms = s * 1000 + (int64_t)(((uint64_t)frac * 1000 + (1u << 23)) >> 24);
    if (ret_quality)
        *ret_quality = v[7];
    return 0;
}

/* --- writing ------------------------------------------------------------------------------ */

void ber_w_init(struct ber_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->full = false;
    w->depth = 0;
}

static void put(struct ber_writer *w, const void *p, size_t n)
{
    if (w->full)
        return;
    if (n > w->cap - w->len) {
        w->full = true;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_tag(struct ber_writer *w, uint32_t tag)
{
    uint8_t b[6];
    size_t n = 0;
    uint32_t num = tag & BER_TAG_MAX;
    b[0] = (uint8_t)((tag >> 30) << 6 | ((tag >> 29) & 1) << 5);
    if (num < 0x1f) {
        b[n++] |= (uint8_t)num;
    } else {
        b[n++] |= 0x1f;
        int groups = 1;
        for (uint32_t x = num >> 7; x; x >>= 7)
            groups++;
        for (int g = groups - 1; g >= 0; g--)
            b[n++] = (uint8_t)(((num >> (7 * g)) & 0x7f) | (g ? 0x80 : 0));
    }
    put(w, b, n);
}

static void put_len(struct ber_writer *w, size_t len)
{
    uint8_t b[5];
    size_t n = 0;
    if (len < 0x80) {
        b[n++] = (uint8_t)len;
    } else {
        unsigned bytes = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
        b[n++] = (uint8_t)(0x80 | bytes);
        for (int i = (int)bytes - 1; i >= 0; i--)
            b[n++] = (uint8_t)(len >> (8 * i));
    }
    put(w, b, n);
}

void ber_w_open(struct ber_writer *w, uint32_t tag)
{
    if (w->depth >= BER_MAX_DEPTH)
        w->full = true;
    put_tag(w, tag | (UINT32_C(1) << 29));
    if (w->full)
        return;
    w->open_at[w->depth++] = w->len;
    put(w, "", 1); /* the length, fixed on close */
}

void ber_w_close(struct ber_writer *w)
{
    if (w->full || w->depth == 0) {
        w->full = true;
        return;
    }
    size_t at = w->open_at[--w->depth];
    size_t len = w->len - at - 1;
    if (len < 0x80) {
        w->buf[at] = (uint8_t)len;
        return;
    }
    unsigned extra = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
    if (extra > w->cap - w->len) {
        w->full = true;
        return;
    }
    memmove(w->buf + at + 1 + extra, w->buf + at + 1, len);
    w->buf[at] = (uint8_t)(0x80 | extra);
    for (unsigned i = 0; i < extra; i++)
        w->buf[at + 1 + i] = (uint8_t)(len >> (8 * (extra - 1 - i)));
    w->len += extra;
}

void ber_w_prim(struct ber_writer *w, uint32_t tag, const void *val, size_t len)
{
    put_tag(w, tag);
    put_len(w, len);
    put(w, val, len);
}

void ber_w_raw(struct ber_writer *w, const void *val, size_t len)
{
    put(w, val, len);
}

void ber_w_int(struct ber_writer *w, uint32_t tag, int64_t v)
{
    uint8_t b[8];
    size_t n = 8;
    for (int i = 7; i >= 0; i--)
        b[i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
    size_t s = 0;
    /* Minimal two's complement: drop leading bytes that only repeat the sign. */
    while (s < 7 && ((b[s] == 0 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
        s++;
    ber_w_prim(w, tag, b + s, n - s);
}

void ber_w_uint(struct ber_writer *w, uint32_t tag, uint64_t v)
{
    uint8_t b[9];
    b[0] = 0;
    for (int i = 8; i >= 1; i--)
        b[i] = (uint8_t)(v >> (8 * (8 - i)));
    size_t s = 0;
    while (s < 8 && b[s] == 0 && !(b[s + 1] & 0x80))
        s++;
    ber_w_prim(w, tag, b + s, 9 - s);
}

void ber_w_bool(struct ber_writer *w, uint32_t tag, bool v)
{
    uint8_t b = v ? 0xff : 0x00;
    ber_w_prim(w, tag, &b, 1);
}

void ber_w_null(struct ber_writer *w, uint32_t tag)
{
    ber_w_prim(w, tag, NULL, 0);
}

void ber_w_visible(struct ber_writer *w, uint32_t tag, const char *s)
{
    ber_w_prim(w, tag, s, strlen(s));
}

void ber_w_bits(struct ber_writer *w, uint32_t tag, const uint8_t *bits, size_t nbits)
{
    size_t n = (nbits + 7) / 8;
    uint8_t unused = (uint8_t)(n * 8 - nbits);
    put_tag(w, tag);
    put_len(w, n + 1);
    put(w, &unused, 1);
    if (n == 0)
        return;
    put(w, bits, n - 1);
    uint8_t last = (uint8_t)(bits[n - 1] & (0xff << unused));
    put(w, &last, 1);
}

void ber_w_mms_float(struct ber_writer *w, uint32_t tag, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    uint8_t b[5] = {8, (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    ber_w_prim(w, tag, b, sizeof(b));
}

void ber_w_utc_ms(struct ber_writer *w, uint32_t tag, int64_t ms, uint8_t q)
{
    if (ms < 0)
        ms = 0;
    uint32_t s = (uint32_t)(ms / 1000);
    uint32_t frac = (uint32_t)((((uint64_t)(ms % 1000)) << 24) / 1000);
    uint8_t b[8] = {(uint8_t)(s >> 24),    (uint8_t)(s >> 16),   (uint8_t)(s >> 8), (uint8_t)s,
                    (uint8_t)(frac >> 16), (uint8_t)(frac >> 8), (uint8_t)frac,     q};
    ber_w_prim(w, tag, b, sizeof(b));
}
