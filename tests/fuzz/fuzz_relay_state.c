/*
 * meterd's relay state file (meter/relay.c, relay_parse) on any bytes.
 *
 * Checks: a refused file names its line; an accepted one holds valid command
 * ids only, at most RELAY_IDS_MAX of them, and writes back (relay_format) to
 * a text that parses to the same state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct relay_state s, again;
    char err[512], out[RELAY_FILE_MAX + 1];
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&s, 0, sizeof(s));
    strcpy(s.path, "fuzz.relay");
    err[0] = '\0';
    int r = relay_parse(text, size, &s, err, sizeof(err));
    free(text);
    if (r) {
        FUZZ_CHECK(r == -EINVAL && strstr(err, "line "));
        return 0;
    }
    FUZZ_CHECK(s.n_ids <= RELAY_IDS_MAX);
    for (size_t k = 0; k < s.n_ids; k++)
        FUZZ_CHECK(command_id_valid(s.ids[k]));
    size_t n = 0;
    FUZZ_CHECK(relay_format(&s, out, &n) == 0);
    memset(&again, 0, sizeof(again));
    strcpy(again.path, "fuzz.relay");
    FUZZ_CHECK(relay_parse(out, n, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(again.on == s.on && again.last_ts_ms == s.last_ts_ms && again.n_ids == s.n_ids);
    for (size_t k = 0; k < s.n_ids; k++)
        FUZZ_CHECK(strcmp(again.ids[k], s.ids[k]) == 0);
    return 0;
}
