#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>

/* The length of the well-formed, printable character at p (1 to 4), or 0. */
static size_t char_len(const unsigned char *p)
{
    uint32_t c = p[0];
    size_t n;
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, c &= 0x07;
    else
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[k] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    bool bad = c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c < 0xa0;
    return bad ? 0 : n;
}

size_t utf8_clean(const char *in, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t used = 0;
    while (*p) {
        size_t n = char_len(p);
        size_t take = n ? n : 1;
        if (used + take > size - 1)
            break;
        for (size_t k = 0; k < take; k++)
            out[used + k] = n ? (char)p[k] : '?';
        used += take;
        p += take;
    }
    out[used] = '\0';
    return used;
}
