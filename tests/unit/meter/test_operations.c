/*
 * Remote operations as meterd runs them: each acts once per command id and a
 * resend is answered the same without acting; the reply carries the result
 * the server reads back; the publish interval kept in the state directory
 * across a restart, a damaged file refused; what sync_clock does with the
 * clock (fake clock calls): report only by default, slew small offsets, step
 * large ones, report when it has no privilege.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "clocksync.h"
#include "commands.h"
#include "interval.h"
#include "timeutil.h"

#define NOW_MS INT64_C(1795459553355)

struct fake {
    int sent, status_calls, interval_calls;
    char payload[8][4096];
};

static int fake_send(void *ctx, enum topic_leaf leaf, const void *payload, size_t len)
{
    struct fake *f = ctx;
    assert_int_equal(leaf, TOPIC_REPLY);
    assert_true(f->sent < 8 && len < sizeof(f->payload[0]));
    memcpy(f->payload[f->sent], payload, len);
    f->payload[f->sent][len] = '\0';
    f->sent++;
    return 0;
}

static int fake_status(void *ctx, int64_t now_ms, struct command_status *ret)
{
    struct fake *f = ctx;
    f->status_calls++;
    *ret = (struct command_status){.uptime_s = 42 + f->status_calls,
                                   .version = "1.2.3",
                                   .adc = "sim",
                                   .adc_ok = true,
                                   .overruns = 7,
                                   .spool_depth = 3,
                                   .rate_hz = 4000,
                                   .interval_s = 1,
                                   .relay = 1,
                                   .link = "mqtt",
                                   .link_up = true};
    (void)now_ms;
    return 0;
}

static int fake_interval(void *ctx, const struct command *c, struct command_interval_result *ret,
                         char *why, size_t whylen)
{
    struct fake *f = ctx;
    f->interval_calls++;
    if (c->interval_ms == 777) {
        snprintf(why, whylen, "disk full");
        return -ENOSPC;
    }
    *ret = (struct command_interval_result){c->interval_ms, 1000, true};
    return 0;
}

static struct command cmd(const char *json)
{
    struct command c;
    assert_int_equal(command_parse(json, strlen(json), NOW_MS, &c), 0);
    return c;
}

/* The server's reading of reply k. */
static struct command_reply server_reads(const struct fake *f, int k)
{
    struct command_reply r;
    char err[COMMAND_ERR_LEN];
    assert_int_equal(command_reply_parse(f->payload[k], strlen(f->payload[k]), &r, err), 0);
    return r;
}

static void test_read_status_runs_once_per_id_and_answers_its_result(void **state)
{
    (void)state;
    struct fake f = {0};
    struct command_memory *mem;
    assert_int_equal(command_memory_new(&mem), 0);
    struct command_env env = {.send = fake_send, .status = fake_status, .memory = mem, .ctx = &f};
    /* issued 1.5 s "before" the meter's clock: the meter is 1.5 s ahead */
    struct command c = cmd("{\"id\":\"s1\",\"cmd\":\"read_status\",\"ts\":1795459551855}");
    assert_int_equal(command_run(&c, &env, NOW_MS, NULL, 0), 0);
    struct command_reply r = server_reads(&f, 0);
    assert_true(r.ok && r.has_result);
    json_t *res = json_loads(r.result, 0, NULL);
    assert_non_null(res);
    assert_int_equal(json_integer_value(json_object_get(res, "uptime_s")), 43);
    assert_int_equal(json_integer_value(json_object_get(res, "clock_offset_ms")), -1500);
    assert_int_equal(json_integer_value(json_object_get(res, "overruns")), 7);
    assert_int_equal(json_integer_value(json_object_get(res, "spool_depth")), 3);
    assert_string_equal(json_string_value(json_object_get(res, "relay")), "on");
    assert_string_equal(json_string_value(json_object_get(res, "version")), "1.2.3");
    json_t *adc = json_object_get(res, "adc");
    assert_true(json_is_true(json_object_get(adc, "ok")));
    assert_string_equal(json_string_value(json_object_get(adc, "driver")), "sim");
    json_t *link = json_object_get(res, "link");
    assert_string_equal(json_string_value(json_object_get(link, "kind")), "mqtt");
    assert_true(json_is_true(json_object_get(link, "connected")));
    json_decref(res);

    /* the server's resend (same id, fresh ts): the same answer, nothing read again */
    c = cmd("{\"id\":\"s1\",\"cmd\":\"read_status\",\"ts\":1795459553000}");
    assert_int_equal(command_run(&c, &env, NOW_MS + 10000, NULL, 0), 0);
    assert_int_equal(f.status_calls, 1);
    assert_int_equal(f.sent, 2);
    assert_string_equal(server_reads(&f, 1).result, r.result);
    /* a new id acts */
    c = cmd("{\"id\":\"s2\",\"cmd\":\"read_status\",\"ts\":1795459553000}");
    assert_int_equal(command_run(&c, &env, NOW_MS, NULL, 0), 0);
    assert_int_equal(f.status_calls, 2);
    command_memory_free(mem);
}

static void test_an_operation_that_fails_or_is_missing_says_why(void **state)
{
    (void)state;
    struct fake f = {0};
    struct command_memory *mem;
    assert_int_equal(command_memory_new(&mem), 0);
    struct command_env env = {
        .send = fake_send, .set_interval = fake_interval, .memory = mem, .ctx = &f};
    struct command c =
        cmd("{\"id\":\"i1\",\"cmd\":\"set_interval\",\"interval_s\":0.777,\"ts\":1795459553355}");
    char why[COMMAND_MESSAGE_MAX];
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENOSPC);
    assert_string_equal(why, "disk full");
    struct command_reply r = server_reads(&f, 0);
    assert_false(r.ok);
    assert_string_equal(r.message, "disk full");
    /* the failure is remembered too: a resend is not tried again */
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENOSPC);
    assert_int_equal(f.interval_calls, 1);
    /* no sync_clock handler: refused, no result */
    c = cmd("{\"id\":\"k1\",\"cmd\":\"sync_clock\",\"server_ms\":1795459553355,"
            "\"ts\":1795459553355}");
    assert_int_equal(command_run(&c, &env, NOW_MS, why, sizeof(why)), -ENOTSUP);
    r = server_reads(&f, 2);
    assert_false(r.ok || r.has_result);
    assert_non_null(strstr(r.message, "cannot sync_clock"));
    command_memory_free(mem);
}

static void test_the_handler_lets_resends_of_operations_through(void **state)
{
    (void)state;
    struct command_queue *q;
    struct command out;
    assert_int_equal(command_queue_new(4, &q), 0);
    char p[160];
    int64_t now = time_now_ms();
    int n = snprintf(p, sizeof(p), "{\"id\":\"r1\",\"cmd\":\"read_status\",\"ts\":%lld}",
                     (long long)now);
    command_queue_handler(p, (size_t)n, q);
    command_queue_handler(p, (size_t)n, q);
    /* both reach the main loop, whose memory answers the second without acting */
    assert_true(command_queue_pop(q, &out));
    assert_true(command_queue_pop(q, &out));
    assert_int_equal(out.kind, COMMAND_READ_STATUS);
    uint64_t bad, replayed;
    command_queue_refused(q, &bad, &replayed);
    assert_int_equal(replayed, 0);
    command_queue_free(q);
}

static char dir[] = "/tmp/test_operations_XXXXXX";

static void test_the_interval_is_kept_across_a_restart(void **state)
{
    (void)state;
    char err[512];
    strcpy(dir, "/tmp/test_operations_XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct interval_state s;
    assert_int_equal(interval_load(dir, "m1", &s, err, sizeof(err)), 0);
    assert_false(s.present); /* no file: the configured interval holds */

    struct command c =
        cmd("{\"id\":\"i1\",\"cmd\":\"set_interval\",\"interval_s\":2.5,\"ts\":1795459553355}");
    enum interval_outcome o;
    assert_int_equal(interval_apply(&s, &c, &o), 0);
    assert_int_equal(o, INTERVAL_APPLIED);
    assert_int_equal(interval_apply(&s, &c, &o), 0);
    assert_int_equal(o, INTERVAL_REPEATED);

    /* "restart": loaded from the file, the same interval, and the id still known */
    struct interval_state again;
    assert_int_equal(interval_load(dir, "m1", &again, err, sizeof(err)), 0);
    assert_true(again.present);
    assert_int_equal(again.interval_ms, 2500);
    assert_int_equal(interval_apply(&again, &c, &o), 0);
    assert_int_equal(o, INTERVAL_REPEATED);

    /* a damaged file is refused with its line */
    char path[600];
    snprintf(path, sizeof(path), "%s/m1.interval", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("50\n", fp); /* under the minimum */
    fclose(fp);
    assert_int_equal(interval_load(dir, "m1", &again, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "line 1"));
    unlink(path);
    rmdir(dir);
}

static int slews, steps, clock_err;
static int64_t last_delta;
static int fake_slew(int64_t d)
{
    slews++;
    last_delta = d;
    return clock_err;
}
static int fake_step(int64_t d)
{
    steps++;
    last_delta = d;
    return clock_err;
}
static const struct clocksync_ops fake_clock = {fake_slew, fake_step};

static void test_sync_clock_reports_slews_or_steps(void **state)
{
    (void)state;
    struct command_clock_result res;
    char why[160];
    /* the server is 300 ms ahead of the meter */
    struct command c = {.kind = COMMAND_SYNC_CLOCK, .server_ms = NOW_MS + 300};
    assert_int_equal(clocksync_apply(&fake_clock, false, &c, NOW_MS, &res, why, sizeof(why)), 0);
    assert_int_equal(res.offset_ms, 300);
    assert_string_equal(res.action, "reported");
    assert_int_equal(slews + steps, 0);
    assert_int_equal(clocksync_apply(&fake_clock, true, &c, NOW_MS, &res, why, sizeof(why)), 0);
    assert_string_equal(res.action, "slewed");
    assert_int_equal(slews, 1);
    assert_int_equal(last_delta, 300);
    c.server_ms = NOW_MS - 4000; /* the meter is 4 s ahead */
    assert_int_equal(clocksync_apply(&fake_clock, true, &c, NOW_MS, &res, why, sizeof(why)), 0);
    assert_string_equal(res.action, "stepped");
    assert_int_equal(steps, 1);
    assert_int_equal(last_delta, -4000);
    c.server_ms = NOW_MS + 20; /* noise */
    assert_int_equal(clocksync_apply(&fake_clock, true, &c, NOW_MS, &res, why, sizeof(why)), 0);
    assert_string_equal(res.action, "reported");
    assert_int_equal(slews + steps, 2);
    clock_err = -EPERM; /* no CAP_SYS_TIME: reported, with a note */
    c.server_ms = NOW_MS + 4000;
    assert_int_equal(clocksync_apply(&fake_clock, true, &c, NOW_MS, &res, why, sizeof(why)), 0);
    assert_string_equal(res.action, "reported");
    assert_non_null(strstr(res.note, "CAP_SYS_TIME"));
    clock_err = -EINVAL;
    assert_int_equal(clocksync_apply(&fake_clock, true, &c, NOW_MS, &res, why, sizeof(why)),
                     -EINVAL);
    assert_non_null(strstr(why, "step"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_status_runs_once_per_id_and_answers_its_result),
        cmocka_unit_test(test_an_operation_that_fails_or_is_missing_says_why),
        cmocka_unit_test(test_the_handler_lets_resends_of_operations_through),
        cmocka_unit_test(test_the_interval_is_kept_across_a_restart),
        cmocka_unit_test(test_sync_clock_reports_slews_or_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
