/* store_impl: what every implementation of store.h shares: its last error message. */
#include "store_impl.h"

#include <stdarg.h>
#include <stdio.h>

int store_fail(struct store *s, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    return err;
}
