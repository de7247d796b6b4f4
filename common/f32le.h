/*
 * f32le: IEEE 754 single-precision floats as little-endian bytes, the byte
 * order of waveform samples on the wire (capture messages) and in the
 * database, whatever the host's. Header-only: the functions are tiny.
 */
#ifndef SMARTMETER_F32LE_H
#define SMARTMETER_F32LE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void f32le_put(unsigned char out[4], float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof(bits));
    out[0] = (unsigned char)bits;
    out[1] = (unsigned char)(bits >> 8);
    out[2] = (unsigned char)(bits >> 16);
    out[3] = (unsigned char)(bits >> 24);
}

static inline float f32le_get(const unsigned char in[4])
{
    uint32_t bits =
        (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
    float x;
    memcpy(&x, &bits, sizeof(x));
    return x;
}

/* n floats to 4 * n bytes, and back. */
static inline void f32le_pack(const float *in, size_t n, unsigned char *out)
{
    for (size_t k = 0; k < n; k++)
        f32le_put(out + 4 * k, in[k]);
}

static inline void f32le_unpack(const unsigned char *in, size_t n, float *out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = f32le_get(in + 4 * k);
}

#endif
