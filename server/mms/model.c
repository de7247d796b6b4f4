/*
 * The static model of model.h and its two encodings: the type description
 * (GetVariableAccessAttributes) and the data (Read).
 */
#include "model.h"
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))
#define LEAF(nm, k)                                                                                \
    {                                                                                              \
        .name = nm, .kind = k                                                                      \
    }
#define DO(nm, type, s)                                                                            \
    {                                                                                              \
        .name = nm, .kind = MK_STRUCT, .kids = type, .n_kids = N(type), .src = s                   \
    }
#define SUB(nm, type)                                                                              \
    {                                                                                              \
        .name = nm, .kind = MK_STRUCT, .kids = type, .n_kids = N(type)                             \
    }

/* Common data classes (IEC 61850-7-3), attributes in name order. */
static const struct mms_node analogue[] = {LEAF("f", MK_FLOAT)};
static const struct mms_node vector[] = {SUB("mag", analogue)};
static const struct mms_node mv[] = {SUB("mag", analogue), LEAF("q", MK_QUALITY),
                                     LEAF("t", MK_TIME)};
static const struct mms_node cmv[] = {SUB("cVal", vector), LEAF("q", MK_QUALITY),
                                      LEAF("t", MK_TIME)};
static const struct mms_node bcr[] = {LEAF("actVal", MK_INT64), LEAF("q", MK_QUALITY),
                                      LEAF("t", MK_TIME)};
static const struct mms_node ens[] = {LEAF("q", MK_QUALITY), LEAF("stVal", MK_ENUM),
                                      LEAF("t", MK_TIME)};
static const struct mms_node sps[] = {LEAF("q", MK_QUALITY), LEAF("stVal", MK_BOOL),
                                      LEAF("t", MK_TIME)};

/* WYE: one CMV per phase. */
static const struct mms_node wye_phv[] = {DO("phsA", cmv, S_PHV_A), DO("phsB", cmv, S_PHV_B),
                                          DO("phsC", cmv, S_PHV_C)};
static const struct mms_node wye_a[] = {DO("phsA", cmv, S_A_A), DO("phsB", cmv, S_A_B),
                                        DO("phsC", cmv, S_A_C)};
static const struct mms_node wye_thdv[] = {DO("phsA", cmv, S_THDV_A), DO("phsB", cmv, S_THDV_B),
                                           DO("phsC", cmv, S_THDV_C)};
static const struct mms_node wye_thda[] = {DO("phsA", cmv, S_THDA_A), DO("phsB", cmv, S_THDA_B),
                                           DO("phsC", cmv, S_THDA_C)};

/* Logical nodes, by functional constraint. */
static const struct mms_node lln0_st[] = {DO("Beh", ens, S_MODE_ON), DO("Health", ens, S_HEALTH),
                                          DO("Mod", ens, S_MODE_ON)};
static const struct mms_node lphd_st[] = {DO("PhyHealth", ens, S_HEALTH),
                                          DO("Proxy", sps, S_PROXY)};
static const struct mms_node mhai_mx[] = {SUB("ThdA", wye_thda), SUB("ThdPhV", wye_thdv)};
static const struct mms_node mmtr_st[] = {DO("TotVArh", bcr, S_TOTVARH), DO("TotWh", bcr, S_TOTWH)};
static const struct mms_node mmxu_mx[] = {SUB("A", wye_a),          DO("Hz", mv, S_HZ),
                                          SUB("PhV", wye_phv),      DO("TotPF", mv, S_TOTPF),
                                          DO("TotVA", mv, S_TOTVA), DO("TotVAr", mv, S_TOTVAR),
                                          DO("TotW", mv, S_TOTW)};

/* The unbuffered report control block of the data set (IEC 61850-8-1's component order). */
#define RCB(nm, k, sz, s)                                                                          \
    {                                                                                              \
        .name = nm, .kind = k, .src = s, .size = sz                                                \
    }
static const struct mms_node urcb[] = {RCB("RptID", MK_VSTRING, 65, S_RCB_RPTID),
                                       RCB("RptEna", MK_BOOL, 0, S_RCB_RPTENA),
                                       RCB("Resv", MK_BOOL, 0, S_RCB_RESV),
                                       RCB("DatSet", MK_VSTRING, 129, S_RCB_DATSET),
                                       RCB("ConfRev", MK_UNSIGNED, 32, S_RCB_CONFREV),
                                       RCB("OptFlds", MK_BITS, 10, S_RCB_OPTFLDS),
                                       RCB("BufTm", MK_UNSIGNED, 32, S_RCB_BUFTM),
                                       RCB("SqNum", MK_UNSIGNED, 8, S_RCB_SQNUM),
                                       RCB("TrgOps", MK_BITS, 6, S_RCB_TRGOPS),
                                       RCB("IntgPd", MK_UNSIGNED, 32, S_RCB_INTGPD),
                                       RCB("GI", MK_BOOL, 0, S_RCB_GI)};
static const struct mms_node lln0_rp[] = {SUB("urcbMeas01", urcb)};

/* Mod is an ENC: its control model says status-only (this server takes no control). */
static const struct mms_node enc_cf[] = {LEAF("ctlModel", MK_ENUM)};
static const struct mms_node lln0_cf[] = {DO("Mod", enc_cf, S_CTL_MODEL)};
static const struct mms_node lln0[] = {SUB("CF", lln0_cf), SUB("RP", lln0_rp), SUB("ST", lln0_st)};
static const struct mms_node lphd[] = {SUB("ST", lphd_st)};
static const struct mms_node mhai[] = {SUB("MX", mhai_mx)};
static const struct mms_node mmtr[] = {SUB("ST", mmtr_st)};
static const struct mms_node mmxu[] = {SUB("MX", mmxu_mx)};

const struct mms_node mms_lns[] = {SUB("LLN0", lln0), SUB("LPHD1", lphd), SUB("MHAI1", mhai),
                                   SUB("MMTR1", mmtr), SUB("MMXU1", mmxu)};
const unsigned mms_n_lns = N(mms_lns);

const char *const mms_dataset_members[] = {"MMXU1$MX$TotW",  "MMXU1$MX$TotVAr", "MMXU1$MX$TotVA",
                                           "MMXU1$MX$TotPF", "MMXU1$MX$Hz",     "MMXU1$MX$PhV",
                                           "MMXU1$MX$A",     "MMTR1$ST$TotWh",  "MMTR1$ST$TotVArh"};
const unsigned mms_n_dataset_members = N(mms_dataset_members);

const struct mms_node *mms_model_find(const char *item, enum mms_src *ret_src)
{
    const struct mms_node *kids = mms_lns, *n = NULL;
    unsigned n_kids = mms_n_lns;
    enum mms_src src = S_NONE;
    const char *p = item;
    for (;;) {
        const char *d = strchr(p, '$');
        size_t len = d ? (size_t)(d - p) : strlen(p);
        n = NULL;
        for (unsigned i = 0; i < n_kids; i++)
            if (strlen(kids[i].name) == len && memcmp(kids[i].name, p, len) == 0) {
                n = &kids[i];
                break;
            }
        if (!n)
            return NULL;
        if (n->src != S_NONE)
            src = n->src;
        if (!d)
            break;
        kids = n->kids;
        n_kids = n->n_kids;
        p = d + 1;
    }
    *ret_src = src;
    return n;
}

#define WALK_KIDS_MAX 16

static int walk(const struct mms_node *kids, unsigned n, char *name, size_t len,
                int (*cb)(const char *, void *), void *ctx)
{
    /* Names in collating order whatever the components' order (the RCB's is the standard's). */
    unsigned order[WALK_KIDS_MAX];
    if (n > WALK_KIDS_MAX)
        n = WALK_KIDS_MAX; /* cannot happen with this model */
    for (unsigned i = 0; i < n; i++) {
        unsigned j = i;
        for (; j > 0 && strcmp(kids[order[j - 1]].name, kids[i].name) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (unsigned o = 0; o < n; o++) {
        const struct mms_node *kid = &kids[order[o]];
        int k = len ? snprintf(name + len, MMS_ITEM_MAX + 1 - len, "$%s", kid->name)
                    : snprintf(name, MMS_ITEM_MAX + 1, "%s", kid->name);
        if (k < 0 || (size_t)k >= MMS_ITEM_MAX + 1 - len)
            continue; /* cannot happen with this model */
        int r = cb(name, ctx);
        if (r)
            return r;
        if (kid->kind == MK_STRUCT) {
            r = walk(kid->kids, kid->n_kids, name, len + (size_t)k, cb, ctx);
            if (r)
                return r;
        }
        name[len] = '\0';
    }
    return 0;
}

int mms_model_walk(int (*cb)(const char *name, void *ctx), void *ctx)
{
    char name[MMS_ITEM_MAX + 1] = "";
    return walk(mms_lns, mms_n_lns, name, 0, cb, ctx);
}

void mms_model_type(struct ber_writer *w, const struct mms_node *n)
{
    static const uint8_t float32[] = {0x02, 0x01, 0x20, 0x02, 0x01, 0x08};
    switch (n->kind) {
    case MK_STRUCT:
        ber_w_open(w, BER_CTXC(2)); /* structure */
        ber_w_open(w, BER_CTXC(1)); /* components */
        for (unsigned i = 0; i < n->n_kids; i++) {
            ber_w_open(w, BER_SEQUENCE);
            ber_w_visible(w, BER_CTX(0), n->kids[i].name);
            ber_w_open(w, BER_CTXC(1)); /* componentType: a TypeSpecification */
            mms_model_type(w, &n->kids[i]);
            ber_w_close(w);
            ber_w_close(w);
        }
        ber_w_close(w);
        ber_w_close(w);
        break;
    case MK_FLOAT:
        ber_w_prim(w, BER_CTXC(7), float32, sizeof(float32));
        break;
    case MK_QUALITY:
        ber_w_int(w, BER_CTX(4), -13); /* a bit string of 13 bits */
        break;
    case MK_TIME:
        ber_w_null(w, BER_CTX(17));
        break;
    case MK_ENUM:
        ber_w_uint(w, BER_CTX(5), 8); /* integer, 8 bits */
        break;
    case MK_INT64:
        ber_w_uint(w, BER_CTX(5), 64);
        break;
    case MK_BOOL:
        ber_w_null(w, BER_CTX(3));
        break;
    case MK_VSTRING:
        ber_w_int(w, BER_CTX(10), -(int64_t)n->size); /* at most size characters */
        break;
    case MK_UNSIGNED:
        ber_w_uint(w, BER_CTX(6), n->size);
        break;
    case MK_BITS:
        ber_w_int(w, BER_CTX(4), -(int64_t)n->size);
        break;
    }
}

static bool real(const struct reading *r, enum reading_real f, enum reading_real fallback,
                 double *ret)
{
    if (reading_has_real(r, f)) {
        *ret = r->real[f];
        return true;
    }
    if ((int)fallback >= 0 && reading_has_real(r, fallback)) {
        *ret = r->real[fallback];
        return true;
    }
    return false;
}

bool mms_src_value(enum mms_src src, const struct reading *r, double *ret)
{
    if (!r)
        return false;
    /* A single-phase device fills phase A from its one voltage, current and THD. */
    const int none = -1;
    switch (src) {
    case S_TOTW:
        return real(r, RR_POWER_W, (enum reading_real)none, ret);
    case S_TOTVAR:
        return real(r, RR_REACTIVE_VAR, (enum reading_real)none, ret);
    case S_TOTVA:
        return real(r, RR_APPARENT_VA, (enum reading_real)none, ret);
    case S_TOTPF:
        return real(r, RR_PF, (enum reading_real)none, ret);
    case S_HZ:
        return real(r, RR_FREQ_HZ, (enum reading_real)none, ret);
    case S_PHV_A:
        return real(r, RR_VOLTAGE_A, RR_VOLTAGE, ret);
    case S_PHV_B:
        return real(r, RR_VOLTAGE_B, (enum reading_real)none, ret);
    case S_PHV_C:
        return real(r, RR_VOLTAGE_C, (enum reading_real)none, ret);
    case S_A_A:
        return real(r, RR_CURRENT_A, RR_CURRENT, ret);
    case S_A_B:
        return real(r, RR_CURRENT_B, (enum reading_real)none, ret);
    case S_A_C:
        return real(r, RR_CURRENT_C, (enum reading_real)none, ret);
    case S_THDV_A:
        return real(r, RR_THD_V_A, RR_THD_V, ret);
    case S_THDV_B:
        return real(r, RR_THD_V_B, (enum reading_real)none, ret);
    case S_THDV_C:
        return real(r, RR_THD_V_C, (enum reading_real)none, ret);
    case S_THDA_A:
        return real(r, RR_THD_I_A, RR_THD_I, ret);
    case S_THDA_B:
        return real(r, RR_THD_I_B, (enum reading_real)none, ret);
    case S_THDA_C:
        return real(r, RR_THD_I_C, (enum reading_real)none, ret);
    case S_TOTWH:
        if (!reading_has_counter(r, RC_ENERGY_IMPORT))
            return false;
        *ret = (double)(r->counter[RC_ENERGY_IMPORT] / 1000); /* mWh to whole Wh */
        return true;
    case S_TOTVARH:
        if (!reading_has_counter(r, RC_REACTIVE_IMPORT))
            return false;
        *ret = (double)(r->counter[RC_REACTIVE_IMPORT] / 1000);
        return true;
    default:
        return false;
    }
}

/* Quality (IEC 61850-7-3): validity in the first two bits (good 00, invalid 01, questionable
   11), oldData the eighth. */
static void quality(struct ber_writer *w, enum mms_src src, const struct mms_values *v)
{
    uint8_t q[2] = {0, 0};
    double x;
    bool status = src == S_MODE_ON || src == S_HEALTH || src == S_PROXY || src == S_CTL_MODEL;
    if (!status && !mms_src_value(src, v->reading, &x))
        q[0] = 0x40; /* invalid: the reading does not hold it */
    else if (!v->online && src != S_MODE_ON && src != S_PROXY && src != S_CTL_MODEL)
        q[0] = 0xc0 | 0x01; /* questionable, oldData */
    ber_w_bits(w, BER_CTX(4), q, 13);
}

void mms_model_data(struct ber_writer *w, const struct mms_node *n, enum mms_src src,
                    const struct mms_values *v)
{
    if (n->src != S_NONE)
        src = n->src;
    double x = 0;
    switch (n->kind) {
    case MK_STRUCT:
        ber_w_open(w, BER_CTXC(2));
        for (unsigned i = 0; i < n->n_kids; i++)
            mms_model_data(w, &n->kids[i], src, v);
        ber_w_close(w);
        break;
    case MK_FLOAT:
        (void)mms_src_value(src, v->reading, &x);
        ber_w_mms_float(w, BER_CTX(7), (float)x);
        break;
    case MK_QUALITY:
        quality(w, src, v);
        break;
    case MK_TIME:
        ber_w_utc_ms(w, BER_CTX(17), v->reading ? v->reading->ts_ms : 0,
                     0x0a); /* 10 bits of accuracy (about 1 ms) */
        break;
    case MK_ENUM:
        /* Mod and Beh: 1 (on); Health: 1 (ok), 2 (warning) while the device is offline. */
        ber_w_int(w, BER_CTX(5),
                  src == S_CTL_MODEL              ? 0 /* status-only */
                  : src == S_HEALTH && !v->online ? 2
                                                  : 1);
        break;
    case MK_INT64:
        (void)mms_src_value(src, v->reading, &x);
        ber_w_int(w, BER_CTX(5), (int64_t)x);
        break;
    case MK_BOOL:
    case MK_VSTRING:
    case MK_UNSIGNED:
    case MK_BITS:
        if (src >= S_RCB_RPTID && src <= S_RCB_GI)
            mms_rcb_data(w, src, v->rcb, v->domain);
        else
            ber_w_bool(w, BER_CTX(3), false); /* Proxy */
        break;
    }
}

int mms_domain_name(const char *device_id, char ret[MMS_ID_MAX + 1])
{
    size_t plen = strlen(MMS_DOMAIN_PREFIX), n = strlen(device_id);
    if (plen + n > MMS_ID_MAX)
        return -ENAMETOOLONG;
    memcpy(ret, MMS_DOMAIN_PREFIX, plen);
    for (size_t i = 0; i < n; i++) {
        char c = device_id[i];
        ret[plen + i] = c == '-' || c == '.' || c == ':' ? '_' : c;
    }
    ret[plen + n] = '\0';
    return 0;
}
