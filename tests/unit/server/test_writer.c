/*
 * The writer behind ingest, against a real SQLite database: batches, acks
 * after commit (captured through the writer's publish hook), rejected seqs,
 * back-pressure and a database that comes back.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_store.h"
#include "sqlite_fixture.h"

#include "ingest.h"
#include "log.h"
#include "sign.h"
#include "store.h"
#include "timeutil.h"
#include "writer.h"

#define HASH     FIXTURE_HASH
#define MAX_ACKS 64

struct ack {
    char topic[96];
    char payload[512];
    int max_stored_seq; /* the device's highest seq queryable when the ack went out */
};

static struct sqlite_fixture db;
static struct store *st; /* the test's own connection */
static struct server_counters stats;
static struct ingest *ing;
static struct writer *w;
static int64_t m1_pk, m2_pk;
static pthread_mutex_t acks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ack acks[MAX_ACKS];
static int n_acks;

static int latest_seq(const char *device)
{
    char err[STORE_ERR_LEN];
    struct store *s;
    struct device_rec d;
    struct reading r;
    /* A separate connection: sees only what is committed. */
    if (store_open(db.url, &s, err))
        return -2;
    int seq = -1;
    if (store_device_by_name(s, device, &d) == 0 && store_reading_latest(s, d.id, &r) == 0)
        seq = (int)r.seq;
    store_close(s);
    return seq;
}

static int capture_ack(void *ctx, const char *topic, const void *payload, size_t len)
{
    (void)ctx;
    pthread_mutex_lock(&acks_mu);
    if (n_acks < MAX_ACKS) {
        struct ack *a = &acks[n_acks++];
        snprintf(a->topic, sizeof(a->topic), "%s", topic);
        snprintf(a->payload, sizeof(a->payload), "%.*s", (int)len, (const char *)payload);
        char device[65] = "";
        sscanf(topic, "meters/%64[^/]/ack", device);
        a->max_stored_seq = latest_seq(device);
    }
    pthread_mutex_unlock(&acks_mu);
    return 0;
}

static void reset_acks(void)
{
    pthread_mutex_lock(&acks_mu);
    n_acks = 0;
    pthread_mutex_unlock(&acks_mu);
}

static int setup(void **state)
{
    (void)state;
    int64_t pk[2];
    log_set_level(LOGL_ERROR);
    if (sign_init())
        return -1;
    if (sqlite_fixture_open(&db, "test_writer", (const char *[]){"m1", "m2", NULL}, pk))
        return -1;
    st = db.st;
    m1_pk = pk[0];
    m2_pk = pk[1];
    struct ingest_limits lim = {.max_payload_bytes = 8192, .max_batch = 20};
    ing = ingest_new(&(struct store_source){.url = db.url}, &lim, &stats);
    struct writer_options wo = {.db = sqlite_fixture_source(&db),
                                .queue_max = 100,
                                .batch_max = 50,
                                .batch_wait_ms = 20,
                                .stats = &stats,
                                .publish = capture_ack};
    if (!ing || writer_start(&wo, &w))
        return -1;
    ingest_set_writer(ing, w);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    writer_free(w);
    ingest_free(ing);
    sqlite_fixture_close(&db);
    return 0;
}

static enum ingest_result send(const char *topic, const char *payload)
{
    return ingest_message(ing, topic, payload, strlen(payload));
}

/* Readings seq first..last as one array (or one object when first == last). */
static void send_range(const char *device, int first, int last)
{
    char buf[4096], topic[64];
    size_t off = 0;
    long long now = (long long)time_now_ms();
    if (first != last)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "[");
    for (int s = first; s <= last; s++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "%s{\"seq\":%d,\"ts\":%lld,\"voltage\":230,\"current\":5}",
                                s > first ? "," : "", s, now);
    if (first != last)
        snprintf(buf + off, sizeof(buf) - off, "]");
    snprintf(topic, sizeof(topic), "meters/%s/telemetry", device);
    assert_int_equal(send(topic, buf), INGEST_DONE);
}

/*
 * The ack is want (as the meter parses it) with the device's signature as its last member:
 * the fixture's devices all have the secret hash HASH.
 */
static void assert_signed_ack(const struct ack *a, const char *want)
{
    struct sign_key key;
    assert_non_null(a);
    size_t n = strlen(a->payload);
    assert_int_equal(sign_key_from_hex(HASH, &key), 0);
    assert_int_equal(sign_check(&key, a->topic, a->payload, n), 0);
    assert_int_equal(n, strlen(want) - 1 + SIGN_TAIL_LEN);
    assert_memory_equal(a->payload, want, strlen(want) - 1);
}

static const struct ack *ack_for(const char *device)
{
    char topic[96];
    snprintf(topic, sizeof(topic), "meters/%s/ack", device);
    for (int k = 0; k < n_acks; k++)
        if (strcmp(acks[k].topic, topic) == 0)
            return &acks[k];
    return NULL;
}

static void test_acks_go_out_after_commit_merged_per_device(void **state)
{
    (void)state;
    reset_acks();
    send_range("m1", 1, 3);
    send_range("m2", 1, 1);
    send_range("m1", 4, 4);
    assert_int_equal(writer_flush(w, 10000), 0);
    const struct ack *a1 = ack_for("m1"), *a2 = ack_for("m2");
    assert_non_null(a1);
    assert_non_null(a2);
    /* m1's two messages may land in one batch or two; every ack covers committed rows only. */
    assert_true(a1->max_stored_seq >= 3);
    assert_true(a2->max_stored_seq == 1);
    assert_signed_ack(a2, "{\"seqs\":[[1,1]]}");
    assert_int_equal(latest_seq("m1"), 4);
    assert_int_equal(atomic_load(&stats.readings_stored), 5);
    assert_true(atomic_load(&stats.batches) >= 1);
    assert_int_equal(atomic_load(&stats.queue_depth), 0);
}

static void test_duplicates_are_acked_again_and_stored_once(void **state)
{
    (void)state;
    reset_acks();
    uint64_t stored = atomic_load(&stats.readings_stored), dups = atomic_load(&stats.duplicates);
    send_range("m2", 1, 2);
    assert_int_equal(writer_flush(w, 10000), 0);
    assert_signed_ack(ack_for("m2"), "{\"seqs\":[[1,2]]}");
    assert_int_equal(atomic_load(&stats.readings_stored), stored + 1);
    assert_int_equal(atomic_load(&stats.duplicates), dups + 1);
}

static void test_invalid_readings_are_acked_as_rejected_in_their_batch(void **state)
{
    (void)state;
    reset_acks();
    char buf[1024];
    long long now = (long long)time_now_ms();
    snprintf(buf, sizeof(buf),
             "[{\"seq\":10,\"ts\":%lld,\"voltage\":230,\"current\":5},"
             "{\"seq\":11,\"ts\":%lld,\"voltage\":230},"
             "{\"seq\":12,\"ts\":%lld,\"voltage\":231,\"current\":5},"
             "{\"ts\":%lld,\"voltage\":231,\"current\":5},"
             "{\"seq\":14,\"ts\":\"yesterday\",\"voltage\":231,\"current\":5}]",
             now, now, now, now);
    uint64_t invalid = atomic_load(&stats.invalid);
    assert_int_equal(send("meters/m1/telemetry", buf), INGEST_DONE);
    assert_int_equal(writer_flush(w, 10000), 0);
    const struct ack *a = ack_for("m1");
    assert_non_null(a);
    assert_signed_ack(a, "{\"seqs\":[[10,12],[14,14]],\"rejected\":[[11,11],[14,14]]}");
    assert_int_equal(atomic_load(&stats.invalid), invalid + 3);
    assert_int_equal(atomic_load(&stats.rejected_acked), 2);

    /* A message with only invalid readings is acknowledged too, and stores nothing. */
    reset_acks();
    assert_int_equal(
        send("meters/m2/telemetry", "{\"seq\":77,\"ts\":1,\"voltage\":1,\"current\":1}"),
        INGEST_DONE);
    assert_int_equal(writer_flush(w, 10000), 0);
    assert_signed_ack(ack_for("m2"), "{\"seqs\":[[77,77]],\"rejected\":[[77,77]]}");
}

static void test_unknown_devices_and_unreadable_payloads_get_no_ack(void **state)
{
    (void)state;
    reset_acks();
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"seq\":1,\"ts\":%lld,\"voltage\":230,\"current\":5}",
             (long long)time_now_ms());
    assert_int_equal(send("meters/ghost/telemetry", buf), INGEST_DONE);
    assert_int_equal(send("meters/m1/telemetry", "{not json"), INGEST_DONE);
    assert_int_equal(writer_flush(w, 10000), 0);
    assert_int_equal(n_acks, 0);
}

/* Arguments and outcome of a submission made on another thread. */
struct submit_job {
    struct writer *w;
    int result;
};

static void *submit_one(void *arg)
{
    struct submit_job *job = arg;
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = 99;
    r.has_seq = true;
    r.ts_ms = time_now_ms();
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, 1);
    job->result = writer_submit(job->w, m1_pk, "m1", NULL, &r, 1, NULL, 0);
    return NULL;
}

static int wait_for(atomic_uint_fast64_t *counter, uint64_t at_least, int64_t timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    while (atomic_load(counter) < at_least) {
        if (time_mono_ms() > end)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void test_a_full_queue_blocks_and_an_outage_holds_everything_until_it_ends(void **state)
{
    (void)state;
    /* The database is down from the start (the device it will hold is there already). */
    struct store *late;
    int64_t pk;
    struct fake_db *fake = fake_db_with_device("late", true, &late, &pk);
    assert_non_null(fake);

    struct server_counters s2;
    memset(&s2, 0, sizeof(s2));
    struct writer *w2;
    struct writer_options wo = {.db = fake_db_source(fake),
                                .queue_max = 3,
                                .batch_max = 2,
                                .batch_wait_ms = 1,
                                .stats = &s2,
                                .publish = capture_ack};
    assert_int_equal(writer_start(&wo, &w2), 0);
    reset_acks();
    struct reading r[3];
    memset(r, 0, sizeof(r));
    for (int k = 0; k < 3; k++) {
        r[k].seq = (uint64_t)k + 1;
        r[k].has_seq = true;
        r[k].ts_ms = time_now_ms();
        reading_set_real(&r[k], RR_VOLTAGE, 230);
        reading_set_real(&r[k], RR_CURRENT, 1);
    }
    assert_int_equal(writer_submit(w2, 1, "late", NULL, r, 2, NULL, 0), 0);
    assert_int_equal(writer_submit(w2, 1, "late", NULL, &r[2], 1, NULL, 0), 0);
    assert_int_equal(writer_submit(w2, 1, "late", NULL, r, 4, NULL, 0), -E2BIG);
    assert_int_equal(wait_for(&s2.retries, 3, 10000), 0); /* failing, backing off */
    assert_int_equal(writer_depth(w2), 3);

    /* A fourth reading does not fit: the submitter waits (counted), it is not dropped. */
    struct submit_job job = {.w = w2, .result = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, submit_one, &job), 0);
    assert_int_equal(wait_for(&s2.queue_full, 1, 10000), 0);
    assert_int_equal(n_acks, 0);

    /* The database comes back: everything is stored once, then acknowledged. */
    assert_true(fake_db_refusals(fake) >= 3);
    fake_db_set_down(fake, false);
    assert_int_equal(pk, 1);
    pthread_join(t, NULL);
    assert_int_equal(job.result, 0);
    assert_int_equal(writer_flush(w2, 20000), 0);
    struct reading latest;
    assert_int_equal(store_reading_latest(late, pk, &latest), 0);
    assert_int_equal(latest.seq, 99); /* the one that waited for room went in as well */
    assert_int_equal(atomic_load(&s2.readings_stored), 4);
    assert_int_equal(atomic_load(&s2.duplicates), 0);
    assert_true(n_acks >= 1);
    assert_int_equal(atomic_load(&s2.queue_depth), 0);
    writer_free(w2);
    store_close(late);
    fake_db_free(fake);
}

static void test_stopping_releases_a_blocked_submitter(void **state)
{
    (void)state;
    struct server_counters s2;
    memset(&s2, 0, sizeof(s2));
    struct writer *w2;
    struct fake_db *fake = fake_db_new(); /* down for good */
    assert_non_null(fake);
    fake_db_set_down(fake, true);
    struct writer_options wo = {.db = fake_db_source(fake),
                                .queue_max = 1,
                                .batch_max = 1,
                                .batch_wait_ms = 1,
                                .stats = &s2};
    assert_int_equal(writer_start(&wo, &w2), 0);
    struct submit_job first = {.w = w2, .result = 1}, second = {.w = w2, .result = 1};
    submit_one(&first);
    assert_int_equal(first.result, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, submit_one, &second), 0);
    assert_int_equal(wait_for(&s2.queue_full, 1, 10000), 0);
    writer_stop(w2, 0);
    pthread_join(t, NULL);
    assert_int_equal(second.result, -ESHUTDOWN);
    writer_free(w2);
    fake_db_free(fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acks_go_out_after_commit_merged_per_device),
        cmocka_unit_test(test_duplicates_are_acked_again_and_stored_once),
        cmocka_unit_test(test_invalid_readings_are_acked_as_rejected_in_their_batch),
        cmocka_unit_test(test_unknown_devices_and_unreadable_payloads_get_no_ack),
        cmocka_unit_test(test_a_full_queue_blocks_and_an_outage_holds_everything_until_it_ends),
        cmocka_unit_test(test_stopping_releases_a_blocked_submitter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
