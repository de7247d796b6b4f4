/*
 * sign: what both daemons derive from a device's secret, and the signature
 * the server puts on what it sends a meter (acks and commands), docs/protocol.md
 * "Signed acks and commands". The only wire file that includes sodium.h.
 *
 * From the secret `meter-server device add` prints (its text, as the meter
 * reads it from --secret-file):
 *
 *   H        = BLAKE2b-256(secret)                  what the server stores (hex)
 *   password = hex(BLAKE2b-256(key H, "smartmeter mqtt password v1"))
 *   K        = BLAKE2b-256(key H, "smartmeter signing key v1")
 *   check    = hex(BLAKE2b-128(key H, "smartmeter mqtt password check v1"))
 *   KL       = BLAKE2b-256(key H, "smartmeter link key v1")     the terminal link's key
 *
 * so the server derives everything from its database alone (which is
 * therefore as secret as the devices' credentials), and the meter from its
 * secret. A signed payload is a JSON object whose last member is
 * "sig":"<64 lowercase hex>", the keyed BLAKE2b-256 (key K) of
 *
 *   topic, one zero byte, the payload with that member removed
 *
 * where "removed" means exactly: the payload's last SIGN_TAIL_LEN bytes,
 * `,"sig":"<hex>"}`, replaced by `}`. No JSON canonicalisation is involved:
 * the bytes are those sent.
 *
 * Pure: no I/O, no logging, nothing allocated but through the caller's
 * dynbuf. Call sign_init() once before anything else here.
 */
#ifndef SMARTMETER_WIRE_SIGN_H
#define SMARTMETER_WIRE_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define SIGN_HASH_LEN     32  /* H, bytes (the database holds its 64 hex characters) */
#define SIGN_KEY_LEN      32  /* K */
#define SIGN_MAC_HEX      64  /* the signature's hex characters */
#define SIGN_PASSWORD_HEX 64  /* the broker password's hex characters */
#define SIGN_CHECK_HEX    32  /* the password check's hex characters */
#define SIGN_SECRET_MAX   256 /* longest secret read */
/* `,"sig":"` + 64 hex + `"}` */
#define SIGN_TAIL_LEN (sizeof(",\"sig\":\"") - 1 + SIGN_MAC_HEX + 2)

struct sign_key {
    uint8_t bytes[SIGN_KEY_LEN];
};

/* Initialises libsodium (idempotent, thread-safe). Returns 0 or -EIO. */
int sign_init(void);

/* H of a secret's len bytes of text. */
void sign_secret_hash(const char *secret, size_t len, uint8_t ret[SIGN_HASH_LEN]);

/* H from its 64 hex characters (either case). Returns 0 or -EINVAL (ret untouched). */
int sign_hash_parse(const char *hex, uint8_t ret[SIGN_HASH_LEN]);

/* The device's broker password (the MQTT user name is its device id). */
void sign_broker_password(const uint8_t hash[SIGN_HASH_LEN], char ret[SIGN_PASSWORD_HEX + 1]);

/*
 * A short value that changes with the password and reveals nothing of it:
 * the server keeps it beside the broker account to tell a stale password.
 */
void sign_broker_password_check(const uint8_t hash[SIGN_HASH_LEN], char ret[SIGN_CHECK_HEX + 1]);

/* K, the key acks and commands to the device are signed with. */
void sign_key_derive(const uint8_t hash[SIGN_HASH_LEN], struct sign_key *ret);

/* K from a secret's len bytes of text (what the meter holds). */
void sign_key_from_secret(const char *secret, size_t len, struct sign_key *ret);

/* K from a stored secret hash in hex. Returns 0 or -EINVAL (a malformed hash). */
int sign_key_from_hex(const char *hash_hex, struct sign_key *ret);

/*
 * Signs the JSON object in payload for topic: its closing '}' becomes
 * `,"sig":"<hex>"}`. The object must hold at least one member and end in '}'
 * with nothing after it (what our encoders write). Returns 0, -EINVAL (not
 * such an object; payload untouched) or the dynbuf's error.
 */
int sign_payload(const struct sign_key *key, const char *topic, struct dynbuf *payload);

/*
 * Checks payload[0..len) received on topic. Returns 0 when its last member is
 * a signature that key made for topic; -EBADMSG when it carries none (or a
 * malformed one); -EACCES when the signature is not the right one.
 */
int sign_check(const struct sign_key *key, const char *topic, const void *payload, size_t len);

/* Wipes a key. */
void sign_key_wipe(struct sign_key *key);

/*
 * The terminal link (link.h, docs/terminal-protocol.md). With Nc and Ns the
 * client's and the server's nonces of one connection:
 *
 *   client proof = BLAKE2b-256(key KL, "smartmeter link client v1" || Nc || Ns)
 *   server proof = BLAKE2b-256(key KL, "smartmeter link server v1" || Nc || Ns || extra)
 *   K_c2s        = BLAKE2b-256(key KL, "smartmeter link c2s v1" || Nc || Ns)
 *   K_s2c        = BLAKE2b-256(key KL, "smartmeter link s2c v1" || Nc || Ns)
 *   frame MAC    = BLAKE2b-128(key K_c2s or K_s2c, the frame's bytes before it)
 */
#define SIGN_LINK_NONCE_LEN 16
#define SIGN_LINK_PROOF_LEN 32
#define SIGN_LINK_MAC_LEN   16

/* KL, the link key, from H. */
void sign_link_key(const uint8_t hash[SIGN_HASH_LEN], struct sign_key *ret);

/* A proof of holding KL: the client's (extra must be empty) or the server's. */
void sign_link_proof(const struct sign_key *kl, bool server, const uint8_t nc[SIGN_LINK_NONCE_LEN],
                     const uint8_t ns[SIGN_LINK_NONCE_LEN], const void *extra, size_t extra_len,
                     uint8_t ret[SIGN_LINK_PROOF_LEN]);

/* The session's two keys, one per direction. */
void sign_link_session(const struct sign_key *kl, const uint8_t nc[SIGN_LINK_NONCE_LEN],
                       const uint8_t ns[SIGN_LINK_NONCE_LEN], struct sign_key *ret_c2s,
                       struct sign_key *ret_s2c);

/* A frame's MAC: keyed BLAKE2b-128 of data[0..len). */
void sign_link_mac(const struct sign_key *k, const void *data, size_t len,
                   uint8_t ret[SIGN_LINK_MAC_LEN]);

/* Whether a[0..len) equals b[0..len), in time independent of the contents. */
bool sign_equal(const void *a, const void *b, size_t len);

/* len bytes from the system's cryptographic random source (nonces). */
void sign_random(void *buf, size_t len);

#endif
