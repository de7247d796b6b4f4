/* Persisted counters: seq never reused, damaged or foreign files refused, energy integration. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileutil.h"
#include "state.h"

static char dir[256];
static char path[512];
static char err[METER_STATE_ERR_LEN];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_meter_state.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/meterd-m1.state", dir);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char p[600];
    unlink(path);
    snprintf(p, sizeof(p), "%s/meterd-m1.state.tmp", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/sub/deeper/meterd-m1.state", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/sub/deeper", dir);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/sub", dir);
    rmdir(p);
    return rmdir(dir);
}

static void write_text(const char *text)
{
    assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), 0);
}

/* The state file's text; the caller frees it. */
static char *read_text(void)
{
    char *text = NULL;
    int r = file_read_all(path, 4096, &text, NULL);
    if (r || !text)
        fail_msg("cannot read %s: %d", path, r);
    return text;
}

static void test_state_round_trips_every_field(void **state)
{
    (void)state;
    struct meter_state s, back;
    meter_state_init(&s, "m1");
    s.seq = 123456789012ULL;
    s.boot = 7;
    s.energy_import_mwh = 987654321;
    s.energy_export_mwh = 42;
    assert_int_equal(meter_state_save(path, &s), 0);
    memset(&back, 0xff, sizeof(back));
    assert_int_equal(meter_state_load(path, "m1", &back, err, sizeof(err)), 0);
    assert_string_equal(back.device_id, "m1");
    assert_true(back.seq == 123456789012ULL);
    assert_int_equal(back.boot, 7);
    assert_int_equal(back.energy_import_mwh, 987654321);
    assert_int_equal(back.energy_export_mwh, 42);
}

static void test_state_file_has_documented_format(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    s.seq = 5;
    s.boot = 2;
    s.energy_import_mwh = 1500;
    assert_int_equal(meter_state_save(path, &s), 0);
    char *text = read_text();
    const char *body = "smartmeter-meterd-state 1\n"
                       "device_id m1\n"
                       "seq 5\n"
                       "boot 2\n"
                       "energy_import_mwh 1500\n"
                       "energy_export_mwh 0\n";
    char want[256];
    snprintf(want, sizeof(want), "%scrc32 %08x\n", body, crc32_ieee(body, strlen(body)));
    assert_string_equal(text, want);
    free(text);
}

static void test_state_missing_file_starts_fresh_at_seq_zero(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh = false;
    char p[512];
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(meter_state_load(path, "m1", &s, err, sizeof(err)), -ENOENT);
    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)), 0);
    assert_true(fresh);
    assert_string_equal(p, path);
    assert_true(s.seq == 0);
    assert_int_equal(s.boot, 1);
    assert_int_equal(stat(path, &st), 0); /* persisted at once */
}

static void test_state_seq_continues_and_boot_increments_after_reload(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh;
    char p[512];
    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)), 0);
    assert_true(meter_state_next_seq(&s) == 1);
    assert_true(meter_state_next_seq(&s) == 2);
    assert_true(meter_state_next_seq(&s) == 3);
    assert_int_equal(meter_state_save(p, &s), 0);

    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)), 0);
    assert_false(fresh);
    assert_int_equal(s.boot, 2);
    assert_true(meter_state_next_seq(&s) == 4);
    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)), 0);
    assert_int_equal(s.boot, 3);
    assert_true(s.seq == 3); /* seq 4 was handed out but never saved, so never published */
}

static void test_state_creates_missing_directories(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh;
    char sub[400], p[512];
    snprintf(sub, sizeof(sub), "%s/sub/deeper", dir);
    assert_int_equal(meter_state_open(sub, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)), 0);
    assert_true(fresh);
    assert_non_null(strstr(p, "/sub/deeper/meterd-m1.state"));
}

static void test_state_refuses_checksum_mismatch(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh = false;
    char p[512];
    meter_state_init(&s, "m1");
    s.seq = 1000;
    assert_int_equal(meter_state_save(path, &s), 0);
    char *text = read_text();
    size_t at = (size_t)(strstr(text, "seq 1000") - text);
    assert_true(at < strlen(text));
    text[at + 4] = '2'; /* a flipped digit: seq 2000 with the old checksum */
    write_text(text);
    free(text);

    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, path));
    /* Refusing must not overwrite the evidence. */
    text = read_text();
    assert_non_null(strstr(text, "seq 2000"));
    free(text);
}

static void test_state_refuses_truncated_or_garbled_file(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "smartmeter-meterd-state 1\ndevice_id m1\nseq 5\n",
        "smartmeter-meterd-state 2\ndevice_id m1\nseq 5\nboot 1\nenergy_import_mwh 0\n"
        "energy_export_mwh 0\ncrc32 00000000\n",
        "smartmeter-meterd-state 1\ndevice_id m1\nseq -5\nboot 1\nenergy_import_mwh 0\n"
        "energy_export_mwh 0\ncrc32 00000000\n",
        "garbage",
    };
    struct meter_state s;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        write_text(bad[k]);
        err[0] = '\0';
        assert_int_equal(meter_state_load(path, "m1", &s, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "state file"));
    }
}

static void test_state_refuses_trailing_text_after_checksum(void **state)
{
    (void)state;
    struct meter_state s;
    char buf[512];
    meter_state_init(&s, "m1");
    int n = meter_state_format(&s, buf, sizeof(buf));
    assert_true(n > 0);
    snprintf(buf + n, sizeof(buf) - (size_t)n, "seq 99\n");
    write_text(buf);
    assert_int_equal(meter_state_load(path, "m1", &s, err, sizeof(err)), -EBADMSG);
}

static void test_state_refuses_another_devices_file(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh;
    char p[512];
    meter_state_init(&s, "m2");
    s.seq = 77;
    assert_int_equal(meter_state_save(path, &s), 0); /* m2's counters under m1's name */
    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)),
                     -EXDEV);
    assert_non_null(strstr(err, "belongs to device 'm2', not 'm1'"));
}

static void test_energy_counts_import_and_export_separately(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    assert_int_equal(meter_state_add_energy(&s, 2.5), 0);   /* 2500 mWh in */
    assert_int_equal(meter_state_add_energy(&s, -0.75), 0); /* 750 mWh out */
    assert_int_equal(s.energy_import_mwh, 2500);
    assert_int_equal(s.energy_export_mwh, 750);
    assert_int_equal(meter_state_add_energy(&s, NAN), -EINVAL);
    assert_int_equal(s.energy_import_mwh, 2500);
}

static void test_energy_keeps_sub_mwh_remainder(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    /* 0.4 mWh a time: truncating each step would never count anything. */
    for (int k = 0; k < 1000; k++)
        meter_state_add_energy(&s, 0.0004);
    assert_true(s.energy_import_mwh >= 399 && s.energy_import_mwh <= 400);
    assert_true(s.import_rem_mwh >= 0 && s.import_rem_mwh < 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_state_round_trips_every_field),
        T(test_state_file_has_documented_format),
        T(test_state_missing_file_starts_fresh_at_seq_zero),
        T(test_state_seq_continues_and_boot_increments_after_reload),
        T(test_state_creates_missing_directories),
        T(test_state_refuses_checksum_mismatch),
        T(test_state_refuses_truncated_or_garbled_file),
        T(test_state_refuses_trailing_text_after_checksum),
        T(test_state_refuses_another_devices_file),
        cmocka_unit_test(test_energy_counts_import_and_export_separately),
        cmocka_unit_test(test_energy_keeps_sub_mwh_remainder),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
