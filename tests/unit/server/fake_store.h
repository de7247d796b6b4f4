/*
 * fake_store: an in-memory store behind the same ops table as the SQL store
 * (store_impl.h), for the unit tests of the components that keep their own
 * connection: the writer, ingest and retention. A test makes a fake
 * database, hands its store_source to the component, and injects an outage
 * instead of breaking a path on disk.
 *
 * What it keeps: devices (ids from 1, status, data_version) and readings,
 * unique on (device, seq), numbered like the SQL store (after the device's
 * highest stored and in-batch seq). The other operations are not there:
 * their ops entries are NULL, so a test that reaches one crashes at once.
 *
 * Every connection of one fake database sees the same data; all calls are
 * thread-safe. While the database is down, opening a connection fails and
 * every call on an open one answers -ENOTCONN.
 */
#ifndef SMARTMETER_TEST_FAKE_STORE_H
#define SMARTMETER_TEST_FAKE_STORE_H

#include <stdbool.h>

#include "store.h"

struct fake_db;

struct fake_db *fake_db_new(void);
/* Every connection must be closed first. NULL is fine. */
void fake_db_free(struct fake_db *db);

/* Where components open their connections to db. */
struct store_source fake_db_source(struct fake_db *db);
/* A connection for the test itself; -ENOTCONN while down. */
int fake_db_connect(struct fake_db *db, struct store **ret);

/*
 * A new fake database holding one device (its key in *ret_pk, 1) and a connection to it for
 * the test (*ret_conn), brought down when down is true. NULL on ENOMEM.
 */
struct fake_db *fake_db_with_device(const char *device_id, bool down, struct store **ret_conn,
                                    int64_t *ret_pk);

void fake_db_set_down(struct fake_db *db, bool down);
/* Opens and calls refused because the database was down. */
unsigned fake_db_refusals(struct fake_db *db);

#endif
