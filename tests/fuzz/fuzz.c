#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort(); /* libFuzzer's rss limit reports running out of memory long before this */
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

bool fuzz_json_valid(const char *text, size_t len)
{
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &e);
    bool ok = root != NULL;
    json_decref(root);
    return ok;
}
