/*
 * The on-disk spool: readings come back exactly as written, damage (a torn
 * tail, a corrupt record, a garbage segment, a damaged watermark) is repaired
 * or skipped without losing good records, a full spool drops its oldest,
 * acks in any order advance the watermark, a restart resumes with only the
 * unacknowledged readings, and segments roll over and are deleted once acked.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "fileutil.h"
#include "spool.h"

static char dir[TMPDIR_PATH_MAX];
static char err[256];

static int make_dir(void **state)
{
    (void)state;
    return tmpdir_make(dir, "test_meter_spool") ? -1 : 0;
}

static int remove_dir(void **state)
{
    (void)state;
    return tmpdir_remove(dir);
}

static struct spool *open_spool(uint64_t max_records, uint32_t per_segment)
{
    struct spool_config cfg = {.dir = dir,
                               .max_records = max_records,
                               .records_per_segment = per_segment,
                               .sync_interval_ms = 1000};
    struct spool *s = NULL;
    assert_int_equal(spool_open(&cfg, &s, err, sizeof(err)), 0);
    assert_non_null(s);
    return s;
}

/* A reading whose every field depends on seq, so a mix-up shows. */
static struct reading make_reading(uint64_t seq)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.has_seq = true;
    r.ts_ms = 1700000000000 + (int64_t)seq * 1000;
    reading_set_real(&r, RR_VOLTAGE, 230.0 + (double)seq / 1000.0);
    reading_set_real(&r, RR_CURRENT, 10.0 + (double)seq / 7.0);
    reading_set_real(&r, RR_PF, 0.123456789012345);
    if (seq % 2)
        reading_set_real(&r, RR_THD_V, 1.5e-3 * (double)seq);
    reading_set_counter(&r, RC_ENERGY_IMPORT, (int64_t)seq * 1000003);
    reading_set_counter(&r, RC_BOOT, 7);
    return r;
}

static void assert_same_reading(const struct reading *a, const struct reading *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_true(b->has_seq);
    assert_int_equal(a->real_present, b->real_present);
    assert_int_equal(a->counter_present, b->counter_present);
    for (int k = 0; k < RR__COUNT; k++)
        assert_memory_equal(&a->real[k], &b->real[k], sizeof(double));
    for (int k = 0; k < RC__COUNT; k++)
        assert_int_equal(a->counter[k], b->counter[k]);
}

static void append_range(struct spool *s, uint64_t first, uint64_t last)
{
    for (uint64_t q = first; q <= last; q++) {
        struct reading r = make_reading(q);
        assert_int_equal(spool_append(s, &r, 0), 0);
    }
}

/* Every unacknowledged seq the spool returns, in order, into seqs (at most max). */
static size_t read_all(struct spool *s, uint64_t *seqs, size_t max)
{
    struct reading buf[7]; /* small on purpose: reads continue across calls */
    size_t total = 0;
    uint64_t cur = 0;
    for (int guard = 0; guard < 10000; guard++) {
        size_t n = 0;
        uint64_t next = 0;
        assert_int_equal(spool_read(s, cur, UINT64_MAX, buf, 7, &n, &next), 0);
        for (size_t k = 0; k < n; k++) {
            assert_true(total < max);
            struct reading want = make_reading(buf[k].seq);
            assert_same_reading(&want, &buf[k]);
            seqs[total++] = buf[k].seq;
        }
        assert_true(next > cur || n == 0);
        if (n == 0)
            break;
        cur = next;
    }
    for (size_t k = 1; k < total; k++)
        assert_true(seqs[k] > seqs[k - 1]);
    return total;
}

static void seg_file(uint32_t index, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%010u.seg", dir, (unsigned)index);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) ? -1 : sb.st_size;
}

static void test_appended_readings_read_back_exactly(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 100);
    append_range(s, 1, 25);
    uint64_t seqs[64];
    assert_int_equal(read_all(s, seqs, 64), 25);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[24], 25);

    /* A range read stops at to_seq and says where to go on. */
    struct reading buf[10];
    size_t n = 0;
    uint64_t next = 0;
    assert_int_equal(spool_read(s, 5, 8, buf, 10, &n, &next), 0);
    assert_int_equal(n, 4);
    assert_int_equal(buf[0].seq, 5);
    assert_int_equal(next, 9);

    /* A seq not above the newest is refused and changes nothing. */
    struct reading old = make_reading(25);
    assert_int_equal(spool_append(s, &old, 0), -EINVAL);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.spooled, 25);
    assert_int_equal(st.depth, 25);
    assert_int_equal(st.newest_seq, 25);
    struct reading last;
    assert_int_equal(spool_last(s, &last), 0);
    struct reading want = make_reading(25);
    assert_same_reading(&want, &last);
    spool_close(s);

    /* And they survive a reopen. */
    s = open_spool(1000, 100);
    assert_int_equal(read_all(s, seqs, 64), 25);
    assert_int_equal(spool_newest_seq(s), 25);
    spool_close(s);
}

static void test_a_torn_last_record_is_truncated_and_appending_goes_on(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 100);
    append_range(s, 1, 5);
    spool_close(s);

    char path[512];
    seg_file(1, path, sizeof(path));
    assert_int_equal(file_size(path), 5 * SPOOL_RECORD_SIZE);
    /* A power cut in the middle of the fifth record. */
    assert_int_equal(truncate(path, 4 * SPOOL_RECORD_SIZE + 100), 0);

    s = open_spool(1000, 100);
    assert_int_equal(file_size(path), 4 * SPOOL_RECORD_SIZE);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_true(st.corrupt >= 1);
    assert_int_equal(spool_newest_seq(s), 4);
    append_range(s, 6, 7);
    uint64_t seqs[16];
    assert_int_equal(read_all(s, seqs, 16), 6);
    assert_int_equal(seqs[3], 4);
    assert_int_equal(seqs[4], 6);
    spool_close(s);

    /* A last record whose bytes are all there but wrong (zeros after a power cut). */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    static const unsigned char zeros[SPOOL_RECORD_SIZE];
    assert_int_equal(pwrite(fd, zeros, sizeof(zeros), 5 * SPOOL_RECORD_SIZE),
                     (ssize_t)sizeof(zeros));
    close(fd);
    s = open_spool(1000, 100);
    assert_int_equal(file_size(path), 5 * SPOOL_RECORD_SIZE);
    assert_int_equal(read_all(s, seqs, 16), 5);
    assert_int_equal(seqs[4], 6);
    spool_close(s);
}

static void test_a_corrupt_record_is_skipped_and_the_rest_kept(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 10);
    append_range(s, 1, 25); /* segments 1..10, 11..20, 21..25 */
    spool_close(s);

    /* Flip one byte in seq 3 (older segment) and in seq 22 (newest segment). */
    char path[512];
    unsigned char b;
    seg_file(1, path, sizeof(path));
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, 2 * SPOOL_RECORD_SIZE + 40), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, 2 * SPOOL_RECORD_SIZE + 40), 1);
    close(fd);
    seg_file(3, path, sizeof(path));
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, 1 * SPOOL_RECORD_SIZE + 200), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, 1 * SPOOL_RECORD_SIZE + 200), 1);
    close(fd);

    s = open_spool(1000, 10);
    uint64_t seqs[32];
    size_t n = read_all(s, seqs, 32);
    assert_int_equal(n, 23);
    for (size_t k = 0; k < n; k++)
        assert_true(seqs[k] != 3 && seqs[k] != 22);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_true(st.corrupt >= 2);
    /* The corrupt seq does not hold the watermark back once its neighbours are acked. */
    spool_ack(s, 1, 2);
    spool_ack(s, 4, 10);
    assert_int_equal(spool_first_unacked(s), 11);
    spool_close(s);
}

static void test_damaged_files_never_stop_the_spool(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 10);
    append_range(s, 1, 15);
    spool_ack(s, 1, 3);
    assert_int_equal(spool_sync(s, 0, true), 0);
    spool_close(s);

    /* A segment of garbage is put aside, an unrelated file is ignored, the watermark file is
       damaged: everything still held is offered again. */
    char path[512], bad[600], acked[512];
    seg_file(1, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    unsigned char junk[SPOOL_RECORD_SIZE * 3];
    for (size_t k = 0; k < sizeof(junk); k++)
        junk[k] = (unsigned char)(k * 37 + 11);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    snprintf(acked, sizeof(acked), "%s/acked", dir);
    fd = open(acked, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "watermark 99\n", 13), 13);
    close(fd);
    snprintf(bad, sizeof(bad), "%s/notes.txt", dir);
    fd = open(bad, O_WRONLY | O_CREAT, 0600);
    close(fd);

    s = open_spool(1000, 10);
    snprintf(bad, sizeof(bad), "%s.bad", path);
    assert_true(file_size(bad) > 0);
    assert_int_equal(file_size(path), -1);
    uint64_t seqs[32];
    assert_int_equal(read_all(s, seqs, 32), 5);
    assert_int_equal(seqs[0], 11);
    append_range(s, 16, 16);
    spool_close(s);
}

static void test_a_full_spool_drops_the_oldest_and_counts_them(void **state)
{
    (void)state;
    struct spool *s = open_spool(8, 4); /* at least 8 held: 3 segments of 4 */
    append_range(s, 1, 30);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.segments, 3);
    assert_true(st.records >= 8 && st.records <= 12);
    assert_int_equal(st.dropped_full + st.records, 30);
    assert_int_equal(st.depth, st.records);
    uint64_t seqs[32];
    size_t n = read_all(s, seqs, 32);
    assert_int_equal(n, st.records);
    assert_int_equal(seqs[n - 1], 30);
    assert_int_equal(seqs[0], 30 - n + 1); /* the newest, contiguous */
    assert_int_equal(spool_first_unacked(s), seqs[0]);
    spool_close(s);

    /* The bound holds across a restart with a smaller size. */
    s = open_spool(4, 4);
    spool_get_stats(s, &st);
    assert_true(st.segments <= 2);
    assert_true(st.dropped_full > 0);
    spool_close(s);
}

static void test_acks_out_of_order_advance_the_watermark(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 8);
    append_range(s, 1, 20);
    assert_int_equal(spool_ack(s, 11, 15), 5);
    assert_int_equal(spool_first_unacked(s), 1);
    assert_true(spool_acked(s, 12, 14));
    assert_false(spool_acked(s, 10, 12));
    assert_int_equal(spool_ack(s, 1, 5), 5);
    assert_int_equal(spool_ack(s, 3, 5), 0); /* a repeated ack is harmless */
    assert_int_equal(spool_first_unacked(s), 6);
    assert_int_equal(spool_ack(s, 16, 40), 5); /* beyond the newest: clipped */

    uint64_t seqs[32];
    assert_int_equal(read_all(s, seqs, 32), 5);
    assert_int_equal(seqs[0], 6);
    assert_int_equal(seqs[4], 10);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.depth, 5);
    assert_int_equal(st.watermark, 5);

    assert_int_equal(spool_ack(s, 6, 10), 5);
    spool_get_stats(s, &st);
    assert_int_equal(st.watermark, 20);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.acked, 20);
    assert_int_equal(spool_first_unacked(s), 21);
    assert_int_equal(read_all(s, seqs, 32), 0);
    /* Fully acked segments are gone; the newest stays while it takes records. */
    assert_true(st.segments <= 1);
    spool_close(s);
}

static void test_a_restart_resends_only_unacknowledged_readings(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 4);
    append_range(s, 1, 30);
    spool_ack(s, 1, 10);
    spool_ack(s, 20, 25);
    assert_int_equal(spool_sync(s, 0, true), 0);
    spool_close(s);

    s = open_spool(1000, 4);
    uint64_t seqs[64];
    size_t n = read_all(s, seqs, 64);
    /* The watermark (10) survived; the range above it may be resent, nothing unacked is lost. */
    bool seen[31] = {false};
    for (size_t k = 0; k < n; k++) {
        assert_true(seqs[k] > 10 && seqs[k] <= 30);
        seen[seqs[k]] = true;
    }
    for (int q = 11; q <= 30; q++)
        if (q < 20 || q > 25)
            assert_true(seen[q]);
    assert_int_equal(spool_first_unacked(s), 11);
    spool_close(s);
}

static void test_a_killed_writer_loses_nothing_it_wrote(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct spool_config cfg = {
            .dir = dir, .max_records = 1000, .records_per_segment = 16, .sync_interval_ms = 60000};
        struct spool *s = NULL;
        if (spool_open(&cfg, &s, err, sizeof(err)))
            _exit(1);
        for (uint64_t q = 1; q <= 40; q++) {
            struct reading r = make_reading(q);
            if (spool_append(s, &r, 0))
                _exit(1);
        }
        spool_ack(s, 1, 3);
        _exit(0); /* no sync, no close: what a kill -9 leaves */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct spool *s = open_spool(1000, 16);
    uint64_t seqs[64];
    size_t n = read_all(s, seqs, 64);
    assert_int_equal(n, 40); /* the unsynced watermark is lost: resent, not lost */
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[39], 40);
    spool_close(s);
}

static void test_segments_roll_over_and_go_once_acked(void **state)
{
    (void)state;
    struct spool *s = open_spool(1000, 4);
    append_range(s, 1, 10);
    char p1[512], p2[512], p3[512], p4[512];
    seg_file(1, p1, sizeof(p1));
    seg_file(2, p2, sizeof(p2));
    seg_file(3, p3, sizeof(p3));
    seg_file(4, p4, sizeof(p4));
    assert_int_equal(file_size(p1), 4 * SPOOL_RECORD_SIZE);
    assert_int_equal(file_size(p2), 4 * SPOOL_RECORD_SIZE);
    assert_int_equal(file_size(p3), 2 * SPOOL_RECORD_SIZE);
    assert_int_equal(file_size(p4), -1);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.bytes, 10 * SPOOL_RECORD_SIZE);

    spool_ack(s, 1, 4);
    assert_int_equal(file_size(p1), -1);
    assert_int_equal(file_size(p2), 4 * SPOOL_RECORD_SIZE);
    spool_ack(s, 5, 10);
    spool_close(s);

    /* All acked: a restart keeps seqs going above the newest. */
    s = open_spool(1000, 4);
    assert_int_equal(spool_newest_seq(s), 10);
    assert_int_equal(spool_first_unacked(s), 11);
    struct reading r = make_reading(10);
    assert_int_equal(spool_append(s, &r, 0), -EINVAL);
    append_range(s, 11, 13);
    uint64_t seqs[16];
    assert_int_equal(read_all(s, seqs, 16), 3);
    assert_int_equal(seqs[0], 11);
    spool_close(s);
}

static void test_many_ranges_stay_bounded(void **state)
{
    (void)state;
    struct spool *s = open_spool(100000, 1024);
    append_range(s, 1, 3 * SPOOL_ACK_RANGES_MAX);
    /* Every other seq acked, newest first: more ranges than are kept. */
    for (uint64_t q = 3 * SPOOL_ACK_RANGES_MAX; q >= 2; q -= 2)
        spool_ack(s, q, q);
    assert_int_equal(spool_first_unacked(s), 1);
    uint64_t seqs[3 * SPOOL_ACK_RANGES_MAX];
    size_t n = read_all(s, seqs, 3 * SPOOL_ACK_RANGES_MAX);
    /* Every odd seq is offered; forgotten acks only add even ones. */
    size_t odd = 0;
    for (size_t k = 0; k < n; k++)
        odd += seqs[k] % 2;
    assert_int_equal(odd, 3 * SPOOL_ACK_RANGES_MAX / 2);
    assert_true(n < 3 * SPOOL_ACK_RANGES_MAX);
    spool_close(s);
}

/* ---- segments an older meterd left in the record layout before three-phase readings ---- */

#define V1_SIZE 228

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

/* Encodes r in the old layout ("SMR1": the first 18 reals and 6 counters), written out
   here from its description rather than by the code under test. */
static void encode_v1(const struct reading *r, unsigned char rec[V1_SIZE])
{
    memset(rec, 0, V1_SIZE);
    memcpy(rec, "SMR1", 4);
    put_le(rec + 4, r->real_present & 0x3ffff, 4);
    put_le(rec + 8, r->counter_present & 0x3f, 4);
    put_le(rec + 16, r->seq, 8);
    put_le(rec + 24, (uint64_t)r->ts_ms, 8);
    for (int k = 0; k < 18; k++) {
        uint64_t bits;
        memcpy(&bits, &r->real[k], sizeof(bits));
        put_le(rec + 32 + 8 * k, bits, 8);
    }
    for (int k = 0; k < 6; k++)
        put_le(rec + 176 + 8 * k, (uint64_t)r->counter[k], 8);
    put_le(rec + 224, crc32_ieee(rec, 224), 4);
}

/* Writes segment index with old records first..last; damaged: the seq whose record gets a
   flipped byte (0: none); torn: bytes of a half-written record at the end. */
static void write_v1_segment(uint32_t index, uint64_t first, uint64_t last, uint64_t damaged,
                             size_t torn)
{
    char path[512];
    seg_file(index, path, sizeof(path));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char rec[V1_SIZE];
    for (uint64_t q = first; q <= last; q++) {
        struct reading r = make_reading(q);
        encode_v1(&r, rec);
        if (q == damaged)
            rec[40] ^= 0x55;
        assert_int_equal(fwrite(rec, 1, V1_SIZE, f), V1_SIZE);
    }
    assert_int_equal(fwrite(rec, 1, torn, f), torn);
    assert_int_equal(fclose(f), 0);
}

static void test_an_old_spool_is_converted_once_and_keeps_every_reading(void **state)
{
    (void)state;
    /* The first record damaged too: the segment is still recognised as an old one. */
    write_v1_segment(1, 1, 10, 1, 0);
    write_v1_segment(2, 11, 15, 13, V1_SIZE / 2);
    struct spool *s = open_spool(1000, 10);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.upgraded, 13);
    assert_int_equal(st.corrupt, 3); /* two damaged records and a torn tail */
    uint64_t seqs[32];
    size_t n = read_all(s, seqs, 32);
    assert_int_equal(n, 13);
    for (size_t k = 0, want = 2; k < n; k++, want++) {
        if (want == 13)
            want++;
        assert_int_equal(seqs[k], want);
    }
    char p1[512], p2[512];
    seg_file(1, p1, sizeof(p1));
    seg_file(2, p2, sizeof(p2));
    assert_int_equal(file_size(p1), 9 * SPOOL_RECORD_SIZE);
    assert_int_equal(file_size(p2), 4 * SPOOL_RECORD_SIZE);

    /* New readings follow the converted ones; acks work across them. */
    append_range(s, 16, 17);
    spool_ack(s, 1, 9);
    spool_close(s);

    /* Converted once: a restart reads today's records and converts nothing. */
    s = open_spool(1000, 10);
    spool_get_stats(s, &st);
    assert_int_equal(st.upgraded, 0);
    assert_int_equal(st.corrupt, 0);
    n = read_all(s, seqs, 32);
    assert_int_equal(n, 7);
    assert_int_equal(seqs[0], 10);
    assert_int_equal(seqs[6], 17);
    spool_close(s);
}

static void test_a_conversion_cut_short_leaves_the_old_segment_whole(void **state)
{
    (void)state;
    write_v1_segment(1, 1, 6, 0, 0);
    /* What a conversion killed before its rename leaves: the old file untouched beside a
       partly written temporary one. */
    char p1[512], tmp[600];
    seg_file(1, p1, sizeof(p1));
    snprintf(tmp, sizeof(tmp), "%s.smr2.tmp", p1);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("SMR2 half a record", 1, 18, f), 18);
    assert_int_equal(fclose(f), 0);

    struct spool *s = open_spool(1000, 10);
    struct spool_stats st;
    spool_get_stats(s, &st);
    assert_int_equal(st.upgraded, 6);
    assert_int_equal(st.corrupt, 0);
    uint64_t seqs[16];
    assert_int_equal(read_all(s, seqs, 16), 6);
    assert_int_equal(file_size(tmp), -1);
    spool_close(s);

    /* A leftover temporary file beside an already converted segment goes too. */
    f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    s = open_spool(1000, 10);
    assert_int_equal(read_all(s, seqs, 16), 6);
    assert_int_equal(file_size(tmp), -1);
    spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_appended_readings_read_back_exactly, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_torn_last_record_is_truncated_and_appending_goes_on,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_a_corrupt_record_is_skipped_and_the_rest_kept,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_damaged_files_never_stop_the_spool, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_full_spool_drops_the_oldest_and_counts_them,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_acks_out_of_order_advance_the_watermark, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_restart_resends_only_unacknowledged_readings,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_a_killed_writer_loses_nothing_it_wrote, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_segments_roll_over_and_go_once_acked, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_many_ranges_stay_bounded, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_an_old_spool_is_converted_once_and_keeps_every_reading,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_a_conversion_cut_short_leaves_the_old_segment_whole,
                                        make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
