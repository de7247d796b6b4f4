/*
 * WeChat Pay's payment notification (server/wxpay/): the headers and the
 * body as they reach the notify endpoint (wxpay_notify), the envelope
 * (wxpay_parse_notify_envelope) and the decrypted transaction JSON
 * (wxpay_parse_transaction).
 *
 * The input is split at its first NUL into header lines ("Name: value") and
 * a body; without a NUL it is all body. Checks:
 *  - wxpay_notify() on the input as received answers WXPAY_BAD_SIGNATURE and
 *    nothing else: nobody can sign under the harness's platform key, so no
 *    input gets past the signature to the parsers;
 *  - the body as a transaction: refused with all fields zero, or accepted
 *    with every field within its rule (wxpay_fields.h), the payment fields
 *    present when the state says paid;
 *  - the body as an envelope: accepted only with a 12-byte nonce and a
 *    ciphertext at least a tag long;
 *  - for one input in eight, the body encrypted with the APIv3 key and
 *    wrapped and signed as WeChat Pay does (wxpay_fake.c): wxpay_notify()
 *    then gets past the signature and the decryption, and answers
 *    WXPAY_OK exactly when the body parses as a transaction of our appid and
 *    mchid, with the same fields.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fuzz.h"
#include "wxpay.h"
#include "wxpay_fake.h"

static struct wxpay *w;
static struct wxpay_fake *fake;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/fuzz_wxpay.XXXXXX";
    if (!mkdtemp(dir) || !(fake = wxpay_fake_new(dir)))
        abort();
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
        fprintf(stderr, "fuzz_wxpay_notify: %s\n", err);
        abort();
    }
    /* The keys are in memory now; the files go. */
    static const char *const files[] = {"merchant_key.pem", "merchant_pub.pem", "platform_pub.pem",
                                        "platform_key.pem", "other_pub.pem",    "ec_pub.pem",
                                        "apiv3.key"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        remove(wxpay_fake_path(fake, files[i]));
    remove(dir);
    return 0;
}

/* The value of header name in the lines of text, or NULL; the copy lives in out. */
static const char *header(const char *text, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncasecmp(line, name, n) != 0 || line[n] != ':')
            continue;
        const char *v = line + n + 1;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\n");
        if (len >= cap)
            len = cap - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        return out;
    }
    return NULL;
}

static bool same_transaction(const struct wxpay_transaction *a, const struct wxpay_transaction *b)
{
    return strcmp(a->appid, b->appid) == 0 && strcmp(a->mchid, b->mchid) == 0 &&
           strcmp(a->out_trade_no, b->out_trade_no) == 0 &&
           strcmp(a->transaction_id, b->transaction_id) == 0 &&
           strcmp(a->payer_openid, b->payer_openid) == 0 && a->trade_state == b->trade_state &&
           a->total_fen == b->total_fen && a->payer_total_fen == b->payer_total_fen &&
           a->success_time_ms == b->success_time_ms;
}

static void check_transaction_rules(const struct wxpay_transaction *t)
{
    FUZZ_CHECK(wxpay_appid_valid(t->appid, strlen(t->appid)));
    FUZZ_CHECK(wxpay_mchid_valid(t->mchid, strlen(t->mchid)));
    FUZZ_CHECK(wxpay_out_trade_no_valid(t->out_trade_no, strlen(t->out_trade_no)));
    FUZZ_CHECK(t->trade_state != WXPAY_STATE_UNKNOWN);
    FUZZ_CHECK(t->total_fen >= 0 && t->total_fen <= WXPAY_TOTAL_MAX_FEN);
    FUZZ_CHECK(t->payer_total_fen >= -1 && t->payer_total_fen <= WXPAY_TOTAL_MAX_FEN);
    if (t->trade_state == WXPAY_STATE_SUCCESS || t->trade_state == WXPAY_STATE_REFUND) {
        FUZZ_CHECK(wxpay_transaction_id_valid(t->transaction_id, strlen(t->transaction_id)));
        FUZZ_CHECK(wxpay_openid_valid(t->payer_openid, strlen(t->payer_openid)));
        FUZZ_CHECK(t->payer_total_fen >= 0);
        FUZZ_CHECK(t->success_time_ms > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    char *headers = fuzz_cstr(data, nul ? (size_t)(nul - data) : 0);
    const char *body = nul ? (const char *)nul + 1 : (const char *)data;
    size_t len = nul ? size - (size_t)(nul - data) - 1 : size;
    char ts[64], nonce[128], sig[1024], serial[128], detail[WXPAY_ERR_LEN];
    struct wxpay_signed_headers h = {
        .timestamp = header(headers, "Wechatpay-Timestamp", ts, sizeof(ts)),
        .nonce = header(headers, "Wechatpay-Nonce", nonce, sizeof(nonce)),
        .signature = header(headers, "Wechatpay-Signature", sig, sizeof(sig)),
        .serial = header(headers, "Wechatpay-Serial", serial, sizeof(serial)),
    };
    struct wxpay_transaction t, parsed;
    struct wxpay_transaction zero;
    memset(&zero, 0, sizeof(zero));
    FUZZ_CHECK(wxpay_notify(w, &h, body, len, FUZZ_NOW_MS, &t, detail) == WXPAY_BAD_SIGNATURE);
    FUZZ_CHECK(memcmp(&t, &zero, sizeof(t)) == 0);

    enum wxpay_error pe = wxpay_parse_transaction(body, len, &parsed, detail);
    FUZZ_CHECK(pe == WXPAY_OK || pe == WXPAY_BAD_ANSWER);
    if (pe == WXPAY_OK) {
        check_transaction_rules(&parsed);
    } else {
        zero.payer_total_fen = -1;
        FUZZ_CHECK(memcmp(&parsed, &zero, sizeof(parsed)) == 0);
        zero.payer_total_fen = 0;
    }

    struct wxpay_notify_envelope env;
    enum wxpay_error ee = wxpay_parse_notify_envelope(body, len, &env, detail);
    FUZZ_CHECK(ee == WXPAY_OK || ee == WXPAY_BAD_ANSWER || ee == WXPAY_NOMEM);
    if (ee == WXPAY_OK)
        FUZZ_CHECK(env.ciphertext && env.ciphertext_len >= WXPAY_AEAD_TAG_LEN);
    wxpay_notify_envelope_free(&env);

    /* Signed and encrypted as WeChat Pay does: the parsers behind the signature decide. */
    if (size > 0 && data[0] % 8 == 0 && len < 8192) {
        char *plain = fuzz_cstr((const uint8_t *)body, len);
        struct fake_notify n;
        if (wxpay_fake_notify(fake, plain, FUZZ_NOW_MS / 1000, NULL, &n) == 0) {
            struct wxpay_signed_headers sh = {.timestamp = n.timestamp,
                                              .nonce = n.nonce,
                                              .signature = n.signature,
                                              .serial = n.serial};
            enum wxpay_error e =
                wxpay_notify(w, &sh, n.body, strlen(n.body), FUZZ_NOW_MS, &t, detail);
            enum wxpay_error want = wxpay_parse_transaction(plain, strlen(plain), &parsed, detail);
            if (want == WXPAY_OK &&
                (strcmp(parsed.appid, FAKE_APPID) != 0 || strcmp(parsed.mchid, FAKE_MCHID) != 0))
                want = WXPAY_MISMATCH;
            FUZZ_CHECK(e == want);
            if (e == WXPAY_OK)
                FUZZ_CHECK(same_transaction(&t, &parsed));
            fake_notify_free(&n);
        }
        free(plain);
    }
    free(headers);
    return 0;
}
