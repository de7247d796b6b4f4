/*
 * The meter's command parser (common/wire/command.c, command_parse) on a
 * meters/<id>/cmd payload, at a fixed "now".
 *
 * Checks: a command to run has a known kind, a valid id, fields in range and
 * is not expired; a refused one says why and keeps only a valid id. The
 * server's encoding of a command to run (command_encode) parses back to the
 * same command, and the reply the meter sends either way
 * (command_reply_encode) is JSON the server's reply parser accepts with the
 * same id, outcome and message. A remote operation's reply with its result
 * (command_reply_encode_result) is accepted by the server with the result as
 * a JSON object; a result of another kind is refused.
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
    FUZZ_CHECK(again.interval_ms == c->interval_ms && again.server_ms == c->server_ms);
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

/* An operation's reply with a result built from the command's own fields. */
static void check_result_reply(const struct command *c)
{
    struct command_result res = {.kind = c->kind};
    switch (c->kind) {
    case COMMAND_READ_STATUS:
        res.u.status = (struct command_status){.uptime_s = c->ts_ms,
                                               .version = c->name,
                                               .clock_offset_ms = c->ts_ms - FUZZ_NOW_MS,
                                               .adc = c->id,
                                               .rate_hz = 4000,
                                               .interval_s = 1,
                                               .seq = UINT64_MAX,
                                               .relay = -1,
                                               .link = NULL};
        break;
    case COMMAND_SET_INTERVAL:
        res.u.interval = (struct command_interval_result){c->interval_ms, 1000, true};
        break;
    case COMMAND_SYNC_CLOCK:
        res.u.clock = (struct command_clock_result){c->server_ms - FUZZ_NOW_MS, "reported", NULL};
        break;
    default:
        res.kind = COMMAND_READ_STATUS;
        break;
    }
    struct dynbuf b;
    struct command_reply reply;
    char err[COMMAND_ERR_LEN];
    dynbuf_init(&b, COMMAND_PAYLOAD_MAX);
    int r = command_reply_encode_result(c, true, NULL, &res, FUZZ_NOW_MS, &b);
    if (res.kind != c->kind) {
        FUZZ_CHECK(r == -EINVAL);
    } else {
        FUZZ_CHECK(r == 0 && fuzz_json_valid(b.buf, b.len));
        FUZZ_CHECK(command_reply_parse(b.buf, b.len, &reply, err) == 0);
        FUZZ_CHECK(reply.ok && reply.has_result && reply.result[0] == '{');
        FUZZ_CHECK(fuzz_json_valid(reply.result, strlen(reply.result)));
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
        FUZZ_CHECK(c.kind != COMMAND_SET_INTERVAL || (c.interval_ms >= COMMAND_INTERVAL_MIN_MS &&
                                                      c.interval_ms <= COMMAND_INTERVAL_MAX_MS));
        FUZZ_CHECK(c.kind != COMMAND_SYNC_CLOCK || c.server_ms >= 0);
        check_round_trip(&c);
        check_result_reply(&c);
    } else {
        FUZZ_CHECK(r == -EINVAL || r == -ENOTSUP || r == -ETIME);
        FUZZ_CHECK(c.kind == COMMAND_INVALID && c.message[0]);
    }
    check_reply(&c, r == 0);
    return 0;
}
