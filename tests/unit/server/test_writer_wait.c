/*
 * writer_submit_wait(), the HTTP upload's way into the writer, against a real
 * SQLite database: concurrent uploads each get their own counts, an outage
 * answers -ETIMEDOUT and stores the readings once later, and seq-less uploads
 * of one device sharing a batch get distinct seqs. writer_submit_async(), the
 * same without a waiting thread: told once each, on commit, at its deadline
 * during an outage (and not again when the commit comes), or at shutdown.
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
#include "store.h"
#include "timeutil.h"
#include "writer.h"

#define HASH       FIXTURE_HASH
#define N_THREADS  8
#define PER_THREAD 5
#define WAIT_MS    20000
#define MAX_READ   64

static atomic_int acks_published;

static int count_ack(void *ctx, const char *topic, const void *payload, size_t len)
{
    (void)ctx;
    (void)topic;
    (void)payload;
    (void)len;
    atomic_fetch_add(&acks_published, 1);
    return 0;
}

static struct reading make_reading(uint64_t seq, bool has_seq)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = has_seq;
    r.ts_ms = time_now_ms();
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, 1);
    return r;
}

/* Polls writer_depth() until it reaches want; -ETIMEDOUT after timeout_ms. */
static int wait_depth(struct writer *w, size_t want, int64_t timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    while (writer_depth(w) != want) {
        if (time_mono_ms() > end)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int collect_seq(const struct reading *r, void *ctx)
{
    uint64_t *seqs = ctx;
    if (seqs[0] < MAX_READ - 1)
        seqs[++seqs[0]] = r->seq;
    return 0;
}

/* The stored seqs of device_pk into seqs[1..], their count in seqs[0]. */
static void stored_seqs(struct store *s, int64_t device_pk, uint64_t seqs[MAX_READ])
{
    memset(seqs, 0, MAX_READ * sizeof(seqs[0]));
    assert_int_equal(store_readings_query(s, device_pk, 0, INT64_MAX, MAX_READ, collect_seq, seqs),
                     0);
}

struct upload_job {
    struct writer *w;
    int64_t device_pk;
    struct reading r[PER_THREAD];
    size_t n;
    int64_t timeout_ms;
    int result;
    size_t inserted;
};

static void *upload(void *arg)
{
    struct upload_job *job = arg;
    job->result =
        writer_submit_wait(job->w, job->device_pk, job->r, job->n, &job->inserted, job->timeout_ms);
    return NULL;
}

static void test_concurrent_uploads_get_their_own_counts(void **state)
{
    (void)state;
    struct sqlite_fixture db;
    int64_t pk[2];
    assert_int_equal(
        sqlite_fixture_open(&db, "test_writer_wait", (const char *[]){"m1", "m2", NULL}, pk), 0);
    struct store *s = db.st;
    /* Two readings of device m1 are stored before: the uploads that carry them count them as
     * duplicates. */
    struct reading before[2] = {make_reading(1, true), make_reading(12, true)};
    size_t ins = 0;
    assert_int_equal(store_readings_insert(s, pk[0], before, 2, &ins), 0);
    assert_int_equal(ins, 2);

    struct server_counters stats;
    memset(&stats, 0, sizeof(stats));
    atomic_store(&acks_published, 0);
    struct writer *w;
    struct writer_options wo = {.db = sqlite_fixture_source(&db),
                                .queue_max = 1000,
                                .batch_max = 1000,
                                .batch_wait_ms = 20,
                                .stats = &stats,
                                .publish = count_ack};
    assert_int_equal(writer_start(&wo, &w), 0);

    /* Thread k uploads seqs 10k+1..10k+5 for device k % 2 (m1: k even). */
    struct upload_job jobs[N_THREADS];
    pthread_t t[N_THREADS];
    for (int k = 0; k < N_THREADS; k++) {
        jobs[k] = (struct upload_job){
            .w = w, .device_pk = pk[k % 2], .n = PER_THREAD, .timeout_ms = WAIT_MS, .result = 1};
        for (int i = 0; i < PER_THREAD; i++)
            jobs[k].r[i] = make_reading((uint64_t)(10 * k + i + 1), true);
        assert_int_equal(pthread_create(&t[k], NULL, upload, &jobs[k]), 0);
    }
    for (int k = 0; k < N_THREADS; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(jobs[k].result, 0);
        /* Seq 1 (thread 0) and 12 (thread 1, but device m2) were stored before on m1 only. */
        assert_int_equal(jobs[k].inserted, k == 0 ? PER_THREAD - 1 : PER_THREAD);
    }
    /* The same uploads again: all duplicates. */
    for (int k = 0; k < N_THREADS; k++) {
        size_t again = 99;
        assert_int_equal(
            writer_submit_wait(w, jobs[k].device_pk, jobs[k].r, PER_THREAD, &again, WAIT_MS), 0);
        assert_int_equal(again, 0);
    }
    uint64_t seqs[MAX_READ];
    stored_seqs(s, pk[0], seqs);
    assert_int_equal(seqs[0], N_THREADS / 2 * PER_THREAD + 1); /* + seq 12 stored before */
    stored_seqs(s, pk[1], seqs);
    assert_int_equal(seqs[0], N_THREADS / 2 * PER_THREAD);
    /* Uploads are answered over HTTP, not acknowledged over MQTT; MQTT counters untouched. */
    assert_int_equal(atomic_load(&acks_published), 0);
    assert_int_equal(atomic_load(&stats.readings_stored), 0);
    assert_int_equal(atomic_load(&stats.queue_depth), 0);
    assert_int_equal(writer_submit_wait(w, pk[0], before, 0, &ins, WAIT_MS), -EINVAL);

    writer_free(w);
    sqlite_fixture_close(&db);
}

static void test_an_outage_times_out_then_stores_once_and_numbers_seqless_readings(void **state)
{
    (void)state;
    /* The database is down from the start (the device it will hold is there already). */
    struct store *s;
    int64_t pk;
    struct fake_db *fake = fake_db_with_device("late", true, &s, &pk);
    assert_non_null(fake);

    struct server_counters stats;
    memset(&stats, 0, sizeof(stats));
    struct writer *w;
    struct writer_options wo = {.db = fake_db_source(fake),
                                .queue_max = 100,
                                .batch_max = 100,
                                .batch_wait_ms = 1,
                                .stats = &stats};
    assert_int_equal(writer_start(&wo, &w), 0);

    /* An upload with a seq gives up after its timeout; its reading stays queued. */
    struct reading with_seq = make_reading(100, true);
    size_t inserted = 99;
    int64_t t0 = time_mono_ms();
    assert_int_equal(writer_submit_wait(w, 1, &with_seq, 1, &inserted, 200), -ETIMEDOUT);
    assert_true(time_mono_ms() - t0 >= 200);
    assert_int_equal(inserted, 99);
    assert_int_equal(writer_depth(w), 1);

    /* Two seq-less uploads of the same device queue behind it while the batch retries, so they
     * share the next batch. */
    struct upload_job a = {.w = w, .device_pk = 1, .n = 1, .timeout_ms = WAIT_MS, .result = 1};
    struct upload_job b = a;
    a.r[0] = make_reading(0, false);
    b.r[0] = make_reading(0, false);
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, upload, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, upload, &b), 0);
    assert_int_equal(wait_depth(w, 3, WAIT_MS), 0);

    /* The database comes back. */
    fake_db_set_down(fake, false);
    assert_int_equal(pk, 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.result, 0);
    assert_int_equal(b.result, 0);
    assert_int_equal(a.inserted, 1);
    assert_int_equal(b.inserted, 1);
    assert_int_equal(writer_flush(w, WAIT_MS), 0);
    assert_int_equal(atomic_load(&stats.batches), 2); /* the timed-out one, then both seq-less */

    /* Seq 100 once, and the seq-less two numbered after it, distinct. */
    uint64_t seqs[MAX_READ];
    stored_seqs(s, pk, seqs);
    assert_int_equal(seqs[0], 3);
    assert_int_equal(seqs[1], 102); /* newest first */
    assert_int_equal(seqs[2], 101);
    assert_int_equal(seqs[3], 100);
    /* The client that got the timeout retries: its reading is already there. */
    inserted = 99;
    assert_int_equal(writer_submit_wait(w, pk, &with_seq, 1, &inserted, WAIT_MS), 0);
    assert_int_equal(inserted, 0);
    stored_seqs(s, pk, seqs);
    assert_int_equal(seqs[0], 3);

    writer_free(w);
    store_close(s);
    fake_db_free(fake);
}

static void test_stopping_releases_a_waiting_upload(void **state)
{
    (void)state;
    struct server_counters stats;
    memset(&stats, 0, sizeof(stats));
    struct writer *w;
    struct fake_db *fake = fake_db_new(); /* down for good */
    assert_non_null(fake);
    fake_db_set_down(fake, true);
    struct writer_options wo = {.db = fake_db_source(fake),
                                .queue_max = 10,
                                .batch_max = 10,
                                .batch_wait_ms = 1,
                                .stats = &stats};
    assert_int_equal(writer_start(&wo, &w), 0);
    struct upload_job job = {.w = w, .device_pk = 1, .n = 1, .timeout_ms = 60000, .result = 1};
    job.r[0] = make_reading(1, true);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, upload, &job), 0);
    assert_int_equal(wait_depth(w, 1, WAIT_MS), 0);
    writer_stop(w, 0);
    pthread_join(t, NULL);
    assert_int_equal(job.result, -ESHUTDOWN);
    size_t inserted;
    assert_int_equal(writer_submit_wait(w, 1, job.r, 1, &inserted, 1000), -ESHUTDOWN);
    writer_free(w);
    fake_db_free(fake);
}

/* What writer_submit_async() told, once per submission. */
struct told {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int result;
    size_t inserted;
    int64_t at_ms;
};

static void on_done(void *ctx, int r, size_t inserted)
{
    struct told *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->calls++;
    t->result = r;
    t->inserted = inserted;
    t->at_ms = time_mono_ms();
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void told_init(struct told *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
}

/* Waits until t was told (at most WAIT_MS); returns its call count. */
static int told_wait(struct told *t)
{
    int64_t end = time_mono_ms() + WAIT_MS;
    pthread_mutex_lock(&t->mu);
    while (t->calls == 0 && time_mono_ms() < end) {
        pthread_mutex_unlock(&t->mu);
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&t->mu);
    }
    int calls = t->calls;
    pthread_mutex_unlock(&t->mu);
    return calls;
}

static void test_async_commit_timeout_and_shutdown(void **state)
{
    (void)state;
    struct store *s; /* the database is down until the test brings it back */
    int64_t pk;
    struct fake_db *fake = fake_db_with_device("m", true, &s, &pk);
    assert_non_null(fake);
    struct server_counters stats;
    memset(&stats, 0, sizeof(stats));
    struct writer *w;
    struct writer_options wo = {.db = fake_db_source(fake),
                                .queue_max = 100,
                                .batch_max = 100,
                                .batch_wait_ms = 1,
                                .stats = &stats};
    assert_int_equal(writer_start(&wo, &w), 0);

    /* During the outage: told -ETIMEDOUT at its deadline, the reading still queued. */
    struct told late;
    told_init(&late);
    struct reading r1 = make_reading(7, true);
    int64_t t0 = time_mono_ms();
    assert_int_equal(writer_submit_async(w, 1, &r1, 1, 300, on_done, &late), 0);
    assert_int_equal(told_wait(&late), 1);
    assert_int_equal(late.result, -ETIMEDOUT);
    assert_true(late.at_ms - t0 >= 300);
    assert_int_equal(writer_depth(w), 1);

    /* Another, with a long deadline, is told of its commit once the database is there. */
    struct told ok;
    told_init(&ok);
    struct reading r2[2] = {make_reading(7, true), make_reading(8, true)};
    assert_int_equal(writer_submit_async(w, 1, r2, 2, WAIT_MS, on_done, &ok), 0);
    fake_db_set_down(fake, false);
    assert_int_equal(told_wait(&ok), 1);
    assert_int_equal(ok.result, 0);
    /* Seq 7 came first with the timed-out upload (same batch or before): one of the two
       uploads stored it, and the late one is not told again. */
    assert_int_equal(writer_flush(w, WAIT_MS), 0);
    assert_int_equal(late.calls, 1);
    assert_int_equal(ok.calls, 1);
    uint64_t seqs[MAX_READ];
    stored_seqs(s, pk, seqs);
    assert_int_equal(seqs[0], 2);
    assert_int_equal(ok.inserted, 1); /* 8 is its own; 7 came from the late upload */

    /* Refused at once: nothing to store, no callback later. */
    struct told never;
    told_init(&never);
    assert_int_equal(writer_submit_async(w, 1, r2, 0, WAIT_MS, on_done, &never), -EINVAL);
    assert_int_equal(writer_submit_async(w, 1, r2, 200, WAIT_MS, on_done, &never), -E2BIG);
    writer_free(w);
    assert_int_equal(never.calls, 0);
    store_close(s);

    /* Stopping tells what is still queued. */
    fake_db_set_down(fake, true);
    assert_int_equal(writer_start(&wo, &w), 0);
    struct told stopped;
    told_init(&stopped);
    assert_int_equal(writer_submit_async(w, 1, &r1, 1, 60000, on_done, &stopped), 0);
    assert_int_equal(wait_depth(w, 1, WAIT_MS), 0);
    writer_stop(w, 0);
    assert_int_equal(told_wait(&stopped), 1);
    assert_int_equal(stopped.result, -ESHUTDOWN);
    assert_int_equal(writer_submit_async(w, 1, &r1, 1, 1000, on_done, &never), -ESHUTDOWN);
    writer_free(w);
    assert_int_equal(stopped.calls, 1);
    assert_int_equal(never.calls, 0);
    fake_db_free(fake);
}

int main(void)
{
    log_set_level(LOGL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_uploads_get_their_own_counts),
        cmocka_unit_test(test_an_outage_times_out_then_stores_once_and_numbers_seqless_readings),
        cmocka_unit_test(test_stopping_releases_a_waiting_upload),
        cmocka_unit_test(test_async_commit_timeout_and_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
