/*
 * ratelimit: open addressing over a fixed table. A key's slots are the
 * PROBES slots after its keyed hash; it keeps the first one it gets until its
 * window ends, so a lookup scans the neighbourhood once.
 */
#include "ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define PROBES 16

struct slot {
    uint64_t hash; /* 0: never used */
    int64_t window_start_ms;
    uint32_t count;
};

struct ratelimit {
    pthread_mutex_t lock;
    uint8_t key[SIPHASH_KEY_LEN];
    size_t nslots;
    int64_t window_ms;
    uint32_t limit;
    struct slot slots[];
};

struct ratelimit *ratelimit_new_keyed(size_t slots, int64_t window_ms, uint32_t limit,
                                      const uint8_t key[SIPHASH_KEY_LEN])
{
    if (slots < PROBES)
        slots = PROBES;
    struct ratelimit *rl = calloc(1, sizeof(*rl) + slots * sizeof(struct slot));
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    memcpy(rl->key, key, SIPHASH_KEY_LEN);
    rl->nslots = slots;
    rl->window_ms = window_ms;
    rl->limit = limit;
    return rl;
}

/* A secret key from the kernel: getrandom(), else /dev/urandom. */
static int random_key(uint8_t key[SIPHASH_KEY_LEN])
{
    if (getrandom(key, SIPHASH_KEY_LEN, 0) == SIPHASH_KEY_LEN)
        return 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, key, SIPHASH_KEY_LEN);
    close(fd);
    return n == SIPHASH_KEY_LEN ? 0 : -EIO;
}

struct ratelimit *ratelimit_new(size_t slots, int64_t window_ms, uint32_t limit)
{
    uint8_t key[SIPHASH_KEY_LEN];
    if (random_key(key))
        return NULL;
    struct ratelimit *rl = ratelimit_new_keyed(slots, window_ms, limit, key);
    memset(key, 0, sizeof(key));
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

uint64_t ratelimit_key_hash(const struct ratelimit *rl, const char *key)
{
    uint64_t h = siphash24(rl->key, key, strlen(key));
    return h ? h : 1;
}

static bool live(const struct ratelimit *rl, const struct slot *s, int64_t now_ms)
{
    return s->hash != 0 && s->count > 0 && now_ms - s->window_start_ms < rl->window_ms;
}

/*
 * The slot holding hash h, or with create a free or stale one for it (its
 * window starting now). NULL when there is none; then *ret_retry_ms (with
 * create) is the time until the first live counter of the neighbourhood
 * ends. Called locked.
 */
static struct slot *find(struct ratelimit *rl, uint64_t h, int64_t now_ms, bool create,
                         int64_t *ret_retry_ms)
{
    struct slot *spare = NULL;
    int64_t soonest = rl->window_ms;
    for (size_t i = 0; i < PROBES; i++) {
        struct slot *s = &rl->slots[(h + i) % rl->nslots];
        if (s->hash == h)
            return s;
        if (!live(rl, s, now_ms)) {
            if (!spare)
                spare = s;
        } else if (s->window_start_ms + rl->window_ms - now_ms < soonest) {
            soonest = s->window_start_ms + rl->window_ms - now_ms;
        }
    }
    if (!create)
        return NULL;
    if (!spare) {
        *ret_retry_ms = soonest > 0 ? soonest : 1;
        return NULL;
    }
    *spare = (struct slot){.hash = h, .window_start_ms = now_ms};
    return spare;
}

/* The key's slot for an event at now_ms (a new window once the last one ended); locked. */
static struct slot *slot_now(struct ratelimit *rl, uint64_t h, int64_t now_ms,
                             int64_t *ret_retry_ms)
{
    struct slot *s = find(rl, h, now_ms, true, ret_retry_ms);
    if (s && now_ms - s->window_start_ms >= rl->window_ms) {
        s->window_start_ms = now_ms;
        s->count = 0;
    }
    return s;
}

int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
                   struct ratelimit_ticket *ret_ticket, int64_t *ret_retry_ms)
{
    uint64_t h = ratelimit_key_hash(rl, key);
    int64_t retry = 0;
    int r = 0;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = slot_now(rl, h, now_ms, &retry);
    if (!s) {
        r = -ENOSPC;
    } else if (s->count >= rl->limit) {
        retry = s->window_start_ms + rl->window_ms - now_ms;
        r = -EAGAIN;
    } else {
        s->count++;
        if (ret_ticket)
            *ret_ticket =
                (struct ratelimit_ticket){.hash = h, .window_start_ms = s->window_start_ms};
    }
    pthread_mutex_unlock(&rl->lock);
    if (r && ret_retry_ms)
        *ret_retry_ms = retry > 0 ? retry : 1;
    return r;
}

void ratelimit_refund(struct ratelimit *rl, const struct ratelimit_ticket *ticket)
{
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, ticket->hash, 0, false, NULL);
    if (s && s->window_start_ms == ticket->window_start_ms && s->count > 0)
        s->count--;
    pthread_mutex_unlock(&rl->lock);
}

bool ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms, uint32_t *ret_count)
{
    uint64_t h = ratelimit_key_hash(rl, key);
    int64_t retry;
    uint32_t count = 0;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = slot_now(rl, h, now_ms, &retry);
    if (s) {
        if (s->count < UINT32_MAX)
            s->count++;
        count = s->count;
    }
    pthread_mutex_unlock(&rl->lock);
    if (ret_count)
        *ret_count = count;
    return count > 0 && count <= rl->limit;
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
    uint64_t h = ratelimit_key_hash(rl, key);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, h, 0, false, NULL);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&rl->lock);
}
