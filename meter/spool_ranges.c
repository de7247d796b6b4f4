#include "spool_ranges.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int range_set_init(struct range_set *s, size_t cap)
{
    s->n = 0;
    s->cap = cap;
    s->r = malloc(cap * sizeof(*s->r));
    return s->r ? 0 : -ENOMEM;
}

void range_set_free(struct range_set *s)
{
    free(s->r);
    s->r = NULL;
    s->n = 0;
}

/* Index of the first range with last >= seq (nranges when none). */
size_t range_find(const struct range_set *s, uint64_t seq)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].last < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The acked range holding seq, or NULL. */
const struct ack_range *range_holding(const struct range_set *s, uint64_t seq)
{
    size_t i = range_find(s, seq);
    return i < s->n && s->r[i].first <= seq ? &s->r[i] : NULL;
}

/* Seqs in first..last covered by the ranges. */
uint64_t range_overlap(const struct range_set *s, uint64_t first, uint64_t last)
{
    uint64_t n = 0;
    for (size_t i = range_find(s, first); i < s->n && s->r[i].first <= last; i++) {
        uint64_t a = s->r[i].first > first ? s->r[i].first : first;
        uint64_t b = s->r[i].last < last ? s->r[i].last : last;
        n += b - a + 1;
    }
    return n;
}

/* Adds first..last (above the watermark), merging neighbours; returns the seqs newly covered. */
uint64_t range_add(struct range_set *s, uint64_t first, uint64_t last)
{
    uint64_t fresh = (last - first + 1) - range_overlap(s, first, last);
    size_t i = range_find(s, first > 0 ? first - 1 : 0); /* may merge with one ending at first-1 */
    size_t j = i;
    uint64_t a = first, b = last;
    while (j < s->n && s->r[j].first <= (b == UINT64_MAX ? b : b + 1)) {
        if (s->r[j].first < a)
            a = s->r[j].first;
        if (s->r[j].last > b)
            b = s->r[j].last;
        j++;
    }
    /* ranges[i..j) merge into one. */
    if (j == i) {
        if (s->n == s->cap) {
            /* Forget the highest range: those readings are only resent. */
            if (i == s->n)
                return 0;
            s->n--;
        }
        memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
        s->n++;
    } else if (j > i + 1) {
        memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
        s->n -= j - i - 1;
    }
    s->r[i] = (struct ack_range){a, b};
    return fresh;
}

void ranges_drop_below(struct range_set *s, uint64_t wm)
{
    size_t k = 0;
    while (k < s->n && s->r[k].last <= wm)
        k++;
    if (k) {
        memmove(&s->r[0], &s->r[k], (s->n - k) * sizeof(*s->r));
        s->n -= k;
    }
    if (s->n && s->r[0].first <= wm)
        s->r[0].first = wm + 1;
}
