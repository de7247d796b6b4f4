#include "alloc_count.h"

#include <stdatomic.h>

static atomic_uint_fast64_t allocations;

uint64_t alloc_count(void)
{
    return atomic_load(&allocations);
}

void *__wrap_malloc(size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_realloc(p, size);
}
