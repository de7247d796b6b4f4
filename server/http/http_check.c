#include "http_check.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "url.h"

int http_check_framing(const struct http_framing *f, size_t max_body_bytes,
                       const char **ret_message)
{
    if (f->content_lengths > 1) {
        *ret_message = "more than one Content-Length header";
        return 400;
    }
    if (f->content_lengths && f->transfer_encodings) {
        *ret_message = "Content-Length and Transfer-Encoding together";
        return 400;
    }
    if (f->authorizations > 1) {
        *ret_message = "more than one Authorization header";
        return 400;
    }
    if (!f->content_length)
        return 0;
    const char *p = f->content_length;
    uint64_t n = 0;
    if (!*p) {
        *ret_message = "Content-Length must be a number of bytes";
        return 400;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            *ret_message = "Content-Length must be a number of bytes";
            return 400;
        }
        /* Past the limit is enough to know: no need to read the number to its end. */
        if (n <= max_body_bytes)
            n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n > max_body_bytes) {
        *ret_message = "request body too large";
        return 413;
    }
    return 0;
}

/* The byte at *p as the path decodes it ("%41" is 'A'), advancing *p past it. */
static unsigned char next_byte(const char **p)
{
    const char *s = *p;
    if (s[0] == '%' && url_hex_value(s[1]) >= 0 && url_hex_value(s[2]) >= 0) {
        *p = s + 3;
        return (unsigned char)(url_hex_value(s[1]) << 4 | url_hex_value(s[2]));
    }
    *p = s + 1;
    return (unsigned char)s[0];
}

int http_check_path(const char *raw_path, const char **ret_message)
{
    if (raw_path[0] != '/') {
        *ret_message = "bad path: it must start with /";
        return 400;
    }
    /* Segment by segment: its decoded length and whether it is all dots. */
    const char *p = raw_path + 1;
    size_t seg_len = 0, dots = 0;
    for (;;) {
        bool end = *p == '\0';
        if (end || *p == '/') {
            bool dot_segment = seg_len > 0 && dots == seg_len && seg_len <= 2;
            if (dot_segment) {
                *ret_message = "bad path: a . or .. segment";
                return 400;
            }
            if (seg_len == 0 && !end) {
                *ret_message = "bad path: an empty segment (//)";
                return 400;
            }
            if (end)
                return 0;
            p++;
            seg_len = dots = 0;
            continue;
        }
        unsigned char c = next_byte(&p);
        if (c < 0x20 || c == 0x7f) {
            *ret_message = "bad path: a control character";
            return 400;
        }
        seg_len++;
        dots += c == '.';
    }
}
