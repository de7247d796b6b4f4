/*
 * The load relay's persisted state (meter/relay.c): a command switches it and
 * is saved before the line moves, a copy of a command is answered without
 * acting twice, an older command never undoes a newer one, and the state
 * survives a restart (a cut-off meter stays off).
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

#include "fileutil.h"
#include "relay.h"

struct line {
    int calls;
    bool on;
    int result;
};

static int fake_switch(void *ctx, bool on)
{
    struct line *l = ctx;
    l->calls++;
    l->on = on;
    return l->result;
}

static char dir[] = "/tmp/test_relay_XXXXXX";

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_relay_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "%s/m1.relay", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

static struct command relay_cmd(const char *id, bool on, int64_t ts_ms)
{
    struct command c;
    assert_int_equal(command_init(&c, COMMAND_RELAY, id, ts_ms), 0);
    c.relay_on = on;
    return c;
}

static void test_a_new_meter_supplies_its_load(void **state)
{
    (void)state;
    struct relay_state s;
    char err[256];
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    assert_true(s.on);
    assert_int_equal(s.n_ids, 0);
}

static void test_off_survives_a_restart_and_a_copy_is_not_run_twice(void **state)
{
    (void)state;
    struct relay_state s, back;
    struct line l = {0};
    enum relay_outcome o;
    char err[256];
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    struct command off = relay_cmd("c1", false, 1000);
    assert_int_equal(relay_apply(&s, &off, fake_switch, &l, &o), 0);
    assert_int_equal(o, RELAY_SWITCHED);
    assert_int_equal(l.calls, 1);
    assert_false(l.on);

    /* "power cut": a new load reads the file */
    assert_int_equal(relay_load(dir, "m1", &back, err, sizeof(err)), 0);
    assert_false(back.on);
    assert_int_equal(back.last_ts_ms, 1000);
    assert_int_equal(back.n_ids, 1);
    assert_string_equal(back.ids[0], "c1");

    /* the server resends c1 (fresh ts): answered, not run */
    struct command again = relay_cmd("c1", false, 5000);
    assert_int_equal(relay_apply(&back, &again, fake_switch, &l, &o), 0);
    assert_int_equal(o, RELAY_REPEATED);
    assert_int_equal(l.calls, 1);

    /* an older "on" sent before the "off" never undoes it */
    struct command old = relay_cmd("c0", true, 999);
    assert_int_equal(relay_apply(&back, &old, fake_switch, &l, &o), 0);
    assert_int_equal(o, RELAY_SUPERSEDED);
    assert_false(back.on);
    assert_int_equal(l.calls, 1);

    /* a newer "on" restores the load */
    struct command on = relay_cmd("c2", true, 2000);
    assert_int_equal(relay_apply(&back, &on, fake_switch, &l, &o), 0);
    assert_int_equal(o, RELAY_SWITCHED);
    assert_true(l.on);
    struct command on2 = relay_cmd("c3", true, 3000);
    assert_int_equal(relay_apply(&back, &on2, fake_switch, &l, &o), 0);
    assert_int_equal(o, RELAY_UNCHANGED);
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    assert_true(s.on);
    assert_string_equal(s.ids[0], "c3");
    assert_string_equal(s.ids[2], "c1");
}

static void test_only_the_newest_ids_are_kept(void **state)
{
    (void)state;
    struct relay_state s;
    enum relay_outcome o;
    char err[256], id[16];
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    for (int k = 0; k < RELAY_IDS_MAX + 5; k++) {
        snprintf(id, sizeof(id), "n%d", k);
        struct command c = relay_cmd(id, k & 1, 10000 + k);
        assert_int_equal(relay_apply(&s, &c, NULL, NULL, &o), 0);
    }
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    assert_int_equal(s.n_ids, RELAY_IDS_MAX);
    snprintf(id, sizeof(id), "n%d", RELAY_IDS_MAX + 4);
    assert_string_equal(s.ids[0], id);
}

static void test_a_damaged_file_is_refused_with_its_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"", "line 1"},
        {"maybe\n0\n", "line 1"},
        {"off\n", "line 2"},
        {"off\nsoon\n", "line 2"},
        {"off\n12\nbad id\n", "line 3"},
        {"off\n12\na\n\n", "line 4"},
    };
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/m1.relay", dir);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct relay_state s;
        assert_int_equal(file_write_atomic(path, cases[k].text, strlen(cases[k].text), 0600), 0);
        err[0] = '\0';
        if (relay_load(dir, "m1", &s, err, sizeof(err)) != -EINVAL || !strstr(err, cases[k].want))
            fail_msg("case %zu: '%s'", k, err);
    }
}

static void test_a_failed_save_changes_nothing(void **state)
{
    (void)state;
    struct relay_state s;
    struct line l = {0};
    enum relay_outcome o;
    char err[256];
    assert_int_equal(relay_load(dir, "m1", &s, err, sizeof(err)), 0);
    snprintf(s.path, sizeof(s.path), "%s/missing/m1.relay", dir);
    struct command off = relay_cmd("x1", false, 1);
    assert_int_equal(relay_apply(&s, &off, fake_switch, &l, &o), -ENOENT);
    assert_true(s.on);
    assert_int_equal(s.n_ids, 0);
    assert_int_equal(l.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_new_meter_supplies_its_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_survives_a_restart_and_a_copy_is_not_run_twice,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_the_newest_ids_are_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_damaged_file_is_refused_with_its_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_save_changes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
