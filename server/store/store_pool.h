/*
 * store_pool: hands database connections to threads. Connections are opened
 * on demand up to a maximum; a thread that finds all of them busy waits.
 * A connection that reported -ENOTCONN is closed instead of being reused,
 * so the next borrower gets a fresh one after a database restart.
 */
#ifndef SMARTMETER_STORE_POOL_H
#define SMARTMETER_STORE_POOL_H

#include "store.h"

struct store_pool;

/* Copies url. Opens nothing yet. Returns NULL on ENOMEM. */
struct store_pool *store_pool_new(const char *url, unsigned max_connections);
/* Closes every idle connection; all borrowed ones must have been returned. */
void store_pool_free(struct store_pool *p);

/* Borrows a connection; NULL (with err set) when the database cannot be reached. */
struct store *store_pool_get(struct store_pool *p, char err[STORE_ERR_LEN]);
/* Returns a connection; last_result is the last store call's result. */
void store_pool_put(struct store_pool *p, struct store *s, int last_result);

#endif
