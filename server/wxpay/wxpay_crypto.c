/* wxpay_crypto: RSA-SHA256 and AES-256-GCM over OpenSSL's libcrypto (see wxpay_crypto.h). */

#include "wxpay_crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "base64.h"

struct wxpay_privkey {
    EVP_PKEY *pkey;
};

struct wxpay_pubkey {
    EVP_PKEY *pkey;
};

/* Refuses to prompt for a pass phrase: an encrypted key is a configuration error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int check_rsa(EVP_PKEY *pkey, const char *what, char *err)
{
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        snprintf(err, WXPAY_CRYPTO_ERR_LEN, "the %s is not an RSA key", what);
        return -EINVAL;
    }
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < WXPAY_RSA_MIN_BITS || bits > WXPAY_RSA_MAX_BITS) {
        snprintf(err, WXPAY_CRYPTO_ERR_LEN, "the %s has %d bits; WeChat Pay uses %d to %d", what,
                 bits, WXPAY_RSA_MIN_BITS, WXPAY_RSA_MAX_BITS);
        return -EINVAL;
    }
    return 0;
}

static EVP_PKEY *read_pem(const char *pem, size_t len, int private)
{
    if (len > INT_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return NULL;
    EVP_PKEY *pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                             : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

int wxpay_privkey_from_pem(const char *pem, size_t len, struct wxpay_privkey **ret,
                           char err[WXPAY_CRYPTO_ERR_LEN])
{
    EVP_PKEY *pkey = read_pem(pem, len, 1);
    if (!pkey) {
        snprintf(err, WXPAY_CRYPTO_ERR_LEN,
                 "the merchant private key is not an unencrypted PEM private key "
                 "(\"BEGIN PRIVATE KEY\")");
        return -EINVAL;
    }
    int r = check_rsa(pkey, "merchant private key", err);
    struct wxpay_privkey *k = r ? NULL : calloc(1, sizeof(*k));
    if (!r && !k)
        r = -ENOMEM;
    if (r) {
        EVP_PKEY_free(pkey);
        return r;
    }
    k->pkey = pkey;
    *ret = k;
    return 0;
}

void wxpay_privkey_free(struct wxpay_privkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey); /* OpenSSL clears the private numbers as it frees them */
    free(k);
}

int wxpay_pubkey_from_pem(const char *pem, size_t len, struct wxpay_pubkey **ret,
                          char err[WXPAY_CRYPTO_ERR_LEN])
{
    EVP_PKEY *pkey = read_pem(pem, len, 0);
    if (!pkey) {
        snprintf(err, WXPAY_CRYPTO_ERR_LEN,
                 "the WeChat Pay public key is not a PEM public key (\"BEGIN PUBLIC KEY\")");
        return -EINVAL;
    }
    int r = check_rsa(pkey, "WeChat Pay public key", err);
    struct wxpay_pubkey *k = r ? NULL : calloc(1, sizeof(*k));
    if (!r && !k)
        r = -ENOMEM;
    if (r) {
        EVP_PKEY_free(pkey);
        return r;
    }
    k->pkey = pkey;
    *ret = k;
    return 0;
}

void wxpay_pubkey_free(struct wxpay_pubkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int wxpay_rsa_sign(const struct wxpay_privkey *k, const void *msg, size_t len, char *out,
                   size_t cap)
{
    unsigned char sig[WXPAY_RSA_MAX_BITS / 8];
    size_t sig_len = sizeof(sig);
    if ((size_t)EVP_PKEY_get_size(k->pkey) > sizeof(sig) ||
        base64_encoded_len((size_t)EVP_PKEY_get_size(k->pkey)) + 1 > cap)
        return -ENOSPC;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = -EIO;
    /* RSA keys sign with PKCS#1 v1.5 padding unless told otherwise: what WeChat Pay uses. */
    if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1) {
        base64_encode(sig, sig_len, out);
        r = 0;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

int wxpay_rsa_verify(const struct wxpay_pubkey *k, const void *msg, size_t len, const char *sig,
                     size_t sig_len)
{
    unsigned char raw[WXPAY_RSA_MAX_BITS / 8 + 3];
    size_t raw_len = 0;
    size_t want = (size_t)EVP_PKEY_get_size(k->pkey);
    if (sig_len > WXPAY_SIG_B64_MAX || base64_decoded_max(sig_len) > sizeof(raw) ||
        base64_decode(sig, sig_len, raw, &raw_len) || raw_len != want)
        return -EBADMSG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = -EACCES;
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestVerify(ctx, raw, raw_len, msg, len) == 1)
        r = 0;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

int wxpay_aead_decrypt(const uint8_t key[WXPAY_AEAD_KEY_LEN], const void *nonce, size_t nonce_len,
                       const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out,
                       size_t *ret_len)
{
    if (nonce_len != WXPAY_AEAD_NONCE_LEN || ct_len < WXPAY_AEAD_TAG_LEN ||
        ct_len - WXPAY_AEAD_TAG_LEN > INT_MAX || ad_len > INT_MAX)
        return -EBADMSG;
    size_t body_len = ct_len - WXPAY_AEAD_TAG_LEN;
    const unsigned char *tag = (const unsigned char *)ct + body_len;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, r = -EIO;
    if (!ctx)
        goto out;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto out;
    if (ad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1)
        goto out;
    n = 0;
    if (body_len > 0 && EVP_DecryptUpdate(ctx, out, &n, ct, (int)body_len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WXPAY_AEAD_TAG_LEN, (void *)tag) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
        /* Nothing of a forged message may be used: the caller gets no plaintext. */
        if (body_len > 0)
            OPENSSL_cleanse(out, body_len);
        r = -EACCES;
        goto out;
    }
    *ret_len = (size_t)n + (size_t)fin;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

int wxpay_random(void *buf, size_t len)
{
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1) {
        ERR_clear_error();
        return -EIO;
    }
    return 0;
}
