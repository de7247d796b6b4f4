/*
 * Lists that scale over a real store, on every backend: a walk of the pages
 * gives every device exactly once (also while devices are added), each
 * filter and the search narrow the page and its total alike, a user sees
 * only their devices, the fleet counts, and a bulk import that is all or
 * nothing. Usage: test_store_device_lists URL (sqlite:PATH or mysql://...;
 * the database must be empty; a sqlite file is removed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0_MS  INT64_C(1796079600000)
#define FLEET  137 /* not a multiple of any page size below */

static int64_t tenant_id;
static int64_t fleet_pk[FLEET];

static int64_t add_device(const char *name, int64_t owner)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, owner, &id), 0);
    return id;
}

static void describe(int64_t pk, const char *name, const char *site)
{
    struct device_meta set = {0}, now;
    char err[DEVICE_META_ERR_LEN];
    assert_int_equal(device_meta_set_text(&set, DM_NAME, name, err), 0);
    assert_int_equal(device_meta_set_text(&set, DM_SITE, site, err), 0);
    assert_int_equal(store_device_meta_update(st, pk, &set, 0, "op", T0_MS, &now), 0);
}

/*
 * The fleet: fleet-000 .. fleet-136; every 10th bound to the tenant, every
 * 3rd at site "north" (named "Pump N"), every 7th online, every 5th
 * offline (35 both: offline wins, set last), every 4th owing money.
 */
static int fleet_setup(void **state)
{
    (void)state;
    if (store_fixture_open(url, STORE_FIXTURE_MIGRATE | STORE_FIXTURE_UTC, &st))
        return -1;
    if (store_user_add(st, "tenant-lists", "x", ROLE_USER, &tenant_id))
        return -1;
    for (int i = 0; i < FLEET; i++) {
        char id[32], name[32];
        snprintf(id, sizeof(id), "fleet-%03d", i);
        fleet_pk[i] = add_device(id, i % 10 == 0 ? tenant_id : 0);
        snprintf(name, sizeof(name), "%s %d", i % 3 == 0 ? "Pump" : "Meter", i);
        describe(fleet_pk[i], name, i % 3 == 0 ? "north" : "south");
        if (i % 7 == 0)
            assert_int_equal(store_device_set_status(st, fleet_pk[i], DEVICE_STATUS_ONLINE, T0_MS),
                             0);
        if (i % 5 == 0)
            assert_int_equal(
                store_device_set_status(st, fleet_pk[i], DEVICE_STATUS_OFFLINE, T0_MS + 1), 0);
        if (i % 4 != 0) {
            struct recharge_result rr;
            assert_int_equal(store_recharge(st, fleet_pk[i], 5000 + i, 0, NULL, &rr), 0);
        }
    }
    return 0;
}

static int fleet_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

struct walk {
    int seen[FLEET + 64];
    int extra; /* devices that are not of the fleet */
    char last[DEVICE_ID_MAX + 1];
    size_t in_page;
    bool ordered;
};

static int take(const struct device_page_item *it, void *ctx)
{
    struct walk *w = ctx;
    int i;
    if (strcmp(it->d.device_id, w->last) <= 0)
        w->ordered = false;
    snprintf(w->last, sizeof(w->last), "%s", it->d.device_id);
    if (sscanf(it->d.device_id, "fleet-%d", &i) == 1 && i >= 0 && i < FLEET + 64)
        w->seen[i]++;
    else
        w->extra++;
    w->in_page++;
    return 0;
}

/* Walks every page of f for user_id, limit at a time; the number of pages. */
static int walk_all(int64_t user_id, const struct device_filter *f, size_t limit, struct walk *w)
{
    memset(w, 0, sizeof(*w));
    w->ordered = true;
    char after[DEVICE_ID_MAX + 1] = "";
    int pages = 0;
    bool more = true;
    while (more) {
        w->in_page = 0;
        assert_int_equal(store_device_page(st, user_id, f, after, limit, take, w, &more), 0);
        assert_true(w->in_page <= limit);
        if (more)
            assert_int_equal(w->in_page, limit);
        snprintf(after, sizeof(after), "%s", w->last);
        pages++;
        assert_true(pages < 1000);
    }
    return pages;
}

static int64_t count(int64_t user_id, const struct device_filter *f)
{
    int64_t n = -1;
    assert_int_equal(store_device_count(st, user_id, f, &n), 0);
    return n;
}

static void test_a_walk_of_the_pages_gives_every_device_once(void **state)
{
    (void)state;
    struct device_filter none = {0};
    size_t limits[] = {1, 10, 50, 137, 1000};
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        struct walk w;
        int pages = walk_all(0, &none, limits[k], &w);
        assert_true(w.ordered);
        for (int i = 0; i < FLEET; i++)
            assert_int_equal(w.seen[i], 1);
        assert_int_equal(pages, (FLEET + (int)limits[k] - 1) / (int)limits[k]);
    }
    assert_int_equal(count(0, &none), FLEET);
}

static void test_devices_added_during_a_walk_do_not_shift_it(void **state)
{
    (void)state;
    struct device_filter none = {0};
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.ordered = true;
    char after[DEVICE_ID_MAX + 1] = "";
    bool more = true;
    int pages = 0;
    while (more) {
        assert_int_equal(store_device_page(st, 0, &none, after, 20, take, &w, &more), 0);
        snprintf(after, sizeof(after), "%s", w.last);
        if (pages++ == 2) {
            /* One before the walk's position, one after it. */
            add_device("fleet-000a", 0);
            add_device("fleet-zzz", 0);
        }
    }
    for (int i = 0; i < FLEET; i++)
        assert_int_equal(w.seen[i], 1);
    assert_int_equal(w.extra, 1); /* fleet-zzz, past the position; fleet-000a was behind it */
    assert_int_equal(store_device_delete(st, "fleet-000a"), 0);
    assert_int_equal(store_device_delete(st, "fleet-zzz"), 0);
}

/* How many of the fleet pass pred. */
static int expect(bool (*pred)(int i))
{
    int n = 0;
    for (int i = 0; i < FLEET; i++)
        n += pred(i);
    return n;
}

static bool is_north(int i)
{
    return i % 3 == 0;
}
static bool is_offline(int i)
{
    return i % 5 == 0;
}
static bool is_online(int i)
{
    return i % 7 == 0 && i % 5 != 0;
}
static bool is_unknown(int i)
{
    return !is_online(i) && !is_offline(i);
}
static bool owes(int i)
{
    return i % 4 == 0; /* balance 0.00; the rest hold 50.00 and more */
}
static bool north_online(int i)
{
    return is_north(i) && is_online(i);
}

/* The walk of f gives exactly the devices pred names, and its total says as many. */
static void check_filter(int64_t user_id, const struct device_filter *f, bool (*pred)(int i))
{
    struct walk w;
    walk_all(user_id, f, 7, &w);
    for (int i = 0; i < FLEET; i++)
        assert_int_equal(w.seen[i], pred(i) ? 1 : 0);
    assert_int_equal(w.extra, 0);
    assert_int_equal(count(user_id, f), expect(pred));
}

static void test_filters_narrow_the_page_and_the_total(void **state)
{
    (void)state;
    struct device_filter f = {.site = "north"};
    check_filter(0, &f, is_north);
    f = (struct device_filter){.has_status = true, .status = DEVICE_STATUS_OFFLINE};
    check_filter(0, &f, is_offline);
    f = (struct device_filter){.has_status = true, .status = DEVICE_STATUS_ONLINE};
    check_filter(0, &f, is_online);
    f = (struct device_filter){.has_status = true, .status = DEVICE_STATUS_UNKNOWN};
    check_filter(0, &f, is_unknown);
    f = (struct device_filter){.has_balance_below = true, .balance_below_fen = 1};
    check_filter(0, &f, owes);
    f = (struct device_filter){.site = "north", .has_status = true, .status = DEVICE_STATUS_ONLINE};
    check_filter(0, &f, north_online);
}

static bool id_has_13(int i)
{
    char id[32];
    snprintf(id, sizeof(id), "fleet-%03d", i);
    return strstr(id, "13") != NULL;
}
static bool is_pump(int i)
{
    return i % 3 == 0;
}
static bool only_7(int i)
{
    return i == 7;
}

static void test_search_matches_ids_and_names_without_case(void **state)
{
    (void)state;
    struct device_filter f = {.query = "13"};
    check_filter(0, &f, id_has_13);
    f = (struct device_filter){.query = "pUMP"};
    check_filter(0, &f, is_pump);
    f = (struct device_filter){.query = "FLEET-007"};
    check_filter(0, &f, only_7);
    /* LIKE's wildcards are plain characters in a search. */
    f = (struct device_filter){.query = "%"};
    assert_int_equal(count(0, &f), 0);
    f = (struct device_filter){.query = "fleet_0"};
    assert_int_equal(count(0, &f), 0);
}

static bool tenant_has(int i)
{
    return i % 10 == 0;
}
static bool tenant_north(int i)
{
    return i % 10 == 0 && i % 3 == 0;
}

static void test_a_user_pages_through_their_devices_only(void **state)
{
    (void)state;
    struct device_filter none = {0};
    check_filter(tenant_id, &none, tenant_has);
    struct device_filter f = {.site = "north"};
    check_filter(tenant_id, &f, tenant_north);
}

static int raise_alarm(const char *device)
{
    struct alarm_rec a = {.raised_ms = T0_MS};
    snprintf(a.device_id, sizeof(a.device_id), "%s", device);
    snprintf(a.kind, sizeof(a.kind), "voltage.over");
    snprintf(a.severity, sizeof(a.severity), "major");
    return store_alarm_raise(st, &a, NULL, NULL);
}

static bool alarmed(int i)
{
    return i == 20 || i == 21;
}

static void test_summary_counts_the_fleet_and_open_alarms(void **state)
{
    (void)state;
    assert_int_equal(raise_alarm("fleet-020"), 0);
    assert_int_equal(raise_alarm("fleet-021"), 0);
    struct alarm_rec b = {.raised_ms = T0_MS};
    snprintf(b.device_id, sizeof(b.device_id), "fleet-021");
    snprintf(b.kind, sizeof(b.kind), "voltage.under");
    snprintf(b.severity, sizeof(b.severity), "minor");
    assert_int_equal(store_alarm_raise(st, &b, NULL, NULL), 0);
    struct device_filter f = {.open_alarms = true};
    check_filter(0, &f, alarmed);

    struct device_summary s;
    assert_int_equal(store_device_summary(st, 0, &s), 0);
    assert_int_equal(s.total, FLEET);
    assert_int_equal(s.online, expect(is_online));
    assert_int_equal(s.offline, expect(is_offline));
    assert_int_equal(s.unknown, expect(is_unknown));
    assert_int_equal(s.in_arrears, expect(owes)); /* 0.00 is at the default cut-off */
    assert_int_equal(s.with_open_alarms, 2);
    assert_int_equal(s.open_alarms, 3);

    /* The tenant's: fleet-020 is theirs, fleet-021 not. */
    assert_int_equal(store_device_summary(st, tenant_id, &s), 0);
    assert_int_equal(s.total, expect(tenant_has));
    assert_int_equal(s.with_open_alarms, 1);
    assert_int_equal(s.open_alarms, 1);
}

static void test_an_import_is_all_or_nothing(void **state)
{
    (void)state;
    struct device_import_row rows[] = {
        {.device_id = "imp-1",
         .secret_hash = HASH_A,
         .owner = "tenant-lists",
         .name = "Hall",
         .site = "east"},
        {.device_id = "imp-2", .secret_hash = HASH_A},
        {.device_id = "fleet-005", .secret_hash = HASH_A}, /* exists */
        {.device_id = "imp-3", .secret_hash = HASH_A},
    };
    size_t bad = 99;
    assert_int_equal(store_devices_import(st, rows, 4, "op", &bad), -EEXIST);
    assert_int_equal(bad, 2);
    assert_non_null(strstr(store_errmsg(st), "fleet-005"));
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "imp-1", &d), -ENOENT);
    assert_int_equal(store_device_by_name(st, "imp-2", &d), -ENOENT);

    rows[2].device_id = "imp-x";
    rows[3].owner = "nobody-here";
    assert_int_equal(store_devices_import(st, rows, 4, "op", &bad), -ENOENT);
    assert_int_equal(bad, 3);
    assert_int_equal(store_device_by_name(st, "imp-1", &d), -ENOENT);

    rows[3].owner = NULL;
    rows[1].name = "a name far longer than the sixty-four characters a device's name may have";
    assert_int_equal(store_devices_import(st, rows, 4, "op", &bad), -EINVAL);
    assert_int_equal(bad, 1);

    rows[1].name = NULL;
    assert_int_equal(store_devices_import(st, rows, 4, "op", &bad), 0);
    assert_int_equal(store_device_by_name(st, "imp-1", &d), 0);
    struct device_meta m;
    assert_int_equal(store_device_meta_get(st, d.id, &m), 0);
    assert_string_equal(m.name, "Hall");
    assert_string_equal(m.site, "east");
    assert_int_equal(store_binding_check(st, tenant_id, d.id), 0);
    assert_int_equal(store_device_by_name(st, "imp-3", &d), 0);
    /* Each new device is a change the broker's accounts follow. */
    struct device_filter f = {.query = "imp-"};
    assert_int_equal(count(0, &f), 4);
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_walk_of_the_pages_gives_every_device_once),
        cmocka_unit_test(test_devices_added_during_a_walk_do_not_shift_it),
        cmocka_unit_test(test_filters_narrow_the_page_and_the_total),
        cmocka_unit_test(test_search_matches_ids_and_names_without_case),
        cmocka_unit_test(test_a_user_pages_through_their_devices_only),
        cmocka_unit_test(test_summary_counts_the_fleet_and_open_alarms),
        cmocka_unit_test(test_an_import_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, fleet_setup, fleet_teardown);
}
