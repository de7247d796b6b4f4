/*
 * The live alarm stream's hub: each stream gets the alarms of the devices it
 * may see as server-sent events, keep-alives when quiet, a bound on streams
 * and on a stream's backlog, and an end for every stream at shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"

static int wakes;
static void count_wake(void *ctx)
{
    (void)ctx;
    wakes++;
}

static struct alarm_rec alarm_of(const char *device, int64_t id)
{
    struct alarm_rec a = {.id = id, .state = ALARM_RAISED, .raised_ms = 1000};
    snprintf(a.device_id, sizeof(a.device_id), "%s", device);
    strcpy(a.kind, "voltage.over");
    strcpy(a.severity, "major");
    return a;
}

/* Everything the stream holds now, as text. */
static const char *drain(struct alarm_stream *s)
{
    static char text[1 << 17];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(text) - 1 && (k = alarm_stream_read(s, text + n, 7)) > 0)
        n += (size_t)k; /* small reads: a frame split across reads comes whole */
    text[n] = '\0';
    return text;
}

static void test_streams_see_only_their_devices(void **state)
{
    (void)state;
    struct alarm_hub *h;
    struct alarm_stream *staff, *user;
    const char *mine[] = {"m-2", "m-1"};
    assert_int_equal(alarm_hub_new(4, 15000, &h), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &staff), 0);
    assert_int_equal(alarm_hub_subscribe(h, false, mine, 2, 0, &user), 0);
    wakes = 0;
    alarm_stream_set_waker(user, count_wake, NULL);
    assert_non_null(strstr(drain(user), "retry: 5000"));
    struct alarm_rec a = alarm_of("m-1", 7), b = alarm_of("other", 8);
    alarm_hub_publish(h, &a);
    alarm_hub_publish(h, &b);
    assert_int_equal(wakes, 1);
    const char *t = drain(user);
    assert_non_null(strstr(t, "id: 7\nevent: alarm\ndata: {\"id\":7,\"device_id\":\"m-1\""));
    assert_null(strstr(t, "other"));
    assert_int_equal(alarm_stream_read(user, (char[8]){0}, 8), 0); /* nothing now */
    t = drain(staff);
    assert_non_null(strstr(t, "\"device_id\":\"m-1\""));
    assert_non_null(strstr(t, "\"device_id\":\"other\""));
    alarm_stream_close(user);
    alarm_stream_close(staff);
    alarm_hub_free(h);
}

static void test_quiet_streams_get_keepalives(void **state)
{
    (void)state;
    struct alarm_hub *h;
    struct alarm_stream *s;
    assert_int_equal(alarm_hub_new(1, 15000, &h), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 1000, &s), 0);
    drain(s);
    alarm_hub_tick(h, 15999);
    assert_string_equal(drain(s), "");
    alarm_hub_tick(h, 16000);
    assert_string_equal(drain(s), ": keep-alive\n\n");
    alarm_stream_close(s);
    alarm_hub_free(h);
}

static void test_streams_are_bounded_and_end_at_shutdown(void **state)
{
    (void)state;
    struct alarm_hub *h;
    struct alarm_stream *s[3];
    assert_int_equal(alarm_hub_new(2, 15000, &h), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s[0]), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s[1]), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s[2]), -EBUSY);
    alarm_stream_close(s[1]);
    assert_int_equal(alarm_hub_streams(h), 1);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s[1]), 0);
    wakes = 0;
    alarm_stream_set_waker(s[0], count_wake, NULL);
    alarm_hub_shutdown(h);
    assert_int_equal(wakes, 1);
    drain(s[0]);
    assert_int_equal(alarm_stream_read(s[0], (char[8]){0}, 8), -1);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s[2]), -ESHUTDOWN);
    alarm_stream_close(s[0]);
    alarm_stream_close(s[1]);
    alarm_hub_free(h);
}

static void test_a_stream_that_is_not_read_ends(void **state)
{
    (void)state;
    struct alarm_hub *h;
    struct alarm_stream *s;
    assert_int_equal(alarm_hub_new(1, 15000, &h), 0);
    assert_int_equal(alarm_hub_subscribe(h, true, NULL, 0, 0, &s), 0);
    struct alarm_rec a = alarm_of("m-1", 1);
    for (int i = 0; i < 2000; i++)
        alarm_hub_publish(h, &a);
    size_t total = strlen(drain(s));
    assert_true(total <= ALARM_STREAM_BACKLOG_MAX);
    assert_int_equal(alarm_stream_read(s, (char[8]){0}, 8), -1);
    alarm_stream_close(s);
    alarm_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_see_only_their_devices),
        cmocka_unit_test(test_quiet_streams_get_keepalives),
        cmocka_unit_test(test_streams_are_bounded_and_end_at_shutdown),
        cmocka_unit_test(test_a_stream_that_is_not_read_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
