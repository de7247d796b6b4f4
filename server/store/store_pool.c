#include "store_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct store_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *url;
    unsigned max, open;
    unsigned nidle;
    struct store **idle;
};

struct store_pool *store_pool_new(const char *url, unsigned max_connections)
{
    struct store_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->url = strdup(url);
    p->max = max_connections ? max_connections : 1;
    p->idle = calloc(p->max, sizeof(*p->idle));
    if (!p->url || !p->idle) {
        free(p->url);
        free(p->idle);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    return p;
}

void store_pool_free(struct store_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nidle; i++)
        store_close(p->idle[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->url);
    free(p);
}

struct store *store_pool_get(struct store_pool *p, char err[STORE_ERR_LEN])
{
    pthread_mutex_lock(&p->lock);
    while (p->nidle == 0 && p->open >= p->max)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->nidle > 0) {
        struct store *s = p->idle[--p->nidle];
        pthread_mutex_unlock(&p->lock);
        return s;
    }
    p->open++; /* reserve the slot, then connect without holding the lock */
    pthread_mutex_unlock(&p->lock);

    struct store *s = NULL;
    if (store_open(p->url, &s, err)) {
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return NULL;
    }
    return s;
}

void store_pool_put(struct store_pool *p, struct store *s, int last_result)
{
    if (!s)
        return;
    pthread_mutex_lock(&p->lock);
    if (last_result == -ENOTCONN) {
        p->open--;
        pthread_mutex_unlock(&p->lock);
        store_close(s);
        pthread_mutex_lock(&p->lock);
    } else {
        p->idle[p->nidle++] = s;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
