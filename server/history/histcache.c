#include "histcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

struct entry {
    struct entry *next_in_bucket;
    struct entry *lru_prev, *lru_next; /* lru_prev: more recently used */
    uint64_t hash;
    int64_t device_pk, version;
    size_t cost; /* what the entry counts against max_bytes */
    size_t body_len;
    char *body;
    char query[]; /* NUL-terminated */
};

struct histcache {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets;                   /* a power of two */
    struct entry *lru_head, *lru_tail; /* head: most recently used */
    struct histcache_stats st;
};

uint64_t histcache_query_hash(const char *query)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)query; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t key_hash(int64_t device_pk, int64_t version, const char *query)
{
    uint64_t h = histcache_query_hash(query);
    h ^= (uint64_t)device_pk * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)version * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    return h;
}

int histcache_new(size_t max_bytes, struct histcache **ret)
{
    if (max_bytes == 0)
        return -EINVAL;
    struct histcache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->buckets = calloc(INITIAL_BUCKETS, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return -ENOMEM;
    }
    c->nbuckets = INITIAL_BUCKETS;
    c->st.max_bytes = max_bytes;
    pthread_mutex_init(&c->lock, NULL);
    *ret = c;
    return 0;
}

void histcache_free(struct histcache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->lru_head, *next; e; e = next) {
        next = e->lru_next;
        free(e->body);
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct entry **find_slot(struct histcache *c, uint64_t hash, int64_t device_pk,
                                int64_t version, const char *query)
{
    struct entry **p = &c->buckets[hash & (c->nbuckets - 1)];
    for (; *p; p = &(*p)->next_in_bucket) {
        const struct entry *e = *p;
        if (e->hash == hash && e->device_pk == device_pk && e->version == version &&
            strcmp(e->query, query) == 0)
            break;
    }
    return p;
}

static void lru_unlink(struct histcache *c, struct entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct histcache *c, struct entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

/* Unlinks e from its bucket and the LRU list and frees it. */
static void drop(struct histcache *c, struct entry *e)
{
    struct entry **p = find_slot(c, e->hash, e->device_pk, e->version, e->query);
    *p = e->next_in_bucket;
    lru_unlink(c, e);
    c->st.bytes -= e->cost;
    c->st.entries--;
    free(e->body);
    free(e);
}

/* Doubles the bucket array when entries outnumber buckets; on no memory keeps the old one. */
static void maybe_grow(struct histcache *c)
{
    if (c->st.entries <= c->nbuckets)
        return;
    size_t n = c->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next_in_bucket;
            e->next_in_bucket = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

int histcache_get(struct histcache *c, int64_t device_pk, int64_t version, const char *query,
                  struct dynbuf *out)
{
    if (!c)
        return -ENOENT;
    uint64_t hash = key_hash(device_pk, version, query);
    pthread_mutex_lock(&c->lock);
    struct entry *e = *find_slot(c, hash, device_pk, version, query);
    int r = -ENOENT;
    if (e) {
        c->st.hits++;
        lru_unlink(c, e);
        lru_push_front(c, e);
        r = dynbuf_add(out, e->body, e->body_len);
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

int histcache_put(struct histcache *c, int64_t device_pk, int64_t version, const char *query,
                  const char *body, size_t len)
{
    if (!c)
        return -EINVAL;
    size_t qlen = strlen(query);
    size_t cost = sizeof(struct entry) + qlen + 1 + len;
    if (cost > c->st.max_bytes) /* max_bytes never changes: no lock needed */
        return -E2BIG;
    struct entry *e = malloc(sizeof(*e) + qlen + 1);
    char *copy = malloc(len ? len : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return -ENOMEM;
    }
    memcpy(copy, body, len);
    memcpy(e->query, query, qlen + 1);
    e->body = copy;
    e->body_len = len;
    e->cost = cost;
    e->device_pk = device_pk;
    e->version = version;
    e->hash = key_hash(device_pk, version, query);
    e->lru_prev = e->lru_next = NULL;

    pthread_mutex_lock(&c->lock);
    struct entry *old = *find_slot(c, e->hash, device_pk, version, query);
    if (old)
        drop(c, old);
    while (c->st.bytes + cost > c->st.max_bytes && c->lru_tail) {
        drop(c, c->lru_tail);
        c->st.evictions++;
    }
    struct entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->next_in_bucket = *b;
    *b = e;
    lru_push_front(c, e);
    c->st.bytes += cost;
    c->st.entries++;
    c->st.inserts++;
    maybe_grow(c);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void histcache_get_stats(struct histcache *c, struct histcache_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *ret = c->st;
    pthread_mutex_unlock(&c->lock);
}
