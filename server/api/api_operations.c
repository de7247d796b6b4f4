/*
 * Remote operations: POST /api/devices/:id/operations (operator, admin)
 * {"op":"read_status"|"set_interval"|"sync_clock", "interval_s" (set_interval),
 * "reason"?} over the durable command service (server/commands/operations.h):
 * stored and answered 202 with the command id at once; the service sends it
 * when the meter is online. Its lifecycle and the meter's "result" are at
 * GET /api/devices/:id/commands/:cid and in the commands list.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "app.h"
#include "commands.h"
#include "jsonutil.h"
#include "log.h"
#include "operations.h"
#include "timeutil.h"

#define REASON_MAX 500

/* "interval_s": seconds, 3 decimals at most, within meterd's --interval bounds. 0 or -1 (400). */
static int parse_interval(struct api_call *c, json_t *body, uint32_t *ret_ms)
{
    json_t *v = json_object_get(body, "interval_s");
    if (!json_is_number(v) || command_interval_ms(json_number_value(v), ret_ms)) {
        api_error(c, 400,
                  "interval_s must be a number of seconds from %g to %g (3 decimals at most)",
                  COMMAND_INTERVAL_MIN_MS / 1000.0, COMMAND_INTERVAL_MAX_MS / 1000.0);
        return -1;
    }
    return 0;
}

void api_operation_request(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    if (!api_is_staff(c)) {
        api_error(c, 403, "operator or admin role required");
        return;
    }
    json_t *body = api_body_object(c);
    if (!body)
        return;
    const char *op = json_string_value(json_object_get(body, "op"));
    enum command_kind kind = op ? operations_kind(op) : COMMAND_INVALID;
    uint32_t interval_ms = 0;
    const json_t *rv = json_object_get(body, "reason");
    const char *reason = json_string_value(rv);
    if (kind == COMMAND_INVALID) {
        api_error(c, 400, "op must be \"read_status\", \"set_interval\" or \"sync_clock\"");
        goto out;
    }
    if (kind == COMMAND_SET_INTERVAL && parse_interval(c, body, &interval_ms))
        goto out;
    if (rv && !json_is_null(rv) &&
        (!reason || strlen(reason) > REASON_MAX || strlen(reason) != json_string_length(rv))) {
        api_error(c, 400, "reason, when given, is up to %d bytes of text", REASON_MAX);
        goto out;
    }
    char id[STORE_COMMAND_ID_MAX + 1];
    int r = api_store_result(c, operations_request(c->store, dev.device_id, kind, interval_ms,
                                                   c->user.username, reason, time_now_ms(),
                                                   OPERATIONS_TTL_MS, id));
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    commands_wake(atomic_load(&c->app->commands));
    log_info("api: %s asked %s of %s (command %s)", c->user.username, op, dev.device_id, id);
    if (kind == COMMAND_SET_INTERVAL)
        api_audit(c, "operation.request", dev.device_id, "op=%s interval_ms=%u command_id=%s", op,
                  interval_ms, id);
    else
        api_audit(c, "operation.request", dev.device_id, "op=%s command_id=%s", op, id);
    api_command_queued(c, dev.device_id, id, "op", op);
out:
    json_decref(body);
}

void api_write_command_result(struct jsonw *w, const struct command_rec *cmd)
{
    if (operations_kind(cmd->kind) == COMMAND_INVALID)
        return;
    json_t *res = NULL;
    char err[JSON_ERR_LEN];
    jsonw_key(w, "result");
    if (cmd->result[0] && json_load_limited(cmd->result, strlen(cmd->result), 4, &res, err) == 0 &&
        json_is_object(res))
        api_json_value(w, res);
    else
        jsonw_null(w);
    json_decref(res);
}
