/* The fresh store every storage suite starts from (store_fixture.h). */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sitetime.h"

const char *store_fixture_url(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : getenv("STORE_URL");
    if (!url || !*url) {
        fprintf(stderr, "usage: %s sqlite:PATH|mysql://...\n", argc > 0 ? argv[0] : "test");
        return NULL;
    }
    return url;
}

static void remove_sqlite_files(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0)
        return;
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s%s", url + 7, suffix[i]);
        if (n > 0 && (size_t)n < sizeof(path))
            unlink(path);
    }
}

int store_fixture_open(const char *url, unsigned flags, struct store **ret)
{
    char err[STORE_ERR_LEN];
    *ret = NULL;
    remove_sqlite_files(url);
    if (store_open(url, ret, err)) {
        fprintf(stderr, "cannot open %s: %s\n", url, err);
        *ret = NULL;
        return -1;
    }
    int applied = 0;
    if ((flags & STORE_FIXTURE_MIGRATE) && store_migrate(*ret, &applied)) {
        fprintf(stderr, "migrate: %s\n", store_errmsg(*ret));
        return -1;
    }
    if ((flags & STORE_FIXTURE_UTC) && sitetime_set_zone("UTC", err, sizeof(err))) {
        fprintf(stderr, "site zone: %s\n", err);
        return -1;
    }
    return 0;
}

struct store *store_fixture_connect(const char *url)
{
    struct store *s = NULL;
    char err[STORE_ERR_LEN];
    if (store_open(url, &s, err))
        return NULL;
    return s;
}

void store_fixture_close(struct store **s)
{
    if (*s)
        store_close(*s);
    *s = NULL;
}
