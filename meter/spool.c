#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "log.h"
#include "spool_ranges.h"
#include "spool_record.h"
#include "spool_upgrade.h"

#define READ_CHUNK      64 /* records read at a time */
#define ACKED_FILE      "acked"
#define ACKED_MAGIC     "smartmeter-meterd-spool-acked 1"
#define SEG_NAME_DIGITS 10
#define PATH_LEN        4096
#define SEG_PATH_LEN    (PATH_LEN + 32)

struct segment {
    uint32_t index;      /* file name: %010u.seg */
    uint32_t count;      /* records in the file, valid or not */
    uint64_t first_seq;  /* of the first valid record; 0: none */
    uint64_t last_seq;   /* of the last valid record */
    bool corrupt_logged; /* a corrupt record in it was warned about */
};

struct spool {
    struct spool_config cfg;
    char dir[PATH_LEN];
    struct segment *segs;
    size_t nsegs, cap_segs, max_segments;
    int wfd; /* the newest segment, open for appending; -1 when none */
    int rfd; /* the segment last read; -1 when none */
    uint32_t rfd_index;
    uint32_t next_index; /* of the next segment file */
    bool dirty;
    int64_t dirty_since_ms, watermark_saved_ms;
    uint64_t watermark, persisted_watermark;
    struct range_set acked; /* acknowledged ranges above the watermark */
    uint64_t newest_seq;
    /* The record after the last one spool_read() returned: (segment index, position), which
       is the first record with seq >= hint_seq. */
    bool hint_valid;
    uint32_t hint_index, hint_pos;
    uint64_t hint_seq;
    unsigned char *chunk; /* READ_CHUNK records */
    struct spool_stats st;
};

/* ---- segment files ---- */

static void seg_path(const struct spool *s, uint32_t index, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%0*u.seg", s->dir, SEG_NAME_DIGITS, (unsigned)index);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) ? -errno : 0;
    close(fd);
    return r;
}

static void close_rfd(struct spool *s)
{
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
}

/* Reads up to n records of segment g from position pos into buf; returns records read or -errno. */
static ssize_t seg_read(struct spool *s, const struct segment *g, uint32_t pos, unsigned char *buf,
                        uint32_t n)
{
    if (pos >= g->count)
        return 0;
    if (n > g->count - pos)
        n = g->count - pos;
    if (s->rfd < 0 || s->rfd_index != g->index) {
        char path[SEG_PATH_LEN];
        close_rfd(s);
        seg_path(s, g->index, path, sizeof(path));
        s->rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->rfd < 0)
            return -errno;
        s->rfd_index = g->index;
    }
    ssize_t got = file_pread_full(s->rfd, buf, (size_t)n * SPOOL_RECORD_SIZE,
                                  (off_t)pos * SPOOL_RECORD_SIZE);
    return got < 0 ? got : got / (ssize_t)SPOOL_RECORD_SIZE;
}

static void note_corrupt(struct spool *s, struct segment *g, uint32_t pos)
{
    s->st.corrupt++;
    if (!g->corrupt_logged) {
        log_warn("spool: corrupt record %u in segment %0*u skipped (warned once per segment)",
                 (unsigned)pos, SEG_NAME_DIGITS, (unsigned)g->index);
        g->corrupt_logged = true;
    }
}

/* Position of the first valid record with seq >= seq in g (g->count when none), or -errno. */
static int64_t seg_lower_bound(struct spool *s, struct segment *g, uint64_t seq)
{
    unsigned char rec[SPOOL_RECORD_SIZE];
    uint32_t lo = 0, hi = g->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, m = mid;
        uint64_t at = 0;
        for (; m < hi; m++) {
            ssize_t k = seg_read(s, g, m, rec, 1);
            if (k < 0)
                return k;
            if (k == 1 && spool_record_decode(rec, NULL) == 0) {
                at = spool_record_seq(rec);
                break;
            }
        }
        if (m == hi)
            hi = mid;
        else if (at < seq)
            lo = m + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Unacknowledged readings held in g (seqs are assumed nearly dense). */
static uint64_t seg_unacked(const struct spool *s, const struct segment *g)
{
    if (g->first_seq == 0 || g->last_seq <= s->watermark)
        return 0;
    uint64_t lo = g->first_seq > s->watermark ? g->first_seq : s->watermark + 1;
    uint64_t n = g->last_seq - lo + 1;
    if (n > g->count)
        n = g->count;
    uint64_t acked = range_overlap(&s->acked, lo, g->last_seq);
    return n > acked ? n - acked : 0;
}

/* ---- segment table ---- */

static void seg_remove_at(struct spool *s, size_t i, bool unlink_file)
{
    char path[SEG_PATH_LEN];
    seg_path(s, s->segs[i].index, path, sizeof(path));
    if (s->rfd >= 0 && s->rfd_index == s->segs[i].index)
        close_rfd(s);
    if (i == s->nsegs - 1 && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
        s->dirty = false;
    }
    if (unlink_file && unlink(path) && errno != ENOENT)
        log_warn("spool: cannot delete %s: %s", path, strerror(errno));
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
}

static void quarantine(struct spool *s, size_t i, const char *why)
{
    char path[SEG_PATH_LEN], bad[SEG_PATH_LEN + 8];
    seg_path(s, s->segs[i].index, path, sizeof(path));
    snprintf(bad, sizeof(bad), "%s.bad", path);
    log_warn("spool: segment %s %s; kept aside as %s", path, why, bad);
    s->st.corrupt += s->segs[i].count;
    if (rename(path, bad))
        log_warn("spool: cannot rename %s: %s", path, strerror(errno));
    seg_remove_at(s, i, false);
}

/* Drops the oldest segment to make room, counting what it still held unacknowledged. */
static void drop_oldest(struct spool *s)
{
    struct segment *g = &s->segs[0];
    uint64_t lost = seg_unacked(s, g);
    if (lost) {
        s->st.dropped_full += lost;
        log_warn("spool full: dropped %" PRIu64 " unacknowledged readings (seq %" PRIu64
                 "..%" PRIu64 "); %" PRIu64 " dropped so far",
                 lost, g->first_seq > s->watermark ? g->first_seq : s->watermark + 1, g->last_seq,
                 s->st.dropped_full);
    }
    if (g->last_seq > s->watermark) {
        s->watermark = g->last_seq;
        ranges_drop_below(&s->acked, s->watermark);
    }
    seg_remove_at(s, 0, true);
}

static int seg_push(struct spool *s, const struct segment *g)
{
    if (s->nsegs == s->cap_segs) {
        size_t cap = s->cap_segs ? 2 * s->cap_segs : 16;
        struct segment *n = realloc(s->segs, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->segs = n;
        s->cap_segs = cap;
    }
    s->segs[s->nsegs++] = *g;
    return 0;
}

/* ---- open: scan and repair ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static bool seg_name_index(const char *name, uint32_t *ret)
{
    uint64_t v = 0;
    for (int k = 0; k < SEG_NAME_DIGITS; k++) {
        if (name[k] < '0' || name[k] > '9')
            return false;
        v = v * 10 + (uint64_t)(name[k] - '0');
    }
    if (strcmp(name + SEG_NAME_DIGITS, ".seg") != 0 || v > UINT32_MAX)
        return false;
    *ret = (uint32_t)v;
    return true;
}

/* Lists the segment indices in the directory, sorted. */
static int list_segments(const char *dir, uint32_t **ret, size_t *ret_n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t idx;
        if (!seg_name_index(e->d_name, &idx))
            continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 64;
            uint32_t *nv = realloc(v, c * sizeof(*nv));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = c;
        }
        v[n++] = idx;
    }
    closedir(d);
    if (r) {
        free(v);
        return r;
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_u32);
    *ret = v;
    *ret_n = n;
    return 0;
}

/* Truncates segment g's file to keep records [0, keep). */
static int seg_truncate(struct spool *s, struct segment *g, uint32_t keep)
{
    char path[SEG_PATH_LEN];
    seg_path(s, g->index, path, sizeof(path));
    if (truncate(path, (off_t)keep * SPOOL_RECORD_SIZE))
        return -errno;
    g->count = keep;
    return 0;
}

/* Validates every record of the newest segment and cuts off a torn or corrupt tail. */
static int scan_newest(struct spool *s, struct segment *g, uint64_t prev_last)
{
    uint32_t last_valid = UINT32_MAX, bad = 0;
    uint64_t prev = prev_last;
    for (uint32_t pos = 0; pos < g->count;) {
        ssize_t k = seg_read(s, g, pos, s->chunk, READ_CHUNK);
        if (k <= 0)
            return k < 0 ? (int)k : -EIO;
        for (ssize_t q = 0; q < k; q++, pos++) {
            const unsigned char *rec = s->chunk + q * SPOOL_RECORD_SIZE;
            if (spool_record_decode(rec, NULL) || spool_record_seq(rec) <= prev) {
                bad++;
                continue;
            }
            prev = spool_record_seq(rec);
            if (g->first_seq == 0)
                g->first_seq = prev;
            g->last_seq = prev;
            last_valid = pos;
        }
    }
    uint32_t keep = last_valid == UINT32_MAX ? 0 : last_valid + 1;
    if (keep < g->count) {
        log_warn("spool: segment %0*u: %u torn or corrupt records at the end truncated",
                 SEG_NAME_DIGITS, (unsigned)g->index, (unsigned)(g->count - keep));
        bad -= g->count - keep;
        s->st.corrupt += g->count - keep;
        int r = seg_truncate(s, g, keep);
        if (r)
            return r;
    }
    if (bad) {
        log_warn("spool: segment %0*u: %u corrupt records will be skipped", SEG_NAME_DIGITS,
                 (unsigned)g->index, (unsigned)bad);
        s->st.corrupt += bad;
        g->corrupt_logged = true;
    }
    return 0;
}

/* Finds the first and last valid records of an older segment. */
static int scan_older(struct spool *s, struct segment *g)
{
    unsigned char rec[SPOOL_RECORD_SIZE];
    for (uint32_t pos = 0; pos < g->count; pos++) {
        ssize_t k = seg_read(s, g, pos, rec, 1);
        if (k < 0)
            return (int)k;
        if (k == 1 && spool_record_decode(rec, NULL) == 0) {
            g->first_seq = spool_record_seq(rec);
            break;
        }
    }
    for (uint32_t pos = g->count; g->first_seq && pos-- > 0;) {
        ssize_t k = seg_read(s, g, pos, rec, 1);
        if (k < 0)
            return (int)k;
        if (k == 1 && spool_record_decode(rec, NULL) == 0) {
            g->last_seq = spool_record_seq(rec);
            break;
        }
    }
    return 0;
}

static void load_watermark(struct spool *s)
{
    char path[SEG_PATH_LEN], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", s->dir, ACKED_FILE);
    int r = file_read_all(path, 256, &data, &len);
    if (r == -ENOENT)
        return;
    unsigned long long wm = 0;
    unsigned crc = 0;
    int used = 0;
    char *crc_line = data ? strstr(data, "crc32 ") : NULL;
    if (r == 0 && crc_line && sscanf(data, ACKED_MAGIC "\nwatermark %llu\n%n", &wm, &used) == 1 &&
        data + used == crc_line && sscanf(crc_line, "crc32 %8x\n", &crc) == 1 &&
        strlen(crc_line) == 15 && crc == crc32_ieee(data, (size_t)(crc_line - data)) &&
        wm <= READING_SEQ_MAX) {
        s->watermark = s->persisted_watermark = wm;
    } else {
        log_warn("spool: %s is %s; every reading held will be resent", path,
                 r ? strerror(-r) : "damaged");
    }
    free(data);
}

static int save_watermark(struct spool *s)
{
    char path[SEG_PATH_LEN], body[128];
    snprintf(path, sizeof(path), "%s/%s", s->dir, ACKED_FILE);
    int n = snprintf(body, sizeof(body), ACKED_MAGIC "\nwatermark %" PRIu64 "\n", s->watermark);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "crc32 %08x\n",
                  (unsigned)crc32_ieee(body, (size_t)n));
    int r = file_write_atomic(path, body, (size_t)n, 0600);
    if (r == 0)
        s->persisted_watermark = s->watermark;
    return r;
}

/* Converts a segment an older meterd wrote (spool_upgrade.h); a failure keeps the spool shut,
   since reading the old records as today's would quarantine them. */
static int upgrade_segment(struct spool *s, const char *path)
{
    struct spool_upgrade_result res;
    int r = spool_upgrade_segment(path, &res);
    if (r) {
        log_error("spool: cannot convert %s to the current record layout: %s", path, strerror(-r));
        return r;
    }
    if (!res.converted)
        return 0;
    s->st.upgraded += res.records;
    s->st.corrupt += res.corrupt;
    if (res.corrupt)
        log_warn("spool: segment %s converted from the old record layout: %llu readings kept, "
                 "%llu damaged records left out",
                 path, (unsigned long long)res.records, (unsigned long long)res.corrupt);
    else
        log_info("spool: segment %s converted from the old record layout: %llu readings kept",
                 path, (unsigned long long)res.records);
    return 0;
}

static int open_segments(struct spool *s)
{
    uint32_t *idx = NULL;
    size_t n = 0;
    int r = list_segments(s->dir, &idx, &n);
    if (r)
        return r;
    for (size_t k = 0; k < n && r == 0; k++) {
        struct segment g = {.index = idx[k]};
        char path[SEG_PATH_LEN];
        struct stat sb;
        seg_path(s, g.index, path, sizeof(path));
        if ((r = upgrade_segment(s, path)))
            break;
        if (stat(path, &sb)) {
            r = -errno;
            break;
        }
        g.count = (uint32_t)((uint64_t)sb.st_size / SPOOL_RECORD_SIZE);
        if ((uint64_t)sb.st_size % SPOOL_RECORD_SIZE) {
            log_warn("spool: segment %s ends in a torn record; truncated", path);
            s->st.corrupt++;
            if ((r = seg_truncate(s, &g, g.count)))
                break;
        }
        r = seg_push(s, &g);
    }
    s->next_index = n ? idx[n - 1] + 1 : 1;
    free(idx);
    if (r)
        return r;

    uint64_t prev_last = 0;
    for (size_t i = 0; i < s->nsegs;) {
        struct segment *g = &s->segs[i];
        bool newest = i == s->nsegs - 1;
        r = newest ? scan_newest(s, g, prev_last) : scan_older(s, g);
        if (r)
            return r;
        if (g->count == 0 && !newest) {
            seg_remove_at(s, i, true); /* created, never written: a crash at the rollover */
            continue;
        }
        if (g->count && g->first_seq == 0) {
            quarantine(s, i, "holds no valid record");
            continue;
        }
        if (g->first_seq && g->first_seq <= prev_last) {
            quarantine(s, i, "overlaps the segment before it");
            continue;
        }
        if (g->last_seq)
            prev_last = g->last_seq;
        i++;
    }
    return 0;
}

static void delete_acked_segments(struct spool *s)
{
    for (size_t i = 0; i < s->nsegs;) {
        struct segment *g = &s->segs[i];
        bool newest = i == s->nsegs - 1;
        bool done = g->first_seq == 0 || g->last_seq <= s->watermark;
        /* The newest stays while it still takes records. */
        if (done && (!newest || g->count >= s->cfg.records_per_segment) && g->count)
            seg_remove_at(s, i, true);
        else
            i++;
    }
}

int spool_open(const struct spool_config *cfg, struct spool **ret, char *err, size_t errlen)
{
    if (!cfg->dir || !cfg->dir[0] || cfg->max_records < 1 || cfg->records_per_segment < 2 ||
        cfg->sync_interval_ms < 0) {
        snprintf(err, errlen, "spool: invalid configuration");
        return -EINVAL;
    }
    struct spool *s = calloc(1, sizeof(*s));
    if (!s || (s->chunk = malloc((size_t)READ_CHUNK * SPOOL_RECORD_SIZE)) == NULL ||
        range_set_init(&s->acked, SPOOL_ACK_RANGES_MAX) != 0) {
        if (s) {
            free(s->chunk);
            free(s);
        }
        snprintf(err, errlen, "spool: out of memory");
        return -ENOMEM;
    }
    s->cfg = *cfg;
    s->cfg.dir = NULL;
    s->wfd = s->rfd = -1;
    int r = 0;
    if (snprintf(s->dir, sizeof(s->dir), "%s", cfg->dir) >= (int)sizeof(s->dir))
        r = -ENAMETOOLONG;
    if (r == 0)
        r = file_mkdirs(s->dir, 0700);
    uint64_t segs = (cfg->max_records + cfg->records_per_segment - 1) / cfg->records_per_segment;
    s->max_segments = (size_t)segs + 1;
    if (r == 0) {
        load_watermark(s);
        r = open_segments(s);
    }
    if (r) {
        snprintf(err, errlen, "spool %s: %s", cfg->dir, strerror(-r));
        spool_close(s);
        return r;
    }
    if (s->nsegs)
        s->newest_seq = s->segs[s->nsegs - 1].last_seq;
    for (size_t i = s->nsegs; i-- > 0 && s->newest_seq == 0;)
        s->newest_seq = s->segs[i].last_seq;
    if (s->watermark > s->newest_seq)
        s->newest_seq = s->watermark;
    delete_acked_segments(s);
    while (s->nsegs > s->max_segments)
        drop_oldest(s);
    if (s->nsegs) {
        struct segment *g = &s->segs[s->nsegs - 1];
        if (g->count < s->cfg.records_per_segment) {
            char path[SEG_PATH_LEN];
            seg_path(s, g->index, path, sizeof(path));
            s->wfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (s->wfd < 0) {
                r = -errno;
                snprintf(err, errlen, "spool %s: %s", path, strerror(-r));
                spool_close(s);
                return r;
            }
        }
    }
    *ret = s;
    return 0;
}

int spool_sync(struct spool *s, int64_t now_ms, bool force)
{
    int r = 0;
    if (s->dirty && s->wfd >= 0 &&
        (force || now_ms - s->dirty_since_ms >= s->cfg.sync_interval_ms)) {
        if (fdatasync(s->wfd))
            r = -errno;
        else
            s->dirty = false;
    }
    if (s->watermark != s->persisted_watermark &&
        (force || now_ms - s->watermark_saved_ms >= s->cfg.sync_interval_ms)) {
        int w = save_watermark(s);
        s->watermark_saved_ms = now_ms;
        if (w && !r)
            r = w;
    }
    return r;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    if (s->wfd >= 0 || s->watermark != s->persisted_watermark) {
        int r = spool_sync(s, 0, true);
        if (r)
            log_warn("spool: cannot sync at close: %s", strerror(-r));
    }
    if (s->wfd >= 0)
        close(s->wfd);
    close_rfd(s);
    free(s->segs);
    range_set_free(&s->acked);
    free(s->chunk);
    free(s);
}

/* Starts a new newest segment. */
static int new_segment(struct spool *s)
{
    if (s->wfd >= 0) {
        /* The full segment's data must not outlive its successor's creation unsynced. */
        if (s->dirty && fdatasync(s->wfd) == 0)
            s->dirty = false;
        close(s->wfd);
        s->wfd = -1;
    }
    while (s->nsegs >= s->max_segments)
        drop_oldest(s);
    struct segment g = {.index = s->next_index};
    if (g.index == UINT32_MAX)
        return -EOVERFLOW;
    char path[SEG_PATH_LEN];
    seg_path(s, g.index, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = seg_push(s, &g);
    if (r == 0)
        r = fsync_dir(s->dir);
    if (r) {
        if (s->nsegs && s->segs[s->nsegs - 1].index == g.index)
            s->nsegs--;
        close(fd);
        unlink(path);
        return r;
    }
    s->wfd = fd;
    s->next_index = g.index + 1;
    return 0;
}

int spool_append(struct spool *s, const struct reading *r, int64_t now_ms)
{
    unsigned char rec[SPOOL_RECORD_SIZE];
    if (r->seq == 0 || r->seq > READING_SEQ_MAX || r->seq <= s->newest_seq)
        return -EINVAL;
    int ret = 0;
    if (s->wfd < 0 || s->nsegs == 0 || s->segs[s->nsegs - 1].count >= s->cfg.records_per_segment)
        ret = new_segment(s);
    if (ret)
        return ret;
    struct segment *g = &s->segs[s->nsegs - 1];
    spool_record_encode(r, rec);
    size_t done = 0;
    while (done < sizeof(rec)) {
        ssize_t k = write(s->wfd, rec + done, sizeof(rec) - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            ret = k < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)k;
    }
    if (ret) {
        if (done && ftruncate(s->wfd, (off_t)g->count * SPOOL_RECORD_SIZE))
            log_warn("spool: cannot remove a partly written record: %s", strerror(errno));
        return ret;
    }
    g->count++;
    if (g->first_seq == 0)
        g->first_seq = r->seq;
    g->last_seq = r->seq;
    s->newest_seq = r->seq;
    s->st.spooled++;
    if (!s->dirty) {
        s->dirty = true;
        s->dirty_since_ms = now_ms;
    }
    if (s->cfg.sync_interval_ms == 0) {
        if (fdatasync(s->wfd))
            return -errno;
        s->dirty = false;
    }
    return 0;
}

/* Locates the first valid record with seq >= seq: segment array index and position. */
static int locate(struct spool *s, uint64_t seq, size_t *ret_seg, uint32_t *ret_pos)
{
    if (s->hint_valid && s->hint_seq == seq) {
        for (size_t i = 0; i < s->nsegs; i++) {
            if (s->segs[i].index == s->hint_index) {
                *ret_seg = i;
                *ret_pos = s->hint_pos;
                return 0;
            }
        }
    }
    for (size_t i = 0; i < s->nsegs; i++) {
        struct segment *g = &s->segs[i];
        if (g->first_seq == 0 || g->last_seq < seq)
            continue;
        *ret_seg = i;
        if (g->first_seq >= seq) {
            *ret_pos = 0;
            return 0;
        }
        int64_t p = seg_lower_bound(s, g, seq);
        if (p < 0)
            return (int)p;
        *ret_pos = (uint32_t)p;
        return 0;
    }
    *ret_seg = s->nsegs;
    *ret_pos = 0;
    return 0;
}

int spool_read(struct spool *s, uint64_t from_seq, uint64_t to_seq, struct reading *out, size_t max,
               size_t *ret_n, uint64_t *ret_next)
{
    uint64_t cur = from_seq > s->watermark ? from_seq : s->watermark + 1;
    size_t n = 0;
    int r = 0;
    if (to_seq > s->newest_seq)
        to_seq = s->newest_seq;
    while (n < max && cur <= to_seq) {
        const struct ack_range *ar = range_holding(&s->acked, cur);
        if (ar) {
            cur = ar->last + 1;
            continue;
        }
        size_t i;
        uint32_t pos;
        if ((r = locate(s, cur, &i, &pos)))
            break;
        if (i == s->nsegs) {
            cur = to_seq + 1;
            break;
        }
        size_t ri = range_find(&s->acked, cur);
        uint64_t stop = ri < s->acked.n ? s->acked.r[ri].first : UINT64_MAX;
        bool restart = false;
        for (; i < s->nsegs && n < max && !restart && cur <= to_seq; i++, pos = 0) {
            struct segment *g = &s->segs[i];
            while (pos < g->count && n < max && !restart && cur <= to_seq) {
                ssize_t k = seg_read(s, g, pos, s->chunk, READ_CHUNK);
                if (k <= 0) {
                    r = k < 0 ? (int)k : -EIO;
                    goto out;
                }
                ssize_t q = 0;
                for (; q < k && n < max; q++) {
                    const unsigned char *rec = s->chunk + q * SPOOL_RECORD_SIZE;
                    if (spool_record_decode(rec, NULL)) {
                        note_corrupt(s, g, pos + (uint32_t)q);
                        continue;
                    }
                    uint64_t seq = spool_record_seq(rec);
                    if (seq < cur)
                        continue;
                    if (seq > to_seq) {
                        cur = to_seq + 1;
                        break;
                    }
                    if (seq >= stop) {
                        cur = seq;
                        restart = true;
                        break;
                    }
                    spool_record_decode(rec, &out[n++]);
                    cur = seq + 1;
                }
                pos += (uint32_t)q;
                s->hint_valid = true;
                s->hint_index = g->index;
                s->hint_pos = pos;
                s->hint_seq = cur;
            }
        }
        if (!restart && i == s->nsegs && n < max)
            cur = to_seq + 1 > cur ? to_seq + 1 : cur; /* nothing more is held */
    }
out:
    *ret_n = n;
    *ret_next = cur;
    return r;
}

/* The smallest valid seq >= seq held, or 0 when none. */
static uint64_t next_held(struct spool *s, uint64_t seq)
{
    size_t i;
    uint32_t pos;
    if (locate(s, seq, &i, &pos) || i == s->nsegs)
        return 0;
    unsigned char rec[SPOOL_RECORD_SIZE];
    for (; i < s->nsegs; i++, pos = 0) {
        struct segment *g = &s->segs[i];
        for (; pos < g->count; pos++) {
            if (seg_read(s, g, pos, rec, 1) != 1)
                return 0;
            if (spool_record_decode(rec, NULL) == 0 && spool_record_seq(rec) >= seq)
                return spool_record_seq(rec);
        }
    }
    return 0;
}

uint64_t spool_ack(struct spool *s, uint64_t first, uint64_t last)
{
    if (last > s->newest_seq)
        last = s->newest_seq;
    if (first <= s->watermark)
        first = s->watermark + 1;
    if (first > last)
        return 0;
    uint64_t fresh = range_add(&s->acked, first, last);
    s->st.acked += fresh;
    /* Advance the watermark over acknowledged ranges and seqs that are not held. */
    uint64_t before = s->watermark;
    for (size_t guard = 0; guard <= SPOOL_ACK_RANGES_MAX + 1; guard++) {
        uint64_t h = next_held(s, s->watermark + 1);
        if (h == 0) {
            s->watermark = s->newest_seq;
            break;
        }
        if (s->acked.n && s->acked.r[0].first <= h && s->acked.r[0].last >= h) {
            s->watermark = s->acked.r[0].last;
            ranges_drop_below(&s->acked, s->watermark);
            continue;
        }
        s->watermark = h - 1;
        break;
    }
    ranges_drop_below(&s->acked, s->watermark);
    if (s->watermark != before)
        delete_acked_segments(s);
    return fresh;
}

bool spool_acked(const struct spool *s, uint64_t first, uint64_t last)
{
    if (last <= s->watermark)
        return true;
    if (first <= s->watermark)
        first = s->watermark + 1;
    const struct ack_range *ar = range_holding(&s->acked, first);
    return ar && ar->last >= last;
}

uint64_t spool_first_unacked(struct spool *s)
{
    uint64_t cand = s->watermark + 1;
    for (size_t guard = 0; guard <= SPOOL_ACK_RANGES_MAX + 1; guard++) {
        uint64_t h = next_held(s, cand);
        if (h == 0)
            return s->newest_seq + 1;
        const struct ack_range *ar = range_holding(&s->acked, h);
        if (!ar)
            return h;
        cand = ar->last + 1;
    }
    return s->newest_seq + 1;
}

int spool_last(struct spool *s, struct reading *ret)
{
    unsigned char rec[SPOOL_RECORD_SIZE];
    size_t i;
    uint32_t pos;
    if (s->newest_seq == 0)
        return -ENOENT;
    int r = locate(s, s->newest_seq, &i, &pos);
    if (r)
        return r;
    for (; i < s->nsegs; i++, pos = 0) {
        for (; pos < s->segs[i].count; pos++) {
            ssize_t k = seg_read(s, &s->segs[i], pos, rec, 1);
            if (k < 0)
                return (int)k;
            if (k == 1 && spool_record_decode(rec, ret) == 0 && ret->seq == s->newest_seq)
                return 0;
        }
    }
    return -ENOENT;
}

uint64_t spool_newest_seq(const struct spool *s)
{
    return s->newest_seq;
}

void spool_get_stats(const struct spool *s, struct spool_stats *ret)
{
    *ret = s->st;
    ret->depth = 0;
    ret->records = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        ret->depth += seg_unacked(s, &s->segs[i]);
        ret->records += s->segs[i].count;
    }
    ret->bytes = ret->records * SPOOL_RECORD_SIZE;
    ret->segments = (uint32_t)s->nsegs;
    ret->watermark = s->watermark;
    ret->newest_seq = s->newest_seq;
}
