/*
 * Unbuffered reporting (report.h): the RCB attributes an association writes
 * and the InformationReports of its data set.
 */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* OptFlds this server fills in; others are cleared when written. */
#define OPT_SUPPORTED                                                                              \
    (uint16_t)((1u << (15 - OPT_SEQ_NUM)) | (1u << (15 - OPT_REASON)) |                            \
               (1u << (15 - OPT_DATA_SET)) | (1u << (15 - OPT_CONF_REV)))
#define TRG(bit) (uint8_t)(1u << (7 - (bit)))
#define OPT(bit) (uint16_t)(1u << (15 - (bit)))

/* Reasons for inclusion (7 bits): data-change 1, integrity 4, general-interrogation 5. */
enum { REASON_DCHG = 1, REASON_INTEGRITY = 4, REASON_GI = 5 };

const struct mms_rcb *mms_rcb_find(const struct mms_rcbs *rs, const char *domain)
{
    for (unsigned i = 0; rs && i < MMS_RCBS_MAX; i++)
        if (rs->r[i].domain[0] && strcmp(rs->r[i].domain, domain) == 0)
            return &rs->r[i];
    return NULL;
}

static void defaults(struct mms_rcb *r, const char *domain)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->domain, sizeof(r->domain), "%s", domain);
    r->opt_flds = OPT(OPT_SEQ_NUM) | OPT(OPT_DATA_SET) | OPT(OPT_REASON);
    r->trg_ops = TRG(TRG_DCHG) | TRG(TRG_INTEGRITY) | TRG(TRG_GI);
}

static void reference(char *buf, size_t cap, const char *domain, const char *item)
{
    snprintf(buf, cap, "%s/%s", domain, item);
}

void mms_rcb_data(struct ber_writer *w, enum mms_src src, const struct mms_rcb *rcb,
                  const char *domain)
{
    struct mms_rcb def;
    if (!rcb) {
        defaults(&def, domain ? domain : "");
        rcb = &def;
    }
    char ref[MMS_ID_MAX * 2 + 2];
    uint8_t bits[2];
    switch (src) {
    case S_RCB_RPTID:
        if (rcb->rpt_id[0])
            ber_w_visible(w, BER_CTX(10), rcb->rpt_id);
        else {
            reference(ref, sizeof(ref), rcb->domain, MMS_RCB_ITEM);
            ber_w_visible(w, BER_CTX(10), ref);
        }
        break;
    case S_RCB_RPTENA:
        ber_w_bool(w, BER_CTX(3), rcb->ena);
        break;
    case S_RCB_RESV:
        ber_w_bool(w, BER_CTX(3), rcb->resv);
        break;
    case S_RCB_GI:
        ber_w_bool(w, BER_CTX(3), false);
        break; /* GI reads as false */
    case S_RCB_DATSET:
        reference(ref, sizeof(ref), rcb->domain, MMS_DATASET);
        ber_w_visible(w, BER_CTX(10), ref);
        break;
    case S_RCB_CONFREV:
        ber_w_uint(w, BER_CTX(6), MMS_RCB_CONFREV);
        break;
    case S_RCB_BUFTM:
        ber_w_uint(w, BER_CTX(6), rcb->buf_tm_ms);
        break;
    case S_RCB_SQNUM:
        ber_w_uint(w, BER_CTX(6), rcb->sq_num);
        break;
    case S_RCB_INTGPD:
        ber_w_uint(w, BER_CTX(6), rcb->intg_pd_ms);
        break;
    case S_RCB_OPTFLDS:
        bits[0] = (uint8_t)(rcb->opt_flds >> 8);
        bits[1] = (uint8_t)rcb->opt_flds;
        ber_w_bits(w, BER_CTX(4), bits, 10);
        break;
    case S_RCB_TRGOPS:
        ber_w_bits(w, BER_CTX(4), &rcb->trg_ops, 6);
        break;
    default:
        ber_w_bool(w, BER_CTX(3), false);
        break;
    }
}

static bool get_bool(const struct ber_tlv *t, bool *ret)
{
    return t->tag == BER_CTX(3) && ber_get_bool(t, ret) == 0;
}

static bool get_u32(const struct ber_tlv *t, uint32_t *ret)
{
    uint64_t v;
    if ((t->tag != BER_CTX(6) && t->tag != BER_CTX(5)) || ber_get_uint(t, &v) || v > UINT32_MAX)
        return false;
    *ret = (uint32_t)v;
    return true;
}

int mms_rcb_write(struct mms_rcbs *rs, const struct mms_device *d, const char *attr,
                  const struct ber_tlv *data)
{
    struct mms_rcb *r = (struct mms_rcb *)mms_rcb_find(rs, d->domain);
    if (!r) {
        for (unsigned i = 0; i < MMS_RCBS_MAX && !r; i++)
            if (!rs->r[i].domain[0] || !rs->r[i].ena)
                r = &rs->r[i]; /* a free slot, or one not enabled: it holds nothing owed */
        if (!r)
            return 2; /* temporarily-unavailable */
        defaults(r, d->domain);
    }
    bool b;
    uint32_t u;
    uint8_t bits[2] = {0, 0};
    size_t nbits;
    if (strcmp(attr, "RptEna") == 0) {
        if (!get_bool(data, &b))
            return 7;
        if (b && !r->ena) {
            r->sq_num = 0;
            r->have_last = false;
            r->next_integrity_ms = rs->now_ms + r->intg_pd_ms;
        }
        r->ena = b;
        return -1;
    }
    if (strcmp(attr, "GI") == 0) {
        if (!get_bool(data, &b))
            return 7;
        if (b && r->ena && (r->trg_ops & TRG(TRG_GI)))
            r->gi_pending = true;
        return -1;
    }
    if (strcmp(attr, "ConfRev") == 0 || strcmp(attr, "SqNum") == 0)
        return 3; /* object-access-denied: read-only */
    if (r->ena)
        return 2; /* the others only while disabled */
    if (strcmp(attr, "RptID") == 0) {
        char id[sizeof(r->rpt_id)];
        if (data->tag != BER_CTX(10) || ber_get_visible(data, id, sizeof(id)))
            return 7;
        memcpy(r->rpt_id, id, sizeof(id));
        return -1;
    }
    if (strcmp(attr, "Resv") == 0) {
        if (!get_bool(data, &b))
            return 7;
        r->resv = b;
        return -1;
    }
    if (strcmp(attr, "DatSet") == 0) {
        char want[MMS_ID_MAX * 2 + 2], got[130];
        if (data->tag != BER_CTX(10) || ber_get_visible(data, got, sizeof(got)))
            return 7;
        reference(want, sizeof(want), d->domain, MMS_DATASET);
        return strcmp(got, want) == 0 ? -1 : 11; /* only its own data set */
    }
    if (strcmp(attr, "IntgPd") == 0 || strcmp(attr, "BufTm") == 0) {
        if (!get_u32(data, &u))
            return 7;
        if (attr[0] == 'I')
            r->intg_pd_ms = u;
        else
            r->buf_tm_ms = u;
        return -1;
    }
    if (strcmp(attr, "OptFlds") == 0 || strcmp(attr, "TrgOps") == 0) {
        if (data->tag != BER_CTX(4) || ber_get_bits(data, bits, sizeof(bits), &nbits))
            return 7;
        if (attr[0] == 'O')
            r->opt_flds = (uint16_t)((bits[0] << 8 | bits[1]) & OPT_SUPPORTED);
        else
            r->trg_ops = (uint8_t)(bits[0] & 0x7c); /* bits 1..5 */
        return -1;
    }
    return 3;
}

static const struct mms_device *find(const struct mms_device *devs, size_t n, const char *domain)
{
    for (size_t lo = 0, hi = n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(devs[mid].domain, domain);
        if (c == 0)
            return &devs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Builds one report of the members in include (bit m: member m) for reason. */
static size_t build(struct mms_rcb *r, const struct mms_values *v, uint32_t include, int reason,
                    uint32_t max_pdu, uint8_t *buf, size_t cap)
{
    struct ber_writer w;
    char ref[MMS_ID_MAX * 2 + 2];
    ber_w_init(&w, buf, cap);
    ber_w_open(&w, BER_CTXC(3)); /* unconfirmed-PDU */
    ber_w_open(&w, BER_CTXC(0)); /* informationReport */
    ber_w_open(&w, BER_CTXC(1)); /* variableListName */
    ber_w_visible(&w, BER_CTX(0), "RPT");
    ber_w_close(&w);
    ber_w_open(&w, BER_CTXC(0)); /* listOfAccessResult */
    mms_rcb_data(&w, S_RCB_RPTID, r, r->domain);
    mms_rcb_data(&w, S_RCB_OPTFLDS, r, r->domain);
    if (r->opt_flds & OPT(OPT_SEQ_NUM))
        ber_w_uint(&w, BER_CTX(6), r->sq_num);
    if (r->opt_flds & OPT(OPT_DATA_SET)) {
        reference(ref, sizeof(ref), r->domain, MMS_DATASET);
        ber_w_visible(&w, BER_CTX(10), ref);
    }
    if (r->opt_flds & OPT(OPT_CONF_REV))
        ber_w_uint(&w, BER_CTX(6), MMS_RCB_CONFREV);
    uint8_t inc[(MMS_DATASET_MAX + 7) / 8] = {0};
    for (unsigned m = 0; m < mms_n_dataset_members; m++)
        if (include & (1u << m))
            inc[m / 8] |= (uint8_t)(0x80 >> (m % 8));
    ber_w_bits(&w, BER_CTX(4), inc, mms_n_dataset_members); /* inclusion-bitstring */
    for (unsigned m = 0; m < mms_n_dataset_members; m++) {
        enum mms_src src;
        const struct mms_node *node = mms_model_find(mms_dataset_members[m], &src);
        if ((include & (1u << m)) && node)
            mms_model_data(&w, node, src, v);
    }
    if (r->opt_flds & OPT(OPT_REASON)) {
        uint8_t why = (uint8_t)(0x80 >> reason);
        for (unsigned m = 0; m < mms_n_dataset_members; m++)
            if (include & (1u << m))
                ber_w_bits(&w, BER_CTX(4), &why, 7);
    }
    ber_w_close(&w);
    ber_w_close(&w);
    ber_w_close(&w);
    if (!ber_w_ok(&w) || w.len > max_pdu)
        return 0;
    r->sq_num++;
    return w.len;
}

/* The hash of each member's encoded value and quality now (not its time: a new reading with
   the same values is no data change). */
static void member_hashes(const struct mms_values *v, uint64_t *ret, uint8_t *buf, size_t cap)
{
    struct reading timeless;
    struct mms_values tv = *v;
    if (v->reading) {
        timeless = *v->reading;
        timeless.ts_ms = 0;
        tv.reading = &timeless;
    }
    v = &tv;
    for (unsigned m = 0; m < mms_n_dataset_members; m++) {
        struct ber_writer w;
        enum mms_src src;
        const struct mms_node *node = mms_model_find(mms_dataset_members[m], &src);
        ber_w_init(&w, buf, cap);
        if (node)
            mms_model_data(&w, node, src, v);
        ret[m] = hash(buf, w.len);
    }
}

void mms_rcb_tick(struct mms_rcbs *rs, const struct mms_provider *p, int64_t now_ms,
                  uint32_t max_pdu, uint8_t *buf, size_t cap,
                  void (*emit)(void *ctx, const uint8_t *pdu, size_t len), void *ctx)
{
    const struct mms_device *devs = NULL;
    size_t n = 0;
    bool listed = false;
    uint32_t all = (1u << mms_n_dataset_members) - 1;
    for (unsigned i = 0; i < MMS_RCBS_MAX; i++) {
        struct mms_rcb *r = &rs->r[i];
        if (!r->domain[0] || !r->ena)
            continue;
        if (!listed && p->devices(p->ctx, &devs, &n))
            return; /* the database is away: next tick */
        listed = true;
        const struct mms_device *d = find(devs, n, r->domain);
        if (!d) {
            r->ena = false; /* the device is gone */
            continue;
        }
        struct reading reading;
        int st = p->latest(p->ctx, d, &reading);
        if (st && st != -ENOENT)
            continue;
        struct mms_values v = {
            .reading = st ? NULL : &reading, .online = d->online, .domain = d->domain, .rcb = r};
        uint64_t now_hash[MMS_DATASET_MAX];
        member_hashes(&v, now_hash, buf, cap);
        size_t len;
        if (r->gi_pending) {
            r->gi_pending = false;
            if ((len = build(r, &v, all, REASON_GI, max_pdu, buf, cap)))
                emit(ctx, buf, len);
        }
        if ((r->trg_ops & TRG(TRG_INTEGRITY)) && r->intg_pd_ms && now_ms >= r->next_integrity_ms) {
            r->next_integrity_ms = now_ms + r->intg_pd_ms;
            if ((len = build(r, &v, all, REASON_INTEGRITY, max_pdu, buf, cap)))
                emit(ctx, buf, len);
        }
        uint64_t seq = st ? 0 : reading.seq;
        if (r->have_last && seq != r->last_seq && (r->trg_ops & TRG(TRG_DCHG))) {
            uint32_t changed = 0;
            for (unsigned m = 0; m < mms_n_dataset_members; m++)
                if (now_hash[m] != r->member_hash[m])
                    changed |= 1u << m;
            if (changed && (len = build(r, &v, changed, REASON_DCHG, max_pdu, buf, cap)))
                emit(ctx, buf, len);
        }
        r->have_last = true;
        r->last_seq = seq;
        memcpy(r->member_hash, now_hash, sizeof(now_hash));
    }
}
