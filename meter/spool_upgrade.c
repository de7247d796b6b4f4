#include "spool_upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "spool.h"
#include "spool_record.h"

#define TMP_SUFFIX ".smr2.tmp"
#define PATH_MAX_LEN 4200
#define CHUNK 32 /* old records read at a time */

static const unsigned char v1_magic[4] = {'S', 'M', 'R', '1'};
static const unsigned char v2_magic[4] = {'S', 'M', 'R', '2'};

static int write_all(int fd, const unsigned char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, buf + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        done += (size_t)k;
    }
    return 0;
}

/*
 * An old segment: its first record starts with the old magic, or (when the
 * first one is damaged) some record at the old stride is intact. Records in
 * today's layout never pass the old CRC at the old offsets.
 */
static int is_old_segment(int fd, bool *ret)
{
    unsigned char buf[CHUNK * SPOOL_RECORD_V1_SIZE];
    struct reading r;
    *ret = false;
    ssize_t k = file_pread_full(fd, buf, 4, 0);
    if (k < 0)
        return (int)k;
    if (k < 4)
        return 0;
    if (memcmp(buf, v1_magic, 4) == 0 || memcmp(buf, v2_magic, 4) == 0) {
        *ret = memcmp(buf, v1_magic, 4) == 0;
        return 0;
    }
    for (off_t off = 0;; off += (off_t)sizeof(buf)) {
        k = file_pread_full(fd, buf, sizeof(buf), off);
        if (k < 0)
            return (int)k;
        for (ssize_t q = 0; q + SPOOL_RECORD_V1_SIZE <= k; q += SPOOL_RECORD_V1_SIZE) {
            if (spool_record_decode_v1(buf + q, &r) == 0) {
                *ret = true;
                return 0;
            }
        }
        if (k < (ssize_t)sizeof(buf))
            return 0;
    }
}

/* Writes the converted records of the old file in to the new file out. */
static int convert(int in, int out, struct spool_upgrade_result *res)
{
    unsigned char buf[CHUNK * SPOOL_RECORD_V1_SIZE];
    unsigned char rec[SPOOL_RECORD_SIZE];
    struct reading r;
    for (off_t off = 0;; off += (off_t)sizeof(buf)) {
        ssize_t k = file_pread_full(in, buf, sizeof(buf), off);
        if (k < 0)
            return (int)k;
        ssize_t q = 0;
        for (; q + SPOOL_RECORD_V1_SIZE <= k; q += SPOOL_RECORD_V1_SIZE) {
            if (spool_record_decode_v1(buf + q, &r)) {
                res->corrupt++;
                continue;
            }
            spool_record_encode(&r, rec);
            int w = write_all(out, rec, sizeof(rec));
            if (w)
                return w;
            res->records++;
        }
        if (q < k)
            res->corrupt++; /* a torn last record */
        if (k < (ssize_t)sizeof(buf))
            return 0;
    }
}

static int fsync_parent(const char *path)
{
    char dir[PATH_MAX_LEN];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) ? -errno : 0;
    close(fd);
    return r;
}

int spool_upgrade_segment(const char *path, struct spool_upgrade_result *ret)
{
    memset(ret, 0, sizeof(*ret));
    char tmp[PATH_MAX_LEN];
    if (snprintf(tmp, sizeof(tmp), "%s%s", path, TMP_SUFFIX) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    bool old = false;
    int r = is_old_segment(in, &old);
    if (r || !old) {
        close(in);
        /* A conversion that crashed before its rename left this behind. */
        if (r == 0 && unlink(tmp) && errno != ENOENT)
            r = -errno;
        return r;
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        r = -errno;
        close(in);
        return r;
    }
    struct spool_upgrade_result res = {0};
    r = convert(in, out, &res);
    if (r == 0 && fsync(out))
        r = -errno;
    if (close(out) && r == 0)
        r = -errno;
    close(in);
    if (r == 0 && rename(tmp, path))
        r = -errno;
    if (r) {
        unlink(tmp);
        return r;
    }
    res.converted = true;
    *ret = res;
    /* The rename is durable once the directory is; until then the old file may come back,
       and is then converted again. */
    return fsync_parent(path);
}
