/*
 * The meter's command parser (common/wire/command.c, command_parse) on a
 * meters/<id>/cmd payload, at a fixed "now".
 *
 * Checks: a command to run has a known kind, a valid id, fields in range and
 * is not expired; a refused one says why and keeps only a valid id. The
 * server's encoding of a command to run (command_encode) parses back to the
 * same command, and the reply the meter sends either way
 * (command_reply_encode) is JSON the server's reply parser accepts with the
 * same id, outcome and message.
 */
#include <errno.h>
#include <string.h>

#include "command.h"
#include "fuzz.h"
#include "timeutil.h"

static void check_round_trip(const struct command *c)
{
    /* Times the RFC 3339 writer cannot write (before 2000, after 2199) do not come back. */
    if (c->ts_ms < TIME_MIN_VALID_MS || c->ts_ms >= TIME_MAX_VALID_MS)
        return;
    struct dynbuf b;
    struct command again;
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    FUZZ_CHECK(command_encode(c, &b) == 0);
    FUZZ_CHECK(command_parse(b.buf, b.len, FUZZ_NOW_MS, &again) == 0);
    FUZZ_CHECK(again.kind == c->kind && strcmp(again.id, c->id) == 0);
    FUZZ_CHECK(strcmp(again.name, c->name) == 0 && again.ts_ms == c->ts_ms);
    FUZZ_CHECK(again.duration_ms == c->duration_ms);
    dynbuf_free(&b);
}

static void check_reply(const struct command *c, bool ok)
{
    struct dynbuf b;
    struct command_reply reply;
    char err[COMMAND_ERR_LEN];
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    FUZZ_CHECK(command_reply_encode(c, ok, ok ? NULL : c->message, FUZZ_NOW_MS, &b) == 0);
    FUZZ_CHECK(fuzz_json_valid(b.buf, b.len));
    if (c->id[0]) {
        FUZZ_CHECK(command_reply_parse(b.buf, b.len, &reply, err) == 0);
        FUZZ_CHECK(strcmp(reply.id, c->id) == 0 && reply.ok == ok);
        FUZZ_CHECK(reply.has_message == !ok && strcmp(reply.message, ok ? "" : c->message) == 0);
    }
    dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct command c;
    int r = command_parse(data, size, FUZZ_NOW_MS, &c);
    FUZZ_CHECK(c.id[0] == '\0' || command_id_valid(c.id));
    if (r == 0) {
        FUZZ_CHECK(c.kind > COMMAND_INVALID && c.kind < COMMAND__COUNT);
        FUZZ_CHECK(c.id[0] && strcmp(c.name, command_name(c.kind)) == 0);
        FUZZ_CHECK(c.ts_ms >= FUZZ_NOW_MS - COMMAND_MAX_AGE_MS);
        FUZZ_CHECK(c.kind != COMMAND_CAPTURE ||
                   (c.duration_ms >= CAPTURE_MIN_MS && c.duration_ms <= CAPTURE_MAX_MS));
        check_round_trip(&c);
    } else {
        FUZZ_CHECK(r == -EINVAL || r == -ENOTSUP || r == -ETIME);
        FUZZ_CHECK(c.kind == COMMAND_INVALID && c.message[0]);
    }
    check_reply(&c, r == 0);
    return 0;
}
