#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tmpdir_make(char dir[TMPDIR_PATH_MAX], const char *name)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir, TMPDIR_PATH_MAX, "%s/%s.XXXXXX", base && *base ? base : "/tmp", name);
    if (n < 0 || n >= TMPDIR_PATH_MAX)
        return -ENAMETOOLONG;
    return mkdtemp(dir) ? 0 : -errno;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) ? -errno : 0;
}

int tmpdir_remove(const char *dir)
{
    if (!dir || !*dir)
        return 0;
    return nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}
