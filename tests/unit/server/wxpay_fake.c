/* wxpay_fake: WeChat Pay's side of the signatures, on OpenSSL (see wxpay_fake.h). */

#include "wxpay_fake.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

struct wxpay_fake {
    EVP_PKEY *merchant, *platform, *other;
    char dir[256];
    char path[256 + 64];
    char apiv3[33];
};

static char *b64(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    int r = write(fd, data, len) == (ssize_t)len ? 0 : -1;
    if (fchmod(fd, mode))
        r = -1;
    close(fd);
    return r;
}

static int write_pem(const char *dir, const char *name, EVP_PKEY *k, int private, mode_t mode)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return -1;
    int ok = private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_PUBKEY(bio, k);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int r = ok == 1 && len > 0 ? write_file(path, data, (size_t)len, mode) : -1;
    BIO_free(bio);
    return r;
}

/* An EC public key: a well-formed PEM key of a kind WeChat Pay does not use. */
static int write_ec(const char *dir)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    int r = ec ? write_pem(dir, "ec_pub.pem", ec, 0, 0644) : -1;
    EVP_PKEY_free(ec);
    return r;
}

struct wxpay_fake *wxpay_fake_new(const char *dir)
{
    struct wxpay_fake *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    f->merchant = EVP_RSA_gen(2048);
    f->platform = EVP_RSA_gen(2048);
    f->other = EVP_RSA_gen(2048);
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        wxpay_fake_free(f);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        f->apiv3[i] = alnum[raw[i] % 62];
    char apiv3[512];
    snprintf(apiv3, sizeof(apiv3), "%s/apiv3.key", dir);
    if (!f->merchant || !f->platform || !f->other ||
        write_pem(dir, "merchant_key.pem", f->merchant, 1, 0600) ||
        write_pem(dir, "merchant_pub.pem", f->merchant, 0, 0644) ||
        write_pem(dir, "platform_pub.pem", f->platform, 0, 0644) ||
        write_pem(dir, "platform_key.pem", f->platform, 1, 0600) ||
        write_pem(dir, "other_pub.pem", f->other, 0, 0644) || write_ec(dir) ||
        write_file(apiv3, f->apiv3, strlen(f->apiv3), 0600)) {
        wxpay_fake_free(f);
        return NULL;
    }
    return f;
}

void wxpay_fake_free(struct wxpay_fake *f)
{
    if (!f)
        return;
    EVP_PKEY_free(f->merchant);
    EVP_PKEY_free(f->platform);
    EVP_PKEY_free(f->other);
    free(f);
}

const char *wxpay_fake_apiv3_key(const struct wxpay_fake *f)
{
    return f->apiv3;
}

const char *wxpay_fake_path(const struct wxpay_fake *f, const char *name)
{
    struct wxpay_fake *m = (struct wxpay_fake *)f;
    snprintf(m->path, sizeof(m->path), "%s/%s", f->dir, name);
    return m->path;
}

char *wxpay_fake_platform_sign(const struct wxpay_fake *f, const void *msg, size_t len,
                               bool with_other_key)
{
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *out = NULL;
    if (ctx &&
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
                           with_other_key ? f->other : f->platform) == 1 &&
        EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1)
        out = b64(sig, sig_len);
    EVP_MD_CTX_free(ctx);
    return out;
}

bool wxpay_fake_merchant_verifies(const struct wxpay_fake *f, const void *msg, size_t len,
                                  const char *sig)
{
    unsigned char raw[600];
    size_t n = strlen(sig);
    if (n == 0 || n > 4 * (sizeof(raw) / 3))
        return false;
    int raw_len = EVP_DecodeBlock(raw, (const unsigned char *)sig, (int)n);
    if (raw_len < 0)
        return false;
    while (n > 0 && sig[n - 1] == '=') { /* EVP_DecodeBlock keeps the padding's zero bytes */
        raw_len--;
        n--;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, f->merchant) == 1 &&
              EVP_DigestVerify(ctx, raw, (size_t)raw_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

char *wxpay_fake_encrypt(const char *key, const char *nonce, const char *ad, const char *plain,
                         size_t len)
{
    unsigned char *ct = malloc(len + 16);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    char *out = NULL;
    if (ct && ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)strlen(nonce), NULL) == 1 &&
        EVP_EncryptInit_ex(ctx, NULL, NULL, (const unsigned char *)key,
                           (const unsigned char *)nonce) == 1 &&
        EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)ad, (int)strlen(ad)) == 1 &&
        EVP_EncryptUpdate(ctx, ct, &n, (const unsigned char *)plain, (int)len) == 1 &&
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct + n + fin) == 1)
        out = b64(ct, (size_t)(n + fin) + 16);
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    return out;
}

int wxpay_fake_notify(const struct wxpay_fake *f, const char *plain, int64_t ts_s,
                      const char *apiv3_key, struct fake_notify *ret)
{
    memset(ret, 0, sizeof(*ret));
    char *ct = wxpay_fake_encrypt(apiv3_key ? apiv3_key : f->apiv3, "fdasflkja484", "transaction",
                                  plain, strlen(plain));
    if (!ct)
        return -1;
    size_t cap = strlen(ct) + 512;
    ret->body = malloc(cap);
    if (!ret->body) {
        free(ct);
        return -1;
    }
    snprintf(ret->body, cap,
             "{\"id\":\"EV-2018022511223320873\",\"create_time\":\"2015-05-20T13:29:35+08:00\","
             "\"resource_type\":\"encrypt-resource\",\"event_type\":\"TRANSACTION.SUCCESS\","
             "\"summary\":\"\\u652f\\u4ed8\\u6210\\u529f\",\"resource\":{\"original_type\":"
             "\"transaction\",\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"%s\","
             "\"associated_data\":\"transaction\",\"nonce\":\"fdasflkja484\"}}",
             ct);
    free(ct);
    snprintf(ret->timestamp, sizeof(ret->timestamp), "%" PRId64, ts_s);
    snprintf(ret->nonce, sizeof(ret->nonce), "c5ac7061fccab6bf3e254dcf98995b8c");
    snprintf(ret->serial, sizeof(ret->serial), "%s", FAKE_KEY_ID);
    size_t mcap = strlen(ret->body) + 128;
    char *msg = malloc(mcap);
    if (!msg)
        return -1;
    int n = snprintf(msg, mcap, "%s\n%s\n%s\n", ret->timestamp, ret->nonce, ret->body);
    ret->signature = wxpay_fake_platform_sign(f, msg, (size_t)n, false);
    free(msg);
    return ret->signature ? 0 : -1;
}

void fake_notify_free(struct fake_notify *n)
{
    free(n->body);
    free(n->signature);
    memset(n, 0, sizeof(*n));
}

char *wxpay_fake_transaction(const char *appid, const char *mchid, const char *out_trade_no,
                             int64_t total_fen)
{
    char *out = malloc(1024);
    if (out)
        snprintf(out, 1024,
                 "{\"transaction_id\":\"4200001234202612070123456789\",\"amount\":{"
                 "\"payer_total\":%" PRId64 ",\"total\":%" PRId64
                 ",\"currency\":\"CNY\",\"payer_currency\":\"CNY\"},\"mchid\":\"%s\","
                 "\"trade_state\":\"SUCCESS\",\"bank_type\":\"CMC\",\"promotion_detail\":[],"
                 "\"success_time\":\"2026-12-07T16:34:56+08:00\",\"payer\":{\"openid\":"
                 "\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"},\"out_trade_no\":\"%s\",\"appid\":\"%s\","
                 "\"trade_state_desc\":\"\\u652f\\u4ed8\\u6210\\u529f\",\"trade_type\":\"JSAPI\","
                 "\"attach\":\"\",\"scene_info\":{\"device_id\":\"013467007045764\"}}",
                 total_fen, total_fen, mchid, out_trade_no, appid);
    return out;
}
