/*
 * spool_ranges: a bounded set of acknowledged seqs as sorted, disjoint,
 * inclusive ranges (neighbours merged). When adding a range would exceed the
 * capacity, the highest range is forgotten: for the spool that only means
 * those readings are resent. range_set_init() allocates, range_set_free()
 * releases (safe on a zeroed set).
 */
#ifndef SMARTMETER_METER_SPOOL_RANGES_H
#define SMARTMETER_METER_SPOOL_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h" /* struct ack_range */

struct range_set {
    struct ack_range *r; /* sorted, disjoint, not adjacent */
    size_t n, cap;
};

/* Returns 0 or -ENOMEM. */
int range_set_init(struct range_set *s, size_t cap);
void range_set_free(struct range_set *s);

/* Index of the first range with last >= seq (s->n when none). */
size_t range_find(const struct range_set *s, uint64_t seq);

/* The range holding seq, or NULL. */
const struct ack_range *range_holding(const struct range_set *s, uint64_t seq);

/* How many seqs of first..last the set covers. */
uint64_t range_overlap(const struct range_set *s, uint64_t first, uint64_t last);

/* Adds first..last (first >= 1), merging neighbours; returns the seqs newly covered. */
uint64_t range_add(struct range_set *s, uint64_t first, uint64_t last);

/* Removes every seq <= wm. */
void ranges_drop_below(struct range_set *s, uint64_t wm);

#endif
