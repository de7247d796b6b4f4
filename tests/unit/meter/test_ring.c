/* The sample ring: order, gaps, waiting, snapshots, and a producer and consumer at full speed. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ring.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static struct sample_ring *new_ring(size_t capacity, double rate)
{
    struct sample_ring *r = NULL;
    assert_int_equal(ring_new(capacity, rate, &r), 0);
    return r;
}

/* Pushes the ramp first, first + 1, ... (current = -voltage) in one push. */
static void push_ramp(struct sample_ring *r, uint32_t first, size_t n, int64_t end_ms)
{
    float v[4096], i[4096];
    assert_true(n <= 4096);
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)(first + k);
        i[k] = -(float)(first + k);
    }
    ring_push(r, v, i, n, end_ms);
}

static float pv[4096], pi[4096];

static void test_ring_new_checks_arguments_and_reports_sizes(void **state)
{
    (void)state;
    struct sample_ring *r = NULL;
    assert_int_equal(ring_new(0, 6400, &r), -EINVAL);
    assert_int_equal(ring_new(1000, 0, &r), -EINVAL);
    assert_int_equal(ring_new(1000, NAN, &r), -EINVAL);
    assert_null(r);
    r = new_ring(64000, 6400);
    assert_int_equal(ring_capacity(r), 64000);
    assert_true(ring_rate_hz(r) == 6400);
    assert_int_equal(ring_total(r), 0);
    assert_int_equal(ring_missed(r), 0);
    ring_free(r);
    ring_free(NULL);
}

static void test_ring_pop_returns_pushed_samples_in_order(void **state)
{
    (void)state;
    struct sample_ring *r = new_ring(1000, 100);
    bool gap = true;
    push_ramp(r, 0, 10, 1000);
    assert_int_equal(ring_pop(r, pv, pi, 4, 0, &gap), 4);
    assert_false(gap);
    for (int k = 0; k < 4; k++)
        assert_true(pv[k] == k && pi[k] == -k);
    assert_int_equal(ring_pop(r, pv, pi, 100, 0, &gap), 6);
    assert_false(gap);
    assert_true(pv[0] == 4 && pv[5] == 9);
    assert_int_equal(ring_pop(r, pv, pi, 100, 0, &gap), 0);
    assert_int_equal(ring_total(r), 10);
    ring_free(r);
}

static void test_ring_pop_times_out_when_empty(void **state)
{
    (void)state;
    struct sample_ring *r = new_ring(1000, 100);
    bool gap;
    double t0 = now_s();
    assert_int_equal(ring_pop(r, pv, pi, 10, 30, &gap), 0);
    assert_true(now_s() - t0 >= 0.029);
    t0 = now_s();
    assert_int_equal(ring_pop(r, pv, pi, 10, 0, &gap), 0);
    assert_true(now_s() - t0 < 0.01);
    ring_free(r);
}

static void test_ring_gap_starts_a_new_pop(void **state)
{
    (void)state;
    struct sample_ring *r = new_ring(1000, 100);
    bool gap = true;
    push_ramp(r, 0, 5, 0);
    ring_mark_gap(r, 3);
    push_ramp(r, 8, 5, 0);
    assert_int_equal(ring_pop(r, pv, pi, 100, 0, &gap), 5);
    assert_false(gap);
    assert_true(pv[4] == 4);
    assert_int_equal(ring_pop(r, pv, pi, 100, 0, &gap), 5);
    assert_true(gap);
    assert_true(pv[0] == 8 && pv[4] == 12);
    assert_int_equal(ring_missed(r), 3);
    assert_int_equal(ring_total(r), 10);
    ring_mark_gap(r, 0); /* nothing missed, nothing marked */
    push_ramp(r, 13, 1, 0);
    assert_int_equal(ring_pop(r, pv, pi, 100, 0, &gap), 1);
    assert_false(gap);
    ring_free(r);
}

static void test_ring_consumer_that_fell_behind_gets_the_newest_as_a_gap(void **state)
{
    (void)state;
    /* capacity 1000 at 100/s: a second stays out of the consumer's reach */
    struct sample_ring *r = new_ring(1000, 100);
    bool gap = false;
    for (uint32_t k = 0; k < 2500; k += 100)
        push_ramp(r, k, 100, 0);
    assert_int_equal(ring_pop(r, pv, pi, 4096, 0, &gap), 900);
    assert_true(gap);
    assert_true(pv[0] == 1600 && pv[899] == 2499);
    assert_int_equal(ring_missed(r), 0); /* the sampler missed nothing */
    push_ramp(r, 2500, 10, 0);
    assert_int_equal(ring_pop(r, pv, pi, 4096, 0, &gap), 10);
    assert_false(gap);
    ring_free(r);
}

static void test_ring_snapshot_copies_the_newest_with_their_time(void **state)
{
    (void)state;
    struct sample_ring *r = new_ring(1000, 100);
    int64_t first_ms = 0;
    assert_int_equal(ring_snapshot(r, 10, pv, pi, &first_ms), -ENODATA);
    push_ramp(r, 0, 200, 9000);
    push_ramp(r, 200, 100, 10000);
    assert_int_equal(ring_snapshot(r, 50, pv, pi, &first_ms), 0);
    assert_true(pv[0] == 250 && pv[49] == 299 && pi[49] == -299);
    assert_int_equal(first_ms, 10000 - 490); /* 49 samples of 10 ms before the newest */
    assert_int_equal(ring_snapshot(r, 400, pv, pi, &first_ms), -ENODATA);
    assert_int_equal(ring_snapshot(r, 901, pv, pi, &first_ms), -ERANGE); /* > capacity - rate */
    assert_int_equal(ring_snapshot(r, 0, pv, pi, &first_ms), -ERANGE);
    /* a snapshot does not move the consumer */
    bool gap;
    assert_int_equal(ring_pop(r, pv, pi, 4096, 0, &gap), 300);
    ring_free(r);
}

struct waiter {
    struct sample_ring *r;
    size_t got;
    double waited_s;
};

static void *wait_for_samples(void *arg)
{
    struct waiter *w = arg;
    float v[16], i[16];
    bool gap;
    double t0 = now_s();
    w->got = ring_pop(w->r, v, i, 16, 5000, &gap);
    w->waited_s = now_s() - t0;
    return NULL;
}

static void test_ring_push_wakes_a_waiting_consumer(void **state)
{
    (void)state;
    struct waiter w = {.r = new_ring(1000, 100)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_samples, &w), 0);
    sleep_ms(50);
    push_ramp(w.r, 0, 3, 0);
    pthread_join(t, NULL);
    assert_int_equal(w.got, 3);
    assert_true(w.waited_s >= 0.04);
    assert_true(w.waited_s < 1.0);
    ring_free(w.r);
}

/* Stress: a producer at full speed, a consumer that sometimes dawdles, snapshots meanwhile. */

#define STRESS_TOTAL     2000000u
#define STRESS_GAP_EVERY 100000u
#define STRESS_GAP_LEN   7u

struct stress {
    struct sample_ring *r;
    atomic_bool done;
    /* consumer's findings */
    uint64_t received, gaps, unflagged_jumps, backwards;
    /* snapshot thread's findings */
    uint64_t snapshots, snapshot_errors, snapshot_retries;
};

static void *stress_producer(void *arg)
{
    struct stress *s = arg;
    float v[64], i[64];
    uint32_t next = 0, seed = 12345;
    while (next < STRESS_TOTAL) {
        if (next > 0 && next % STRESS_GAP_EVERY == 0) {
            ring_mark_gap(s->r, STRESS_GAP_LEN);
            next += STRESS_GAP_LEN;
        }
        seed = seed * 1103515245u + 12345u;
        uint32_t n = 1 + (seed >> 16) % 64;
        uint32_t to_gap = STRESS_GAP_EVERY - next % STRESS_GAP_EVERY;
        if (n > to_gap)
            n = to_gap;
        for (uint32_t k = 0; k < n; k++) {
            v[k] = (float)(next + k);
            i[k] = -(float)(next + k);
        }
        ring_push(s->r, v, i, n, 0);
        next += n;
    }
    atomic_store(&s->done, true);
    return NULL;
}

static void *stress_snapshots(void *arg)
{
    struct stress *s = arg;
    static float v[100], i[100];
    while (!atomic_load(&s->done)) {
        int64_t t;
        int r = ring_snapshot(s->r, 100, v, i, &t);
        if (r == -ENODATA || r == -EAGAIN) {
            s->snapshot_retries++;
            continue;
        }
        if (r) {
            s->snapshot_errors++;
            continue;
        }
        s->snapshots++;
        for (int k = 1; k < 100; k++) {
            float step = v[k] - v[k - 1];
            if ((step != 1 && step != 1 + STRESS_GAP_LEN) || i[k] != -v[k])
                s->snapshot_errors++;
        }
    }
    return NULL;
}

static void test_ring_stress_stream_stays_continuous_or_says_it_is_not(void **state)
{
    (void)state;
    struct stress s = {.r = new_ring(4096, 1000)};
    atomic_init(&s.done, false);
    pthread_t producer, snapper;
    assert_int_equal(pthread_create(&snapper, NULL, stress_snapshots, &s), 0);
    assert_int_equal(pthread_create(&producer, NULL, stress_producer, &s), 0);

    float expected = 0;
    uint64_t pops = 0;
    for (;;) {
        bool gap;
        size_t n = ring_pop(s.r, pv, pi, 512, 10, &gap);
        if (n == 0) {
            if (atomic_load(&s.done) && ring_pop(s.r, pv, pi, 512, 0, &gap) == 0)
                break;
            continue;
        }
        pops++;
        if (gap)
            s.gaps++;
        if (pv[0] < expected)
            s.backwards++;
        else if (pv[0] > expected && !gap)
            s.unflagged_jumps++;
        for (size_t k = 1; k < n; k++) {
            if (pv[k] != pv[k - 1] + 1 || pi[k] != -pv[k])
                s.unflagged_jumps++;
        }
        s.received += n;
        expected = pv[n - 1] + 1;
        if (pops % 50 == 0)
            sleep_ms(3); /* fall behind now and then */
    }
    pthread_join(producer, NULL);
    pthread_join(snapper, NULL);

    assert_true(expected == (float)STRESS_TOTAL);
    assert_int_equal(s.backwards, 0);
    assert_int_equal(s.unflagged_jumps, 0);
    assert_int_equal(s.snapshot_errors, 0);
    assert_true(s.gaps > 0);
    assert_true(s.received < ring_total(s.r)); /* it fell behind and was told so */
    assert_int_equal(ring_missed(s.r), (STRESS_TOTAL / STRESS_GAP_EVERY - 1) * STRESS_GAP_LEN);
    assert_int_equal(ring_total(s.r) + ring_missed(s.r), STRESS_TOTAL);
    assert_true(s.snapshots > 0);
    ring_free(s.r);
}

static void test_ring_keeps_every_channel_of_a_frame(void **state)
{
    (void)state;
    struct sample_ring *r = NULL;
    assert_int_equal(ring_new_channels(100, 1000, 0, &r), -EINVAL);
    assert_int_equal(ring_new_channels(100, 1000, RING_CHANNELS_MAX + 1, &r), -EINVAL);
    assert_int_equal(ring_new_channels(100, 1000, 6, &r), 0);
    assert_int_equal(ring_channels(r), 6);
    float in[6][30], out[6][30];
    const float *pin[6];
    float *pout[6];
    for (int c = 0; c < 6; c++) {
        for (int k = 0; k < 30; k++)
            in[c][k] = (float)(100 * c + k);
        pin[c] = in[c];
        pout[c] = out[c];
    }
    ring_push_frames(r, pin, 30, 5000);
    bool gap = true;
    assert_int_equal(ring_pop_frames(r, pout, 30, 0, &gap), 30);
    assert_false(gap);
    assert_memory_equal(in, out, sizeof(in));
    memset(out, 0, sizeof(out));
    int64_t first_ms = 0;
    assert_int_equal(ring_snapshot_frames(r, 10, pout, &first_ms), 0);
    for (int c = 0; c < 6; c++)
        assert_memory_equal(out[c], &in[c][20], 10 * sizeof(float));
    assert_int_equal(first_ms, 5000 - 9);
    ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_new_checks_arguments_and_reports_sizes),
        cmocka_unit_test(test_ring_pop_returns_pushed_samples_in_order),
        cmocka_unit_test(test_ring_pop_times_out_when_empty),
        cmocka_unit_test(test_ring_gap_starts_a_new_pop),
        cmocka_unit_test(test_ring_consumer_that_fell_behind_gets_the_newest_as_a_gap),
        cmocka_unit_test(test_ring_snapshot_copies_the_newest_with_their_time),
        cmocka_unit_test(test_ring_push_wakes_a_waiting_consumer),
        cmocka_unit_test(test_ring_stress_stream_stays_continuous_or_says_it_is_not),
        cmocka_unit_test(test_ring_keeps_every_channel_of_a_frame),
    };
    return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
