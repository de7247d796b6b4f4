/*
 * alloc_count: counts heap allocations made by the code linked into a test
 * (link with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc), so a test can
 * pin that a sample path allocates nothing. Counts from every thread.
 */
#ifndef SMARTMETER_TEST_ALLOC_COUNT_H
#define SMARTMETER_TEST_ALLOC_COUNT_H

#include <stddef.h>
#include <stdint.h>

uint64_t alloc_count(void);

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

#endif
