/*
 * The MMS server's model and services (server/mms/model.h, services.h)
 * against a fake provider: names in collating order, GetNameList paging,
 * Read values and quality from the latest reading, type descriptions, the
 * data set, and what is not served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mms_fake.h"
#include "mms_test_util.h"
#include "services.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
