/*
 * dynbuf: a growing byte buffer with a hard size cap, always NUL-terminated.
 *
 * Every buffer a peer can grow has a cap: appends past it fail with -E2BIG and
 * leave the buffer as it was. The buffer owns its memory; dynbuf_free releases
 * it and dynbuf_steal hands it to the caller (who frees it with free()).
 */
#ifndef SMARTMETER_DYNBUF_H
#define SMARTMETER_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

struct dynbuf {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
};

void dynbuf_init(struct dynbuf *b, size_t max);
void dynbuf_free(struct dynbuf *b);
void dynbuf_reset(struct dynbuf *b);

/* Each returns 0, -ENOMEM, or -E2BIG when the cap would be exceeded. */
int dynbuf_add(struct dynbuf *b, const void *data, size_t len);
int dynbuf_addstr(struct dynbuf *b, const char *s);
int dynbuf_addc(struct dynbuf *b, char c);
int dynbuf_addf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dynbuf_vaddf(struct dynbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Makes room for n more bytes and returns where they go (NULL on error); commit with dynbuf_commit.
 */
char *dynbuf_reserve(struct dynbuf *b, size_t n);
void dynbuf_commit(struct dynbuf *b, size_t n);

/* Returns the buffer (never NULL: an empty buffer yields a fresh "") and resets b. */
char *dynbuf_steal(struct dynbuf *b, size_t *ret_len);

static inline const char *dynbuf_str(const struct dynbuf *b)
{
    return b->buf ? b->buf : "";
}

#endif
