/*
 * Commands to meters and the cut-off rules over a real store, on every
 * backend like test_store_contract.c: the states of a command, the newest
 * relay intent winning, what is due for sending, expiry, replies, readings
 * confirming or contradicting the intent, and the rules cutting and
 * restoring a prepaid device as its balance moves through the ledger (real
 * recharges), never a protected one; the low-balance alert's hysteresis.
 * Usage: test_store_commands URL   (sqlite:PATH or mysql://...; the database
 * must be empty; a sqlite file is removed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "commands.h"
#include "cutoff.h"
#include "sign.h"
#include "sitetime.h"
#include "store.h"
#include "store_fixture.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* The site clock at local minute m of a plain weekday. */
#define AT(m) (&(struct cutoff_clock){.minute = (m)})
#define T0_MS INT64_C(1796079600000)

static int64_t add_device(const char *name, bool online)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    if (online)
        assert_int_equal(store_device_set_status(st, id, DEVICE_STATUS_ONLINE, T0_MS - 1000), 0);
    return id;
}

struct sent {
    int n;
    char topic[8][128];
    char payload[8][512];
    int fail; /* publish answers this */
};

static int fake_publish(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct sent *s = ctx;
    if (s->fail)
        return s->fail;
    assert_true(s->n < 8);
    snprintf(s->topic[s->n], sizeof(s->topic[0]), "%s", topic);
    snprintf(s->payload[s->n], sizeof(s->payload[0]), "%.*s", (int)len, (const char *)payload);
    s->n++;
    return 0;
}

static void reading_with_relay(int64_t pk, uint64_t seq, int64_t ts, const char *relay)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, strcmp(relay, "on") == 0 ? 10 : 0);
    assert_int_equal(reading_set_label(&r, RL_RELAY, relay), 0);
    size_t n;
    assert_int_equal(store_readings_insert(st, pk, &r, 1, &n), 0);
    assert_int_equal(n, 1);
}

static struct command_rec get(const char *id)
{
    struct command_rec c;
    assert_int_equal(store_command_get(st, NULL, id, &c), 0);
    return c;
}

static void test_a_relay_command_goes_from_queued_to_done(void **state)
{
    (void)state;
    int64_t pk = add_device("cmd-1", true);
    struct sent out = {0};
    struct commands_publisher pub = {fake_publish, &out};
    char id[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(
        commands_relay_request(st, "cmd-1", false, "op", "unpaid bill", T0_MS, COMMANDS_TTL_MS, id),
        0);
    struct command_rec c = get(id);
    assert_int_equal(c.state, CMD_QUEUED);
    assert_false(c.relay_on);
    assert_string_equal(c.actor, "op");
    assert_string_equal(c.reason, "unpaid bill");
    assert_int_equal(c.expires_ms, T0_MS + COMMANDS_TTL_MS);

    size_t n;
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 10, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out.topic[0], "meters/cmd-1/cmd");
    /* signed with the device's key, as the meter checks it */
    struct sign_key key;
    assert_int_equal(sign_key_from_hex(HASH_A, &key), 0);
    assert_int_equal(sign_check(&key, out.topic[0], out.payload[0], strlen(out.payload[0])), 0);
    struct command parsed;
    assert_int_equal(command_parse(out.payload[0], strlen(out.payload[0]), T0_MS + 10, &parsed), 0);
    assert_int_equal(parsed.kind, COMMAND_RELAY);
    assert_false(parsed.relay_on);
    assert_string_equal(parsed.id, id);
    c = get(id);
    assert_int_equal(c.state, CMD_SENT);
    assert_int_equal(c.sends, 1);
    assert_int_equal(c.sent_ms, T0_MS + 10);

    /* not due again until COMMANDS_RESEND_MS passed without an answer; then the same id */
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 20, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 11 + COMMANDS_RESEND_MS, &n), 0);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out.payload[1], id));
    assert_int_equal(get(id).sends, 2);

    /* the meter's answer, then a reading from before the send changes nothing, one after: done */
    struct command_reply rep = {.ok = true};
    snprintf(rep.id, sizeof(rep.id), "%s", id);
    assert_int_equal(commands_on_reply(st, "cmd-1", &rep, T0_MS + 20000), 0);
    assert_int_equal(get(id).state, CMD_ACKNOWLEDGED);
    assert_int_equal(commands_on_reply(st, "cmd-1", &rep, T0_MS + 20001), 0); /* a copy */
    struct device_rec dev;
    assert_int_equal(store_device_by_name(st, "cmd-1", &dev), 0);
    reading_with_relay(pk, 1, T0_MS, "on");
    assert_int_equal(commands_reconcile(st, &dev, T0_MS + 20500), 0);
    assert_int_equal(get(id).state, CMD_ACKNOWLEDGED);
    reading_with_relay(pk, 2, T0_MS + 21000, "off");
    assert_int_equal(commands_reconcile(st, &dev, T0_MS + 21500), 0);
    c = get(id);
    assert_int_equal(c.state, CMD_DONE);
    assert_int_equal(c.finished_ms, T0_MS + 21500);
    bool on;
    int64_t ts;
    assert_int_equal(store_device_relay(st, pk, &on, &ts), 0);
    assert_false(on);
    assert_int_equal(ts, T0_MS + 21000);

    /* another device's id is not this device's command; an unknown id is a capture's */
    assert_int_equal(store_command_get(st, "cmd-x", id, &c), -ENOENT);
    snprintf(rep.id, sizeof(rep.id), "nope");
    assert_int_equal(commands_on_reply(st, "cmd-1", &rep, T0_MS), -ENOENT);

    /* a later reading contradicting the done intent queues it again, in the asker's name */
    reading_with_relay(pk, 3, T0_MS + 40000, "on");
    assert_int_equal(commands_reconcile(st, &dev, T0_MS + 40500), 0);
    struct command_rec again;
    assert_int_equal(store_command_latest(st, "cmd-1", "relay", &again), 0);
    assert_string_not_equal(again.id, id);
    assert_int_equal(again.state, CMD_QUEUED);
    assert_false(again.relay_on);
    assert_string_equal(again.actor, "op");
    assert_non_null(strstr(again.reason, COMMANDS_ACTOR_RESEND));
    /* away: its commands wait (and stay out of the next test's sends) */
    assert_int_equal(store_device_set_status(st, pk, DEVICE_STATUS_OFFLINE, T0_MS + 50000), 0);
}

static void test_the_newest_intent_wins_and_offline_meters_wait(void **state)
{
    (void)state;
    add_device("cmd-2", false);
    struct sent out = {0};
    struct commands_publisher pub = {fake_publish, &out};
    char a[STORE_COMMAND_ID_MAX + 1], b[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(commands_relay_request(st, "cmd-2", false, "op", "x", T0_MS, 60000, a), 0);
    assert_int_equal(commands_relay_request(st, "cmd-2", true, "op", "y", T0_MS + 1, 60000, b), 0);
    struct command_rec ca = get(a), cb = get(b);
    assert_int_equal(ca.state, CMD_FAILED);
    char want[128];
    snprintf(want, sizeof(want), "superseded by %s", b);
    assert_string_equal(ca.message, want);
    assert_int_equal(cb.state, CMD_QUEUED);

    /* offline: nothing goes out; the broker away: it stays queued */
    size_t n;
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 2, &n), 0);
    assert_int_equal(n, 0);
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "cmd-2", &d), 0);
    assert_int_equal(store_device_set_status(st, d.id, DEVICE_STATUS_ONLINE, T0_MS + 3), 0);
    out.fail = -ENOTCONN;
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(get(b).state, CMD_QUEUED);
    /* the meter refuses: failed with its reason */
    out.fail = 0;
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 5, &n), 0);
    assert_int_equal(n, 1);
    struct command_reply rep = {.ok = false, .has_message = true};
    snprintf(rep.id, sizeof(rep.id), "%s", b);
    snprintf(rep.message, sizeof(rep.message), "superseded by a newer relay command");
    assert_int_equal(commands_on_reply(st, "cmd-2", &rep, T0_MS + 6), 0);
    cb = get(b);
    assert_int_equal(cb.state, CMD_FAILED);
    assert_string_equal(cb.message, "the meter refused: superseded by a newer relay command");

    /* unanswered past its TTL: expired */
    char c[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(commands_relay_request(st, "cmd-2", false, "op", "z", T0_MS + 7, 1000, c), 0);
    assert_int_equal(commands_send_due(st, &pub, T0_MS + 2000, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(get(c).state, CMD_EXPIRED);

    /* bad requests */
    assert_int_equal(commands_relay_request(st, "cmd-2", false, "", "z", T0_MS, 1000, c), -EINVAL);
    assert_int_equal(commands_relay_request(st, "cmd-2", false, "op", "", T0_MS, 1000, c), -EINVAL);
    assert_int_equal(commands_relay_request(st, "cmd-2", false, "op", "z", T0_MS, 0, c), -EINVAL);
}

/* Settings for the rules test: prepaid, cut at 10.00, low at 30.00; "prot-" devices protected. */
static int test_settings(void *ctx, struct store *s, int64_t device_pk, struct cutoff_settings *ret)
{
    (void)ctx;
    (void)s;
    (void)device_pk;
    *ret =
        (struct cutoff_settings){.prepaid = true, .low_balance_fen = 3000, .cutoff_at_fen = 1000};
    return 0;
}

static int protected_settings(void *ctx, struct store *s, int64_t device_pk,
                              struct cutoff_settings *ret)
{
    test_settings(ctx, s, device_pk, ret);
    ret->protected_device = true;
    return 0;
}

static void recharge(int64_t pk, int64_t fen, const char *key)
{
    struct recharge_result res;
    assert_int_equal(store_recharge(st, pk, fen, 0, key, &res), 0);
}

static void test_the_rules_cut_and_restore_by_the_balance(void **state)
{
    (void)state;
    int64_t pk = add_device("rule-1", true);
    struct cutoff_settings_source src = {test_settings, NULL};
    struct commands_rules *rules;
    struct command_rec c;
    assert_int_equal(commands_rules_new(&rules), 0);

    /* 5.00 yuan: under the cut-off level of 10.00 */
    recharge(pk, 500, "r1");
    assert_int_equal(commands_cutoff_round(st, &src, rules, T0_MS), 0);
    assert_int_equal(store_command_latest(st, "rule-1", "relay", &c), 0);
    assert_false(c.relay_on);
    assert_string_equal(c.actor, COMMANDS_ACTOR_CUTOFF);
    assert_non_null(strstr(c.reason, "balance 5.00 at or below the cut-off level 10.00"));
    char first[STORE_COMMAND_ID_MAX + 1];
    memcpy(first, c.id, sizeof(first));
    /* a second round asks nothing more */
    assert_int_equal(commands_cutoff_round(st, &src, rules, T0_MS + 500), 0);
    assert_int_equal(store_command_latest(st, "rule-1", "relay", &c), 0);
    assert_string_equal(c.id, first);

    /* +5.50: 10.50 is not above 10.00 + the 1.00 margin; +1.00 more is */
    recharge(pk, 550, "r2");
    assert_int_equal(commands_cutoff_round(st, &src, rules, T0_MS + 1000), 0);
    assert_int_equal(store_command_latest(st, "rule-1", "relay", &c), 0);
    assert_string_equal(c.id, first);
    recharge(pk, 100, "r3");
    assert_int_equal(commands_cutoff_round(st, &src, rules, T0_MS + 2000), 0);
    assert_int_equal(store_command_latest(st, "rule-1", "relay", &c), 0);
    assert_true(c.relay_on);
    assert_string_equal(c.actor, COMMANDS_ACTOR_CUTOFF);
    assert_non_null(strstr(c.reason, "above the cut-off level"));

    /* an operator's "off" is never lifted by the rules */
    char op[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(commands_relay_request(st, "rule-1", false, "op", "maintenance", T0_MS + 3000,
                                            COMMANDS_TTL_MS, op),
                     0);
    assert_int_equal(commands_cutoff_round(st, &src, rules, T0_MS + 4000), 0);
    assert_int_equal(store_command_latest(st, "rule-1", "relay", &c), 0);
    assert_string_equal(c.id, op);
    commands_rules_free(rules);
}

static void test_no_cutoff_hours_and_protected_devices_keep_the_load(void **state)
{
    (void)state;
    int64_t pk = add_device("rule-2", true);
    int64_t prot = add_device("prot-1", true);
    struct commands_rules *rules;
    struct command_rec c;
    assert_int_equal(commands_rules_new(&rules), 0);
    recharge(pk, 1, "q1");
    recharge(prot, 1, "q2");
    struct cutoff_settings_source protect = {protected_settings, NULL};
    /* a protected device at 0.01 is never cut */
    assert_int_equal(commands_cutoff_round(st, &protect, rules, T0_MS), 0);
    assert_int_equal(store_command_latest(st, "prot-1", "relay", &c), -ENOENT);
    assert_int_equal(store_command_latest(st, "rule-2", "relay", &c), -ENOENT);
    commands_rules_free(rules);

    /* the pure decision: no-cut-off hours 22:00 to 06:00 hold a cut until they end */
    struct cutoff_settings s = {.prepaid = true,
                                .cutoff_at_fen = 0,
                                .low_balance_fen = 2000,
                                .no_cutoff_from_min = 22 * 60,
                                .no_cutoff_to_min = 6 * 60};
    assert_int_equal(cutoff_decide(&s, 0, true, AT(23 * 60)), CUTOFF_KEEP);
    assert_int_equal(cutoff_decide(&s, 0, true, AT(3 * 60)), CUTOFF_KEEP);
    assert_int_equal(cutoff_decide(&s, 0, true, AT(6 * 60)), CUTOFF_SWITCH_OFF);
    assert_int_equal(cutoff_decide(&s, -500, true, AT(12 * 60)), CUTOFF_SWITCH_OFF);
    assert_int_equal(cutoff_decide(&s, 1, true, AT(12 * 60)), CUTOFF_KEEP);
    assert_int_equal(cutoff_decide(&s, 100, false, AT(12 * 60)), CUTOFF_KEEP);
    assert_int_equal(cutoff_decide(&s, 101, false, AT(12 * 60)), CUTOFF_SWITCH_ON);
    s.prepaid = false;
    assert_int_equal(cutoff_decide(&s, -500, true, AT(12 * 60)), CUTOFF_KEEP);
    /* the low-balance alert: once per crossing, again only after rising above low + margin */
    s.prepaid = true;
    bool alerted = false;
    assert_true(cutoff_low_alert(&s, 2000, &alerted));
    assert_false(cutoff_low_alert(&s, 1500, &alerted));
    assert_false(cutoff_low_alert(&s, 2100, &alerted)); /* not above 20.00 + 1.00 */
    assert_false(cutoff_low_alert(&s, 1900, &alerted));
    assert_false(cutoff_low_alert(&s, 2101, &alerted)); /* re-armed */
    assert_true(cutoff_low_alert(&s, 1999, &alerted));
}

static void test_the_default_settings_leave_devices_without_money_alone(void **state)
{
    (void)state;
    int64_t pk = add_device("dflt-1", true);
    struct cutoff_settings cs;
    assert_int_equal(cutoff_settings_defaults.get(NULL, st, pk, &cs), 0);
    assert_false(cs.prepaid);
    recharge(pk, 100, "d1");
    assert_int_equal(cutoff_settings_defaults.get(NULL, st, pk, &cs), 0);
    assert_true(cs.prepaid);
    assert_int_equal(cs.cutoff_at_fen, 0);
    assert_int_equal(cs.low_balance_fen, 2000);
    assert_false(cs.protected_device);
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

/* store_commands_count(): every state, moving as a command goes through them (GET /metrics). */
static void test_commands_are_counted_by_state(void **state)
{
    (void)state;
    uint64_t before[CMD__COUNT], after[CMD__COUNT];
    assert_int_equal(store_commands_count(st, before), 0);
    add_device("count-1", true);
    char id[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(
        commands_relay_request(st, "count-1", false, "op", "count", T0_MS, COMMANDS_TTL_MS, id), 0);
    assert_int_equal(store_commands_count(st, after), 0);
    assert_int_equal(after[CMD_QUEUED], before[CMD_QUEUED] + 1);
    assert_int_equal(after[CMD_SENT], before[CMD_SENT]);
    assert_int_equal(store_command_move(st, id, CMD_BIT(CMD_QUEUED), CMD_SENT, T0_MS + 1, NULL), 0);
    assert_int_equal(store_commands_count(st, after), 0);
    assert_int_equal(after[CMD_QUEUED], before[CMD_QUEUED]);
    assert_int_equal(after[CMD_SENT], before[CMD_SENT] + 1);
    uint64_t total = 0;
    for (int k = 0; k < CMD__COUNT; k++)
        total += after[k];
    uint64_t all = 0;
    for (int k = 0; k < CMD__COUNT; k++)
        all += before[k];
    assert_int_equal(total, all + 1);
}

/* store_devices_having(): what the rounds over every device query, each device once, ascending. */
static void check_having(enum device_having what, const int64_t *in, size_t n_in,
                         const int64_t *out, size_t n_out)
{
    int64_t *pks = NULL;
    size_t n = 0;
    assert_int_equal(store_devices_having(st, what, &pks, &n), 0);
    for (size_t k = 1; k < n; k++)
        assert_true(pks[k - 1] < pks[k]);
    for (size_t k = 0; k < n_in; k++)
        assert_true(device_pks_have(pks, n, in[k]));
    for (size_t k = 0; k < n_out; k++)
        assert_false(device_pks_have(pks, n, out[k]));
    free(pks);
}

static void test_the_devices_having_commands_events_or_money(void **state)
{
    (void)state;
    int64_t none = add_device("having-none", true), cmd = add_device("having-cmd", true);
    int64_t evt = add_device("having-evt", true), paid = add_device("having-paid", true);
    int64_t own = add_device("having-own", true);
    char id[STORE_COMMAND_ID_MAX + 1];
    for (int k = 0; k < 3; k++) /* three commands: the device once */
        assert_int_equal(commands_relay_request(st, "having-cmd", k % 2, "op", "having", T0_MS + k,
                                                COMMANDS_TTL_MS, id),
                         0);
    assert_int_equal(store_device_event_add(st, "having-evt", T0_MS, "balance.low", "low"), 0);
    assert_int_equal(store_device_event_add(st, "having-evt", T0_MS + 1, "balance.ok", "ok"), 0);
    recharge(paid, 100, "having-1");
    recharge(paid, 100, "having-2");
    struct billing_settings_change ch = {.has_protected = true, .is_protected = true};
    assert_int_equal(store_billing_settings_set(st, own, &ch, NULL), 0);

    check_having(DEVICES_HAVING_COMMANDS, (int64_t[]){cmd}, 1, (int64_t[]){none, evt, paid, own},
                 4);
    check_having(DEVICES_HAVING_EVENTS, (int64_t[]){evt}, 1, (int64_t[]){none, cmd, paid, own}, 4);
    check_having(DEVICES_HAVING_MONEY, (int64_t[]){paid, own}, 2, (int64_t[]){none, cmd, evt}, 3);
    int64_t *pks = NULL;
    size_t n = 0;
    assert_int_equal(store_devices_having(st, DEVICES_HAVING__COUNT, &pks, &n), -EINVAL);
    assert_false(device_pks_have(NULL, 0, none));
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_relay_command_goes_from_queued_to_done),
        cmocka_unit_test(test_the_newest_intent_wins_and_offline_meters_wait),
        cmocka_unit_test(test_the_rules_cut_and_restore_by_the_balance),
        cmocka_unit_test(test_no_cutoff_hours_and_protected_devices_keep_the_load),
        cmocka_unit_test(test_the_default_settings_leave_devices_without_money_alone),
        cmocka_unit_test(test_commands_are_counted_by_state),
        cmocka_unit_test(test_the_devices_having_commands_events_or_money),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
