/*
 * The MMS server's layers without sockets (server/mms/): the model, the MMS
 * services against a fake provider, and one connection's way through TPKT,
 * COTP, session, presentation and ACSE from the bytes an independent client
 * sends (mms_fake.c), including input cut anywhere and input that is wrong
 * at each layer; and the client allow-list.
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

/* --- model ------------------------------------------------------------------------------ */

struct walk_state {
    char prev[MMS_ITEM_MAX + 1];
    size_t n;
};

static int check_name(const char *name, void *ctx)
{
    struct walk_state *w = ctx;
    enum mms_src src;
    if (w->n && strcmp(w->prev, name) >= 0)
        fail_msg("'%s' after '%s': not in collating order", name, w->prev);
    if (!mms_model_find(name, &src))
        fail_msg("'%s' listed but not found", name);
    snprintf(w->prev, sizeof(w->prev), "%s", name);
    w->n++;
    return 0;
}

static void test_model_names_are_in_collating_order_and_resolve(void **state)
{
    (void)state;
    struct walk_state w = {.n = 0};
    assert_int_equal(mms_model_walk(check_name, &w), 0);
    assert_true(w.n > 100);
    enum mms_src src;
    const struct mms_node *n = mms_model_find("MMXU1$MX$TotW$mag$f", &src);
    assert_non_null(n);
    assert_int_equal(n->kind, MK_FLOAT);
    assert_int_equal(src, S_TOTW);
    n = mms_model_find("MMXU1$MX$PhV$phsB$cVal$mag$f", &src);
    assert_non_null(n);
    assert_int_equal(src, S_PHV_B);
    n = mms_model_find("MMTR1$ST$TotWh$actVal", &src);
    assert_non_null(n);
    assert_int_equal(n->kind, MK_INT64);
    assert_null(mms_model_find("MMXU1$MX$TotW$mag$g", &src));
    assert_null(mms_model_find("MMXU1$$TotW", &src));
    assert_null(mms_model_find("", &src));
}

static void test_domain_names_follow_mms_identifier_rules(void **state)
{
    (void)state;
    char d[MMS_ID_MAX + 1];
    assert_int_equal(mms_domain_name("meter-1.a:b", d), 0);
    assert_string_equal(d, "SMARTMETER_meter_1_a_b");
    char id[65];
    memset(id, 'x', 53);
    id[53] = '\0';
    assert_int_equal(mms_domain_name(id, d), 0); /* 11 + 53 = 64 */
    assert_int_equal(strlen(d), 64);
    id[53] = 'x';
    id[54] = '\0';
    assert_int_equal(mms_domain_name(id, d), -ENAMETOOLONG);
}

/* --- services ---------------------------------------------------------------------------- */

static size_t serve(const struct mms_provider *p, uint32_t max_pdu, const uint8_t *pdu, size_t len,
                    uint8_t *out, size_t cap, enum mms_outcome *oc)
{
    struct ber_writer w;
    ber_w_init(&w, out, cap);
    assert_int_equal(mms_serve(p, NULL, max_pdu, pdu, len, &w, oc), 0);
    assert_int_equal(mms_ber_walk_buf(out, w.len), 0);
    return w.len;
}

/* A confirmed request of invoke id 1 around a service. */
static size_t request(uint8_t *buf, size_t cap, void (*body)(struct ber_writer *, const void *),
                      const void *arg)
{
    struct ber_writer w;
    ber_w_init(&w, buf, cap);
    ber_w_open(&w, BER_CTXC(0));
    ber_w_int(&w, BER_INTEGER, 1);
    body(&w, arg);
    ber_w_close(&w);
    assert_true(ber_w_ok(&w));
    return w.len;
}

static void name_list_body(struct ber_writer *w, const void *arg)
{
    const char *after = arg;
    ber_w_open(w, BER_CTXC(1));
    ber_w_open(w, BER_CTXC(0));
    ber_w_int(w, BER_CTX(0), 0); /* named variables */
    ber_w_close(w);
    ber_w_open(w, BER_CTXC(1));
    ber_w_visible(w, BER_CTX(1), "SMARTMETER_m1");
    ber_w_close(w);
    if (after)
        ber_w_visible(w, BER_CTX(2), after);
    ber_w_close(w);
}

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

static int count_name(const char *name, void *ctx)
{
    (void)name;
    (*(size_t *)ctx)++;
    return 0;
}

static void test_get_name_list_pages_with_more_follows_and_continue_after(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    size_t total = 0;
    assert_int_equal(mms_model_walk(count_name, &total), 0);
    char after[MMS_ID_MAX + 1] = "";
    size_t got = 0, pages = 0;
    for (bool more = true; more; pages++) {
        uint8_t req[256], out[2048];
        size_t n = request(req, sizeof(req), name_list_body, after[0] ? after : NULL);
        enum mms_outcome oc;
        size_t len = serve(&p, MMS_PDU_MIN, req, n, out, sizeof(out), &oc);
        assert_true(len <= MMS_PDU_MIN);
        struct ber_tlv svc = response_service(out, len);
        assert_true(svc.tag == BER_CTXC(1));
        struct ber_cursor c, names;
        struct ber_tlv list, t, mf;
        assert_int_equal(ber_enter(&svc, &c), 0);
        assert_int_equal(ber_expect(&c, BER_CTXC(0), &list), 0);
        assert_int_equal(ber_expect(&c, BER_CTX(1), &mf), 0);
        assert_int_equal(ber_get_bool(&mf, &more), 0);
        assert_int_equal(ber_enter(&list, &names), 0);
        while (ber_next(&names, &t) == 0) {
            char name[MMS_ID_MAX + 1];
            assert_int_equal(ber_get_visible(&t, name, sizeof(name)), 0);
            assert_true(strcmp(name, after) > 0);
            snprintf(after, sizeof(after), "%s", name);
            got++;
        }
        assert_true(pages < 50);
    }
    assert_int_equal(got, total);
    assert_true(pages > 1); /* MMS_PDU_MIN does not hold them all at once */
}

static void read_body(struct ber_writer *w, const void *arg)
{
    const char *const *items = arg;
    ber_w_open(w, BER_CTXC(4));
    ber_w_open(w, BER_CTXC(1));
    ber_w_open(w, BER_CTXC(0));
    for (size_t i = 0; items[i]; i++) {
        ber_w_open(w, BER_SEQUENCE);
        ber_w_open(w, BER_CTXC(0));
        ber_w_open(w, BER_CTXC(1));
        ber_w_visible(w, BER_VISIBLE_STR, i == 0 ? "SMARTMETER_m1" : "SMARTMETER_m2");
        ber_w_visible(w, BER_VISIBLE_STR, items[i]);
        ber_w_close(w);
        ber_w_close(w);
        ber_w_close(w);
    }
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
}

/* Reads the items; the access results' cursor into *ret. */
static void do_read(const struct mms_provider *p, const char *const *items, uint8_t *out,
                    size_t cap, struct ber_cursor *ret)
{
    uint8_t req[1024];
    size_t n = request(req, sizeof(req), read_body, items);
    enum mms_outcome oc;
    size_t len = serve(p, MMS_PDU_MAX, req, n, out, cap, &oc);
    assert_int_equal(oc, MMS_ANSWERED);
    struct ber_tlv svc = response_service(out, len), list;
    struct ber_cursor c;
    assert_true(svc.tag == BER_CTXC(4));
    assert_int_equal(ber_enter(&svc, &c), 0);
    assert_int_equal(ber_expect(&c, BER_CTXC(1), &list), 0);
    assert_int_equal(ber_enter(&list, ret), 0);
}

/* An MV's (mag, q, t) from a Data structure. */
static void mv_parts(const struct ber_tlv *mv, double *mag, uint8_t q[2], int64_t *t_ms)
{
    struct ber_cursor c, cm;
    struct ber_tlv m, f, qt, tt;
    size_t nbits;
    assert_true(mv->tag == BER_CTXC(2));
    assert_int_equal(ber_enter(mv, &c), 0);
    assert_int_equal(ber_expect(&c, BER_CTXC(2), &m), 0);
    assert_int_equal(ber_enter(&m, &cm), 0);
    assert_int_equal(ber_expect(&cm, BER_CTX(7), &f), 0);
    assert_int_equal(ber_get_mms_float(&f, mag), 0);
    assert_int_equal(ber_expect(&c, BER_CTX(4), &qt), 0);
    assert_int_equal(ber_get_bits(&qt, q, 2, &nbits), 0);
    assert_int_equal(nbits, 13);
    assert_int_equal(ber_expect(&c, BER_CTX(17), &tt), 0);
    assert_int_equal(ber_get_utc_ms(&tt, t_ms, NULL), 0);
}

static void test_read_gives_the_latest_reading_with_good_quality(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    static const char *const items[] = {"MMXU1$MX$TotW", "MMXU1$MX$PhV$phsC$cVal$mag$f",
                                        "MMTR1$ST$TotWh$actVal", NULL};
    uint8_t out[4096];
    struct ber_cursor c;
    struct ber_tlv t;
    do_read(&p, items, out, sizeof(out), &c);
    double mag;
    uint8_t q[2];
    int64_t ts;
    assert_int_equal(ber_next(&c, &t), 0);
    mv_parts(&t, &mag, q, &ts);
    assert_true(mag == (double)(float)1234.5);
    assert_int_equal(q[0], 0x00);
    assert_true(ts == f.reading.ts_ms);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_true(t.tag == BER_CTX(7));
    assert_int_equal(ber_get_mms_float(&t, &mag), 0);
    assert_true(mag == (double)(float)232.3);
    int64_t wh;
    assert_int_equal(ber_next(&c, &t), 0);
    assert_true(t.tag == BER_CTX(5));
    assert_int_equal(ber_get_int(&t, &wh), 0);
    assert_true(wh == 123456);
    assert_true(ber_at_end(&c));
    assert_int_equal(f.latest_calls, 2); /* once per device read */
}

static void test_read_marks_an_offline_device_questionable_and_old(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    f.devs[0].online = false;
    static const char *const items[] = {"MMXU1$MX$TotW", "MMXU1$MX$TotVAr", NULL};
    uint8_t out[4096];
    struct ber_cursor c;
    struct ber_tlv t;
    double mag;
    uint8_t q[2];
    int64_t ts;
    do_read(&p, items, out, sizeof(out), &c);
    assert_int_equal(ber_next(&c, &t), 0);
    mv_parts(&t, &mag, q, &ts);
    assert_int_equal(q[0], 0xc1); /* questionable (11), oldData */
    /* The second item is on device m2 (online) and its reading has no reactive power. */
    assert_int_equal(ber_next(&c, &t), 0);
    mv_parts(&t, &mag, q, &ts);
    assert_int_equal(q[0], 0x40); /* invalid */
}

static void test_read_of_a_missing_name_or_domain_is_object_non_existent(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    f.n_devs = 1; /* SMARTMETER_m2 is gone */
    static const char *const items[] = {"MMXU1$MX$Nope", "MMXU1$MX$TotW", NULL};
    uint8_t out[4096];
    struct ber_cursor c;
    struct ber_tlv t;
    int64_t code;
    do_read(&p, items, out, sizeof(out), &c);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ber_next(&c, &t), 0);
        assert_true(t.tag == BER_CTX(0));
        assert_int_equal(ber_get_int(&t, &code), 0);
        assert_int_equal(code, 10);
    }
}

static void test_a_store_failure_reads_as_temporarily_unavailable(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    f.latest_err = -ENOTCONN;
    static const char *const items[] = {"MMXU1$MX$TotW", NULL};
    uint8_t out[4096];
    struct ber_cursor c;
    struct ber_tlv t;
    int64_t code;
    do_read(&p, items, out, sizeof(out), &c);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_true(t.tag == BER_CTX(0));
    assert_int_equal(ber_get_int(&t, &code), 0);
    assert_int_equal(code, 2);
}

static void vaa_body(struct ber_writer *w, const void *arg)
{
    ber_w_open(w, BER_CTXC(6));
    ber_w_open(w, BER_CTXC(0));
    ber_w_open(w, BER_CTXC(1));
    ber_w_visible(w, BER_VISIBLE_STR, "SMARTMETER_m1");
    ber_w_visible(w, BER_VISIBLE_STR, arg);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
}

static void test_variable_access_attributes_describe_an_mv(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    uint8_t req[256], out[2048];
    size_t n = request(req, sizeof(req), vaa_body, "MMXU1$MX$TotW");
    enum mms_outcome oc;
    size_t len = serve(&p, MMS_PDU_MAX, req, n, out, sizeof(out), &oc);
    struct ber_tlv svc = response_service(out, len);
    assert_true(svc.tag == BER_CTXC(6));
    /* mmsDeletable false, then a structure of mag (structure of f: float32), q (13 bits), t. */
    static const uint8_t want[] = {
        0x80, 0x01, 0x00, 0xa2, 0x33, 0xa2, 0x31, 0xa1, 0x2f, 0x30, 0x1a, 0x80, 0x03, 'm',
        'a',  'g',  0xa1, 0x13, 0xa2, 0x11, 0xa1, 0x0f, 0x30, 0x0d, 0x80, 0x01, 'f',  0xa1,
        0x08, 0xa7, 0x06, 0x02, 0x01, 0x20, 0x02, 0x01, 0x08, 0x30, 0x08, 0x80, 0x01, 'q',
        0xa1, 0x03, 0x84, 0x01, 0xf3, 0x30, 0x07, 0x80, 0x01, 't',  0xa1, 0x02, 0x91, 0x00};
    assert_int_equal(svc.len, sizeof(want));
    assert_memory_equal(svc.val, want, sizeof(want));
}

static void nvl_body(struct ber_writer *w, const void *arg)
{
    ber_w_open(w, BER_CTXC(12)); /* getNamedVariableListAttributes: the ObjectName */
    ber_w_open(w, BER_CTXC(1));
    ber_w_visible(w, BER_VISIBLE_STR, "SMARTMETER_m1");
    ber_w_visible(w, BER_VISIBLE_STR, arg);
    ber_w_close(w);
    ber_w_close(w);
}

static void read_dataset_body(struct ber_writer *w, const void *arg)
{
    ber_w_open(w, BER_CTXC(4));
    ber_w_open(w, BER_CTXC(1));
    ber_w_open(w, BER_CTXC(1)); /* variableListName */
    ber_w_open(w, BER_CTXC(1));
    ber_w_visible(w, BER_VISIBLE_STR, "SMARTMETER_m1");
    ber_w_visible(w, BER_VISIBLE_STR, arg);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
    ber_w_close(w);
}

static void test_the_data_set_lists_its_members_and_reads_as_they_do(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    uint8_t req[256], out[8192];
    enum mms_outcome oc;
    size_t n = request(req, sizeof(req), nvl_body, MMS_DATASET);
    size_t len = serve(&p, MMS_PDU_MAX, req, n, out, sizeof(out), &oc);
    struct ber_tlv svc = response_service(out, len), del, list, t;
    assert_true(svc.tag == BER_CTXC(12));
    struct ber_cursor c, cl;
    assert_int_equal(ber_enter(&svc, &c), 0);
    assert_int_equal(ber_expect(&c, BER_CTX(0), &del), 0);
    assert_int_equal(ber_expect(&c, BER_CTXC(1), &list), 0);
    assert_int_equal(ber_enter(&list, &cl), 0);
    unsigned members = 0;
    while (ber_next(&cl, &t) == 0) {
        const char *want = mms_dataset_members[members++];
        assert_non_null(memmem(t.val, t.len, want, strlen(want)));
        enum mms_src src;
        assert_non_null(mms_model_find(want, &src));
    }
    assert_int_equal(members, mms_n_dataset_members);

    /* Read by its name: one result per member, each as a Read of the member gives it. */
    n = request(req, sizeof(req), read_dataset_body, MMS_DATASET);
    len = serve(&p, MMS_PDU_MAX, req, n, out, sizeof(out), &oc);
    svc = response_service(out, len);
    assert_true(svc.tag == BER_CTXC(4));
    assert_int_equal(ber_enter(&svc, &c), 0);
    assert_int_equal(ber_expect(&c, BER_CTXC(1), &list), 0);
    uint8_t one[8192];
    for (unsigned i = 0; i < mms_n_dataset_members; i++) {
        const char *const items[] = {mms_dataset_members[i], NULL};
        struct ber_cursor single;
        struct ber_tlv want;
        do_read(&p, items, one, sizeof(one), &single);
        assert_int_equal(ber_next(&single, &want), 0);
        if (i == 0)
            assert_int_equal(ber_enter(&list, &cl), 0);
        assert_int_equal(ber_next(&cl, &t), 0);
        assert_true(t.tag == want.tag && t.len == want.len);
        assert_memory_equal(t.val, want.val, t.len);
    }
    assert_true(ber_at_end(&cl));

    /* Another name is no data set. */
    n = request(req, sizeof(req), nvl_body, "LLN0$Other");
    len = serve(&p, MMS_PDU_MAX, req, n, out, sizeof(out), &oc);
    assert_int_equal(out[0], 0xa2); /* confirmed-ErrorPDU */
}

static void write_body(struct ber_writer *w, const void *arg)
{
    (void)arg;
    ber_w_open(w, BER_CTXC(11)); /* defineNamedVariableList: not served */
    ber_w_close(w);
}

static void test_services_we_do_not_serve_are_rejected(void **state)
{
    (void)state;
    struct mms_fake f;
    struct mms_provider p;
    mms_fake_init(&f, &p);
    uint8_t req[64], out[256];
    size_t n = request(req, sizeof(req), write_body, NULL);
    enum mms_outcome oc;
    size_t len = serve(&p, MMS_PDU_MAX, req, n, out, sizeof(out), &oc);
    assert_int_equal(oc, MMS_REJECTED);
    /* rejectPDU: invoke id 1, confirmed-requestPDU unrecognized-service (1) */
    static const uint8_t want[] = {0xa4, 0x06, 0x80, 0x01, 0x01, 0x81, 0x01, 0x01};
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
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
        cmocka_unit_test(test_model_names_are_in_collating_order_and_resolve),
        cmocka_unit_test(test_domain_names_follow_mms_identifier_rules),
        cmocka_unit_test(test_get_name_list_pages_with_more_follows_and_continue_after),
        cmocka_unit_test(test_read_gives_the_latest_reading_with_good_quality),
        cmocka_unit_test(test_read_marks_an_offline_device_questionable_and_old),
        cmocka_unit_test(test_read_of_a_missing_name_or_domain_is_object_non_existent),
        cmocka_unit_test(test_a_store_failure_reads_as_temporarily_unavailable),
        cmocka_unit_test(test_variable_access_attributes_describe_an_mv),
        cmocka_unit_test(test_the_data_set_lists_its_members_and_reads_as_they_do),
        cmocka_unit_test(test_services_we_do_not_serve_are_rejected),
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
