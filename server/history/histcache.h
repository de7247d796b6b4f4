/*
 * histcache: finished answers of GET /api/device/data/:id, kept in memory.
 *
 * An entry is keyed by (device_pk, data_version, query): the device's
 * data_version (devices.data_version, store.h) moves in the same transaction
 * as every change to its readings, so an entry of an older version is never
 * looked up again and ages out. The query is the caller's normalised query
 * text; the caller decides which answers may be cached (only those whose
 * meaning cannot change while data_version stays). The cache is bounded by
 * the bytes it holds (bodies, queries and bookkeeping) and evicts the least
 * recently used entry first. Every function is thread-safe; a NULL cache (a
 * disabled one) is accepted everywhere and never hits.
 */
#ifndef SMARTMETER_HISTCACHE_H
#define SMARTMETER_HISTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

struct histcache;

struct histcache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t entries;
    size_t bytes, max_bytes;
};

/*
 * A cache holding at most max_bytes (> 0). Returns 0, -EINVAL for 0 bytes or
 * -ENOMEM. The caller frees it with histcache_free().
 */
int histcache_new(size_t max_bytes, struct histcache **ret);
/* Frees the cache and every entry; NULL is fine. No call may be running. */
void histcache_free(struct histcache *c);

/* FNV-1a 64 of the query text: the query part of an ETag. */
uint64_t histcache_query_hash(const char *query);

/*
 * Looks up (device_pk, version, query). On a hit appends a copy of the body
 * to out and returns 0 (or the dynbuf error, -E2BIG/-ENOMEM, leaving out as it
 * may be partly filled); on a miss returns -ENOENT. Counts hits and misses.
 */
int histcache_get(struct histcache *c, int64_t device_pk, int64_t version, const char *query,
                  struct dynbuf *out);

/*
 * Stores a copy of body (len bytes) under (device_pk, version, query),
 * replacing an entry of the same key, and evicts least recently used entries
 * until the total fits. Returns 0, -E2BIG when the entry alone is larger than
 * the cache (nothing stored), -ENOMEM, or -EINVAL for a NULL cache.
 */
int histcache_put(struct histcache *c, int64_t device_pk, int64_t version, const char *query,
                  const char *body, size_t len);

/* The counters so far; all zero for a NULL cache. */
void histcache_get_stats(struct histcache *c, struct histcache_stats *ret);

#endif
