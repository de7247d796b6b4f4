/*
 * wxpay: the cryptography against known vectors, the merchant's signatures
 * checked by an independent verifier (wxpay_fake.c, OpenSSL directly), the
 * check of WeChat Pay's signatures with each tampering refused, the
 * wx.requestPayment parameters, the order body, and the configuration read
 * from files. Keys are made at run time. The HTTP side runs against the
 * stand-in in tests/integration/test_wxpay.py.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "wxpay.h"
#include "wxpay_crypto.h"
#include "wxpay_fake.h"
#include "wxpay_sign.h"

/* 2026-12-07T08:00:00Z */
#define NOW_MS INT64_C(1796630400000)
#define NOW_S  (NOW_MS / 1000)

static char dir[TMPDIR_PATH_MAX];
static struct wxpay_fake *fake;

static int group_setup(void **state)
{
    (void)state;
    if (tmpdir_make(dir, "wxpay"))
        return -1;
    fake = wxpay_fake_new(dir);
    return fake ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    wxpay_fake_free(fake);
    tmpdir_remove(dir);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static struct wxpay_privkey *merchant_key(void)
{
    char *pem = slurp(wxpay_fake_path(fake, "merchant_key.pem"));
    struct wxpay_privkey *k = NULL;
    char err[WXPAY_CRYPTO_ERR_LEN];
    assert_int_equal(wxpay_privkey_from_pem(pem, strlen(pem), &k, err), 0);
    free(pem);
    return k;
}

static struct wxpay_pubkey *public_key(const char *name)
{
    char *pem = slurp(wxpay_fake_path(fake, name));
    struct wxpay_pubkey *k = NULL;
    char err[WXPAY_CRYPTO_ERR_LEN];
    assert_int_equal(wxpay_pubkey_from_pem(pem, strlen(pem), &k, err), 0);
    free(pem);
    return k;
}

/*
 * The SHA256withRSA vector of WeChat Pay's Go SDK (utils/sign_test.go): its
 * published test key signs "source" into this signature. Only the public
 * half of that key is kept here.
 */
static const char sdk_public_key[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2VCTd91fnUn73Xy9DLvt\n"
    "/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+\n"
    "U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4\n"
    "SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oU\n"
    "xwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmd\n"
    "a7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT\n"
    "8wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char sdk_signature[] =
    "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4"
    "ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguL"
    "li/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG"
    "23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

static void test_the_sdk_vector_verifies_and_nothing_else_does(void **state)
{
    (void)state;
    struct wxpay_pubkey *k = NULL;
    char err[WXPAY_CRYPTO_ERR_LEN];
    assert_int_equal(wxpay_pubkey_from_pem(sdk_public_key, strlen(sdk_public_key), &k, err), 0);
    size_t n = strlen(sdk_signature);
    assert_int_equal(wxpay_rsa_verify(k, "source", 6, sdk_signature, n), 0);
    assert_int_equal(wxpay_rsa_verify(k, "Source", 6, sdk_signature, n), -EACCES);
    assert_int_equal(wxpay_rsa_verify(k, "source\n", 7, sdk_signature, n), -EACCES);
    char sig[sizeof(sdk_signature)];
    memcpy(sig, sdk_signature, sizeof(sig));
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(wxpay_rsa_verify(k, "source", 6, sig, n), -EACCES);
    /* Not base64, cut short, or padded with a line break: malformed, never "verified". */
    assert_int_equal(wxpay_rsa_verify(k, "source", 6, "not base64!", 11), -EBADMSG);
    assert_int_equal(wxpay_rsa_verify(k, "source", 6, sdk_signature, n - 4), -EBADMSG);
    assert_int_equal(wxpay_rsa_verify(k, "source", 6, "", 0), -EBADMSG);
    wxpay_pubkey_free(k);
}

static void unhex(const char *hex, uint8_t *out, size_t *ret_len)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *ret_len = n;
}

/* The GCM specification's test case 16 (McGrew and Viega): a 256-bit key, 96-bit IV, AAD. */
static void test_aes_gcm_decrypts_the_specification_vector_and_refuses_any_change(void **state)
{
    (void)state;
    uint8_t key[32], iv[12], ad[20], ct[76], want[60], out[76];
    size_t klen, ivlen, adlen, ctlen, wantlen, outlen = 0;
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, &klen);
    unhex("cafebabefacedbaddecaf888", iv, &ivlen);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", ad, &adlen);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1"
          "056828838c5f61e6393ba7a0abcc9f662"
          "76fc6ece0f4e1768cddf8853bb2d551b",
          ct, &ctlen);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2"
          "449a6b525b16aedf5aa0de657ba637b39",
          want, &wantlen);
    assert_int_equal(wxpay_aead_decrypt(key, iv, ivlen, ad, adlen, ct, ctlen, out, &outlen), 0);
    assert_int_equal(outlen, wantlen);
    assert_memory_equal(out, want, wantlen);

    /* One bit anywhere: ciphertext, tag, associated data, nonce, key. */
    uint8_t *fields[] = {ct, ct + ctlen - 1, ad, iv, key};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        fields[i][0] ^= 1;
        outlen = 12345;
        assert_int_equal(wxpay_aead_decrypt(key, iv, ivlen, ad, adlen, ct, ctlen, out, &outlen),
                         -EACCES);
        assert_int_equal(outlen, 12345);
        fields[i][0] ^= 1;
    }
    assert_int_equal(wxpay_aead_decrypt(key, iv, ivlen, ad, adlen - 1, ct, ctlen, out, &outlen),
                     -EACCES);
    /* Shorter than a tag, another nonce length: malformed. */
    assert_int_equal(wxpay_aead_decrypt(key, iv, ivlen, ad, adlen, ct, 15, out, &outlen), -EBADMSG);
    assert_int_equal(wxpay_aead_decrypt(key, iv, 11, ad, adlen, ct, ctlen, out, &outlen), -EBADMSG);
}

static void test_keys_that_are_not_rsa_pem_are_refused(void **state)
{
    (void)state;
    char err[WXPAY_CRYPTO_ERR_LEN];
    struct wxpay_privkey *pk = NULL;
    struct wxpay_pubkey *k = NULL;
    assert_int_equal(wxpay_privkey_from_pem("garbage", 7, &pk, err), -EINVAL);
    assert_null(pk);
    /* A public key where the private key should be, and the other way round. */
    char *pub = slurp(wxpay_fake_path(fake, "platform_pub.pem"));
    char *priv = slurp(wxpay_fake_path(fake, "merchant_key.pem"));
    assert_int_equal(wxpay_privkey_from_pem(pub, strlen(pub), &pk, err), -EINVAL);
    assert_int_equal(wxpay_pubkey_from_pem(priv, strlen(priv), &k, err), -EINVAL);
    assert_null(strstr(err, "MII")); /* no key material in the message */
    free(pub);
    free(priv);
    /* An EC key is not what WeChat Pay uses. */
    char *ec = slurp(wxpay_fake_path(fake, "ec_pub.pem"));
    assert_int_equal(wxpay_pubkey_from_pem(ec, strlen(ec), &k, err), -EINVAL);
    free(ec);
    assert_non_null(strstr(err, "not an RSA key"));
}

static void test_the_request_message_is_five_lines_each_ending_in_a_newline(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    assert_int_equal(wxpay_request_message(&b, "GET", "/v3/certificates", 1554208460,
                                           "593BEC0C930BF1AFEB40B4A08C8FB242", NULL, 0),
                     0);
    assert_string_equal(b.buf, "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242"
                               "\n\n");
    dynbuf_reset(&b);
    assert_int_equal(
        wxpay_request_message(&b, "POST", "/v3/pay/transactions/jsapi", 1, "N", "{\"a\":1}", 7), 0);
    assert_string_equal(b.buf, "POST\n/v3/pay/transactions/jsapi\n1\nN\n{\"a\":1}\n");
    /* Nothing that could split a line gets in. */
    dynbuf_reset(&b);
    assert_int_equal(wxpay_request_message(&b, "GET", "/v3/x\nPOST", 1, "N", NULL, 0), -EINVAL);
    assert_int_equal(wxpay_request_message(&b, "GET", "/v3/x", 1, "N\nM", NULL, 0), -EINVAL);
    assert_int_equal(wxpay_request_message(&b, "GET", "v3/x", 1, "N", NULL, 0), -EINVAL);
    assert_int_equal(b.len, 0);
    dynbuf_free(&b);
}

/* Finds key="value" in an Authorization header and copies the value. */
static void auth_field(const char *auth, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=\"", key);
    const char *p = strstr(auth, pat);
    assert_non_null(p);
    p += strlen(pat);
    const char *end = strchr(p, '"');
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

static void test_the_authorization_header_verifies_with_the_merchant_public_key(void **state)
{
    (void)state;
    struct wxpay_privkey *k = merchant_key();
    struct dynbuf auth;
    dynbuf_init(&auth, 4096);
    const char *body = "{\"mchid\":\"1230000109\"}";
    char nonce[WXPAY_NONCE_LEN + 1];
    assert_int_equal(wxpay_nonce_new(nonce), 0);
    assert_int_equal(wxpay_authorization(k, FAKE_MCHID, FAKE_SERIAL, "POST",
                                         "/v3/pay/transactions/out-trade-no/SM1234567/close", NOW_S,
                                         nonce, body, strlen(body), &auth),
                     0);
    assert_true(strncmp(auth.buf, "WECHATPAY2-SHA256-RSA2048 mchid=\"", 33) == 0);
    char mchid[64], got_nonce[64], sig[800], ts[32], serial[80];
    auth_field(auth.buf, "mchid", mchid, sizeof(mchid));
    auth_field(auth.buf, "nonce_str", got_nonce, sizeof(got_nonce));
    auth_field(auth.buf, "signature", sig, sizeof(sig));
    auth_field(auth.buf, "timestamp", ts, sizeof(ts));
    auth_field(auth.buf, "serial_no", serial, sizeof(serial));
    assert_string_equal(mchid, FAKE_MCHID);
    assert_string_equal(got_nonce, nonce);
    assert_string_equal(serial, FAKE_SERIAL);
    assert_int_equal(strtoll(ts, NULL, 10), NOW_S);
    char msg[512];
    snprintf(msg, sizeof(msg),
             "POST\n/v3/pay/transactions/out-trade-no/SM1234567/close\n%s\n%s\n%s\n", ts, nonce,
             body);
    assert_true(wxpay_fake_merchant_verifies(fake, msg, strlen(msg), sig));
    /* The same signature does not cover another body or path. */
    snprintf(msg, sizeof(msg),
             "POST\n/v3/pay/transactions/out-trade-no/SM7654321/close\n%s\n%s\n%s\n", ts, nonce,
             body);
    assert_false(wxpay_fake_merchant_verifies(fake, msg, strlen(msg), sig));
    /* A malformed mchid or serial is refused before anything is signed. */
    assert_int_equal(
        wxpay_authorization(k, "12x", FAKE_SERIAL, "GET", "/v3/x", NOW_S, nonce, NULL, 0, &auth),
        -EINVAL);
    assert_int_equal(wxpay_authorization(k, FAKE_MCHID, "AB\",x=\"1", "GET", "/v3/x", NOW_S, nonce,
                                         NULL, 0, &auth),
                     -EINVAL);
    dynbuf_free(&auth);
    wxpay_privkey_free(k);
}

static void test_nonces_are_32_hex_characters_and_differ(void **state)
{
    (void)state;
    char a[WXPAY_NONCE_LEN + 1], b[WXPAY_NONCE_LEN + 1];
    assert_int_equal(wxpay_nonce_new(a), 0);
    assert_int_equal(wxpay_nonce_new(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789ABCDEF"), 32);
    assert_string_not_equal(a, b);
}

/* An answer WeChat Pay signed at ts_s, and the check of it at NOW_MS. */
struct signed_answer {
    char ts[24];
    char nonce[64];
    char *sig;
    const char *body;
};

static void sign_answer(struct signed_answer *a, const char *body, int64_t ts_s, bool other_key)
{
    snprintf(a->ts, sizeof(a->ts), "%" PRId64, ts_s);
    snprintf(a->nonce, sizeof(a->nonce), "d824f2e086d3c1df967785d13fcd22ef");
    char msg[1024];
    int n = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n", a->ts, a->nonce, body);
    a->sig = wxpay_fake_platform_sign(fake, msg, (size_t)n, other_key);
    assert_non_null(a->sig);
    a->body = body;
}

static enum wxpay_error check(const struct wxpay_pubkey *k, const struct signed_answer *a,
                              const char *ts, const char *nonce, const char *sig,
                              const char *serial, const char *body)
{
    struct wxpay_signed_headers h = {
        .timestamp = ts, .nonce = nonce, .signature = sig, .serial = serial};
    char detail[WXPAY_ERR_LEN];
    (void)a;
    return wxpay_check_signed(k, FAKE_KEY_ID, &h, body, strlen(body), NOW_MS, detail);
}

static void test_a_signed_answer_passes_and_each_tampering_is_refused(void **state)
{
    (void)state;
    struct wxpay_pubkey *k = public_key("platform_pub.pem");
    const char *body = "{\"code_url\":\"weixin://wxpay/bizpayurl?pr=JyC91EIz1\"}";
    struct signed_answer a;
    sign_answer(&a, body, NOW_S - 10, false);
    assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, FAKE_KEY_ID, body), WXPAY_OK);

    /* The body, the timestamp or the nonce changed after signing. */
    assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, FAKE_KEY_ID,
                           "{\"code_url\":\"weixin://wxpay/bizpayurl?pr=JyC91EIz2\"}"),
                     WXPAY_BAD_SIGNATURE);
    char ts2[24];
    snprintf(ts2, sizeof(ts2), "%" PRId64, NOW_S - 9);
    assert_int_equal(check(k, &a, ts2, a.nonce, a.sig, FAKE_KEY_ID, body), WXPAY_BAD_SIGNATURE);
    assert_int_equal(
        check(k, &a, a.ts, "d824f2e086d3c1df967785d13fcd22ee", a.sig, FAKE_KEY_ID, body),
        WXPAY_BAD_SIGNATURE);
    /* Another key id, a missing header, a signature by a key that is not WeChat Pay's. */
    assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, "PUB_KEY_ID_OTHER", body),
                     WXPAY_BAD_SIGNATURE);
    assert_int_equal(check(k, &a, NULL, a.nonce, a.sig, FAKE_KEY_ID, body), WXPAY_BAD_SIGNATURE);
    assert_int_equal(check(k, &a, a.ts, NULL, a.sig, FAKE_KEY_ID, body), WXPAY_BAD_SIGNATURE);
    assert_int_equal(check(k, &a, a.ts, a.nonce, NULL, FAKE_KEY_ID, body), WXPAY_BAD_SIGNATURE);
    assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, NULL, body), WXPAY_BAD_SIGNATURE);
    struct signed_answer forged;
    sign_answer(&forged, body, NOW_S, true);
    assert_int_equal(check(k, &forged, forged.ts, forged.nonce, forged.sig, FAKE_KEY_ID, body),
                     WXPAY_BAD_SIGNATURE);
    /* WeChat Pay's probes carry a signature that must fail ("WECHATPAY/SIGNTEST/..."). */
    assert_int_equal(check(k, &a, a.ts, a.nonce, "WECHATPAY/SIGNTEST/AAAA", FAKE_KEY_ID, body),
                     WXPAY_BAD_SIGNATURE);
    /* A timestamp that is not a plain number of seconds. */
    assert_int_equal(check(k, &a, "+1796630390", a.nonce, a.sig, FAKE_KEY_ID, body),
                     WXPAY_BAD_SIGNATURE);
    assert_int_equal(check(k, &a, "01796630390", a.nonce, a.sig, FAKE_KEY_ID, body),
                     WXPAY_BAD_SIGNATURE);
    free(a.sig);
    free(forged.sig);
    wxpay_pubkey_free(k);
}

static void test_a_timestamp_more_than_five_minutes_away_is_stale(void **state)
{
    (void)state;
    struct wxpay_pubkey *k = public_key("platform_pub.pem");
    const char *body = "{}";
    static const struct {
        int64_t offset_s;
        enum wxpay_error want;
    } cases[] = {
        {-300, WXPAY_OK},   {300, WXPAY_OK},       {-301, WXPAY_STALE},
        {301, WXPAY_STALE}, {-86400, WXPAY_STALE}, {0, WXPAY_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct signed_answer a;
        sign_answer(&a, body, NOW_S + cases[i].offset_s, false);
        assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, FAKE_KEY_ID, body), cases[i].want);
        free(a.sig);
    }
    /* An empty body (a 204) signs as an empty last line. */
    struct signed_answer a;
    sign_answer(&a, "", NOW_S, false);
    assert_int_equal(check(k, &a, a.ts, a.nonce, a.sig, FAKE_KEY_ID, ""), WXPAY_OK);
    free(a.sig);
    wxpay_pubkey_free(k);
}

static void test_pay_params_are_signed_over_the_four_lines(void **state)
{
    (void)state;
    struct wxpay_privkey *k = merchant_key();
    struct wxpay_pay_params p;
    assert_int_equal(wxpay_pay_params_make(k, FAKE_APPID, "wx201410272009395522657a690389285100",
                                           NOW_MS + 999, &p),
                     WXPAY_OK);
    assert_string_equal(p.app_id, FAKE_APPID);
    assert_int_equal(strtoll(p.time_stamp, NULL, 10), NOW_S);
    assert_int_equal(strlen(p.nonce_str), 32);
    assert_string_equal(p.package, "prepay_id=wx201410272009395522657a690389285100");
    assert_string_equal(p.sign_type, "RSA");
    char msg[512];
    snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s\n", p.app_id, p.time_stamp, p.nonce_str, p.package);
    assert_true(wxpay_fake_merchant_verifies(fake, msg, strlen(msg), p.pay_sign));
    /* Not over another prepay_id, nor without the last newline. */
    snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s", p.app_id, p.time_stamp, p.nonce_str, p.package);
    assert_false(wxpay_fake_merchant_verifies(fake, msg, strlen(msg), p.pay_sign));
    assert_int_equal(wxpay_pay_params_make(k, FAKE_APPID, "wx\n1", NOW_MS, &p), WXPAY_INVALID);
    assert_int_equal(wxpay_pay_params_make(k, "wx-1", "wx1", NOW_MS, &p), WXPAY_INVALID);
    assert_string_equal(p.pay_sign, "");
    wxpay_privkey_free(k);
}

static void test_the_order_body_is_exactly_what_the_jsapi_api_documents(void **state)
{
    (void)state;
    struct dynbuf b;
    char detail[WXPAY_ERR_LEN];
    dynbuf_init(&b, 8192);
    struct wxpay_order o = {
        .appid = FAKE_APPID,
        .mchid = FAKE_MCHID,
        .description = "\xe7\x94\xb5\xe8\xb4\xb9\xe5\x85\x85\xe5\x80\xbc meter-7",
        .out_trade_no = "SM20261207ABCDEFGHIJKLMNOPQRST",
        .notify_url = "https://meter.example.com/api/payments/wechat/notify",
        .total_fen = 5000,
        .payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        .expire_ms = NOW_MS + 30 * 60 * 1000,
    };
    assert_int_equal(wxpay_order_body(&o, &b, detail), WXPAY_OK);
    assert_string_equal(
        b.buf, "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1230000109\",\"description\":"
               "\"\xe7\x94\xb5\xe8\xb4\xb9\xe5\x85\x85\xe5\x80\xbc meter-7\",\"out_trade_no\":"
               "\"SM20261207ABCDEFGHIJKLMNOPQRST\",\"time_expire\":\"2026-12-07T16:30:00+08:00\","
               "\"notify_url\":\"https://meter.example.com/api/payments/wechat/notify\","
               "\"amount\":{\"total\":5000,\"currency\":\"CNY\"},\"payer\":{\"openid\":"
               "\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"}}");

    /* Each field's rule. */
    struct wxpay_order bad;
#define REFUSED(field, value)                                                                      \
    do {                                                                                           \
        bad = o;                                                                                   \
        bad.field = value;                                                                         \
        assert_int_equal(wxpay_order_body(&bad, &b, detail), WXPAY_INVALID);                       \
        assert_true(strlen(detail) > 0);                                                           \
    } while (0)
    REFUSED(total_fen, 0);
    REFUSED(total_fen, -1);
    REFUSED(total_fen, WXPAY_TOTAL_MAX_FEN + 1);
    REFUSED(out_trade_no, "SM123");                             /* too short */
    REFUSED(out_trade_no, "SM2026120712345678901234567890123"); /* 33 */
    REFUSED(out_trade_no, "SM2026/1207");
    REFUSED(payer_openid, "");
    REFUSED(payer_openid, "o\"x");
    REFUSED(description, "");
    REFUSED(description, "line\nbreak");
    REFUSED(description, "\xff\xfe");
    REFUSED(notify_url, "http://meter.example.com/notify"); /* plain http to a public host */
    REFUSED(notify_url, "https://meter.example.com/notify?x=1");
    REFUSED(notify_url, "ftp://meter.example.com/notify");
    REFUSED(appid, "wx 1");
    REFUSED(mchid, "12a");
    REFUSED(expire_ms, 1000);
#undef REFUSED
    char longdesc[200];
    memset(longdesc, 'a', 128);
    longdesc[128] = '\0';
    bad = o;
    bad.description = longdesc;
    assert_int_equal(wxpay_order_body(&bad, &b, detail), WXPAY_INVALID);
    longdesc[127] = '\0';
    assert_int_equal(wxpay_order_body(&bad, &b, detail), WXPAY_OK);
    dynbuf_free(&b);
}

static void test_out_trade_numbers_are_30_safe_characters_and_unique(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char seen[N][WXPAY_OUT_TRADE_NO_MAX + 1];
    for (int i = 0; i < N; i++) {
        assert_int_equal(wxpay_out_trade_no_new(NOW_MS, seen[i]), 0);
        assert_int_equal(strlen(seen[i]), 30);
        assert_true(strncmp(seen[i], "SM20261207", 10) == 0);
        assert_true(wxpay_out_trade_no_valid(seen[i], 30));
        assert_int_equal(strspn(seen[i] + 10, "0123456789ABCDEFGHIJKLMNOPQRSTUV"), 20);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
}

/* The options of a working configuration, over the fake's files. */
static struct wxpay_options options(char paths[4][512])
{
    snprintf(paths[0], 512, "%s", wxpay_fake_path(fake, "merchant_key.pem"));
    snprintf(paths[1], 512, "%s", wxpay_fake_path(fake, "apiv3.key"));
    snprintf(paths[2], 512, "%s", wxpay_fake_path(fake, "platform_pub.pem"));
    struct wxpay_options o = {
        .appid = FAKE_APPID,
        .mchid = FAKE_MCHID,
        .serial_no = FAKE_SERIAL,
        .private_key_file = paths[0],
        .apiv3_key_file = paths[1],
        .platform_public_key_file = paths[2],
        .platform_public_key_id = FAKE_KEY_ID,
        .notify_url = "https://meter.example.com/api/payments/wechat/notify",
        .base_url = NULL,
    };
    return o;
}

static int make(const struct wxpay_options *o, char *err)
{
    struct wxpay *w = NULL;
    int r = wxpay_new(o, &w, err);
    if (r == 0) {
        assert_string_equal(wxpay_appid(w), FAKE_APPID);
        assert_string_equal(wxpay_mchid(w), FAKE_MCHID);
    } else {
        assert_null(w);
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, wxpay_fake_apiv3_key(fake)));
    }
    wxpay_free(w);
    return r;
}

static void write_text(const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_the_configuration_is_read_from_owner_only_files_and_checked(void **state)
{
    (void)state;
    char paths[4][512], err[WXPAY_ERR_LEN];
    struct wxpay_options o = options(paths);
    assert_int_equal(make(&o, err), 0);
    o.base_url = "http://127.0.0.1:8080/"; /* a stand-in */
    assert_int_equal(make(&o, err), 0);

    struct wxpay_options bad = o;
    bad.base_url = "http://api.mch.weixin.qq.com";
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "wechatpay_base_url"));
    bad = o;
    bad.appid = "wx-1";
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "wechatpay_appid"));
    bad = o;
    bad.mchid = NULL;
    assert_int_equal(make(&bad, err), -EINVAL);
    bad = o;
    bad.platform_public_key_id = "";
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "wechatpay_platform_public_key_id"));
    bad = o;
    bad.notify_url = "https://meter.example.com/notify?token=1";
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "wechatpay_notify_url"));

    /* Secrets others may read are refused, naming the option. */
    char path[512];
    char key[64];
    snprintf(key, sizeof(key), "%s", wxpay_fake_apiv3_key(fake));
    write_text("open.key", key, 0644);
    snprintf(path, sizeof(path), "%s/open.key", dir);
    bad = o;
    bad.apiv3_key_file = path;
    assert_int_equal(make(&bad, err), -EPERM);
    assert_non_null(strstr(err, "wechatpay_apiv3_key_file"));
    /* The APIv3 key is 32 characters; one trailing newline is forgiven. */
    snprintf(key, sizeof(key), "%s\n", wxpay_fake_apiv3_key(fake));
    write_text("nl.key", key, 0600);
    snprintf(path, sizeof(path), "%s/nl.key", dir);
    assert_int_equal(make(&bad, err), 0);
    key[31] = '\0';
    write_text("short.key", key, 0600);
    snprintf(path, sizeof(path), "%s/short.key", dir);
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "32-character"));
    snprintf(key, sizeof(key), "%sx", wxpay_fake_apiv3_key(fake));
    write_text("long.key", key, 0600);
    snprintf(path, sizeof(path), "%s/long.key", dir);
    assert_int_equal(make(&bad, err), -EINVAL);

    bad = o;
    snprintf(path, sizeof(path), "%s/merchant_pub.pem", dir); /* readable by all, and public */
    bad.private_key_file = path;
    assert_int_equal(make(&bad, err), -EPERM);
    write_text("pub600.pem", "not a key", 0600);
    snprintf(path, sizeof(path), "%s/pub600.pem", dir);
    assert_int_equal(make(&bad, err), -EINVAL);
    assert_non_null(strstr(err, "wechatpay_private_key_file"));
    bad = o;
    snprintf(path, sizeof(path), "%s/missing.pem", dir);
    bad.platform_public_key_file = path;
    assert_int_equal(make(&bad, err), -ENOENT);
    bad.platform_public_key_file = wxpay_fake_path(fake, "apiv3.key");
    assert_int_equal(make(&bad, err), -EINVAL);
}

static void test_notify_answers_say_success_with_204_and_failure_with_a_body(void **state)
{
    (void)state;
    const char *body;
    assert_int_equal(wxpay_notify_answer(WXPAY_OK, &body), 204);
    assert_string_equal(body, "");
    assert_int_equal(wxpay_notify_answer(WXPAY_BAD_SIGNATURE, &body), 401);
    assert_non_null(strstr(body, "\"code\":\"FAIL\""));
    assert_int_equal(wxpay_notify_answer(WXPAY_STALE, &body), 401);
    assert_int_equal(wxpay_notify_answer(WXPAY_MISMATCH, &body), 400);
    assert_int_equal(wxpay_notify_answer(WXPAY_UNDECRYPTABLE, &body), 400);
    assert_int_equal(wxpay_notify_answer(WXPAY_NOMEM, &body), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_sdk_vector_verifies_and_nothing_else_does),
        cmocka_unit_test(test_aes_gcm_decrypts_the_specification_vector_and_refuses_any_change),
        cmocka_unit_test(test_keys_that_are_not_rsa_pem_are_refused),
        cmocka_unit_test(test_the_request_message_is_five_lines_each_ending_in_a_newline),
        cmocka_unit_test(test_the_authorization_header_verifies_with_the_merchant_public_key),
        cmocka_unit_test(test_nonces_are_32_hex_characters_and_differ),
        cmocka_unit_test(test_a_signed_answer_passes_and_each_tampering_is_refused),
        cmocka_unit_test(test_a_timestamp_more_than_five_minutes_away_is_stale),
        cmocka_unit_test(test_pay_params_are_signed_over_the_four_lines),
        cmocka_unit_test(test_the_order_body_is_exactly_what_the_jsapi_api_documents),
        cmocka_unit_test(test_out_trade_numbers_are_30_safe_characters_and_unique),
        cmocka_unit_test(test_the_configuration_is_read_from_owner_only_files_and_checked),
        cmocka_unit_test(test_notify_answers_say_success_with_204_and_failure_with_a_body),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
