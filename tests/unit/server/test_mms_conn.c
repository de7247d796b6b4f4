/*
 * One MMS connection's way through TPKT, COTP, session, presentation, ACSE
 * and MMS (server/mms/conn.h) from the bytes an independent client sends
 * (mms_fake.c): input cut anywhere, split TSDUs, wrong input at each layer,
 * pipelined requests, reporting; and the client allow-list (mms.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn.h"
#include "mms.h"
#include "mms_fake.h"
#include "mms_test_util.h"

static struct mms_scratch scratch;

/* The response's service element: the second element of the confirmed-ResponsePDU. */
static struct ber_tlv response_service(const uint8_t *buf, size_t len)
{
    struct ber_cursor c, in;
    struct ber_tlv t, id, svc;
    ber_cursor_init(&c, buf, len);
    assert_int_equal(ber_expect(&c, BER_CTXC(1), &t), 0);
    assert_int_equal(ber_enter(&t, &in), 0);
    assert_int_equal(ber_expect(&in, BER_INTEGER, &id), 0);
    assert_int_equal(ber_next(&in, &svc), 0);
    return svc;
}

/* --- one connection ---------------------------------------------------------------------- */

/* Feeds in cut into pieces of step octets; returns the last mms_conn_input() result. */
static int feed(struct mms_conn *c, const struct mms_provider *p, const uint8_t *in, size_t len,
                size_t step, struct dynbuf *out)
{
    static uint8_t pending[70000];
    size_t have = 0, off = 0;
    int r = 0;
    while (off < len && r == 0) {
        size_t k = len - off < step ? len - off : step;
        memcpy(pending + have, in + off, k);
        have += k;
        off += k;
        size_t used;
        r = mms_conn_input(c, p, &scratch, pending, have, &used, out);
        memmove(pending, pending + used, have - used);
        have -= used;
    }
    return r;
}

static void associate(struct mms_conn *c, const struct mms_provider *p, struct dynbuf *out,
                      size_t step)
{
    mms_conn_init(c, 2);
    assert_int_equal(feed(c, p, mms_fake_cr, mms_fake_cr_len, step, out), 0);
    assert_int_equal(feed(c, p, mms_fake_cn, mms_fake_cn_len, step, out), 0);
    assert_int_equal(c->state, MC_ASSOCIATED);
}

static void test_a_client_associates_and_gets_the_negotiated_pdu_size(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    associate(&c, &p, &out, 4096);
    const uint8_t *o = (const uint8_t *)out.buf;
    /* The CC: our reference 2, the client's 1, TPDU size 2048 and the TSAPs echoed. */
    static const uint8_t cc[] = {0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x02, 0x00,
                                 0xc0, 0x01, 0x0b, 0xc1, 0x02, 0x00, 0x01, 0xc2, 0x02, 0x00, 0x01};
    assert_true(out.len > sizeof(cc) + 7);
    assert_memory_equal(o, cc, sizeof(cc));
    /* Then one DT with a session ACCEPT. */
    const uint8_t *dt = o + sizeof(cc);
    size_t n;
    assert_int_equal(tpkt_frame(dt, out.len - sizeof(cc), &n), 0);
    assert_int_equal(n, out.len - sizeof(cc));
    assert_int_equal(dt[5], 0xf0);
    assert_int_equal(dt[7], SES_AC);
    assert_int_equal(c.max_pdu, MMS_PDU_MAX); /* the client offered 65000 */
    assert_int_equal(c.ctx.mms_id, 3);
    assert_int_equal(c.ctx.acse_id, 1);
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_a_pdu_size_under_the_minimum_gets_a_rejecting_aare(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    /* The client's CN with localDetailCalling 1000 instead of 65000. */
    static uint8_t cn[256];
    memcpy(cn, mms_fake_cn, mms_fake_cn_len);
    static const uint8_t proposed[] = {0x80, 0x03, 0x00, 0xfd, 0xe8};
    uint8_t *at = memmem(cn, mms_fake_cn_len, proposed, sizeof(proposed));
    assert_non_null(at);
    at[3] = 0x03; /* 0x03e8 */
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    mms_conn_init(&c, 2);
    assert_int_equal(feed(&c, &p, mms_fake_cr, mms_fake_cr_len, 4096, &out), 0);
    size_t cc_len = out.len;
    assert_int_equal(feed(&c, &p, cn, mms_fake_cn_len, 4096, &out), 1);
    assert_int_equal(c.end, MMS_END_REJECTED);
    const uint8_t *o = (const uint8_t *)out.buf + cc_len;
    assert_int_equal(o[7], SES_AC);
    /* AARE result: rejected-permanent (1), and no DR after it. */
    assert_non_null(memmem(o, out.len - cc_len, "\xa2\x03\x02\x01\x01", 5));
    size_t n;
    assert_int_equal(tpkt_frame(o, out.len - cc_len, &n), 0);
    assert_int_equal(n, out.len - cc_len);
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_input_cut_anywhere_gives_the_same_answers(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct dynbuf whole, bytewise;
    dynbuf_init(&whole, 1 << 20);
    dynbuf_init(&bytewise, 1 << 20);
    struct mms_conn a, b;
    associate(&a, &p, &whole, 65536);
    associate(&b, &p, &bytewise, 1);
    assert_int_equal(whole.len, bytewise.len);
    assert_memory_equal(whole.buf, bytewise.buf, whole.len);
    mms_conn_free(&a);
    mms_conn_free(&b);
    dynbuf_free(&whole);
    dynbuf_free(&bytewise);
}

static void test_a_tsdu_in_several_tpdus_is_reassembled(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    /* The CN's TSDU (after TPKT and the DT header) in three TPDUs, EOT on the last. */
    const uint8_t *tsdu = mms_fake_cn + 7;
    size_t len = mms_fake_cn_len - 7, cut[] = {0, 50, 100, len};
    uint8_t split[512];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t k = cut[i + 1] - cut[i], tp = 7 + k;
        const uint8_t hdr[] = {3, 0,    (uint8_t)(tp >> 8),          (uint8_t)tp,
                               2, 0xf0, (uint8_t)(i == 2 ? 0x80 : 0)};
        memcpy(split + n, hdr, 7);
        memcpy(split + n + 7, tsdu + cut[i], k);
        n += tp;
    }
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    mms_conn_init(&c, 2);
    assert_int_equal(feed(&c, &p, mms_fake_cr, mms_fake_cr_len, 4096, &out), 0);
    assert_int_equal(feed(&c, &p, split, n, 4096, &out), 0);
    assert_int_equal(c.state, MC_ASSOCIATED);
    assert_null(c.tsdu); /* freed once whole */
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_identify_over_the_whole_stack(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    associate(&c, &p, &out, 4096);
    dynbuf_reset(&out);
    static const uint8_t identify[] = {0xa0, 0x05, 0x02, 0x01, 0x09, 0x82, 0x00};
    uint8_t pkt[256];
    size_t n = mms_fake_wrap(pkt, sizeof(pkt), identify, sizeof(identify));
    assert_int_equal(feed(&c, &p, pkt, n, 4096, &out), 0);
    assert_int_equal(c.requests, 1);
    /* TPKT, DT, session GT+DT, then presentation data of context 3 holding the response. */
    const uint8_t *o = (const uint8_t *)out.buf;
    assert_true(out.len > 11);
    assert_int_equal(o[7], 1);
    assert_int_equal(o[9], 1);
    int64_t ctx;
    const uint8_t *pdu;
    size_t len;
    assert_int_equal(pres_parse_data(o + 11, out.len - 11, &ctx, &pdu, &len), 0);
    assert_int_equal(ctx, 3);
    struct ber_tlv svc = response_service(pdu, len);
    assert_true(svc.tag == BER_CTXC(2));
    assert_non_null(memmem(svc.val, svc.len, MMS_VENDOR, strlen(MMS_VENDOR)));
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_release_answers_a_disconnect_with_rlre(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    associate(&c, &p, &out, 4096);
    dynbuf_reset(&out);
    /* FN carrying presentation data of the ACSE context (1) holding an RLRQ (normal). */
    static const uint8_t fn[] = {0x03, 0x00, 0x00, 0x1a, 0x02, 0xf0, 0x80, 0x09, 0x11,
                                 0xc1, 0x0f, 0x61, 0x0d, 0x30, 0x0b, 0x02, 0x01, 0x01,
                                 0xa0, 0x06, 0x62, 0x04, 0x80, 0x02, 0x00, 0x00};
    assert_int_equal(feed(&c, &p, fn, sizeof(fn), 4096, &out), 1);
    assert_int_equal(c.end, MMS_END_RELEASED);
    const uint8_t *o = (const uint8_t *)out.buf;
    assert_true(out.len > 9);
    assert_int_equal(o[7], SES_DN);
    assert_non_null(memmem(o, out.len, "\x63\x03\x80\x01\x00", 5)); /* RLRE normal */
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_wrong_input_at_each_layer_ends_the_connection_with_its_reason(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    static const uint8_t not_tpkt[] = {0x16, 0x03, 0x01, 0x00, 0x20}; /* a TLS hello */
    static const uint8_t dt_first[] = {0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x80, 0x00};
    static const uint8_t class2[] = {0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0,
                                     0x00, 0x00, 0x00, 0x01, 0x20};
    static const uint8_t bad_li[] = {0x03, 0x00, 0x00, 0x08, 0x09, 0xe0, 0x00, 0x00};
    static const struct {
        const uint8_t *in;
        size_t len;
        enum mms_end end;
    } cases[] = {{not_tpkt, sizeof(not_tpkt), MMS_END_MALFORMED},
                 {dt_first, sizeof(dt_first), MMS_END_REFUSED},
                 {class2, sizeof(class2), MMS_END_REFUSED},
                 {bad_li, sizeof(bad_li), MMS_END_MALFORMED}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mms_conn c;
        struct dynbuf out;
        dynbuf_init(&out, 1 << 20);
        mms_conn_init(&c, 2);
        assert_int_equal(feed(&c, &p, cases[i].in, cases[i].len, 4096, &out), 1);
        assert_int_equal(c.end, cases[i].end);
        mms_conn_free(&c);
        dynbuf_free(&out);
    }
    /* After the association: garbage as presentation data, and an unknown context id. */
    static const uint8_t junk_pres[] = {0x03, 0x00, 0x00, 0x0e, 0x02, 0xf0, 0x80,
                                        0x01, 0x00, 0x01, 0x00, 0x61, 0x80, 0x00};
    static const uint8_t other_ctx[] = {0x03, 0x00, 0x00, 0x14, 0x02, 0xf0, 0x80, 0x01, 0x00, 0x01,
                                        0x00, 0x61, 0x07, 0x30, 0x05, 0x02, 0x01, 0x05, 0xa0, 0x00};
    static const struct {
        const uint8_t *in;
        size_t len;
        enum mms_end end;
    } after[] = {{junk_pres, sizeof(junk_pres), MMS_END_MALFORMED},
                 {other_ctx, sizeof(other_ctx), MMS_END_REFUSED}};
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        struct mms_conn c;
        struct dynbuf out;
        dynbuf_init(&out, 1 << 20);
        associate(&c, &p, &out, 4096);
        dynbuf_reset(&out);
        assert_int_equal(feed(&c, &p, after[i].in, after[i].len, 4096, &out), 1);
        assert_int_equal(c.end, after[i].end);
        /* A DR goes out: COTP was up. */
        assert_true(out.len == 11 && ((const uint8_t *)out.buf)[5] == COTP_DR);
        mms_conn_free(&c);
        dynbuf_free(&out);
    }
}

static void test_a_tsdu_past_the_cap_ends_the_connection(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    associate(&c, &p, &out, 4096);
    static uint8_t tpdu[2048];
    memset(tpdu, 0, sizeof(tpdu));
    const uint8_t hdr[] = {3, 0, 0x08, 0x00, 2, 0xf0, 0x00}; /* 2048 octets, no EOT */
    memcpy(tpdu, hdr, sizeof(hdr));
    int r = 0;
    size_t sent = 0;
    for (int i = 0; i < 100 && r == 0; i++) {
        r = feed(&c, &p, tpdu, sizeof(tpdu), 4096, &out);
        sent += sizeof(tpdu) - 7;
    }
    assert_int_equal(r, 1);
    assert_int_equal(c.end, MMS_END_TOO_BIG);
    assert_true(sent > MMS_TSDU_MAX && sent <= MMS_TSDU_MAX + 2048);
    mms_conn_free(&c);
    dynbuf_free(&out);
}

static void test_many_requests_at_once_are_served_as_output_drains(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 4u << 20);
    associate(&c, &p, &out, 4096);
    dynbuf_reset(&out);
    static const uint8_t identify[] = {0xa0, 0x05, 0x02, 0x01, 0x09, 0x82, 0x00};
    uint8_t one[64];
    size_t n = mms_fake_wrap(one, sizeof(one), identify, sizeof(identify));
    enum { COUNT = 2000 };
    static uint8_t many[COUNT * 64];
    for (size_t i = 0; i < COUNT; i++)
        memcpy(many + i * n, one, n);
    size_t len = COUNT * n, off = 0, rounds = 0;
    uint64_t answered = 0;
    while (off < len) {
        size_t used;
        assert_int_equal(mms_conn_input(&c, &p, &scratch, many + off, len - off, &used, &out), 0);
        /* At most one answer's worth past the cap before it stops taking input. */
        assert_true(out.len < MMS_OUT_MAX + 1024);
        assert_true(used % n == 0);
        off += used;
        answered = c.requests;
        assert_int_equal(answered, off / n);
        dynbuf_reset(&out); /* sent */
        rounds++;
    }
    assert_int_equal(answered, COUNT);
    assert_true(rounds > 1);
    mms_conn_free(&c);
    dynbuf_free(&out);
}

/* A Write of one RCB attribute of SMARTMETER_m1, as TPKT/DT/session/presentation. */
static size_t rcb_write(uint8_t *out, size_t cap, unsigned invoke, const char *attr,
                        const uint8_t *data, size_t data_len)
{
    char item[80];
    snprintf(item, sizeof(item), "%s$%s", MMS_RCB_ITEM, attr);
    uint8_t pdu[256];
    struct ber_writer w;
    ber_w_init(&w, pdu, sizeof(pdu));
    ber_w_open(&w, BER_CTXC(0));
    ber_w_int(&w, BER_INTEGER, invoke);
    ber_w_open(&w, BER_CTXC(5)); /* write */
    ber_w_open(&w, BER_CTXC(0)); /* listOfVariable */
    ber_w_open(&w, BER_SEQUENCE);
    ber_w_open(&w, BER_CTXC(0));
    ber_w_open(&w, BER_CTXC(1));
    ber_w_visible(&w, BER_VISIBLE_STR, "SMARTMETER_m1");
    ber_w_visible(&w, BER_VISIBLE_STR, item);
    ber_w_close(&w);
    ber_w_close(&w);
    ber_w_close(&w);
    ber_w_close(&w);
    ber_w_open(&w, BER_CTXC(0)); /* listOfData */
    ber_w_raw(&w, data, data_len);
    ber_w_close(&w);
    ber_w_close(&w);
    ber_w_close(&w);
    assert_true(ber_w_ok(&w));
    return mms_fake_wrap(out, cap, pdu, w.len);
}

/* The MMS PDU of the last DT TSDU in out (one TPDU each here). */
static void last_pdu(const struct dynbuf *out, size_t from, const uint8_t **pdu, size_t *len)
{
    const uint8_t *o = (const uint8_t *)out->buf;
    size_t off = from, n, at = from;
    while (off < out->len && tpkt_frame(o + off, out->len - off, &n) == 0) {
        at = off;
        off += n;
    }
    assert_int_equal(off, out->len);
    int64_t ctx;
    assert_int_equal(pres_parse_data(o + at + 11, n - 11, &ctx, pdu, len), 0);
}

static void test_an_enabled_rcb_reports_on_gi_integrity_and_data_change(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    struct mms_conn c;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 20);
    associate(&c, &p, &out, 4096);
    static const uint8_t intg[] = {0x86, 0x02, 0x03, 0xe8}; /* IntgPd 1000 ms */
    static const uint8_t on[] = {0x83, 0x01, 0xff};         /* RptEna, GI true */
    static const uint8_t trg[] = {0x84, 0x02, 0x02, 0x4c};  /* TrgOps dchg, integrity, gi */
    static const uint8_t sqnum[] = {0x86, 0x01, 0x05};      /* SqNum is read-only */
    uint8_t pkt[512];
    const uint8_t *pdu;
    size_t len, n;
    c.rcbs.now_ms = 10000;
    const struct {
        const char *attr;
        const uint8_t *data;
        size_t len;
        uint8_t result0, result1; /* the Write-Response's first element */
    } writes[] = {
        {"IntgPd", intg, sizeof(intg), 0x81, 0x00},  {"TrgOps", trg, sizeof(trg), 0x81, 0x00},
        {"SqNum", sqnum, sizeof(sqnum), 0x80, 0x01}, {"RptEna", on, sizeof(on), 0x81, 0x00},
        {"IntgPd", intg, sizeof(intg), 0x80, 0x01}, /* not while enabled */
        {"GI", on, sizeof(on), 0x81, 0x00}};
    for (unsigned i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        size_t from = out.len;
        n = rcb_write(pkt, sizeof(pkt), i + 1, writes[i].attr, writes[i].data, writes[i].len);
        assert_int_equal(feed(&c, &p, pkt, n, 4096, &out), 0);
        last_pdu(&out, from, &pdu, &len);
        struct ber_tlv svc = response_service(pdu, len);
        assert_true(svc.tag == BER_CTXC(5));
        assert_true(svc.len >= 2);
        assert_int_equal(svc.val[0], writes[i].result0);
        assert_int_equal(svc.val[1], writes[i].result1);
    }
    const struct mms_rcb *r = mms_rcb_find(&c.rcbs, "SMARTMETER_m1");
    assert_non_null(r);
    assert_true(r->ena && r->intg_pd_ms == 1000);

    /* GI now: one report of every member; no integrity yet (due at 11000). */
    size_t from = out.len;
    assert_int_equal(mms_conn_tick(&c, &p, &scratch, 10100, &out), 0);
    assert_int_equal(c.reports, 1);
    last_pdu(&out, from, &pdu, &len);
    assert_int_equal(pdu[0], 0xa3); /* unconfirmed-PDU */
    assert_non_null(memmem(pdu, len, "RPT", 3));
    assert_non_null(memmem(pdu, len, "SMARTMETER_m1/LLN0$Meas", 23));
    assert_int_equal(mms_ber_walk_buf(pdu, len), 0);
    /* Power 1234.5 as MMS float is among the values. */
    assert_non_null(memmem(pdu, len, "\x87\x05\x08\x44\x9a\x50\x00", 7));
    assert_int_equal(mms_conn_tick(&c, &p, &scratch, 10500, &out), 0);
    assert_int_equal(c.reports, 1); /* nothing owed */
    assert_int_equal(mms_conn_tick(&c, &p, &scratch, 11000, &out), 0);
    assert_int_equal(c.reports, 2); /* integrity */

    /* A new reading with another power: a data-change report of that member alone. */
    f.reading.seq++;
    f.reading.ts_ms += 1000;
    reading_set_real(&f.reading, RR_POWER_W, 999.0);
    from = out.len;
    assert_int_equal(mms_conn_tick(&c, &p, &scratch, 11200, &out), 0);
    assert_int_equal(c.reports, 3);
    last_pdu(&out, from, &pdu, &len);
    /* inclusion bit string: 9 members, only the first (TotW): 84 03 07 80 00 */
    assert_non_null(memmem(pdu, len, "\x84\x03\x07\x80\x00", 5));
    assert_non_null(memmem(pdu, len, "\x87\x05\x08\x44\x79\xc0\x00", 7)); /* 999.0 */
    /* The same values in a newer reading: no data change. */
    f.reading.seq++;
    f.reading.ts_ms += 1000;
    assert_int_equal(mms_conn_tick(&c, &p, &scratch, 11300, &out), 0);
    assert_int_equal(c.reports, 3);
    mms_conn_free(&c);
    dynbuf_free(&out);
}

/* --- allow-list ---------------------------------------------------------------------------- */

static bool allowed(const struct mms_allow *a, const char *addr)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
        return mms_allow_check(a, (struct sockaddr *)&v4);
    assert_int_equal(inet_pton(AF_INET6, addr, &v6.sin6_addr), 1);
    return mms_allow_check(a, (struct sockaddr *)&v6);
}

static void test_the_allow_list_matches_addresses_and_cidrs(void **state)
{
    (void)state;
    struct mms_allow a;
    char err[128];
    assert_int_equal(mms_allow_parse("", &a, err, sizeof(err)), 0);
    assert_true(allowed(&a, "192.0.2.1")); /* empty: anyone */
    assert_int_equal(mms_allow_parse("10.1.0.0/16, 192.0.2.7,2001:db8::/32", &a, err, sizeof(err)),
                     0);
    assert_true(allowed(&a, "10.1.200.3"));
    assert_false(allowed(&a, "10.2.0.1"));
    assert_true(allowed(&a, "192.0.2.7"));
    assert_false(allowed(&a, "192.0.2.8"));
    assert_true(allowed(&a, "::ffff:10.1.0.9")); /* IPv4 on an IPv6 socket */
    assert_true(allowed(&a, "2001:db8:1::5"));
    assert_false(allowed(&a, "2001:db9::5"));
    assert_int_equal(mms_allow_parse("10.0.0.0/33", &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "10.0.0.0/33"));
    assert_int_equal(mms_allow_parse("example.com", &a, err, sizeof(err)), -EINVAL);
    assert_int_equal(mms_allow_parse("10.0.0.1,", &a, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_client_associates_and_gets_the_negotiated_pdu_size),
        cmocka_unit_test(test_a_pdu_size_under_the_minimum_gets_a_rejecting_aare),
        cmocka_unit_test(test_input_cut_anywhere_gives_the_same_answers),
        cmocka_unit_test(test_a_tsdu_in_several_tpdus_is_reassembled),
        cmocka_unit_test(test_identify_over_the_whole_stack),
        cmocka_unit_test(test_release_answers_a_disconnect_with_rlre),
        cmocka_unit_test(test_wrong_input_at_each_layer_ends_the_connection_with_its_reason),
        cmocka_unit_test(test_a_tsdu_past_the_cap_ends_the_connection),
        cmocka_unit_test(test_many_requests_at_once_are_served_as_output_drains),
        cmocka_unit_test(test_an_enabled_rcb_reports_on_gi_integrity_and_data_change),
        cmocka_unit_test(test_the_allow_list_matches_addresses_and_cidrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
