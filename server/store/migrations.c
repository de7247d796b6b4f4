/*
 * migrations: counting and splitting the embedded migration scripts
 * (migrations.h). Pure.
 */
#include "migrations.h"

#include <stdbool.h>
#include <string.h>

#include "dynbuf.h"

int migrations_latest(const struct migration *m)
{
    int n = 0;
    while (m[n].sql)
        n++;
    return n;
}

int migrations_split(const char *sql, int (*fn)(const char *stmt, void *ctx), void *ctx)
{
    struct dynbuf stmt;
    int r = 0;
    dynbuf_init(&stmt, 1 << 20);
    const char *p = sql;
    while (*p && !r) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        /* Skip comment-only lines so a ';' in a comment cannot end a statement. */
        const char *t = p;
        while (t < p + len && (*t == ' ' || *t == '\t'))
            t++;
        bool comment = (size_t)(p + len - t) >= 2 && t[0] == '-' && t[1] == '-';
        if (!comment) {
            r = dynbuf_add(&stmt, p, len);
            if (!r)
                r = dynbuf_addc(&stmt, '\n');
            const char *e = p + len;
            while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            if (!r && e > p && e[-1] == ';') {
                /* drop the ';' and what follows it on this line */
                size_t tail = (size_t)(p + len - e) + 2;
                stmt.len -= tail;
                stmt.buf[stmt.len] = '\0';
                r = fn(stmt.buf, ctx);
                dynbuf_reset(&stmt);
            }
        }
        p += len + (eol ? 1 : 0);
    }
    if (!r) {
        const char *q = dynbuf_str(&stmt);
        while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r')
            q++;
        if (*q)
            r = fn(q, ctx);
    }
    dynbuf_free(&stmt);
    return r;
}
