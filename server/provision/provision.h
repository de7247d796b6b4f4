/*
 * provision: bulk provisioning of devices, for `meter-server device import`
 * and POST /api/devices/import (docs/api.md "Importing devices"): a CSV
 * (device_csv.h) becomes devices, each with a new secret, added in ONE
 * transaction: all of them or none.
 *
 * A secret is what `device add` makes (auth_device_secret_new(): 32 random
 * bytes, stored as their hash): cheap, so 50,000 devices cost their
 * inserts, not their secrets. Each secret is handed to the caller once and
 * wiped from memory after.
 */
#ifndef SMARTMETER_PROVISION_H
#define SMARTMETER_PROVISION_H

#include <stddef.h>

#include "store.h"

#define PROVISION_ERR_LEN  256
#define PROVISION_MAX_ROWS 100000 /* devices one import adds at most */

/* Called for each device added, in the file's order, after the commit. */
typedef int (*provision_secret_cb)(const char *device_id, const char *secret, void *ctx);

/*
 * Imports the CSV text (len bytes) as user by (device_meta's updated_by).
 * Returns 0 after cb was called for each device (*ret_n of them), or:
 *   -EINVAL  the file or a row is wrong: err says "line N: why" (*ret_line N),
 *            -EEXIST and -ENOENT too (a device that exists, an owner who is
 *            not a user), each with its line; nothing was added
 *   -E2BIG   more than PROVISION_MAX_ROWS devices
 *   another  a store failure: err holds the store's message, *ret_line is 0
 * cb's own failure is returned after the import was committed.
 */
int provision_import(struct store *st, const char *text, size_t len, const char *by,
                     provision_secret_cb cb, void *ctx, size_t *ret_n, unsigned *ret_line,
                     char err[PROVISION_ERR_LEN]);

#endif
