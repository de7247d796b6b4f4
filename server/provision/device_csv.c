/*
 * device_csv: parsing of a bulk import's CSV (device_csv.h). The text is
 * copied once and unquoted in place: a field never grows, so each one is
 * written over its own bytes and ended with a NUL where its separator was.
 */
#include "device_csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "topic.h"

#define MAX_COLUMNS 8

enum column { COL_DEVICE_ID, COL_OWNER, COL_NAME, COL_SITE, COL__COUNT, COL_NONE = -1 };
static const char *const column_names[COL__COUNT] = {"device_id", "owner", "name", "site"};

struct cursor {
    char *p, *end; /* read position in the copy, and its end (a NUL is at *end) */
    unsigned line;
    char *err;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
    int n = snprintf(c->err, DEVICE_CSV_ERR_LEN, "line %u: ", c->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, DEVICE_CSV_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/*
 * Reads one field into place; *ret is its text (NUL-ended) and *ret_last
 * whether the record ended after it (a line end or the end of the text).
 */
static int read_field(struct cursor *c, char **ret, bool *ret_last)
{
    char *w = c->p, *start = c->p;
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        for (;;) {
            if (c->p == c->end)
                return fail(c, "a quoted field is not closed");
            char ch = *c->p++;
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                    *w++ = '"';
                    continue;
                }
                break;
            }
            if (ch == '\0')
                return fail(c, "a NUL byte");
            if (ch == '\n')
                c->line++;
            *w++ = ch;
        }
    } else {
        while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
            if (*c->p == '"')
                return fail(c, "a quote inside a field that does not start with one");
            if (*c->p == '\0')
                return fail(c, "a NUL byte");
            *w++ = *c->p++;
        }
    }
    /* What ends the field. */
    bool last;
    if (c->p == c->end) {
        last = true;
    } else if (*c->p == ',') {
        c->p++;
        last = false;
    } else if (*c->p == '\n') {
        c->p++;
        last = true;
    } else if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
        c->p += 2;
        last = true;
    } else {
        return fail(c, "%s",
                    *c->p == '\r' ? "a carriage return without a line feed"
                                  : "text after a closing quote");
    }
    *w = '\0'; /* w < c->p here, or w == c->end, where the copy has its NUL */
    *ret = start;
    *ret_last = last;
    return 0;
}

/* Reads a record's fields (at most MAX_COLUMNS). */
static int read_record(struct cursor *c, char *fields[MAX_COLUMNS], unsigned *ret_n)
{
    unsigned n = 0;
    bool last = false;
    while (!last) {
        char *f = NULL;
        int r = read_field(c, &f, &last);
        if (r)
            return r;
        if (n == MAX_COLUMNS)
            return fail(c, "more than %d fields", MAX_COLUMNS);
        fields[n++] = f;
    }
    *ret_n = n;
    return 0;
}

/* Skips empty lines; whether a record follows. */
static bool skip_blank(struct cursor *c)
{
    for (;;) {
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        } else if (c->p + 1 < c->end && c->p[0] == '\r' && c->p[1] == '\n') {
            c->p += 2;
            c->line++;
        } else {
            return c->p < c->end;
        }
    }
}

/* Whether the record at the cursor starts with a column's name (quoted or not). */
static bool starts_with_header(const struct cursor *c)
{
    const char *p = c->p;
    bool quoted = p < c->end && *p == '"';
    p += quoted;
    for (int k = 0; k < COL__COUNT; k++) {
        size_t len = strlen(column_names[k]);
        const char *q = p;
        if ((size_t)(c->end - q) < len || memcmp(q, column_names[k], len) != 0)
            continue;
        q += len;
        if (quoted && (q == c->end || *q++ != '"'))
            continue;
        if (q == c->end || *q == ',' || *q == '\n' || *q == '\r')
            return true;
    }
    return false;
}

/*
 * The header line, or none: a file whose first line does not start with a column's name
 * has the columns device_id[,owner] (the contract's `device import`), *ret_n 0.
 */
static int read_header(struct cursor *c, enum column map[MAX_COLUMNS], unsigned *ret_n)
{
    char *fields[MAX_COLUMNS];
    unsigned n;
    if (!skip_blank(c))
        return fail(c,
                    "no devices (a header line device_id,owner,name,site, then a device a line)");
    if (!starts_with_header(c)) {
        map[0] = COL_DEVICE_ID;
        map[1] = COL_OWNER;
        *ret_n = 0;
        return 0;
    }
    int r = read_record(c, fields, &n);
    if (r)
        return r;
    bool seen[COL__COUNT] = {false};
    for (unsigned i = 0; i < n; i++) {
        map[i] = COL_NONE;
        for (int k = 0; k < COL__COUNT; k++)
            if (strcmp(fields[i], column_names[k]) == 0)
                map[i] = (enum column)k;
        if (map[i] == COL_NONE)
            return fail(c, "unknown column '%.40s' (device_id, owner, name, site)", fields[i]);
        if (seen[map[i]])
            return fail(c, "column %s twice", column_names[map[i]]);
        seen[map[i]] = true;
    }
    if (!seen[COL_DEVICE_ID])
        return fail(c, "no device_id column");
    *ret_n = n;
    c->line++;
    return 0;
}

static int add_row(struct device_csv *out, size_t *cap, size_t max_rows,
                   const struct device_csv_row *row)
{
    if (out->n == max_rows)
        return -E2BIG;
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        if (ncap > max_rows)
            ncap = max_rows;
        struct device_csv_row *p = realloc(out->rows, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        out->rows = p;
        *cap = ncap;
    }
    out->rows[out->n++] = *row;
    return 0;
}

int device_csv_parse(const char *text, size_t len, size_t max_rows, struct device_csv *ret,
                     char err[DEVICE_CSV_ERR_LEN])
{
    struct device_csv out = {0};
    size_t cap = 0;
    err[0] = '\0';
    out.buf = malloc(len + 1);
    if (!out.buf)
        return -ENOMEM;
    memcpy(out.buf, text, len);
    out.buf[len] = '\0';
    struct cursor c = {.p = out.buf, .end = out.buf + len, .line = 1, .err = err};
    /* A spreadsheet's "CSV UTF-8" starts with a byte order mark. */
    if (len >= 3 && memcmp(c.p, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;
    enum column map[MAX_COLUMNS];
    unsigned ncols = 0;
    int r = read_header(&c, map, &ncols);
    while (!r && skip_blank(&c)) {
        char *fields[MAX_COLUMNS];
        unsigned n, line = c.line;
        r = read_record(&c, fields, &n);
        if (r)
            break;
        /* Errors name the line the row starts on; a quoted line end moved c.line past it. */
        unsigned after = c.line;
        c.line = line;
        if (ncols ? n != ncols : n > 2) {
            r = ncols ? fail(&c, "%u fields where the header has %u", n, ncols)
                      : fail(&c, "%u fields: without a header line a row is device_id[,owner]", n);
            break;
        }
        struct device_csv_row row = {.line = line};
        for (unsigned i = 0; i < n; i++) {
            const char *v = fields[i][0] ? fields[i] : NULL;
            switch (map[i]) {
            case COL_DEVICE_ID:
                row.device_id = v;
                break;
            case COL_OWNER:
                row.owner = v;
                break;
            case COL_NAME:
                row.name = v;
                break;
            case COL_SITE:
                row.site = v;
                break;
            default:
                break;
            }
        }
        if (!row.device_id || !device_id_valid(row.device_id))
            r = fail(&c, "device_id must be 1 to %d of A-Z a-z 0-9 _ - . :", DEVICE_ID_MAX);
        else if (row.owner && !username_valid(row.owner))
            r = fail(&c, "owner '%.40s' is not a valid user name", row.owner);
        if (!r) {
            r = add_row(&out, &cap, max_rows, &row);
            if (r == -E2BIG)
                fail(&c, "more than %zu devices", max_rows);
        }
        c.line = after + 1;
    }
    if (r) {
        device_csv_free(&out);
        return r;
    }
    *ret = out;
    return 0;
}

void device_csv_free(struct device_csv *c)
{
    if (!c)
        return;
    free(c->rows);
    free(c->buf);
    c->rows = NULL;
    c->buf = NULL;
    c->n = 0;
}
