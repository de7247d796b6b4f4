/*
 * The meter's check of the server's signature (common/wire/sign.c,
 * sign_check) on an ack or a command payload, and the signer the server uses
 * (sign_payload).
 *
 * The input is split at its first NUL into a topic and a payload, as MQTT
 * hands them over. Checks: sign_check() answers only 0, -EBADMSG or -EACCES;
 * it accepts no input under a key that did not sign it (the harness's key
 * signs nothing it is fed); whatever sign_payload() accepts then checks under
 * its key and topic and under no other topic, and changing any byte of the
 * signed payload makes the check fail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "fuzz.h"
#include "sign.h"

static struct sign_key key, other;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sign_init())
        abort();
    sign_key_from_secret("fuzz secret one", 15, &key);
    sign_key_from_secret("fuzz secret two", 15, &other);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - data) : 0;
    char topic[256];
    if (tlen >= sizeof(topic))
        return 0;
    memcpy(topic, data, tlen);
    topic[tlen] = '\0';
    const uint8_t *payload = nul ? nul + 1 : data;
    size_t plen = nul ? size - tlen - 1 : size;

    /* Nobody signed the input with this key: a random 256-bit tag never matches. */
    int r = sign_check(&key, topic, payload, plen);
    FUZZ_CHECK(r == -EBADMSG || r == -EACCES);

    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    if (dynbuf_add(&b, payload, plen) == 0 && sign_payload(&key, topic, &b) == 0) {
        FUZZ_CHECK(b.len == plen + SIGN_TAIL_LEN - 1);
        FUZZ_CHECK(sign_check(&key, topic, b.buf, b.len) == 0);
        FUZZ_CHECK(sign_check(&other, topic, b.buf, b.len) == -EACCES);
        FUZZ_CHECK(sign_check(&key, "meters/other/ack", b.buf, b.len) != 0 ||
                   strcmp(topic, "meters/other/ack") == 0);
        /* One changed byte anywhere (picked from the input) is refused. */
        size_t at = plen ? payload[0] % b.len : 0;
        b.buf[at] ^= 0x01;
        FUZZ_CHECK(sign_check(&key, topic, b.buf, b.len) != 0);
    }
    dynbuf_free(&b);
    return 0;
}
