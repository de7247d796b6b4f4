/*
 * wxpay: payment notifications, from WeChat Pay's headers and body to a
 * transaction the server can credit. A notification made and signed as
 * WeChat Pay does (wxpay_fake.c, OpenSSL directly) passes; each tampering
 * the issue names (signature, stale timestamp, amount, mchid, appid) and
 * every other malformed part is refused, and nothing is returned then.
 * The transaction parser runs over data-driven cases.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "wxpay.h"
#include "wxpay_fake.h"

/* 2026-12-07T08:00:00Z */
#define NOW_MS INT64_C(1796630400000)
#define NOW_S  (NOW_MS / 1000)
#define ORDER  "SM20261207ABCDEFGHIJKLMNOPQRST"

static char dir[TMPDIR_PATH_MAX];
static struct wxpay_fake *fake;
static struct wxpay *w;

static int group_setup(void **state)
{
    (void)state;
    if (tmpdir_make(dir, "wxpay_notify"))
        return -1;
    fake = wxpay_fake_new(dir);
    if (!fake)
        return -1;
    char key[512], apiv3[512], pub[512], err[WXPAY_ERR_LEN];
    snprintf(key, sizeof(key), "%s", wxpay_fake_path(fake, "merchant_key.pem"));
    snprintf(apiv3, sizeof(apiv3), "%s", wxpay_fake_path(fake, "apiv3.key"));
    snprintf(pub, sizeof(pub), "%s", wxpay_fake_path(fake, "platform_pub.pem"));
    struct wxpay_options o = {
        .appid = FAKE_APPID,
        .mchid = FAKE_MCHID,
        .serial_no = FAKE_SERIAL,
        .private_key_file = key,
        .apiv3_key_file = apiv3,
        .platform_public_key_file = pub,
        .platform_public_key_id = FAKE_KEY_ID,
        .notify_url = "https://meter.example.com/api/payments/wechat/notify",
    };
    if (wxpay_new(&o, &w, err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    wxpay_free(w);
    wxpay_fake_free(fake);
    tmpdir_remove(dir);
    return 0;
}

static enum wxpay_error deliver(const struct fake_notify *n, struct wxpay_transaction *t,
                                char *detail)
{
    struct wxpay_signed_headers h = {.timestamp = n->timestamp,
                                     .nonce = n->nonce,
                                     .signature = n->signature,
                                     .serial = n->serial};
    return wxpay_notify(w, &h, n->body, strlen(n->body), NOW_MS, t, detail);
}

/* A notification for plain (a transaction's JSON), delivered; the transaction must be all zero on
 * failure. */
static enum wxpay_error notify_of(const char *plain, int64_t ts_s, const char *apiv3_key,
                                  struct wxpay_transaction *t)
{
    struct fake_notify n;
    char detail[WXPAY_ERR_LEN];
    assert_int_equal(wxpay_fake_notify(fake, plain, ts_s, apiv3_key, &n), 0);
    enum wxpay_error e = deliver(&n, t, detail);
    if (e != WXPAY_OK) {
        struct wxpay_transaction zero;
        memset(&zero, 0, sizeof(zero));
        assert_memory_equal(t, &zero, sizeof(zero));
        assert_true(strlen(detail) > 0);
    }
    fake_notify_free(&n);
    return e;
}

static void test_a_notification_from_wechat_pay_gives_the_paid_transaction(void **state)
{
    (void)state;
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 5000);
    struct wxpay_transaction t;
    assert_int_equal(notify_of(plain, NOW_S, NULL, &t), WXPAY_OK);
    assert_string_equal(t.appid, FAKE_APPID);
    assert_string_equal(t.mchid, FAKE_MCHID);
    assert_string_equal(t.out_trade_no, ORDER);
    assert_string_equal(t.transaction_id, "4200001234202612070123456789");
    assert_int_equal(t.trade_state, WXPAY_STATE_SUCCESS);
    assert_int_equal(t.total_fen, 5000);
    assert_int_equal(t.payer_total_fen, 5000);
    assert_string_equal(t.payer_openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_int_equal(t.success_time_ms, INT64_C(1796632496000)); /* 2026-12-07T08:34:56Z */
    char detail[WXPAY_ERR_LEN];
    assert_int_equal(wxpay_check_paid(&t, ORDER, 5000, detail), WXPAY_OK);
    free(plain);
}

static void test_a_wrong_signature_is_refused_before_anything_is_read(void **state)
{
    (void)state;
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 5000);
    struct fake_notify n;
    struct wxpay_transaction t;
    char detail[WXPAY_ERR_LEN];
    assert_int_equal(wxpay_fake_notify(fake, plain, NOW_S, NULL, &n), 0);

    /* Signed by a key that is not WeChat Pay's. */
    char msg[8192];
    int len = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n", n.timestamp, n.nonce, n.body);
    char *forged = wxpay_fake_platform_sign(fake, msg, (size_t)len, true);
    char *good = n.signature;
    n.signature = forged;
    assert_int_equal(deliver(&n, &t, detail), WXPAY_BAD_SIGNATURE);
    n.signature = good;
    free(forged);

    /* One byte of the body changed (inside the ciphertext). */
    char *ct = strstr(n.body, "\"ciphertext\":\"") + 14;
    char was = ct[3];
    ct[3] = was == 'A' ? 'B' : 'A';
    assert_int_equal(deliver(&n, &t, detail), WXPAY_BAD_SIGNATURE);
    ct[3] = was;
    assert_int_equal(deliver(&n, &t, detail), WXPAY_OK);

    /* Another key id, no signature, a body that is not JSON at all. */
    snprintf(n.serial, sizeof(n.serial), "PUB_KEY_ID_0112340000000000000000000000000002");
    assert_int_equal(deliver(&n, &t, detail), WXPAY_BAD_SIGNATURE);
    assert_non_null(strstr(detail, "another key"));
    snprintf(n.serial, sizeof(n.serial), "%s", FAKE_KEY_ID);
    struct wxpay_signed_headers h = {.timestamp = n.timestamp, .nonce = n.nonce};
    assert_int_equal(wxpay_notify(w, &h, n.body, strlen(n.body), NOW_MS, &t, detail),
                     WXPAY_BAD_SIGNATURE);
    h.signature = n.signature;
    h.serial = n.serial;
    assert_int_equal(wxpay_notify(w, &h, "\x01\x02", 2, NOW_MS, &t, detail), WXPAY_BAD_SIGNATURE);
    fake_notify_free(&n);
    free(plain);
}

static void test_a_stale_or_future_timestamp_is_refused(void **state)
{
    (void)state;
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 5000);
    struct wxpay_transaction t;
    assert_int_equal(notify_of(plain, NOW_S - 301, NULL, &t), WXPAY_STALE);
    assert_int_equal(notify_of(plain, NOW_S + 301, NULL, &t), WXPAY_STALE);
    assert_int_equal(notify_of(plain, NOW_S - 3600 * 24, NULL, &t), WXPAY_STALE);
    assert_int_equal(notify_of(plain, NOW_S - 299, NULL, &t), WXPAY_OK);
    free(plain);
}

static void test_an_altered_amount_does_not_pay_the_order(void **state)
{
    (void)state;
    /* WeChat Pay signed it, but for 1 fen where the order asked 5000. */
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 1);
    struct wxpay_transaction t;
    char detail[WXPAY_ERR_LEN];
    assert_int_equal(notify_of(plain, NOW_S, NULL, &t), WXPAY_OK);
    assert_int_equal(wxpay_check_paid(&t, ORDER, 5000, detail), WXPAY_MISMATCH);
    assert_non_null(strstr(detail, "amount.total 1 fen"));
    /* Another order, and an order not paid. */
    assert_int_equal(wxpay_check_paid(&t, "SM20261207OTHER", 1, detail), WXPAY_MISMATCH);
    t.trade_state = WXPAY_STATE_NOTPAY;
    assert_int_equal(wxpay_check_paid(&t, ORDER, 1, detail), WXPAY_INVALID);
    free(plain);
}

static void test_a_transaction_for_another_mchid_or_appid_is_refused(void **state)
{
    (void)state;
    struct wxpay_transaction t;
    char *plain = wxpay_fake_transaction(FAKE_APPID, "1230000110", ORDER, 5000);
    assert_int_equal(notify_of(plain, NOW_S, NULL, &t), WXPAY_MISMATCH);
    free(plain);
    plain = wxpay_fake_transaction("wxd678efh567hg6788", FAKE_MCHID, ORDER, 5000);
    assert_int_equal(notify_of(plain, NOW_S, NULL, &t), WXPAY_MISMATCH);
    free(plain);
}

static void test_a_resource_encrypted_with_another_key_does_not_decrypt(void **state)
{
    (void)state;
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 5000);
    struct wxpay_transaction t;
    char other[33];
    snprintf(other, sizeof(other), "%s", wxpay_fake_apiv3_key(fake));
    other[0] = other[0] == 'A' ? 'B' : 'A';
    assert_int_equal(notify_of(plain, NOW_S, other, &t), WXPAY_UNDECRYPTABLE);
    free(plain);
    /* A signed resource that decrypts to something other than a transaction. */
    assert_int_equal(notify_of("[1,2,3]", NOW_S, NULL, &t), WXPAY_BAD_ANSWER);
    assert_int_equal(notify_of("{\"appid\":\"wx1\"}", NOW_S, NULL, &t), WXPAY_BAD_ANSWER);
}

struct copy {
    const struct fake_notify *n;
    enum wxpay_error e;
    struct wxpay_transaction t;
};

static void *deliver_copy(void *arg)
{
    struct copy *c = arg;
    char detail[WXPAY_ERR_LEN];
    c->e = deliver(c->n, &c->t, detail);
    return NULL;
}

static void test_fifty_copies_of_a_notification_at_once_each_verify_alike(void **state)
{
    (void)state;
    /* WeChat Pay repeats a notification until it gets a 2xx, and copies may overlap: the
     * check is stateless and thread-safe, and crediting once is the ledger's job. */
    enum { N = 50 };
    char *plain = wxpay_fake_transaction(FAKE_APPID, FAKE_MCHID, ORDER, 5000);
    struct fake_notify n;
    assert_int_equal(wxpay_fake_notify(fake, plain, NOW_S, NULL, &n), 0);
    static struct copy copies[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        copies[i].n = &n;
        assert_int_equal(pthread_create(&threads[i], NULL, deliver_copy, &copies[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(copies[i].e, WXPAY_OK);
        assert_string_equal(copies[i].t.out_trade_no, ORDER);
        assert_int_equal(copies[i].t.total_fen, 5000);
    }
    fake_notify_free(&n);
    free(plain);
}

/* A body signed by the fake platform key, whatever it holds. */
static enum wxpay_error signed_body(const char *body)
{
    char ts[24], msg[8192];
    snprintf(ts, sizeof(ts), "%" PRId64, NOW_S);
    int n = snprintf(msg, sizeof(msg), "%s\nN0NCE\n%s\n", ts, body);
    char *sig = wxpay_fake_platform_sign(fake, msg, (size_t)n, false);
    struct wxpay_signed_headers h = {
        .timestamp = ts, .nonce = "N0NCE", .signature = sig, .serial = FAKE_KEY_ID};
    struct wxpay_transaction t;
    char detail[WXPAY_ERR_LEN];
    enum wxpay_error e = wxpay_notify(w, &h, body, strlen(body), NOW_MS, &t, detail);
    free(sig);
    return e;
}

static void test_a_signed_envelope_that_breaks_the_format_is_refused(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "[]",
        "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":\"plain\","
        "\"resource\":{}}",
        "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
        "\"encrypt-resource\",\"resource\":{\"algorithm\":\"AEAD_AES_128_GCM\",\"original_type\":"
        "\"transaction\",\"nonce\":\"fdasflkja484\",\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
        "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
        "\"encrypt-resource\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"original_type\":"
        "\"transaction\",\"nonce\":\"short\",\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
        "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
        "\"encrypt-resource\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"original_type\":"
        "\"transaction\",\"nonce\":\"fdasflkja484\",\"ciphertext\":\"not base64\"}}",
        "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
        "\"encrypt-resource\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"original_type\":"
        "\"transaction\",\"nonce\":\"fdasflkja484\",\"ciphertext\":\"AAAA\"}}",
        "{\"id\":\"EV-1\",\"id\":\"EV-2\",\"event_type\":\"TRANSACTION.SUCCESS\"}",
        "{\"id\":\"EV 1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
        "\"encrypt-resource\",\"resource\":{}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        assert_int_equal(signed_body(bodies[i]), WXPAY_BAD_ANSWER);
    /* Well-formed, but the tag does not match: the ciphertext is 16 zero bytes. */
    assert_int_equal(
        signed_body("{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":"
                    "\"encrypt-resource\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\","
                    "\"original_type\":\"transaction\",\"nonce\":\"fdasflkja484\",\"ciphertext\":"
                    "\"AAAAAAAAAAAAAAAAAAAAAA==\",\"associated_data\":\"transaction\"}}"),
        WXPAY_UNDECRYPTABLE);
}

/*
 * The transaction parser over tests/data/wxpay/transactions/: every file in
 * valid/ parses, every file in invalid/ is refused (its name says why).
 */
static char *read_case(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 70000);
    assert_non_null(buf);
    *len = fread(buf, 1, 69999, fp);
    fclose(fp);
    return buf;
}

static int run_cases(const char *sub, enum wxpay_error want)
{
    const char *data = getenv("TEST_DATA_DIR");
    assert_non_null(data);
    char path[1024];
    snprintf(path, sizeof(path), "%s/wxpay/transactions/%s", data, sub);
    DIR *d = opendir(path);
    assert_non_null(d);
    int count = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strstr(ent->d_name, ".json"))
            continue;
        char file[2048];
        snprintf(file, sizeof(file), "%s/%s", path, ent->d_name);
        size_t len;
        char *json = read_case(file, &len);
        struct wxpay_transaction t;
        char detail[WXPAY_ERR_LEN];
        enum wxpay_error e = wxpay_parse_transaction(json, len, &t, detail);
        if (e != want)
            fail_msg("%s: got %s (%s)", ent->d_name, wxpay_error_name(e), detail);
        if (want != WXPAY_OK)
            assert_true(strlen(detail) > 0);
        free(json);
        count++;
    }
    closedir(d);
    return count;
}

static void test_transaction_cases_in_the_data_folder(void **state)
{
    (void)state;
    assert_true(run_cases("valid", WXPAY_OK) >= 3);
    assert_true(run_cases("invalid", WXPAY_BAD_ANSWER) >= 10);
}

static void test_an_unpaid_order_parses_without_payment_fields(void **state)
{
    (void)state;
    const char *json =
        "{\"amount\":{\"currency\":\"CNY\",\"payer_currency\":\"CNY\",\"total\":5000},"
        "\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1230000109\",\"out_trade_no\":"
        "\"" ORDER "\",\"promotion_detail\":[],\"scene_info\":{\"device_id\":\"\"},"
        "\"trade_state\":\"NOTPAY\",\"trade_state_desc\":\"\"}";
    struct wxpay_transaction t;
    char detail[WXPAY_ERR_LEN];
    assert_int_equal(wxpay_parse_transaction(json, strlen(json), &t, detail), WXPAY_OK);
    assert_int_equal(t.trade_state, WXPAY_STATE_NOTPAY);
    assert_int_equal(t.total_fen, 5000);
    assert_int_equal(t.payer_total_fen, -1);
    assert_string_equal(t.transaction_id, "");
    assert_int_equal(t.success_time_ms, 0);
    assert_string_equal(wxpay_trade_state_name(t.trade_state), "NOTPAY");
}

static void test_prepay_and_error_answers(void **state)
{
    (void)state;
    char id[WXPAY_PREPAY_ID_MAX + 1], code[WXPAY_CODE_MAX + 1], detail[WXPAY_ERR_LEN];
    const char *ok = "{\"prepay_id\":\"wx201410272009395522657a690389285100\"}";
    assert_int_equal(wxpay_parse_prepay(ok, strlen(ok), id, detail), WXPAY_OK);
    assert_string_equal(id, "wx201410272009395522657a690389285100");
    static const char *const bad[] = {
        "{}",
        "{\"prepay_id\":1}",
        "{\"prepay_id\":\"\"}",
        "{\"prepay_id\":\"wx 1\"}",
        "{\"prepay_id\":\"wx1\",\"prepay_id\":\"wx2\"}",
        "{\"prepay_id\":{\"a\":1}}",
        "null",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wxpay_parse_prepay(bad[i], strlen(bad[i]), id, detail), WXPAY_BAD_ANSWER);
        assert_string_equal(id, "");
    }
    const char *err =
        "{\"code\":\"ORDER_NOT_EXIST\",\"message\":\"\\u8ba2\\u5355\\u4e0d\\u5b58\\u5728\"}";
    wxpay_parse_error(err, strlen(err), code, detail);
    assert_string_equal(code, "ORDER_NOT_EXIST");
    assert_non_null(strstr(detail, "ORDER_NOT_EXIST"));
    wxpay_parse_error("<html>", 6, code, detail);
    assert_string_equal(code, "");
    const char *odd = "{\"code\":\"bad code\\n\",\"message\":\"x\"}";
    wxpay_parse_error(odd, strlen(odd), code, detail);
    assert_string_equal(code, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_notification_from_wechat_pay_gives_the_paid_transaction),
        cmocka_unit_test(test_a_wrong_signature_is_refused_before_anything_is_read),
        cmocka_unit_test(test_a_stale_or_future_timestamp_is_refused),
        cmocka_unit_test(test_an_altered_amount_does_not_pay_the_order),
        cmocka_unit_test(test_a_transaction_for_another_mchid_or_appid_is_refused),
        cmocka_unit_test(test_a_resource_encrypted_with_another_key_does_not_decrypt),
        cmocka_unit_test(test_a_signed_envelope_that_breaks_the_format_is_refused),
        cmocka_unit_test(test_fifty_copies_of_a_notification_at_once_each_verify_alike),
        cmocka_unit_test(test_transaction_cases_in_the_data_folder),
        cmocka_unit_test(test_an_unpaid_order_parses_without_payment_fields),
        cmocka_unit_test(test_prepay_and_error_answers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
