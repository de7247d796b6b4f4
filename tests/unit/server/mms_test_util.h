/*
 * What the MMS unit tests share: hex files from tests/data/mms and a walk
 * that reads every element of a BER buffer, as a decoder meeting it would.
 */
#ifndef SMARTMETER_MMS_TEST_UTIL_H
#define SMARTMETER_MMS_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ber.h"

/* Reads a hex file ('#' lines are comments) into buf: the byte count, or -1. */
static inline long mms_hex_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        for (char *p = line; *p;) {
            unsigned v;
            int used;
            if (sscanf(p, " %2x%n", &v, &used) != 1)
                break;
            if (n == cap) {
                fclose(f);
                return -1;
            }
            buf[n++] = (uint8_t)v;
            p += used;
        }
    }
    fclose(f);
    return (long)n;
}

/* Reads every element below c: 0, or the first error ber.h gives. */
static inline int mms_ber_walk(struct ber_cursor *c)
{
    struct ber_tlv t;
    int r;
    while ((r = ber_next(c, &t)) == 0) {
        if (ber_constructed(&t)) {
            struct ber_cursor in;
            if ((r = ber_enter(&t, &in)) || (r = mms_ber_walk(&in)))
                return r;
        }
    }
    return r == -ENOENT ? 0 : r;
}

static inline int mms_ber_walk_buf(const uint8_t *buf, size_t len)
{
    struct ber_cursor c;
    ber_cursor_init(&c, buf, len);
    return mms_ber_walk(&c);
}

#endif
