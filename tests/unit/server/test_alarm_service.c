/*
 * The alarm service while its database is away: it tries again every few
 * seconds, not in a loop, however many devices the writer notes meanwhile,
 * and stops promptly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "alarms.h"
#include "timeutil.h"

static atomic_int opens;

static int failing_open(void *ctx, struct store **ret, char err[STORE_ERR_LEN])
{
    (void)ctx;
    (void)ret;
    atomic_fetch_add(&opens, 1);
    snprintf(err, STORE_ERR_LEN, "the database is away (test)");
    return -ECONNREFUSED;
}

static void test_a_database_outage_is_retried_calmly(void **state)
{
    (void)state;
    struct alarms_options o = {.db = {.open = failing_open}, .sweep_ms = 100};
    alarm_site_defaults(&o.site);
    struct alarms_service *svc;
    char err[256];
    assert_int_equal(alarms_start(&o, &svc, err, sizeof(err)), 0);
    int64_t end = time_now_ms() + 1500;
    for (int64_t pk = 1; time_now_ms() < end; pk++) {
        alarms_notify(svc, pk % 7 + 1);
        usleep(20000);
    }
    /* The first try at once, then not again within RETRY_MS (5 s). */
    int n = atomic_load(&opens);
    print_message("opens in 1.5 s: %d\n", n);
    assert_true(n >= 1 && n <= 2);
    assert_int_equal(alarms_flush(svc, 200), -ETIMEDOUT);
    struct alarms_counters c;
    alarms_counters(svc, &c);
    assert_true(c.errors == 0 || c.errors <= 2);
    int64_t t0 = time_now_ms();
    alarms_stop(svc);
    assert_true(time_now_ms() - t0 < 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_database_outage_is_retried_calmly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
