#include "dynbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dynbuf_init(struct dynbuf *b, size_t max)
{
    b->buf = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void dynbuf_free(struct dynbuf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = 0;
    b->cap = 0;
}

void dynbuf_reset(struct dynbuf *b)
{
    b->len = 0;
    if (b->buf)
        b->buf[0] = '\0';
}

char *dynbuf_reserve(struct dynbuf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return NULL;
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *p = realloc(b->buf, cap);
        if (!p)
            return NULL;
        b->buf = p;
        b->cap = cap;
    }
    return b->buf + b->len;
}

void dynbuf_commit(struct dynbuf *b, size_t n)
{
    b->len += n;
    b->buf[b->len] = '\0';
}

int dynbuf_add(struct dynbuf *b, const void *data, size_t len)
{
    if (len > b->max || b->len > b->max - len)
        return -E2BIG;
    char *p = dynbuf_reserve(b, len);
    if (!p)
        return -ENOMEM;
    if (len)
        memcpy(p, data, len);
    dynbuf_commit(b, len);
    return 0;
}

int dynbuf_addstr(struct dynbuf *b, const char *s)
{
    return dynbuf_add(b, s, strlen(s));
}

int dynbuf_addc(struct dynbuf *b, char c)
{
    return dynbuf_add(b, &c, 1);
}

int dynbuf_vaddf(struct dynbuf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return dynbuf_add(b, small, (size_t)n);
    if ((size_t)n > b->max || b->len > b->max - (size_t)n)
        return -E2BIG;
    char *p = dynbuf_reserve(b, (size_t)n);
    if (!p)
        return -ENOMEM;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    dynbuf_commit(b, (size_t)n);
    return 0;
}

int dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = dynbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return r;
}

char *dynbuf_steal(struct dynbuf *b, size_t *ret_len)
{
    char *p = b->buf;
    if (!p) {
        p = calloc(1, 1);
        if (ret_len)
            *ret_len = 0;
        return p;
    }
    if (ret_len)
        *ret_len = b->len;
    b->buf = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
