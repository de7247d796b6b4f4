/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein), a keyed 64-bit hash for
 * tables whose keys come from peers. With a secret random key, nobody outside
 * the process can choose keys that land on the same slots. Pure: no state,
 * no allocation.
 */
#ifndef SMARTMETER_SIPHASH_H
#define SMARTMETER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The SipHash-2-4 of data[0..len) under key (16 bytes), as the reference implementation's
   little-endian 64-bit output read as an integer. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len);

#endif
