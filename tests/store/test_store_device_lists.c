/*
 * Lists that scale over a real store, on every backend: a walk of the pages
 * gives every device exactly once (also while devices are added), each
 * filter and the search narrow the page and its total alike, a user sees
 * only their devices, the fleet counts, and a bulk import that is all or
 * nothing; and what a list shows of each device (its newest reading, its
 * day counters and rows), read for many devices at once, equal to the
 * answers one device at a time; the accounts, a ledger and captures a page
 * at a time. Usage: test_store_device_lists URL (sqlite:PATH or
 * mysql://...; the database must be empty; a sqlite file is removed first).
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
    f.query = "HALL"; /* imp-1's name, from the import */
    assert_int_equal(count(0, &f), 1);
}

/* --- the keys the store keeps for the list (migration 017) -------------------------------- */

struct ids {
    char id[8][DEVICE_ID_MAX + 1];
    size_t n;
};

static int take_id(const struct device_page_item *it, void *ctx)
{
    struct ids *a = ctx;
    if (a->n < 8)
        snprintf(a->id[a->n], sizeof(a->id[0]), "%s", it->d.device_id);
    a->n++;
    return 0;
}

/* Every page of user_id's devices, limit at a time, into *a; the number of pages. */
static int walk_ids(int64_t user_id, const struct device_filter *f, size_t limit, struct ids *a)
{
    memset(a, 0, sizeof(*a));
    char after[DEVICE_ID_MAX + 1] = "";
    bool more = true;
    int pages = 0;
    while (more) {
        size_t was = a->n;
        assert_int_equal(store_device_page(st, user_id, f, after, limit, take_id, a, &more), 0);
        if (more)
            assert_int_equal(a->n - was, limit);
        if (a->n > was)
            snprintf(after, sizeof(after), "%s", a->id[a->n - 1]);
        assert_true(++pages < 10);
    }
    return pages;
}

static void test_a_users_pages_follow_device_id_not_the_order_of_binding(void **state)
{
    (void)state;
    int64_t user, pk[5];
    assert_int_equal(store_user_add(st, "tenant-order", "x", ROLE_USER, &user), 0);
    /* Added (and so numbered) in the reverse of their ids' order; two bound when added, three
       bound afterwards, last first. */
    static const char *const ids[] = {"order-e", "order-d", "order-c", "order-b", "order-a"};
    for (int i = 0; i < 5; i++)
        pk[i] = add_device(ids[i], i < 2 ? user : 0);
    for (int i = 4; i >= 2; i--)
        assert_int_equal(store_binding_add(st, user, pk[i]), 0);
    struct device_filter none = {0};
    struct ids a;
    assert_int_equal(walk_ids(user, &none, 2, &a), 3);
    assert_int_equal(a.n, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(a.id[i], ids[4 - i]);
    assert_int_equal(count(user, &none), 5);
    /* From a cursor that names no device of theirs; then without one binding. */
    bool more = true;
    memset(&a, 0, sizeof(a));
    assert_int_equal(store_device_page(st, user, &none, "order-b0", 2, take_id, &a, &more), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.id[0], "order-c");
    assert_true(more);
    assert_int_equal(store_binding_remove(st, user, pk[2]), 0);
    walk_ids(user, &none, 10, &a);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.id[2], "order-d");
    struct device_filter f = {.query = "ORDER-A"};
    walk_ids(user, &f, 10, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.id[0], "order-a");
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_device_delete(st, ids[i]), 0);
    assert_int_equal(count(user, &none), 0);
}

static void test_a_new_name_is_what_the_search_finds(void **state)
{
    (void)state;
    int64_t pk = add_device("rename-1", 0);
    struct device_filter f = {.query = "rename-1"};
    assert_int_equal(count(0, &f), 1); /* by its id, before it has a name */
    describe(pk, "Boiler Room", "west");
    f.query = "boiler r";
    assert_int_equal(count(0, &f), 1);
    struct ids a;
    walk_ids(0, &f, 10, &a);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.id[0], "rename-1");
    describe(pk, "Chiller", "west");
    assert_int_equal(count(0, &f), 0);
    f.query = "CHILL";
    assert_int_equal(count(0, &f), 1);
    /* The id and the name are searched apart: nothing matches across them. */
    f.query = "1chiller";
    assert_int_equal(count(0, &f), 0);
    struct device_meta none = {0}, now;
    assert_int_equal(store_device_meta_update(st, pk, &none, DM_BIT(DM_NAME), "op", T0_MS, &now),
                     0);
    f.query = "chill";
    assert_int_equal(count(0, &f), 0);
    f.query = "RENAME";
    assert_int_equal(count(0, &f), 1);
    /* A search holds no control character (the API refuses them too). */
    f.query = "rename-1\nchiller";
    int64_t n;
    assert_int_equal(store_device_count(st, 0, &f, &n), -EINVAL);
    assert_int_equal(store_device_delete(st, "rename-1"), 0);
}

/* --- what a list shows of each device, read for many at once ------------------------------ */

#define DAY_MS INT64_C(86400000)

static struct reading reading_at(uint64_t seq, int64_t ts_ms, double volts, int64_t import_mwh,
                                 int64_t export_mwh)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts_ms;
    reading_set_real(&r, RR_VOLTAGE, volts);
    reading_set_real(&r, RR_CURRENT, volts / 100);
    if (seq % 2)
        reading_set_real(&r, RR_POWER_W, volts * 3);
    if (import_mwh >= 0)
        reading_set_counter(&r, RC_ENERGY_IMPORT, import_mwh);
    if (export_mwh >= 0)
        reading_set_counter(&r, RC_ENERGY_EXPORT, export_mwh);
    if (seq % 3 == 0)
        assert_int_equal(reading_set_label(&r, RL_RELAY, "on"), 0);
    return r;
}

static void assert_readings_equal(const struct reading *a, const struct reading *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_int_equal(a->real_present, b->real_present);
    assert_int_equal(a->counter_present, b->counter_present);
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_has_real(a, (enum reading_real)f))
            assert_true(a->real[f] == b->real[f]);
    for (int c = 0; c < RC__COUNT; c++)
        if (reading_has_counter(a, (enum reading_counter)c))
            assert_int_equal(a->counter[c], b->counter[c]);
    assert_memory_equal(a->label, b->label, sizeof(a->label));
}

static void assert_rollups_equal(const struct rollup_rec *a, const struct rollup_rec *b)
{
    assert_int_equal(a->bucket_ms, b->bucket_ms);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->first_ts_ms, b->first_ts_ms);
    assert_int_equal(a->last_ts_ms, b->last_ts_ms);
    for (int m = 0; m < RM__COUNT; m++) {
        assert_int_equal(a->metric_n[m], b->metric_n[m]);
        if (a->metric_n[m]) {
            assert_true(a->sum[m] == b->sum[m]);
            assert_true(a->min[m] == b->min[m]);
            assert_true(a->max[m] == b->max[m]);
        }
    }
    assert_int_equal(a->has_import, b->has_import);
    assert_int_equal(a->has_export, b->has_export);
    if (a->has_import) {
        assert_int_equal(a->import_min_mwh, b->import_min_mwh);
        assert_int_equal(a->import_max_mwh, b->import_max_mwh);
    }
    if (a->has_export) {
        assert_int_equal(a->export_min_mwh, b->export_min_mwh);
        assert_int_equal(a->export_max_mwh, b->export_max_mwh);
    }
}

/* More devices than one multi-row statement takes (SQL_BULK_MAX), those with data last. */
#define LIST_N (FLEET + 7)

struct list_answers {
    const int64_t *pks;
    int latest_seen[LIST_N];
    struct reading latest[LIST_N];
    int rows_seen[LIST_N];
    struct rollup_rec rows[LIST_N][4];
    int64_t last_pk;
    bool rows_together;
};

static int list_index(const struct list_answers *a, int64_t pk)
{
    for (int i = 0; i < LIST_N; i++)
        if (a->pks[i] == pk)
            return i;
    fail_msg("a device that was not asked for: %lld", (long long)pk);
    return -1;
}

static int take_latest_of(int64_t pk, const struct reading *r, void *ctx)
{
    struct list_answers *a = ctx;
    int i = list_index(a, pk);
    a->latest[i] = *r;
    a->latest_seen[i]++;
    return 0;
}

static int take_rollup_of(int64_t pk, const struct rollup_rec *r, void *ctx)
{
    struct list_answers *a = ctx;
    int i = list_index(a, pk);
    /* A device's rows come together: once another device's came, none of this one's follow. */
    if (pk != a->last_pk && a->rows_seen[i])
        a->rows_together = false;
    a->last_pk = pk;
    if (a->rows_seen[i] < 4)
        a->rows[i][a->rows_seen[i]] = *r;
    a->rows_seen[i]++;
    return 0;
}

struct rows_of_one {
    struct rollup_rec r[4];
    int n;
};

static int take_one_rollup(const struct rollup_rec *r, void *ctx)
{
    struct rows_of_one *o = ctx;
    if (o->n < 4)
        o->r[o->n] = *r;
    o->n++;
    return 0;
}

static void test_the_answers_for_many_devices_equal_the_answers_one_by_one(void **state)
{
    (void)state;
    int64_t today = T0_MS - T0_MS % DAY_MS; /* the site zone is UTC */
    int64_t pks[LIST_N];
    for (int i = 0; i < FLEET; i++)
        pks[i] = fleet_pk[i]; /* no readings, no rollups */
    /* import only, today and days before; import and export; no counters at all; readings only
       days ago; only today's; a pk that names no device */
    static const char *const names[] = {"extras-import", "extras-both",  "extras-plain",
                                        "extras-old",    "extras-today", "extras-reset"};
    for (int k = 0; k < 6; k++)
        pks[FLEET + k] = add_device(names[k], 0);
    pks[FLEET + 6] = INT64_C(999999999);
    int64_t imp = pks[FLEET], both = pks[FLEET + 1], plain = pks[FLEET + 2], old = pks[FLEET + 3],
            only_today = pks[FLEET + 4], reset = pks[FLEET + 5];
    struct reading r[6];
    size_t inserted;
    r[0] = reading_at(1, today - 3 * DAY_MS + 5000, 230.5, 1000, -1);
    r[1] = reading_at(2, today - DAY_MS + 7000, 231, 4000, -1);
    r[2] = reading_at(3, today + 1000, 229.5, 4500, -1);
    r[3] = reading_at(4, today + 60000, 232.25, 5750, -1);
    assert_int_equal(store_readings_insert(st, imp, r, 4, &inserted), 0);
    r[0] = reading_at(7, today - 2 * DAY_MS, 228, 100, 900);
    r[1] = reading_at(8, today - DAY_MS + 1, 228.5, -1, 950); /* export only that day */
    r[2] = reading_at(9, today + 5, 227, 300, 990);
    assert_int_equal(store_readings_insert(st, both, r, 3, &inserted), 0);
    r[0] = reading_at(1, today - DAY_MS, 240, -1, -1);
    r[1] = reading_at(2, today + 2000, 241, -1, -1);
    assert_int_equal(store_readings_insert(st, plain, r, 2, &inserted), 0);
    r[0] = reading_at(5, today - 5 * DAY_MS, 235, 20000, 10);
    r[1] = reading_at(6, today - 4 * DAY_MS, 236, 21000, 11);
    assert_int_equal(store_readings_insert(st, old, r, 2, &inserted), 0);
    r[0] = reading_at(1, today + 100, 230, 50, -1);
    r[1] = reading_at(2, today + 200, 230, 70, -1);
    assert_int_equal(store_readings_insert(st, only_today, r, 2, &inserted), 0);
    /* a counter that went back (a meter replaced): the newest day counts, not the largest */
    r[0] = reading_at(1, today - 2 * DAY_MS, 230, 90000, -1);
    r[1] = reading_at(2, today - DAY_MS, 230, 500, -1);
    r[2] = reading_at(3, today + 10, 230, 800, -1);
    assert_int_equal(store_readings_insert(st, reset, r, 3, &inserted), 0);

    struct list_answers *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->pks = pks;
    a->rows_together = true;
    struct rollup_counters *counters = calloc(LIST_N, sizeof(*counters));
    assert_non_null(counters);
    assert_int_equal(store_readings_latest_of(st, pks, LIST_N, take_latest_of, a), 0);
    assert_int_equal(store_day_counters_before_of(st, pks, LIST_N, today, counters), 0);
    assert_int_equal(store_rollups_of(st, pks, LIST_N, ROLLUP_1D, today - 6 * DAY_MS,
                                      today + DAY_MS, take_rollup_of, a),
                     0);
    assert_true(a->rows_together);

    int with_latest = 0, with_rows = 0, with_counters = 0;
    for (int i = 0; i < LIST_N; i++) {
        struct reading one;
        int rc = store_reading_latest(st, pks[i], &one);
        if (rc == -ENOENT) {
            assert_int_equal(a->latest_seen[i], 0);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(a->latest_seen[i], 1);
            assert_readings_equal(&a->latest[i], &one);
            with_latest++;
        }
        struct rollup_counters c;
        assert_int_equal(store_rollup_counters_before(st, pks[i], ROLLUP_1D, today, &c), 0);
        assert_int_equal(counters[i].has_import, c.has_import);
        assert_int_equal(counters[i].has_export, c.has_export);
        if (c.has_import)
            assert_int_equal(counters[i].import_max_mwh, c.import_max_mwh);
        if (c.has_export)
            assert_int_equal(counters[i].export_max_mwh, c.export_max_mwh);
        with_counters += c.has_import || c.has_export;
        struct rows_of_one o = {0};
        assert_int_equal(store_rollups_query(st, pks[i], ROLLUP_1D, today - 6 * DAY_MS,
                                             today + DAY_MS, false, 100, take_one_rollup, &o),
                         0);
        assert_int_equal(a->rows_seen[i], o.n);
        for (int k = 0; k < o.n && k < 4; k++)
            assert_rollups_equal(&a->rows[i][k], &o.r[k]);
        with_rows += o.n > 0;
    }
    /* what was compared is there: every device with readings, and its days */
    assert_int_equal(with_latest, 6);
    assert_int_equal(with_rows, 6);
    assert_int_equal(with_counters, 4);
    assert_int_equal(a->rows_seen[FLEET], 3);
    assert_true(counters[FLEET].has_import && !counters[FLEET].has_export);
    assert_int_equal(counters[FLEET].import_max_mwh, 4000);
    assert_true(counters[FLEET + 1].has_import && counters[FLEET + 1].has_export);
    assert_int_equal(counters[FLEET + 1].import_max_mwh, 100);
    assert_int_equal(counters[FLEET + 1].export_max_mwh, 950);
    assert_int_equal(counters[FLEET + 5].import_max_mwh, 500);
    assert_false(counters[FLEET + 4].has_import);
    assert_int_equal(a->latest[FLEET + 1].seq, 9);

    /* nothing asked, nothing answered; an empty range reads no rows */
    assert_int_equal(store_readings_latest_of(st, pks, 0, take_latest_of, a), 0);
    memset(a->rows_seen, 0, sizeof(a->rows_seen));
    assert_int_equal(store_rollups_of(st, pks, LIST_N, ROLLUP_1D, today, today, take_rollup_of, a),
                     0);
    for (int i = 0; i < LIST_N; i++)
        assert_int_equal(a->rows_seen[i], 0);
    free(counters);
    free(a);
}

/* --- accounts, a page at a time ------------------------------------------------------------- */

struct names {
    char name[40][USERNAME_MAX + 1];
    size_t n;
};

static int take_name(const struct user_rec *u, void *ctx)
{
    struct names *a = ctx;
    if (a->n < 40)
        snprintf(a->name[a->n], sizeof(a->name[0]), "%s", u->username);
    a->n++;
    return 0;
}

static void test_a_walk_of_the_user_pages_gives_the_whole_list_in_order(void **state)
{
    (void)state;
    for (int i = 12; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof(name), "page-u-%02d", i);
        int64_t id;
        assert_int_equal(store_user_add(st, name, "x", ROLE_USER, &id), 0);
    }
    struct names *all = calloc(1, sizeof(*all)), *walk = calloc(1, sizeof(*walk));
    assert_non_null(all);
    assert_non_null(walk);
    assert_int_equal(store_user_list(st, take_name, all), 0);
    int64_t total = -1;
    assert_int_equal(store_user_count(st, &total), 0);
    assert_int_equal(total, (int64_t)all->n);
    assert_true(all->n >= 14 && all->n < 40);
    char after[USERNAME_MAX + 1] = "";
    bool more = true;
    int pages = 0;
    while (more) {
        size_t before = walk->n;
        assert_int_equal(store_user_page(st, after, 4, take_name, walk, &more), 0);
        assert_true(walk->n - before <= 4);
        if (more)
            assert_int_equal(walk->n - before, 4);
        if (walk->n > before)
            snprintf(after, sizeof(after), "%s", walk->name[walk->n - 1]);
        assert_true(++pages < 20);
    }
    assert_int_equal(pages, (int)(all->n + 3) / 4);
    assert_int_equal(walk->n, all->n);
    for (size_t i = 0; i < all->n; i++)
        assert_string_equal(walk->name[i], all->name[i]);
    /* from a key that is no account: the accounts after it */
    struct names *tail = calloc(1, sizeof(*tail));
    assert_non_null(tail);
    assert_int_equal(store_user_page(st, "page-u-10a", 100, take_name, tail, &more), 0);
    assert_false(more);
    assert_true(tail->n >= 2);
    assert_string_equal(tail->name[0], "page-u-11");
    assert_int_equal(store_user_page(st, "", 0, take_name, tail, &more), -EINVAL);
    free(tail);
    free(walk);
    free(all);
}

/* --- a device's ledger, a page at a time --------------------------------------------------- */

struct entry_ids {
    int64_t id[32];
    size_t n;
};

static int take_entry(const struct ledger_entry *e, void *ctx)
{
    struct entry_ids *a = ctx;
    if (a->n < 32)
        a->id[a->n] = e->id;
    a->n++;
    return 0;
}

static void test_a_walk_of_the_ledger_pages_gives_every_entry_newest_first(void **state)
{
    (void)state;
    int64_t pk = add_device("ledger-pages", 0), other = add_device("ledger-other", 0);
    struct recharge_result rr;
    for (int i = 1; i <= 11; i++) {
        assert_int_equal(store_recharge(st, pk, 100 * i, 0, NULL, &rr), 0);
        assert_int_equal(store_recharge(st, other, 7, 0, NULL, &rr), 0); /* interleaved ids */
    }
    struct entry_ids all = {0}, walk = {0};
    assert_int_equal(store_ledger_list(st, pk, 100, take_entry, &all), 0);
    assert_int_equal(all.n, 11);
    int64_t total = -1;
    assert_int_equal(store_ledger_count(st, pk, &total), 0);
    assert_int_equal(total, 11);
    int64_t before = 0;
    bool more = true;
    int pages = 0;
    while (more) {
        size_t was = walk.n;
        assert_int_equal(store_ledger_page(st, pk, before, 3, take_entry, &walk, &more), 0);
        if (more)
            assert_int_equal(walk.n - was, 3);
        before = walk.id[walk.n - 1];
        assert_true(++pages < 10);
    }
    assert_int_equal(pages, 4);
    assert_int_equal(walk.n, all.n);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(walk.id[i], all.id[i]);
    for (size_t i = 1; i < walk.n; i++)
        assert_true(walk.id[i] < walk.id[i - 1]);
    /* an exact last page says there is no more */
    struct entry_ids last = {0};
    assert_int_equal(store_ledger_page(st, pk, all.id[7], 3, take_entry, &last, &more), 0);
    assert_int_equal(last.n, 3);
    assert_false(more);
    assert_int_equal(store_ledger_count(st, INT64_C(999999999), &total), 0);
    assert_int_equal(total, 0);
}

static int take_capture(const struct capture_rec *c, void *ctx)
{
    struct entry_ids *a = ctx;
    if (a->n < 32)
        a->id[a->n] = c->id;
    a->n++;
    return 0;
}

static void test_a_walk_of_the_capture_pages_gives_every_capture_newest_first(void **state)
{
    (void)state;
    int64_t pk = add_device("capture-pages", 0), other = add_device("capture-other", 0);
    for (int i = 0; i < 8; i++) {
        char req[32];
        int64_t id;
        snprintf(req, sizeof(req), "req-%d", i);
        assert_int_equal(store_capture_create(st, pk, req, 0, 1000, T0_MS + i, &id), 0);
        assert_int_equal(store_capture_create(st, other, req, 0, 1000, T0_MS + i, &id), 0);
    }
    struct entry_ids all = {0}, walk = {0};
    assert_int_equal(store_capture_list(st, pk, 100, take_capture, &all), 0);
    assert_int_equal(all.n, 8);
    int64_t total = -1;
    assert_int_equal(store_capture_count(st, pk, &total), 0);
    assert_int_equal(total, 8);
    int64_t before = 0;
    bool more = true;
    int pages = 0;
    while (more) {
        size_t was = walk.n;
        assert_int_equal(store_capture_page(st, pk, before, 3, take_capture, &walk, &more), 0);
        if (more)
            assert_int_equal(walk.n - was, 3);
        before = walk.id[walk.n - 1];
        assert_true(++pages < 10);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(walk.n, all.n);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(walk.id[i], all.id[i]);
    assert_int_equal(store_capture_page(st, pk, 0, 0, take_capture, &walk, &more), -EINVAL);
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
        cmocka_unit_test(test_the_answers_for_many_devices_equal_the_answers_one_by_one),
        cmocka_unit_test(test_a_walk_of_the_user_pages_gives_the_whole_list_in_order),
        cmocka_unit_test(test_a_walk_of_the_ledger_pages_gives_every_entry_newest_first),
        cmocka_unit_test(test_a_walk_of_the_capture_pages_gives_every_capture_newest_first),
        cmocka_unit_test(test_a_users_pages_follow_device_id_not_the_order_of_binding),
        cmocka_unit_test(test_a_new_name_is_what_the_search_finds),
    };
    return cmocka_run_group_tests(tests, fleet_setup, fleet_teardown);
}
