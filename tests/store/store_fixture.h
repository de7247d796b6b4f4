/*
 * The fresh store every storage suite starts from: the URL from the command
 * line (or STORE_URL), a sqlite file and its -wal/-shm removed first (a
 * MariaDB database is made empty by the runner, with-services.sh --fresh-db),
 * opened, and on request migrated and put on the UTC site zone.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include "store.h"

enum store_fixture_flags {
    STORE_FIXTURE_MIGRATE = 1 << 0, /* store_migrate once opened */
    STORE_FIXTURE_UTC = 1 << 1,     /* the site zone is UTC */
};

/* The URL given as argv[1] or STORE_URL; prints the usage and returns NULL without one. */
const char *store_fixture_url(int argc, char **argv);

/* Removes a sqlite database's files, opens url into *ret and applies flags.
 * 0, or -1 with the reason on stderr. */
int store_fixture_open(const char *url, unsigned flags, struct store **ret);

/* Another connection to the same database (for threads); NULL on failure. */
struct store *store_fixture_connect(const char *url);

/* Closes *s and forgets it. */
void store_fixture_close(struct store **s);

#endif
