/*
 * sqlite_fixture: a migrated SQLite database in a fresh folder, with
 * devices, for the server's unit tests that store for real (ingest, the
 * writer). The folder and the database go away with sqlite_fixture_close().
 */
#ifndef SMARTMETER_TEST_SQLITE_FIXTURE_H
#define SMARTMETER_TEST_SQLITE_FIXTURE_H

#include <stdint.h>

#include "store.h"
#include "tmpdir.h"

#define FIXTURE_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct sqlite_fixture {
    char dir[TMPDIR_PATH_MAX];
    char url[TMPDIR_PATH_MAX + 32]; /* sqlite:<dir>/test.db */
    struct store *st;               /* the test's own connection */
};

/*
 * Makes the folder <name>.XXXXXX and the database in it, and adds the
 * devices named in devices (NULL-terminated; their keys into pks). 0, or -1
 * with what failed on stderr.
 */
int sqlite_fixture_open(struct sqlite_fixture *f, const char *name, const char *const *devices,
                        int64_t *pks);
/* Closes the connection and removes the folder. */
void sqlite_fixture_close(struct sqlite_fixture *f);
/* Where components open their own connections to it. */
struct store_source sqlite_fixture_source(const struct sqlite_fixture *f);

#endif
