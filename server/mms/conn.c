/*
 * One connection's way up and down the stack (conn.h). Answers are built
 * inside out in the caller's scratch: the MMS PDU, then the presentation
 * (and for the association the ACSE) wrapping after a gap the session header
 * is written into, then the COTP DT TPDUs into the output.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SES_ROOM 32 /* the longest session header we write (AC) fits before the user data */

void mms_conn_init(struct mms_conn *c, uint16_t our_ref)
{
    memset(c, 0, sizeof(*c));
    c->state = MC_WAIT_CR;
    c->our_ref = our_ref ? our_ref : 1;
    c->tpdu_size = COTP_TPDU_DEFAULT;
}

void mms_conn_free(struct mms_conn *c)
{
    free(c->tsdu);
    c->tsdu = NULL;
    c->tsdu_len = 0;
}

static int finish(struct mms_conn *c, enum mms_end why, struct mms_scratch *s, struct dynbuf *out)
{
    /* COTP is up past the CR: say goodbye with a DR unless the client already did. */
    if (c->state != MC_WAIT_CR &&
        (why == MMS_END_MALFORMED || why == MMS_END_REFUSED || why == MMS_END_TOO_BIG)) {
        size_t n;
        if (cotp_write_dr(s->out, sizeof(s->out), &n, c->peer_ref, c->our_ref) == 0)
            (void)dynbuf_add(out, s->out, n);
    }
    c->state = MC_CLOSED;
    c->end = why;
    mms_conn_free(c);
    return 1;
}

/* Wraps user (presentation bytes at s->wrap + SES_ROOM) in a session SPDU and COTP DTs. */
static int send_spdu(struct mms_conn *c, struct mms_scratch *s, struct dynbuf *out, uint8_t si,
                     size_t user_len)
{
    uint8_t hdr[SES_ROOM];
    size_t h, n;
    if (ses_write_header(hdr, sizeof(hdr), &h, si, c->ses_requirements, user_len))
        return -EMSGSIZE;
    uint8_t *start = s->wrap + SES_ROOM - h;
    memcpy(start, hdr, h);
    if (cotp_write_data(s->out, sizeof(s->out), &n, start, h + user_len, c->tpdu_size))
        return -EMSGSIZE;
    return dynbuf_add(out, s->out, n) ? -ENOMEM : 0;
}

/* Answers the CN with AC(CPA(AARE)): accepted carrying the Initiate response in s->pdu
   (pdu_len octets), or rejected without one. */
static int accept_or_reject(struct mms_conn *c, struct mms_scratch *s, const struct pres_cp *cp,
                            bool accepted, size_t pdu_len, struct dynbuf *out)
{
    /* The AARE goes into out's scratch for a moment: the CPA copies it before COTP needs it. */
    struct ber_writer aare;
    ber_w_init(&aare, s->out, sizeof(s->out));
    acse_write_aare(&aare, accepted, cp->ctx.mms_id, s->pdu, accepted ? pdu_len : 0);
    struct ber_writer pres;
    ber_w_init(&pres, s->wrap + SES_ROOM, sizeof(s->wrap) - SES_ROOM);
    pres_write_cpa(&pres, cp, aare.buf, aare.len);
    if (!ber_w_ok(&aare) || !ber_w_ok(&pres))
        return -EMSGSIZE;
    return send_spdu(c, s, out, SES_AC, pres.len);
}

static int on_connect(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                      const struct ses *ses, struct dynbuf *out)
{
    (void)p;
    struct pres_cp cp;
    const uint8_t *init;
    size_t init_len;
    int r = pres_parse_cp(ses->user_data, ses->user_len, &cp);
    if (r)
        return finish(c, r == -EPROTO ? MMS_END_REFUSED : MMS_END_MALFORMED, s, out);
    c->ctx = cp.ctx;
    c->ses_requirements = ses->requirements;
    r = acse_parse_aarq(cp.acse, cp.acse_len, cp.ctx.mms_id, &init, &init_len);
    struct ber_writer w;
    ber_w_init(&w, s->pdu, sizeof(s->pdu));
    if (r == 0)
        r = mms_initiate(init, init_len, &w, &c->max_pdu);
    if (r == -EPROTO) {
        /* Well formed but not what we serve (another application context, a PDU size
           under MMS_PDU_MIN): the client hears why from a rejecting AARE, then we close. */
        r = accept_or_reject(c, s, &cp, false, 0, out);
        if (r == -ENOMEM)
            return r;
        return finish(c, r ? MMS_END_REFUSED : MMS_END_REJECTED, s, out);
    }
    if (r || !ber_w_ok(&w))
        return finish(c, MMS_END_MALFORMED, s, out);
    r = accept_or_reject(c, s, &cp, true, w.len, out);
    if (r == -ENOMEM)
        return r;
    if (r)
        return finish(c, MMS_END_REFUSED, s, out);
    c->state = MC_ASSOCIATED;
    return 0;
}

static int on_data(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                   const struct ses *ses, struct dynbuf *out)
{
    int64_t ctx;
    const uint8_t *pdu;
    size_t len;
    int r = pres_parse_data(ses->user_data, ses->user_len, &ctx, &pdu, &len);
    if (r)
        return finish(c, MMS_END_MALFORMED, s, out);
    if (ctx != c->ctx.mms_id)
        return finish(c, MMS_END_REFUSED, s, out);
    struct ber_writer w;
    ber_w_init(&w, s->pdu, sizeof(s->pdu));
    enum mms_outcome oc;
    r = mms_serve(p, &c->rcbs, c->max_pdu, pdu, len, &w, &oc);
    if (r)
        return finish(c, MMS_END_MALFORMED, s, out);
    c->requests++;
    if (oc == MMS_REJECTED)
        c->rejects++;
    struct ber_writer pres;
    ber_w_init(&pres, s->wrap + SES_ROOM, sizeof(s->wrap) - SES_ROOM);
    pres_write_data(&pres, c->ctx.mms_id, s->pdu, w.len);
    if (!ber_w_ok(&pres))
        return finish(c, MMS_END_REFUSED, s, out);
    r = send_spdu(c, s, out, SES_DT, pres.len);
    if (r == -ENOMEM)
        return r;
    return r ? finish(c, MMS_END_REFUSED, s, out) : 0;
}

static int on_finish(struct mms_conn *c, struct mms_scratch *s, const struct ses *ses,
                     struct dynbuf *out)
{
    int64_t ctx;
    const uint8_t *pdu;
    size_t len;
    if (pres_parse_data(ses->user_data, ses->user_len, &ctx, &pdu, &len) || ctx != c->ctx.acse_id ||
        acse_parse_rlrq(pdu, len))
        return finish(c, MMS_END_MALFORMED, s, out);
    uint8_t rlre[8];
    struct ber_writer w;
    ber_w_init(&w, rlre, sizeof(rlre));
    acse_write_rlre(&w);
    struct ber_writer pres;
    ber_w_init(&pres, s->wrap + SES_ROOM, sizeof(s->wrap) - SES_ROOM);
    pres_write_data(&pres, c->ctx.acse_id, rlre, w.len);
    int r = ber_w_ok(&pres) ? send_spdu(c, s, out, SES_DN, pres.len) : -EMSGSIZE;
    if (r == -ENOMEM)
        return r;
    return finish(c, r ? MMS_END_REFUSED : MMS_END_RELEASED, s, out);
}

static int on_tsdu(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                   const uint8_t *tsdu, size_t len, struct dynbuf *out)
{
    struct ses ses;
    int r = ses_parse(tsdu, len, &ses);
    if (r)
        return finish(c, r == -EPROTO ? MMS_END_REFUSED : MMS_END_MALFORMED, s, out);
    if (ses.si == SES_AB)
        return finish(c, MMS_END_ABORTED, s, out);
    if (c->state == MC_WAIT_CN)
        return ses.si == SES_CN ? on_connect(c, p, s, &ses, out)
                                : finish(c, MMS_END_REFUSED, s, out);
    if (ses.si == SES_DT)
        return on_data(c, p, s, &ses, out);
    if (ses.si == SES_FN)
        return on_finish(c, s, &ses, out);
    return finish(c, MMS_END_REFUSED, s, out);
}

static int on_tpkt(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                   const uint8_t *pkt, size_t len, struct dynbuf *out)
{
    struct cotp t;
    int r = cotp_parse(pkt, len, &t);
    if (r)
        return finish(c, r == -EPROTO ? MMS_END_REFUSED : MMS_END_MALFORMED, s, out);
    if (c->state == MC_WAIT_CR) {
        if (t.code != COTP_CR)
            return finish(c, MMS_END_REFUSED, s, out);
        size_t n;
        c->peer_ref = t.src_ref;
        c->tpdu_size = t.tpdu_size < COTP_TPDU_MAX ? t.tpdu_size : COTP_TPDU_MAX;
        if (cotp_write_cc(s->out, sizeof(s->out), &n, &t, c->our_ref, c->tpdu_size))
            return finish(c, MMS_END_REFUSED, s, out);
        if (dynbuf_add(out, s->out, n))
            return -ENOMEM;
        c->state = MC_WAIT_CN;
        return 0;
    }
    if (t.code == COTP_DR)
        return finish(c, MMS_END_RELEASED, s, out);
    if (t.code != COTP_DT)
        return finish(c, MMS_END_REFUSED, s, out);
    if (t.eot && c->tsdu_len == 0) /* the common case: a TSDU in one TPDU, no copy */
        return on_tsdu(c, p, s, t.data, t.data_len, out);
    if (t.data_len > MMS_TSDU_MAX - c->tsdu_len)
        return finish(c, MMS_END_TOO_BIG, s, out);
    if (!c->tsdu && !(c->tsdu = malloc(MMS_TSDU_MAX)))
        return -ENOMEM;
    memcpy(c->tsdu + c->tsdu_len, t.data, t.data_len);
    c->tsdu_len += t.data_len;
    if (!t.eot)
        return 0;
    r = on_tsdu(c, p, s, c->tsdu, c->tsdu_len, out);
    if (c->state != MC_CLOSED)
        mms_conn_free(c); /* whole again: an idle connection holds no reassembly buffer */
    return r;
}

int mms_conn_input(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                   const uint8_t *in, size_t len, size_t *used, struct dynbuf *out)
{
    size_t off = 0;
    int r = 0;
    /* A client may send many requests before reading: stop once out holds an answer's
       worth, so output stays bounded; the rest comes again after it is sent. */
    while (c->state != MC_CLOSED && out->len < MMS_OUT_MAX) {
        size_t n;
        r = tpkt_frame(in + off, len - off, &n);
        if (r == -EAGAIN) {
            r = 0;
            break;
        }
        if (r) {
            r = finish(c, MMS_END_MALFORMED, s, out);
            break;
        }
        r = on_tpkt(c, p, s, in + off, n, out);
        off += n;
        if (r)
            break;
    }
    *used = off;
    return r < 0 ? r : c->state == MC_CLOSED ? 1 : 0;
}

struct tick_ctx {
    struct mms_conn *c;
    struct mms_scratch *s;
    struct dynbuf *out;
    int err;
};

static void emit_report(void *ctx, const uint8_t *pdu, size_t len)
{
    struct tick_ctx *t = ctx;
    if (t->err)
        return;
    struct ber_writer pres;
    ber_w_init(&pres, t->s->wrap + SES_ROOM, sizeof(t->s->wrap) - SES_ROOM);
    pres_write_data(&pres, t->c->ctx.mms_id, pdu, len);
    t->err = ber_w_ok(&pres) ? send_spdu(t->c, t->s, t->out, SES_DT, pres.len) : -EMSGSIZE;
    if (t->err == 0)
        t->c->reports++;
}

int mms_conn_tick(struct mms_conn *c, const struct mms_provider *p, struct mms_scratch *s,
                  int64_t now_ms, struct dynbuf *out)
{
    if (c->state != MC_ASSOCIATED)
        return 0;
    struct tick_ctx t = {.c = c, .s = s, .out = out};
    mms_rcb_tick(&c->rcbs, p, now_ms, c->max_pdu, s->pdu, sizeof(s->pdu), emit_report, &t);
    return t.err == -ENOMEM ? -ENOMEM : 0;
}
