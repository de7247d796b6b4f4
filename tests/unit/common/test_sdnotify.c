/*
 * sdnotify and watchdog against a real receiving socket, as the service
 * manager holds one: a path socket and an abstract one, and the pinger's
 * WATCHDOG=1 datagrams counted over time while its checks move or stall.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "sdnotify.h"
#include "timeutil.h"
#include "tmpdir.h"
#include "watchdog.h"

/* A datagram socket bound where $NOTIFY_SOCKET points, as the manager's. */
struct receiver {
    int fd;
    char dir[TMPDIR_PATH_MAX];
};

static void receiver_open_path(struct receiver *rc)
{
    assert_int_equal(tmpdir_make(rc->dir, "sdnotify"), 0);
    char path[TMPDIR_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/notify", rc->dir);
    rc->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(rc->fd >= 0);
    struct sockaddr_un sa;
    socklen_t len;
    assert_int_equal(sdnotify_address(path, &sa, &len), 0);
    assert_int_equal(bind(rc->fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
}

static void receiver_close(struct receiver *rc)
{
    unsetenv("NOTIFY_SOCKET");
    close(rc->fd);
    tmpdir_remove(rc->dir);
    rc->dir[0] = '\0';
}

/* The next datagram within timeout_ms into buf (NUL-terminated); its length, or -1 for none. */
static int receive(struct receiver *rc, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = rc->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    ssize_t n = recv(rc->fd, buf, cap - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return (int)n;
}

/* Whether a datagram from the pinger is a ping; anything else must be its STATUS= about a stall. */
static bool is_ping(const char *buf)
{
    if (strcmp(buf, "WATCHDOG=1") == 0)
        return true;
    assert_memory_equal(buf, "STATUS=watchdog: ", 17);
    return false;
}

/* The pings that arrive within ms. */
static int count_pings(struct receiver *rc, int64_t ms)
{
    int n = 0;
    int64_t end = time_mono_ms() + ms;
    for (int64_t now = time_mono_ms(); now < end; now = time_mono_ms()) {
        char buf[512];
        if (receive(rc, buf, sizeof(buf), (int)(end - now)) < 0)
            break;
        n += is_ping(buf);
    }
    return n;
}

static void test_address_takes_paths_and_abstract_names(void **state)
{
    (void)state;
    struct sockaddr_un sa;
    socklen_t len = 0;
    assert_int_equal(sdnotify_address("/run/systemd/notify", &sa, &len), 0);
    assert_int_equal(sa.sun_family, AF_UNIX);
    assert_string_equal(sa.sun_path, "/run/systemd/notify");
    assert_int_equal(len,
                     offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);

    assert_int_equal(sdnotify_address("@org/notify", &sa, &len), 0);
    assert_int_equal(sa.sun_path[0], '\0');
    assert_memory_equal(sa.sun_path + 1, "org/notify", 10);
    /* Abstract: exactly the name's bytes, no terminator. */
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 11);

    assert_int_equal(sdnotify_address("", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_address("@", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_address("relative/notify", &sa, &len), -EINVAL);
    assert_int_equal(sdnotify_address("vsock:2:1234", &sa, &len), -EINVAL);
    char lng[200];
    memset(lng, 'a', sizeof(lng) - 1);
    lng[0] = '/';
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(sdnotify_address(lng, &sa, &len), -ENAMETOOLONG);
}

static void test_watchdog_applies_only_to_the_named_pid(void **state)
{
    (void)state;
    uint64_t usec = 0;
    assert_int_equal(sdnotify_parse_watchdog(NULL, NULL, 42, &usec), 0);
    assert_int_equal(sdnotify_parse_watchdog("30000000", NULL, 42, &usec), 1);
    assert_true(usec == 30000000);
    usec = 0;
    assert_int_equal(sdnotify_parse_watchdog("5000000", "42", 42, &usec), 1);
    assert_true(usec == 5000000);
    usec = 7;
    assert_int_equal(sdnotify_parse_watchdog("5000000", "43", 42, &usec), 0);
    assert_true(usec == 7); /* written only when it applies */
    assert_int_equal(sdnotify_parse_watchdog("0", NULL, 42, &usec), -EINVAL);
    assert_int_equal(sdnotify_parse_watchdog("", NULL, 42, &usec), -EINVAL);
    assert_int_equal(sdnotify_parse_watchdog("-1", NULL, 42, &usec), -EINVAL);
    assert_int_equal(sdnotify_parse_watchdog("12s", NULL, 42, &usec), -EINVAL);
    assert_int_equal(sdnotify_parse_watchdog("99999999999999999999", NULL, 42, &usec), -EINVAL);
    assert_int_equal(sdnotify_parse_watchdog("1000", "x", 42, &usec), -EINVAL);

    /* The process's own environment. */
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "2000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(sdnotify_watchdog_enabled(&usec), 1);
    assert_true(usec == 2000000);
    setenv("WATCHDOG_PID", "1", 1);
    assert_int_equal(sdnotify_watchdog_enabled(&usec), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(sdnotify_watchdog_enabled(&usec), 0);
}

static void test_nothing_is_sent_without_notify_socket(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(sdnotify_ready("up"), 0);
    assert_int_equal(sdnotify_watchdog(), 0);
    setenv("NOTIFY_SOCKET", "not-a-socket-name", 1);
    assert_int_equal(sdnotify_ready("up"), -EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

static void test_ready_status_and_stopping_reach_a_path_socket(void **state)
{
    (void)state;
    struct receiver rc;
    char buf[1024];
    receiver_open_path(&rc);
    assert_int_equal(sdnotify_ready("serving on port 8080\nsecond line"), 1);
    assert_true(receive(&rc, buf, sizeof(buf), 1000) > 0);
    /* One STATUS= line: the newline inside it would start a new assignment. */
    assert_string_equal(buf, "READY=1\nSTATUS=serving on port 8080 second line");
    assert_int_equal(sdnotify_status("42 readings"), 1);
    assert_true(receive(&rc, buf, sizeof(buf), 1000) > 0);
    assert_string_equal(buf, "STATUS=42 readings");
    assert_int_equal(sdnotify_stopping(NULL), 1);
    assert_true(receive(&rc, buf, sizeof(buf), 1000) > 0);
    assert_string_equal(buf, "STOPPING=1");
    assert_int_equal(sdnotify_watchdog(), 1);
    assert_true(receive(&rc, buf, sizeof(buf), 1000) > 0);
    assert_string_equal(buf, "WATCHDOG=1");
    receiver_close(&rc);
    /* No socket there: the send fails with the kernel's reason, not silently. */
    setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
    assert_int_equal(sdnotify_watchdog(), -ENOENT);
    unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket_receives(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "@smartmeter-test-sdnotify-%ld", (long)getpid());
    struct sockaddr_un sa;
    socklen_t len;
    assert_int_equal(sdnotify_address(name, &sa, &len), 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(sdnotify_ready(NULL), 1);
    struct receiver rc = {.fd = fd};
    char buf[256];
    assert_true(receive(&rc, buf, sizeof(buf), 1000) > 0);
    assert_string_equal(buf, "READY=1");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

static void test_long_status_is_cut_between_characters(void **state)
{
    (void)state;
    struct receiver rc;
    char buf[2048];
    receiver_open_path(&rc);
    /* "é" (2 bytes) repeated past the limit: the cut must not split one. */
    char status[1200];
    size_t n = 0;
    while (n + 2 < sizeof(status)) {
        status[n++] = (char)0xC3;
        status[n++] = (char)0xA9;
    }
    status[n] = '\0';
    assert_int_equal(sdnotify_status(status), 1);
    int got = receive(&rc, buf, sizeof(buf), 1000);
    assert_true(got > 7 && got <= SDNOTIFY_STATUS_MAX);
    assert_memory_equal(buf, "STATUS=", 7);
    assert_int_equal((got - 7) % 2, 0);
    assert_int_equal((unsigned char)buf[got - 1], 0xA9);
    receiver_close(&rc);
}

static void test_watchdog_is_off_without_an_interval(void **state)
{
    (void)state;
    struct watchdog *w = (struct watchdog *)&w; /* must be overwritten */
    assert_int_equal(watchdog_start(0, 0, &w), 0);
    assert_null(w);
    struct watchdog_beat b = {0};
    assert_int_equal(watchdog_add_beat(w, "x", &b), 0);
    assert_true(watchdog_pings(w) == 0);
    watchdog_stop(w);
    assert_int_equal(watchdog_start(1000, 0, &w), -EINVAL);
}

static void test_watchdog_pings_every_half_interval(void **state)
{
    (void)state;
    struct receiver rc;
    receiver_open_path(&rc);
    struct watchdog *w = NULL;
    assert_int_equal(watchdog_start(400 * 1000, 0, &w), 0); /* 400 ms: a ping each 200 ms */
    int n = count_pings(&rc, 1100);
    /* One at the start, then one each 200 ms: 6 in 1.1 s; a loaded machine may lose one. */
    assert_in_range(n, 4, 7);
    watchdog_stop(w);
    assert_int_equal(count_pings(&rc, 300), 0); /* stopped: no more */
    receiver_close(&rc);
}

/* Beats every 20 ms for ms while counting pings; returns the pings. */
static int beat_and_count(struct receiver *rc, struct watchdog_beat *b, int64_t ms)
{
    int n = 0;
    int64_t end = time_mono_ms() + ms;
    while (time_mono_ms() < end) {
        watchdog_beat(b);
        char buf[512];
        if (receive(rc, buf, sizeof(buf), 20) > 0)
            n += is_ping(buf);
    }
    return n;
}

static void test_watchdog_stops_pinging_while_a_beat_stalls(void **state)
{
    (void)state;
    struct receiver rc;
    receiver_open_path(&rc);
    struct watchdog *w = NULL;
    struct watchdog_beat loop = {0};
    assert_int_equal(watchdog_start(400 * 1000, 300, &w), 0);
    assert_int_equal(watchdog_add_beat(w, "the test loop", &loop), 0);
    assert_true(beat_and_count(&rc, &loop, 900) >= 3); /* moving: pinged */
    assert_true(watchdog_stalls(w) == 0);
    /* The loop hangs: within the stall time (300 ms) plus a tick (100 ms) the pings stop. */
    count_pings(&rc, 450);
    assert_int_equal(count_pings(&rc, 800), 0);
    assert_true(watchdog_stalls(w) == 1);
    uint64_t pings = watchdog_pings(w);
    /* It moves again: the pings resume. */
    assert_true(beat_and_count(&rc, &loop, 700) >= 2);
    assert_true(watchdog_pings(w) > pings);
    assert_true(watchdog_stalls(w) == 1);
    watchdog_stop(w);
    receiver_close(&rc);
}

struct fake_thread {
    bool busy;
    uint64_t progress;
};

static bool fake_probe(void *ctx, uint64_t *ret_progress)
{
    struct fake_thread *t = ctx;
    *ret_progress = __atomic_load_n(&t->progress, __ATOMIC_RELAXED);
    return __atomic_load_n(&t->busy, __ATOMIC_RELAXED);
}

static void test_watchdog_lets_an_idle_probe_stand_still(void **state)
{
    (void)state;
    struct receiver rc;
    receiver_open_path(&rc);
    struct watchdog *w = NULL;
    struct fake_thread t = {.busy = false, .progress = 5};
    assert_int_equal(watchdog_start(400 * 1000, 300, &w), 0);
    assert_int_equal(watchdog_add_probe(w, "the fake writer", fake_probe, &t), 0);
    /* Idle and standing still for three stall times: still pinged. */
    assert_true(count_pings(&rc, 1000) >= 4);
    /* Busy and still standing: stale. */
    __atomic_store_n(&t.busy, true, __ATOMIC_RELAXED);
    count_pings(&rc, 450);
    assert_int_equal(count_pings(&rc, 600), 0);
    assert_true(watchdog_stalls(w) == 1);
    /* Busy and moving: pinged again. */
    __atomic_store_n(&t.progress, 6, __ATOMIC_RELAXED);
    assert_true(count_pings(&rc, 250) >= 1);
    watchdog_stop(w);
    receiver_close(&rc);
}

static void test_watchdog_checks_are_bounded(void **state)
{
    (void)state;
    struct watchdog *w = NULL;
    struct watchdog_beat b[WATCHDOG_CHECKS_MAX + 1];
    memset(b, 0, sizeof(b));
    assert_int_equal(watchdog_start(60 * 1000000ULL, 0, &w), 0);
    assert_non_null(w);
    for (unsigned k = 0; k < WATCHDOG_CHECKS_MAX; k++)
        assert_int_equal(watchdog_add_beat(w, "beat", &b[k]), 0);
    assert_int_equal(watchdog_add_beat(w, "one too many", &b[WATCHDOG_CHECKS_MAX]), -ENOSPC);
    watchdog_stop(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_takes_paths_and_abstract_names),
        cmocka_unit_test(test_watchdog_applies_only_to_the_named_pid),
        cmocka_unit_test(test_nothing_is_sent_without_notify_socket),
        cmocka_unit_test(test_ready_status_and_stopping_reach_a_path_socket),
        cmocka_unit_test(test_abstract_socket_receives),
        cmocka_unit_test(test_long_status_is_cut_between_characters),
        cmocka_unit_test(test_watchdog_is_off_without_an_interval),
        cmocka_unit_test(test_watchdog_pings_every_half_interval),
        cmocka_unit_test(test_watchdog_stops_pinging_while_a_beat_stalls),
        cmocka_unit_test(test_watchdog_lets_an_idle_probe_stand_still),
        cmocka_unit_test(test_watchdog_checks_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
