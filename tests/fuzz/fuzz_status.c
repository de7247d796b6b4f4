/*
 * The server's status parser (common/wire/status.c, status_parse) on a
 * meters/<id>/status payload, at a fixed "now".
 *
 * Checks: an empty payload is a cleared retained message; a kept time is
 * within 2000 .. now + 24 h; the meter's encoding of the status
 * (status_encode) parses back to the same status and time.
 */
#include <errno.h>

#include "fuzz.h"
#include "status.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct status_msg m, again;
    char err[STATUS_ERR_LEN];
    int r = status_parse(data, size, FUZZ_NOW_MS, &m, err);
    FUZZ_CHECK((r == -ENODATA) == (size == 0));
    if (r) {
        FUZZ_CHECK(r == -ENODATA || (r == -EINVAL && err[0]));
        return 0;
    }
    FUZZ_CHECK(m.has_ts ? m.ts_ms >= TIME_MIN_VALID_MS && m.ts_ms <= FUZZ_NOW_MS + 24 * 3600 * 1000
                        : m.ts_ms == 0);

    struct dynbuf b;
    dynbuf_init(&b, 4096);
    int64_t ts = m.has_ts ? m.ts_ms : FUZZ_NOW_MS;
    FUZZ_CHECK(status_encode(m.online, 1, ts, &b) == 0);
    FUZZ_CHECK(status_parse(b.buf, b.len, FUZZ_NOW_MS, &again, err) == 0);
    FUZZ_CHECK(again.online == m.online && again.has_ts && again.ts_ms == ts);
    dynbuf_free(&b);
    return 0;
}
