/*
 * dynsec: what meter-server asks mosquitto's dynamic-security plugin (2.0)
 * over MQTT, and the broker accounts it keeps there (docs/security.md
 * "Device identity on MQTT").
 *
 * Requests are JSON {"commands":[...]} published on DYNSEC_TOPIC; the plugin
 * answers every request with one message {"responses":[...]} on
 * DYNSEC_RESPONSE_TOPIC, one response per command, in order, each repeating
 * the command's "correlationData". This is the broker's own control
 * protocol, not the meters' wire format (common/wire/), so it lives here.
 *
 * The accounts. mosquitto 2.0's plugin substitutes no %u or %c in its ACLs,
 * so every device has a role of its own:
 *   role   smartmeter-device-<id>: publishClientSend meters/<id>/{telemetry,
 *          status,reply,capture}; subscribeLiteral meters/<id>/{cmd,ack}
 *   client <id>: the password sign.h derives, bound to client id
 *          meterd-<id>, that role alone, no group; textname
 *          "smartmeter device", textdescription "managed by <server user>,
 *          password check <hex>" (the check tells a stale password; a
 *          server manages only the accounts its own user name marks)
 * and the server's account gets DYNSEC_SERVER_ROLE: publish meters/+/cmd and
 * meters/+/ack, subscribe to what meters send (plain and $share/+/...), and
 * the plugin's control topics. Default access: no publishing, no
 * subscribing (what no role allows is denied).
 *
 * Pure: the caller owns every buffer and JSON value; no I/O, no logging.
 */
#ifndef SMARTMETER_BROKER_DYNSEC_H
#define SMARTMETER_BROKER_DYNSEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dynbuf.h"
#include "sign.h"
#include "topic.h"

#define DYNSEC_TOPIC              "$CONTROL/dynamic-security/v1"
#define DYNSEC_RESPONSE_TOPIC     "$CONTROL/dynamic-security/v1/response"
#define DYNSEC_SERVER_ROLE        "smartmeter-server"
#define DYNSEC_DEVICE_ROLE_PREFIX "smartmeter-device-"
#define DYNSEC_DEVICE_TEXTNAME    "smartmeter device"
#define DYNSEC_CLIENT_ID_PREFIX   "meterd-"
/* Longest server user name a description holds. */
#define DYNSEC_USER_MAX 128
#define DYNSEC_NAME_MAX (sizeof(DYNSEC_DEVICE_ROLE_PREFIX) + DEVICE_ID_MAX)
#define DYNSEC_DESC_MAX (DYNSEC_USER_MAX + SIGN_CHECK_HEX + 48)
/* Commands one request carries at most (each is answered in the same message). */
#define DYNSEC_BATCH 50
/* ACLs of one role at most. */
#define DYNSEC_ACLS_MAX 16

/* What a device's broker account must be. */
struct dynsec_device {
    char id[DEVICE_ID_MAX + 1]; /* also the user name */
    char password[SIGN_PASSWORD_HEX + 1];
    char client_id[DYNSEC_NAME_MAX + 1];
    char role[DYNSEC_NAME_MAX + 1];
    char description[DYNSEC_DESC_MAX + 1];
};

/*
 * The account of device_id, whose secret hash (hex, as stored) is hash_hex,
 * as the server named server_user manages it. Returns 0, or -EINVAL for a
 * bad id, hash or user name.
 */
int dynsec_device_expect(const char *server_user, const char *device_id, const char *hash_hex,
                         struct dynsec_device *ret);

/* The description that marks the accounts server_user manages, without the check. */
int dynsec_managed_prefix(const char *server_user, char ret[DYNSEC_DESC_MAX + 1]);

struct dynsec_acl {
    const char *type; /* publishClientSend, subscribeLiteral, ... */
    char topic[TOPIC_FILTER_MAX + 32];
};

/* The ACLs of a device's role (all "allow"); returns how many (<= DYNSEC_ACLS_MAX). */
size_t dynsec_device_acls(const char *device_id, struct dynsec_acl out[DYNSEC_ACLS_MAX]);
/* The ACLs of DYNSEC_SERVER_ROLE. */
size_t dynsec_server_acls(struct dynsec_acl out[DYNSEC_ACLS_MAX]);
/* True when the "acls" array of a verbose role holds exactly want (allowed), in any order. */
bool dynsec_acls_equal(const json_t *acls, const struct dynsec_acl *want, size_t n);

/* A request being written: commands are appended, each with the request's correlation data. */
struct dynsec_request {
    struct dynbuf buf;
    size_t n; /* commands so far */
    char corr[64];
};

/* Starts an empty request tagged corr (at most 63 characters of [A-Za-z0-9-]). */
void dynsec_request_init(struct dynsec_request *rq, const char *corr);
/* The request's payload, complete; NULL after a failed append (out of memory). */
const char *dynsec_request_payload(struct dynsec_request *rq, size_t *ret_len);
void dynsec_request_free(struct dynsec_request *rq);

/* Each appends one command; 0, or -ENOMEM (the request is then unusable). */
int dynsec_list(struct dynsec_request *rq, const char *command, int count, int offset);
int dynsec_get(struct dynsec_request *rq, const char *command, const char *key, const char *name);
int dynsec_delete(struct dynsec_request *rq, const char *command, const char *key,
                  const char *name);
int dynsec_default_acl_get(struct dynsec_request *rq);
int dynsec_default_acl_set(struct dynsec_request *rq);
/* createRole or modifyRole (modify replaces the ACLs and drops the role's users' connections). */
int dynsec_role_put(struct dynsec_request *rq, bool create, const char *rolename,
                    const char *description, const struct dynsec_acl *acls, size_t n);
/* createClient or modifyClient of a device's account (modify drops its connection). */
int dynsec_device_put(struct dynsec_request *rq, bool create, const struct dynsec_device *d);
int dynsec_enable_client(struct dynsec_request *rq, const char *username);
int dynsec_add_client_role(struct dynsec_request *rq, const char *username, const char *rolename);

/*
 * Reads a response message: 0 with *ret_responses (a new reference to its
 * "responses" array) and *ret_corr (the first response's correlation data,
 * "" when none; valid while the array is), or -EINVAL.
 */
int dynsec_response_parse(const void *payload, size_t len, json_t **ret_responses,
                          const char **ret_corr);

/* The default access the server wants, in getDefaultACLAccess's "data" form: true when so. */
bool dynsec_default_acl_ok(const json_t *data);

#endif
