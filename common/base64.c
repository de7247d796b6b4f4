#include "base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void base64_encode(const void *src, size_t len, char *out)
{
    const unsigned char *p = src;
    size_t k = 0;
    for (; len >= 3; len -= 3, p += 3) {
        uint32_t g = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        out[k++] = alphabet[g >> 18];
        out[k++] = alphabet[(g >> 12) & 63];
        out[k++] = alphabet[(g >> 6) & 63];
        out[k++] = alphabet[g & 63];
    }
    if (len > 0) {
        uint32_t g = (uint32_t)p[0] << 16 | (len > 1 ? (uint32_t)p[1] << 8 : 0);
        out[k++] = alphabet[g >> 18];
        out[k++] = alphabet[(g >> 12) & 63];
        out[k++] = len > 1 ? alphabet[(g >> 6) & 63] : '=';
        out[k++] = '=';
    }
    out[k] = '\0';
}

size_t base64_decoded_max(size_t len)
{
    return len / 4 * 3 + (len % 4) * 3 / 4;
}

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(const char *src, size_t len, void *out, size_t *ret_len)
{
    unsigned char *o = out;
    size_t n = 0;
    if (len % 4 != 0)
        return -EINVAL;
    for (size_t k = 0; k < len; k += 4) {
        bool last = k + 4 == len;
        const unsigned char *q = (const unsigned char *)src + k;
        size_t pad = 0;
        if (last && q[3] == '=')
            pad = q[2] == '=' ? 2 : 1;
        int d[4] = {0, 0, 0, 0};
        for (size_t j = 0; j < 4 - pad; j++) {
            d[j] = value_of(q[j]);
            if (d[j] < 0)
                return -EINVAL;
        }
        uint32_t g =
            (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
        /* The bits a padded group does not use must be zero (one encoding per byte string). */
        if ((pad == 1 && (g & 0xff)) || (pad == 2 && (g & 0xffff)))
            return -EINVAL;
        o[n++] = (unsigned char)(g >> 16);
        if (pad < 2)
            o[n++] = (unsigned char)(g >> 8);
        if (pad < 1)
            o[n++] = (unsigned char)g;
    }
    *ret_len = n;
    return 0;
}
