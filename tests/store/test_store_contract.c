/*
 * The storage contract: every backend must pass this same suite.
 * Usage: test_store_contract URL   (sqlite:PATH or mysql://...; the database
 * must be empty; a sqlite file is removed first).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sitetime.h"
#include "store.h"
#include "store_fixture.h"
#include "store_testing.h"
#include "timeutil.h"

static const char *url;
static struct store *st;
static int64_t alice, bob, op;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int64_t add_device(const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    assert_true(id > 0);
    return id;
}

static struct reading make_reading(uint64_t seq, int64_t ts, double v, double i)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, v);
    reading_set_real(&r, RR_CURRENT, i);
    return r;
}

/* Migrated by the first test, which checks that migrating twice is harmless. */
static int group_setup(void **state)
{
    (void)state;
    return store_fixture_open(url, 0, &st);
}

static int group_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

static void test_migrate_is_idempotent(void **state)
{
    (void)state;
    int applied = -1, version = -1;
    assert_int_equal(store_schema_version(st, &version), 0);
    assert_int_equal(version, 0);
    assert_int_equal(store_migrate(st, &applied), 0);
    assert_int_equal(applied, store_schema_latest(st));
    assert_true(applied >= 1);
    assert_int_equal(store_migrate(st, &applied), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(store_schema_version(st, &version), 0);
    assert_int_equal(version, store_schema_latest(st));
}

static int count_users(const struct user_rec *u, void *ctx)
{
    char *names = ctx;
    strcat(names, u->username);
    strcat(names, ",");
    return 0;
}

static void test_users_are_unique_and_found_by_name_and_id(void **state)
{
    (void)state;
    struct user_rec u;
    assert_int_equal(store_user_add(st, "bob", "hash-b", ROLE_USER, &bob), 0);
    assert_int_equal(store_user_add(st, "alice", "hash-a", ROLE_USER, &alice), 0);
    assert_int_equal(store_user_add(st, "op", "hash-o", ROLE_OPERATOR, &op), 0);
    assert_int_equal(store_user_add(st, "alice", "other", ROLE_ADMIN, NULL), -EEXIST);
    assert_int_equal(store_user_add(st, "Alice", "case", ROLE_USER, NULL), 0);

    assert_int_equal(store_user_by_name(st, "alice", &u), 0);
    assert_int_equal(u.id, alice);
    assert_string_equal(u.password_hash, "hash-a");
    assert_int_equal(u.role, ROLE_USER);
    assert_true(u.created_ms > TIME_MIN_VALID_MS);
    assert_int_equal(store_user_by_id(st, op, &u), 0);
    assert_string_equal(u.username, "op");
    assert_int_equal(u.role, ROLE_OPERATOR);
    assert_int_equal(store_user_by_name(st, "nobody", &u), -ENOENT);
    assert_int_equal(store_user_by_id(st, 999999, &u), -ENOENT);

    char names[256] = "";
    assert_int_equal(store_user_list(st, count_users, names), 0);
    assert_string_equal(names, "Alice,alice,bob,op,");
}

static void test_devices_are_unique_and_start_empty(void **state)
{
    (void)state;
    struct device_rec d;
    int64_t id = add_device("dev-1");
    assert_int_equal(store_device_add(st, "dev-1", HASH_A, 0, NULL), -EEXIST);
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(d.id, id);
    assert_string_equal(d.secret_hash, HASH_A);
    assert_int_equal(d.balance_fen, 0);
    assert_int_equal(d.status, DEVICE_STATUS_UNKNOWN);
    assert_int_equal(store_device_by_name(st, "dev-404", &d), -ENOENT);
}

static int collect_devices(const struct device_rec *d, void *ctx)
{
    strcat(ctx, d->device_id);
    strcat(ctx, ",");
    return 0;
}

static int collect_names(const char *name, void *ctx)
{
    strcat(ctx, name);
    strcat(ctx, ",");
    return 0;
}

static void test_bindings_decide_who_sees_a_device(void **state)
{
    (void)state;
    int64_t d2 = add_device("dev-2");
    int64_t d3 = add_device("dev-3");
    struct device_rec d1;
    assert_int_equal(store_device_by_name(st, "dev-1", &d1), 0);

    assert_int_equal(store_binding_add(st, alice, d2), 0);
    assert_int_equal(store_binding_add(st, alice, d1.id), 0);
    assert_int_equal(store_binding_add(st, bob, d3), 0);
    assert_int_equal(store_binding_add(st, alice, d2), -EEXIST);
    assert_int_equal(store_binding_add(st, 987654, d2), -ENOENT);

    assert_int_equal(store_binding_check(st, alice, d2), 0);
    assert_int_equal(store_binding_check(st, alice, d3), -ENOENT);
    assert_int_equal(store_binding_check(st, bob, d3), 0);

    char list[256] = "";
    assert_int_equal(store_device_list(st, alice, collect_devices, list), 0);
    assert_string_equal(list, "dev-1,dev-2,");
    list[0] = '\0';
    assert_int_equal(store_device_list(st, 0, collect_devices, list), 0);
    assert_string_equal(list, "dev-1,dev-2,dev-3,");
    list[0] = '\0';
    assert_int_equal(store_device_list(st, op, collect_devices, list), 0);
    assert_string_equal(list, "");

    assert_int_equal(store_binding_add(st, bob, d2), 0);
    list[0] = '\0';
    assert_int_equal(store_binding_users(st, d2, collect_names, list), 0);
    assert_string_equal(list, "alice,bob,");
    assert_int_equal(store_binding_remove(st, bob, d2), 0);
    assert_int_equal(store_binding_remove(st, bob, d2), -ENOENT);
    assert_int_equal(store_binding_check(st, bob, d2), -ENOENT);
}

struct collected {
    int n;
    struct reading r[64];
};

static int collect_reading(const struct reading *r, void *ctx)
{
    struct collected *c = ctx;
    if (c->n < 64)
        c->r[c->n++] = *r;
    return 0;
}

static void test_readings_are_idempotent_on_seq_and_newest_first(void **state)
{
    (void)state;
    int64_t d = add_device("dev-r");
    int64_t t0 = INT64_C(1767225600000); /* 2026-01-01 */
    struct reading r[4] = {
        make_reading(1, t0, 230.1, 10.1), make_reading(2, t0 + 1000, 230.2, 10.2),
        make_reading(3, t0 + 2000, 230.3, 10.3), make_reading(4, t0 + 3000, 230.4, 10.4)};
    size_t inserted = 99;
    assert_int_equal(store_readings_insert(st, d, r, 3, &inserted), 0);
    assert_int_equal(inserted, 3);
    /* a replay of 2..3 plus one new reading: only the new one is stored */
    r[1].real[RR_VOLTAGE] = 999; /* a replay never overwrites what was stored */
    assert_int_equal(store_readings_insert(st, d, &r[1], 3, &inserted), 0);
    assert_int_equal(inserted, 1);

    struct collected c = {0};
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 100, collect_reading, &c), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.r[0].seq, 4);
    assert_int_equal(c.r[3].seq, 1);
    assert_int_equal(c.r[2].ts_ms, t0 + 1000);
    assert_true(c.r[2].real[RR_VOLTAGE] == 230.2);
    assert_true(c.r[0].real[RR_CURRENT] == 10.4);

    memset(&c, 0, sizeof(c));
    assert_int_equal(store_readings_query(st, d, t0 + 1000, t0 + 3000, 100, collect_reading, &c),
                     0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.r[0].seq, 3);
    assert_int_equal(c.r[1].seq, 2);

    memset(&c, 0, sizeof(c));
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 1, collect_reading, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.r[0].seq, 4);

    struct reading latest;
    assert_int_equal(store_reading_latest(st, d, &latest), 0);
    assert_int_equal(latest.seq, 4);
    int64_t empty = add_device("dev-empty");
    assert_int_equal(store_reading_latest(st, empty, &latest), -ENOENT);
}

static void test_optional_fields_round_trip_exactly(void **state)
{
    (void)state;
    int64_t d = add_device("dev-opt");
    struct reading r[2] = {make_reading(7, INT64_C(1767225600000), 229.875, 12.5),
                           make_reading(8, INT64_C(1767225601000), 0, 0)};
    reading_set_real(&r[0], RR_POWER_W, -1234.5);
    reading_set_real(&r[0], RR_PF, -0.875);
    reading_set_real(&r[0], RR_FREQ_HZ, 49.73);
    reading_set_counter(&r[0], RC_ENERGY_IMPORT, INT64_C(123456789012345));
    reading_set_counter(&r[0], RC_BOOT, 4294967295);
    assert_int_equal(store_readings_insert(st, d, r, 2, NULL), 0);

    struct collected c = {0};
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 10, collect_reading, &c), 0);
    assert_int_equal(c.n, 2);
    const struct reading *a = &c.r[1], *b = &c.r[0];
    assert_true(reading_has_real(a, RR_POWER_W) && a->real[RR_POWER_W] == -1234.5);
    assert_true(reading_has_real(a, RR_PF) && a->real[RR_PF] == -0.875);
    assert_true(a->real[RR_FREQ_HZ] == 49.73);
    assert_false(reading_has_real(a, RR_THD_V));
    assert_false(reading_has_real(a, RR_REACTIVE_VAR));
    assert_true(reading_has_counter(a, RC_ENERGY_IMPORT));
    assert_int_equal(a->counter[RC_ENERGY_IMPORT], INT64_C(123456789012345));
    assert_int_equal(a->counter[RC_BOOT], 4294967295);
    assert_false(reading_has_counter(a, RC_ENERGY_EXPORT));
    assert_true(reading_has_real(b, RR_VOLTAGE) && b->real[RR_VOLTAGE] == 0);
    assert_int_equal(b->real_present, (UINT64_C(1) << RR_VOLTAGE) | (UINT64_C(1) << RR_CURRENT));
    assert_int_equal(b->counter_present, 0);
}

static void test_a_device_and_its_owner_binding_are_added_together(void **state)
{
    (void)state;
    int64_t id = 0;
    struct device_rec d;
    assert_int_equal(store_device_add(st, "dev-owned", HASH_A, bob, &id), 0);
    assert_int_equal(store_binding_check(st, bob, id), 0);
    /* an owner that does not exist leaves no device behind */
    assert_int_equal(store_device_add(st, "dev-orphan", HASH_A, 987654, &id), -ENOENT);
    assert_int_equal(store_device_by_name(st, "dev-orphan", &d), -ENOENT);
}

static void test_readings_without_seq_continue_after_the_highest(void **state)
{
    (void)state;
    int64_t d = add_device("dev-noseq");
    struct reading r[3] = {make_reading(41, INT64_C(1767225600000), 1, 1),
                           make_reading(0, INT64_C(1767225601000), 2, 2),
                           make_reading(0, INT64_C(1767225602000), 3, 3)};
    assert_int_equal(store_readings_insert(st, d, r, 1, NULL), 0);
    r[1].has_seq = r[2].has_seq = false;
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(st, d, &r[1], 2, &inserted), 0);
    assert_int_equal(inserted, 2);
    struct collected c = {0};
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 10, collect_reading, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.r[0].seq, 43);
    assert_int_equal(c.r[1].seq, 42);
    assert_true(c.r[0].real[RR_VOLTAGE] == 3);

    /* in a mixed batch, readings without seq come after the batch's own highest seq */
    struct reading mixed[2] = {make_reading(0, INT64_C(1767225603000), 4, 4),
                               make_reading(44, INT64_C(1767225604000), 5, 5)};
    mixed[0].has_seq = false;
    assert_int_equal(store_readings_insert(st, d, mixed, 2, &inserted), 0);
    assert_int_equal(inserted, 2);
    struct reading latest;
    assert_int_equal(store_reading_latest(st, d, &latest), 0);
    assert_int_equal(latest.seq, 45);
    assert_true(latest.real[RR_VOLTAGE] == 4);
}

static void test_readings_without_seq_never_pass_the_largest_seq(void **state)
{
    (void)state;
    int64_t d = add_device("dev-seq-top");
    struct store_batch_item items[3];
    memset(items, 0, sizeof(items));
    items[0].device_pk = d;
    items[0].reading = make_reading(READING_SEQ_MAX - 1, INT64_C(1767225600000), 1, 1);
    size_t inserted = 0;
    assert_int_equal(store_readings_insert_batch(st, items, 1, &inserted), 0);
    assert_int_equal(inserted, 1);
    /* Two without seq: the first takes the last seq there is, the second finds none left. */
    for (int k = 0; k < 2; k++) {
        items[k].device_pk = d;
        items[k].reading = make_reading(0, INT64_C(1767225601000) + k, 2 + k, 1);
        items[k].reading.has_seq = false;
    }
    assert_int_equal(store_readings_insert_batch(st, items, 2, &inserted), 0);
    assert_int_equal(inserted, 1);
    assert_true(items[0].inserted && !items[0].no_seq_left);
    assert_int_equal(items[0].reading.seq, READING_SEQ_MAX);
    assert_true(!items[1].inserted && items[1].no_seq_left && !items[1].reading.has_seq);
    /* Later ones too, each time: nothing wraps to a negative or small seq. */
    assert_int_equal(store_readings_insert_batch(st, &items[1], 1, &inserted), 0);
    assert_int_equal(inserted, 0);
    assert_true(items[1].no_seq_left);
    struct collected c = {0};
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 10, collect_reading, &c), 0);
    assert_int_equal(c.n, 2);
    for (int k = 0; k < c.n; k++)
        assert_true(c.r[k].seq >= READING_SEQ_MAX - 1 && c.r[k].seq <= READING_SEQ_MAX);
    /* Another device is not affected in the same batch. */
    int64_t other = add_device("dev-seq-low");
    items[2].device_pk = other;
    items[2].reading = make_reading(0, INT64_C(1767225605000), 5, 1);
    items[2].reading.has_seq = false;
    assert_int_equal(store_readings_insert_batch(st, &items[1], 2, &inserted), 0);
    assert_int_equal(inserted, 1);
    assert_true(items[2].inserted && items[2].reading.seq == 1);
}

struct buckets {
    int n;
    struct reading_bucket b[8];
};

static int collect_bucket(const struct reading_bucket *b, void *ctx)
{
    struct buckets *c = ctx;
    if (c->n < 8)
        c->b[c->n++] = *b;
    return 0;
}

static void test_buckets_give_avg_min_max_per_interval(void **state)
{
    (void)state;
    int64_t d = add_device("dev-b");
    int64_t t0 = INT64_C(1767225600000);
    struct reading r[5];
    for (int k = 0; k < 5; k++) {
        r[k] = make_reading((uint64_t)k + 1, t0 + k * 30000, 220 + k, 10);
        reading_set_counter(&r[k], RC_ENERGY_IMPORT, 1000 * (k + 1));
    }
    /* 0 s, 30 s -> first minute; 60, 90 -> second; 120 -> third */
    assert_int_equal(store_readings_insert(st, d, r, 5, NULL), 0);
    struct buckets c = {0};
    assert_int_equal(store_readings_buckets(st, d, t0, t0 + 180000, 60000, 100, collect_bucket, &c),
                     0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.b[0].start_ms, t0 + 120000);
    assert_int_equal(c.b[0].count, 1);
    assert_int_equal(c.b[2].start_ms, t0);
    assert_int_equal(c.b[2].count, 2);
    assert_true(c.b[1].real_present & (UINT64_C(1) << RR_VOLTAGE));
    assert_true(c.b[1].avg[RR_VOLTAGE] == 222.5);
    assert_true(c.b[1].min[RR_VOLTAGE] == 222);
    assert_true(c.b[1].max[RR_VOLTAGE] == 223);
    assert_false(c.b[1].real_present & (UINT64_C(1) << RR_PF));
    assert_true(c.b[1].counter_present & (UINT64_C(1) << RC_ENERGY_IMPORT));
    assert_int_equal(c.b[1].counter_last[RC_ENERGY_IMPORT], 4000);

    memset(&c, 0, sizeof(c));
    assert_int_equal(store_readings_buckets(st, d, t0, t0 + 180000, 60000, 2, collect_bucket, &c),
                     0);
    assert_int_equal(c.n, 2);
}

static void test_recharge_is_exact_in_fen(void **state)
{
    (void)state;
    struct device_rec d;
    struct recharge_result res;
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(store_recharge(st, d.id, 10010, op, NULL, &res), 0);
    assert_int_equal(res.new_balance_fen, 10010);
    assert_false(res.replayed);
    assert_int_equal(store_recharge(st, d.id, 20, op, NULL, &res), 0);
    assert_int_equal(res.new_balance_fen, 10030);
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(d.balance_fen, 10030);
    assert_int_equal(store_recharge(st, d.id, 0, op, NULL, &res), -ERANGE);
    assert_int_equal(store_recharge(st, d.id, -5, op, NULL, &res), -ERANGE);
    assert_int_equal(store_recharge(st, 987654, 100, op, NULL, &res), -ENOENT);
}

static void test_recharge_is_idempotent_per_key(void **state)
{
    (void)state;
    int64_t d = add_device("dev-idem");
    int64_t other = add_device("dev-idem-2");
    struct recharge_result a, b;
    assert_int_equal(store_recharge(st, d, 500, op, "key-1", &a), 0);
    assert_false(a.replayed);
    assert_int_equal(store_recharge(st, d, 500, op, "key-1", &b), 0);
    assert_true(b.replayed);
    assert_int_equal(b.new_balance_fen, 500);
    assert_int_equal(b.ledger_id, a.ledger_id);
    /* the same key for a different request is a conflict, never a second credit */
    assert_int_equal(store_recharge(st, d, 600, op, "key-1", &b), -EEXIST);
    assert_int_equal(store_recharge(st, other, 500, op, "key-1", &b), -EEXIST);
    /* keys belong to their actor */
    assert_int_equal(store_recharge(st, d, 500, alice, "key-1", &b), 0);
    assert_false(b.replayed);
    assert_int_equal(b.new_balance_fen, 1000);

    struct device_rec rec;
    assert_int_equal(store_device_by_name(st, "dev-idem", &rec), 0);
    assert_int_equal(rec.balance_fen, 1000);
}

static void test_balance_cannot_exceed_the_maximum(void **state)
{
    (void)state;
    int64_t d = add_device("dev-max");
    struct recharge_result res;
    assert_int_equal(store_recharge(st, d, STORE_BALANCE_MAX_FEN, op, NULL, &res), 0);
    assert_int_equal(store_recharge(st, d, 1, op, NULL, &res), -ERANGE);
    struct device_rec rec;
    assert_int_equal(store_device_by_name(st, "dev-max", &rec), 0);
    assert_int_equal(rec.balance_fen, STORE_BALANCE_MAX_FEN);
}

struct ledger_seen {
    int n;
    struct ledger_entry e[8];
};

static int collect_ledger(const struct ledger_entry *e, void *ctx)
{
    struct ledger_seen *c = ctx;
    if (c->n < 8)
        c->e[c->n++] = *e;
    return 0;
}

static void test_ledger_lists_every_credit_newest_first(void **state)
{
    (void)state;
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    struct ledger_seen c = {0};
    assert_int_equal(store_ledger_list(st, d.id, 10, collect_ledger, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].amount_fen, 20);
    assert_int_equal(c.e[0].balance_after_fen, 10030);
    assert_int_equal(c.e[1].amount_fen, 10010);
    assert_string_equal(c.e[0].kind, "recharge");
    assert_string_equal(c.e[0].actor, "op");
    assert_true(c.e[0].id > c.e[1].id);
}

static void test_status_keeps_the_newest_update(void **state)
{
    (void)state;
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "dev-2", &d), 0);
    assert_int_equal(store_device_set_status(st, d.id, DEVICE_STATUS_ONLINE, 2000), 0);
    assert_int_equal(store_device_set_status(st, d.id, DEVICE_STATUS_OFFLINE, 1000), 0);
    assert_int_equal(store_device_by_name(st, "dev-2", &d), 0);
    assert_int_equal(d.status, DEVICE_STATUS_ONLINE);
    assert_int_equal(d.status_ms, 2000);
    assert_int_equal(store_device_set_status(st, d.id, DEVICE_STATUS_OFFLINE, 3000), 0);
    assert_int_equal(store_device_by_name(st, "dev-2", &d), 0);
    assert_int_equal(d.status, DEVICE_STATUS_OFFLINE);
}

struct racer {
    int64_t device;
    int result;
    struct recharge_result res;
};

static void *race_recharge(void *arg)
{
    struct racer *r = arg;
    struct store *own = store_fixture_connect(url);
    if (!own) {
        r->result = -EIO;
        return NULL;
    }
    r->result = store_recharge(own, r->device, 700, op, "race-key", &r->res);
    store_close(own);
    return NULL;
}

static void test_concurrent_retries_credit_once(void **state)
{
    (void)state;
    int64_t d = add_device("dev-race");
    struct racer r[4];
    pthread_t t[4];
    for (int k = 0; k < 4; k++) {
        memset(&r[k], 0, sizeof(r[k]));
        r[k].device = d;
        assert_int_equal(pthread_create(&t[k], NULL, race_recharge, &r[k]), 0);
    }
    int fresh = 0;
    for (int k = 0; k < 4; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(r[k].result, 0);
        assert_int_equal(r[k].res.new_balance_fen, 700);
        fresh += !r[k].res.replayed;
    }
    assert_int_equal(fresh, 1);
    struct device_rec rec;
    assert_int_equal(store_device_by_name(st, "dev-race", &rec), 0);
    assert_int_equal(rec.balance_fen, 700);
}

/* --- captures ------------------------------------------------------------------------------ */

static const char analysis_json[] =
    "{\"frequency_hz\":49.73,\"vrms\":230.4,\"harmonics_v\":[0,100,0,5]}";

static void fill_samples(float *v, float *i, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)(325.0 * (double)((k * 37) % 101) / 100.0 - 160.0);
        i[k] = (float)((double)k * -1e-3);
    }
    v[0] = 1e-30f;
    i[0] = -0.0f;
}

static void test_a_capture_goes_from_pending_to_complete_once(void **state)
{
    (void)state;
    struct device_rec d, d2;
    struct capture_rec c;
    int64_t id = 0, other = 0;
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(store_device_by_name(st, "dev-2", &d2), 0);
    assert_int_equal(store_capture_create(st, d.id, "req-1", op, 2000, 1795459553355, &id), 0);
    assert_true(id > 0);
    assert_int_equal(store_capture_create(st, d.id, "req-1", op, 500, 1795459553355, NULL),
                     -EEXIST);
    /* request ids are unique per device only */
    assert_int_equal(store_capture_create(st, d2.id, "req-1", 0, 500, 1795459553355, &other), 0);
    assert_true(other != id);
    assert_int_equal(store_capture_create(st, 999999, "req-x", op, 500, 1795459553355, NULL),
                     -ENOENT);

    assert_int_equal(store_capture_get(st, d.id, id, true, &c), 0);
    assert_int_equal(c.id, id);
    assert_int_equal(c.device_pk, d.id);
    assert_string_equal(c.request_id, "req-1");
    assert_string_equal(c.requested_by, "op");
    assert_int_equal(c.requested_ms, 1795459553355);
    assert_int_equal(c.duration_ms, 2000);
    assert_int_equal(c.status, CAPTURE_PENDING);
    assert_int_equal(c.samples, 0);
    assert_null(c.analysis);
    assert_null(c.v);
    capture_rec_clear(&c);
    /* a capture is found only through its own device */
    assert_int_equal(store_capture_get(st, d2.id, id, false, &c), -ENOENT);
    assert_int_equal(store_capture_get(st, d2.id, other, false, &c), 0);
    assert_string_equal(c.requested_by, "");

    enum { N = 1000 };
    static float v[N], i[N];
    fill_samples(v, i, N);
    struct capture_data data = {.rate_hz = 6400.5,
                                .nominal_hz = 60,
                                .start_ms = 1795459551000,
                                .received_ms = 1795459554000,
                                .samples = N,
                                .v = v,
                                .i = i,
                                .analysis = analysis_json};
    assert_int_equal(store_capture_complete(st, d.id, "req-1", &data), 0);
    assert_int_equal(store_capture_complete(st, d.id, "req-1", &data), -ENOENT);
    assert_int_equal(store_capture_fail(st, d.id, "req-1", "late", 1795459555000), -ENOENT);
    assert_int_equal(store_capture_complete(st, d.id, "req-unknown", &data), -ENOENT);

    assert_int_equal(store_capture_get(st, d.id, id, true, &c), 0);
    assert_int_equal(c.status, CAPTURE_COMPLETE);
    assert_true(c.rate_hz == 6400.5);
    assert_true(c.nominal_hz == 60);
    assert_int_equal(c.start_ms, 1795459551000);
    assert_int_equal(c.received_ms, 1795459554000);
    assert_int_equal(c.samples, N);
    assert_string_equal(c.message, "");
    assert_string_equal(c.analysis, analysis_json);
    assert_non_null(c.v);
    assert_non_null(c.i);
    assert_memory_equal(c.v, v, sizeof(v));
    assert_memory_equal(c.i, i, sizeof(i));
    capture_rec_clear(&c);
    assert_null(c.v);

    assert_int_equal(store_capture_get(st, d.id, id, false, &c), 0);
    assert_string_equal(c.analysis, analysis_json);
    assert_null(c.v);
    assert_null(c.i);
    capture_rec_clear(&c);
    assert_int_equal(store_capture_by_request(st, d.id, "req-1", &c), 0);
    assert_int_equal(c.id, id);
    assert_int_equal(c.status, CAPTURE_COMPLETE);
    assert_null(c.analysis);
    assert_int_equal(store_capture_by_request(st, d.id, "req-404", &c), -ENOENT);
}

static void test_a_failed_capture_keeps_a_printable_message(void **state)
{
    (void)state;
    struct device_rec d;
    struct capture_rec c;
    int64_t id = 0;
    char msg[400];
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(store_capture_create(st, d.id, "req-2", op, 100, 1795459560000, &id), 0);
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    memcpy(msg, "no \xe6\xa0\xb7 samples\n", 15);
    assert_int_equal(store_capture_fail(st, d.id, "req-2", msg, 1795459561000), 0);
    assert_int_equal(store_capture_fail(st, d.id, "req-2", "again", 1795459562000), -ENOENT);
    float v = 1, i = 2;
    struct capture_data data = {.rate_hz = 100, .nominal_hz = 50, .samples = 1, .v = &v, .i = &i};
    assert_int_equal(store_capture_complete(st, d.id, "req-2", &data), -ENOENT);
    assert_int_equal(store_capture_get(st, d.id, id, true, &c), 0);
    assert_int_equal(c.status, CAPTURE_FAILED);
    assert_int_equal(strlen(c.message), CAPTURE_MESSAGE_MAX);
    assert_memory_equal(c.message, "no \xe6\xa0\xb7 samples?xxx", 18);
    assert_int_equal(c.received_ms, 1795459561000);
    assert_int_equal(c.samples, 0);
    assert_null(c.v);
    assert_null(c.analysis);
}

struct capture_seen {
    int n;
    int64_t id[8];
    enum capture_status status[8];
};

static int collect_capture(const struct capture_rec *c, void *ctx)
{
    struct capture_seen *s = ctx;
    assert_null(c->analysis);
    assert_null(c->v);
    if (s->n < 8) {
        s->id[s->n] = c->id;
        s->status[s->n++] = c->status;
    }
    return 0;
}

static void test_captures_list_newest_first_per_device(void **state)
{
    (void)state;
    struct device_rec d;
    int64_t id3 = 0;
    assert_int_equal(store_device_by_name(st, "dev-1", &d), 0);
    assert_int_equal(store_capture_create(st, d.id, "req-3", alice, 300, 1795459570000, &id3), 0);
    struct capture_seen seen = {0};
    assert_int_equal(store_capture_list(st, d.id, 10, collect_capture, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.id[0], id3);
    assert_int_equal(seen.status[0], CAPTURE_PENDING);
    assert_int_equal(seen.status[1], CAPTURE_FAILED);
    assert_int_equal(seen.status[2], CAPTURE_COMPLETE);
    assert_true(seen.id[1] > seen.id[2]);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_capture_list(st, d.id, 2, collect_capture, &seen), 0);
    assert_int_equal(seen.n, 2);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_capture_list(st, 999999, 10, collect_capture, &seen), 0);
    assert_int_equal(seen.n, 0);
}

static void test_a_ten_second_capture_round_trips(void **state)
{
    (void)state;
    struct device_rec d;
    struct capture_rec c;
    int64_t id = 0;
    enum { N = 128000 }; /* 10 s at 12.8 kHz: 1 MB of samples */
    float *v = malloc(N * sizeof(float)), *i = malloc(N * sizeof(float));
    assert_non_null(v);
    assert_non_null(i);
    fill_samples(v, i, N);
    assert_int_equal(store_device_by_name(st, "dev-3", &d), 0);
    assert_int_equal(store_capture_create(st, d.id, "big", op, 10000, 1795459580000, &id), 0);
    struct capture_data data = {.rate_hz = 12800,
                                .nominal_hz = 50,
                                .start_ms = 1795459570000,
                                .received_ms = 1795459581000,
                                .samples = N,
                                .v = v,
                                .i = i,
                                .message = "too short to analyse"};
    assert_int_equal(store_capture_complete(st, d.id, "big", &data), 0);
    assert_int_equal(store_capture_get(st, d.id, id, true, &c), 0);
    assert_int_equal(c.samples, N);
    assert_null(c.analysis);
    assert_string_equal(c.message, "too short to analyse");
    assert_memory_equal(c.v, v, N * sizeof(float));
    assert_memory_equal(c.i, i, N * sizeof(float));
    capture_rec_clear(&c);
    free(v);
    free(i);
}

/* --- batches and rollups -------------------------------------------------------------------- */

#define T0_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static struct rollup_delta rollup(int64_t device, enum rollup_period p, int64_t bucket)
{
    struct rollup_delta d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(store_rollup_get(st, device, p, bucket, &d), 0);
    return d;
}

static void assert_rollup_equal(const struct rollup_delta *a, const struct rollup_delta *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->first_ts_ms, b->first_ts_ms);
    assert_int_equal(a->last_ts_ms, b->last_ts_ms);
    for (int k = 0; k < RM__COUNT; k++) {
        assert_int_equal(a->m[k].n, b->m[k].n);
        assert_true(a->m[k].sum == b->m[k].sum);
        if (a->m[k].n) {
            assert_true(a->m[k].min == b->m[k].min);
            assert_true(a->m[k].max == b->m[k].max);
        }
    }
    for (int k = 0; k < RE__COUNT; k++) {
        assert_int_equal(a->e[k].present, b->e[k].present);
        if (a->e[k].present) {
            assert_int_equal(a->e[k].min, b->e[k].min);
            assert_int_equal(a->e[k].max, b->e[k].max);
        }
    }
}

static void test_a_batch_spans_devices_and_marks_what_it_inserted(void **state)
{
    (void)state;
    int64_t a = add_device("batch-a"), b = add_device("batch-b");
    struct store_batch_item items[5];
    memset(items, 0, sizeof(items));
    items[0] = (struct store_batch_item){
        .device_pk = a, .reading = make_reading(1, T0_MS, 230, 1), .inserted = true};
    items[1] = (struct store_batch_item){
        .device_pk = b, .reading = make_reading(1, T0_MS, 231, 2), .inserted = true};
    items[2] = (struct store_batch_item){
        .device_pk = a, .reading = make_reading(2, T0_MS + 1000, 232, 3), .inserted = true};
    items[3] = (struct store_batch_item){
        .device_pk = a, .reading = make_reading(1, T0_MS, 999, 9), .inserted = true}; /* repeat */
    items[4] = (struct store_batch_item){
        .device_pk = b, .reading = make_reading(2, T0_MS + 1000, 233, 4), .inserted = true};
    size_t inserted = 99;
    assert_int_equal(store_readings_insert_batch(st, items, 5, &inserted), 0);
    assert_int_equal(inserted, 4);
    bool want[5] = {true, true, true, false, true};
    for (int k = 0; k < 5; k++)
        assert_int_equal(items[k].inserted, want[k]);
    struct reading latest;
    assert_int_equal(store_reading_latest(st, a, &latest), 0);
    assert_int_equal(latest.seq, 2);

    /* The same batch again: nothing is new, every item says so. */
    assert_int_equal(store_readings_insert_batch(st, items, 5, &inserted), 0);
    assert_int_equal(inserted, 0);
    for (int k = 0; k < 5; k++)
        assert_false(items[k].inserted);
    struct rollup_delta d = rollup(a, ROLLUP_1M, T0_MS);
    assert_int_equal(d.n, 2);
    assert_true(d.m[RM_VOLTAGE].sum == 462); /* 230 + 232: the repeat counted nowhere */
}

static void test_a_large_mixed_batch_inserts_exactly_the_new_rows(void **state)
{
    (void)state;
    enum { N = 300 };
    int64_t dev = add_device("batch-large");
    struct store_batch_item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    for (int k = 0; k < N; k++) /* even seqs 0, 2, ..., 598 */
        items[k] = (struct store_batch_item){
            .device_pk = dev, .reading = make_reading((uint64_t)(2 * k), T0_MS + k, 230, 1)};
    size_t inserted = 0;
    assert_int_equal(store_readings_insert_batch(st, items, N, &inserted), 0);
    assert_int_equal(inserted, N);
    for (int k = 0; k < N; k++) /* seqs 300..599: every odd one is new */
        items[k].reading = make_reading((uint64_t)(N + k), T0_MS + N + k, 230, 1);
    assert_int_equal(store_readings_insert_batch(st, items, N, &inserted), 0);
    assert_int_equal(inserted, N / 2);
    for (int k = 0; k < N; k++)
        assert_int_equal(items[k].inserted, (N + k) % 2 == 1);
    assert_int_equal(rollup(dev, ROLLUP_1M, T0_MS).n, N + N / 2);
    free(items);
}

static void test_rollups_sum_min_max_and_energy_per_bucket(void **state)
{
    (void)state;
    int64_t dev = add_device("roll-1");
    struct reading r[4];
    r[0] = make_reading(1, T0_MS + 5000, 230, 10); /* minute 0 */
    reading_set_real(&r[0], RR_VOLTAGE_MIN, 228);
    reading_set_real(&r[0], RR_POWER_W, 2000);
    reading_set_counter(&r[0], RC_ENERGY_IMPORT, 1000);
    r[1] = make_reading(2, T0_MS + 50000, 232, 12); /* minute 0 */
    reading_set_real(&r[1], RR_VOLTAGE_MAX, 236);
    reading_set_counter(&r[1], RC_ENERGY_IMPORT, 1500);
    r[2] = make_reading(3, T0_MS + 65000, 240, 5);   /* minute 1 */
    r[3] = make_reading(4, T0_MS + 3600000, 220, 1); /* the next hour */
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(st, dev, r, 4, &inserted), 0);
    assert_int_equal(inserted, 4);

    struct rollup_delta m0 = rollup(dev, ROLLUP_1M, T0_MS);
    assert_int_equal(m0.n, 2);
    assert_int_equal(m0.first_ts_ms, T0_MS + 5000);
    assert_int_equal(m0.last_ts_ms, T0_MS + 50000);
    assert_true(m0.m[RM_VOLTAGE].sum == 462);
    assert_true(m0.m[RM_VOLTAGE].min == 228); /* the reading's own interval minimum */
    assert_true(m0.m[RM_VOLTAGE].max == 236);
    assert_true(m0.m[RM_CURRENT].min == 10 && m0.m[RM_CURRENT].max == 12);
    assert_int_equal(m0.m[RM_POWER_W].n, 1);
    assert_true(m0.m[RM_POWER_W].sum == 2000 && m0.m[RM_POWER_W].min == 2000);
    assert_int_equal(m0.m[RM_PF].n, 0); /* nobody sent it: NULL min and max */
    assert_true(m0.e[RE_IMPORT].present);
    assert_int_equal(m0.e[RE_IMPORT].min, 1000);
    assert_int_equal(m0.e[RE_IMPORT].max, 1500);
    assert_false(m0.e[RE_EXPORT].present);

    struct rollup_delta m1 = rollup(dev, ROLLUP_1M, T0_MS + 60000);
    assert_int_equal(m1.n, 1);
    assert_false(m1.e[RE_IMPORT].present);
    struct rollup_delta h0 = rollup(dev, ROLLUP_1H, T0_MS);
    assert_int_equal(h0.n, 3);
    assert_true(h0.m[RM_VOLTAGE].max == 240);
    assert_int_equal(h0.e[RE_IMPORT].max, 1500);
    assert_int_equal(rollup(dev, ROLLUP_1H, T0_MS + 3600000).n, 1);
    assert_int_equal(rollup(dev, ROLLUP_1D, T0_MS).n, 4); /* UTC here: the day starts at 0:00Z */
    struct rollup_delta none;
    assert_int_equal(store_rollup_get(st, dev, ROLLUP_1M, T0_MS + 120000, &none), -ENOENT);

    /* A replay changes no rollup; a mixed batch adds only its new readings. */
    assert_int_equal(store_readings_insert(st, dev, r, 4, &inserted), 0);
    assert_int_equal(inserted, 0);
    struct rollup_delta again = rollup(dev, ROLLUP_1M, T0_MS);
    assert_rollup_equal(&again, &m0);
    struct reading mixed[2] = {r[1], make_reading(5, T0_MS + 20000, 225, 11)};
    reading_set_real(&mixed[1], RR_PF, 0.9);
    reading_set_counter(&mixed[1], RC_ENERGY_IMPORT, 900);
    reading_set_counter(&mixed[1], RC_ENERGY_EXPORT, 7);
    assert_int_equal(store_readings_insert(st, dev, mixed, 2, &inserted), 0);
    assert_int_equal(inserted, 1);
    struct rollup_delta m0b = rollup(dev, ROLLUP_1M, T0_MS);
    assert_int_equal(m0b.n, 3);
    assert_int_equal(m0b.first_ts_ms, T0_MS + 5000);
    assert_true(m0b.m[RM_VOLTAGE].sum == 687);
    assert_true(m0b.m[RM_VOLTAGE].min == 225);
    assert_int_equal(m0b.m[RM_PF].n, 1); /* NULL min/max became the first value */
    assert_true(m0b.m[RM_PF].min == 0.9 && m0b.m[RM_PF].max == 0.9);
    assert_int_equal(m0b.e[RE_IMPORT].min, 900);
    assert_int_equal(m0b.e[RE_IMPORT].max, 1500);
    assert_true(m0b.e[RE_EXPORT].present);
    assert_int_equal(m0b.e[RE_EXPORT].min, 7);
    assert_int_equal(rollup(dev, ROLLUP_1D, T0_MS).n, 5);
}

static void test_day_rollups_follow_the_site_zone(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(sitetime_set_zone("America/New_York", err, sizeof(err)), 0);
    int64_t dev = add_device("roll-ny");
    /* 2026-03-08 starts at 05:00Z (EST) and lasts 23 hours (DST starts at 2:00 local). */
    const int64_t mar8 = INT64_C(1772946000000), hour = 3600000;
    struct reading r[4] = {
        make_reading(1, mar8 - hour / 2, 230, 1),             /* 23:30 on Mar 7 */
        make_reading(2, mar8 + 7 * hour, 231, 1),             /* 07:00Z = 03:00 EDT */
        make_reading(3, mar8 + 22 * hour + hour / 2, 232, 1), /* 23:30 EDT on Mar 8 */
        make_reading(4, mar8 + 23 * hour + hour / 2, 233, 1), /* 00:30 EDT on Mar 9 */
    };
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(st, dev, r, 4, &inserted), 0);
    assert_int_equal(inserted, 4);
    assert_int_equal(rollup(dev, ROLLUP_1D, mar8 - 24 * hour).n, 1);
    struct rollup_delta day = rollup(dev, ROLLUP_1D, mar8);
    assert_int_equal(day.n, 2);
    assert_int_equal(day.first_ts_ms, mar8 + 7 * hour);
    assert_int_equal(day.last_ts_ms, mar8 + 22 * hour + hour / 2);
    assert_int_equal(rollup(dev, ROLLUP_1D, mar8 + 23 * hour).n, 1);
    /* Hours stay UTC. */
    assert_int_equal(rollup(dev, ROLLUP_1H, mar8 + 7 * hour).n, 1);
    assert_int_equal(sitetime_set_zone("UTC", err, sizeof(err)), 0);
}

static void test_bad_urls_are_rejected_with_a_message(void **state)
{
    (void)state;
    char err[STORE_ERR_LEN] = "";
    struct store *s = NULL;
    assert_int_equal(store_open("postgres://x/y", &s, err), -EINVAL);
    assert_non_null(strstr(err, "database URL"));
    assert_int_equal(store_open("sqlite:", &s, err), -EINVAL);
    assert_int_equal(store_open("sqlite:/tmp/x.db?bogus=1", &s, err), -EINVAL);
    assert_int_equal(store_open("mysql://root:sekret@127.0.0.1:1/", &s, err) < 0, 1);
    assert_null(strstr(err, "sekret"));
}

static void test_a_wechat_user_binds_to_one_account_and_back(void **state)
{
    (void)state;
    const char *app = "wx0123456789abcdef";
    struct wechat_binding_rec b;
    int64_t now = time_now_ms();
    assert_int_equal(store_wechat_by_user(st, alice, &b), -ENOENT);
    assert_int_equal(store_wechat_bind(st, alice, app, "oAlice_Open-1", now), 0);

    assert_int_equal(store_wechat_by_openid(st, app, "oAlice_Open-1", &b), 0);
    assert_int_equal(b.user_id, alice);
    assert_string_equal(b.appid, app);
    assert_string_equal(b.openid, "oAlice_Open-1");
    assert_int_equal(b.created_ms, now);
    memset(&b, 0, sizeof(b));
    assert_int_equal(store_wechat_by_user(st, alice, &b), 0);
    assert_string_equal(b.openid, "oAlice_Open-1");
    assert_int_equal(b.user_id, alice);

    /* Openids are case-sensitive and belong to one appid. */
    assert_int_equal(store_wechat_by_openid(st, app, "oalice_open-1", &b), -ENOENT);
    assert_int_equal(store_wechat_by_openid(st, "wxOtherApp", "oAlice_Open-1", &b), -ENOENT);

    /* One account per openid, one openid per account. */
    assert_int_equal(store_wechat_bind(st, bob, app, "oAlice_Open-1", now), -EEXIST);
    assert_int_equal(store_wechat_bind(st, alice, app, "oSomeoneElse", now), -EEXIST);
    assert_int_equal(store_wechat_by_user(st, bob, &b), -ENOENT);
    assert_int_equal(store_wechat_bind(st, 999999, app, "oNobody", now), -ENOENT);
    assert_int_equal(store_wechat_by_openid(st, app, "oNobody", &b), -ENOENT);

    /* Values that fit no column are refused before the database. */
    char longid[STORE_OPENID_MAX + 2];
    memset(longid, 'o', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(store_wechat_bind(st, bob, app, longid, now), -EINVAL);
    assert_int_equal(store_wechat_bind(st, bob, app, "", now), -EINVAL);
    assert_int_equal(store_wechat_by_openid(st, app, longid, &b), -ENOENT);

    /* Unbinding frees both sides. */
    assert_int_equal(store_wechat_unbind(st, alice), 0);
    assert_int_equal(store_wechat_unbind(st, alice), -ENOENT);
    assert_int_equal(store_wechat_by_openid(st, app, "oAlice_Open-1", &b), -ENOENT);
    assert_int_equal(store_wechat_bind(st, bob, app, "oAlice_Open-1", now), 0);
    assert_int_equal(store_wechat_by_openid(st, app, "oAlice_Open-1", &b), 0);
    assert_int_equal(b.user_id, bob);
    assert_int_equal(store_wechat_bind(st, alice, app, "oSomeoneElse", now), 0);
    assert_int_equal(store_wechat_unbind(st, bob), 0);
    assert_int_equal(store_wechat_unbind(st, alice), 0);
}

/* --- history: rollups read back, raw retention ------------------------------------------- */

/* Puts (or replaces) a rollup row the way the ingest path would (tests only); energy < 0
   leaves it NULL. */
static void put_rollup(int64_t device_pk, const char *period, int64_t bucket_ms, int64_t n,
                       double v, int64_t power_n, int64_t import_min, int64_t import_max)
{
    char sql[1024], energy[64] = "NULL, NULL", power[128] = "0, 0, NULL, NULL";
    if (import_max >= 0)
        snprintf(energy, sizeof(energy), "%lld, %lld", (long long)import_min,
                 (long long)import_max);
    if (power_n > 0)
        snprintf(power, sizeof(power), "%lld, %f, 100, 900", (long long)power_n,
                 500.0 * (double)power_n);
    snprintf(sql, sizeof(sql),
             "REPLACE INTO rollups (device_pk, period, bucket_ms, n, first_ts_ms, last_ts_ms, "
             "voltage_sum, voltage_min, voltage_max, current_sum, current_min, current_max, "
             "power_w_n, power_w_sum, power_w_min, power_w_max, energy_import_min_mwh, "
             "energy_import_max_mwh) VALUES (%lld, '%s', %lld, %lld, %lld, %lld, %f, %f, %f, "
             "%f, 1, 9, %s, %s)",
             (long long)device_pk, period, (long long)bucket_ms, (long long)n, (long long)bucket_ms,
             (long long)bucket_ms + 1, v * (double)n, v - 2, v + 2, 5.0 * (double)n, power, energy);
    assert_int_equal(store_testing_exec(st, sql), 0);
}

static int count_reading(const struct reading *r, void *ctx)
{
    (void)r;
    (*(size_t *)ctx)++;
    return 0;
}

struct rollup_list {
    struct rollup_rec r[16];
    size_t n;
};

static int collect_rollup(const struct rollup_rec *r, void *ctx)
{
    struct rollup_list *l = ctx;
    if (l->n == 16)
        return -E2BIG;
    l->r[l->n++] = *r;
    return 0;
}

static void test_rollups_are_read_by_period_range_and_order(void **state)
{
    (void)state;
    int64_t d = add_device("hist-1"), other = add_device("hist-2");
    const int64_t t0 = INT64_C(1773100800000); /* 2026-03-10T00:00:00Z */
    for (int k = 0; k < 5; k++)
        put_rollup(d, "1m", t0 + k * 60000, 6, 230 + k, k == 2 ? 0 : 6, 1000 + 10 * k,
                   k == 3 ? -1 : 1005 + 10 * k);
    put_rollup(d, "1h", t0, 30, 231, 30, 1000, 1045);
    put_rollup(other, "1m", t0, 6, 100, 6, 1, 2);

    struct rollup_list l = {0};
    assert_int_equal(store_rollups_query(st, d, ROLLUP_1M, t0 + 60000, t0 + 4 * 60000, false, 10,
                                         collect_rollup, &l),
                     0);
    assert_int_equal(l.n, 3); /* from inclusive, to exclusive, minute rows only */
    assert_int_equal(l.r[0].bucket_ms, t0 + 60000);
    assert_int_equal(l.r[2].bucket_ms, t0 + 3 * 60000);
    assert_int_equal(l.r[0].n, 6);
    assert_int_equal(l.r[0].first_ts_ms, t0 + 60000);
    assert_int_equal(l.r[0].metric_n[RM_VOLTAGE], 6);
    assert_float_equal(l.r[0].sum[RM_VOLTAGE], 231.0 * 6, 1e-9);
    assert_float_equal(l.r[0].min[RM_VOLTAGE], 229, 1e-9);
    assert_float_equal(l.r[0].max[RM_VOLTAGE], 233, 1e-9);
    assert_float_equal(l.r[0].max[RM_CURRENT], 9, 1e-9);
    assert_int_equal(l.r[0].metric_n[RM_POWER_W], 6);
    assert_float_equal(l.r[0].min[RM_POWER_W], 100, 1e-9);
    assert_int_equal(l.r[1].metric_n[RM_POWER_W], 0); /* none carried power */
    assert_int_equal(l.r[1].metric_n[RM_PF], 0);
    assert_true(l.r[0].has_import);
    assert_int_equal(l.r[0].import_min_mwh, 1010);
    assert_int_equal(l.r[0].import_max_mwh, 1015);
    assert_false(l.r[0].has_export);
    assert_false(l.r[2].has_import);

    memset(&l, 0, sizeof(l));
    assert_int_equal(
        store_rollups_query(st, d, ROLLUP_1M, 0, INT64_MAX, true, 2, collect_rollup, &l), 0);
    assert_int_equal(l.n, 2); /* newest first, at most limit */
    assert_int_equal(l.r[0].bucket_ms, t0 + 4 * 60000);
    assert_int_equal(l.r[1].bucket_ms, t0 + 3 * 60000);

    memset(&l, 0, sizeof(l));
    assert_int_equal(
        store_rollups_query(st, d, ROLLUP_1H, 0, INT64_MAX, false, 10, collect_rollup, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.r[0].n, 30);
    memset(&l, 0, sizeof(l));
    assert_int_equal(
        store_rollups_query(st, d, ROLLUP_1D, 0, INT64_MAX, false, 10, collect_rollup, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(
        store_rollups_query(st, d, (enum rollup_period)7, 0, 1, false, 1, collect_rollup, &l),
        -EINVAL);
}

static void test_counters_before_take_the_newest_row_carrying_each(void **state)
{
    (void)state;
    struct device_rec dev;
    assert_int_equal(store_device_by_name(st, "hist-1", &dev), 0);
    const int64_t t0 = INT64_C(1773100800000);
    struct rollup_counters c;
    /* Minute 3 has no import counter: the one before it is minute 2's. */
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1M, t0 + 4 * 60000, &c), 0);
    assert_true(c.has_import);
    assert_int_equal(c.import_max_mwh, 1025);
    assert_false(c.has_export);
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1M, t0 + 60000, &c), 0);
    assert_int_equal(c.import_max_mwh, 1005);
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1M, t0, &c), 0);
    assert_false(c.has_import);
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1H, t0 + 1, &c), 0);
    assert_int_equal(c.import_max_mwh, 1045);

    /* Ten days later, nothing since: the minute rows near the instant have no counter, so
       the day rows answer with the last day that had one. */
    int64_t later = t0 + 10 * 86400 * INT64_C(1000);
    put_rollup(dev.id, "1d", t0, 36, 231, 36, 1000, 1045); /* the day the rows above are in */
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1M, later, &c), 0);
    assert_true(c.has_import);
    assert_int_equal(c.import_max_mwh, 1045);
    assert_false(c.has_export);
    /* A minute row in the last two days wins over the day rows. */
    put_rollup(dev.id, "1m", later - 3600000, 1, 230, 0, 1100, 1110);
    assert_int_equal(store_rollup_counters_before(st, dev.id, ROLLUP_1M, later, &c), 0);
    assert_int_equal(c.import_max_mwh, 1110);
}

static void test_old_readings_are_deleted_in_chunks_and_rollups_stay(void **state)
{
    (void)state;
    int64_t d = add_device("hist-ret"), other = add_device("hist-ret-2");
    const int64_t t0 = INT64_C(1773100800000);
    struct reading r[10];
    for (int k = 0; k < 10; k++)
        r[k] = make_reading((uint64_t)k + 1, t0 + k * 1000, 230, 1);
    assert_int_equal(store_readings_insert(st, d, r, 10, NULL), 0);
    assert_int_equal(store_readings_insert(st, other, r, 10, NULL), 0);
    put_rollup(d, "1m", t0, 10, 230, 0, 1, 2);

    size_t deleted = 99;
    assert_int_equal(store_readings_delete_before(st, d, t0 + 7000, 3, &deleted), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(store_readings_delete_before(st, d, t0 + 7000, 3, &deleted), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(store_readings_delete_before(st, d, t0 + 7000, 3, &deleted), 0);
    assert_int_equal(deleted, 1); /* fewer than asked: nothing older is left */
    assert_int_equal(store_readings_delete_before(st, d, t0 + 7000, 3, &deleted), 0);
    assert_int_equal(deleted, 0);

    struct reading oldest;
    size_t count = 0;
    assert_int_equal(store_readings_query(st, d, 0, INT64_MAX, 100, count_reading, &count), 0);
    assert_int_equal(count, 3); /* 7, 8, 9 seconds in */
    assert_int_equal(store_reading_latest(st, d, &oldest), 0);
    assert_int_equal(oldest.seq, 10);
    count = 0;
    assert_int_equal(store_readings_query(st, other, 0, INT64_MAX, 100, count_reading, &count), 0);
    assert_int_equal(count, 10); /* another device's readings are its own */

    struct rollup_list l = {0};
    assert_int_equal(
        store_rollups_query(st, d, ROLLUP_1M, 0, INT64_MAX, false, 10, collect_rollup, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(store_readings_delete_before(st, d, t0, 0, &deleted), -EINVAL);
}

static int64_t data_version_of(const char *name)
{
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, name, &d), 0);
    return d.data_version;
}

static int find_version(const struct device_rec *d, void *ctx)
{
    int64_t *v = ctx;
    if (strcmp(d->device_id, "ver-a") == 0)
        *v = d->data_version;
    return 0;
}

static void test_data_version_moves_with_every_change_of_readings(void **state)
{
    (void)state;
    int64_t a = add_device("ver-a"), b = add_device("ver-b");
    assert_int_equal(data_version_of("ver-a"), 0);
    const int64_t t0 = INT64_C(1773200000000);

    /* One batch, two devices, several rows each: one bump per device. */
    struct store_batch_item items[5];
    memset(items, 0, sizeof(items));
    for (int k = 0; k < 5; k++) {
        items[k].device_pk = k < 3 ? a : b;
        items[k].reading = make_reading((uint64_t)k + 1, t0 + k * 1000, 230, 1);
    }
    size_t inserted = 0;
    assert_int_equal(store_readings_insert_batch(st, items, 5, &inserted), 0);
    assert_int_equal(inserted, 5);
    int64_t va = data_version_of("ver-a"), vb = data_version_of("ver-b");
    assert_int_equal(va, 1);
    assert_int_equal(vb, 1);

    /* A pure replay stores nothing and moves nothing. */
    for (int k = 0; k < 5; k++)
        items[k].inserted = false;
    assert_int_equal(store_readings_insert_batch(st, items, 5, &inserted), 0);
    assert_int_equal(inserted, 0);
    assert_int_equal(data_version_of("ver-a"), va);
    assert_int_equal(data_version_of("ver-b"), vb);

    /* A replay with one new row of b moves b only. */
    items[4].reading = make_reading(6, t0 + 6000, 231, 1);
    for (int k = 0; k < 5; k++)
        items[k].inserted = false;
    assert_int_equal(store_readings_insert_batch(st, items, 5, &inserted), 0);
    assert_int_equal(inserted, 1);
    assert_int_equal(data_version_of("ver-a"), va);
    assert_int_equal(data_version_of("ver-b"), vb + 1);

    /* The device list carries the same version. */
    int64_t listed = -1;
    assert_int_equal(store_device_list(st, 0, find_version, &listed), 0);
    assert_int_equal(listed, va);

    /* A retention delete that removes rows moves it; one that removes none does not. */
    size_t deleted = 0;
    assert_int_equal(store_readings_delete_before(st, a, t0 + 1000, 100, &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(data_version_of("ver-a"), va + 1);
    assert_int_equal(store_readings_delete_before(st, a, t0 + 1000, 100, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(data_version_of("ver-a"), va + 1);
    assert_int_equal(data_version_of("ver-b"), vb + 1);
}

/* --- accounts, device removal, the audit log ----------------------------------------------- */

static void test_ids_are_never_handed_out_again(void **state)
{
    (void)state;
    int64_t temp = 0, newer = 0;
    assert_int_equal(store_user_add(st, "temp", "hash-t", ROLE_OPERATOR, &temp), 0);
    assert_int_equal(store_user_delete(st, temp), 0);
    assert_int_equal(store_user_add(st, "newguy", "hash-n", ROLE_USER, &newer), 0);
    assert_true(newer > temp);
    struct user_rec u;
    assert_int_equal(store_user_by_id(st, temp, &u), -ENOENT);
    assert_int_equal(store_user_delete(st, temp), -ENOENT);

    int64_t d = add_device("dev-gone"), d2;
    assert_int_equal(store_device_delete(st, "dev-gone"), 0);
    d2 = add_device("dev-next");
    assert_true(d2 > d);
    assert_int_equal(store_device_delete(st, "dev-gone"), -ENOENT);
}

static void test_a_user_change_applies_and_tokens_are_revoked_forward(void **state)
{
    (void)state;
    int64_t id = 0;
    struct user_rec u;
    assert_int_equal(store_user_add(st, "carol", "hash-c1", ROLE_USER, &id), 0);
    assert_int_equal(store_user_by_id(st, id, &u), 0);
    assert_false(u.disabled);
    assert_int_equal(u.tokens_valid_after_ms, 0);

    struct user_change ch = {.set_role = true,
                             .role = ROLE_OPERATOR,
                             .set_disabled = true,
                             .disabled = true,
                             .password_hash = "hash-c2",
                             .revoke_tokens_ms = 5000};
    assert_int_equal(store_user_update(st, id, &ch, &u), 0);
    assert_int_equal(u.role, ROLE_OPERATOR);
    assert_true(u.disabled);
    assert_int_equal(u.tokens_valid_after_ms, 5000);
    assert_int_equal(store_user_by_id(st, id, &u), 0);
    assert_int_equal(u.role, ROLE_OPERATOR);
    assert_true(u.disabled);
    assert_string_equal(u.password_hash, "hash-c2");
    assert_int_equal(u.tokens_valid_after_ms, 5000);

    /* An earlier revocation never moves it back; parts not asked for stay. */
    struct user_change back = {.revoke_tokens_ms = 10, .set_disabled = true, .disabled = false};
    assert_int_equal(store_user_update(st, id, &back, NULL), 0);
    assert_int_equal(store_user_by_id(st, id, &u), 0);
    assert_int_equal(u.tokens_valid_after_ms, 5000);
    assert_false(u.disabled);
    assert_int_equal(u.role, ROLE_OPERATOR);
    assert_string_equal(u.password_hash, "hash-c2");
    assert_int_equal(store_user_update(st, 999999, &back, NULL), -ENOENT);
}

static void test_the_last_enabled_admin_cannot_be_removed(void **state)
{
    (void)state;
    int64_t a1 = 0, a2 = 0;
    struct user_rec u;
    assert_int_equal(store_user_add(st, "admin-1", "h", ROLE_ADMIN, &a1), 0);
    assert_int_equal(store_user_add(st, "admin-2", "h", ROLE_ADMIN, &a2), 0);
    struct user_change demote = {.set_role = true, .role = ROLE_USER};
    struct user_change disable = {.set_disabled = true, .disabled = true};
    struct user_change enable = {.set_disabled = true, .disabled = false};
    struct user_change promote = {.set_role = true, .role = ROLE_ADMIN};
    assert_int_equal(store_user_update(st, a1, &disable, NULL), 0);
    /* a2 is the only enabled admin now: not demoted, disabled or deleted. */
    assert_int_equal(store_user_update(st, a2, &demote, NULL), -EPERM);
    assert_int_equal(store_user_update(st, a2, &disable, NULL), -EPERM);
    assert_int_equal(store_user_delete(st, a2), -EPERM);
    assert_int_equal(store_user_by_id(st, a2, &u), 0);
    assert_int_equal(u.role, ROLE_ADMIN);
    assert_false(u.disabled);
    /* A change that keeps it an admin, or one to a disabled admin, is fine. */
    assert_int_equal(store_user_update(st, a2, &promote, NULL), 0);
    assert_int_equal(store_user_update(st, a1, &demote, NULL), 0);
    assert_int_equal(store_user_delete(st, a1), 0);
    assert_int_equal(store_user_update(st, a2, &enable, NULL), 0);
}

struct demoter {
    int64_t target;
    int result;
};

static void *race_demote(void *arg)
{
    struct demoter *d = arg;
    struct store *own = store_fixture_connect(url);
    if (!own) {
        d->result = -EIO;
        return NULL;
    }
    struct user_change demote = {.set_role = true, .role = ROLE_OPERATOR};
    d->result = store_user_update(own, d->target, &demote, NULL);
    store_close(own);
    return NULL;
}

static void test_admins_demoting_each_other_at_once_leave_one(void **state)
{
    (void)state;
    int64_t b1 = 0;
    struct user_rec a2;
    assert_int_equal(store_user_by_name(st, "admin-2", &a2), 0);
    assert_int_equal(store_user_add(st, "admin-3", "h", ROLE_ADMIN, &b1), 0);
    for (int round = 0; round < 5; round++) {
        struct demoter d[2] = {{.target = a2.id}, {.target = b1}};
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            assert_int_equal(pthread_create(&t[k], NULL, race_demote, &d[k]), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        assert_true((d[0].result == 0 && d[1].result == -EPERM) ||
                    (d[0].result == -EPERM && d[1].result == 0));
        struct user_change promote = {.set_role = true, .role = ROLE_ADMIN};
        assert_int_equal(store_user_update(st, d[0].result == 0 ? a2.id : b1, &promote, NULL), 0);
    }
}

static void test_deleting_a_user_keeps_ledger_rows_without_the_actor(void **state)
{
    (void)state;
    int64_t clerk = 0, dev = add_device("dev-clerk");
    struct recharge_result res;
    assert_int_equal(store_user_add(st, "clerk", "h", ROLE_OPERATOR, &clerk), 0);
    assert_int_equal(store_binding_add(st, clerk, dev), 0);
    assert_int_equal(store_recharge(st, dev, 1234, clerk, "clerk-key", &res), 0);
    assert_int_equal(store_user_delete(st, clerk), 0);
    assert_int_equal(store_binding_check(st, clerk, dev), -ENOENT);
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "dev-clerk", &d), 0);
    assert_int_equal(d.balance_fen, 1234);
}

static int count_rows(const struct reading *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int count_ledger(const struct ledger_entry *e, void *ctx)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_a_deleted_device_takes_everything_kept_about_it(void **state)
{
    (void)state;
    const int64_t t0 = INT64_C(1773300000000);
    int64_t dev = add_device("dev-doomed");
    struct reading r[3] = {make_reading(1, t0, 230, 1), make_reading(2, t0 + 1000, 231, 1),
                           make_reading(3, t0 + 2000, 232, 1)};
    struct recharge_result res;
    assert_int_equal(store_readings_insert(st, dev, r, 3, NULL), 0);
    assert_int_equal(store_recharge(st, dev, 500, op, NULL, &res), 0);
    assert_int_equal(store_binding_add(st, alice, dev), 0);
    int64_t cap = 0;
    assert_int_equal(store_capture_create(st, dev, "req-doomed", op, 1000, t0, &cap), 0);
    assert_int_equal(store_device_delete(st, "dev-doomed"), 0);

    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "dev-doomed", &d), -ENOENT);
    int n = 0;
    assert_int_equal(store_readings_query(st, dev, 0, INT64_MAX, 100, count_rows, &n), 0);
    assert_int_equal(n, 0);
    struct rollup_delta rd;
    assert_int_equal(store_rollup_get(st, dev, ROLLUP_1M, t0 - t0 % 60000, &rd), -ENOENT);
    assert_int_equal(store_ledger_list(st, dev, 100, count_ledger, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_binding_check(st, alice, dev), -ENOENT);
    struct capture_rec c;
    assert_int_equal(store_capture_get(st, dev, cap, false, &c), -ENOENT);

    /* The same name again starts empty. */
    int64_t again = add_device("dev-doomed");
    assert_true(again != dev);
    assert_int_equal(store_readings_query(st, again, 0, INT64_MAX, 100, count_rows, &n), 0);
    assert_int_equal(n, 0);
}

static void test_a_rotated_secret_replaces_the_old(void **state)
{
    (void)state;
    const char *hash_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    int64_t dev = add_device("dev-rotate");
    struct device_rec d;
    assert_int_equal(store_device_set_secret(st, "dev-rotate", hash_b), 0);
    assert_int_equal(store_device_by_name(st, "dev-rotate", &d), 0);
    assert_string_equal(d.secret_hash, hash_b);
    assert_int_equal(d.id, dev);
    assert_int_equal(store_device_set_secret(st, "dev-no-such", hash_b), -ENOENT);
    assert_int_equal(store_device_set_secret(st, "dev-rotate", "short"), -EINVAL);
}

static void test_a_batch_naming_a_deleted_device_stores_the_others(void **state)
{
    (void)state;
    const int64_t t0 = INT64_C(1773400000000);
    int64_t keep = add_device("dev-keep"), gone = add_device("dev-stale");
    assert_int_equal(store_device_delete(st, "dev-stale"), 0);
    struct store_batch_item items[4];
    memset(items, 0, sizeof(items));
    for (int k = 0; k < 4; k++) {
        items[k].device_pk = k % 2 ? gone : keep;
        items[k].reading = make_reading((uint64_t)k + 1, t0 + k * 1000, 230, 1);
    }
    items[2].reading.has_seq = false; /* numbered after the device's highest */
    size_t inserted = 0;
    assert_int_equal(store_readings_insert_batch(st, items, 4, &inserted), 0);
    assert_int_equal(inserted, 2);
    assert_true(items[0].inserted && items[2].inserted);
    assert_false(items[1].inserted || items[3].inserted);
    assert_int_equal(items[2].reading.seq, 2);
    int n = 0;
    assert_int_equal(store_readings_query(st, gone, 0, INT64_MAX, 100, count_rows, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_readings_query(st, keep, 0, INT64_MAX, 100, count_rows, &n), 0);
    assert_int_equal(n, 2);
}

static int collect_audit(const struct audit_rec *e, void *ctx)
{
    char *out = ctx;
    char line[600];
    snprintf(line, sizeof(line), "%s %s %s %s %s;", e->actor, e->action, e->target, e->address,
             e->detail);
    strcat(out, line);
    return 0;
}

static int64_t last_audit_id;

static int note_audit_id(const struct audit_rec *e, void *ctx)
{
    (void)ctx;
    last_audit_id = e->id;
    return 0;
}

static void test_the_audit_log_pages_newest_first(void **state)
{
    (void)state;
    static const char *actions[] = {"user.create", "user.update", "device.secret", "device.delete",
                                    "user.delete"};
    for (int k = 0; k < 5; k++) {
        struct audit_rec e = {.at_ms = 1000 + k};
        snprintf(e.actor, sizeof(e.actor), "root");
        snprintf(e.action, sizeof(e.action), "%s", actions[k]);
        snprintf(e.target, sizeof(e.target), "t%d", k);
        snprintf(e.address, sizeof(e.address), "127.0.0.%d", k);
        snprintf(e.detail, sizeof(e.detail), "%s", k == 1 ? "role=operator" : "");
        assert_int_equal(store_audit_add(st, &e), 0);
    }
    struct audit_rec bad = {.at_ms = 1};
    assert_int_equal(store_audit_add(st, &bad), -EINVAL);

    char page[2000] = "";
    assert_int_equal(store_audit_list(st, 0, 2, collect_audit, page), 0);
    assert_string_equal(page, "root user.delete t4 127.0.0.4 ;root device.delete t3 127.0.0.3 ;");
    assert_int_equal(store_audit_list(st, 0, 2, note_audit_id, NULL), 0);
    page[0] = '\0';
    assert_int_equal(store_audit_list(st, last_audit_id, 10, collect_audit, page), 0);
    assert_string_equal(page, "root device.secret t2 127.0.0.2 ;"
                              "root user.update t1 127.0.0.1 role=operator;"
                              "root user.create t0 127.0.0.0 ;");
}

struct changes_seen {
    int n;
    int64_t last_id;
    char ids[16][DEVICE_ID_MAX + 1];
};

static int collect_change(const struct device_change *c, void *ctx)
{
    struct changes_seen *seen = ctx;
    assert_true(c->id > seen->last_id);
    assert_true(c->changed_ms > TIME_MIN_VALID_MS);
    seen->last_id = c->id;
    if (seen->n < 16)
        snprintf(seen->ids[seen->n], sizeof(seen->ids[0]), "%s", c->device_id);
    seen->n++;
    return 0;
}

static struct changes_seen changes_after(int64_t after)
{
    struct changes_seen seen;
    memset(&seen, 0, sizeof(seen));
    seen.last_id = after;
    assert_int_equal(store_device_changes(st, after, 100, collect_change, &seen), 0);
    return seen;
}

/*
 * Adding a device, deleting it and giving it a new secret each log its id in the same
 * transaction (what the broker provisioning follows); the log reads in order from a mark.
 */
static void test_credential_changes_are_logged_with_the_change(void **state)
{
    (void)state;
    int64_t mark = -1;
    assert_int_equal(store_device_changes_latest(st, &mark), 0);
    assert_true(mark > 0); /* the devices added by the tests before */
    int64_t pk = add_device("chg-a");
    add_device("chg-b");
    struct changes_seen seen = changes_after(mark);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.ids[0], "chg-a");
    assert_string_equal(seen.ids[1], "chg-b");
    /* A device that already exists logs nothing (the transaction is rolled back). */
    assert_int_equal(store_device_add(st, "chg-a", HASH_A, 0, NULL), -EEXIST);
    assert_int_equal(changes_after(mark).n, 2);

    const char *hash_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    assert_int_equal(store_device_set_secret(st, "chg-a", hash_b), 0);
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, "chg-a", &d), 0);
    assert_string_equal(d.secret_hash, hash_b);
    assert_int_equal(store_device_set_secret(st, "chg-none", hash_b), -ENOENT);
    assert_int_equal(store_device_set_secret(st, "chg-a", "short"), -EINVAL);

    /* Deleting takes the device's readings, rollups, ledger and bindings with it. */
    struct reading r = make_reading(1, INT64_C(1773200000000), 230, 1);
    size_t inserted = 0;
    struct recharge_result res;
    assert_int_equal(store_readings_insert(st, pk, &r, 1, &inserted), 0);
    assert_int_equal(store_recharge(st, pk, 100, op, NULL, &res), 0);
    assert_int_equal(store_binding_add(st, alice, pk), 0);
    assert_int_equal(store_device_delete(st, "chg-a"), 0);
    assert_int_equal(store_device_by_name(st, "chg-a", &d), -ENOENT);
    assert_int_equal(store_device_delete(st, "chg-a"), -ENOENT);
    assert_int_equal(store_binding_check(st, alice, pk), -ENOENT);
    struct reading latest;
    assert_int_equal(store_reading_latest(st, pk, &latest), -ENOENT);
    struct rollup_delta rd;
    assert_int_equal(store_rollup_get(st, pk, ROLLUP_1M, INT64_C(1773199980000), &rd), -ENOENT);

    seen = changes_after(mark);
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.ids[2], "chg-a"); /* the new secret */
    assert_int_equal(seen.ids[3][0], 'c');     /* the delete */
    int64_t latest_id = 0;
    assert_int_equal(store_device_changes_latest(st, &latest_id), 0);
    assert_int_equal(latest_id, seen.last_id);
    assert_int_equal(store_device_changes(st, mark, 0, collect_change, &seen), -EINVAL);

    /* Pruning forgets what is older than the instant; ids are never handed out again. */
    size_t pruned = 0;
    assert_int_equal(store_device_changes_prune(st, time_now_ms() + 1000, &pruned), 0);
    assert_true(pruned >= 4);
    assert_int_equal(changes_after(0).n, 0);
    add_device("chg-c");
    seen = changes_after(latest_id);
    assert_int_equal(seen.n, 1);
    assert_true(seen.last_id > latest_id);
    assert_int_equal(store_device_changes_prune(st, 0, NULL), 0);
    assert_int_equal(changes_after(latest_id).n, 1);
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_is_idempotent),
        cmocka_unit_test(test_users_are_unique_and_found_by_name_and_id),
        cmocka_unit_test(test_devices_are_unique_and_start_empty),
        cmocka_unit_test(test_bindings_decide_who_sees_a_device),
        cmocka_unit_test(test_readings_are_idempotent_on_seq_and_newest_first),
        cmocka_unit_test(test_optional_fields_round_trip_exactly),
        cmocka_unit_test(test_a_device_and_its_owner_binding_are_added_together),
        cmocka_unit_test(test_readings_without_seq_continue_after_the_highest),
        cmocka_unit_test(test_readings_without_seq_never_pass_the_largest_seq),
        cmocka_unit_test(test_buckets_give_avg_min_max_per_interval),
        cmocka_unit_test(test_recharge_is_exact_in_fen),
        cmocka_unit_test(test_recharge_is_idempotent_per_key),
        cmocka_unit_test(test_balance_cannot_exceed_the_maximum),
        cmocka_unit_test(test_ledger_lists_every_credit_newest_first),
        cmocka_unit_test(test_status_keeps_the_newest_update),
        cmocka_unit_test(test_concurrent_retries_credit_once),
        cmocka_unit_test(test_a_capture_goes_from_pending_to_complete_once),
        cmocka_unit_test(test_a_failed_capture_keeps_a_printable_message),
        cmocka_unit_test(test_captures_list_newest_first_per_device),
        cmocka_unit_test(test_a_ten_second_capture_round_trips),
        cmocka_unit_test(test_a_batch_spans_devices_and_marks_what_it_inserted),
        cmocka_unit_test(test_a_large_mixed_batch_inserts_exactly_the_new_rows),
        cmocka_unit_test(test_rollups_sum_min_max_and_energy_per_bucket),
        cmocka_unit_test(test_day_rollups_follow_the_site_zone),
        cmocka_unit_test(test_bad_urls_are_rejected_with_a_message),
        cmocka_unit_test(test_a_wechat_user_binds_to_one_account_and_back),
        cmocka_unit_test(test_rollups_are_read_by_period_range_and_order),
        cmocka_unit_test(test_counters_before_take_the_newest_row_carrying_each),
        cmocka_unit_test(test_old_readings_are_deleted_in_chunks_and_rollups_stay),
        cmocka_unit_test(test_data_version_moves_with_every_change_of_readings),
        cmocka_unit_test(test_ids_are_never_handed_out_again),
        cmocka_unit_test(test_a_user_change_applies_and_tokens_are_revoked_forward),
        cmocka_unit_test(test_the_last_enabled_admin_cannot_be_removed),
        cmocka_unit_test(test_admins_demoting_each_other_at_once_leave_one),
        cmocka_unit_test(test_deleting_a_user_keeps_ledger_rows_without_the_actor),
        cmocka_unit_test(test_a_deleted_device_takes_everything_kept_about_it),
        cmocka_unit_test(test_a_rotated_secret_replaces_the_old),
        cmocka_unit_test(test_a_batch_naming_a_deleted_device_stores_the_others),
        cmocka_unit_test(test_the_audit_log_pages_newest_first),

        cmocka_unit_test(test_credential_changes_are_logged_with_the_change),
    };
    return cmocka_run_group_tests_name(url, tests, group_setup, group_teardown);
}
