/*
 * devcache: what an upload needs to know about a device (its key and secret
 * hash), kept in memory for a short time so an upload does not cost a
 * database round trip before its readings are even queued.
 *
 * Entries live at most ttl_ms: a device removed or given a new secret by
 * another instance or by hand is seen within that time. Unknown devices are
 * never cached (one may be registered at any moment). The table is a fixed
 * number of slots; a full neighbourhood gives up its oldest entry. Every
 * function is thread-safe; a NULL cache (a disabled one) never hits.
 */
#ifndef SMARTMETER_DEVCACHE_H
#define SMARTMETER_DEVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sign.h"
#include "store.h"

struct devcache;

/* A cache of at most slots entries (> 0) that live ttl_ms (> 0). 0, -EINVAL or -ENOMEM. */
int devcache_new(size_t slots, int64_t ttl_ms, struct devcache **ret);
void devcache_free(struct devcache *c); /* NULL is fine */

/*
 * Copies the device's id, device_id and secret_hash (only those) into ret
 * when an entry younger than the TTL at now_ms exists: 0, else -ENOENT.
 * With ret_key, also the signing key of its acks (sign_key_from_hex() of the
 * hash, derived once when the entry was put) and *ret_keyed whether the hash
 * gave one.
 */
int devcache_get(struct devcache *c, const char *device_id, int64_t now_ms, struct device_rec *ret,
                 struct sign_key *ret_key, bool *ret_keyed);
/* Remembers d (read from the database at now_ms). */
void devcache_put(struct devcache *c, const struct device_rec *d, int64_t now_ms);
/* Forgets device_id, e.g. after a secret was refused against a cached hash. */
void devcache_forget(struct devcache *c, const char *device_id);

#endif
