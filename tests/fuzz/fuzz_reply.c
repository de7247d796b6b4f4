/*
 * The server's reply parser (common/wire/command.c, command_reply_parse) on a
 * meters/<id>/reply payload.
 *
 * Checks: an accepted reply has a valid request id and a message that fits;
 * the meter's encoding of that reply (command_reply_encode) parses back to the
 * same reply, unless the message was cut to COMMAND_REPLY_MESSAGE_MAX. A
 * result kept is a JSON object of at most COMMAND_RESULT_MAX bytes, written
 * again the same when a reply carries it.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct command_reply reply, again;
    char err[COMMAND_ERR_LEN];
    if (command_reply_parse(data, size, &reply, err)) {
        FUZZ_CHECK(err[0]);
        return 0;
    }
    FUZZ_CHECK(command_id_valid(reply.id));
    FUZZ_CHECK(strlen(reply.message) <= COMMAND_REPLY_MESSAGE_MAX);
    FUZZ_CHECK(reply.has_message || reply.message[0] == '\0');
    FUZZ_CHECK(reply.has_result || reply.result[0] == '\0');
    if (reply.has_result) {
        size_t n = strlen(reply.result);
        FUZZ_CHECK(n <= COMMAND_RESULT_MAX && reply.result[0] == '{' && reply.result[n - 1] == '}');
        FUZZ_CHECK(fuzz_json_valid(reply.result, n));
        /* the kept text, carried by a reply of its own, is kept the same */
        char wrapped[COMMAND_RESULT_MAX + 96];
        int len = snprintf(wrapped, sizeof(wrapped), "{\"id\":\"%s\",\"status\":\"ok\",\"result\":%s}",
                           reply.id, reply.result);
        FUZZ_CHECK(len > 0 && (size_t)len < sizeof(wrapped));
        FUZZ_CHECK(command_reply_parse(wrapped, (size_t)len, &again, err) == 0);
        FUZZ_CHECK(again.has_result && strcmp(again.result, reply.result) == 0);
    }
    if (strlen(reply.message) == COMMAND_REPLY_MESSAGE_MAX)
        return 0;

    struct command c = {0};
    struct dynbuf b;
    memcpy(c.id, reply.id, strlen(reply.id) + 1);
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    FUZZ_CHECK(command_reply_encode(&c, reply.ok, reply.has_message ? reply.message : NULL,
                                    FUZZ_NOW_MS, &b) == 0);
    FUZZ_CHECK(command_reply_parse(b.buf, b.len, &again, err) == 0);
    FUZZ_CHECK(strcmp(again.id, reply.id) == 0 && again.ok == reply.ok);
    FUZZ_CHECK(again.has_message == reply.has_message && strcmp(again.message, reply.message) == 0);
    dynbuf_free(&b);
    return 0;
}
