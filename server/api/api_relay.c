/*
 * api_relay: an operator's relay cut or restore (POST /api/devices/:id/relay)
 * and any command's state (GET /api/devices/:id/commands/:cid), over the
 * durable command service (server/commands/): the request is stored and
 * answered 202 at once; the service sends it when the meter is online.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "app.h"
#include "commands.h"
#include "log.h"
#include "timeutil.h"

#define REASON_MAX 500

void api_command_queued(struct api_call *c, const char *device_id, const char *id, const char *key,
                        const char *value)
{
    char location[160];
    snprintf(location, sizeof(location), "/api/devices/%s/commands/%s", device_id, id);
    http_response_header(c->res, "Location", location);
    struct jsonw w;
    api_success(c, 202, &w);
    jsonw_kstr(&w, "command_id", id);
    jsonw_kstr(&w, "state", "queued");
    jsonw_kstr(&w, "device_id", device_id);
    jsonw_kstr(&w, key, value);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

void api_relay_request(struct api_call *c)
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
    const char *state = json_string_value(json_object_get(body, "state"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    if (!state || (strcmp(state, "on") != 0 && strcmp(state, "off") != 0)) {
        api_error(c, 400, "state must be \"on\" or \"off\"");
        goto out;
    }
    if (!reason || !reason[0] || strlen(reason) > REASON_MAX) {
        api_error(c, 400, "reason is required: 1 to %d bytes of text", REASON_MAX);
        goto out;
    }
    bool on = state[1] == 'n';
    char id[STORE_COMMAND_ID_MAX + 1];
    int64_t now = time_now_ms();
    int r =
        api_store_result(c, commands_relay_request(c->store, dev.device_id, on, c->user.username,
                                                   reason, now, COMMANDS_TTL_MS, id));
    if (r) {
        api_store_error(c, r);
        goto out;
    }
    log_info("api: %s asked relay %s of %s (command %s)", c->user.username, state, dev.device_id,
             id);
    api_audit(c, "relay.request", dev.device_id, "state=%s command_id=%s", state, id);
    api_command_queued(c, dev.device_id, id, "relay", state);
out:
    json_decref(body);
}

/* One command as GET .../commands/:cid answers it (an object, members only). */
static void write_command(struct api_call *c, struct jsonw *w, const struct command_rec *cmd)
{
    jsonw_kstr(w, "command_id", cmd->id);
    jsonw_kstr(w, "device_id", cmd->device_id);
    jsonw_kstr(w, "cmd", cmd->kind);
    if (strcmp(cmd->kind, "relay") == 0)
        jsonw_kstr(w, "relay", cmd->relay_on ? "on" : "off");
    if (strcmp(cmd->kind, "set_interval") == 0) {
        jsonw_key(w, "interval_s");
        jsonw_milli(w, cmd->interval_ms);
    }
    jsonw_kstr(w, "state", command_state_name(cmd->state));
    /* Who asked and why: staff only (a user sees what happens to their meter, not who). */
    if (api_is_staff(c)) {
        jsonw_kstr(w, "actor", cmd->actor);
        jsonw_kstr(w, "reason", cmd->reason);
    }
    jsonw_ktime(w, "created_at", cmd->created_ms);
    jsonw_ktime(w, "expires_at", cmd->expires_ms);
    jsonw_key(w, "sent_at");
    if (cmd->sent_ms)
        jsonw_time(w, cmd->sent_ms);
    else
        jsonw_null(w);
    jsonw_kint(w, "sends", cmd->sends);
    jsonw_key(w, "finished_at");
    if (cmd->finished_ms)
        jsonw_time(w, cmd->finished_ms);
    else
        jsonw_null(w);
    jsonw_key(w, "message");
    if (cmd->message[0])
        jsonw_str(w, cmd->message);
    else
        jsonw_null(w);
    api_write_command_result(w, cmd);
}

void api_command_detail(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    struct command_rec cmd;
    int r = api_store_result(c, store_command_get(c->store, dev.device_id, c->params[1], &cmd));
    if (r == -ENOENT) {
        api_error(c, 404, "no such command");
        return;
    }
    if (r) {
        api_store_error(c, r);
        return;
    }
    struct jsonw w;
    api_success(c, 200, &w);
    write_command(c, &w, &cmd);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}

struct list_ctx {
    struct api_call *c;
    struct jsonw *w;
};

static int write_listed(const struct command_rec *cmd, void *arg)
{
    struct list_ctx *l = arg;
    jsonw_obj_begin(l->w);
    write_command(l->c, l->w, cmd);
    jsonw_obj_end(l->w);
    return 0;
}

static int fill_commands(struct api_call *c, const struct device_rec *dev, size_t limit,
                         struct jsonw *w)
{
    struct list_ctx l = {c, w};
    return store_commands_of_device(c->store, dev->device_id, limit, write_listed, &l);
}

void api_commands_list(struct api_call *c)
{
    api_device_list_answer(c, "commands", 50, fill_commands);
}
