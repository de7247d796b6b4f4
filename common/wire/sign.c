#include "sign.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

/* The labels of the derivations: changing one changes every device's value. */
static const char label_password[] = "smartmeter mqtt password v1";
static const char label_check[] = "smartmeter mqtt password check v1";
static const char label_signing[] = "smartmeter signing key v1";
static const char label_link[] = "smartmeter link key v1";
static const char label_link_client[] = "smartmeter link client v1";
static const char label_link_server[] = "smartmeter link server v1";
static const char label_link_c2s[] = "smartmeter link c2s v1";
static const char label_link_s2c[] = "smartmeter link s2c v1";
static const char tail_head[] = ",\"sig\":\"";

_Static_assert(SIGN_HASH_LEN >= crypto_generichash_KEYBYTES_MIN, "H keys BLAKE2b");
_Static_assert(SIGN_CHECK_HEX / 2 >= crypto_generichash_BYTES_MIN, "BLAKE2b's shortest output");

int sign_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

void sign_secret_hash(const char *secret, size_t len, uint8_t ret[SIGN_HASH_LEN])
{
    crypto_generichash(ret, SIGN_HASH_LEN, (const unsigned char *)secret, len, NULL, 0);
}

/* Exactly 2 * n hex digits (either case) into out[n]: 0 or -EINVAL. */
static int unhex(const char *hex, size_t len, uint8_t *out, size_t n)
{
    size_t got = 0;
    if (len != 2 * n || sodium_hex2bin(out, n, hex, len, NULL, &got, NULL) || got != n)
        return -EINVAL;
    return 0;
}

int sign_hash_parse(const char *hex, uint8_t ret[SIGN_HASH_LEN])
{
    uint8_t out[SIGN_HASH_LEN];
    if (unhex(hex, strlen(hex), out, sizeof(out)))
        return -EINVAL;
    memcpy(ret, out, sizeof(out));
    return 0;
}

/* BLAKE2b of label keyed with H, outlen bytes. */
static void derive(const uint8_t hash[SIGN_HASH_LEN], const char *label, uint8_t *out,
                   size_t outlen)
{
    crypto_generichash(out, outlen, (const unsigned char *)label, strlen(label), hash,
                       SIGN_HASH_LEN);
}

void sign_broker_password(const uint8_t hash[SIGN_HASH_LEN], char ret[SIGN_PASSWORD_HEX + 1])
{
    uint8_t pw[SIGN_PASSWORD_HEX / 2];
    derive(hash, label_password, pw, sizeof(pw));
    sodium_bin2hex(ret, SIGN_PASSWORD_HEX + 1, pw, sizeof(pw));
    sodium_memzero(pw, sizeof(pw));
}

void sign_broker_password_check(const uint8_t hash[SIGN_HASH_LEN], char ret[SIGN_CHECK_HEX + 1])
{
    uint8_t c[SIGN_CHECK_HEX / 2];
    derive(hash, label_check, c, sizeof(c));
    sodium_bin2hex(ret, SIGN_CHECK_HEX + 1, c, sizeof(c));
}

void sign_key_derive(const uint8_t hash[SIGN_HASH_LEN], struct sign_key *ret)
{
    derive(hash, label_signing, ret->bytes, sizeof(ret->bytes));
}

void sign_key_from_secret(const char *secret, size_t len, struct sign_key *ret)
{
    uint8_t h[SIGN_HASH_LEN];
    sign_secret_hash(secret, len, h);
    sign_key_derive(h, ret);
    sodium_memzero(h, sizeof(h));
}

int sign_key_from_hex(const char *hash_hex, struct sign_key *ret)
{
    uint8_t h[SIGN_HASH_LEN];
    if (sign_hash_parse(hash_hex, h))
        return -EINVAL;
    sign_key_derive(h, ret);
    sodium_memzero(h, sizeof(h));
    return 0;
}

/* The MAC over topic, a zero byte, body[0..len) and a closing '}'. */
static void mac(const struct sign_key *key, const char *topic, const void *body, size_t len,
                uint8_t out[SIGN_MAC_HEX / 2])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key->bytes, sizeof(key->bytes), SIGN_MAC_HEX / 2);
    crypto_generichash_update(&st, (const unsigned char *)topic, strlen(topic) + 1);
    crypto_generichash_update(&st, body, len);
    crypto_generichash_update(&st, (const unsigned char *)"}", 1);
    crypto_generichash_final(&st, out, SIGN_MAC_HEX / 2);
}

int sign_payload(const struct sign_key *key, const char *topic, struct dynbuf *payload)
{
    size_t n = payload->len;
    if (n < 3 || payload->buf[0] != '{' || payload->buf[n - 1] != '}' || payload->buf[n - 2] == '{')
        return -EINVAL;
    uint8_t m[SIGN_MAC_HEX / 2];
    char hex[SIGN_MAC_HEX + 1];
    mac(key, topic, payload->buf, n - 1, m);
    sodium_bin2hex(hex, sizeof(hex), m, sizeof(m));
    /* Room first, so a failure leaves the payload as it was. */
    if (SIGN_TAIL_LEN > payload->max || n > payload->max - SIGN_TAIL_LEN)
        return -E2BIG;
    if (!dynbuf_reserve(payload, SIGN_TAIL_LEN))
        return -ENOMEM;
    payload->len = n - 1;
    int r = dynbuf_addstr(payload, tail_head);
    if (!r)
        r = dynbuf_addstr(payload, hex);
    if (!r)
        r = dynbuf_addstr(payload, "\"}");
    return r;
}

int sign_check(const struct sign_key *key, const char *topic, const void *payload, size_t len)
{
    const char *p = payload;
    const size_t head = sizeof(tail_head) - 1;
    if (len < SIGN_TAIL_LEN + 2 || p[0] != '{')
        return -EBADMSG;
    const char *tail = p + len - SIGN_TAIL_LEN;
    if (memcmp(tail, tail_head, head) != 0 || memcmp(tail + head + SIGN_MAC_HEX, "\"}", 2) != 0)
        return -EBADMSG;
    uint8_t got[SIGN_MAC_HEX / 2], want[SIGN_MAC_HEX / 2];
    /* Lower case only: one spelling per signature. */
    for (size_t k = 0; k < SIGN_MAC_HEX; k++)
        if (!strchr("0123456789abcdef", tail[head + k]) || !tail[head + k])
            return -EBADMSG;
    if (unhex(tail + head, SIGN_MAC_HEX, got, sizeof(got)))
        return -EBADMSG;
    mac(key, topic, p, len - SIGN_TAIL_LEN, want);
    return crypto_verify_32(got, want) == 0 ? 0 : -EACCES;
}

void sign_key_wipe(struct sign_key *key)
{
    sodium_memzero(key, sizeof(*key));
}

/* --- the terminal link ---------------------------------------------------------------------- */

_Static_assert(SIGN_LINK_MAC_LEN >= crypto_generichash_BYTES_MIN, "BLAKE2b's shortest output");

void sign_link_key(const uint8_t hash[SIGN_HASH_LEN], struct sign_key *ret)
{
    derive(hash, label_link, ret->bytes, sizeof(ret->bytes));
}

/* BLAKE2b-256(key kl, label || nc || ns || extra). */
static void link_hash(const struct sign_key *kl, const char *label,
                      const uint8_t nc[SIGN_LINK_NONCE_LEN], const uint8_t ns[SIGN_LINK_NONCE_LEN],
                      const void *extra, size_t extra_len, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, kl->bytes, sizeof(kl->bytes), 32);
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
    crypto_generichash_update(&st, nc, SIGN_LINK_NONCE_LEN);
    crypto_generichash_update(&st, ns, SIGN_LINK_NONCE_LEN);
    if (extra_len)
        crypto_generichash_update(&st, extra, extra_len);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof(st));
}

void sign_link_proof(const struct sign_key *kl, bool server, const uint8_t nc[SIGN_LINK_NONCE_LEN],
                     const uint8_t ns[SIGN_LINK_NONCE_LEN], const void *extra, size_t extra_len,
                     uint8_t ret[SIGN_LINK_PROOF_LEN])
{
    link_hash(kl, server ? label_link_server : label_link_client, nc, ns, extra, extra_len, ret);
}

void sign_link_session(const struct sign_key *kl, const uint8_t nc[SIGN_LINK_NONCE_LEN],
                       const uint8_t ns[SIGN_LINK_NONCE_LEN], struct sign_key *ret_c2s,
                       struct sign_key *ret_s2c)
{
    link_hash(kl, label_link_c2s, nc, ns, NULL, 0, ret_c2s->bytes);
    link_hash(kl, label_link_s2c, nc, ns, NULL, 0, ret_s2c->bytes);
}

void sign_link_mac(const struct sign_key *k, const void *data, size_t len,
                   uint8_t ret[SIGN_LINK_MAC_LEN])
{
    crypto_generichash(ret, SIGN_LINK_MAC_LEN, data, len, k->bytes, sizeof(k->bytes));
}

bool sign_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void sign_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}
