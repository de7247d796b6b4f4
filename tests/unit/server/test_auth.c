/* Passwords, device secrets and the token checks libjwt 1.10 leaves to us. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>

#include "auth.h"

static struct auth_key key;
static struct user_rec user = {.id = 42, .username = "alice", .role = ROLE_OPERATOR};
#define NOW 1767225600

static int setup(void **state)
{
    (void)state;
    if (auth_init())
        return -1;
    memset(&key, 0, sizeof(key));
    memcpy(key.bytes, "0123456789abcdef0123456789abcdef!", 33);
    key.len = 33;
    return 0;
}

static void test_passwords_verify_only_with_the_right_password(void **state)
{
    (void)state;
    char hash[PASSWORD_HASH_MAX + 1], hash2[PASSWORD_HASH_MAX + 1];
    assert_int_equal(auth_password_hash("correct horse", hash), 0);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    assert_true(auth_password_verify(hash, "correct horse"));
    assert_false(auth_password_verify(hash, "correct horsE"));
    assert_false(auth_password_verify(hash, ""));
    assert_false(auth_password_verify("plaintext", "plaintext"));
    assert_int_equal(auth_password_hash("correct horse", hash2), 0);
    assert_string_not_equal(hash, hash2); /* salted */
    auth_password_burn("whatever");
}

static void test_device_secrets_are_random_and_stored_hashed(void **state)
{
    (void)state;
    char s1[AUTH_DEVICE_SECRET_LEN + 1], h1[SECRET_HASH_LEN + 1];
    char s2[AUTH_DEVICE_SECRET_LEN + 1], h2[SECRET_HASH_LEN + 1];
    auth_device_secret_new(s1, h1);
    auth_device_secret_new(s2, h2);
    assert_int_equal(strlen(s1), 64);
    assert_int_equal(strlen(h1), 64);
    assert_string_not_equal(s1, s2);
    assert_string_not_equal(s1, h1);
    assert_true(auth_device_secret_verify(h1, s1));
    assert_false(auth_device_secret_verify(h1, s2));
    assert_false(auth_device_secret_verify(h1, ""));
    assert_false(auth_device_secret_verify("short", s1));
}

static void test_issued_tokens_verify_with_their_claims(void **state)
{
    (void)state;
    char *token = NULL;
    struct auth_claims c;
    const char *why = NULL;
    assert_int_equal(auth_token_issue(&key, &user, NOW * 1000LL, 3600, &token), 0);
    assert_int_equal(auth_token_verify(&key, token, NOW + 10, &c, &why), 0);
    assert_int_equal(c.user_id, 42);
    assert_int_equal(c.issued_s, NOW);
    assert_int_equal(c.issued_ms, NOW * 1000LL);
    assert_int_equal(c.expires_s, NOW + 3600);
    free(token);
}

static void test_expired_tokens_are_refused(void **state)
{
    (void)state;
    char *token = NULL;
    struct auth_claims c;
    const char *why = NULL;
    assert_int_equal(auth_token_issue(&key, &user, NOW * 1000LL, 60, &token), 0);
    assert_int_equal(auth_token_verify(&key, token, NOW + 60, &c, &why), -EACCES);
    assert_string_equal(why, "token expired");
    free(token);
}

/* Signs claims with libjwt directly, as an attacker or another system might. */
static char *forge(jwt_alg_t alg, const unsigned char *k, int klen, const char *claims_json)
{
    jwt_t *jwt;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims_json), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, k, klen), 0);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(t);
    return t;
}

static void test_only_hs256_is_accepted(void **state)
{
    (void)state;
    struct auth_claims c;
    const char *why = NULL;
    const char *claims = "{\"sub\":\"42\",\"iat\":1767225600,\"exp\":1767229200}";
    char *t = forge(JWT_ALG_HS512, key.bytes, (int)key.len, claims);
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    free(t);
    t = forge(JWT_ALG_HS384, key.bytes, (int)key.len, claims);
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    free(t);
    t = forge(JWT_ALG_NONE, NULL, 0, claims);
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    free(t);
    /* and the same claims properly signed pass, so the refusals above are about the algorithm */
    t = forge(JWT_ALG_HS256, key.bytes, (int)key.len, claims);
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), 0);
    free(t);
}

static void test_tokens_without_expiry_or_subject_are_refused(void **state)
{
    (void)state;
    struct auth_claims c;
    const char *why = NULL;
    char *t = forge(JWT_ALG_HS256, key.bytes, (int)key.len, "{\"sub\":\"42\",\"iat\":1767225600}");
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    assert_string_equal(why, "token has no expiry");
    free(t);
    t = forge(JWT_ALG_HS256, key.bytes, (int)key.len, "{\"iat\":1767225600,\"exp\":1767229200}");
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    free(t);
    t = forge(JWT_ALG_HS256, key.bytes, (int)key.len,
              "{\"sub\":\"42\",\"iat\":1767225600,\"exp\":\"never\"}");
    assert_int_equal(auth_token_verify(&key, t, NOW + 1, &c, &why), -EACCES);
    free(t);
}

static void test_tampered_or_foreign_tokens_are_refused(void **state)
{
    (void)state;
    struct auth_claims c;
    const char *why = NULL;
    char *token = NULL;
    assert_int_equal(auth_token_issue(&key, &user, NOW * 1000LL, 3600, &token), 0);
    /* flip one character of the payload */
    char *dot = strchr(token, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_token_verify(&key, token, NOW + 1, &c, &why), -EACCES);
    free(token);

    struct auth_key other = key;
    other.bytes[0] ^= 1;
    assert_int_equal(auth_token_issue(&other, &user, NOW * 1000LL, 3600, &token), 0);
    assert_int_equal(auth_token_verify(&key, token, NOW + 1, &c, &why), -EACCES);
    free(token);
    assert_int_equal(auth_token_verify(&key, "garbage", NOW, &c, &why), -EACCES);
    assert_int_equal(auth_token_verify(&key, "", NOW, &c, &why), -EACCES);
}

static void test_secret_files_must_hold_32_bytes(void **state)
{
    (void)state;
    char path[] = "/tmp/test_auth_key_XXXXXX";
    int fd = mkstemp(path);
    struct auth_key k;
    char err[256];
    assert_int_equal(write(fd, "short\n", 6), 6);
    assert_int_equal(auth_key_load(path, &k, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "32"));
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "0123456789abcdef0123456789abcdef\n", 33, 0), 33);
    close(fd);
    assert_int_equal(auth_key_load(path, &k, err, sizeof(err)), 0);
    assert_int_equal(k.len, 32);
    unlink(path);
    assert_true(auth_key_load(path, &k, err, sizeof(err)) < 0);
}

static void test_a_token_speaks_only_for_the_account_it_was_issued_to(void **state)
{
    (void)state;
    struct user_rec u = {.id = 5, .created_ms = NOW * 1000LL - 60000};
    struct auth_claims c = {.user_id = 5, .issued_s = NOW, .issued_ms = NOW * 1000LL + 250};
    const char *why = NULL;
    assert_true(auth_token_current(&c, &u, &why));
    /* A newer account with the same id (a deleted account's id handed out again). */
    u.created_ms = NOW * 1000LL + 251;
    assert_false(auth_token_current(&c, &u, &why));
    assert_string_equal(why, "the account of this token no longer exists");
    u.created_ms = NOW * 1000LL + 250;
    assert_true(auth_token_current(&c, &u, &why));
    /* Revoked up to and including its millisecond; the next one is fine. */
    u.tokens_valid_after_ms = NOW * 1000LL + 250;
    assert_false(auth_token_current(&c, &u, &why));
    assert_string_equal(why, "token revoked; log in again");
    u.tokens_valid_after_ms = NOW * 1000LL + 249;
    assert_true(auth_token_current(&c, &u, &why));
    u.disabled = true;
    assert_false(auth_token_current(&c, &u, &why));
    assert_string_equal(why, "account disabled");
}

static void test_a_new_token_comes_after_the_last_revocation(void **state)
{
    (void)state;
    struct user_rec u = {.id = 5, .created_ms = 1000, .tokens_valid_after_ms = 5000};
    assert_int_equal(auth_token_issue_time(&u, 4000), 5001);
    assert_int_equal(auth_token_issue_time(&u, 5000), 5001);
    assert_int_equal(auth_token_issue_time(&u, 7000), 7000);
    u.tokens_valid_after_ms = 0;
    assert_int_equal(auth_token_issue_time(&u, 900), 1000);

    char *token = NULL;
    struct auth_claims c;
    const char *why = NULL;
    assert_int_equal(
        auth_token_issue(&key, &u, auth_token_issue_time(&u, NOW * 1000LL + 7), 60, &token), 0);
    assert_int_equal(auth_token_verify(&key, token, NOW, &c, &why), 0);
    assert_int_equal(c.issued_ms, NOW * 1000LL + 7);
    u.tokens_valid_after_ms = NOW * 1000LL + 7;
    assert_false(auth_token_current(&c, &u, &why));
    free(token);
}

static void test_a_key_file_others_may_read_is_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/test_auth_key_XXXXXX";
    int fd = mkstemp(path);
    struct auth_key k;
    char err[512];
    assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef\n", 33), 33);
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(auth_key_load(path, &k, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "JWT secret file"));
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(auth_key_load(path, &k, err, sizeof(err)), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwords_verify_only_with_the_right_password),
        cmocka_unit_test(test_device_secrets_are_random_and_stored_hashed),
        cmocka_unit_test(test_issued_tokens_verify_with_their_claims),
        cmocka_unit_test(test_expired_tokens_are_refused),
        cmocka_unit_test(test_only_hs256_is_accepted),
        cmocka_unit_test(test_tokens_without_expiry_or_subject_are_refused),
        cmocka_unit_test(test_tampered_or_foreign_tokens_are_refused),
        cmocka_unit_test(test_secret_files_must_hold_32_bytes),
        cmocka_unit_test(test_a_token_speaks_only_for_the_account_it_was_issued_to),
        cmocka_unit_test(test_a_new_token_comes_after_the_last_revocation),
        cmocka_unit_test(test_a_key_file_others_may_read_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
