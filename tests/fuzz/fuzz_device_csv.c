/*
 * A bulk import's CSV (server/provision/device_csv.c) on any bytes.
 *
 * Checks: a refusal names a line ("line N: ...") no further than the input
 * has lines, and frees everything; an accepted file has at most the rows
 * allowed, each with a valid device_id and owner (when given), no empty
 * field (empty is NULL), lines that only grow, every string inside the
 * parser's own buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "device_csv.h"
#include "fuzz.h"
#include "store.h"
#include "topic.h"

#define MAX_ROWS 64

static void check_text(const struct device_csv *c, const char *s)
{
    if (!s)
        return;
    FUZZ_CHECK(s[0] != '\0');
    FUZZ_CHECK(s >= c->buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct device_csv c;
    char err[DEVICE_CSV_ERR_LEN];
    unsigned lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    int r = device_csv_parse((const char *)data, size, MAX_ROWS, &c, err);
    if (r) {
        FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
        unsigned line = 0;
        FUZZ_CHECK(sscanf(err, "line %u:", &line) == 1);
        FUZZ_CHECK(line >= 1 && line <= lines + 1);
        return 0;
    }
    FUZZ_CHECK(c.n <= MAX_ROWS);
    unsigned prev = 0; /* a file without a header line has its first row on line 1 */
    for (size_t i = 0; i < c.n; i++) {
        const struct device_csv_row *row = &c.rows[i];
        FUZZ_CHECK(row->device_id && device_id_valid(row->device_id));
        FUZZ_CHECK(!row->owner || username_valid(row->owner));
        check_text(&c, row->device_id);
        check_text(&c, row->owner);
        check_text(&c, row->name);
        check_text(&c, row->site);
        FUZZ_CHECK(row->line > prev && row->line <= lines);
        prev = row->line;
    }
    device_csv_free(&c);
    return 0;
}
