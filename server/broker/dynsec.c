#include "dynsec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "jsonw.h"

/* A request holds DYNSEC_BATCH commands of a few hundred bytes; listings are answers. */
#define REQUEST_MAX ((size_t)1 << 20)
/* The plugin's answer to a listing of a few hundred accounts is well below this. */
#define RESPONSE_MAX_DEPTH 8

/* What meters publish and what the server sends them: the topics of both roles. */
static const enum topic_leaf meter_sends[] = {TOPIC_TELEMETRY, TOPIC_STATUS, TOPIC_REPLY,
                                              TOPIC_CAPTURE};
static const enum topic_leaf server_sends[] = {TOPIC_CMD, TOPIC_ACK};

int dynsec_managed_prefix(const char *server_user, char ret[DYNSEC_DESC_MAX + 1])
{
    size_t n = strlen(server_user);
    if (n == 0 || n > DYNSEC_USER_MAX)
        return -EINVAL;
    snprintf(ret, DYNSEC_DESC_MAX + 1, "managed by %s, ", server_user);
    return 0;
}

int dynsec_device_expect(const char *server_user, const char *device_id, const char *hash_hex,
                         struct dynsec_device *ret)
{
    uint8_t h[SIGN_HASH_LEN];
    char check[SIGN_CHECK_HEX + 1];
    size_t user_len = strlen(server_user);
    if (!device_id_valid(device_id) || sign_hash_parse(hash_hex, h) || user_len == 0 ||
        user_len > DYNSEC_USER_MAX)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->id, sizeof(ret->id), "%s", device_id);
    sign_broker_password(h, ret->password);
    sign_broker_password_check(h, check);
    explicit_bzero(h, sizeof(h));
    snprintf(ret->client_id, sizeof(ret->client_id), DYNSEC_CLIENT_ID_PREFIX "%s", device_id);
    snprintf(ret->role, sizeof(ret->role), DYNSEC_DEVICE_ROLE_PREFIX "%s", device_id);
    /* dynsec_managed_prefix()'s text, then the check. */
    snprintf(ret->description, sizeof(ret->description), "managed by %s, password check %s",
             server_user, check);
    return 0;
}

static void acl(struct dynsec_acl *a, const char *type, const char *topic)
{
    a->type = type;
    snprintf(a->topic, sizeof(a->topic), "%s", topic);
}

size_t dynsec_device_acls(const char *device_id, struct dynsec_acl out[DYNSEC_ACLS_MAX])
{
    size_t n = 0;
    char t[TOPIC_MAX];
    for (size_t k = 0; k < sizeof(meter_sends) / sizeof(meter_sends[0]); k++)
        if (topic_build(t, device_id, meter_sends[k]) == 0)
            acl(&out[n++], "publishClientSend", t);
    for (size_t k = 0; k < sizeof(server_sends) / sizeof(server_sends[0]); k++)
        if (topic_build(t, device_id, server_sends[k]) == 0)
            acl(&out[n++], "subscribeLiteral", t);
    return n;
}

size_t dynsec_server_acls(struct dynsec_acl out[DYNSEC_ACLS_MAX])
{
    size_t n = 0;
    char t[TOPIC_FILTER_MAX];
    for (size_t k = 0; k < sizeof(server_sends) / sizeof(server_sends[0]); k++)
        if (topic_filter(t, server_sends[k], NULL) == 0)
            acl(&out[n++], "publishClientSend", t);
    for (size_t k = 0; k < sizeof(meter_sends) / sizeof(meter_sends[0]); k++) {
        if (topic_filter(t, meter_sends[k], NULL))
            continue;
        acl(&out[n++], "subscribePattern", t);
        /* An ACL pattern, not a filter anyone subscribes to: "+" stands for any share group. */
        snprintf(out[n].topic, sizeof(out[n].topic), "$share/+/%s", t);
        out[n++].type = "subscribePattern";
    }
    acl(&out[n++], "publishClientSend", DYNSEC_TOPIC);
    acl(&out[n++], "subscribeLiteral", DYNSEC_RESPONSE_TOPIC);
    /* $CONTROL topics are never received by default, whatever the default access says. */
    acl(&out[n++], "publishClientReceive", DYNSEC_RESPONSE_TOPIC);
    return n;
}

/* The first entry of acls with this "acltype" (and "topic", unless NULL); NULL when none. */
static const json_t *acl_entry(const json_t *acls, const char *type, const char *topic)
{
    size_t i;
    const json_t *a;
    json_array_foreach(acls, i, a)
    {
        const char *t = json_string_value(json_object_get(a, "acltype"));
        const char *p = json_string_value(json_object_get(a, "topic"));
        if (t && strcmp(t, type) == 0 && (!topic || (p && strcmp(p, topic) == 0)))
            return a;
    }
    return NULL;
}

bool dynsec_acls_equal(const json_t *acls, const struct dynsec_acl *want, size_t n)
{
    if (!json_is_array(acls) || json_array_size(acls) != n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!json_is_true(json_object_get(acl_entry(acls, want[k].type, want[k].topic), "allow")))
            return false;
    return true;
}

/* --- requests ------------------------------------------------------------------------------ */

void dynsec_request_init(struct dynsec_request *rq, const char *corr)
{
    dynbuf_init(&rq->buf, REQUEST_MAX);
    rq->n = 0;
    snprintf(rq->corr, sizeof(rq->corr), "%s", corr);
}

void dynsec_request_free(struct dynsec_request *rq)
{
    /* Requests carry passwords. */
    if (rq->buf.buf)
        explicit_bzero(rq->buf.buf, rq->buf.cap);
    dynbuf_free(&rq->buf);
}

const char *dynsec_request_payload(struct dynsec_request *rq, size_t *ret_len)
{
    if (rq->buf.len == 0 && dynbuf_addstr(&rq->buf, "{\"commands\":["))
        return NULL;
    if (dynbuf_addstr(&rq->buf, "]}"))
        return NULL;
    *ret_len = rq->buf.len;
    return rq->buf.buf;
}

/* Opens the next command object: {"command":name,"correlationData":corr, ...}. */
static void begin(struct dynsec_request *rq, struct jsonw *w, const char *command)
{
    if (rq->buf.len == 0)
        dynbuf_addstr(&rq->buf, "{\"commands\":[");
    else
        dynbuf_addc(&rq->buf, ',');
    jsonw_init(w, &rq->buf);
    jsonw_obj_begin(w);
    jsonw_kstr(w, "command", command);
    jsonw_kstr(w, "correlationData", rq->corr);
}

static int end(struct dynsec_request *rq, struct jsonw *w)
{
    jsonw_obj_end(w);
    rq->n++;
    return jsonw_error(w) ? -ENOMEM : 0;
}

int dynsec_list(struct dynsec_request *rq, const char *command, int count, int offset)
{
    struct jsonw w;
    begin(rq, &w, command);
    jsonw_kbool(&w, "verbose", true);
    jsonw_kint(&w, "count", count);
    jsonw_kint(&w, "offset", offset);
    return end(rq, &w);
}

int dynsec_get(struct dynsec_request *rq, const char *command, const char *key, const char *name)
{
    struct jsonw w;
    begin(rq, &w, command);
    jsonw_kstr(&w, key, name);
    return end(rq, &w);
}

int dynsec_delete(struct dynsec_request *rq, const char *command, const char *key, const char *name)
{
    return dynsec_get(rq, command, key, name);
}

/* The default access we want: meters and others get only what a role grants. */
static const struct {
    const char *type;
    bool allow;
} default_access[] = {
    {"publishClientSend", false},
    {"publishClientReceive", true},
    {"subscribe", false},
    {"unsubscribe", true},
};
#define N_DEFAULT_ACCESS (sizeof(default_access) / sizeof(default_access[0]))

int dynsec_default_acl_get(struct dynsec_request *rq)
{
    struct jsonw w;
    begin(rq, &w, "getDefaultACLAccess");
    return end(rq, &w);
}

int dynsec_default_acl_set(struct dynsec_request *rq)
{
    struct jsonw w;
    begin(rq, &w, "setDefaultACLAccess");
    jsonw_key(&w, "acls");
    jsonw_arr_begin(&w);
    for (size_t k = 0; k < N_DEFAULT_ACCESS; k++) {
        jsonw_obj_begin(&w);
        jsonw_kstr(&w, "acltype", default_access[k].type);
        jsonw_kbool(&w, "allow", default_access[k].allow);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    return end(rq, &w);
}

bool dynsec_default_acl_ok(const json_t *data)
{
    const json_t *acls = json_object_get(data, "acls");
    for (size_t k = 0; k < N_DEFAULT_ACCESS; k++) {
        const json_t *allow =
            json_object_get(acl_entry(acls, default_access[k].type, NULL), "allow");
        if (!json_is_boolean(allow) || json_is_true(allow) != default_access[k].allow)
            return false;
    }
    return true;
}

int dynsec_role_put(struct dynsec_request *rq, bool create, const char *rolename,
                    const char *description, const struct dynsec_acl *acls, size_t n)
{
    struct jsonw w;
    begin(rq, &w, create ? "createRole" : "modifyRole");
    jsonw_kstr(&w, "rolename", rolename);
    jsonw_kstr(&w, "textdescription", description);
    jsonw_key(&w, "acls");
    jsonw_arr_begin(&w);
    for (size_t k = 0; k < n; k++) {
        jsonw_obj_begin(&w);
        jsonw_kstr(&w, "acltype", acls[k].type);
        jsonw_kstr(&w, "topic", acls[k].topic);
        jsonw_kbool(&w, "allow", true);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    return end(rq, &w);
}

int dynsec_device_put(struct dynsec_request *rq, bool create, const struct dynsec_device *d)
{
    struct jsonw w;
    begin(rq, &w, create ? "createClient" : "modifyClient");
    jsonw_kstr(&w, "username", d->id);
    jsonw_kstr(&w, "password", d->password);
    jsonw_kstr(&w, "clientid", d->client_id);
    jsonw_kstr(&w, "textname", DYNSEC_DEVICE_TEXTNAME);
    jsonw_kstr(&w, "textdescription", d->description);
    jsonw_key(&w, "roles");
    jsonw_arr_begin(&w);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "rolename", d->role);
    jsonw_obj_end(&w);
    jsonw_arr_end(&w);
    jsonw_key(&w, "groups");
    jsonw_arr_begin(&w);
    jsonw_arr_end(&w);
    return end(rq, &w);
}

int dynsec_enable_client(struct dynsec_request *rq, const char *username)
{
    return dynsec_get(rq, "enableClient", "username", username);
}

int dynsec_add_client_role(struct dynsec_request *rq, const char *username, const char *rolename)
{
    struct jsonw w;
    begin(rq, &w, "addClientRole");
    jsonw_kstr(&w, "username", username);
    jsonw_kstr(&w, "rolename", rolename);
    return end(rq, &w);
}

/* --- responses ----------------------------------------------------------------------------- */

int dynsec_response_parse(const void *payload, size_t len, json_t **ret_responses,
                          const char **ret_corr)
{
    json_t *root = NULL;
    char err[JSON_ERR_LEN];
    if (json_load_limited(payload, len, RESPONSE_MAX_DEPTH, &root, err))
        return -EINVAL;
    json_t *responses = json_object_get(root, "responses");
    if (!json_is_array(responses)) {
        json_decref(root);
        return -EINVAL;
    }
    json_incref(responses);
    json_decref(root);
    const char *corr =
        json_string_value(json_object_get(json_array_get(responses, 0), "correlationData"));
    *ret_responses = responses;
    *ret_corr = corr ? corr : "";
    return 0;
}
