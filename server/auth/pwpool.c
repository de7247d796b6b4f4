/* pwpool: a FIFO of jobs under one mutex, and worker threads that take them (pwpool.h). */
#include "pwpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "auth.h"
#include "threadprio.h"

#define WORKER_NICE 10

struct pwpool {
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct pwpool_job *head, *tail;
    unsigned queued, running, queue_max;
    bool stopping;
    unsigned nthreads;
    pthread_t threads[];
};

static void run(struct pwpool_job *job)
{
    bool may_hash = true;
    if (job->verify) {
        if (job->verify_hash) {
            job->verified = auth_password_verify(job->verify_hash, job->password);
        } else {
            auth_password_burn(job->password);
            job->verified = false;
        }
        may_hash = job->verified;
    }
    job->hash_result = -EPERM;
    if (job->hash_password && may_hash)
        job->hash_result = auth_password_hash(job->hash_password, job->new_hash);
}

static void *worker(void *arg)
{
    struct pwpool *p = arg;
    (void)thread_set_nice(WORKER_NICE);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->work, &p->mu);
        struct pwpool_job *job = p->head;
        if (!job)
            break; /* stopping, and nothing left to run */
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        run(job);
        job->done(job);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pwpool_new(unsigned threads, unsigned queue_max, struct pwpool **ret)
{
    if (threads == 0 || queue_max == 0 || threads > 256)
        return -EINVAL;
    struct pwpool *p = calloc(1, sizeof(*p) + threads * sizeof(pthread_t));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    p->queue_max = queue_max;
    for (; p->nthreads < threads; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p)) {
            pwpool_free(p);
            return -ENOMEM;
        }
    }
    *ret = p;
    return 0;
}

int pwpool_submit(struct pwpool *p, struct pwpool_job *job)
{
    int r = 0;
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping)
        r = -ESHUTDOWN;
    else if (p->queued >= p->queue_max)
        r = -EAGAIN;
    if (!r) {
        if (p->tail)
            p->tail->next = job;
        else
            p->head = job;
        p->tail = job;
        p->queued++;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

unsigned pwpool_pending(struct pwpool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    unsigned n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pwpool_free(struct pwpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
