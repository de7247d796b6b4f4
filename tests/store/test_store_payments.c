/*
 * The storage contract of WeChat Pay orders (store.h "WeChat Pay orders"),
 * against each backend: an order is credited once per out_trade_no, through
 * the ledger's one operation, also when many connections try at once; the
 * balance is the sum of the ledger throughout.
 * Usage: test_store_payments URL (an empty database; a sqlite file is removed first).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"
#include "timeutil.h"

static const char *url;
static struct store *st;
static int64_t tenant, dev;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int group_setup(void **state)
{
    (void)state;
    if (store_fixture_open(url, STORE_FIXTURE_MIGRATE, &st))
        return -1;
    if (store_user_add(st, "tenant", "hash-t", ROLE_USER, &tenant) ||
        store_device_add(st, "pay-dev", HASH_A, 0, &dev)) {
        fprintf(stderr, "setup on %s failed: %s\n", url, store_errmsg(st));
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

struct sum {
    int64_t fen;
    int payments;
};

static int add_entry(const struct ledger_entry *e, void *ctx)
{
    struct sum *s = ctx;
    s->fen += e->amount_fen;
    s->payments += strcmp(e->kind, "payment") == 0;
    return 0;
}

/* The device's balance, checked to be the sum of its ledger; *ret_payments counts kind payment. */
static int64_t balance(int *ret_payments)
{
    struct device_rec d;
    struct sum s = {0};
    assert_int_equal(store_device_by_name(st, "pay-dev", &d), 0);
    assert_int_equal(store_ledger_list(st, dev, 100000, add_entry, &s), 0);
    assert_int_equal(d.balance_fen, s.fen);
    if (ret_payments)
        *ret_payments = s.payments;
    return d.balance_fen;
}

static void new_order(const char *no, int64_t fen, int64_t created_ms)
{
    struct payment_rec p = {.device_pk = dev,
                            .user_id = tenant,
                            .amount_fen = fen,
                            .created_ms = created_ms,
                            .expires_ms = created_ms + 1800000};
    snprintf(p.out_trade_no, sizeof(p.out_trade_no), "%s", no);
    int64_t id = 0;
    assert_int_equal(store_payment_create(st, &p, &id), 0);
    assert_true(id > 0);
}

static void test_an_order_is_created_then_credited_once(void **state)
{
    (void)state;
    int n0, n1;
    int64_t before = balance(&n0);
    new_order("SM20261207ONCE000000000000000A", 5000, 1000);
    assert_int_equal(
        store_payment_set_prepay(st, "SM20261207ONCE000000000000000A", "wx0prepay", 1001), 0);
    struct payment_rec p;
    assert_int_equal(store_payment_get(st, "SM20261207ONCE000000000000000A", &p), 0);
    assert_int_equal(p.state, PAYMENT_CREATED);
    assert_int_equal(p.amount_fen, 5000);
    assert_string_equal(p.prepay_id, "wx0prepay");
    assert_string_equal(p.device_id, "pay-dev");
    assert_int_equal(p.user_id, tenant);

    struct payment_credit c;
    assert_int_equal(store_payment_credit(st, p.out_trade_no, "4200000001", 2000, &c), 0);
    assert_false(c.already);
    assert_int_equal(c.new_balance_fen, before + 5000);
    assert_int_equal(balance(&n1), before + 5000);
    assert_int_equal(n1, n0 + 1);

    /* a repeat credits nothing; another transaction for the same order is refused */
    assert_int_equal(store_payment_credit(st, p.out_trade_no, "4200000001", 2000, &c), 0);
    assert_true(c.already);
    assert_int_equal(store_payment_credit(st, p.out_trade_no, "4200000002", 2000, &c), -EEXIST);
    assert_int_equal(balance(&n1), before + 5000);
    assert_int_equal(n1, n0 + 1);

    assert_int_equal(store_payment_get(st, p.out_trade_no, &p), 0);
    assert_int_equal(p.state, PAYMENT_PAID);
    assert_string_equal(p.transaction_id, "4200000001");
    assert_int_equal(p.paid_ms, 2000);
    assert_true(p.ledger_id > 0);
    /* a paid order is neither closed nor failed afterwards */
    assert_int_equal(store_payment_finish(st, p.out_trade_no, PAYMENT_CLOSED, 3000), -ENOENT);
}

static void test_unknown_and_duplicate_orders_are_refused(void **state)
{
    (void)state;
    int64_t before = balance(NULL);
    struct payment_credit c;
    assert_int_equal(
        store_payment_credit(st, "SM20261207NEVERMADE00000000000", "4200000009", 1, &c), -ENOENT);
    new_order("SM20261207DUP0000000000000000A", 100, 1000);
    struct payment_rec p = {.device_pk = dev, .amount_fen = 100, .created_ms = 1};
    snprintf(p.out_trade_no, sizeof(p.out_trade_no), "SM20261207DUP0000000000000000A");
    assert_int_equal(store_payment_create(st, &p, NULL), -EEXIST);
    p.amount_fen = 0;
    assert_int_equal(store_payment_create(st, &p, NULL), -ERANGE);
    /* one transaction id pays one order */
    new_order("SM20261207DUP0000000000000000B", 100, 1000);
    assert_int_equal(
        store_payment_credit(st, "SM20261207DUP0000000000000000A", "4200000010", 1, &c), 0);
    assert_int_not_equal(
        store_payment_credit(st, "SM20261207DUP0000000000000000B", "4200000010", 1, &c), 0);
    assert_int_equal(balance(NULL), before + 100);
    assert_int_equal(store_payment_get(st, "SM20261207DUP0000000000000000B", &p), 0);
    assert_int_equal(p.state, PAYMENT_CREATED);
}

struct open_seen {
    int n;
    char no[4][PAYMENT_TRADE_NO_MAX + 1];
};

static int collect_open(const struct payment_rec *p, void *ctx)
{
    struct open_seen *s = ctx;
    if (s->n < 4)
        snprintf(s->no[s->n], sizeof(s->no[0]), "%s", p->out_trade_no);
    s->n++;
    return 0;
}

static void test_open_orders_are_listed_oldest_first_until_finished(void **state)
{
    (void)state;
    new_order("SM20261207OPEN000000000000000B", 200, 500000);
    new_order("SM20261207OPEN000000000000000A", 200, 400000);
    new_order("SM20261207OPEN000000000000000C", 200, 900000);
    struct open_seen s = {0};
    assert_int_equal(store_payments_open(st, 600000, 100, collect_open, &s), 0);
    /* the earlier tests' orders still created (created_ms 1000) come first */
    int a = -1, b = -1;
    for (int i = 0; i < s.n && i < 4; i++) {
        if (strcmp(s.no[i], "SM20261207OPEN000000000000000A") == 0)
            a = i;
        if (strcmp(s.no[i], "SM20261207OPEN000000000000000B") == 0)
            b = i;
    }
    assert_true(a >= 0 && b == a + 1);
    assert_int_equal(store_payment_finish(st, "SM20261207OPEN000000000000000A", PAYMENT_CLOSED, 1),
                     0);
    assert_int_equal(store_payment_finish(st, "SM20261207OPEN000000000000000B", PAYMENT_FAILED, 1),
                     0);
    assert_int_equal(store_payment_finish(st, "SM20261207OPEN000000000000000C", PAYMENT_PAID, 1),
                     -EINVAL);
    struct open_seen after = {0};
    assert_int_equal(store_payments_open(st, 600000, 100, collect_open, &after), 0);
    assert_int_equal(after.n, s.n - 2);
    /* a payment proven after its order was closed is credited all the same */
    int64_t before = balance(NULL);
    struct payment_credit c;
    assert_int_equal(
        store_payment_credit(st, "SM20261207OPEN000000000000000A", "4200000020", 5, &c), 0);
    assert_int_equal(balance(NULL), before + 200);
}

static void test_a_devices_orders_are_listed_newest_first_and_by_payer(void **state)
{
    (void)state;
    int64_t other = 0;
    assert_int_equal(store_user_add(st, "other-payer", "hash-x", ROLE_USER, &other), 0);
    new_order("SM20261207LIST000000000000000A", 100, 1000);
    struct payment_rec p = {.device_pk = dev,
                            .user_id = other,
                            .amount_fen = 200,
                            .created_ms = 2000,
                            .expires_ms = 3000};
    snprintf(p.out_trade_no, sizeof(p.out_trade_no), "SM20261207LIST000000000000000B");
    assert_int_equal(store_payment_create(st, &p, NULL), 0);

    struct open_seen all = {0}, mine = {0}, theirs = {0};
    assert_int_equal(store_payments_of_device(st, dev, 0, 2, collect_open, &all), 0);
    assert_int_equal(all.n, 2);
    assert_string_equal(all.no[0], "SM20261207LIST000000000000000B");
    assert_string_equal(all.no[1], "SM20261207LIST000000000000000A");
    assert_int_equal(store_payments_of_device(st, dev, other, 100, collect_open, &theirs), 0);
    assert_int_equal(theirs.n, 1);
    assert_string_equal(theirs.no[0], "SM20261207LIST000000000000000B");
    assert_int_equal(store_payments_of_device(st, dev, tenant, 1, collect_open, &mine), 0);
    assert_int_equal(mine.n, 1);
    assert_string_equal(mine.no[0], "SM20261207LIST000000000000000A");
}

#define RACERS 8

static void *race_credit(void *arg)
{
    struct payment_credit *ret = arg;
    struct store *mine = store_fixture_connect(url);
    if (!mine)
        return (void *)(intptr_t)-EIO;
    intptr_t r = store_payment_credit(mine, "SM20261207RACE000000000000000A", "4200000030", 7, ret);
    store_close(mine);
    return (void *)r;
}

/* A counter recharge of 1 fen from a connection of its own, beside the payment's credits. */
static void *race_recharge(void *arg)
{
    (void)arg;
    struct recharge_result res;
    struct store *mine = store_fixture_connect(url);
    if (!mine)
        return (void *)(intptr_t)-EIO;
    intptr_t r = store_recharge(mine, dev, 1, 0, NULL, &res);
    store_close(mine);
    return (void *)r;
}

static void test_one_order_credited_from_many_connections_at_once_beside_recharges_is_credited_once(
    void **state)
{
    (void)state;
    int n0, n1;
    int64_t before = balance(&n0);
    new_order("SM20261207RACE000000000000000A", 4321, 1000);
    pthread_t t[RACERS], rt[RACERS];
    struct payment_credit c[RACERS];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, race_credit, &c[i]), 0);
        assert_int_equal(pthread_create(&rt[i], NULL, race_recharge, NULL), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        void *r;
        pthread_join(rt[i], &r);
        assert_int_equal((intptr_t)r, 0);
    }
    int credited = 0;
    for (int i = 0; i < RACERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_int_equal((intptr_t)r, 0);
        credited += !c[i].already;
    }
    assert_int_equal(credited, 1);
    /* exact to the fen beside the counter recharges that ran at the same time */
    assert_int_equal(balance(&n1), before + 4321 + RACERS);
    assert_int_equal(n1, n0 + 1);
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_order_is_created_then_credited_once),
        cmocka_unit_test(test_unknown_and_duplicate_orders_are_refused),
        cmocka_unit_test(test_open_orders_are_listed_oldest_first_until_finished),
        cmocka_unit_test(test_a_devices_orders_are_listed_newest_first_and_by_payer),
        cmocka_unit_test(
            test_one_order_credited_from_many_connections_at_once_beside_recharges_is_credited_once),
    };
    return cmocka_run_group_tests_name(url, tests, group_setup, group_teardown);
}
