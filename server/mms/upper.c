/*
 * The session, presentation and ACSE kernels of iso.h: only what an MMS
 * association needs. A session user data that is not whole, a presentation
 * PDU in the X.410 mode or with simply-encoded data, or an ACSE PDU for
 * another application context are refused rather than guessed at.
 */
#include <errno.h>
#include <string.h>

#include "iso.h"

static const uint8_t oid_acse[] = {0x52, 0x01, 0x00, 0x01};          /* 2.2.1.0.1 */
static const uint8_t oid_mms[] = {0x28, 0xca, 0x22, 0x02, 0x01};     /* 1.0.9506.2.1 */
static const uint8_t oid_ber[] = {0x51, 0x01};                       /* 2.1.1 */
static const uint8_t oid_mms_ctx[] = {0x28, 0xca, 0x22, 0x02, 0x03}; /* 1.0.9506.2.3 */

static bool oid_is(const struct ber_tlv *t, const uint8_t *oid, size_t len)
{
    return t->tag == BER_OID && t->len == len && memcmp(t->val, oid, len) == 0;
}

/* --- session ------------------------------------------------------------------------------ */

/* An ISO 8327 length: one byte, or 0xff and two bytes. */
static int ses_len(const uint8_t **pp, const uint8_t *end, size_t *ret)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -EBADMSG;
    size_t n = *p++;
    if (n == 0xff) {
        if (end - p < 2)
            return -EBADMSG;
        n = (size_t)p[0] << 8 | p[1];
        p += 2;
    }
    if (n > (size_t)(end - p))
        return -EBADMSG;
    *ret = n;
    *pp = p;
    return 0;
}

static int ses_params(const uint8_t *p, const uint8_t *end, struct ses *s)
{
    while (p < end) {
        uint8_t code = *p++;
        size_t n;
        if (ses_len(&p, end, &n))
            return -EBADMSG;
        switch (code) {
        case 20: /* session user requirements */
            if (n != 2)
                return -EBADMSG;
            s->requirements = (uint16_t)(p[0] << 8 | p[1]);
            break;
        case 193: /* user data */
        case 194: /* extended user data */
            s->user_data = p;
            s->user_len = n;
            break;
        default: /* connection identifiers, items, selectors: nothing to check for the kernel */
            break;
        }
        p += n;
    }
    return 0;
}

int ses_parse(const uint8_t *tsdu, size_t len, struct ses *ret)
{
    const uint8_t *p = tsdu, *end = tsdu + len;
    struct ses s = {.requirements = 0x0002};
    if (p >= end)
        return -EBADMSG;
    s.si = *p++;
    size_t n;
    if (ses_len(&p, end, &n))
        return -EBADMSG;
    switch (s.si) {
    case SES_DT: /* give tokens (category 0), then data transfer; the rest is user data */
        p += n;
        if (p >= end || *p != SES_DT)
            return -EBADMSG;
        p++;
        if (ses_len(&p, end, &n))
            return -EBADMSG;
        p += n;
        s.user_data = p;
        s.user_len = (size_t)(end - p);
        break;
    case SES_CN:
    case SES_FN:
    case SES_AB:
        if (p + n != end)
            return -EBADMSG;
        if (ses_params(p, p + n, &s))
            return -EBADMSG;
        if (s.si != SES_AB && !s.user_data)
            return -EBADMSG;
        break;
    default:
        return -EPROTO;
    }
    *ret = s;
    return 0;
}

static size_t put_ses_len(uint8_t *p, size_t n)
{
    if (n < 255) {
        p[0] = (uint8_t)n;
        return 1;
    }
    p[0] = 0xff;
    p[1] = (uint8_t)(n >> 8);
    p[2] = (uint8_t)n;
    return 3;
}

int ses_write_header(uint8_t *out, size_t cap, size_t *ret_len, uint8_t si, uint16_t requirements,
                     size_t user_len)
{
    if (cap < 32 || user_len > 65535 - 32)
        return -EMSGSIZE;
    if (si == SES_DT) {
        static const uint8_t gt_dt[] = {SES_DT, 0, SES_DT, 0};
        memcpy(out, gt_dt, sizeof(gt_dt));
        *ret_len = sizeof(gt_dt);
        return 0;
    }
    uint8_t params[16];
    size_t np = 0;
    if (si == SES_AC) {
        /* connect/accept item: protocol options 0, version 2; then the user requirements */
        static const uint8_t item[] = {5, 6, 19, 1, 0, 22, 1, 2};
        memcpy(params, item, sizeof(item));
        np = sizeof(item);
        params[np++] = 20;
        params[np++] = 2;
        params[np++] = (uint8_t)(requirements >> 8);
        params[np++] = (uint8_t)requirements;
    }
    size_t ud_hdr = 1 + (user_len < 255 ? 1 : 3);
    size_t li = np + ud_hdr + user_len;
    size_t o = 0;
    out[o++] = si;
    o += put_ses_len(out + o, li);
    memcpy(out + o, params, np);
    o += np;
    out[o++] = 193;
    o += put_ses_len(out + o, user_len);
    *ret_len = o;
    return 0;
}

/* --- presentation ------------------------------------------------------------------------- */

static int parse_contexts(const struct ber_tlv *list, struct pres_contexts *ret)
{
    struct ber_cursor c, ci;
    struct ber_tlv item, t;
    int r = ber_enter(list, &c);
    if (r)
        return r;
    while ((r = ber_next(&c, &item)) == 0) {
        if (item.tag != BER_SEQUENCE || ret->n >= sizeof(ret->accepted))
            return -EBADMSG;
        int64_t id;
        if ((r = ber_enter(&item, &ci)) || (r = ber_expect(&ci, BER_INTEGER, &t)) ||
            (r = ber_get_int(&t, &id)))
            return r;
        struct ber_tlv abstract, ts_list;
        if ((r = ber_expect(&ci, BER_OID, &abstract)) ||
            (r = ber_expect(&ci, BER_SEQUENCE, &ts_list)))
            return r;
        bool ber = false;
        struct ber_cursor cts;
        if ((r = ber_enter(&ts_list, &cts)))
            return r;
        while ((r = ber_next(&cts, &t)) == 0)
            if (oid_is(&t, oid_ber, sizeof(oid_ber)))
                ber = true;
        if (r != -ENOENT)
            return r;
        if (id <= 0 || id > 127 || (id & 1) == 0)
            return -EBADMSG; /* the initiator's ids are odd */
        bool known = false;
        if (ber && oid_is(&abstract, oid_acse, sizeof(oid_acse)) && !ret->acse_id) {
            ret->acse_id = id;
            known = true;
        } else if (ber && oid_is(&abstract, oid_mms, sizeof(oid_mms)) && !ret->mms_id) {
            ret->mms_id = id;
            known = true;
        }
        ret->accepted[ret->n++] = known;
    }
    return r == -ENOENT ? 0 : r;
}

/* The first PDV of fully-encoded user data (ud: the [APPLICATION 1] element). */
static int parse_pdv(const struct ber_tlv *ud, int64_t *ret_ctx, const uint8_t **ret_pdu,
                     size_t *ret_len)
{
    struct ber_cursor cl, cp;
    struct ber_tlv pdv, t;
    int64_t ctx = 0;
    int r;
    if ((r = ber_enter(ud, &cl)) || (r = ber_expect(&cl, BER_SEQUENCE, &pdv)))
        return r;
    if ((r = ber_enter(&pdv, &cp)))
        return r;
    if (ber_next(&cp, &t))
        return -EBADMSG;
    if (t.tag == BER_OID && ber_next(&cp, &t)) /* transfer-syntax-name */
        return -EBADMSG;
    if (t.tag != BER_INTEGER || ber_get_int(&t, &ctx))
        return -EBADMSG;
    if (ber_next(&cp, &t))
        return -EBADMSG;
    if (t.tag != BER_CTXC(0)) /* single-ASN1-type: what MMS and ACSE use */
        return -EPROTO;
    *ret_ctx = ctx;
    *ret_pdu = t.val;
    *ret_len = t.len;
    return 0;
}

int pres_parse_data(const uint8_t *buf, size_t len, int64_t *ret_ctx, const uint8_t **ret_pdu,
                    size_t *ret_len)
{
    struct ber_cursor c;
    struct ber_tlv ud;
    int r;
    ber_cursor_init(&c, buf, len);
    if ((r = ber_expect(&c, BER_APPC(1), &ud))) /* fully-encoded-data */
        return r;
    if (!ber_at_end(&c))
        return -EBADMSG;
    return parse_pdv(&ud, ret_ctx, ret_pdu, ret_len);
}

int pres_parse_cp(const uint8_t *buf, size_t len, struct pres_cp *ret)
{
    struct ber_cursor c, cs, cn;
    struct ber_tlv set, t, mode;
    struct pres_cp cp = {0};
    bool normal = false, have_data = false;
    int64_t acse_id = 0;
    int r;
    ber_cursor_init(&c, buf, len);
    if ((r = ber_expect(&c, BER_SET, &set)) || (r = ber_enter(&set, &cs)))
        return r;
    while ((r = ber_next(&cs, &t)) == 0) {
        if (t.tag == BER_CTXC(0)) { /* mode-selector: mode-value [0] 1 (normal) */
            struct ber_cursor cm;
            int64_t m;
            if ((r = ber_enter(&t, &cm)) || (r = ber_expect(&cm, BER_CTX(0), &mode)) ||
                (r = ber_get_int(&mode, &m)))
                return r;
            if (m != 1)
                return -EPROTO;
        } else if (t.tag == BER_CTXC(2)) {
            normal = true;
            if ((r = ber_enter(&t, &cn)))
                return r;
            struct ber_tlv p;
            while ((r = ber_next(&cn, &p)) == 0) {
                if (p.tag == BER_CTX(1)) {
                    cp.calling_sel = p.val;
                    cp.calling_len = p.len;
                } else if (p.tag == BER_CTX(2)) {
                    cp.called_sel = p.val;
                    cp.called_len = p.len;
                } else if (p.tag == BER_CTXC(4)) {
                    if ((r = parse_contexts(&p, &cp.ctx)))
                        return r;
                } else if (p.tag == BER_APPC(1)) {
                    if ((r = parse_pdv(&p, &acse_id, &cp.acse, &cp.acse_len)))
                        return r;
                    have_data = true;
                } else if (p.tag == BER_APPC(0)) {
                    return -EPROTO; /* simply-encoded-data */
                }
            }
            if (r != -ENOENT)
                return r;
        }
    }
    if (r != -ENOENT)
        return r;
    if (!normal || !have_data)
        return -EBADMSG;
    if (!cp.ctx.acse_id || !cp.ctx.mms_id || acse_id != cp.ctx.acse_id)
        return -EPROTO;
    *ret = cp;
    return 0;
}

void pres_write_cpa(struct ber_writer *w, const struct pres_cp *cp, const uint8_t *aare,
                    size_t aare_len)
{
    static const uint8_t normal[] = {0x80, 0x01, 0x01};
    ber_w_open(w, BER_SET);
    ber_w_open(w, BER_CTXC(0));
    ber_w_raw(w, normal, sizeof(normal));
    ber_w_close(w);
    ber_w_open(w, BER_CTXC(2));
    if (cp->called_len)
        ber_w_prim(w, BER_CTX(3), cp->called_sel, cp->called_len); /* responding selector */
    ber_w_open(w, BER_CTXC(5)); /* presentation-context-definition-result-list */
    for (unsigned i = 0; i < cp->ctx.n; i++) {
        ber_w_open(w, BER_SEQUENCE);
        if (cp->ctx.accepted[i]) {
            ber_w_int(w, BER_CTX(0), 0); /* acceptance */
            ber_w_prim(w, BER_CTX(1), oid_ber, sizeof(oid_ber));
        } else {
            ber_w_int(w, BER_CTX(0), 2); /* provider-rejection */
            ber_w_int(w, BER_CTX(2), 2); /* abstract-syntax-not-supported */
        }
        ber_w_close(w);
    }
    ber_w_close(w);
    pres_write_data(w, cp->ctx.acse_id, aare, aare_len);
    ber_w_close(w);
    ber_w_close(w);
}

void pres_write_data(struct ber_writer *w, int64_t ctx, const uint8_t *pdu, size_t len)
{
    ber_w_open(w, BER_APPC(1));
    ber_w_open(w, BER_SEQUENCE);
    ber_w_int(w, BER_INTEGER, ctx);
    ber_w_open(w, BER_CTXC(0));
    ber_w_raw(w, pdu, len);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
}

/* --- ACSE --------------------------------------------------------------------------------- */

int acse_parse_aarq(const uint8_t *buf, size_t len, int64_t mms_ctx, const uint8_t **ret_mms,
                    size_t *ret_len)
{
    struct ber_cursor c, ca;
    struct ber_tlv aarq, t;
    bool ctx_ok = false;
    int r;
    ber_cursor_init(&c, buf, len);
    if ((r = ber_expect(&c, BER_APPC(0), &aarq)) || (r = ber_enter(&aarq, &ca)))
        return r;
    while ((r = ber_next(&ca, &t)) == 0) {
        if (t.tag == BER_CTXC(1)) { /* application-context-name */
            struct ber_cursor co;
            struct ber_tlv oid;
            if ((r = ber_enter(&t, &co)) || (r = ber_expect(&co, BER_OID, &oid)))
                return r;
            ctx_ok = oid_is(&oid, oid_mms_ctx, sizeof(oid_mms_ctx));
        } else if (t.tag == BER_CTXC(30)) { /* user-information: EXTERNALs */
            struct ber_cursor cu, ce;
            struct ber_tlv ext, e;
            if ((r = ber_enter(&t, &cu)) || (r = ber_expect(&cu, BER_EXTERNAL, &ext)) ||
                (r = ber_enter(&ext, &ce)))
                return r;
            int64_t ref = 0;
            while ((r = ber_next(&ce, &e)) == 0) {
                if (e.tag == BER_INTEGER) {
                    if ((r = ber_get_int(&e, &ref)))
                        return r;
                } else if (e.tag == BER_CTXC(0)) {
                    if (ref != mms_ctx)
                        return -EPROTO;
                    *ret_mms = e.val;
                    *ret_len = e.len;
                    return ctx_ok ? 0 : -EPROTO;
                }
            }
            return r == -ENOENT ? -EBADMSG : r;
        }
    }
    return r == -ENOENT ? -EBADMSG : r;
}

void acse_write_aare(struct ber_writer *w, bool accepted, int64_t mms_ctx, const uint8_t *mms,
                     size_t mms_len)
{
    ber_w_open(w, BER_APPC(1));
    ber_w_open(w, BER_CTXC(1));
    ber_w_prim(w, BER_OID, oid_mms_ctx, sizeof(oid_mms_ctx));
    ber_w_close(w);
    ber_w_open(w, BER_CTXC(2));
    ber_w_int(w, BER_INTEGER, accepted ? 0 : 1); /* accepted, rejected-permanent */
    ber_w_close(w);
    ber_w_open(w, BER_CTXC(3)); /* result-source-diagnostic: acse-service-user */
    ber_w_open(w, BER_CTXC(1));
    ber_w_int(w, BER_INTEGER, accepted ? 0 : 1); /* null, no-reason-given */
    ber_w_close(w);
    ber_w_close(w);
    if (mms_len) {
        ber_w_open(w, BER_CTXC(30));
        ber_w_open(w, BER_EXTERNAL);
        ber_w_int(w, BER_INTEGER, mms_ctx);
        ber_w_open(w, BER_CTXC(0));
        ber_w_raw(w, mms, mms_len);
        ber_w_close(w);
        ber_w_close(w);
        ber_w_close(w);
    }
    ber_w_close(w);
}

int acse_parse_rlrq(const uint8_t *buf, size_t len)
{
    struct ber_cursor c;
    struct ber_tlv t;
    ber_cursor_init(&c, buf, len);
    int r = ber_expect(&c, BER_APPC(2), &t);
    return r ? r : ber_at_end(&c) ? 0 : -EBADMSG;
}

void acse_write_rlre(struct ber_writer *w)
{
    ber_w_open(w, BER_APPC(3));
    ber_w_int(w, BER_CTX(0), 0); /* normal */
    ber_w_close(w);
}
