/*
 * fuzz: what the libFuzzer harnesses share (docs/security.md, "Fuzzing").
 *
 * Each harness, fuzz_<name>.c, feeds one parser every input libFuzzer makes.
 * It passes when nothing crashes, leaks or trips AddressSanitizer or
 * UndefinedBehaviorSanitizer, and checks what is cheap to check about the
 * result with FUZZ_CHECK, which aborts: libFuzzer then saves the input as a
 * crash. The parsers are called exactly as their callers call them; a
 * harness never changes what it tests.
 *
 * Ownership: fuzz_cstr() returns a heap copy the caller frees.
 */
#ifndef SMARTMETER_FUZZ_H
#define SMARTMETER_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The harnesses' "now" (2026-12-07T08:00:00Z), so a run does not depend on the clock. */
#define FUZZ_NOW_MS INT64_C(1796630400000)

/* Aborts naming the failed check; libFuzzer keeps the input that made it fail. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* data[0..size) as a NUL-terminated string (cut at the first NUL, as C callers see it). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* True when text[0..len) is one JSON document that jansson accepts (so valid UTF-8). */
bool fuzz_json_valid(const char *text, size_t len);

#endif
