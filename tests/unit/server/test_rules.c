/*
 * The cut-off rules' clock and alerts against a real SQLite store: no-cut-off
 * hours, weekends and the site calendar hold a due cut-off; the low-balance
 * and relay-mismatch alerts are raised once, cleared, and not raised again
 * after a restart (a new rules object reads them back from the events).
 * Times are injected, in Asia/Shanghai.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "cutoff.h"
#include "log.h"
#include "sitetime.h"
#include "sqlite_fixture.h"
#include "store.h"
#include "timeutil.h"

/* Asia/Shanghai, 10:00 on: */
#define FRI_HOLIDAY  INT64_C(1798768800000) /* Friday 2027-01-01, New Year's Day */
#define SAT          INT64_C(1798855200000) /* Saturday 2027-01-02 */
#define MON          INT64_C(1799028000000) /* Monday 2027-01-04 */
#define MON_NIGHT    INT64_C(1799074800000) /* Monday 2027-01-04 at 23:00 */
#define SAT_WORKDAY  INT64_C(1799460000000) /* Saturday 2027-01-09, a working day here */
#define MINUTE_MS    INT64_C(60000)

static struct sqlite_fixture fx;
static int64_t pks[4];

static int setup(void **state)
{
    (void)state;
    static const char *const devices[] = {"quiet-1", "low-1", "mis-1", "plain-1", NULL};
    return sqlite_fixture_open(&fx, "rules", devices, pks) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    sqlite_fixture_close(&fx);
    return 0;
}

static int count_events(const struct device_event *e, void *ctx)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

static int events(const char *dev, const char *prefix)
{
    int n = 0;
    assert_int_equal(store_device_events(fx.st, dev, prefix, 100, count_events, &n), 0);
    return n;
}

static int newest_kind(const struct device_event *e, void *ctx)
{
    strcpy(ctx, e->kind);
    return 0;
}

static void assert_newest(const char *dev, const char *kind)
{
    char got[STORE_EVENT_KIND_MAX + 1] = "";
    assert_int_equal(store_device_events(fx.st, dev, NULL, 1, newest_kind, got), 0);
    assert_string_equal(got, kind);
}

static void round_at(int64_t now)
{
    struct commands_rules *rules;
    assert_int_equal(commands_rules_new(&rules), 0);
    assert_int_equal(commands_cutoff_round(fx.st, &cutoff_settings_defaults, rules, now), 0);
    commands_rules_free(rules);
}

static void test_hours_as_text(void **state)
{
    (void)state;
    int from = -1, to = -1;
    char out[CUTOFF_HOURS_LEN];
    assert_int_equal(cutoff_hours_parse("22:00-06:30", &from, &to), 0);
    assert_int_equal(from, 22 * 60);
    assert_int_equal(to, 6 * 60 + 30);
    cutoff_hours_format(from, to, out);
    assert_string_equal(out, "22:00-06:30");
    assert_int_equal(cutoff_hours_parse("", &from, &to), 0);
    assert_int_equal(from, 0);
    assert_int_equal(to, 0);
    cutoff_hours_format(from, to, out);
    assert_string_equal(out, "");
    static const char *const bad[] = {"22:00",       "22:00-6:30",  "24:00-06:00", "22:00-06:60",
                                      "22:00 06:00", "22:00-06:00x", "aa:bb-cc:dd", "-"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++)
        assert_int_equal(cutoff_hours_parse(bad[k], &from, &to), -EINVAL);
}

static void test_the_clock_of_the_site(void **state)
{
    (void)state;
    struct cutoff_clock c = cutoff_clock_make(600, 6, CUTOFF_DAY_PLAIN);
    assert_true(c.weekend);
    assert_false(c.holiday);
    c = cutoff_clock_make(600, 0, CUTOFF_DAY_WORKDAY);
    assert_false(c.weekend);
    c = cutoff_clock_make(600, 3, CUTOFF_DAY_HOLIDAY);
    assert_false(c.weekend);
    assert_true(c.holiday);

    struct calendar_day days[] = {{"2027-01-01", CALENDAR_HOLIDAY}, {"2027-01-09", CALENDAR_WORKDAY}};
    assert_int_equal(store_calendar_set(fx.st, days, 2), 0);
    assert_int_equal(commands_clock_at(fx.st, FRI_HOLIDAY, &c), 0);
    assert_true(c.holiday);
    assert_false(c.weekend);
    assert_int_equal(c.minute, 600);
    assert_int_equal(commands_clock_at(fx.st, SAT, &c), 0);
    assert_true(c.weekend);
    assert_int_equal(commands_clock_at(fx.st, SAT_WORKDAY, &c), 0);
    assert_false(c.weekend);
    assert_false(c.holiday);
    assert_int_equal(commands_clock_at(fx.st, MON_NIGHT, &c), 0);
    assert_int_equal(c.minute, 23 * 60);

    /* a bad calendar is refused whole */
    struct calendar_day twice[] = {{"2027-05-01", CALENDAR_HOLIDAY}, {"2027-05-01", CALENDAR_WORKDAY}};
    assert_int_equal(store_calendar_set(fx.st, twice, 2), -EINVAL);
    struct calendar_day feb30[] = {{"2027-02-30", CALENDAR_HOLIDAY}};
    assert_int_equal(store_calendar_set(fx.st, feb30, 1), -EINVAL);
    assert_int_equal(commands_clock_at(fx.st, FRI_HOLIDAY, &c), 0);
    assert_true(c.holiday);
}

/* A due cut-off waits through a holiday, a weekend and the night, and happens on the working
   Saturday the calendar lists. */
static void test_the_no_cutoff_time_holds_a_due_cutoff(void **state)
{
    (void)state;
    struct calendar_day days[] = {{"2027-01-01", CALENDAR_HOLIDAY}, {"2027-01-09", CALENDAR_WORKDAY}};
    assert_int_equal(store_calendar_set(fx.st, days, 2), 0);
    struct billing_settings_change ch = {.has_no_cutoff_hours = true,
                                         .no_cutoff_from_min = 22 * 60,
                                         .no_cutoff_to_min = 6 * 60,
                                         .has_no_cutoff_weekends = true,
                                         .no_cutoff_weekends = true,
                                         .has_no_cutoff_holidays = true,
                                         .no_cutoff_holidays = true};
    struct billing_settings bs;
    assert_int_equal(store_billing_settings_set(fx.st, pks[0], &ch, &bs), 0);
    assert_int_equal(bs.no_cutoff_from_min, 22 * 60);
    assert_true(bs.no_cutoff_weekends && bs.no_cutoff_holidays);
    assert_int_equal(store_billing_settings_get(fx.st, pks[0], &bs), 0);
    assert_int_equal(bs.no_cutoff_to_min, 6 * 60);
    /* 0.00: at the cut-off level */
    struct command_rec c;
    static const int64_t held[] = {FRI_HOLIDAY, SAT, MON_NIGHT};
    for (size_t k = 0; k < 3; k++) {
        round_at(held[k]);
        assert_int_equal(store_command_latest(fx.st, "quiet-1", "relay", &c), -ENOENT);
    }
    round_at(SAT_WORKDAY);
    assert_int_equal(store_command_latest(fx.st, "quiet-1", "relay", &c), 0);
    assert_false(c.relay_on);
    assert_string_equal(c.actor, COMMANDS_ACTOR_CUTOFF);
}

static void test_the_low_balance_alert_is_raised_once_across_restarts(void **state)
{
    (void)state;
    struct recharge_result res;
    assert_int_equal(store_recharge(fx.st, pks[1], 500, 0, "low-1", &res), 0);
    round_at(MON);
    assert_int_equal(events("low-1", "balance."), 1);
    assert_newest("low-1", COMMANDS_EVENT_LOW);
    round_at(MON + MINUTE_MS); /* a restart: new rules, nothing raised twice */
    assert_int_equal(events("low-1", "balance."), 1);
    /* 25.00 is above 20.00 + the margin: cleared, once */
    assert_int_equal(store_recharge(fx.st, pks[1], 2000, 0, "low-2", &res), 0);
    round_at(MON + 2 * MINUTE_MS);
    round_at(MON + 3 * MINUTE_MS);
    assert_int_equal(events("low-1", "balance."), 2);
    assert_newest("low-1", COMMANDS_EVENT_LOW_CLEARED);
    /* the level raised past the balance: raised again */
    struct billing_settings_change ch = {.has_low_balance = true, .low_balance_fen = 3000};
    assert_int_equal(store_billing_settings_set(fx.st, pks[1], &ch, NULL), 0);
    round_at(MON + 4 * MINUTE_MS);
    assert_int_equal(events("low-1", "balance."), 3);
    assert_newest("low-1", COMMANDS_EVENT_LOW);
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
    assert_int_equal(store_readings_insert(fx.st, pk, &r, 1, &n), 0);
    assert_int_equal(n, 1);
}

/* The meter keeps reporting "on" after an operator's "off": an alert after
   COMMANDS_MISMATCH_ALERT_MS, not before, once (across a restart), cleared when it agrees. */
static void test_a_relay_that_does_not_obey_raises_an_alert(void **state)
{
    (void)state;
    /* readings from the future are refused: this one happens in the last hour */
    const int64_t T = time_now_ms() - 60 * MINUTE_MS;
    assert_int_equal(store_device_set_status(fx.st, pks[2], DEVICE_STATUS_ONLINE, T), 0);
    char id[STORE_COMMAND_ID_MAX + 1];
    assert_int_equal(
        commands_relay_request(fx.st, "mis-1", false, "op", "maintenance", T, COMMANDS_TTL_MS, id),
        0);
    reading_with_relay(pks[2], 1, T + 1000, "on");
    struct commands_rules *rules;
    assert_int_equal(commands_rules_new(&rules), 0);
    assert_int_equal(commands_cutoff_round(fx.st, &cutoff_settings_defaults, rules, T + 2000), 0);
    int64_t late = T + 2000 + COMMANDS_MISMATCH_ALERT_MS;
    assert_int_equal(commands_cutoff_round(fx.st, &cutoff_settings_defaults, rules, late - 1), 0);
    assert_int_equal(events("mis-1", "relay."), 0);
    assert_int_equal(commands_cutoff_round(fx.st, &cutoff_settings_defaults, rules, late), 0);
    assert_int_equal(events("mis-1", "relay."), 1);
    assert_newest("mis-1", COMMANDS_EVENT_MISMATCH);
    commands_rules_free(rules);
    round_at(late + 10 * MINUTE_MS); /* a restart: still the same mismatch, not raised again */
    assert_int_equal(events("mis-1", "relay."), 1);
    /* the meter reports "off" at last, as asked: cleared */
    reading_with_relay(pks[2], 2, late + 11 * MINUTE_MS, "off");
    round_at(late + 12 * MINUTE_MS);
    assert_int_equal(events("mis-1", "relay."), 2);
    assert_newest("mis-1", COMMANDS_EVENT_MISMATCH_CLEARED);
    /* a meter without a relay, or no command: never a mismatch */
    reading_with_relay(pks[3], 1, T, "on");
    round_at(late + 13 * MINUTE_MS);
    assert_int_equal(events("plain-1", NULL), 0);
}

int main(void)
{
    log_set_level(LOGL_ERROR);
    char err[128];
    if (sitetime_set_zone("Asia/Shanghai", err, sizeof(err)))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hours_as_text),
        cmocka_unit_test_setup_teardown(test_the_clock_of_the_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_no_cutoff_time_holds_a_due_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_low_balance_alert_is_raised_once_across_restarts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_relay_that_does_not_obey_raises_an_alert, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
