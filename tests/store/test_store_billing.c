/*
 * The storage contract of prepaid billing, on every backend like
 * test_store_contract.c: tariff versions, the billing run to the exact fen,
 * charge rows, billing settings, and balance = sum(ledger) after every
 * operation, with charges and recharges running at once.
 * Usage: test_store_billing URL   (sqlite:PATH or mysql://...; the database
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

#include "charge.h"
#include "sitetime.h"
#include "store.h"
#include "store_fixture.h"
#include "tariff.h"
#include "timeutil.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* 2026-12-01T00:00:00Z */
#define DAY0_MS INT64_C(1796083200000)
#define HOUR    INT64_C(3600000)
#define KWH     INT64_C(1000000) /* in mWh */
#define GAP_MS  INT64_C(60000)

static int64_t add_device(const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    return id;
}

static struct reading meter(uint64_t seq, int64_t ts, int64_t import_mwh)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts;
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, 5);
    reading_set_counter(&r, RC_ENERGY_IMPORT, import_mwh);
    return r;
}

static void put(struct store *s, int64_t d, uint64_t seq, int64_t ts, int64_t import_mwh)
{
    struct reading r = meter(seq, ts, import_mwh);
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(s, d, &r, 1, &inserted), 0);
}

/* Valley 0.3000 from 00:00, peak 0.9500 from 08:00 (UTC in these tests). */
static struct tariff tou(int64_t from_ms)
{
    struct tariff t = {.effective_from_ms = from_ms, .n_periods = 2};
    t.period[0] = (struct tariff_period){0, TARIFF_LABEL_VALLEY, 3000};
    t.period[1] = (struct tariff_period){8 * 60, TARIFF_LABEL_PEAK, 9500};
    return t;
}

static struct tariff flat(int64_t from_ms, int64_t price)
{
    struct tariff t = {.effective_from_ms = from_ms, .n_periods = 1};
    t.period[0] = (struct tariff_period){0, TARIFF_LABEL_NONE, price};
    return t;
}

struct ledger_walk {
    int64_t entries[4096];
    int64_t after[4096];
    size_t n;
    int64_t charged;
};

static int collect(const struct ledger_entry *e, void *ctx)
{
    struct ledger_walk *w = ctx;
    if (w->n == 4096)
        return -E2BIG;
    w->entries[w->n] = e->amount_fen;
    w->after[w->n] = e->balance_after_fen;
    if (strcmp(e->kind, "charge") == 0)
        w->charged -= e->amount_fen;
    w->n++;
    return 0;
}

static int64_t balance_of(const char *name)
{
    struct device_rec d;
    assert_int_equal(store_device_by_name(st, name, &d), 0);
    return d.balance_fen;
}

/*
 * balance = sum(ledger), and each entry's balance_after is the sum of it and
 * every entry before it. Returns the fen charged in all.
 */
static int64_t assert_ledger_adds_up(const char *name, int64_t pk)
{
    static struct ledger_walk w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(store_ledger_list(st, pk, 4096, collect, &w), 0);
    int64_t sum = 0;
    for (size_t i = w.n; i-- > 0;) { /* newest first: walk oldest first */
        sum += w.entries[i];
        assert_int_equal(w.after[i], sum);
    }
    assert_int_equal(balance_of(name), sum);
    return w.charged;
}

struct rows {
    struct charge_row r[64];
    size_t n;
};

static int keep_row(const struct charge_row *c, void *ctx)
{
    struct rows *rs = ctx;
    if (rs->n == 64)
        return -E2BIG;
    rs->r[rs->n++] = *c;
    return 0;
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

static void test_a_run_bills_time_of_use_to_the_fen_and_the_ledger_adds_up(void **state)
{
    (void)state;
    int64_t d = add_device("tou1");
    struct recharge_result rr;
    assert_int_equal(store_recharge(st, d, 10000, 0, NULL, &rr), 0);
    struct tariff t = tou(DAY0_MS);
    assert_int_equal(store_tariff_add(st, d, &t), 0);
    /* 06:00 baseline; 1 kWh an hour; 07:00 to 09:00 in one span across the peak's start. */
    put(st, d, 1, DAY0_MS + 6 * HOUR, 0);
    put(st, d, 2, DAY0_MS + 7 * HOUR, 1 * KWH);
    put(st, d, 3, DAY0_MS + 9 * HOUR, 3 * KWH);
    put(st, d, 4, DAY0_MS + 10 * HOUR, 4 * KWH);
    struct billing_run_result res;
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 11 * HOUR, GAP_MS, &res), 0);
    assert_int_equal(res.readings, 4);
    assert_int_equal(res.energy_mwh, 4 * KWH);
    assert_int_equal(res.fen, 30 + 30 + 95 + 95);
    assert_int_equal(res.balance_fen, 10000 - 250);
    assert_int_equal(res.events, 1); /* the baseline */
    assert_false(res.waiting);
    assert_int_equal(assert_ledger_adds_up("tou1", d), 250);

    /* Once billed, nothing more: the same run again changes nothing. */
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 11 * HOUR, GAP_MS, &res), 0);
    assert_int_equal(res.fen, 0);
    assert_int_equal(res.readings, 0);
    assert_int_equal(balance_of("tou1"), 9750);

    struct rows rs = {0};
    assert_int_equal(store_charges_query(st, d, DAY0_MS, DAY0_MS + 24 * HOUR, 64, keep_row, &rs),
                     0);
    assert_int_equal(rs.n, 4);
    static const int64_t price[4] = {3000, 3000, 9500, 9500};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rs.r[i].hour_ms, DAY0_MS + (int64_t)(6 + i) * HOUR);
        assert_int_equal(rs.r[i].energy_mwh, KWH);
        assert_int_equal(rs.r[i].price, price[i]);
        assert_int_equal(rs.r[i].amount_nfen, KWH * price[i]);
        assert_int_equal(rs.r[i].fen, price[i] / 100);
        assert_int_equal(rs.r[i].version_ms, DAY0_MS);
    }
    assert_string_equal(rs.r[2].label, "峰");

    /* A row grows: more of hour 10 comes in two runs. */
    put(st, d, 5, DAY0_MS + 10 * HOUR + 1800000, 4 * KWH + KWH / 2);
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 11 * HOUR, GAP_MS, &res), 0);
    put(st, d, 6, DAY0_MS + 11 * HOUR, 5 * KWH);
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 11 * HOUR, GAP_MS, &res), 0);
    rs.n = 0;
    assert_int_equal(
        store_charges_query(st, d, DAY0_MS + 10 * HOUR, DAY0_MS + 11 * HOUR, 64, keep_row, &rs), 0);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].energy_mwh, KWH);
    assert_int_equal(rs.r[0].fen, 95);
    assert_int_equal(assert_ledger_adds_up("tou1", d), 345);
}

static void test_a_gap_holds_billing_until_filled_or_bridged(void **state)
{
    (void)state;
    int64_t d = add_device("gap1");
    struct tariff t = flat(DAY0_MS, 10000); /* 1 yuan/kWh: 1 fen per 10 Wh */
    assert_int_equal(store_tariff_add(st, d, &t), 0);
    put(st, d, 1, DAY0_MS + HOUR, 0);
    put(st, d, 3, DAY0_MS + 3 * HOUR, 2 * KWH);
    struct billing_run_result res;
    int64_t now = DAY0_MS + 4 * HOUR;
    assert_int_equal(store_billing_run(st, d, now, GAP_MS, &res), 0);
    assert_true(res.waiting);
    assert_int_equal(res.wait_until_ms, now + GAP_MS);
    assert_int_equal(res.fen, 0);
    /* The missing reading arrives: billed as if it had come in order. */
    put(st, d, 2, DAY0_MS + 2 * HOUR, KWH);
    assert_int_equal(store_billing_run(st, d, now + 1000, GAP_MS, &res), 0);
    assert_false(res.waiting);
    assert_int_equal(res.fen, 200);
    /* Another gap, never filled: bridged after the wait. */
    put(st, d, 5, DAY0_MS + 5 * HOUR, 3 * KWH);
    assert_int_equal(store_billing_run(st, d, now + 2000, GAP_MS, &res), 0);
    assert_true(res.waiting);
    assert_int_equal(store_billing_run(st, d, now + 2000 + GAP_MS, GAP_MS, &res), 0);
    assert_false(res.waiting);
    assert_int_equal(res.fen, 100);
    assert_int_equal(res.events, 1); /* gap_bridged */
    /* A late reading inside the bridged gap is billed no more. */
    put(st, d, 4, DAY0_MS + 4 * HOUR, 2 * KWH + KWH / 2);
    assert_int_equal(store_billing_run(st, d, now + 3000 + GAP_MS, GAP_MS, &res), 0);
    assert_int_equal(res.fen, 0);
    assert_int_equal(assert_ledger_adds_up("gap1", d), 300);
    assert_int_equal(balance_of("gap1"), -300);
}

/*
 * Waiting at a gap with a full batch of readings after it is waiting, not "more": the
 * billing thread runs a device with more again at once, so a device whose gap had more
 * than a batch of readings after it was billed again and again, a write transaction each
 * time, until the gap was filled or bridged, and the ingest writer starved on SQLite.
 */
static void test_a_gap_before_a_full_batch_waits_without_asking_for_more(void **state)
{
    (void)state;
    int64_t d = add_device("gapbatch");
    struct tariff t = flat(DAY0_MS, 10000);
    assert_int_equal(store_tariff_add(st, d, &t), 0);
    enum { AFTER = CHARGE_MAX_BATCH + 10 };
    static struct reading r[AFTER];
    put(st, d, 1, DAY0_MS, 0);
    for (size_t i = 0; i < AFTER; i++) /* seq 3.. every second, 10 mWh each */
        r[i] = meter(3 + i, DAY0_MS + 2000 + (int64_t)i * 1000, (int64_t)(i + 2) * 10);
    size_t inserted = 0;
    assert_int_equal(store_readings_insert(st, d, r, AFTER, &inserted), 0);
    assert_int_equal(inserted, AFTER);
    struct billing_run_result res;
    int64_t now = DAY0_MS + 2 * HOUR;
    assert_int_equal(store_billing_run(st, d, now, GAP_MS, &res), 0);
    assert_true(res.waiting);
    assert_false(res.more);
    assert_int_equal(res.fen, 0);
    /* Filled: a full batch, then the rest. */
    put(st, d, 2, DAY0_MS + 1000, 10);
    assert_int_equal(store_billing_run(st, d, now + 1000, GAP_MS, &res), 0);
    assert_false(res.waiting);
    assert_true(res.more);
    assert_int_equal(res.readings, CHARGE_MAX_BATCH);
    assert_int_equal(store_billing_run(st, d, now + 2000, GAP_MS, &res), 0);
    assert_false(res.waiting);
    assert_false(res.more);
    assert_int_equal(res.readings, AFTER + 1 - CHARGE_MAX_BATCH);
    /* (AFTER + 1) * 10 mWh at 1 yuan/kWh = 1 fen per 10 Wh */
    assert_int_equal(assert_ledger_adds_up("gapbatch", d), (AFTER + 1) * 10 / 10000);
}

static void test_a_version_at_or_before_the_frontier_is_refused(void **state)
{
    (void)state;
    int64_t d = add_device("ver1");
    struct tariff t = flat(DAY0_MS, 5000);
    assert_int_equal(store_tariff_add(st, d, &t), 0);
    assert_int_equal(store_tariff_add(st, d, &t), -EEXIST);
    put(st, d, 1, DAY0_MS + HOUR, 0);
    put(st, d, 2, DAY0_MS + 2 * HOUR, KWH);
    struct billing_run_result res;
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 3 * HOUR, GAP_MS, &res), 0);
    assert_int_equal(res.fen, 50);
    struct tariff late = flat(DAY0_MS + 2 * HOUR, 9000);
    assert_int_equal(store_tariff_add(st, d, &late), -ESTALE);
    late.effective_from_ms = DAY0_MS + HOUR;
    assert_int_equal(store_tariff_add(st, d, &late), -ESTALE);
    late.effective_from_ms = DAY0_MS + 2 * HOUR + 1;
    assert_int_equal(store_tariff_add(st, d, &late), 0);

    struct tariff v[8];
    size_t n = 0;
    assert_int_equal(store_tariff_versions(st, d, DAY0_MS + 2 * HOUR, v, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].period[0].price, 5000);
    assert_int_equal(v[1].period[0].price, 9000);
    assert_int_equal(store_tariff_add(st, 987654, &late), -ENOENT);
}

static void test_the_park_tariff_holds_until_a_device_has_its_own(void **state)
{
    (void)state;
    int64_t d = add_device("park1");
    /* After everything the tests before billed: the park's versions reach every device. */
    const int64_t P = DAY0_MS + 30 * 24 * HOUR;
    struct tariff park = flat(P - 24 * HOUR, 2000);
    assert_int_equal(store_tariff_add(st, STORE_PARK, &park), 0);
    struct tariff own = flat(P + 2 * HOUR, 4000);
    assert_int_equal(store_tariff_add(st, d, &own), 0);
    put(st, d, 1, P + HOUR, 0);
    put(st, d, 2, P + 3 * HOUR, 2 * KWH);
    struct billing_run_result res;
    assert_int_equal(store_billing_run(st, d, P + 4 * HOUR, GAP_MS, &res), 0);
    assert_int_equal(res.fen, 20 + 40);
    struct tariff v[8];
    size_t n = 0;
    assert_int_equal(store_tariff_versions(st, d, P, v, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].effective_from_ms, park.effective_from_ms);
    /* The park's versions cannot start before what any device has billed. */
    struct tariff early = flat(P + 3 * HOUR, 1000);
    assert_int_equal(store_tariff_add(st, STORE_PARK, &early), -ESTALE);
}

static void test_settings_default_then_change_field_by_field(void **state)
{
    (void)state;
    int64_t d = add_device("set1");
    struct billing_settings s;
    assert_int_equal(store_billing_settings_get(st, d, &s), 0);
    assert_true(s.is_default);
    assert_int_equal(s.low_balance_fen, BILLING_LOW_BALANCE_DEFAULT_FEN);
    assert_int_equal(s.cutoff_at_fen, 0);
    assert_false(s.is_protected);
    struct billing_settings_change ch = {.has_cutoff_at = true, .cutoff_at_fen = -550};
    assert_int_equal(store_billing_settings_set(st, d, &ch, &s), 0);
    assert_int_equal(s.cutoff_at_fen, -550);
    assert_int_equal(s.low_balance_fen, BILLING_LOW_BALANCE_DEFAULT_FEN);
    ch = (struct billing_settings_change){.has_protected = true,
                                          .is_protected = true,
                                          .has_low_balance = true,
                                          .low_balance_fen = 12345};
    assert_int_equal(store_billing_settings_set(st, d, &ch, NULL), 0);
    assert_int_equal(store_billing_settings_get(st, d, &s), 0);
    assert_false(s.is_default);
    assert_true(s.is_protected);
    assert_int_equal(s.low_balance_fen, 12345);
    assert_int_equal(s.cutoff_at_fen, -550);
    ch = (struct billing_settings_change){.has_low_balance = true,
                                          .low_balance_fen = STORE_BALANCE_MAX_FEN + 1};
    assert_int_equal(store_billing_settings_set(st, d, &ch, NULL), -ERANGE);
    ch = (struct billing_settings_change){.has_protected = true};
    assert_int_equal(store_billing_settings_set(st, 987654, &ch, NULL), -ENOENT);
}

static int count_row(const struct charge_row *c, void *ctx)
{
    (void)c;
    (*(size_t *)ctx)++;
    return 0;
}

static void test_a_deleted_device_takes_its_billing_along(void **state)
{
    (void)state;
    int64_t d = add_device("del1");
    struct tariff t = flat(DAY0_MS, 10000);
    assert_int_equal(store_tariff_add(st, d, &t), 0);
    struct billing_settings_change ch = {.has_protected = true, .is_protected = true};
    assert_int_equal(store_billing_settings_set(st, d, &ch, NULL), 0);
    put(st, d, 1, DAY0_MS + HOUR, 0);
    put(st, d, 2, DAY0_MS + 2 * HOUR, KWH);
    struct billing_run_result res;
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 3 * HOUR, GAP_MS, &res), 0);
    assert_int_equal(res.fen, 100);
    assert_int_equal(store_device_delete(st, "del1"), 0);
    size_t n = 0;
    assert_int_equal(store_charges_query(st, d, DAY0_MS, DAY0_MS + 24 * HOUR, 64, count_row, &n),
                     0);
    assert_int_equal(n, 0);
    struct billing_settings s;
    assert_int_equal(store_billing_settings_get(st, d, &s), 0);
    assert_true(s.is_default);
    struct tariff v[4];
    assert_int_equal(store_tariff_versions(st, d, DAY0_MS, v, 4, &n), 0);
    assert_int_equal(n, 1); /* its own went with it: only the park's is left */
    assert_int_equal(v[0].period[0].price, 2000);
    assert_int_equal(store_billing_run(st, d, DAY0_MS + 3 * HOUR, GAP_MS, &res), -ENOENT);
}

/* Charges and recharges at once, each thread on its own connection. */
#define CONC_READINGS  201
#define CONC_RECHARGES 60

struct conc {
    int64_t d;
    volatile int writing; /* readings still being stored */
    int failures;
};

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    struct store *s = store_fixture_connect(url);
    for (uint64_t k = 1; s && k <= CONC_READINGS; k++) {
        /* 10 Wh a minute at 1 yuan/kWh: 1 fen a reading */
        struct reading r = meter(k, DAY0_MS + (int64_t)k * 60000, (int64_t)k * 10000);
        size_t inserted = 0;
        if (store_readings_insert(s, c->d, &r, 1, &inserted)) {
            fprintf(stderr, "insert: %s\n", store_errmsg(s));
            __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
        }
    }
    __atomic_store_n(&c->writing, 0, __ATOMIC_SEQ_CST);
    store_close(s);
    return NULL;
}

static void *conc_biller(void *arg)
{
    struct conc *c = arg;
    struct store *s = store_fixture_connect(url);
    while (s && __atomic_load_n(&c->writing, __ATOMIC_SEQ_CST)) {
        struct billing_run_result res;
        if (store_billing_run(s, c->d, DAY0_MS + 24 * HOUR, GAP_MS, &res)) {
            fprintf(stderr, "billing run: %s\n", store_errmsg(s));
            __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
        }
    }
    store_close(s);
    return NULL;
}

static void *conc_recharger(void *arg)
{
    struct conc *c = arg;
    struct store *s = store_fixture_connect(url);
    for (int k = 0; s && k < CONC_RECHARGES; k++) {
        struct recharge_result rr;
        if (store_recharge(s, c->d, 3, 0, NULL, &rr)) {
            fprintf(stderr, "recharge: %s\n", store_errmsg(s));
            __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
        }
    }
    store_close(s);
    return NULL;
}

static void test_concurrent_charges_and_recharges_are_exact_to_the_fen(void **state)
{
    (void)state;
    struct conc c = {.d = add_device("conc1"), .writing = 1};
    struct tariff t = flat(DAY0_MS, 10000);
    assert_int_equal(store_tariff_add(st, c.d, &t), 0);
    pthread_t th[5];
    void *(*fn[5])(void *) = {conc_writer, conc_biller, conc_biller, conc_recharger,
                              conc_recharger};
    for (int i = 0; i < 5; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fn[i], &c), 0);
    for (int i = 0; i < 5; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(c.failures, 0);
    struct billing_run_result res;
    assert_int_equal(store_billing_run(st, c.d, DAY0_MS + 24 * HOUR, GAP_MS, &res), 0);
    assert_false(res.waiting);
    int64_t charged = assert_ledger_adds_up("conc1", c.d);
    assert_int_equal(charged, CONC_READINGS - 1);
    assert_int_equal(balance_of("conc1"), 2 * CONC_RECHARGES * 3 - (CONC_READINGS - 1));
    struct rows rs = {0};
    assert_int_equal(store_charges_query(st, c.d, DAY0_MS, DAY0_MS + 24 * HOUR, 64, keep_row, &rs),
                     0);
    int64_t fen = 0, mwh = 0;
    for (size_t i = 0; i < rs.n; i++) {
        fen += rs.r[i].fen;
        mwh += rs.r[i].energy_mwh;
    }
    assert_int_equal(fen, CONC_READINGS - 1);
    assert_int_equal(mwh, (CONC_READINGS - 1) * 10000);
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_run_bills_time_of_use_to_the_fen_and_the_ledger_adds_up),
        cmocka_unit_test(test_a_gap_holds_billing_until_filled_or_bridged),
        cmocka_unit_test(test_a_gap_before_a_full_batch_waits_without_asking_for_more),
        cmocka_unit_test(test_a_version_at_or_before_the_frontier_is_refused),
        cmocka_unit_test(test_the_park_tariff_holds_until_a_device_has_its_own),
        cmocka_unit_test(test_settings_default_then_change_field_by_field),
        cmocka_unit_test(test_a_deleted_device_takes_its_billing_along),
        cmocka_unit_test(test_concurrent_charges_and_recharges_are_exact_to_the_fen),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
