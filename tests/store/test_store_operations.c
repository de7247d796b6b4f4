/*
 * Remote operations over a real store, on every backend: read_status,
 * set_interval and sync_clock queued, sent signed with their fields, made
 * done by the meter's "ok" with the result kept, failed by an "error", a
 * newer set_interval taking an outstanding one's place, nothing sent to an
 * offline meter until it is back. Usage: test_store_operations URL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "operations.h"
#include "sign.h"
#include "store.h"
#include "store_fixture.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0_MS  INT64_C(1796079600000)

struct sent {
    int n;
    char topic[8][128];
    char payload[8][512];
};

static int fake_publish(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct sent *s = ctx;
    assert_true(s->n < 8);
    snprintf(s->topic[s->n], sizeof(s->topic[0]), "%s", topic);
    snprintf(s->payload[s->n], sizeof(s->payload[0]), "%.*s", (int)len, (const char *)payload);
    s->n++;
    return 0;
}

static int64_t add_device(const char *name, bool online)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    if (online)
        assert_int_equal(store_device_set_status(st, id, DEVICE_STATUS_ONLINE, T0_MS - 1000), 0);
    return id;
}

static struct command_rec get(const char *id)
{
    struct command_rec c;
    assert_int_equal(store_command_get(st, NULL, id, &c), 0);
    return c;
}

/* Sends what is due at now and parses the last payload (signature checked) into *ret. */
static void send_and_parse(struct sent *out, int64_t now, size_t want, struct command *ret)
{
    struct commands_publisher pub = {fake_publish, out};
    size_t n;
    assert_int_equal(commands_send_due(st, &pub, now, &n), 0);
    assert_int_equal(n, want);
    if (!want)
        return;
    const char *p = out->payload[out->n - 1];
    struct sign_key key;
    assert_int_equal(sign_key_from_hex(HASH_A, &key), 0);
    assert_int_equal(sign_check(&key, out->topic[out->n - 1], p, strlen(p)), 0);
    assert_int_equal(command_parse(p, strlen(p), now, ret), 0);
}

static void reply(const char *device, const char *id, bool ok, const char *msg, const char *result)
{
    struct command_reply rep = {.ok = ok};
    snprintf(rep.id, sizeof(rep.id), "%s", id);
    rep.has_message = msg != NULL;
    snprintf(rep.message, sizeof(rep.message), "%s", msg ? msg : "");
    rep.has_result = result != NULL;
    snprintf(rep.result, sizeof(rep.result), "%s", result ? result : "");
    assert_int_equal(commands_on_reply(st, device, &rep, T0_MS + 5000), 0);
}

static void test_read_status_is_done_with_its_result(void **state)
{
    (void)state;
    add_device("op-1", true);
    char id[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(operations_request(st, "op-1", COMMAND_READ_STATUS, 0, "op", NULL, T0_MS,
                                        OPERATIONS_TTL_MS, id),
                     0);
    struct command_rec c = get(id);
    assert_string_equal(c.kind, "read_status");
    assert_int_equal(c.state, CMD_QUEUED);
    assert_string_equal(c.result, "");
    assert_string_equal(c.reason, "read the meter's status");
    struct sent out = {0};
    struct command cmd;
    send_and_parse(&out, T0_MS + 10, 1, &cmd);
    assert_int_equal(cmd.kind, COMMAND_READ_STATUS);
    assert_string_equal(cmd.id, id);
    assert_int_equal(get(id).state, CMD_SENT);
    reply("op-1", id, true, NULL, "{\"uptime_s\":12,\"spool_depth\":0}");
    c = get(id);
    assert_int_equal(c.state, CMD_DONE);
    assert_string_equal(c.result, "{\"uptime_s\":12,\"spool_depth\":0}");
    assert_int_equal(c.finished_ms, T0_MS + 5000);
    /* a late copy of the answer changes nothing */
    reply("op-1", id, false, "late", "{\"x\":1}");
    c = get(id);
    assert_int_equal(c.state, CMD_DONE);
    assert_string_equal(c.result, "{\"uptime_s\":12,\"spool_depth\":0}");
    /* another device's reply to it is not taken */
    add_device("op-1b", true);
    struct command_reply rep = {.ok = true};
    snprintf(rep.id, sizeof(rep.id), "%s", id);
    assert_int_equal(commands_on_reply(st, "op-1b", &rep, T0_MS + 6000), -ENOENT);
}

static void test_a_newer_interval_replaces_an_outstanding_one(void **state)
{
    (void)state;
    add_device("op-2", true);
    char a[STORE_COMMAND_ID_MAX + 1], b[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(operations_request(st, "op-2", COMMAND_SET_INTERVAL, 60000, "op", "", T0_MS,
                                        OPERATIONS_TTL_MS, a),
                     0);
    assert_int_equal(get(a).interval_ms, 60000);
    assert_int_equal(operations_request(st, "op-2", COMMAND_SET_INTERVAL, 2500, "op", "faster",
                                        T0_MS + 1, OPERATIONS_TTL_MS, b),
                     0);
    assert_int_equal(get(a).state, CMD_FAILED);
    assert_non_null(strstr(get(a).message, b));
    struct sent out = {0};
    struct command cmd;
    send_and_parse(&out, T0_MS + 10, 1, &cmd);
    assert_int_equal(cmd.kind, COMMAND_SET_INTERVAL);
    assert_int_equal(cmd.interval_ms, 2500);
    assert_non_null(strstr(out.payload[0], "\"interval_s\":2.5"));
    reply("op-2", b, false, "cannot save the interval", NULL);
    struct command_rec c = get(b);
    assert_int_equal(c.state, CMD_FAILED);
    assert_string_equal(c.message, "the meter refused: cannot save the interval");
    /* out of bounds: refused before anything is stored */
    assert_int_equal(operations_request(st, "op-2", COMMAND_SET_INTERVAL, 99, "op", NULL, T0_MS,
                                        OPERATIONS_TTL_MS, a),
                     -EINVAL);
    assert_int_equal(operations_request(st, "op-2", COMMAND_SET_INTERVAL, 3600001, "op", NULL,
                                        T0_MS, OPERATIONS_TTL_MS, a),
                     -EINVAL);
    assert_int_equal(
        operations_request(st, "op-2", COMMAND_RELAY, 0, "op", NULL, T0_MS, OPERATIONS_TTL_MS, a),
        -EINVAL);
}

static void test_sync_clock_waits_for_the_meter_and_carries_the_send_time(void **state)
{
    (void)state;
    int64_t pk = add_device("op-3", false);
    char id[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(operations_request(st, "op-3", COMMAND_SYNC_CLOCK, 0, "op", NULL, T0_MS,
                                        OPERATIONS_TTL_MS, id),
                     0);
    struct sent out = {0};
    struct command cmd;
    send_and_parse(&out, T0_MS + 10, 0, &cmd); /* offline: nothing sent */
    assert_int_equal(get(id).state, CMD_QUEUED);
    assert_int_equal(store_device_set_status(st, pk, DEVICE_STATUS_ONLINE, T0_MS + 50000), 0);
    send_and_parse(&out, T0_MS + 60000, 1, &cmd);
    assert_int_equal(cmd.kind, COMMAND_SYNC_CLOCK);
    assert_int_equal(cmd.server_ms, T0_MS + 60000);
    /* unanswered: sent again with the same id and the clock of that send */
    send_and_parse(&out, T0_MS + 60001 + COMMANDS_RESEND_MS, 1, &cmd);
    assert_string_equal(cmd.id, id);
    assert_int_equal(cmd.server_ms, T0_MS + 60001 + COMMANDS_RESEND_MS);
    reply("op-3", id, true, NULL, "{\"offset_ms\":-40,\"action\":\"reported\"}");
    struct command_rec c = get(id);
    assert_int_equal(c.state, CMD_DONE);
    assert_int_equal(c.sends, 2);
    assert_string_equal(c.result, "{\"offset_ms\":-40,\"action\":\"reported\"}");
}

static int group_setup(void **state)
{
    (void)state;
    return store_fixture_open(url, STORE_FIXTURE_MIGRATE | STORE_FIXTURE_UTC, &st);
}

static int group_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_status_is_done_with_its_result),
        cmocka_unit_test(test_a_newer_interval_replaces_an_outstanding_one),
        cmocka_unit_test(test_sync_clock_waits_for_the_meter_and_carries_the_send_time),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
