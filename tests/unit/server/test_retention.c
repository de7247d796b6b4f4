/*
 * The retention thread against a fake store: it deletes exactly the readings
 * past the kept days, in chunks, for every device; through an outage it
 * counts errors, keeps what it cannot reach, and finishes once the database
 * is back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fake_store.h"

#include "log.h"
#include "retention.h"
#include "store.h"
#include "timeutil.h"

#define HASH    "0000000000000000000000000000000000000000000000000000000000000000"
#define DAY_MS  INT64_C(86400000)
#define WAIT_MS 20000

static struct reading make_reading(uint64_t seq, int64_t ts_ms)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = ts_ms;
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, 1);
    return r;
}

static int count(const struct reading *r, void *ctx)
{
    (void)r;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t stored(struct store *s, int64_t pk)
{
    size_t n = 0;
    assert_int_equal(store_readings_query(s, pk, 0, INT64_MAX, 1000, count, &n), 0);
    return n;
}

/*
 * A fake database with two devices, each with `old` readings about 4 days old and `young`
 * ones from the last hour, and a connection to it in *s.
 */
static struct fake_db *filled(struct store **s, int64_t pk[2], size_t old, size_t young)
{
    struct fake_db *fake = fake_db_new();
    assert_non_null(fake);
    assert_int_equal(fake_db_connect(fake, s), 0);
    int64_t now = time_now_ms();
    for (int d = 0; d < 2; d++) {
        char name[8] = "m0";
        name[1] = (char)('1' + d);
        assert_int_equal(store_device_add(*s, name, HASH, 0, &pk[d]), 0);
        for (size_t k = 0; k < old + young; k++) {
            int64_t ts = k < old ? now - 4 * DAY_MS + (int64_t)k * 1000
                                 : now - 3600 * 1000 + (int64_t)k * 1000;
            struct reading r = make_reading(k + 1, ts);
            assert_int_equal(store_readings_insert(*s, pk[d], &r, 1, NULL), 0);
        }
    }
    return fake;
}

/* Waits until the counter picked by field reaches want; -ETIMEDOUT after WAIT_MS. */
static int wait_counter(struct retention *r, size_t offset, uint64_t want)
{
    int64_t end = time_mono_ms() + WAIT_MS;
    for (;;) {
        struct retention_counters c;
        retention_counters(r, &c);
        uint64_t v;
        memcpy(&v, (const char *)&c + offset, sizeof(v));
        if (v >= want)
            return 0;
        if (time_mono_ms() > end)
            return -ETIMEDOUT;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void test_old_readings_go_in_chunks_and_young_ones_stay(void **state)
{
    (void)state;
    struct store *s;
    int64_t pk[2];
    struct fake_db *fake = filled(&s, pk, 7, 3);

    struct retention *r;
    char err[128];
    struct retention_options opt = {.db = fake_db_source(fake),
                                    .keep_days = 2,
                                    .every_ms = 60000,
                                    .chunk_rows = 2,
                                    .pause_ms = 1};
    assert_int_equal(retention_start(&opt, &r, err, sizeof(err)), 0);
    assert_int_equal(wait_counter(r, offsetof(struct retention_counters, runs), 1), 0);
    struct retention_counters c;
    retention_counters(r, &c);
    assert_int_equal(c.rows_deleted, 14);
    assert_int_equal(c.errors, 0);
    assert_true(c.last_run_ms > 0);
    assert_int_equal(stored(s, pk[0]), 3);
    assert_int_equal(stored(s, pk[1]), 3);
    retention_stop(r);
    store_close(s);
    fake_db_free(fake);
}

static void test_an_outage_is_counted_and_the_next_run_finishes_the_work(void **state)
{
    (void)state;
    struct store *s;
    int64_t pk[2];
    struct fake_db *fake = filled(&s, pk, 4, 2);
    fake_db_set_down(fake, true);

    struct retention *r;
    char err[128];
    struct retention_options opt = {.db = fake_db_source(fake),
                                    .keep_days = 2,
                                    .every_ms = 20,
                                    .chunk_rows = 10,
                                    .pause_ms = 1};
    assert_int_equal(retention_start(&opt, &r, err, sizeof(err)), 0);
    assert_int_equal(wait_counter(r, offsetof(struct retention_counters, errors), 2), 0);
    struct retention_counters c;
    retention_counters(r, &c);
    assert_int_equal(c.runs, 0);
    assert_int_equal(c.rows_deleted, 0);

    fake_db_set_down(fake, false);
    assert_int_equal(wait_counter(r, offsetof(struct retention_counters, runs), 1), 0);
    retention_counters(r, &c);
    assert_int_equal(c.rows_deleted, 8);
    assert_int_equal(stored(s, pk[0]), 2);
    assert_int_equal(stored(s, pk[1]), 2);
    retention_stop(r);
    store_close(s);
    fake_db_free(fake);
}

static void test_bad_options_are_refused(void **state)
{
    (void)state;
    struct retention *r;
    char err[128];
    struct retention_options none = {.keep_days = 2};
    assert_int_equal(retention_start(&none, &r, err, sizeof(err)), -EINVAL);
    struct retention_options no_days = {.db = {.url = "sqlite:/tmp/x.db"}, .keep_days = 0};
    assert_int_equal(retention_start(&no_days, &r, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    log_set_level(LOGL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_readings_go_in_chunks_and_young_ones_stay),
        cmocka_unit_test(test_an_outage_is_counted_and_the_next_run_finishes_the_work),
        cmocka_unit_test(test_bad_options_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
