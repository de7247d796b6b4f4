/*
 * Persisted counters: seq never reused, counters never backwards, a damaged
 * copy replaced by the other one, both damaged or foreign files refused,
 * energy integration.
 */
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

#include "tmpdir.h"

#include "fileutil.h"
#include "state.h"

static char dir[TMPDIR_PATH_MAX];
static char path[512];
static char err[METER_STATE_ERR_LEN];

static int make_dir(void **state)
{
    (void)state;
    if (tmpdir_make(dir, "test_meter_state"))
        return -1;
    snprintf(path, sizeof(path), "%s/meterd-m1.state", dir);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    return tmpdir_remove(dir);
}

/* "<path><suffix>", in a static buffer per suffix slot. */
static const char *path_with(const char *suffix)
{
    static char buf[4][600];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof(buf[0]), "%s%s", path, suffix);
    return p;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_file(const char *p, const char *text)
{
    assert_int_equal(file_write_atomic(p, text, strlen(text), 0600), 0);
}

static void write_text(const char *text)
{
    write_file(path, text);
}

/* A file's text; the caller frees it. */
static char *read_file(const char *p)
{
    char *text = NULL;
    int r = file_read_all(p, 4096, &text, NULL);
    if (r || !text)
        fail_msg("cannot read %s: %d", p, r);
    return text;
}

/* The state file's text; the caller frees it. */
static char *read_text(void)
{
    return read_file(path);
}

/* Replaces the first occurrence of from in the text of file p by to (same length). */
static void corrupt_file(const char *p, const char *from, const char *to)
{
    char *text = NULL;
    assert_int_equal(file_read_all(p, 4096, &text, NULL), 0);
    assert_non_null(text);
    char *at = strstr(text, from);
    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    write_file(p, text);
    free(text);
}

static struct meter_state state_with(uint64_t seq, uint32_t boot, int64_t imp_mwh, int64_t exp_mwh,
                                     int64_t rimp_mvarh, int64_t rexp_mvarh)
{
    struct meter_state s;
    meter_state_init(&s, "m1");
    s.seq = seq;
    s.boot = boot;
    s.energy_import_mwh = imp_mwh;
    s.energy_export_mwh = exp_mwh;
    s.reactive_import_mvarh = rimp_mvarh;
    s.reactive_export_mvarh = rexp_mvarh;
    return s;
}

/* Writes s to one file only, as a crash between the two writes of a save would leave it. */
static void save_one(const char *p, const struct meter_state *s)
{
    char buf[METER_STATE_MAX_SIZE];
    int n = meter_state_format(s, buf, sizeof(buf));
    assert_true(n > 0);
    write_file(p, buf);
}

static struct meter_state open_ok(bool *ret_fresh)
{
    struct meter_state s;
    bool fresh = true;
    char p[512];
    err[0] = 'x';
    int r = meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err));
    if (r)
        fail_msg("meter_state_open: %d: %s", r, err);
    if (ret_fresh)
        *ret_fresh = fresh;
    return s;
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
    s.reactive_import_mvarh = 123456789;
    s.reactive_export_mvarh = 7;
    assert_int_equal(meter_state_save(path, &s), 0);
    memset(&back, 0xff, sizeof(back));
    assert_int_equal(meter_state_load(path, "m1", &back, err, sizeof(err)), 0);
    assert_string_equal(back.device_id, "m1");
    assert_true(back.seq == 123456789012ULL);
    assert_int_equal(back.boot, 7);
    assert_int_equal(back.energy_import_mwh, 987654321);
    assert_int_equal(back.energy_export_mwh, 42);
    assert_int_equal(back.reactive_import_mvarh, 123456789);
    assert_int_equal(back.reactive_export_mvarh, 7);
}

static void test_state_file_has_documented_format(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    s.seq = 5;
    s.boot = 2;
    s.energy_import_mwh = 1500;
    s.reactive_export_mvarh = 250;
    assert_int_equal(meter_state_save(path, &s), 0);
    char *text = read_text();
    const char *body = "smartmeter-meterd-state 3\n"
                       "device_id m1\n"
                       "seq 5\n"
                       "boot 2\n"
                       "energy_import_mwh 1500\n"
                       "energy_export_mwh 0\n"
                       "reactive_import_mvarh 0\n"
                       "reactive_export_mvarh 250\n"
                       "energy_import_a_mwh 0\n"
                       "energy_import_b_mwh 0\n"
                       "energy_import_c_mwh 0\n"
                       "wiring 1p2w\n"
                       "demand_max_mw 0\n"
                       "demand_max_ts_ms 0\n"
                       "demand_month_ms 0\n";
    char want[512];
    snprintf(want, sizeof(want), "%scrc32 %08x\n", body, crc32_ieee(body, strlen(body)));
    assert_string_equal(text, want);
    free(text);
}

static void test_state_save_writes_an_identical_backup(void **state)
{
    (void)state;
    struct meter_state s = state_with(42, 3, 100, 200, 300, 400);
    assert_int_equal(meter_state_save(path, &s), 0);
    char *main_text = read_text();
    char *bak_text = read_file(path_with(".bak"));
    assert_string_equal(main_text, bak_text);
    free(main_text);
    free(bak_text);
    char p[600];
    assert_int_equal(meter_state_backup_path(path, p, sizeof(p)), 0);
    assert_string_equal(p, path_with(".bak"));
    assert_int_equal(meter_state_backup_path(path, p, strlen(path) + 4), -ENAMETOOLONG);
}

static void test_state_loads_version_1_files_with_zero_reactive_energy(void **state)
{
    (void)state;
    const char *body = "smartmeter-meterd-state 1\n"
                       "device_id m1\n"
                       "seq 77\n"
                       "boot 4\n"
                       "energy_import_mwh 1234\n"
                       "energy_export_mwh 56\n";
    char text[512];
    snprintf(text, sizeof(text), "%scrc32 %08x\n", body, crc32_ieee(body, strlen(body)));
    write_text(text); /* as the previous meterd left it: no backup */

    bool fresh = true;
    struct meter_state s = open_ok(&fresh);
    assert_false(fresh);
    assert_string_equal(err, ""); /* a missing backup of a version 1 file is no warning */
    assert_true(s.seq == 77);
    assert_int_equal(s.boot, 5);
    assert_int_equal(s.energy_import_mwh, 1234);
    assert_int_equal(s.energy_export_mwh, 56);
    assert_int_equal(s.reactive_import_mvarh, 0);
    assert_int_equal(s.reactive_export_mvarh, 0);
    /* Rewritten as version 3, both copies. */
    char *now = read_text();
    assert_non_null(strstr(now, "smartmeter-meterd-state 3\n"));
    assert_non_null(strstr(now, "wiring 1p2w\n"));
    assert_non_null(strstr(now, "reactive_import_mvarh 0\n"));
    free(now);
    struct meter_state back;
    assert_int_equal(meter_state_load(path_with(".bak"), "m1", &back, err, sizeof(err)), 0);
    assert_int_equal(back.boot, 5);
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

static void test_state_falls_back_to_the_backup_when_main_fails_its_checksum(void **state)
{
    (void)state;
    struct meter_state s = state_with(1000, 6, 5000, 0, 700, 0);
    assert_int_equal(meter_state_save(path, &s), 0);
    corrupt_file(path, "seq 1000", "seq 2000"); /* a flipped digit under the old checksum */

    bool fresh = true;
    s = open_ok(&fresh);
    assert_false(fresh);
    assert_true(s.seq == 1000);
    assert_int_equal(s.boot, 7);
    assert_int_equal(s.energy_import_mwh, 5000);
    assert_int_equal(s.reactive_import_mvarh, 700);
    /* A warning for the log names the damage, the backup used and where the evidence is. */
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, "using the backup"));
    assert_non_null(strstr(err, path_with(".corrupt")));
    char *evidence = read_file(path_with(".corrupt"));
    assert_non_null(strstr(evidence, "seq 2000"));
    free(evidence);
    /* Both copies are valid again, with the new boot. */
    struct meter_state back;
    assert_int_equal(meter_state_load(path, "m1", &back, err, sizeof(err)), 0);
    assert_int_equal(back.boot, 7);
    assert_int_equal(meter_state_load(path_with(".bak"), "m1", &back, err, sizeof(err)), 0);
    assert_int_equal(back.boot, 7);
}

static void test_state_refuses_when_main_and_backup_are_both_damaged(void **state)
{
    (void)state;
    struct meter_state s = state_with(1000, 6, 0, 0, 0, 0);
    bool fresh = false;
    char p[512];
    assert_int_equal(meter_state_save(path, &s), 0);
    corrupt_file(path, "seq 1000", "seq 2000");
    corrupt_file(path_with(".bak"), "boot 6", "boot 9");

    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, path_with(".bak")));
    assert_non_null(strstr(err, "refusing to start"));
    /* Refusing must not overwrite or move the evidence. */
    char *text = read_text();
    assert_non_null(strstr(text, "seq 2000"));
    free(text);
    text = read_file(path_with(".bak"));
    assert_non_null(strstr(text, "boot 9"));
    free(text);
    assert_false(exists(path_with(".corrupt")));
}

static void test_state_refuses_a_damaged_backup_when_main_is_missing(void **state)
{
    (void)state;
    struct meter_state s = state_with(50, 1, 0, 0, 0, 0);
    bool fresh = false;
    char p[512];
    save_one(path_with(".bak"), &s);
    corrupt_file(path_with(".bak"), "seq 50", "seq 90");
    assert_int_equal(meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "does not exist"));
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_false(exists(path));
}

static void test_state_uses_the_backup_when_main_is_missing(void **state)
{
    (void)state;
    struct meter_state s = state_with(321, 4, 10, 20, 30, 40);
    assert_int_equal(meter_state_save(path, &s), 0);
    assert_int_equal(unlink(path), 0);

    bool fresh = true;
    s = open_ok(&fresh);
    assert_false(fresh); /* a lost directory entry must not restart the device's history */
    assert_true(s.seq == 321);
    assert_int_equal(s.boot, 5);
    assert_int_equal(s.reactive_export_mvarh, 40);
    assert_non_null(strstr(err, "does not exist"));
    assert_true(exists(path));
    assert_false(exists(path_with(".corrupt")));
}

static void test_state_rewrites_a_damaged_backup_from_main(void **state)
{
    (void)state;
    struct meter_state s = state_with(88, 2, 1, 2, 3, 4);
    assert_int_equal(meter_state_save(path, &s), 0);
    write_file(path_with(".bak"), "garbage");

    s = open_ok(NULL);
    assert_true(s.seq == 88);
    assert_int_equal(s.boot, 3);
    assert_non_null(strstr(err, path_with(".bak")));
    assert_non_null(strstr(err, "rewritten"));
    struct meter_state back;
    assert_int_equal(meter_state_load(path_with(".bak"), "m1", &back, err, sizeof(err)), 0);
    assert_true(back.seq == 88);
    assert_int_equal(back.boot, 3);
}

static void test_state_takes_the_newer_of_two_valid_copies(void **state)
{
    (void)state;
    /* A crash between the two writes of a save: main one reading ahead of the backup. */
    struct meter_state older = state_with(10, 3, 1000, 5, 300, 7);
    struct meter_state newer = state_with(11, 3, 1128, 5, 364, 7);
    save_one(path, &newer);
    save_one(path_with(".bak"), &older);
    struct meter_state s = open_ok(NULL);
    assert_string_equal(err, "");
    assert_true(s.seq == 11);
    assert_int_equal(s.boot, 4);
    assert_int_equal(s.energy_import_mwh, 1128);
    assert_int_equal(s.reactive_import_mvarh, 364);

    /* The other way round (a backup restored by hand over the main file): still the newer. */
    older = state_with(20, 9, 2000, 10, 600, 14);
    newer = state_with(21, 9, 2128, 10, 664, 14);
    save_one(path, &older);
    save_one(path_with(".bak"), &newer);
    s = open_ok(NULL);
    assert_true(s.seq == 21);
    assert_int_equal(s.boot, 10);
    assert_int_equal(s.energy_import_mwh, 2128);
    assert_int_equal(s.reactive_import_mvarh, 664);
}

static void test_state_never_takes_any_counter_backwards_between_copies(void **state)
{
    (void)state;
    /* Copies that disagree field by field: each counter takes its larger value. */
    struct meter_state a = state_with(30, 2, 900, 50, 10, 70);
    struct meter_state b = state_with(29, 5, 800, 60, 20, 60);
    save_one(path, &a);
    save_one(path_with(".bak"), &b);
    struct meter_state s;
    int main_state = 1;
    assert_int_equal(meter_state_load_newest(path, "m1", &s, &main_state, err, sizeof(err)), 0);
    assert_int_equal(main_state, 0);
    assert_true(s.seq == 30);
    assert_int_equal(s.boot, 5);
    assert_int_equal(s.energy_import_mwh, 900);
    assert_int_equal(s.energy_export_mwh, 60);
    assert_int_equal(s.reactive_import_mvarh, 20);
    assert_int_equal(s.reactive_export_mvarh, 70);
}

static void test_state_refuses_a_main_file_it_cannot_read_without_guessing(void **state)
{
    (void)state;
    struct meter_state s = state_with(5, 1, 0, 0, 0, 0);
    bool fresh = false;
    char p[512];
    save_one(path_with(".bak"), &s);
    assert_int_equal(mkdir(path, 0700), 0); /* unreadable as a file, also for root */
    int r = meter_state_open(dir, "m1", &s, p, sizeof(p), &fresh, err, sizeof(err));
    assert_true(r < 0 && r != -EBADMSG && r != -ENOENT);
    assert_non_null(strstr(err, path));
    assert_int_equal(rmdir(path), 0);
}

static void test_state_save_fails_when_the_backup_cannot_be_written(void **state)
{
    (void)state;
    struct meter_state s = state_with(5, 1, 0, 0, 0, 0);
    assert_int_equal(mkdir(path_with(".bak"), 0700), 0);
    assert_true(meter_state_save(path, &s) < 0); /* so the reading is withheld */
}

static void test_state_refuses_truncated_or_garbled_file(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "smartmeter-meterd-state 1\ndevice_id m1\nseq 5\n",
        "smartmeter-meterd-state 4\ndevice_id m1\nseq 5\nboot 1\nenergy_import_mwh 0\n"
        "energy_export_mwh 0\nreactive_import_mvarh 0\nreactive_export_mvarh 0\ncrc32 00000000\n",
        /* version 3 without its three-phase lines */
        "smartmeter-meterd-state 3\ndevice_id m1\nseq 5\nboot 1\nenergy_import_mwh 0\n"
        "energy_export_mwh 0\nreactive_import_mvarh 0\nreactive_export_mvarh 0\ncrc32 00000000\n",
        /* version 2 without its reactive lines */
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

static void test_state_refuses_a_newer_format_naming_the_versions_it_reads(void **state)
{
    (void)state;
    struct meter_state s;
    write_text("smartmeter-meterd-state 4\n");
    assert_int_equal(meter_state_load(path, "m1", &s, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "version 1..3 expected"));
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

static void test_state_refuses_another_devices_backup(void **state)
{
    (void)state;
    struct meter_state s;
    bool fresh;
    char p[512];
    meter_state_init(&s, "m1");
    s.seq = 5;
    assert_int_equal(meter_state_save(path, &s), 0);
    meter_state_init(&s, "m2");
    save_one(path_with(".bak"), &s);
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

static void test_reactive_energy_counts_lagging_as_import_and_leading_as_export(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    assert_int_equal(meter_state_add_reactive(&s, 1.25), 0);  /* Q > 0: 1250 mvarh in */
    assert_int_equal(meter_state_add_reactive(&s, -0.5), 0);  /* Q < 0: 500 mvarh out */
    assert_int_equal(meter_state_add_reactive(&s, -0.25), 0); /* 250 more out */
    assert_int_equal(s.reactive_import_mvarh, 1250);
    assert_int_equal(s.reactive_export_mvarh, 750);
    assert_int_equal(meter_state_add_reactive(&s, NAN), -EINVAL);
    assert_int_equal(meter_state_add_reactive(&s, -INFINITY), -EINVAL);
    assert_int_equal(s.reactive_import_mvarh, 1250);
    assert_int_equal(s.reactive_export_mvarh, 750);
    /* Active energy is a separate counter. */
    assert_int_equal(s.energy_import_mwh, 0);
    assert_int_equal(s.energy_export_mwh, 0);
}

static void test_reactive_energy_keeps_sub_mvarh_remainder_and_saturates(void **state)
{
    (void)state;
    struct meter_state s;
    meter_state_init(&s, "m1");
    for (int k = 0; k < 1000; k++)
        meter_state_add_reactive(&s, -0.0004);
    assert_true(s.reactive_export_mvarh >= 399 && s.reactive_export_mvarh <= 400);
    assert_true(s.reactive_export_rem_mvarh >= 0 && s.reactive_export_rem_mvarh < 1);
    s.reactive_import_mvarh = METER_STATE_ENERGY_MAX_MWH - 10;
    assert_int_equal(meter_state_add_reactive(&s, 1e6), 0);
    assert_true(s.reactive_import_mvarh == METER_STATE_ENERGY_MAX_MWH);
    assert_int_equal(meter_state_add_reactive(&s, 1.0), 0);
    assert_true(s.reactive_import_mvarh == METER_STATE_ENERGY_MAX_MWH);
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

static void test_state_loads_version_2_files_as_single_phase_without_demand(void **state)
{
    (void)state;
    const char *body = "smartmeter-meterd-state 2\n"
                       "device_id m1\n"
                       "seq 90\n"
                       "boot 2\n"
                       "energy_import_mwh 5000\n"
                       "energy_export_mwh 7\n"
                       "reactive_import_mvarh 300\n"
                       "reactive_export_mvarh 4\n";
    char text[512];
    snprintf(text, sizeof(text), "%scrc32 %08x\n", body, crc32_ieee(body, strlen(body)));
    write_text(text);
    bool fresh = true;
    struct meter_state s = open_ok(&fresh);
    assert_true(s.seq == 90);
    assert_int_equal(s.energy_import_mwh, 5000);
    assert_int_equal(s.reactive_import_mvarh, 300);
    assert_string_equal(s.wiring, "1p2w");
    for (int ph = 0; ph < 3; ph++)
        assert_int_equal(s.energy_import_phase_mwh[ph], 0);
    assert_int_equal(s.demand_max_ts_ms, 0);
    char *now = read_text();
    assert_non_null(strstr(now, "smartmeter-meterd-state 3\n"));
    free(now);
}

static void test_state_keeps_phase_counters_wiring_and_demand(void **state)
{
    (void)state;
    struct meter_state s, back;
    meter_state_init(&s, "m1");
    snprintf(s.wiring, sizeof(s.wiring), "3p4w");
    assert_int_equal(meter_state_add_phase_import(&s, 0, 1.5), 0);
    assert_int_equal(meter_state_add_phase_import(&s, 1, 0.0004), 0);
    assert_int_equal(meter_state_add_phase_import(&s, 1, 0.0007), 0); /* carries the fraction */
    assert_int_equal(meter_state_add_phase_import(&s, 2, 2e3), 0);
    assert_int_equal(meter_state_add_phase_import(&s, 3, 1), -EINVAL);
    assert_int_equal(meter_state_add_phase_import(&s, 0, -1), -EINVAL);
    assert_int_equal(meter_state_add_phase_import(&s, 0, NAN), -EINVAL);
    s.demand_max_mw = -12345; /* an exporting site's maximum is negative */
    s.demand_max_ts_ms = INT64_C(1796605200000);
    s.demand_month_ms = INT64_C(1796083200000);
    assert_int_equal(meter_state_save(path, &s), 0);
    assert_int_equal(meter_state_load(path, "m1", &back, err, sizeof(err)), 0);
    assert_string_equal(back.wiring, "3p4w");
    assert_int_equal(back.energy_import_phase_mwh[0], 1500);
    assert_int_equal(back.energy_import_phase_mwh[1], 1);
    assert_int_equal(back.energy_import_phase_mwh[2], 2000000);
    assert_int_equal(back.demand_max_mw, -12345);
    assert_int_equal(back.demand_max_ts_ms, INT64_C(1796605200000));
    assert_int_equal(back.demand_month_ms, INT64_C(1796083200000));

    /* Of two valid copies, each phase counter and the later month's demand win. */
    struct meter_state older = s;
    older.energy_import_phase_mwh[2] = 1;
    older.demand_max_mw = 99999999;
    older.demand_month_ms = INT64_C(1793491200000); /* November */
    s.energy_import_phase_mwh[0] = 1;
    char buf[METER_STATE_MAX_SIZE];
    int n = meter_state_format(&s, buf, sizeof(buf));
    assert_true(n > 0);
    write_file(path, buf);
    n = meter_state_format(&older, buf, sizeof(buf));
    assert_true(n > 0);
    write_file(path_with(".bak"), buf);
    int main_state = -1;
    assert_int_equal(meter_state_load_newest(path, "m1", &back, &main_state, err, sizeof(err)), 0);
    assert_int_equal(back.energy_import_phase_mwh[0], 1500);
    assert_int_equal(back.energy_import_phase_mwh[2], 2000000);
    assert_int_equal(back.demand_max_mw, -12345);

    /* A bad value is refused even under a checksum that matches it. */
    static const char *const bad_lines[][2] = {{"wiring ", "wiring 3p5w"},
                                               {"demand_max_mw ", "demand_max_mw 1e3"},
                                               {"energy_import_b_mwh ", "energy_import_b_mwh -1"}};
    for (size_t k = 0; k < 3; k++) {
        n = meter_state_format(&s, buf, sizeof(buf));
        assert_true(n > 0);
        *strstr(buf, "crc32 ") = '\0';
        char *at = strstr(buf, bad_lines[k][0]);
        char *eol = strchr(at, '\n');
        char edited[METER_STATE_MAX_SIZE], text[METER_STATE_MAX_SIZE + 32];
        snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - buf), buf, bad_lines[k][1], eol);
        snprintf(text, sizeof(text), "%scrc32 %08x\n", edited, crc32_ieee(edited, strlen(edited)));
        write_text(text);
        err[0] = '\0';
        assert_int_equal(meter_state_load(path, "m1", &back, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, bad_lines[k][0]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_state_round_trips_every_field),
        T(test_state_file_has_documented_format),
        T(test_state_save_writes_an_identical_backup),
        T(test_state_loads_version_1_files_with_zero_reactive_energy),
        T(test_state_loads_version_2_files_as_single_phase_without_demand),
        T(test_state_keeps_phase_counters_wiring_and_demand),
        T(test_state_missing_file_starts_fresh_at_seq_zero),
        T(test_state_seq_continues_and_boot_increments_after_reload),
        T(test_state_creates_missing_directories),
        T(test_state_falls_back_to_the_backup_when_main_fails_its_checksum),
        T(test_state_refuses_when_main_and_backup_are_both_damaged),
        T(test_state_refuses_a_damaged_backup_when_main_is_missing),
        T(test_state_uses_the_backup_when_main_is_missing),
        T(test_state_rewrites_a_damaged_backup_from_main),
        T(test_state_takes_the_newer_of_two_valid_copies),
        T(test_state_never_takes_any_counter_backwards_between_copies),
        T(test_state_refuses_a_main_file_it_cannot_read_without_guessing),
        T(test_state_save_fails_when_the_backup_cannot_be_written),
        T(test_state_refuses_truncated_or_garbled_file),
        T(test_state_refuses_trailing_text_after_checksum),
        T(test_state_refuses_a_newer_format_naming_the_versions_it_reads),
        T(test_state_refuses_another_devices_file),
        T(test_state_refuses_another_devices_backup),
        cmocka_unit_test(test_energy_counts_import_and_export_separately),
        cmocka_unit_test(test_energy_keeps_sub_mwh_remainder),
        cmocka_unit_test(test_reactive_energy_counts_lagging_as_import_and_leading_as_export),
        cmocka_unit_test(test_reactive_energy_keeps_sub_mvarh_remainder_and_saturates),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
