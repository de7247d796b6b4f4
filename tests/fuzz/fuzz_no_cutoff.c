/*
 * The no-cut-off time's text (server/commands/cutoff.c, docs/billing.md "The
 * no-cut-off time"): cutoff_hours_parse() on "no_cutoff_hours" of PUT
 * /api/devices/:id/billing, and the site calendar's dates (sitetime_parse_day,
 * which PUT /api/site/calendar's days go through in the store).
 *
 * Checks: accepted hours are minutes of the day and what GET writes of them
 * (cutoff_hours_format) parses back to the same; a refusal is -EINVAL and
 * leaves the outputs alone; an accepted date formats back as the same text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cutoff.h"
#include "fuzz.h"
#include "sitetime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool zoned;
    if (!zoned) {
        char err[64];
        FUZZ_CHECK(sitetime_set_zone("Asia/Shanghai", err, sizeof(err)) == 0);
        zoned = true;
    }
    char *text = fuzz_cstr(data, size);
    int from = -7, to = -7;
    int r = cutoff_hours_parse(text, &from, &to);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r == 0) {
        FUZZ_CHECK(from >= 0 && from < 1440 && to >= 0 && to < 1440);
        char out[CUTOFF_HOURS_LEN];
        cutoff_hours_format(from, to, out);
        int from2 = -1, to2 = -1;
        FUZZ_CHECK(cutoff_hours_parse(out, &from2, &to2) == 0);
        FUZZ_CHECK(from == to ? from2 == to2 : from2 == from && to2 == to);
    } else {
        FUZZ_CHECK(from == -7 && to == -7);
    }
    int64_t ms;
    if (sitetime_parse_day(text, &ms) == 0) {
        char day[11];
        sitetime_format_day(ms, day);
        FUZZ_CHECK(strcmp(day, text) == 0);
    }
    free(text);
    return 0;
}
