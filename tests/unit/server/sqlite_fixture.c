#include "sqlite_fixture.h"

#include <stdio.h>
#include <string.h>

int sqlite_fixture_open(struct sqlite_fixture *f, const char *name, const char *const *devices,
                        int64_t *pks)
{
    char err[STORE_ERR_LEN] = "";
    int applied;
    memset(f, 0, sizeof(*f));
    if (tmpdir_make(f->dir, name)) {
        fprintf(stderr, "%s: cannot make a folder\n", name);
        return -1;
    }
    snprintf(f->url, sizeof(f->url), "sqlite:%s/test.db", f->dir);
    if (store_open(f->url, &f->st, err) || store_migrate(f->st, &applied)) {
        fprintf(stderr, "%s: %s\n", name, f->st ? store_errmsg(f->st) : err);
        return -1;
    }
    for (size_t k = 0; devices && devices[k]; k++) {
        if (store_device_add(f->st, devices[k], FIXTURE_HASH, 0, &pks[k])) {
            fprintf(stderr, "%s: %s\n", name, store_errmsg(f->st));
            return -1;
        }
    }
    return 0;
}

void sqlite_fixture_close(struct sqlite_fixture *f)
{
    store_close(f->st);
    f->st = NULL;
    tmpdir_remove(f->dir);
}

struct store_source sqlite_fixture_source(const struct sqlite_fixture *f)
{
    return (struct store_source){.url = f->url};
}
