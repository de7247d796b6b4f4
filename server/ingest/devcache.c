/*
 * devcache: a fixed table of slots under one mutex, probed linearly over a
 * short neighbourhood from the id's hash.
 */
#include "devcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 8 /* slots looked at from an id's home slot */

struct slot {
    int64_t pk; /* 0: empty */
    int64_t fetched_ms;
    char device_id[DEVICE_ID_MAX + 1];
    char secret_hash[SECRET_HASH_LEN + 1];
    bool keyed; /* key holds what sign_key_from_hex() derives from secret_hash */
    struct sign_key key;
};

struct devcache {
    pthread_mutex_t mu;
    int64_t ttl_ms;
    size_t n;
    struct slot slots[];
};

int devcache_new(size_t slots, int64_t ttl_ms, struct devcache **ret)
{
    *ret = NULL;
    if (slots == 0 || ttl_ms <= 0 || slots > ((size_t)1 << 24))
        return -EINVAL;
    struct devcache *c = calloc(1, sizeof(*c) + slots * sizeof(struct slot));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->ttl_ms = ttl_ms;
    c->n = slots;
    *ret = c;
    return 0;
}

void devcache_free(struct devcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    for (size_t k = 0; k < c->n; k++)
        sign_key_wipe(&c->slots[k].key);
    free(c);
}

static size_t home(const struct devcache *c, const char *id)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % c->n);
}

/* The slot holding device_id, or NULL; under the mutex. */
static struct slot *find(struct devcache *c, const char *device_id)
{
    size_t h = home(c, device_id);
    for (size_t k = 0; k < PROBE && k < c->n; k++) {
        struct slot *s = &c->slots[(h + k) % c->n];
        if (s->pk != 0 && strcmp(s->device_id, device_id) == 0)
            return s;
    }
    return NULL;
}

int devcache_get(struct devcache *c, const char *device_id, int64_t now_ms, struct device_rec *ret,
                 struct sign_key *ret_key, bool *ret_keyed)
{
    if (!c || strlen(device_id) > DEVICE_ID_MAX)
        return -ENOENT;
    int r = -ENOENT;
    pthread_mutex_lock(&c->mu);
    struct slot *s = find(c, device_id);
    if (s && now_ms - s->fetched_ms >= 0 && now_ms - s->fetched_ms < c->ttl_ms) {
        memset(ret, 0, sizeof(*ret));
        ret->id = s->pk;
        memcpy(ret->device_id, s->device_id, sizeof(ret->device_id));
        memcpy(ret->secret_hash, s->secret_hash, sizeof(ret->secret_hash));
        if (ret_key && (*ret_keyed = s->keyed))
            *ret_key = s->key;
        r = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

void devcache_put(struct devcache *c, const struct device_rec *d, int64_t now_ms)
{
    if (!c || d->id == 0 || strlen(d->device_id) > DEVICE_ID_MAX ||
        strlen(d->secret_hash) > SECRET_HASH_LEN)
        return;
    pthread_mutex_lock(&c->mu);
    struct slot *s = find(c, d->device_id);
    if (!s) {
        /* An empty slot of the neighbourhood, else its oldest entry. */
        size_t h = home(c, d->device_id);
        for (size_t k = 0; k < PROBE && k < c->n; k++) {
            struct slot *t = &c->slots[(h + k) % c->n];
            if (t->pk == 0) {
                s = t;
                break;
            }
            if (!s || t->fetched_ms < s->fetched_ms)
                s = t;
        }
    }
    s->pk = d->id;
    s->fetched_ms = now_ms;
    snprintf(s->device_id, sizeof(s->device_id), "%s", d->device_id);
    snprintf(s->secret_hash, sizeof(s->secret_hash), "%s", d->secret_hash);
    s->keyed = sign_key_from_hex(s->secret_hash, &s->key) == 0;
    pthread_mutex_unlock(&c->mu);
}

void devcache_forget(struct devcache *c, const char *device_id)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    struct slot *s = find(c, device_id);
    if (s) {
        sign_key_wipe(&s->key);
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&c->mu);
}
