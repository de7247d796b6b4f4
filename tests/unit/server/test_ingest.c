/* Ingest against a real SQLite database: what is stored, what is counted and refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_store.h"
#include "sqlite_fixture.h"

#include "ingest.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"

static struct sqlite_fixture db;
static struct store *st;
static struct ingest *ing;
static struct server_counters stats;
static int64_t dev_pk;

static int setup(void **state)
{
    (void)state;
    log_set_level(LOGL_ERROR);
    if (sqlite_fixture_open(&db, "test_ingest", (const char *[]){"m1", NULL}, &dev_pk))
        return -1;
    st = db.st;
    struct ingest_limits lim = {.max_payload_bytes = 4096, .max_batch = 10};
    ing = ingest_new(&(struct store_source){.url = db.url}, &lim, &stats);
    return ing ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ingest_free(ing);
    sqlite_fixture_close(&db);
    return 0;
}

static enum ingest_result send(const char *topic, const char *payload)
{
    return ingest_message(ing, topic, payload, strlen(payload));
}

static int count_rows(const struct reading *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int stored(void)
{
    int n = 0;
    assert_int_equal(store_readings_query(st, dev_pk, 0, INT64_MAX, 1000, count_rows, &n), 0);
    return n;
}

static char *reading(char *buf, size_t len, int seq)
{
    snprintf(buf, len, "{\"seq\":%d,\"ts\":%lld,\"voltage\":230,\"current\":5}", seq,
             (long long)time_now_ms());
    return buf;
}

static void test_valid_telemetry_is_stored_once(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(send("meters/m1/telemetry", reading(buf, sizeof(buf), 1)), INGEST_DONE);
    assert_int_equal(send("meters/m1/telemetry", reading(buf, sizeof(buf), 1)), INGEST_DONE);
    assert_int_equal(send("meters/m1/telemetry", reading(buf, sizeof(buf), 2)), INGEST_DONE);
    assert_int_equal(stored(), 2);
    assert_int_equal(atomic_load(&stats.readings_stored), 2);
    assert_int_equal(atomic_load(&stats.duplicates), 1);
}

static void test_unknown_devices_and_bad_payloads_are_counted_and_acknowledged(void **state)
{
    (void)state;
    char buf[256];
    int before = stored();
    assert_int_equal(send("meters/ghost/telemetry", reading(buf, sizeof(buf), 3)), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.unknown_device), 1);
    assert_int_equal(send("meters/m1/telemetry", "{not json"), INGEST_DONE);
    assert_int_equal(
        send("meters/m1/telemetry", "{\"seq\":9,\"ts\":1,\"voltage\":1,\"current\":1}"),
        INGEST_DONE);
    assert_int_equal(atomic_load(&stats.invalid), 2);
    assert_int_equal(send("meters/m1/other", "{}"), INGEST_DONE);
    assert_int_equal(send("meters/bad+id/telemetry", "{}"), INGEST_DONE);
    assert_int_equal(send("elsewhere", "{}"), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.bad_topic), 3);
    char big[5000];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(send("meters/m1/telemetry", big), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.too_large), 1);
    /* and valid data still flows afterwards */
    assert_int_equal(send("meters/m1/telemetry", reading(buf, sizeof(buf), 4)), INGEST_DONE);
    assert_int_equal(stored(), before + 1);
}

static void test_a_batch_keeps_its_valid_readings(void **state)
{
    (void)state;
    char buf[1024];
    long long now = (long long)time_now_ms();
    snprintf(buf, sizeof(buf),
             "[{\"seq\":10,\"ts\":%lld,\"voltage\":230,\"current\":5},"
             "{\"seq\":11,\"ts\":%lld,\"voltage\":-1,\"current\":5},"
             "{\"seq\":12,\"ts\":%lld,\"voltage\":231,\"current\":5}]",
             now, now, now);
    int before = stored();
    uint64_t invalid = atomic_load(&stats.invalid);
    assert_int_equal(send("meters/m1/telemetry", buf), INGEST_DONE);
    assert_int_equal(stored(), before + 2);
    assert_int_equal(atomic_load(&stats.invalid), invalid + 1);
}

static void test_status_messages_update_the_device(void **state)
{
    (void)state;
    struct device_rec d;
    assert_int_equal(send("meters/m1/status", "{\"status\":\"online\",\"boot\":3}"), INGEST_DONE);
    assert_int_equal(store_device_by_name(st, "m1", &d), 0);
    assert_int_equal(d.status, DEVICE_STATUS_ONLINE);
    assert_int_equal(send("meters/m1/status", "{\"status\":\"offline\"}"), INGEST_DONE);
    assert_int_equal(store_device_by_name(st, "m1", &d), 0);
    assert_int_equal(d.status, DEVICE_STATUS_OFFLINE);
    uint64_t invalid = atomic_load(&stats.invalid);
    assert_int_equal(send("meters/m1/status", "{\"status\":\"dancing\"}"), INGEST_DONE);
    assert_int_equal(atomic_load(&stats.invalid), invalid + 1);
    assert_int_equal(send("meters/m1/status", ""), INGEST_DONE);
}

static void test_an_unreachable_database_asks_for_redelivery(void **state)
{
    (void)state;
    struct server_counters s2 = {0};
    struct ingest_limits lim = {.max_payload_bytes = 4096, .max_batch = 10};
    struct fake_db *down = fake_db_new();
    assert_non_null(down);
    fake_db_set_down(down, true);
    struct store_source src = fake_db_source(down);
    struct ingest *broken = ingest_new(&src, &lim, &s2);
    char buf[256];
    assert_non_null(broken);
    assert_int_equal(
        ingest_message(broken, "meters/m1/telemetry", reading(buf, sizeof(buf), 1), strlen(buf)),
        INGEST_RETRY);
    assert_true(fake_db_refusals(down) >= 1);
    ingest_free(broken);
    fake_db_free(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_telemetry_is_stored_once),
        cmocka_unit_test(test_unknown_devices_and_bad_payloads_are_counted_and_acknowledged),
        cmocka_unit_test(test_a_batch_keeps_its_valid_readings),
        cmocka_unit_test(test_status_messages_update_the_device),
        cmocka_unit_test(test_an_unreachable_database_asks_for_redelivery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
