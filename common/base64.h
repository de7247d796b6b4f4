/*
 * base64: the standard alphabet of RFC 4648 (section 4), with padding.
 *
 * Used for binary data inside JSON (waveform samples in capture messages).
 * Decoding is strict: the length must be a multiple of 4, '=' may only pad
 * the end, no whitespace or other characters, and the unused bits of the last
 * group must be zero, so every byte string has exactly one accepted encoding.
 * Pure functions: the caller provides the output buffers.
 */
#ifndef SMARTMETER_BASE64_H
#define SMARTMETER_BASE64_H

#include <stddef.h>

/* Characters of the encoding of len bytes, without the NUL. */
size_t base64_encoded_len(size_t len);

/* Writes base64_encoded_len(len) characters and a NUL to out. */
void base64_encode(const void *src, size_t len, char *out);

/* Most bytes that len characters can decode to (the exact count for a valid, unpadded length). */
size_t base64_decoded_max(size_t len);

/*
 * Decodes src[0..len) into out, which holds at least base64_decoded_max(len)
 * bytes. Returns 0 and the byte count in *ret_len, or -EINVAL when src is not
 * strict base64 (*ret_len is then untouched).
 */
int base64_decode(const char *src, size_t len, void *out, size_t *ret_len);

#endif
