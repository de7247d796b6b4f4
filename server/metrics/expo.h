/*
 * expo: the Prometheus text exposition format, version 0.0.4 (what GET
 * /metrics answers). A family is announced once with its HELP and TYPE
 * lines, then its samples follow; label values and HELP text are escaped as
 * the format requires (backslash, double quote, newline). Pure: it appends
 * to the caller's dynbuf and remembers the first error (the buffer's cap),
 * which expo_error() reports once at the end.
 */
#ifndef SMARTMETER_EXPO_H
#define SMARTMETER_EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "histogram.h"

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct expo {
    struct dynbuf *out; /* the caller's */
    int err;            /* the first append that failed (-E2BIG, -ENOMEM), or 0 */
};

struct expo_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not checked: ours, not a peer's */
    const char *value; /* anything; escaped */
};

void expo_init(struct expo *e, struct dynbuf *out);

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void expo_family(struct expo *e, const char *name, const char *type, const char *help);

/* One sample line: name{labels} value. */
void expo_u64(struct expo *e, const char *name, const struct expo_label *labels, size_t nlabels,
              uint64_t value);
void expo_double(struct expo *e, const char *name, const struct expo_label *labels, size_t nlabels,
                 double value);

/*
 * A histogram's samples (its family announced first): name_bucket{labels,le}
 * for each bound and +Inf (cumulative; +Inf is the count), name_sum in
 * seconds and name_count.
 */
void expo_histogram(struct expo *e, const char *name, const struct expo_label *labels,
                    size_t nlabels, const struct histogram_snapshot *s);

/* 0, or the first error an append met. */
int expo_error(const struct expo *e);

#endif
