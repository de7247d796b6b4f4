#include "operations.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

enum command_kind operations_kind(const char *name)
{
    for (int k = COMMAND_INVALID + 1; k < COMMAND__COUNT; k++)
        if (operations_is_operation((enum command_kind)k) &&
            strcmp(command_name((enum command_kind)k), name) == 0)
            return (enum command_kind)k;
    return COMMAND_INVALID;
}

bool operations_is_operation(enum command_kind kind)
{
    return kind == COMMAND_READ_STATUS || kind == COMMAND_SET_INTERVAL ||
           kind == COMMAND_SYNC_CLOCK;
}

int operations_request(struct store *st, const char *device_id, enum command_kind kind,
                       uint32_t interval_ms, const char *actor, const char *reason, int64_t now_ms,
                       int64_t ttl_ms, char ret_id[STORE_COMMAND_ID_MAX + 1])
{
    struct command_rec c = {.created_ms = now_ms};
    if (!operations_is_operation(kind) || ttl_ms <= 0 || now_ms > INT64_MAX - ttl_ms ||
        (kind == COMMAND_SET_INTERVAL &&
         (interval_ms < COMMAND_INTERVAL_MIN_MS || interval_ms > COMMAND_INTERVAL_MAX_MS)))
        return -EINVAL;
    c.expires_ms = now_ms + ttl_ms;
    int r = commands_new_id(c.id);
    if (r)
        return r;
    snprintf(c.device_id, sizeof(c.device_id), "%s", device_id);
    snprintf(c.kind, sizeof(c.kind), "%s", command_name(kind));
    snprintf(c.actor, sizeof(c.actor), "%s", actor);
    if (kind == COMMAND_SET_INTERVAL)
        c.interval_ms = (int32_t)interval_ms;
    if (reason && reason[0])
        snprintf(c.reason, sizeof(c.reason), "%s", reason);
    else if (kind == COMMAND_SET_INTERVAL)
        snprintf(c.reason, sizeof(c.reason), "set the publish interval to %u.%03u s",
                 interval_ms / 1000, interval_ms % 1000);
    else
        snprintf(c.reason, sizeof(c.reason), "%s",
                 kind == COMMAND_READ_STATUS ? "read the meter's status"
                                             : "synchronise the meter's clock");
    r = store_command_add(st, &c);
    if (!r)
        memcpy(ret_id, c.id, sizeof(c.id));
    return r;
}

int operations_on_reply(struct store *st, const struct command_rec *c,
                        const struct command_reply *rep, int64_t now_ms)
{
    unsigned waiting = CMD_BIT(CMD_QUEUED) | CMD_BIT(CMD_SENT);
    const char *result = rep->has_result ? rep->result : NULL;
    int r;
    if (rep->ok) {
        r = store_command_finish(st, c->id, waiting, CMD_DONE, now_ms, NULL, result);
    } else {
        char why[STORE_COMMAND_MSG_MAX + 1];
        snprintf(why, sizeof(why), "the meter refused: %.*s", (int)(sizeof(why) - 20),
                 rep->has_message ? rep->message : "no reason given");
        r = store_command_finish(st, c->id, waiting, CMD_FAILED, now_ms, why, result);
    }
    return r == -ENOENT ? 0 : r; /* a second answer to a resend changes nothing */
}
