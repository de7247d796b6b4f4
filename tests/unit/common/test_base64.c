/* base64: RFC 4648 test vectors, strict decoding, and round trips of every length. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct {
    const char *plain, *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_encodes_the_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
        char out[16];
        size_t len = strlen(vectors[k].plain);
        assert_int_equal(base64_encoded_len(len), strlen(vectors[k].encoded));
        base64_encode(vectors[k].plain, len, out);
        assert_string_equal(out, vectors[k].encoded);
    }
}

static void test_decodes_the_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
        char out[16];
        size_t len = 99;
        const char *e = vectors[k].encoded;
        assert_true(base64_decoded_max(strlen(e)) <= sizeof(out));
        assert_int_equal(base64_decode(e, strlen(e), out, &len), 0);
        assert_int_equal(len, strlen(vectors[k].plain));
        assert_memory_equal(out, vectors[k].plain, len);
    }
}

static void test_every_byte_value_and_length_round_trips(void **state)
{
    (void)state;
    unsigned char in[300], back[300];
    char text[401];
    for (size_t k = 0; k < sizeof(in); k++)
        in[k] = (unsigned char)(k * 7 + 3);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t len = 0;
        base64_encode(in, n, text);
        assert_int_equal(strlen(text), base64_encoded_len(n));
        assert_int_equal(base64_decode(text, strlen(text), back, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(back, in, n);
    }
}

static void test_decoding_refuses_anything_but_strict_base64(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg",       /* length not a multiple of 4 */
        "Zg=",      /* likewise */
        "Zm9v\n",   /* whitespace */
        "Zm 9",     /* space inside */
        "Zm9-",     /* URL-safe alphabet */
        "Zm9_",     /* URL-safe alphabet */
        "Z===",     /* three padding characters */
        "=Zm9",     /* padding first */
        "Zg==Zm9v", /* padding before the end */
        "Zh==",     /* unused bits set: not the canonical encoding of "f" */
        "Zm9=",     /* unused bits set: not the canonical encoding of "fo" */
        "Zm\xc3\xa9",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        unsigned char out[16];
        size_t len = 12345;
        assert_int_equal(base64_decode(bad[k], strlen(bad[k]), out, &len), -EINVAL);
        assert_int_equal(len, 12345);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodes_the_rfc4648_vectors),
        cmocka_unit_test(test_decodes_the_rfc4648_vectors),
        cmocka_unit_test(test_every_byte_value_and_length_round_trips),
        cmocka_unit_test(test_decoding_refuses_anything_but_strict_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
