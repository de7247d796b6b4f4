/*
 * The MMS server's decoders (server/mms/) on what a client may send.
 *
 * The first byte picks the case, the second how the rest is cut into reads:
 *   0  the BER reader walks every element and reads each primitive as every
 *      type MMS has (integer, unsigned, boolean, string, bits, float, time)
 *   1  a new connection (waiting for a COTP CR) reads the bytes
 *   2  an associated connection (the independent client's CR and CN of
 *      mms_fake.c first) reads the bytes
 *   3  an associated connection reads the bytes as one MMS PDU, wrapped in
 *      TPKT, COTP DT, session and presentation data, so the services parse it
 * In cases 2 and 3 the connection then ticks twice, a new reading between,
 * so report control blocks the input enabled send their reports.
 *   4  the presentation CP, ACSE AARQ and MMS Initiate parsers in turn
 *
 * Checks: every read either takes whole TPKTs or nothing; an ended
 * connection stays ended; every answer is a whole TPKT sequence; the BER of
 * an MMS answer walks cleanly.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fuzz.h"
#include "mms_fake.h"
#include "mms_test_util.h"

static struct mms_scratch *scratch;
static struct mms_fake fake;
static struct mms_provider provider;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    scratch = malloc(sizeof(*scratch));
    mms_fake_init(&fake, &provider);
    return 0;
}

static void every_type(struct ber_cursor *c)
{
    struct ber_tlv t;
    while (ber_next(c, &t) == 0) {
        FUZZ_CHECK(t.val + t.len == c->p);
        if (ber_constructed(&t)) {
            struct ber_cursor in;
            if (ber_enter(&t, &in) == 0) {
                FUZZ_CHECK(in.depth < BER_MAX_DEPTH);
                every_type(&in);
            }
            continue;
        }
        int64_t i;
        uint64_t u;
        bool b;
        char s[80];
        uint8_t bits[16];
        size_t nbits;
        double d;
        uint8_t q;
        (void)ber_get_int(&t, &i);
        (void)ber_get_uint(&t, &u);
        (void)ber_get_bool(&t, &b);
        if (ber_get_visible(&t, s, sizeof(s)) == 0)
            FUZZ_CHECK(strlen(s) == t.len);
        if (ber_get_bits(&t, bits, sizeof(bits), &nbits) == 0)
            FUZZ_CHECK(nbits <= t.len * 8);
        (void)ber_get_mms_float(&t, &d);
        (void)ber_get_utc_ms(&t, &i, &q);
    }
}

/* Every answer is whole TPKTs. */
static void check_output(const struct dynbuf *out)
{
    const uint8_t *p = (const uint8_t *)out->buf;
    size_t off = 0;
    while (off < out->len) {
        size_t n;
        FUZZ_CHECK(tpkt_frame(p + off, out->len - off, &n) == 0);
        off += n;
    }
}

static void run_conn(struct mms_conn *c, const uint8_t *data, size_t size, size_t step,
                     struct dynbuf *out)
{
    static uint8_t pending[TPKT_MAX + 1 + 4096];
    size_t have = 0, off = 0;
    while (off < size && c->state != MC_CLOSED) {
        size_t k = size - off < step ? size - off : step;
        if (have + k > sizeof(pending))
            break; /* the loop's input buffer holds one TPKT at most */
        memcpy(pending + have, data + off, k);
        have += k;
        off += k;
        size_t used;
        int r = mms_conn_input(c, &provider, scratch, pending, have, &used, out);
        FUZZ_CHECK(used <= have);
        FUZZ_CHECK(r == 0 || r == 1 || r == -ENOMEM);
        FUZZ_CHECK((r == 1) == (c->state == MC_CLOSED));
        memmove(pending, pending + used, have - used);
        have -= used;
    }
    check_output(out);
}

/* Lets report control blocks the input enabled send what they owe (GI, integrity, a data
   change: the fake's reading moves on between two ticks), as whole TPKTs. */
static void tick(struct mms_conn *c, struct dynbuf *out)
{
    dynbuf_reset(out);
    FUZZ_CHECK(mms_conn_tick(c, &provider, scratch, INT64_C(1) << 40, out) == 0);
    fake.reading.seq++;
    reading_set_real(&fake.reading, RR_POWER_W, fake.reading.real[RR_POWER_W] + 1);
    FUZZ_CHECK(mms_conn_tick(c, &provider, scratch, (INT64_C(1) << 40) + 1, out) == 0);
    check_output(out);
    FUZZ_CHECK(c->reports <= 2 * MMS_RCBS_MAX * 3);
}

static void associated(struct mms_conn *c, struct dynbuf *out)
{
    size_t used;
    mms_conn_init(c, 2);
    FUZZ_CHECK(mms_conn_input(c, &provider, scratch, mms_fake_cr, mms_fake_cr_len, &used, out) ==
               0);
    FUZZ_CHECK(mms_conn_input(c, &provider, scratch, mms_fake_cn, mms_fake_cn_len, &used, out) ==
               0);
    FUZZ_CHECK(c->state == MC_ASSOCIATED);
    dynbuf_reset(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    mms_fake_init(&fake, &provider); /* each input from the same reading */
    uint8_t mode = data[0] % 5;
    size_t step = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    struct dynbuf out;
    dynbuf_init(&out, 4u << 20);
    struct mms_conn c;
    switch (mode) {
    case 0: {
        struct ber_cursor cur;
        ber_cursor_init(&cur, data, size);
        every_type(&cur);
        break;
    }
    case 1:
        mms_conn_init(&c, 2);
        run_conn(&c, data, size, step, &out);
        mms_conn_free(&c);
        break;
    case 2:
        associated(&c, &out);
        run_conn(&c, data, size, step, &out);
        tick(&c, &out);
        mms_conn_free(&c);
        break;
    case 3: {
        static uint8_t pkt[8192];
        size_t n = size < 4000 ? mms_fake_wrap(pkt, sizeof(pkt), data, size) : 0;
        associated(&c, &out);
        if (n)
            run_conn(&c, pkt, n, n, &out);
        if (c.state == MC_ASSOCIATED && out.len > 11) {
            /* A served PDU: its answer (in DT TPDUs of at most 2048 octets, reassembled)
               is session GT+DT, then whole presentation data, then MMS BER. */
            static uint8_t tsdu[MMS_TSDU_MAX];
            size_t tlen = 0, off = 0, k;
            const uint8_t *o = (const uint8_t *)out.buf;
            while (off < out.len && tpkt_frame(o + off, out.len - off, &k) == 0) {
                FUZZ_CHECK(k >= 7 && o[off + 5] == COTP_DT && tlen + k - 7 <= sizeof(tsdu));
                memcpy(tsdu + tlen, o + off + 7, k - 7);
                tlen += k - 7;
                off += k;
            }
            FUZZ_CHECK(off == out.len && tlen > 4);
            int64_t ctx;
            const uint8_t *pdu;
            size_t len;
            FUZZ_CHECK(pres_parse_data(tsdu + 4, tlen - 4, &ctx, &pdu, &len) == 0);
            FUZZ_CHECK(mms_ber_walk_buf(pdu, len) == 0);
        }
        tick(&c, &out);
        mms_conn_free(&c);
        break;
    }
    case 4: {
        struct pres_cp cp;
        const uint8_t *init;
        size_t init_len;
        uint8_t buf[1024];
        struct ber_writer w;
        uint32_t max_pdu;
        if (pres_parse_cp(data, size, &cp) == 0 &&
            acse_parse_aarq(cp.acse, cp.acse_len, cp.ctx.mms_id, &init, &init_len) == 0) {
            ber_w_init(&w, buf, sizeof(buf));
            if (mms_initiate(init, init_len, &w, &max_pdu) == 0)
                FUZZ_CHECK(max_pdu >= MMS_PDU_MIN && max_pdu <= MMS_PDU_MAX);
        }
        ber_w_init(&w, buf, sizeof(buf));
        (void)mms_initiate(data, size, &w, &max_pdu);
        break;
    }
    }
    dynbuf_free(&out);
    return 0;
}
