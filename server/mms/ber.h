/*
 * ber: the subset of ASN.1 BER (X.690) the MMS stack reads and writes.
 *
 * Reading is zero-copy over a caller's buffer and bounded: definite lengths
 * only (short and long form up to four length bytes), every length checked
 * against what remains of its parent and against BER_LEN_MAX, tag numbers up
 * to four bytes in base 128 (no padding byte), nesting at most BER_MAX_DEPTH.
 * Indefinite lengths (0x80) are refused: the MMS stack never needs them and
 * they are the classic way to make a decoder walk off its buffer.
 *
 * Writing goes into a caller's fixed buffer: a constructed value is opened,
 * filled and closed; closing writes its length in the shortest form. Once
 * anything does not fit the writer is marked full and every later call does
 * nothing, so a caller checks ber_w_ok() once at the end.
 *
 * Errors: -EBADMSG malformed (bad tag, indefinite or over-long length, value
 * of the wrong size), -EMSGSIZE a length past the buffer or the cap, -ELOOP
 * too deep, -ENOENT the cursor holds nothing more, -ERANGE a value outside
 * the C type asked for. Nothing here allocates or logs.
 */
#ifndef SMARTMETER_MMS_BER_H
#define SMARTMETER_MMS_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BER_MAX_DEPTH 24
#define BER_LEN_MAX   (1u << 20)
#define BER_TAG_MAX   ((1u << 28) - 1)

enum ber_class { BER_UNIVERSAL = 0, BER_APPLICATION = 1, BER_CONTEXT = 2, BER_PRIVATE = 3 };

/* A tag as one number: class in bits 30-31, constructed in bit 29, the tag number below. */
#define BER_TAG(cls, cons, num)                                                                    \
    (((uint32_t)(cls) << 30) | ((uint32_t)(cons) << 29) | (uint32_t)(num))
#define BER_CTX(n)   BER_TAG(BER_CONTEXT, 0, n)
#define BER_CTXC(n)  BER_TAG(BER_CONTEXT, 1, n)
#define BER_APPC(n)  BER_TAG(BER_APPLICATION, 1, n)
#define BER_UNIV(n)  BER_TAG(BER_UNIVERSAL, 0, n)
#define BER_UNIVC(n) BER_TAG(BER_UNIVERSAL, 1, n)

/* Universal tags used here. */
#define BER_BOOLEAN      BER_UNIV(1)
#define BER_INTEGER      BER_UNIV(2)
#define BER_BIT_STRING   BER_UNIV(3)
#define BER_OCTET_STRING BER_UNIV(4)
#define BER_NULL         BER_UNIV(5)
#define BER_OID          BER_UNIV(6)
#define BER_EXTERNAL     BER_UNIVC(8)
#define BER_SEQUENCE     BER_UNIVC(16)
#define BER_SET          BER_UNIVC(17)
#define BER_VISIBLE_STR  BER_UNIV(26)

/* One element: its tag and where its contents lie (inside the reader's buffer). */
struct ber_tlv {
    uint32_t tag; /* BER_TAG() form */
    const uint8_t *val;
    size_t len;
    unsigned depth; /* of the cursor it was read from */
};

static inline bool ber_constructed(const struct ber_tlv *t)
{
    return t->tag & (UINT32_C(1) << 29);
}

/* The elements of one level, read in order. */
struct ber_cursor {
    const uint8_t *p, *end;
    unsigned depth; /* 0 for the outermost level */
};

/* A cursor over buf[0..len) at depth 0. */
void ber_cursor_init(struct ber_cursor *c, const uint8_t *buf, size_t len);

/* Reads the next element: 0, -ENOENT at the end, -EBADMSG or -EMSGSIZE. */
int ber_next(struct ber_cursor *c, struct ber_tlv *ret);

/* Reads the next element and requires its tag: as ber_next, -EBADMSG for another tag. */
int ber_expect(struct ber_cursor *c, uint32_t tag, struct ber_tlv *ret);

/* A cursor over a constructed element's contents: 0, -EBADMSG when primitive, -ELOOP too deep. */
int ber_enter(const struct ber_tlv *t, struct ber_cursor *ret);

/* Whether the cursor holds nothing more. */
static inline bool ber_at_end(const struct ber_cursor *c)
{
    return c->p >= c->end;
}

/* Primitive contents (the tag is the caller's business). 0 or a negative errno, ret on success. */
int ber_get_int(const struct ber_tlv *t, int64_t *ret);
int ber_get_uint(const struct ber_tlv *t, uint64_t *ret);
int ber_get_bool(const struct ber_tlv *t, bool *ret);
/* Printable ASCII (0x20..0x7e) into buf as a C string; -EMSGSIZE when it needs more than cap. */
int ber_get_visible(const struct ber_tlv *t, char *buf, size_t cap);
/* Bits into buf (at most cap bytes), *ret_nbits of them. */
int ber_get_bits(const struct ber_tlv *t, uint8_t *buf, size_t cap, size_t *ret_nbits);
/* MMS floating-point: exponent width then IEEE 754 big-endian (8: single, 11: double). */
int ber_get_mms_float(const struct ber_tlv *t, double *ret);
/* MMS utc-time: 4 bytes seconds, 3 bytes fraction, 1 byte quality; ms since the epoch. */
int ber_get_utc_ms(const struct ber_tlv *t, int64_t *ret_ms, uint8_t *ret_quality);

/* --- writing ------------------------------------------------------------------------------ */

struct ber_writer {
    uint8_t *buf;
    size_t cap, len;
    bool full; /* something did not fit (or was opened too deep): the result is unusable */
    unsigned depth;
    size_t open_at[BER_MAX_DEPTH]; /* where each open element's length byte is */
};

void ber_w_init(struct ber_writer *w, uint8_t *buf, size_t cap);
static inline bool ber_w_ok(const struct ber_writer *w)
{
    return !w->full && w->depth == 0;
}
/* Opens a constructed element (the constructed bit is set here); ber_w_close() ends it. */
void ber_w_open(struct ber_writer *w, uint32_t tag);
void ber_w_close(struct ber_writer *w);
/* A primitive element with these contents. */
void ber_w_prim(struct ber_writer *w, uint32_t tag, const void *val, size_t len);
/* Bytes as they are (an already encoded element). */
void ber_w_raw(struct ber_writer *w, const void *val, size_t len);
void ber_w_int(struct ber_writer *w, uint32_t tag, int64_t v);
void ber_w_uint(struct ber_writer *w, uint32_t tag, uint64_t v);
void ber_w_bool(struct ber_writer *w, uint32_t tag, bool v);
void ber_w_null(struct ber_writer *w, uint32_t tag);
void ber_w_visible(struct ber_writer *w, uint32_t tag, const char *s);
/* nbits bits from bits (the first bit is the top bit of bits[0]). */
void ber_w_bits(struct ber_writer *w, uint32_t tag, const uint8_t *bits, size_t nbits);
/* MMS floating-point, single precision. */
void ber_w_mms_float(struct ber_writer *w, uint32_t tag, float v);
/* MMS utc-time from ms since the epoch, with the time quality byte q. */
void ber_w_utc_ms(struct ber_writer *w, uint32_t tag, int64_t ms, uint8_t q);

#endif
