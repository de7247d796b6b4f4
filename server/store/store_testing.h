/*
 * store_testing: a hook for tests only. The server never calls it; the store
 * contract tests use it to put rows (rollups) that another part of the
 * system writes in production, without a second database client.
 */
#ifndef SMARTMETER_STORE_TESTING_H
#define SMARTMETER_STORE_TESTING_H

#include "store.h"

/*
 * Runs sql (one statement, no parameters, no rows) on the store's
 * connection. Returns 0 or -EIO with store_errmsg() set.
 */
int store_testing_exec(struct store *s, const char *sql);

#endif
