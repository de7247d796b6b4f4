/*
 * auth: passwords, device secrets and session tokens. The only file that
 * includes jwt.h, and besides common/wire/sign.c (the BLAKE2b of device
 * secrets and what derives from them, shared with the meter) the only one
 * that includes sodium.h.
 *
 * - Passwords are hashed with Argon2id (libsodium's crypto_pwhash_str).
 * - Device secrets are 256 random bits shown once; we keep a BLAKE2b-256
 *   hash. A slow hash adds nothing for a secret of that entropy and would
 *   make every upload cost tens of milliseconds.
 * - Tokens are HS256 JWTs. libjwt 1.10 verifies a signature with whatever
 *   algorithm the token names and never looks at "exp", so verification pins
 *   HS256 and checks expiry itself. Besides the standard claims a token
 *   carries its issue time in milliseconds ("iat_ms"), so that a revocation
 *   and a new login within the same second tell apart (auth_token_current).
 * Nothing here logs; no function writes a secret anywhere but its out-parameter.
 */
#ifndef SMARTMETER_AUTH_H
#define SMARTMETER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define AUTH_JWT_SECRET_MIN    32
#define AUTH_JWT_SECRET_MAX    4096
#define AUTH_DEVICE_SECRET_LEN 64 /* hex characters */
#define AUTH_TOKEN_MAX         4096
#define AUTH_PASSWORD_MAX      1024

/* Initialises libsodium; call once before anything else here. Returns 0 or -EIO. */
int auth_init(void);

/* Argon2id hash of password into out. Returns 0, -EINVAL (too long) or -ENOMEM. */
int auth_password_hash(const char *password, char out[PASSWORD_HASH_MAX + 1]);
bool auth_password_verify(const char *hash, const char *password);
/* Spends the time of one verification, so unknown users answer as slowly as known ones. */
void auth_password_burn(const char *password);

/* A new device secret (hex) and its hash (hex). */
int auth_device_secret_new(char secret[AUTH_DEVICE_SECRET_LEN + 1], char hash[SECRET_HASH_LEN + 1]);
void auth_device_secret_hash(const char *secret, char hash[SECRET_HASH_LEN + 1]);
/* Constant-time comparison of the presented secret's hash with the stored hash. */
bool auth_device_secret_verify(const char *stored_hash, const char *presented);

struct auth_key {
    unsigned char bytes[AUTH_JWT_SECRET_MAX];
    size_t len;
};

/*
 * Loads the signing key from a file only its owner may read: its bytes, less
 * one trailing newline, at least AUTH_JWT_SECRET_MIN of them. Returns 0 or
 * -errno with err set (-EPERM: the group or others have access to the file).
 */
int auth_key_load(const char *path, struct auth_key *ret, char *err, size_t errlen);

struct auth_claims {
    int64_t user_id;
    int64_t issued_s;
    int64_t issued_ms; /* "iat_ms", or iat * 1000 for a token without it (the earliest it can be) */
    int64_t expires_s;
};

/*
 * Issues a token for user, issued at issued_ms (epoch ms) and valid for ttl_s
 * seconds. *ret_token is freed with free().
 */
int auth_token_issue(const struct auth_key *key, const struct user_rec *user, int64_t issued_ms,
                     int64_t ttl_s, char **ret_token);
/*
 * The issue time a token for user should carry at now_ms: now, but never at
 * or before the account's last revocation, nor before its creation (a clock
 * a millisecond behind must not void a login made just after a logout).
 */
int64_t auth_token_issue_time(const struct user_rec *user, int64_t now_ms);

/*
 * Verifies signature (HS256 only), expiry and the claims we need.
 * Returns 0 and fills ret, or -EACCES with a short reason in why.
 */
int auth_token_verify(const struct auth_key *key, const char *token, int64_t now_s,
                      struct auth_claims *ret, const char **why);

/*
 * Whether a verified token still speaks for user (loaded by its subject):
 * not issued before the account was created (an account that took the id of
 * a deleted one), not revoked (issued at or before tokens_valid_after_ms),
 * the account not disabled. false with a short reason in *why otherwise.
 */
bool auth_token_current(const struct auth_claims *claims, const struct user_rec *user,
                        const char **why);

/* Best-effort wipe of a secret in memory. */
void auth_wipe(void *p, size_t len);

#endif
