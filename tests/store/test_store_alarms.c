/*
 * Alarms over a real store, on every backend like test_store_contract.c: the
 * lifecycle (raised once per episode, acknowledged by whom with a note,
 * cleared), filters and per-user visibility, the per-device rule overrides,
 * and the alarm service on the store: a reading past a limit raises, a
 * normal one clears, a silent meter goes offline and comes back, the command
 * service's alerts become alarms, and each change reaches the live stream.
 * Usage: test_store_alarms URL   (sqlite:PATH or mysql://...; the database
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

#include "alarms.h"
#include "commands.h"
#include "meta.h"
#include "store.h"
#include "store_fixture.h"
#include "timeutil.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0_MS  INT64_C(1796079600000)

static int64_t add_device(const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    return id;
}

static int64_t raise_one(const char *device, const char *kind, const char *severity,
                         const char *site, int64_t at, bool *fresh)
{
    struct alarm_rec a = {
        .has_value = true, .value = 250.5, .has_limit = true, .limit = 235.4, .raised_ms = at};
    snprintf(a.device_id, sizeof(a.device_id), "%s", device);
    snprintf(a.kind, sizeof(a.kind), "%s", kind);
    snprintf(a.severity, sizeof(a.severity), "%s", severity);
    snprintf(a.site, sizeof(a.site), "%s", site);
    snprintf(a.message, sizeof(a.message), "over-voltage \xe2\x9a\xa0");
    int64_t id = 0;
    assert_int_equal(store_alarm_raise(st, &a, &id, fresh), 0);
    return id;
}

struct list {
    int n;
    struct alarm_rec a[32];
};

static int take(const struct alarm_rec *a, void *ctx)
{
    struct list *l = ctx;
    if (l->n < 32)
        l->a[l->n] = *a;
    l->n++;
    return 0;
}

static struct list list(const struct alarm_filter *f)
{
    /*
     * A whole first page: the count is what it lists. The alarm service of a test may raise
     * or clear one between the statements: then the list and the counts around it disagree,
     * and they are read again (a count that never agrees fails after 20 tries).
     */
    for (int attempt = 0;; attempt++) {
        struct list l = {0};
        int64_t before = -1, after = -1;
        assert_int_equal(store_alarms_count(st, f, &before), 0);
        assert_int_equal(store_alarms_list(st, f, take, &l), 0);
        assert_int_equal(store_alarms_count(st, f, &after), 0);
        if (f->before_id || (size_t)l.n >= f->limit)
            return l;
        if ((before == after && after == l.n) || attempt == 20) {
            assert_int_equal(after, l.n);
            return l;
        }
    }
}

static void test_an_alarm_is_raised_once_acknowledged_and_cleared(void **state)
{
    (void)state;
    add_device("life-1");
    bool fresh = false;
    int64_t id = raise_one("life-1", "voltage.over", "major", "east", T0_MS, &fresh);
    assert_true(fresh);
    /* The same condition again while it is open: the same alarm. */
    int64_t again = raise_one("life-1", "voltage.over", "major", "east", T0_MS + 5000, &fresh);
    assert_false(fresh);
    assert_int_equal(again, id);
    struct alarm_rec a;
    assert_int_equal(store_alarm_get(st, id, &a), 0);
    assert_int_equal(a.state, ALARM_RAISED);
    assert_string_equal(a.device_id, "life-1");
    assert_string_equal(a.site, "east");
    assert_true(a.has_value && a.value == 250.5 && a.has_limit && a.limit == 235.4);
    assert_int_equal(a.raised_ms, T0_MS);
    assert_int_equal(a.acked_ms, 0);
    assert_int_equal(a.cleared_ms, 0);
    assert_string_equal(a.message, "over-voltage \xe2\x9a\xa0");

    assert_int_equal(store_alarm_ack(st, id, "olga", "crew sent", T0_MS + 60000), 0);
    assert_int_equal(store_alarm_ack(st, id, "ivan", "again", T0_MS + 61000), -EALREADY);
    assert_int_equal(store_alarm_get(st, id, &a), 0);
    assert_int_equal(a.state, ALARM_ACKNOWLEDGED);
    assert_string_equal(a.acked_by, "olga");
    assert_string_equal(a.ack_note, "crew sent");
    assert_int_equal(a.acked_ms, T0_MS + 60000);
    /* Acknowledged is still open: raising again is the same alarm. */
    assert_int_equal(raise_one("life-1", "voltage.over", "major", "east", T0_MS + 70000, &fresh),
                     id);
    assert_false(fresh);

    int64_t cleared = 0;
    assert_int_equal(store_alarm_clear(st, "life-1", "voltage.over", T0_MS + 120000, &cleared), 0);
    assert_int_equal(cleared, id);
    assert_int_equal(store_alarm_get(st, id, &a), 0);
    assert_int_equal(a.state, ALARM_CLEARED);
    assert_int_equal(a.cleared_ms, T0_MS + 120000);
    assert_string_equal(a.acked_by, "olga"); /* who acknowledged it stays */
    assert_int_equal(store_alarm_clear(st, "life-1", "voltage.over", T0_MS + 130000, NULL),
                     -ENOENT);
    assert_int_equal(store_alarm_ack(st, id, "olga", "", T0_MS + 140000), -EALREADY);
    assert_int_equal(store_alarm_ack(st, id + 1000, "olga", "", T0_MS), -ENOENT);
    /* A new episode is a new alarm. */
    int64_t next = raise_one("life-1", "voltage.over", "major", "east", T0_MS + 200000, &fresh);
    assert_true(fresh);
    assert_true(next > id);
    /* Bad input. */
    struct alarm_rec bad = {.raised_ms = T0_MS};
    strcpy(bad.device_id, "life-1");
    strcpy(bad.kind, "Voltage Over");
    strcpy(bad.severity, "major");
    assert_int_equal(store_alarm_raise(st, &bad, NULL, NULL), -EINVAL);
}

static void test_users_see_the_alarms_of_their_devices_and_filters_apply(void **state)
{
    (void)state;
    int64_t mine = add_device("vis-mine");
    add_device("vis-other");
    int64_t uid = 0;
    assert_int_equal(store_user_add(st, "tenant-vis", "x", ROLE_USER, &uid), 0);
    assert_int_equal(store_binding_add(st, uid, mine), 0);
    bool fresh;
    int64_t a1 = raise_one("vis-mine", "voltage.over", "major", "north", T0_MS + 1000, &fresh);
    int64_t a2 = raise_one("vis-mine", "offline", "critical", "north", T0_MS + 2000, &fresh);
    int64_t a3 = raise_one("vis-other", "voltage.over", "major", "south", T0_MS + 3000, &fresh);
    assert_int_equal(store_alarm_clear(st, "vis-mine", "voltage.over", T0_MS + 4000, NULL), 0);

    struct list l = list(&(struct alarm_filter){.user_id = uid, .limit = 100});
    assert_int_equal(l.n, 2);
    assert_int_equal(l.a[0].id, a2); /* newest first */
    assert_int_equal(l.a[1].id, a1);
    l = list(&(struct alarm_filter){.user_id = uid, .device_id = "vis-other", .limit = 100});
    assert_int_equal(l.n, 0);
    /* Staff (no user): every device's. */
    l = list(
        &(struct alarm_filter){.since_ms = T0_MS + 1000, .until_ms = T0_MS + 3001, .limit = 100});
    assert_int_equal(l.n, 3);
    l = list(&(struct alarm_filter){.state_mask = ALARM_OPEN_MASK,
                                    .since_ms = T0_MS + 1000,
                                    .until_ms = T0_MS + 3001,
                                    .limit = 100});
    assert_int_equal(l.n, 2);
    assert_int_equal(l.a[0].id, a3);
    assert_int_equal(l.a[1].id, a2);
    l = list(&(struct alarm_filter){
        .state_mask = ALARM_BIT(ALARM_CLEARED), .device_id = "vis-mine", .limit = 100});
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].id, a1);
    l = list(&(struct alarm_filter){.severity = "critical", .site = "north", .limit = 100});
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].id, a2);
    l = list(&(struct alarm_filter){.site = "south", .limit = 100});
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].id, a3);
    /* Paging by id. */
    l = list(
        &(struct alarm_filter){.since_ms = T0_MS + 1000, .until_ms = T0_MS + 3001, .limit = 2});
    assert_int_equal(l.n, 2);
    l = list(&(struct alarm_filter){
        .since_ms = T0_MS + 1000, .until_ms = T0_MS + 3001, .before_id = l.a[1].id, .limit = 2});
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].id, a1);
    /* The count is every page's, whatever page the filter names. */
    int64_t total = -1;
    assert_int_equal(store_alarms_count(st,
                                        &(struct alarm_filter){.since_ms = T0_MS + 1000,
                                                               .until_ms = T0_MS + 3001,
                                                               .before_id = a2,
                                                               .limit = 2},
                                        &total),
                     0);
    assert_int_equal(total, 3);
    assert_int_equal(store_alarms_list(st, &(struct alarm_filter){.limit = 0}, take, &l), -EINVAL);
    assert_int_equal(store_alarms_count(st, &(struct alarm_filter){.severity = ""}, &total),
                     -EINVAL);
}

struct rules {
    int n;
    struct alarm_rule_override o[8];
};

static int take_rule(const struct alarm_rule_override *o, void *ctx)
{
    struct rules *r = ctx;
    if (r->n < 8)
        r->o[r->n] = *o;
    r->n++;
    return 0;
}

static void test_rule_overrides_are_replaced_whole(void **state)
{
    (void)state;
    add_device("rules-1");
    struct alarm_rule_override o[3] = {
        {.kind = "voltage.over",
         .has_limit = true,
         .limit = 240.5,
         .has_min_duration = true,
         .min_duration_ms = 5000},
        {.kind = "thd_v",
         .has_enabled = true,
         .enabled = false,
         .has_hysteresis = true,
         .hysteresis = 0.25},
        {.kind = "pf.low"}, /* nothing set: dropped */
    };
    assert_int_equal(store_alarm_rules_set(st, "rules-1", o, 3, T0_MS), 0);
    struct rules r = {0};
    assert_int_equal(store_alarm_rules_get(st, "rules-1", take_rule, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.o[0].kind, "thd_v");
    assert_true(r.o[0].has_enabled && !r.o[0].enabled && r.o[0].has_hysteresis &&
                r.o[0].hysteresis == 0.25 && !r.o[0].has_limit);
    assert_string_equal(r.o[1].kind, "voltage.over");
    assert_true(r.o[1].has_limit && r.o[1].limit == 240.5 && r.o[1].has_min_duration &&
                r.o[1].min_duration_ms == 5000 && !r.o[1].has_enabled);
    assert_int_equal(store_alarm_rules_set(st, "rules-1", o, 1, T0_MS + 1), 0);
    r.n = 0;
    assert_int_equal(store_alarm_rules_get(st, "rules-1", take_rule, &r), 0);
    assert_int_equal(r.n, 1);
    struct alarm_rule_override twice[2] = {o[0], o[0]};
    assert_int_equal(store_alarm_rules_set(st, "rules-1", twice, 2, T0_MS), -EINVAL);
    r.n = 0;
    assert_int_equal(store_alarm_rules_get(st, "rules-1", take_rule, &r), 0);
    assert_int_equal(r.n, 1); /* unchanged */
}

/* --- the service on the store --- */

static void insert_reading(int64_t pk, uint64_t seq, double volts)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = time_now_ms();
    reading_set_real(&r, RR_VOLTAGE, volts);
    reading_set_real(&r, RR_CURRENT, 3);
    size_t n;
    assert_int_equal(store_readings_insert(st, pk, &r, 1, &n), 0);
    assert_int_equal(n, 1);
}

static struct list of_device(const char *device, const char *kind)
{
    struct list all = list(&(struct alarm_filter){.device_id = device, .limit = 100}), l = {0};
    for (int i = 0; i < all.n && i < 32; i++)
        if (strcmp(all.a[i].kind, kind) == 0)
            l.a[l.n++] = all.a[i];
    return l;
}

static void test_the_service_raises_and_clears_from_readings_silence_and_events(void **state)
{
    (void)state;
    int64_t pk = add_device("svc-1");
    struct alarm_hub *hub;
    struct alarm_stream *stream;
    assert_int_equal(alarm_hub_new(2, 60000, &hub), 0);
    assert_int_equal(alarm_hub_subscribe(hub, true, NULL, 0, time_now_ms(), &stream), 0);
    struct alarms_options o = {.db = {.url = url}, .sweep_ms = 100, .hub = hub};
    alarm_site_defaults(&o.site);
    o.site.min_duration_ms = 0; /* judged on one reading */
    o.site.offline_min = 0.05;  /* 3 s of silence */
    struct alarms_service *svc;
    char err[256];
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);

    insert_reading(pk, 1, 221);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("svc-1", "voltage.over").n, 0);

    insert_reading(pk, 2, 251.5); /* a swell of the supply: above 235.4 V */
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    struct list l = of_device("svc-1", "voltage.over");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].state, ALARM_RAISED);
    assert_true(l.a[0].value == 251.5);
    assert_true(l.a[0].limit > 235.39 && l.a[0].limit < 235.41);
    assert_string_equal(l.a[0].severity, "major");

    insert_reading(pk, 3, 252); /* still over: the same alarm */
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("svc-1", "voltage.over").n, 1);

    insert_reading(pk, 4, 234); /* inside the band (233.2 .. 235.4): not yet cleared */
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("svc-1", "voltage.over").a[0].state, ALARM_RAISED);

    insert_reading(pk, 5, 228);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    l = of_device("svc-1", "voltage.over");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].state, ALARM_CLEARED);

    /* Silent past the offline limit, then back. */
    int64_t deadline = time_now_ms() + 15000;
    while (of_device("svc-1", "offline").n == 0 && time_now_ms() < deadline)
        usleep(100000);
    l = of_device("svc-1", "offline");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].state, ALARM_RAISED);
    assert_string_equal(l.a[0].severity, "critical");
    insert_reading(pk, 6, 226);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("svc-1", "offline").a[0].state, ALARM_CLEARED);

    /* The command service's low-balance alert and its end. */
    assert_int_equal(store_device_event_add(st, "svc-1", time_now_ms(), COMMANDS_EVENT_LOW,
                                            "balance 3.20 under 20.00"),
                     0);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    l = of_device("svc-1", "balance.low");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.a[0].message, "balance 3.20 under 20.00");
    assert_int_equal(store_device_event_add(st, "svc-1", time_now_ms() + 1,
                                            COMMANDS_EVENT_LOW_CLEARED, "balance 50.00"),
                     0);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("svc-1", "balance.low").a[0].state, ALARM_CLEARED);

    struct alarms_counters c;
    alarms_counters(svc, &c);
    assert_true(c.raised >= 3 && c.cleared >= 3);
    alarms_stop(svc);

    /* A restart takes the open alarms as they are: nothing raised twice. */
    insert_reading(pk, 7, 260);
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    alarms_stop(svc);
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);
    insert_reading(pk, 8, 261);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    l = of_device("svc-1", "voltage.over");
    assert_int_equal(l.n, 2);
    assert_int_equal(l.a[0].state, ALARM_RAISED);
    alarms_stop(svc);

    /* Every change went to the live stream. */
    static char text[1 << 16];
    size_t n = 0;
    ssize_t k;
    while ((k = alarm_stream_read(stream, text + n, sizeof(text) - 1 - n)) > 0)
        n += (size_t)k;
    text[n] = '\0';
    assert_non_null(strstr(text, "\"kind\":\"voltage.over\",\"severity\":\"major\",\"state\":"
                                 "\"raised\""));
    assert_non_null(strstr(text, "\"kind\":\"voltage.over\",\"severity\":\"major\",\"state\":"
                                 "\"cleared\""));
    assert_non_null(strstr(text, "\"kind\":\"offline\""));
    assert_non_null(strstr(text, "\"kind\":\"balance.low\""));
    alarm_stream_close(stream);
    alarm_hub_free(hub);
}

static void test_the_service_takes_each_devices_ratings_from_its_metadata(void **state)
{
    (void)state;
    int64_t pk = add_device("meta-1");
    struct device_meta m = {.present = DM_BIT(DM_NOMINAL_VOLTAGE) | DM_BIT(DM_RATED_CURRENT) |
                                       DM_BIT(DM_SITE),
                            .nominal_voltage = 230,
                            .rated_current = 2.5};
    strcpy(m.site, "north substation");
    assert_int_equal(store_device_meta_update(st, pk, &m, 0, "op", T0_MS, NULL), 0);
    struct alarms_options o = {.db = {.url = url}, .sweep_ms = 100, .meta = &alarm_meta_from_store};
    alarm_site_defaults(&o.site);
    o.site.min_duration_ms = 0;
    struct alarms_service *svc;
    char err[256];
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);
    /* 240 V is over 220 V + 7 % but not over 230 V + 7 % (246.1 V); 3 A is over its 2.5 A. */
    insert_reading(pk, 1, 240);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("meta-1", "voltage.over").n, 0);
    struct list l = of_device("meta-1", "current.over");
    assert_int_equal(l.n, 1);
    assert_true(l.a[0].limit == 2.5 && l.a[0].value == 3);
    assert_string_equal(l.a[0].site, "north substation");
    insert_reading(pk, 2, 247);
    alarms_notify(svc, pk);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    l = of_device("meta-1", "voltage.over");
    assert_int_equal(l.n, 1);
    assert_true(l.a[0].limit > 246.09 && l.a[0].limit < 246.11);
    alarms_stop(svc);
}

static void relay_command(const char *device, const char *id, bool on, const char *actor,
                          const char *reason)
{
    struct command_rec c = {.relay_on = on, .created_ms = time_now_ms()};
    snprintf(c.id, sizeof(c.id), "%s", id);
    snprintf(c.device_id, sizeof(c.device_id), "%s", device);
    snprintf(c.kind, sizeof(c.kind), "relay");
    snprintf(c.actor, sizeof(c.actor), "%s", actor);
    snprintf(c.reason, sizeof(c.reason), "%s", reason);
    c.expires_ms = c.created_ms + COMMANDS_TTL_MS;
    assert_int_equal(store_command_add(st, &c), 0);
}

static void test_the_command_services_judgements_become_alarms(void **state)
{
    (void)state;
    add_device("cmd-1");
    struct alarms_options o = {.db = {.url = url}, .sweep_ms = 100};
    alarm_site_defaults(&o.site);
    struct alarms_service *svc;
    char err[256];
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);
    /* The cut-off rules switched it off: an alarm until the supply is restored. */
    relay_command("cmd-1", "c0000000000000000000000000000001", false, COMMANDS_ACTOR_CUTOFF,
                  "balance 0.00 at or below 0.00");
    assert_int_equal(alarms_flush(svc, 10000), 0);
    struct list l = of_device("cmd-1", "cutoff");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].state, ALARM_RAISED);
    assert_false(l.a[0].has_value);
    assert_string_equal(l.a[0].message, "balance 0.00 at or below 0.00");
    relay_command("cmd-1", "c0000000000000000000000000000002", true, "op", "recharged");
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("cmd-1", "cutoff").a[0].state, ALARM_CLEARED);
    /* An operator's own "off" is no cut-off alarm. */
    relay_command("cmd-1", "c0000000000000000000000000000003", false, "op", "meter box opened");
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("cmd-1", "cutoff").n, 1);
    /* The relay not doing what it was asked, and then doing it. */
    assert_int_equal(store_device_event_add(st, "cmd-1", time_now_ms(), COMMANDS_EVENT_MISMATCH,
                                            "asked off, reports on for 60 s"),
                     0);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    l = of_device("cmd-1", "relay.mismatch");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.a[0].severity, "critical");
    assert_int_equal(store_device_event_add(st, "cmd-1", time_now_ms() + 1,
                                            COMMANDS_EVENT_MISMATCH_CLEARED, "reports off"),
                     0);
    assert_int_equal(alarms_flush(svc, 10000), 0);
    assert_int_equal(of_device("cmd-1", "relay.mismatch").a[0].state, ALARM_CLEARED);
    alarms_stop(svc);
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
        cmocka_unit_test(test_an_alarm_is_raised_once_acknowledged_and_cleared),
        cmocka_unit_test(test_users_see_the_alarms_of_their_devices_and_filters_apply),
        cmocka_unit_test(test_rule_overrides_are_replaced_whole),
        cmocka_unit_test(test_the_service_raises_and_clears_from_readings_silence_and_events),
        cmocka_unit_test(test_the_service_takes_each_devices_ratings_from_its_metadata),
        cmocka_unit_test(test_the_command_services_judgements_become_alarms),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
