/* The password threads: results, the bounded queue, and every job answered once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "pwpool.h"

struct job {
    struct pwpool_job base; /* first: done() gets it back */
    pthread_mutex_t *mu;
    pthread_cond_t *cond;
    bool *gate_open; /* NULL: no waiting */
    bool started, finished;
    int calls;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void job_done(struct pwpool_job *pj)
{
    struct job *j = (struct job *)pj;
    pthread_mutex_lock(&mu);
    j->started = true;
    pthread_cond_broadcast(&cond);
    while (j->gate_open && !*j->gate_open)
        pthread_cond_wait(&cond, &mu);
    j->calls++;
    j->finished = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static void wait_flag(const bool *flag)
{
    pthread_mutex_lock(&mu);
    while (!*flag)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);
}

static int setup(void **state)
{
    (void)state;
    return auth_init() ? -1 : 0;
}

static void test_jobs_verify_and_hash_off_the_callers_thread(void **state)
{
    (void)state;
    char hash[PASSWORD_HASH_MAX + 1];
    assert_int_equal(auth_password_hash("old-password", hash), 0);
    struct pwpool *p = NULL;
    assert_int_equal(pwpool_new(2, 8, &p), 0);
    struct job right = {.base = {.verify = true,
                                 .verify_hash = hash,
                                 .password = "old-password",
                                 .hash_password = "new-password",
                                 .done = job_done}};
    struct job wrong = {.base = {.verify = true,
                                 .verify_hash = hash,
                                 .password = "guess",
                                 .hash_password = "new-password",
                                 .done = job_done}};
    struct job unknown = {.base = {.verify = true, .password = "x", .done = job_done}};
    struct job create = {.base = {.hash_password = "fresh-password", .done = job_done}};
    assert_int_equal(pwpool_submit(p, &right.base), 0);
    assert_int_equal(pwpool_submit(p, &wrong.base), 0);
    assert_int_equal(pwpool_submit(p, &unknown.base), 0);
    assert_int_equal(pwpool_submit(p, &create.base), 0);
    wait_flag(&right.finished);
    wait_flag(&wrong.finished);
    wait_flag(&unknown.finished);
    wait_flag(&create.finished);
    assert_true(right.base.verified);
    assert_int_equal(right.base.hash_result, 0);
    assert_true(auth_password_verify(right.base.new_hash, "new-password"));
    /* A failed check hashes nothing. */
    assert_false(wrong.base.verified);
    assert_int_equal(wrong.base.hash_result, -EPERM);
    assert_false(unknown.base.verified);
    assert_int_equal(create.base.hash_result, 0);
    assert_true(auth_password_verify(create.base.new_hash, "fresh-password"));
    assert_int_equal(pwpool_pending(p), 0);
    pwpool_free(p);
}

static void test_a_full_queue_refuses_at_once(void **state)
{
    (void)state;
    struct pwpool *p = NULL;
    bool open = false;
    assert_int_equal(pwpool_new(1, 2, &p), 0);
    struct job busy = {.base = {.hash_password = "a", .done = job_done}, .gate_open = &open};
    struct job q1 = {.base = {.hash_password = "b", .done = job_done}};
    struct job q2 = {.base = {.hash_password = "c", .done = job_done}};
    struct job extra = {.base = {.hash_password = "d", .done = job_done}};
    assert_int_equal(pwpool_submit(p, &busy.base), 0);
    wait_flag(&busy.started); /* the only thread holds it */
    assert_int_equal(pwpool_submit(p, &q1.base), 0);
    assert_int_equal(pwpool_submit(p, &q2.base), 0);
    assert_int_equal(pwpool_pending(p), 3);
    assert_int_equal(pwpool_submit(p, &extra.base), -EAGAIN);
    pthread_mutex_lock(&mu);
    open = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
    wait_flag(&q2.finished);
    assert_int_equal(pwpool_submit(p, &extra.base), 0);
    pwpool_free(p);
    /* Freeing ran what was queued: every job answered exactly once. */
    assert_int_equal(busy.calls + q1.calls + q2.calls + extra.calls, 4);
    assert_int_equal(extra.calls, 1);
}

static void test_freeing_runs_what_is_queued(void **state)
{
    (void)state;
    struct pwpool *p = NULL;
    struct job jobs[5];
    assert_int_equal(pwpool_new(1, 8, &p), 0);
    for (int i = 0; i < 5; i++) {
        jobs[i] = (struct job){.base = {.verify = true, .password = "x", .done = job_done}};
        assert_int_equal(pwpool_submit(p, &jobs[i].base), 0);
    }
    pwpool_free(p);
    for (int i = 0; i < 5; i++)
        assert_int_equal(jobs[i].calls, 1);
    assert_int_equal(pwpool_new(0, 8, &p), -EINVAL);
    assert_int_equal(pwpool_new(1, 0, &p), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_verify_and_hash_off_the_callers_thread),
        cmocka_unit_test(test_a_full_queue_refuses_at_once),
        cmocka_unit_test(test_freeing_runs_what_is_queued),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
