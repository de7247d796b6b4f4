/*
 * What both daemons derive from a device secret, and the signature on acks
 * and commands (common/wire/sign.h): the bytes pinned against values
 * computed apart from this code (Python's hashlib.blake2b on the construction
 * docs/protocol.md gives), a signature accepted only with its key and topic,
 * and every altered, unsigned or oddly spelled payload refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sign.h"

#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HASH   "d7f3fd7fdcc9f16177046430cdabd6d0a4026cf9dba60070156fe4ace3a7bfad"
#define TOPIC  "meters/m-1/ack"
#define ACK    "{\"seqs\":[[1,5]]}"
#define SIGNED                                                                                     \
    "{\"seqs\":[[1,5]],\"sig\":"                                                                   \
    "\"ec51f66bff9e448ec3f2b3e899e0416d80bd4b504f2fd4b282334207b01db54b\"}"

static int setup(void **state)
{
    (void)state;
    return sign_init();
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t k = 0; k < n; k++)
        snprintf(out + 2 * k, 3, "%02x", b[k]);
}

static void test_derivations_match_the_documented_construction(void **state)
{
    (void)state;
    uint8_t h[SIGN_HASH_LEN], parsed[SIGN_HASH_LEN];
    char text[2 * SIGN_HASH_LEN + 1];
    sign_secret_hash(SECRET, strlen(SECRET), h);
    hex(h, sizeof(h), text);
    assert_string_equal(text, HASH);
    assert_int_equal(sign_hash_parse(HASH, parsed), 0);
    assert_memory_equal(parsed, h, sizeof(h));

    char pw[SIGN_PASSWORD_HEX + 1], check[SIGN_CHECK_HEX + 1];
    sign_broker_password(h, pw);
    assert_string_equal(pw, "48c233196de93c8585d00a8015d4fd3fd004785f69f3c1ef743006925a4ef979");
    sign_broker_password_check(h, check);
    assert_string_equal(check, "37b9bd7cb2e46222bdf93ae78a335f2b");

    struct sign_key k, k2;
    sign_key_derive(h, &k);
    hex(k.bytes, sizeof(k.bytes), text);
    assert_string_equal(text, "8c075a97303f7def1cbb28b330820eb0dd011b5385f6488fabe99ffb430ac762");
    assert_int_equal(sign_key_from_hex(HASH, &k2), 0);
    assert_memory_equal(k2.bytes, k.bytes, sizeof(k.bytes));
    sign_key_wipe(&k2);
    assert_int_equal(k2.bytes[0] | k2.bytes[31], 0);
}

static void test_a_stored_hash_must_be_64_hex_characters(void **state)
{
    (void)state;
    uint8_t h[SIGN_HASH_LEN];
    struct sign_key k;
    assert_int_equal(sign_hash_parse("", h), -EINVAL);
    assert_int_equal(sign_hash_parse(HASH "0", h), -EINVAL);
    assert_int_equal(
        sign_hash_parse("x7f3fd7fdcc9f16177046430cdabd6d0a4026cf9dba60070156fe4ace3a7bfad", h),
        -EINVAL);
    assert_int_equal(sign_key_from_hex("not a hash", &k), -EINVAL);
    assert_int_equal(
        sign_hash_parse("D7F3FD7FDCC9F16177046430CDABD6D0A4026CF9DBA60070156FE4ACE3A7BFAD", h), 0);
}

static struct sign_key key_of(const char *secret)
{
    struct sign_key k;
    sign_key_from_secret(secret, strlen(secret), &k);
    return k;
}

static void test_a_signed_payload_is_the_documented_bytes_and_checks(void **state)
{
    (void)state;
    struct sign_key k = key_of(SECRET);
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    assert_int_equal(dynbuf_addstr(&b, ACK), 0);
    assert_int_equal(sign_payload(&k, TOPIC, &b), 0);
    assert_string_equal(dynbuf_str(&b), SIGNED);
    assert_int_equal(b.len, strlen(ACK) + SIGN_TAIL_LEN - 1);
    assert_int_equal(sign_check(&k, TOPIC, b.buf, b.len), 0);
    dynbuf_free(&b);
}

static void test_only_the_right_key_and_topic_check(void **state)
{
    (void)state;
    struct sign_key k = key_of(SECRET);
    /* Another device's key (another secret, as a second server's database would hold). */
    struct sign_key other = key_of("another secret");
    assert_int_equal(sign_check(&other, TOPIC, SIGNED, strlen(SIGNED)), -EACCES);
    /* The same bytes moved to another device's topic, or from ack to cmd. */
    assert_int_equal(sign_check(&k, "meters/m-2/ack", SIGNED, strlen(SIGNED)), -EACCES);
    assert_int_equal(sign_check(&k, "meters/m-1/cmd", SIGNED, strlen(SIGNED)), -EACCES);
    /* Every single byte of the signed part changed. */
    char p[sizeof(SIGNED)];
    for (size_t i = 0; i < strlen(SIGNED) - SIGN_TAIL_LEN; i++) {
        memcpy(p, SIGNED, sizeof(p));
        p[i] ^= 0x01;
        int r = sign_check(&k, TOPIC, p, strlen(SIGNED));
        if (r != -EACCES && r != -EBADMSG)
            fail_msg("byte %zu changed: %d", i, r);
    }
    /* A signature digit changed. */
    memcpy(p, SIGNED, sizeof(p));
    p[strlen(SIGNED) - 3] = p[strlen(SIGNED) - 3] == '0' ? '1' : '0';
    assert_int_equal(sign_check(&k, TOPIC, p, strlen(SIGNED)), -EACCES);
}

static void test_unsigned_and_misspelled_payloads_are_refused(void **state)
{
    (void)state;
    struct sign_key k = key_of(SECRET);
    static const char *const bad[] = {
        "",
        ACK,
        "{\"seqs\":[[1,5]],\"sig\":\"\"}",
        /* upper-case hex: one spelling per signature */
        "{\"seqs\":[[1,5]],\"sig\":"
        "\"EC51F66BFF9E448EC3F2B3E899E0416D80BD4B504F2FD4B282334207B01DB54B\"}",
        /* not the last member */
        "{\"sig\":\"ec51f66bff9e448ec3f2b3e899e0416d80bd4b504f2fd4b282334207b01db54b\","
        "\"seqs\":[[1,5]]}",
        /* whitespace around it */
        "{\"seqs\":[[1,5]], \"sig\":"
        "\"ec51f66bff9e448ec3f2b3e899e0416d80bd4b504f2fd4b282334207b01db54b\"}",
        SIGNED " ",
        SIGNED "\n",
        /* a signature alone */
        "{,\"sig\":\"ec51f66bff9e448ec3f2b3e899e0416d80bd4b504f2fd4b282334207b01db54b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = sign_check(&k, TOPIC, bad[i], strlen(bad[i]));
        if (r == 0)
            fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(sign_check(&k, TOPIC, ACK, strlen(ACK)), -EBADMSG);
}

static void test_only_an_object_with_members_is_signed(void **state)
{
    (void)state;
    struct sign_key k = key_of(SECRET);
    static const char *const bad[] = {"", "{}", "[1]", "{\"a\":1} ", "{\"a\":1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dynbuf b;
        dynbuf_init(&b, 4096);
        assert_int_equal(dynbuf_addstr(&b, bad[i]), 0);
        assert_int_equal(sign_payload(&k, TOPIC, &b), -EINVAL);
        assert_string_equal(dynbuf_str(&b), bad[i]); /* untouched */
        dynbuf_free(&b);
    }
    /* No room for the signature under the buffer's cap: refused, untouched. */
    struct dynbuf b;
    dynbuf_init(&b, strlen(ACK) + 10);
    assert_int_equal(dynbuf_addstr(&b, ACK), 0);
    assert_int_equal(sign_payload(&k, TOPIC, &b), -E2BIG);
    assert_string_equal(dynbuf_str(&b), ACK);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derivations_match_the_documented_construction),
        cmocka_unit_test(test_a_stored_hash_must_be_64_hex_characters),
        cmocka_unit_test(test_a_signed_payload_is_the_documented_bytes_and_checks),
        cmocka_unit_test(test_only_the_right_key_and_topic_check),
        cmocka_unit_test(test_unsigned_and_misspelled_payloads_are_refused),
        cmocka_unit_test(test_only_an_object_with_members_is_signed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
