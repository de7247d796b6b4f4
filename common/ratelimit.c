#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PROBES 8

struct slot {
    uint64_t hash; /* 0 = empty */
    int64_t window_start_ms;
    uint32_t count;
};

struct ratelimit {
    pthread_mutex_t lock;
    size_t nslots;
    int64_t window_ms;
    uint32_t limit;
    struct slot slots[];
};

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *key; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

struct ratelimit *ratelimit_new(size_t slots, int64_t window_ms, uint32_t limit)
{
    if (slots < PROBES)
        slots = PROBES;
    struct ratelimit *rl = calloc(1, sizeof(*rl) + slots * sizeof(struct slot));
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->nslots = slots;
    rl->window_ms = window_ms;
    rl->limit = limit;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

/* The key's slot, or (create) the best slot to take over. Called locked. */
static struct slot *find(struct ratelimit *rl, uint64_t h, int64_t now_ms, bool create)
{
    struct slot *victim = NULL;
    for (size_t i = 0; i < PROBES; i++) {
        struct slot *s = &rl->slots[(h + i) % rl->nslots];
        if (s->hash == h)
            return s;
        bool stale = s->hash == 0 || now_ms - s->window_start_ms >= rl->window_ms;
        if (!victim || (stale && victim->hash != 0) ||
            (!stale && s->window_start_ms < victim->window_start_ms))
            victim = s;
    }
    if (!create)
        return NULL;
    victim->hash = h;
    victim->window_start_ms = now_ms;
    victim->count = 0;
    return victim;
}

bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms, uint32_t *ret_count,
                   int64_t *ret_retry_ms)
{
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, h, now_ms, true);
    if (now_ms - s->window_start_ms >= rl->window_ms) {
        s->window_start_ms = now_ms;
        s->count = 0;
    }
    if (s->count < UINT32_MAX)
        s->count++;
    uint32_t count = s->count;
    int64_t retry = s->window_start_ms + rl->window_ms - now_ms;
    pthread_mutex_unlock(&rl->lock);
    if (ret_count)
        *ret_count = count;
    if (ret_retry_ms)
        *ret_retry_ms = retry;
    return count <= rl->limit;
}

bool ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t now_ms, int64_t *ret_retry_ms)
{
    uint64_t h = hash_key(key);
    bool blocked = false;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, h, now_ms, false);
    if (s && now_ms - s->window_start_ms < rl->window_ms && s->count >= rl->limit) {
        blocked = true;
        if (ret_retry_ms)
            *ret_retry_ms = s->window_start_ms + rl->window_ms - now_ms;
    }
    pthread_mutex_unlock(&rl->lock);
    return blocked;
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, h, 0, false);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&rl->lock);
}
