/*
 * The query parameters of the history, energy, ledger and capture endpoints
 * and the cursor of the users' pages (server/api/api_query.c;
 * sitetime_parse_day() in common/sitetime.c) and the interval arithmetic
 * the history endpoint then does
 * (server/history/history.c). The input is a query string,
 * "from=..&to=..&limit=..&interval=..&points=..", as the HTTP layer hands
 * it over (already percent-decoded); each value goes to the parser its
 * endpoint uses, with that endpoint's bounds.
 *
 * Checks: every parser's result is within its contract; for the history
 * endpoint's range (to clamped as it clamps it), the interval picked for a
 * number of points gives at most that many buckets, the buckets of an
 * interval cover the range, and a bucket starts at or before its time (in
 * 2000..2199, where days are local days). The site's zone has DST
 * (Europe/Berlin), so days last 23, 24 or 25 hours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_query.h"
#include "fuzz.h"
#include "history.h"
#include "sitetime.h"
#include "timeutil.h"

/* The endpoints' bounds (server/api/api_history.c, api_captures.c, api_billing.c). */
#define HISTORY_MAX_LIMIT  10000
#define HISTORY_MAX_POINTS 5000
#define DEFAULT_RANGE_MS   (24 * HISTORY_HOUR_MS)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[128];
    (void)argc;
    (void)argv;
    if (sitetime_set_zone("Europe/Berlin", err, sizeof(err)))
        fuzz_fail(__FILE__, __LINE__, err);
    return 0;
}

struct query {
    bool has_from, has_to, has_interval, has_points;
    int64_t from, to, interval, points;
};

static void count(const char *v, int64_t min, int64_t max, bool *ret_has, int64_t *ret)
{
    int64_t n = 0;
    int r = api_parse_count(v, min, max, &n);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    FUZZ_CHECK(r || (n >= min && n <= max));
    if (ret_has && !r) {
        *ret_has = true;
        *ret = n;
    }
}

static void instant(const char *v, bool *ret_has, int64_t *ret)
{
    int64_t ms = 0, day = 0;
    if (api_parse_instant(v, &ms) == 0) {
        *ret_has = true;
        *ret = ms;
    }
    /* The energy endpoint's dates: a local day, and the month it is in. */
    if (sitetime_parse_day(v, &day) == 0) {
        int64_t month = sitetime_month_start(day), next = sitetime_next_day(day);
        FUZZ_CHECK(month <= day && next > day && next - day <= 25 * HISTORY_HOUR_MS);
        FUZZ_CHECK(sitetime_next_month(month) > day);
    }
}

static void parameter(struct query *q, const char *key, const char *v)
{
    if (strcmp(key, "from") == 0) {
        instant(v, &q->has_from, &q->from);
    } else if (strcmp(key, "to") == 0) {
        instant(v, &q->has_to, &q->to);
    } else if (strcmp(key, "limit") == 0) {
        count(v, 1, HISTORY_MAX_LIMIT, NULL, NULL);
    } else if (strcmp(key, "points") == 0) {
        count(v, 1, HISTORY_MAX_POINTS, &q->has_points, &q->points);
    } else if (strcmp(key, "cursor") == 0) {
        /* a page's cursor (users): what it decodes to encodes back to it */
        char k[65], again[2 * 64 + 1];
        int r = api_cursor_decode(v, k, sizeof(k));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (!r) {
            FUZZ_CHECK(strlen(k) * 2 == strlen(v) && strlen(k) < sizeof(k));
            for (const unsigned char *c = (const unsigned char *)k; *c; c++)
                FUZZ_CHECK(*c >= 0x20 && *c != 0x7f);
            api_cursor_encode(k, again, sizeof(again));
            FUZZ_CHECK(strcmp(again, v) == 0);
        }
    } else if (strcmp(key, "interval") == 0) {
        int64_t ms = 0;
        int r = api_parse_duration(v, &ms);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
        FUZZ_CHECK(r || (ms >= 1000 && ms <= 366 * HISTORY_DAY_MS));
        if (!r) {
            q->has_interval = true;
            q->interval = ms;
        }
    } else {
        /* decimate, a capture id: any other count */
        count(v, 1, INT64_MAX, NULL, NULL);
    }
}

/* What api_data_query() does with a range and an interval or a number of points. */
static void history(const struct query *q)
{
    if (!q->has_interval && !q->has_points)
        return;
    int64_t to = q->has_to ? q->to : FUZZ_NOW_MS + 1;
    int64_t from = q->has_from ? q->from : to - DEFAULT_RANGE_MS;
    if (to > TIME_MAX_VALID_MS)
        to = TIME_MAX_VALID_MS;
    if (from >= to)
        return;
    int64_t interval = q->interval;
    if (q->has_points && !q->has_interval) {
        if (history_pick_interval(from, to, q->points, &interval))
            return;
        FUZZ_CHECK(history_bucket_count(from, to, interval) <= q->points);
    }
    /*
     * Local days are known for 2000..2199 only: outside, history.c falls back to UTC days
     * and the counts of day buckets are not meaningful (no reading is stored there).
     */
    if (from >= TIME_MIN_VALID_MS + HISTORY_DAY_MS && to <= TIME_MAX_VALID_MS - HISTORY_DAY_MS) {
        FUZZ_CHECK(history_bucket_count(from, to, interval) >= 1);
        FUZZ_CHECK(history_bucket_start(from, interval) <= from);
        FUZZ_CHECK(history_bucket_start(to - 1, interval) <= to - 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size), *save = NULL;
    struct query q = {0};
    for (char *kv = strtok_r(s, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        parameter(&q, kv, eq + 1);
    }
    history(&q);
    free(s);
    return 0;
}
