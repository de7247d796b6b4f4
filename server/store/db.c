/*
 * db: what every driver shares: the dialect's token expansion (db.h).
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dynbuf.h"

/* SQL text is ours, never a peer's; this only bounds a programmer's mistake. */
#define SQL_TEXT_MAX ((size_t)1 << 20)

static const struct db_token *lookup(const struct db_token *dialect, const char *name, size_t len)
{
    for (const struct db_token *t = dialect; t->name; t++)
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

/* Appends text with each '%' replaced by arg (len bytes). */
static int add_with_arg(struct dynbuf *b, const char *text, const char *arg, size_t len)
{
    int r = 0;
    for (const char *p = text; *p && !r; p++)
        r = *p == '%' ? dynbuf_add(b, arg, len) : dynbuf_addc(b, *p);
    return r;
}

int db_expand(const struct db_token *dialect, const char *sql, char **ret, char err[DB_ERR_LEN])
{
    struct dynbuf b;
    int r = 0;
    dynbuf_init(&b, SQL_TEXT_MAX);
    const char *p = sql;
    while (*p && !r) {
        const char *open = strchr(p, '{');
        if (!open) {
            r = dynbuf_addstr(&b, p);
            break;
        }
        const char *close = strchr(open, '}');
        r = dynbuf_add(&b, p, (size_t)(open - p));
        if (r)
            break;
        if (!close) {
            snprintf(err, DB_ERR_LEN, "SQL has an unterminated token: %.40s", open);
            r = -EINVAL;
            break;
        }
        const char *colon = memchr(open, ':', (size_t)(close - open));
        const char *name_end = colon ? colon : close;
        const struct db_token *t = lookup(dialect, open + 1, (size_t)(name_end - open - 1));
        if (!t) {
            snprintf(err, DB_ERR_LEN, "the dialect has no token %.*s", (int)(close - open + 1),
                     open);
            r = -EINVAL;
            break;
        }
        if (colon)
            r = add_with_arg(&b, t->text, colon + 1, (size_t)(close - colon - 1));
        else
            r = dynbuf_addstr(&b, t->text);
        p = close + 1;
    }
    if (r) {
        if (r == -ENOMEM)
            snprintf(err, DB_ERR_LEN, "out of memory");
        dynbuf_free(&b);
        return r;
    }
    *ret = dynbuf_steal(&b, NULL);
    return *ret ? 0 : -ENOMEM;
}
