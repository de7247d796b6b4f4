/*
 * meterd's interval state file (meter/interval.c, interval_parse) on any bytes.
 *
 * Checks: a refused file names its line; an accepted one holds valid command
 * ids only, at most INTERVAL_IDS_MAX of them, and writes back (interval_format) to
 * a text that parses to the same state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "interval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct interval_state s, again;
    char err[512], out[INTERVAL_FILE_MAX + 1];
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&s, 0, sizeof(s));
    strcpy(s.path, "fuzz.interval");
    err[0] = '\0';
    int r = interval_parse(text, size, &s, err, sizeof(err));
    free(text);
    if (r) {
        FUZZ_CHECK(r == -EINVAL && strstr(err, "line "));
        return 0;
    }
    FUZZ_CHECK(s.n_ids <= INTERVAL_IDS_MAX && s.present);
    FUZZ_CHECK(s.interval_ms >= COMMAND_INTERVAL_MIN_MS &&
               s.interval_ms <= COMMAND_INTERVAL_MAX_MS);
    for (size_t k = 0; k < s.n_ids; k++)
        FUZZ_CHECK(command_id_valid(s.ids[k]));
    size_t n = 0;
    FUZZ_CHECK(interval_format(&s, out, &n) == 0);
    memset(&again, 0, sizeof(again));
    strcpy(again.path, "fuzz.interval");
    FUZZ_CHECK(interval_parse(out, n, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(again.interval_ms == s.interval_ms && again.present && again.n_ids == s.n_ids);
    for (size_t k = 0; k < s.n_ids; k++)
        FUZZ_CHECK(strcmp(again.ids[k], s.ids[k]) == 0);
    return 0;
}
