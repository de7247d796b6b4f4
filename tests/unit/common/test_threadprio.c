/* threadprio: a thread lowers its own priority, and only its own. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "threadprio.h"

static int nice_of_this_thread(void)
{
    errno = 0;
    int v = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    assert_int_equal(errno, 0);
    return v;
}

static void *lower(void *arg)
{
    int *seen = arg;
    seen[0] = thread_set_nice(7);
    seen[1] = nice_of_this_thread();
    return NULL;
}

static void test_a_thread_lowers_its_own_priority_only(void **state)
{
    (void)state;
    int before = nice_of_this_thread();
    int seen[2] = {-1, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lower, seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], before > 7 ? before : 7);
    assert_int_equal(nice_of_this_thread(), before);
}

static void test_zero_and_bad_values(void **state)
{
    (void)state;
    int before = nice_of_this_thread();
    assert_int_equal(thread_set_nice(0), 0);
    assert_int_equal(nice_of_this_thread(), before);
    assert_int_equal(thread_set_nice(-1), -EINVAL);
    assert_int_equal(thread_set_nice(20), -EINVAL);
    assert_int_equal(nice_of_this_thread(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_thread_lowers_its_own_priority_only),
        cmocka_unit_test(test_zero_and_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
