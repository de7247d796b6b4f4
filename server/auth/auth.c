#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <sodium.h>

#include "fileutil.h"
#include "sign.h"

/* Interactive limits: about 64 MiB and tens of ms per hash on a server core. */
#define PW_OPSLIMIT crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE

_Static_assert(crypto_pwhash_argon2id_STRBYTES <= PASSWORD_HASH_MAX + 1, "hash fits");

static char burn_hash[crypto_pwhash_argon2id_STRBYTES];

int auth_init(void)
{
    if (sodium_init() < 0)
        return -EIO;
    /* The hash auth_password_burn verifies against; computed once. */
    if (!burn_hash[0] && crypto_pwhash_argon2id_str(burn_hash, "burn", 4, PW_OPSLIMIT, PW_MEMLIMIT))
        return -ENOMEM;
    return 0;
}

int auth_password_hash(const char *password, char out[PASSWORD_HASH_MAX + 1])
{
    size_t n = strlen(password);
    if (n > AUTH_PASSWORD_MAX)
        return -EINVAL;
    if (crypto_pwhash_argon2id_str(out, password, n, PW_OPSLIMIT, PW_MEMLIMIT))
        return -ENOMEM;
    return 0;
}

bool auth_password_verify(const char *hash, const char *password)
{
    size_t n = strlen(password);
    if (n > AUTH_PASSWORD_MAX || strncmp(hash, "$argon2id$", 10) != 0)
        return false;
    return crypto_pwhash_argon2id_str_verify(hash, password, n) == 0;
}

void auth_password_burn(const char *password)
{
    size_t n = strlen(password);
    if (n > AUTH_PASSWORD_MAX)
        n = AUTH_PASSWORD_MAX;
    int r = crypto_pwhash_argon2id_str_verify(burn_hash, password, n);
    (void)r; /* the answer is known to be "no": only the time matters */
}

void auth_device_secret_hash(const char *secret, char hash[SECRET_HASH_LEN + 1])
{
    /* The meter computes the same hash from its secret file: one definition, in the wire. */
    uint8_t h[SIGN_HASH_LEN];
    sign_secret_hash(secret, strlen(secret), h);
    sodium_bin2hex(hash, SECRET_HASH_LEN + 1, h, sizeof(h));
}

int auth_device_secret_new(char secret[AUTH_DEVICE_SECRET_LEN + 1], char hash[SECRET_HASH_LEN + 1])
{
    unsigned char raw[AUTH_DEVICE_SECRET_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(secret, AUTH_DEVICE_SECRET_LEN + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    auth_device_secret_hash(secret, hash);
    return 0;
}

bool auth_device_secret_verify(const char *stored_hash, const char *presented)
{
    char h[SECRET_HASH_LEN + 1];
    if (strlen(presented) > 256 || strlen(stored_hash) != SECRET_HASH_LEN)
        return false;
    auth_device_secret_hash(presented, h);
    return sodium_memcmp(h, stored_hash, SECRET_HASH_LEN) == 0;
}

bool auth_token_current(const struct auth_claims *claims, const struct user_rec *user,
                        const char **why)
{
    /* The account was made after the token: not the account the token was for. */
    if (claims->issued_ms < user->created_ms) {
        *why = "the account of this token no longer exists";
        return false;
    }
    if (claims->issued_ms <= user->tokens_valid_after_ms) {
        *why = "token revoked; log in again";
        return false;
    }
    if (user->disabled) {
        *why = "account disabled";
        return false;
    }
    return true;
}

void auth_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int auth_key_load(const char *path, struct auth_key *ret, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int r = file_read_secret("JWT secret file", path, AUTH_JWT_SECRET_MAX + 2, &data, &len, err,
                             errlen);
    if (r)
        return r;
    if (len > 0 && data[len - 1] == '\n')
        len--;
    if (len > 0 && data[len - 1] == '\r')
        len--;
    if (len < AUTH_JWT_SECRET_MIN || len > AUTH_JWT_SECRET_MAX) {
        snprintf(err, errlen, "JWT secret file %s: the secret must be %d to %d bytes (it has %zu)",
                 path, AUTH_JWT_SECRET_MIN, AUTH_JWT_SECRET_MAX, len);
        sodium_memzero(data, len);
        free(data);
        return -EINVAL;
    }
    memcpy(ret->bytes, data, len);
    ret->len = len;
    sodium_memzero(data, len);
    free(data);
    return 0;
}

int64_t auth_token_issue_time(const struct user_rec *user, int64_t now_ms)
{
    int64_t t = now_ms;
    if (t <= user->tokens_valid_after_ms)
        t = user->tokens_valid_after_ms + 1;
    if (t < user->created_ms)
        t = user->created_ms;
    return t;
}

int auth_token_issue(const struct auth_key *key, const struct user_rec *user, int64_t issued_ms,
                     int64_t ttl_s, char **ret_token)
{
    jwt_t *jwt = NULL;
    char sub[24];
    int r = -ENOMEM;
    int64_t now_s = issued_ms / 1000;

    snprintf(sub, sizeof(sub), "%" PRId64, user->id);
    if (jwt_new(&jwt))
        return -ENOMEM;
    if (jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "name", user->username) ||
        jwt_add_grant(jwt, "role", role_name(user->role)) ||
        jwt_add_grant_int(jwt, "iat", (long)now_s) ||
        jwt_add_grant_int(jwt, "iat_ms", (long)issued_ms) ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, key->bytes, (int)key->len))
        goto out;
    char *token = jwt_encode_str(jwt);
    if (!token)
        goto out;
    *ret_token = token;
    r = 0;
out:
    jwt_free(jwt);
    return r;
}

static bool all_digits(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int auth_token_verify(const struct auth_key *key, const char *token, int64_t now_s,
                      struct auth_claims *ret, const char **why)
{
    jwt_t *jwt = NULL;
    int r = -EACCES;

    if (strlen(token) > AUTH_TOKEN_MAX) {
        *why = "token too long";
        return -EACCES;
    }
    /* A token whose header names another algorithm is refused below, whatever it decodes to. */
    if (jwt_decode(&jwt, token, key->bytes, (int)key->len) || !jwt) {
        *why = "invalid token";
        return -EACCES;
    }
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        *why = "token algorithm must be HS256";
        goto out;
    }
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno || exp <= 0) {
        *why = "token has no expiry";
        goto out;
    }
    if (now_s >= exp) {
        *why = "token expired";
        goto out;
    }
    errno = 0;
    long iat = jwt_get_grant_int(jwt, "iat");
    if (errno || iat <= 0 || iat > now_s + 300) {
        *why = "token has a bad issue time";
        goto out;
    }
    const char *sub = jwt_get_grant(jwt, "sub");
    if (!all_digits(sub)) {
        *why = "token has no subject";
        goto out;
    }
    /* Optional (tokens of earlier releases lack it), but when there it must agree with iat. */
    errno = 0;
    long iat_ms = jwt_get_grant_int(jwt, "iat_ms");
    bool has_ms = errno == 0;
    if ((errno && errno != ENOENT) || (has_ms && (iat_ms < 0 || iat_ms / 1000 != iat))) {
        *why = "token has a bad issue time";
        goto out;
    }
    ret->user_id = strtoll(sub, NULL, 10);
    ret->issued_s = iat;
    ret->issued_ms = has_ms ? (int64_t)iat_ms : (int64_t)iat * 1000;
    ret->expires_s = exp;
    r = 0;
out:
    jwt_free(jwt);
    return r;
}
