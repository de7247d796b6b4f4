/*
 * spool_fill: writes a meterd spool full of plausible readings, for the
 * integration test that drains a large backlog and for bench/spool_rss.sh.
 *
 *   spool_fill DIR COUNT [INTERVAL_MS]
 *
 * DIR is the spool directory (<state-dir>/meterd-<ID>.spool); the readings get
 * seqs 1..COUNT, one every INTERVAL_MS (default 1000) ending now, boot 1 and
 * growing energy. Prints what it wrote. Exit status 0, 1 on failure, 2 on bad
 * arguments.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool.h"
#include "timeutil.h"

#define SEGMENT 16384 /* as meterd */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || s[0] == '-' || v < min || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t count = 0, interval_ms = 1000;
    if (argc < 3 || argc > 4 || parse_u64(argv[2], 1, 100000000, &count) ||
        (argc == 4 && parse_u64(argv[3], 1, 86400000, &interval_ms))) {
        fprintf(stderr, "usage: spool_fill DIR COUNT [INTERVAL_MS]\n");
        return 2;
    }
    char err[256];
    struct spool_config cfg = {.dir = argv[1],
                               .max_records = count,
                               .records_per_segment = SEGMENT,
                               .sync_interval_ms = 60000};
    struct spool *s = NULL;
    if (spool_open(&cfg, &s, err, sizeof(err))) {
        fprintf(stderr, "spool_fill: %s\n", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t now = time_now_ms();
    int64_t first_ts = now - (int64_t)((count - 1) * interval_ms);
    int64_t energy_mwh = 0;
    int r = 0;
    for (uint64_t q = 1; q <= count && r == 0; q++) {
        struct reading rd;
        memset(&rd, 0, sizeof(rd));
        rd.seq = q;
        rd.has_seq = true;
        rd.ts_ms = first_ts + (int64_t)((q - 1) * interval_ms);
        double v = 230.0 + 2.0 * sin((double)q / 600.0);
        double i = 10.0 + 3.0 * sin((double)q / 3600.0);
        double p = v * i * 0.95;
        energy_mwh += (int64_t)llround(p * (double)interval_ms / 3600.0);
        reading_set_real(&rd, RR_VOLTAGE, v);
        reading_set_real(&rd, RR_CURRENT, i);
        reading_set_real(&rd, RR_POWER_W, p);
        reading_set_real(&rd, RR_PF, 0.95);
        reading_set_real(&rd, RR_FREQ_HZ, 50.0);
        reading_set_counter(&rd, RC_ENERGY_IMPORT, energy_mwh);
        reading_set_counter(&rd, RC_ENERGY_EXPORT, 0);
        reading_set_counter(&rd, RC_BOOT, 1);
        r = spool_append(s, &rd, now);
    }
    if (r == 0)
        r = spool_sync(s, now, true);
    struct spool_stats st;
    spool_get_stats(s, &st);
    spool_close(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r) {
        fprintf(stderr, "spool_fill: %s: %s\n", argv[1], strerror(-r));
        return 1;
    }
    printf("wrote %llu readings (%llu bytes in %u segments) in %.1f s\n",
           (unsigned long long)st.records, (unsigned long long)st.bytes, (unsigned)st.segments,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
