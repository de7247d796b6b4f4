/*
 * pwpool: password hashing and verification (Argon2id: tens of milliseconds
 * and 64 MiB each) on threads of their own, so that no HTTP thread waits for
 * one and a flood of logins cannot slow the rest of the API.
 *
 * The queue is bounded: a job that finds it full is refused at once
 * (-EAGAIN; the caller answers 503), so however many logins arrive, the work
 * and memory held are at most threads x one hash plus the queue. The threads
 * run at a lower scheduling priority than the rest of the process (nice 10):
 * when the CPUs are busy, answering requests comes first.
 *
 * Ownership: the caller owns each job; the pool holds it from a successful
 * pwpool_submit() until it calls the job's done(), exactly once, on one of
 * its threads; done() may free the job.
 */
#ifndef SMARTMETER_PWPOOL_H
#define SMARTMETER_PWPOOL_H

#include <stdbool.h>

#include "store.h"

struct pwpool_job {
    /* In: what to do. verify and hash_password may be given together. */
    bool verify;               /* check password against verify_hash */
    const char *verify_hash;   /* the stored hash; NULL: spend one verification's time and fail */
    const char *password;      /* the password presented */
    const char *hash_password; /* hashed into new_hash (only when any verification passed) */
    /* Out, set before done() is called: */
    bool verified;
    int hash_result; /* 0, or a negative errno from auth_password_hash() */
    char new_hash[PASSWORD_HASH_MAX + 1];
    void (*done)(struct pwpool_job *job);
    struct pwpool_job *next; /* the pool's */
};

struct pwpool;

/* threads (>= 1) workers and room for queue_max (>= 1) waiting jobs. 0, -EINVAL or -ENOMEM. */
int pwpool_new(unsigned threads, unsigned queue_max, struct pwpool **ret);
/* 0 (done() will be called), -EAGAIN when the queue is full, -ESHUTDOWN when stopping. */
int pwpool_submit(struct pwpool *p, struct pwpool_job *job);
/* Jobs queued or running now (for /api/stats). */
unsigned pwpool_pending(struct pwpool *p);
/* Runs what is queued, then stops the threads and frees the pool. NULL is fine. */
void pwpool_free(struct pwpool *p);

#endif
