/*
 * The broker's accounts (server/broker/dynsec.h) and what to change so they
 * match the devices (plan.h): the accounts a device needs, the requests the
 * plugin is sent, and for listings of every shape (empty, in step, stale,
 * foreign, left over) exactly the steps that bring them in step, never a
 * step on an account the server does not manage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dynsec.h"
#include "plan.h"
#include "sign.h"

#define USER   "meter-server"
#define HASH_A "d7f3fd7fdcc9f16177046430cdabd6d0a4026cf9dba60070156fe4ace3a7bfad"
#define HASH_B "0000000000000000000000000000000000000000000000000000000000000001"

static int setup(void **state)
{
    (void)state;
    return sign_init();
}

static void test_a_device_account_is_derived_from_its_secret_hash(void **state)
{
    (void)state;
    struct dynsec_device d;
    assert_int_equal(dynsec_device_expect(USER, "m-1", HASH_A, &d), 0);
    assert_string_equal(d.id, "m-1");
    /* The password meterd derives from the secret whose hash this is (tests/unit/common/wire). */
    assert_string_equal(d.password,
                        "48c233196de93c8585d00a8015d4fd3fd004785f69f3c1ef743006925a4ef979");
    assert_string_equal(d.client_id, "meterd-m-1");
    assert_string_equal(d.role, "smartmeter-device-m-1");
    assert_string_equal(d.description,
                        "managed by meter-server, password check 37b9bd7cb2e46222bdf93ae78a335f2b");
    char prefix[DYNSEC_DESC_MAX + 1];
    assert_int_equal(dynsec_managed_prefix(USER, prefix), 0);
    assert_memory_equal(d.description, prefix, strlen(prefix));

    assert_int_equal(dynsec_device_expect(USER, "m/1", HASH_A, &d), -EINVAL);
    assert_int_equal(dynsec_device_expect(USER, "m-1", "abc", &d), -EINVAL);
    assert_int_equal(dynsec_device_expect("", "m-1", HASH_A, &d), -EINVAL);
}

static bool has_acl(const struct dynsec_acl *a, size_t n, const char *type, const char *topic)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(a[k].type, type) == 0 && strcmp(a[k].topic, topic) == 0)
            return true;
    return false;
}

static void test_a_device_may_publish_and_subscribe_only_its_own_topics(void **state)
{
    (void)state;
    struct dynsec_acl a[DYNSEC_ACLS_MAX];
    size_t n = dynsec_device_acls("m-1", a);
    assert_int_equal(n, 6);
    const char *sends[] = {"telemetry", "status", "reply", "capture"};
    for (size_t k = 0; k < 4; k++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "meters/m-1/%s", sends[k]);
        assert_true(has_acl(a, n, "publishClientSend", topic));
    }
    assert_true(has_acl(a, n, "subscribeLiteral", "meters/m-1/cmd"));
    assert_true(has_acl(a, n, "subscribeLiteral", "meters/m-1/ack"));
    for (size_t k = 0; k < n; k++)
        assert_null(strchr(a[k].topic, '+'));

    n = dynsec_server_acls(a);
    assert_true(has_acl(a, n, "publishClientSend", "meters/+/cmd"));
    assert_true(has_acl(a, n, "publishClientSend", "meters/+/ack"));
    assert_true(has_acl(a, n, "subscribePattern", "meters/+/telemetry"));
    assert_true(has_acl(a, n, "subscribePattern", "$share/+/meters/+/capture"));
    assert_true(has_acl(a, n, "publishClientSend", DYNSEC_TOPIC));
    assert_true(has_acl(a, n, "subscribeLiteral", DYNSEC_RESPONSE_TOPIC));
    assert_false(has_acl(a, n, "publishClientSend", "meters/+/telemetry"));
}

static void test_requests_carry_their_correlation_data(void **state)
{
    (void)state;
    struct dynsec_request rq;
    struct dynsec_device d;
    size_t len = 0;
    assert_int_equal(dynsec_device_expect(USER, "m-1", HASH_A, &d), 0);
    dynsec_request_init(&rq, "abc-7");
    assert_int_equal(dynsec_device_put(&rq, true, &d), 0);
    assert_int_equal(dynsec_delete(&rq, "deleteRole", "rolename", "smartmeter-device-x"), 0);
    assert_int_equal(dynsec_default_acl_set(&rq), 0);
    const char *p = dynsec_request_payload(&rq, &len);
    assert_non_null(p);
    json_error_t e;
    json_t *root = json_loadb(p, len, 0, &e);
    assert_non_null(root);
    json_t *cmds = json_object_get(root, "commands");
    assert_int_equal(json_array_size(cmds), 3);
    json_t *c0 = json_array_get(cmds, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "command")), "createClient");
    assert_string_equal(json_string_value(json_object_get(c0, "correlationData")), "abc-7");
    assert_string_equal(json_string_value(json_object_get(c0, "clientid")), "meterd-m-1");
    assert_string_equal(json_string_value(json_object_get(c0, "password")), d.password);
    assert_int_equal(json_array_size(json_object_get(c0, "groups")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cmds, 1), "command")),
                        "deleteRole");
    json_decref(root);
    dynsec_request_free(&rq);

    /* The plugin's answer: its responses, and the first one's correlation data. */
    const char *answer = "{\"responses\":[{\"command\":\"createClient\",\"correlationData\":"
                         "\"abc-7\"},{\"command\":\"deleteRole\",\"error\":\"Role not found\","
                         "\"correlationData\":\"abc-7\"}]}";
    json_t *responses;
    const char *corr;
    assert_int_equal(dynsec_response_parse(answer, strlen(answer), &responses, &corr), 0);
    assert_string_equal(corr, "abc-7");
    assert_int_equal(json_array_size(responses), 2);
    json_decref(responses);
    assert_int_equal(dynsec_response_parse("{\"x\":1}", 7, &responses, &corr), -EINVAL);
    assert_int_equal(dynsec_response_parse("junk", 4, &responses, &corr), -EINVAL);
}

static void test_the_default_access_denies_publishing_and_subscribing(void **state)
{
    (void)state;
    json_error_t e;
    json_t *ok = json_loads("{\"acls\":[{\"acltype\":\"publishClientSend\",\"allow\":false},"
                            "{\"acltype\":\"publishClientReceive\",\"allow\":true},"
                            "{\"acltype\":\"subscribe\",\"allow\":false},"
                            "{\"acltype\":\"unsubscribe\",\"allow\":true}]}",
                            0, &e);
    json_t *open = json_loads("{\"acls\":[{\"acltype\":\"publishClientSend\",\"allow\":true},"
                              "{\"acltype\":\"publishClientReceive\",\"allow\":true},"
                              "{\"acltype\":\"subscribe\",\"allow\":false},"
                              "{\"acltype\":\"unsubscribe\",\"allow\":true}]}",
                              0, &e);
    assert_true(dynsec_default_acl_ok(ok));
    assert_false(dynsec_default_acl_ok(open));
    assert_false(dynsec_default_acl_ok(NULL));
    json_decref(ok);
    json_decref(open);
}

/* --- plans --------------------------------------------------------------------------------- */

struct steps {
    int n;
    char text[32][96];
};

static int record(void *ctx, const struct plan_step *s)
{
    static const char *names[] = {"create role",   "update role",   "create client",
                                  "update client", "enable client", "delete client",
                                  "delete role",   "collision"};
    struct steps *st = ctx;
    assert_true(st->n < 32);
    snprintf(st->text[st->n++], sizeof(st->text[0]), "%s %s", names[s->op], s->name);
    return 0;
}

/* The verbose listing entries of an account in step, as the plugin lists them. */
static json_t *client_of(const struct dynsec_device *d)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:[{s:s}], s:[]}", "username", d->id, "clientid",
                     d->client_id, "textname", DYNSEC_DEVICE_TEXTNAME, "textdescription",
                     d->description, "roles", "rolename", d->role, "groups");
}

static json_t *role_of(const struct dynsec_device *d, const char *description)
{
    struct dynsec_acl a[DYNSEC_ACLS_MAX];
    size_t n = dynsec_device_acls(d->id, a);
    json_t *acls = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(acls, json_pack("{s:s, s:s, s:i, s:b}", "acltype", a[k].type, "topic",
                                              a[k].topic, "priority", -1, "allow", 1));
    return json_pack("{s:s, s:s, s:o}", "rolename", d->role, "textdescription", description, "acls",
                     acls);
}

static struct steps plan(const struct dynsec_device *want, size_t n, json_t *clients, json_t *roles)
{
    struct steps st;
    char prefix[DYNSEC_DESC_MAX + 1];
    memset(&st, 0, sizeof(st));
    assert_int_equal(dynsec_managed_prefix(USER, prefix), 0);
    assert_int_equal(plan_accounts(prefix, want, n, clients, roles, record, &st), 0);
    return st;
}

static void test_an_empty_broker_gets_a_role_then_an_account_per_device(void **state)
{
    (void)state;
    struct dynsec_device d[2];
    assert_int_equal(dynsec_device_expect(USER, "a", HASH_A, &d[0]), 0);
    assert_int_equal(dynsec_device_expect(USER, "b", HASH_B, &d[1]), 0);
    json_t *none = json_array();
    struct steps st = plan(d, 2, none, none);
    assert_int_equal(st.n, 4);
    assert_string_equal(st.text[0], "create role smartmeter-device-a");
    assert_string_equal(st.text[1], "create client a");
    assert_string_equal(st.text[2], "create role smartmeter-device-b");
    assert_string_equal(st.text[3], "create client b");
    st = plan(d, 2, NULL, NULL); /* no listing at all: the same */
    assert_int_equal(st.n, 4);
    json_decref(none);
}

static void test_accounts_in_step_are_left_alone_and_stale_ones_corrected(void **state)
{
    (void)state;
    struct dynsec_device d[2], rotated;
    char prefix[DYNSEC_DESC_MAX + 1], role_desc[DYNSEC_DESC_MAX + 16];
    dynsec_managed_prefix(USER, prefix);
    snprintf(role_desc, sizeof(role_desc), "%sdevice role", prefix);
    assert_int_equal(dynsec_device_expect(USER, "a", HASH_A, &d[0]), 0);
    assert_int_equal(dynsec_device_expect(USER, "b", HASH_A, &d[1]), 0);
    json_t *clients = json_pack("[o,o]", client_of(&d[0]), client_of(&d[1]));
    json_t *roles = json_pack("[o,o]", role_of(&d[0], role_desc), role_of(&d[1], role_desc));
    struct steps st = plan(d, 2, clients, roles);
    assert_int_equal(st.n, 0);

    /* b's secret changed: only its account is updated (its new password). */
    assert_int_equal(dynsec_device_expect(USER, "b", HASH_B, &rotated), 0);
    struct dynsec_device now[2] = {d[0], rotated};
    st = plan(now, 2, clients, roles);
    assert_int_equal(st.n, 1);
    assert_string_equal(st.text[0], "update client b");

    /* a's account edited by hand (another client id, a group, disabled); b's role's ACLs. */
    json_t *ca = json_array_get(clients, 0);
    json_object_set_new(ca, "clientid", json_string("anything"));
    json_object_set_new(ca, "disabled", json_true());
    json_array_remove(json_object_get(json_array_get(roles, 1), "acls"), 0);
    st = plan(d, 2, clients, roles);
    assert_int_equal(st.n, 3);
    assert_string_equal(st.text[0], "update client a");
    assert_string_equal(st.text[1], "enable client a");
    assert_string_equal(st.text[2], "update role smartmeter-device-b");
    json_decref(clients);
    json_decref(roles);
}

static void test_only_this_servers_accounts_of_gone_devices_are_deleted(void **state)
{
    (void)state;
    struct dynsec_device gone, foreign, kept;
    char role_desc[DYNSEC_DESC_MAX + 16];
    snprintf(role_desc, sizeof(role_desc), "managed by %s, device role", USER);
    assert_int_equal(dynsec_device_expect(USER, "gone", HASH_A, &gone), 0);
    assert_int_equal(dynsec_device_expect("staging-server", "other", HASH_A, &foreign), 0);
    assert_int_equal(dynsec_device_expect(USER, "kept", HASH_A, &kept), 0);
    /* The server's own account and an operator's tool account: not managed by anyone. */
    json_t *clients =
        json_pack("[o,o,o,{s:s,s:s,s:[{s:s}]},{s:s}]", client_of(&gone), client_of(&foreign),
                  client_of(&kept), "username", USER, "textname", "Dynsec admin user", "roles",
                  "rolename", "admin", "username", "tools");
    json_t *roles = json_pack("[o,o,o,{s:s}]", role_of(&gone, role_desc),
                              role_of(&foreign, "managed by staging-server, device role"),
                              role_of(&kept, role_desc), "rolename", "smartmeter-device-handmade");
    struct steps st = plan(&kept, 1, clients, roles);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.text[0], "delete client gone");
    assert_string_equal(st.text[1], "delete role smartmeter-device-gone");

    /* A device named like an account the server does not manage: left alone, reported. */
    struct dynsec_device named_like[3];
    assert_int_equal(dynsec_device_expect(USER, USER, HASH_A, &named_like[0]), 0);
    assert_int_equal(dynsec_device_expect(USER, "other", HASH_A, &named_like[1]), 0);
    assert_int_equal(dynsec_device_expect(USER, "handmade", HASH_A, &named_like[2]), 0);
    st = plan(named_like, 3, clients, roles);
    assert_string_equal(st.text[0], "collision meter-server");
    assert_string_equal(st.text[1], "collision other");
    assert_string_equal(st.text[2], "collision handmade");
    for (int k = 3; k < st.n; k++)
        assert_null(strstr(st.text[k], "other"));
    json_decref(clients);
    json_decref(roles);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_device_account_is_derived_from_its_secret_hash),
        cmocka_unit_test(test_a_device_may_publish_and_subscribe_only_its_own_topics),
        cmocka_unit_test(test_requests_carry_their_correlation_data),
        cmocka_unit_test(test_the_default_access_denies_publishing_and_subscribing),
        cmocka_unit_test(test_an_empty_broker_gets_a_role_then_an_account_per_device),
        cmocka_unit_test(test_accounts_in_step_are_left_alone_and_stale_ones_corrected),
        cmocka_unit_test(test_only_this_servers_accounts_of_gone_devices_are_deleted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
