/*
 * wxpay_crypto: the cryptography WeChat Pay API v3 asks for, and the only
 * file of the server that includes OpenSSL's headers.
 *
 *  - RSA keys from PEM: the merchant's private key (apiclient_key.pem,
 *    PKCS#8 or PKCS#1, never encrypted) and WeChat Pay's public key
 *    (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"); RSA of 2048 to 4096 bits.
 *  - SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256), signatures in base64.
 *  - AEAD_AES_256_GCM decryption with a 16-byte tag after the ciphertext.
 *  - Random bytes from OpenSSL's CSPRNG.
 *
 * Pure apart from the randomness: no files, no logging. Keys are opaque;
 * their owner frees them with the matching _free(), which accepts NULL and
 * wipes what OpenSSL holds. Every function is safe to call from many
 * threads on the same key.
 */
#ifndef SMARTMETER_WXPAY_CRYPTO_H
#define SMARTMETER_WXPAY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WXPAY_RSA_MIN_BITS 2048
#define WXPAY_RSA_MAX_BITS 4096
/* base64 of a 4096-bit signature (512 bytes), without the NUL */
#define WXPAY_SIG_B64_MAX    684
#define WXPAY_AEAD_KEY_LEN   32
#define WXPAY_AEAD_NONCE_LEN 12
#define WXPAY_AEAD_TAG_LEN   16
#define WXPAY_CRYPTO_ERR_LEN 160

struct wxpay_privkey;
struct wxpay_pubkey;

/*
 * Reads an RSA private key from pem[0..len). Returns 0 and *ret, or -EINVAL
 * with err naming the problem (not PEM, encrypted, not RSA, too short or too
 * long), or -ENOMEM. Never writes key material into err.
 */
int wxpay_privkey_from_pem(const char *pem, size_t len, struct wxpay_privkey **ret,
                           char err[WXPAY_CRYPTO_ERR_LEN]);
void wxpay_privkey_free(struct wxpay_privkey *k);

/* The same for a public key ("BEGIN PUBLIC KEY"). */
int wxpay_pubkey_from_pem(const char *pem, size_t len, struct wxpay_pubkey **ret,
                          char err[WXPAY_CRYPTO_ERR_LEN]);
void wxpay_pubkey_free(struct wxpay_pubkey *k);

/*
 * Signs msg[0..len) with SHA256withRSA and writes the signature in base64
 * with a NUL into out (cap bytes, at least WXPAY_SIG_B64_MAX + 1). Returns 0,
 * -ENOSPC, or -EIO when OpenSSL fails.
 */
int wxpay_rsa_sign(const struct wxpay_privkey *k, const void *msg, size_t len, char *out,
                   size_t cap);

/*
 * Checks a base64 SHA256withRSA signature sig[0..sig_len) of msg[0..len).
 * Returns 0 when it verifies, -EBADMSG when sig is not strict base64 of the
 * key's length, -EACCES when it does not verify.
 */
int wxpay_rsa_verify(const struct wxpay_pubkey *k, const void *msg, size_t len, const char *sig,
                     size_t sig_len);

/*
 * AEAD_AES_256_GCM: decrypts ct[0..ct_len), whose last WXPAY_AEAD_TAG_LEN
 * bytes are the tag, with key, a WXPAY_AEAD_NONCE_LEN-byte nonce and the
 * associated data ad[0..ad_len), into out (at least ct_len bytes). Returns 0
 * and the plaintext's length in *ret_len, -EBADMSG when ct is shorter than a
 * tag or the nonce has another length, -EACCES when the tag does not match
 * (out then holds nothing: it is wiped), or -EIO.
 */
int wxpay_aead_decrypt(const uint8_t key[WXPAY_AEAD_KEY_LEN], const void *nonce, size_t nonce_len,
                       const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out,
                       size_t *ret_len);

/* Fills buf with len random bytes. Returns 0 or -EIO. */
int wxpay_random(void *buf, size_t len);

#endif
