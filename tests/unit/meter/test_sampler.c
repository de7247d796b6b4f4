/* The sampling thread: rates, calibration end to end, and every lost sample counted and marked. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "bus_fake.h"
#include "chip_mcp3208.h"
#include "hal/adc.h"
#include "hal/adc_driver.h"
#include "ring.h"
#include "sampler.h"

static char err[256];

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A per-conversion ADC whose conversions take sleep_us and fail every fail_every-th time. */
struct fake_adc {
    struct adc base;
    double rate_hz;
    long sleep_us;
    unsigned fail_every; /* 0: never; 1: always */
    uint64_t conversions;
};

static int fake_convert(struct adc *adc, double *v, double *i)
{
    struct fake_adc *f = (struct fake_adc *)adc;
    uint64_t k = f->conversions++;
    if (f->sleep_us > 0) {
        struct timespec t = {f->sleep_us / 1000000, (f->sleep_us % 1000000) * 1000};
        nanosleep(&t, NULL);
    }
    if (f->fail_every && (k + 1) % f->fail_every == 0)
        return -EIO;
    *v = (double)k;
    *i = -(double)k;
    return 0;
}

static double fake_rate(const struct adc *adc)
{
    return ((const struct fake_adc *)adc)->rate_hz;
}

static void fake_close(struct adc *adc)
{
    (void)adc;
}

static const struct adc_ops fake_ops = {
    .name = "fake",
    .convert_pair = fake_convert,
    .rate_hz = fake_rate,
    .close = fake_close,
};

static void fake_init(struct fake_adc *f, double rate_hz, long sleep_us, unsigned fail_every)
{
    memset(f, 0, sizeof(*f));
    adc_base_init(&f->base, &fake_ops);
    f->rate_hz = rate_hz;
    f->sleep_us = sleep_us;
    f->fail_every = fail_every;
}

static struct sampler *start(struct adc *adc, struct sample_ring *ring)
{
    struct sampler *s = NULL;
    if (sampler_start(adc, ring, &s, err, sizeof(err)))
        fail_msg("sampler_start: %s", err);
    return s;
}

static struct sample_ring *new_ring(double rate_hz)
{
    struct sample_ring *r = NULL;
    assert_int_equal(ring_new((size_t)(rate_hz * 10), rate_hz, &r), 0);
    return r;
}

struct drained {
    uint64_t samples, gaps;
    double sum_vv, sum_ii;
};

static float dv[8192], di[8192];

static void drain(struct sample_ring *r, struct drained *d)
{
    bool gap;
    size_t n;
    memset(d, 0, sizeof(*d));
    while ((n = ring_pop(r, dv, di, 8192, 0, &gap)) > 0) {
        d->samples += n;
        d->gaps += gap;
        for (size_t k = 0; k < n; k++) {
            d->sum_vv += (double)dv[k] * dv[k];
            d->sum_ii += (double)di[k] * di[k];
        }
    }
}

static void test_sampler_reads_the_sim_in_blocks_at_its_rate(void **state)
{
    (void)state;
    const char *specs[] = {"sim:rate=6400", "sim:rate=6400,realtime=0"};
    for (int k = 0; k < 2; k++) {
        struct adc *adc = NULL;
        assert_int_equal(adc_open(specs[k], &adc, err, sizeof(err)), 0);
        assert_true(adc_is_block_capable(adc));
        struct sample_ring *ring = new_ring(6400);
        double t0 = now_s();
        struct sampler *s = start(adc, ring);
        sleep_ms(500);
        struct sampler_stats st;
        sampler_stats(s, &st);
        assert_true(st.running);
        double elapsed = now_s() - t0;
        sampler_stop(s);
        sampler_stats(s, &st);
        sampler_free(s);

        /* the timer paces the sampler even when the sim would run flat out */
        assert_true((double)st.samples > 6400 * (elapsed - 0.3));
        assert_true((double)st.samples <= 6400 * elapsed + 1);
        assert_false(st.running);
        assert_int_equal(st.read_errors, 0);
        assert_int_equal(st.dropped, 0);
        struct drained d;
        drain(ring, &d);
        assert_true(d.samples >= st.samples);
        assert_int_equal(d.gaps, 0);
        assert_true(fabs(sqrt(d.sum_vv / (double)d.samples) - 230) < 3);
        ring_free(ring);
        adc_close(adc);
    }
}

static void test_sampler_delivers_calibrated_sim_samples(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("sim:rate=6400,v=230,i=10", &adc, err, sizeof(err)), 0);
    struct adc_cal cal = {.v_gain = 1.1, .v_offset_v = 0, .i_gain = 0.5, .i_offset_a = 0};
    assert_int_equal(adc_set_calibration(adc, &cal), 0);
    struct sample_ring *ring = new_ring(6400);
    struct sampler *s = start(adc, ring);
    sleep_ms(300);
    sampler_free(s);
    struct drained d;
    drain(ring, &d);
    /* whole periods are not guaranteed: allow the partial one */
    assert_true(d.samples > 1000);
    assert_true(fabs(sqrt(d.sum_vv / (double)d.samples) - 253) < 3);
    assert_true(fabs(sqrt(d.sum_ii / (double)d.samples) - 5) < 0.1);
    ring_free(ring);
    adc_close(adc);
}

static void test_sampler_counts_overruns_of_a_slow_converter_as_gaps(void **state)
{
    (void)state;
    struct fake_adc f;
    fake_init(&f, 1000, 3000, 0); /* each conversion takes three sample periods */
    struct sample_ring *ring = new_ring(1000);
    struct sampler *s = start(&f.base, ring);
    sleep_ms(200);
    sampler_stop(s);
    struct sampler_stats st;
    sampler_stats(s, &st);

    assert_true(st.samples >= 10);
    assert_true(st.samples <= 80);
    assert_true(st.overruns >= 2 * (st.samples - 1)); /* two periods lost per conversion */
    assert_int_equal(st.dropped, st.overruns);
    assert_int_equal(st.read_errors, 0);
    assert_false(st.running);
    assert_int_equal(ring_total(ring), st.samples);
    assert_int_equal(ring_missed(ring), st.dropped);
    struct drained d;
    drain(ring, &d);
    assert_int_equal(d.samples, st.samples);
    assert_true(d.gaps >= st.samples - 1); /* every pair after the first follows a gap */
    sampler_free(s);
    ring_free(ring);
}

static void test_sampler_counts_failed_reads_and_marks_them(void **state)
{
    (void)state;
    struct fake_adc f;
    fake_init(&f, 1000, 0, 3); /* every third conversion fails */
    struct sample_ring *ring = new_ring(1000);
    struct sampler *s = start(&f.base, ring);
    sleep_ms(200);
    sampler_stop(s);
    struct sampler_stats st;
    sampler_stats(s, &st);

    assert_int_equal(st.read_errors, f.conversions / 3);
    assert_int_equal(st.samples, f.conversions - st.read_errors);
    assert_int_equal(st.dropped, st.read_errors + st.overruns);
    assert_int_equal(st.last_error, -EIO);
    assert_int_equal(ring_missed(ring), st.dropped);
    struct drained d;
    drain(ring, &d);
    assert_int_equal(d.samples, st.samples);
    assert_true(d.gaps >= st.read_errors / 2); /* a failure next to an overrun is one gap */
    sampler_free(s);
    ring_free(ring);
}

static void test_sampler_gives_up_after_a_second_of_failures(void **state)
{
    (void)state;
    struct fake_adc f;
    fake_init(&f, 1000, 0, 1);
    struct sample_ring *ring = new_ring(1000);
    struct sampler *s = start(&f.base, ring);
    struct sampler_stats st;
    double t0 = now_s();
    do {
        sleep_ms(20);
        sampler_stats(s, &st);
    } while (st.running && now_s() - t0 < 5);
    assert_false(st.running);
    assert_int_equal(st.last_error, -EIO);
    assert_true(st.read_errors >= 1000);
    assert_int_equal(st.samples, 0);
    assert_true(now_s() - t0 >= 0.9);
    sampler_free(s);
    ring_free(ring);
}

static void test_sampler_drives_the_mcp3208_and_counts_bus_errors(void **state)
{
    (void)state;
    static struct chip_mcp3208 chip;
    static struct bus_fake bus;
    chip_mcp3208_init(&chip, 3.3, 5.0);
    chip.pin_v[0] = 1.65 + 0.5;
    chip.pin_v[1] = 1.65;
    bus_fake_init(&bus, &chip, chip_mcp3208_frame, NULL);
    struct adc *adc = NULL;
    assert_int_equal(adc_mcp3208_open_on(&bus.provider,
                                         "/dev/spidev0.0:vscale=100,iscale=10,"
                                         "rate=2000",
                                         &adc, err, sizeof(err)),
                     0);
    bus.fail_every = 50;
    struct sample_ring *ring = new_ring(2000);
    double t0 = now_s();
    struct sampler *s = start(adc, ring);
    sleep_ms(600);
    double elapsed = now_s() - t0;
    sampler_stop(s);
    struct sampler_stats st;
    sampler_stats(s, &st);
    sampler_free(s);

    assert_true(st.read_errors > 0);
    assert_int_equal(st.last_error, -EIO);
    assert_true(st.dropped >= st.read_errors);
    /* Every slot is a sample or a drop; the slack is the thread's start and its last wake-up,
       late under qemu-user on a loaded machine (seen: more than 100 ms). */
    assert_true((double)(st.samples + st.dropped) > 2000 * (elapsed - 0.3));
    assert_true((double)(st.samples + st.dropped) <= 2000 * elapsed + 1);
    bool gap;
    size_t n = ring_pop(ring, dv, di, 10, 0, &gap);
    assert_true(n > 0);
    double v_expected = (chip_mcp3208_code(&chip, 2.15) * 3.3 / 4096 - 1.65) * 100;
    assert_true(fabs(dv[0] - v_expected) < 1e-3);
    ring_free(ring);
    adc_close(adc);
}

static void test_sampler_loop_does_not_allocate(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("sim:rate=6400", &adc, err, sizeof(err)), 0);
    struct sample_ring *ring = new_ring(6400);
    struct sampler *s = start(adc, ring);
    sleep_ms(50);
    uint64_t before = alloc_count();
    sleep_ms(200);
    uint64_t after = alloc_count();
    struct sampler_stats st;
    sampler_stats(s, &st);
    sampler_free(s);
    assert_true(st.samples > 1000);
    assert_int_equal(after, before);
    ring_free(ring);
    adc_close(adc);
}

static void test_sampler_stops_promptly(void **state)
{
    (void)state;
    struct fake_adc f;
    fake_init(&f, 100, 0, 0);
    struct sample_ring *ring = new_ring(100);
    struct sampler *s = start(&f.base, ring);
    sleep_ms(30);
    double t0 = now_s();
    sampler_stop(s);
    assert_true(now_s() - t0 < 0.1);
    sampler_stop(s);
    sampler_free(s);
    sampler_stop(NULL);
    sampler_free(NULL);
    ring_free(ring);
}

static float frames[6][8192];

static void test_sampler_pushes_every_channel_of_a_three_phase_sim(void **state)
{
    (void)state;
    struct adc *adc = NULL;
    assert_int_equal(adc_open("sim:rate=6400,wiring=3p4w,va=200,vb=210,vc=220,ia=1,ib=2,ic=3", &adc,
                              err, sizeof(err)),
                     0);
    /* Per-channel calibration reaches the samples. */
    assert_int_equal(adc_set_channel_calibration(adc, ADC_CH_IC, 2.0, 0.0), 0);
    struct sample_ring *two = new_ring(6400), *six = NULL;
    struct sampler *s = NULL;
    assert_int_equal(sampler_start(adc, two, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "the ADC delivers 6 channels, the ring holds 2"));
    ring_free(two);
    assert_int_equal(ring_new_channels(64000, 6400, 6, &six), 0);
    s = start(adc, six);
    sleep_ms(300);
    sampler_free(s);
    float *const out[6] = {frames[0], frames[1], frames[2], frames[3], frames[4], frames[5]};
    bool gap;
    size_t n = ring_pop_frames(six, out, 8192, 0, &gap);
    assert_true(n > 1280);
    n = n / 128 * 128; /* whole periods */
    static const double want[6] = {200, 210, 220, 1, 2, 6};
    for (int c = 0; c < 6; c++) {
        double sq = 0;
        for (size_t k = 0; k < n; k++)
            sq += (double)frames[c][k] * frames[c][k];
        if (fabs(sqrt(sq / (double)n) - want[c]) > want[c] * 0.002)
            fail_msg("channel %d: rms %g, want %g", c, sqrt(sq / (double)n), want[c]);
    }
    ring_free(six);
    adc_close(adc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler_reads_the_sim_in_blocks_at_its_rate),
        cmocka_unit_test(test_sampler_delivers_calibrated_sim_samples),
        cmocka_unit_test(test_sampler_pushes_every_channel_of_a_three_phase_sim),
        cmocka_unit_test(test_sampler_counts_overruns_of_a_slow_converter_as_gaps),
        cmocka_unit_test(test_sampler_counts_failed_reads_and_marks_them),
        cmocka_unit_test(test_sampler_gives_up_after_a_second_of_failures),
        cmocka_unit_test(test_sampler_drives_the_mcp3208_and_counts_bus_errors),
        cmocka_unit_test(test_sampler_loop_does_not_allocate),
        cmocka_unit_test(test_sampler_stops_promptly),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
