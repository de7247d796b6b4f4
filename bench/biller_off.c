/*
 * The billing thread left out (bench/billing.sh's reference): biller.h's functions
 * doing nothing, linked into a meter-server built for the benchmark only, so the
 * same server can be measured with and without billing on the same work.
 * Never part of the product: the real thread is server/billing/biller.c.
 */
#include "biller.h"

struct biller {
    int unused;
};

static struct biller off;

int biller_start(const struct biller_options *opt, struct biller **ret, char *err, size_t errlen)
{
    (void)opt;
    (void)err;
    (void)errlen;
    *ret = &off;
    return 0;
}

void biller_notify(void *ctx, int64_t device_pk)
{
    (void)ctx;
    (void)device_pk;
}

int biller_flush(struct biller *b, int64_t timeout_ms)
{
    (void)b;
    (void)timeout_ms;
    return 0;
}

void biller_counters(struct biller *b, struct biller_counters *ret)
{
    (void)b;
    *ret = (struct biller_counters){0};
}

void biller_stop(struct biller *b)
{
    (void)b;
}
