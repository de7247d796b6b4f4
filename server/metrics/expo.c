#include "expo.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expo_init(struct expo *e, struct dynbuf *out)
{
    e->out = out;
    e->err = 0;
}

int expo_error(const struct expo *e)
{
    return e->err;
}

static void put(struct expo *e, const char *s, size_t n)
{
    if (!e->err && n)
        e->err = dynbuf_add(e->out, s, n);
}

static void puts_(struct expo *e, const char *s)
{
    put(e, s, strlen(s));
}

/* s with backslash and newline escaped, and double quote too when quote. */
static void escaped(struct expo *e, const char *s, bool quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (*s == '"' && quote)
            rep = "\\\"";
        if (!rep)
            continue;
        put(e, run, (size_t)(s - run));
        puts_(e, rep);
        run = s + 1;
    }
    put(e, run, (size_t)(s - run));
}

void expo_family(struct expo *e, const char *name, const char *type, const char *help)
{
    puts_(e, "# HELP ");
    puts_(e, name);
    puts_(e, " ");
    escaped(e, help, false);
    puts_(e, "\n# TYPE ");
    puts_(e, name);
    puts_(e, " ");
    puts_(e, type);
    puts_(e, "\n");
}

/* name{a="x",b="y"} with an optional extra label (le) last; no braces without labels. */
static void series(struct expo *e, const char *name, const char *suffix,
                   const struct expo_label *labels, size_t nlabels, const struct expo_label *extra)
{
    puts_(e, name);
    puts_(e, suffix);
    if (!nlabels && !extra)
        return;
    puts_(e, "{");
    for (size_t i = 0; i < nlabels + (extra != NULL); i++) {
        const struct expo_label *l = i < nlabels ? &labels[i] : extra;
        if (i)
            puts_(e, ",");
        puts_(e, l->name);
        puts_(e, "=\"");
        escaped(e, l->value ? l->value : "", true);
        puts_(e, "\"");
    }
    puts_(e, "}");
}

static void value_u64(struct expo *e, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), " %" PRIu64 "\n", v);
    put(e, num, (size_t)n);
}

static void value_double(struct expo *e, double v)
{
    char num[48];
    int n;
    if (isnan(v))
        n = snprintf(num, sizeof(num), " NaN\n");
    else if (isinf(v))
        n = snprintf(num, sizeof(num), " %sInf\n", v > 0 ? "+" : "-");
    else {
        /* the shortest of 15 or 17 digits that reads back as v */
        n = snprintf(num, sizeof(num), " %.15g\n", v);
        if (strtod(num, NULL) != v)
            n = snprintf(num, sizeof(num), " %.17g\n", v);
    }
    put(e, num, (size_t)n);
}

void expo_u64(struct expo *e, const char *name, const struct expo_label *labels, size_t nlabels,
              uint64_t value)
{
    series(e, name, "", labels, nlabels, NULL);
    value_u64(e, value);
}

void expo_double(struct expo *e, const char *name, const struct expo_label *labels, size_t nlabels,
                 double value)
{
    series(e, name, "", labels, nlabels, NULL);
    value_double(e, value);
}

void expo_histogram(struct expo *e, const char *name, const struct expo_label *labels,
                    size_t nlabels, const struct histogram_snapshot *s)
{
    for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
        char le[32];
        if (b < HISTOGRAM_BOUNDS)
            snprintf(le, sizeof(le), "%g", (double)histogram_bounds_ns[b] / 1e9);
        else
            snprintf(le, sizeof(le), "+Inf");
        struct expo_label l = {"le", le};
        series(e, name, "_bucket", labels, nlabels, &l);
        value_u64(e, b < HISTOGRAM_BOUNDS ? s->cumulative[b] : s->count);
    }
    series(e, name, "_sum", labels, nlabels, NULL);
    value_double(e, (double)s->sum_ns / 1e9);
    series(e, name, "_count", labels, nlabels, NULL);
    value_u64(e, s->count);
}
