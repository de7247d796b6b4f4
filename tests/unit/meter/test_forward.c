/*
 * The resend policy against a real spool and a recording sink, with the clock
 * in the test's hands: live readings go out at once as objects, what waited
 * goes out oldest first in arrays within the rate and the in-flight cap,
 * unacknowledged readings are resent after the ack timeout (acknowledged ones
 * never), and a reconnect restarts from the oldest unacknowledged reading.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "forward.h"
#include "spool.h"

#define MAX_MSGS 4096

struct sent {
    uint64_t first, last;
    size_t n;
    bool array;
};

static char dir[TMPDIR_PATH_MAX];
static char err[256];
#define MAX_SEQ 4096

static struct sent msgs[MAX_MSGS];
static size_t n_msgs;
static unsigned sent_count[MAX_SEQ + 1]; /* times each seq went out */
static int fail_sends;
static struct spool *sp;
static struct forward *fw;

static int record_send(void *ctx, const struct reading *r, size_t n, bool as_array)
{
    (void)ctx;
    if (fail_sends)
        return -ENOTCONN;
    assert_true(n_msgs < MAX_MSGS);
    for (size_t k = 0; k < n; k++) {
        assert_true(k == 0 || r[k].seq > r[k - 1].seq);
        assert_true(r[k].seq <= MAX_SEQ);
        sent_count[r[k].seq]++;
    }
    msgs[n_msgs++] = (struct sent){r[0].seq, r[n - 1].seq, n, as_array};
    return 0;
}

static void start(uint32_t batch, uint32_t rate, uint32_t max_inflight)
{
    assert_int_equal(tmpdir_make(dir, "test_meter_forward"), 0);
    struct spool_config sc = {
        .dir = dir, .max_records = 100000, .records_per_segment = 64, .sync_interval_ms = 1000};
    assert_int_equal(spool_open(&sc, &sp, err, sizeof(err)), 0);
    struct forward_config fc = {.ack_timeout_ms = 30000,
                                .backlog_batch = batch,
                                .backlog_rate = rate,
                                .max_inflight = max_inflight};
    assert_int_equal(forward_new(&fc, sp, record_send, NULL, &fw), 0);
    n_msgs = 0;
    memset(sent_count, 0, sizeof(sent_count));
    fail_sends = 0;
}

static int stop(void **state)
{
    (void)state;
    forward_free(fw);
    spool_close(sp);
    fw = NULL;
    sp = NULL;
    return tmpdir_remove(dir);
}

/* A reading taken at now_ms: spooled, then offered live. */
static void take(uint64_t seq, int64_t now_ms)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = now_ms;
    reading_set_real(&r, RR_VOLTAGE, 230);
    reading_set_real(&r, RR_CURRENT, 1);
    assert_int_equal(spool_append(sp, &r, now_ms), 0);
    forward_live(fw, &r, now_ms);
}

static void ack(uint64_t first, uint64_t last)
{
    struct ack_msg *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->n_seqs = 1;
    a->seqs[0] = (struct ack_range){first, last};
    forward_ack(fw, a, 0);
    free(a);
}

static void test_live_readings_go_out_at_once_as_objects(void **state)
{
    (void)state;
    start(100, 500, 1000);
    forward_link(fw, true, 1, 0);
    for (uint64_t q = 1; q <= 5; q++) {
        take(q, (int64_t)q * 1000);
        forward_tick(fw, (int64_t)q * 1000 + 10);
    }
    assert_int_equal(n_msgs, 5);
    for (size_t k = 0; k < 5; k++) {
        assert_false(msgs[k].array);
        assert_int_equal(msgs[k].first, k + 1);
    }
    struct forward_stats st;
    forward_get_stats(fw, &st);
    assert_int_equal(st.live, 5);
    assert_int_equal(st.inflight, 5);
    ack(1, 5);
    forward_get_stats(fw, &st);
    assert_int_equal(st.inflight, 0);
    /* Acked: nothing is resent after the timeout. */
    forward_tick(fw, 100000);
    assert_int_equal(n_msgs, 5);
}

static void test_the_backlog_drains_in_arrays_within_rate_and_cap(void **state)
{
    (void)state;
    start(10, 50, 30);
    int64_t t = 0;
    for (uint64_t q = 1; q <= 200; q++, t += 10)
        take(q, t); /* disconnected: spooled only */
    assert_int_equal(n_msgs, 0);

    forward_link(fw, true, 1, t);
    /* One second: at most a burst of one batch plus 50/s, and never over 30 in flight. */
    for (int k = 0; k < 20; k++, t += 50)
        forward_tick(fw, t);
    size_t sent = 0;
    for (size_t k = 0; k < n_msgs; k++) {
        assert_true(msgs[k].array);
        assert_true(msgs[k].n <= 10);
        sent += msgs[k].n;
    }
    assert_int_equal(sent, 30); /* the cap, reached within the rate (10 + 50) */
    assert_int_equal(msgs[0].first, 1);

    /* Live readings still go out while the backlog waits on the cap. */
    take(201, t);
    if (msgs[n_msgs - 1].array) {
        struct forward_stats st;
        forward_get_stats(fw, &st);
        fail_msg("live not sent: inflight %llu", (unsigned long long)st.inflight);
    }
    assert_false(msgs[n_msgs - 1].array);
    assert_int_equal(msgs[n_msgs - 1].first, 201);

    /* Acks open the window; everything arrives in order, each once. */
    size_t acked_msgs = 0;
    for (int k = 0; k < 400 && n_msgs < MAX_MSGS; k++, t += 50) {
        forward_tick(fw, t);
        for (; acked_msgs < n_msgs; acked_msgs++) /* the server acks what it received */
            ack(msgs[acked_msgs].first, msgs[acked_msgs].last);
    }
    for (uint64_t q = 1; q <= 201; q++)
        assert_int_equal(sent_count[q], 1);
    uint64_t prev = 0;
    for (size_t k = 0; k < n_msgs; k++) {
        if (!msgs[k].array)
            continue;
        assert_true(msgs[k].first > prev);
        prev = msgs[k].last;
    }
    struct forward_stats st;
    forward_get_stats(fw, &st);
    assert_int_equal(st.resent, 200);
    assert_false(st.backlog_active);
}

static void test_the_rate_bounds_the_backlog(void **state)
{
    (void)state;
    start(20, 100, 100000);
    int64_t t = 0;
    for (uint64_t q = 1; q <= 2000; q++)
        take(q, t);
    forward_link(fw, true, 1, t);
    for (int k = 0; k < 100; k++, t += 50) /* 5 s */
        forward_tick(fw, t);
    size_t sent = 0;
    for (size_t k = 0; k < n_msgs; k++)
        sent += msgs[k].n;
    /* 5 s at 100/s plus the first batch; and not starved either. */
    assert_true(sent <= 20 + 5 * 100);
    assert_true(sent >= 5 * 100 - 40);
}

static void test_unacknowledged_readings_are_resent_after_the_timeout(void **state)
{
    (void)state;
    start(100, 500, 1000);
    forward_link(fw, true, 1, 0);
    for (uint64_t q = 1; q <= 10; q++)
        take(q, (int64_t)q * 100);
    ack(1, 4);
    ack(8, 8);
    forward_tick(fw, 29000); /* not yet */
    assert_int_equal(n_msgs, 10);
    forward_tick(fw, 31100);
    for (uint64_t q = 1; q <= 10; q++)
        assert_int_equal(sent_count[q], (q <= 4 || q == 8) ? 1 : 2);
    for (size_t k = 10; k < n_msgs; k++)
        assert_true(msgs[k].array);
    struct forward_stats st;
    forward_get_stats(fw, &st);
    assert_true(st.timeouts >= 1);
}

static void ack_at(uint64_t first, uint64_t last, int64_t now_ms)
{
    struct ack_msg *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->n_seqs = 1;
    a->seqs[0] = (struct ack_range){first, last};
    forward_ack(fw, a, now_ms);
    free(a);
}

/* A server that stays silent is asked again after 30 s, then 60 s, then 120 s; one whose acks
   come slowly (a long queue after an outage) is given four times its delay. */
static void test_resends_back_off_and_follow_the_ack_delay(void **state)
{
    (void)state;
    start(100, 500, 1000);
    forward_link(fw, true, 1, 0);
    for (uint64_t q = 1; q <= 5; q++)
        take(q, (int64_t)q * 100);
    forward_tick(fw, 30600);
    assert_int_equal(sent_count[1], 2);
    forward_tick(fw, 30600 + 59000); /* the second wait is 60 s */
    assert_int_equal(sent_count[1], 2);
    forward_tick(fw, 30600 + 60100);
    assert_int_equal(sent_count[1], 3);
    forward_tick(fw, 90700 + 119000); /* the third, 120 s */
    assert_int_equal(sent_count[1], 3);
    forward_tick(fw, 90700 + 120100);
    assert_int_equal(sent_count[1], 4);

    /* Acks 25 s after each send: the timeout settles at four times that, about 100 s. */
    int64_t t = 300000;
    ack_at(1, 5, t);
    for (uint64_t q = 6; q <= 45; q++, t += 1000) {
        take(q, t);
        ack_at(q, q, t + 25000);
    }
    take(46, t);
    forward_tick(fw, t + 31000);
    assert_int_equal(sent_count[46], 1);
    forward_tick(fw, t + 95000);
    assert_int_equal(sent_count[46], 1);
    forward_tick(fw, t + 110000);
    assert_int_equal(sent_count[46], 2);
}

static void test_a_reconnect_resends_from_the_oldest_unacknowledged(void **state)
{
    (void)state;
    start(100, 500, 1000);
    forward_link(fw, true, 1, 0);
    for (uint64_t q = 1; q <= 6; q++)
        take(q, (int64_t)q);
    ack(1, 3);
    forward_link(fw, false, 1, 10);
    take(7, 20);
    fail_sends = 1; /* the link is marked up but the client refuses: kept for later */
    forward_link(fw, true, 2, 30);
    take(8, 40);
    forward_tick(fw, 50);
    fail_sends = 0;
    forward_tick(fw, 60);
    for (uint64_t q = 1; q <= 3; q++)
        assert_int_equal(sent_count[q], 1);
    for (uint64_t q = 4; q <= 6; q++)
        assert_int_equal(sent_count[q], 2); /* in flight at the break: resent */
    assert_int_equal(sent_count[7], 1);
    assert_int_equal(sent_count[8], 1);
    struct forward_stats st;
    forward_get_stats(fw, &st);
    assert_true(st.send_errors >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_live_readings_go_out_at_once_as_objects, stop),
        cmocka_unit_test_teardown(test_the_backlog_drains_in_arrays_within_rate_and_cap, stop),
        cmocka_unit_test_teardown(test_the_rate_bounds_the_backlog, stop),
        cmocka_unit_test_teardown(test_unacknowledged_readings_are_resent_after_the_timeout, stop),
        cmocka_unit_test_teardown(test_a_reconnect_resends_from_the_oldest_unacknowledged, stop),
        cmocka_unit_test_teardown(test_resends_back_off_and_follow_the_ack_delay, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
