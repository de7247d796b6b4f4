/*
 * spool: meterd's durable store-and-forward queue of readings, on disk in
 * <state_dir>/meterd-<device_id>.spool/ (docs/meterd.md "Spool").
 *
 * Every reading is appended (write(), so a kill -9 loses nothing written) as
 * one fixed-size binary record with a CRC-32, to numbered segment files of
 * records_per_segment records each; the data is made durable (fdatasync) at
 * most sync_interval_ms after it was written. The spool keeps a reading until
 * the server acknowledged it (spool_ack); a segment whose readings are all
 * acknowledged is deleted. When the unacknowledged readings fill max_records,
 * the oldest segment is dropped whole: its unacknowledged readings are
 * counted (dropped_full) and a warning is logged. Appending never blocks on
 * anything but the write itself.
 *
 * Acknowledgements: a watermark (every seq <= it is acknowledged or no longer
 * held) is persisted atomically in <spool dir>/acked at each sync; the
 * acknowledged ranges above it live in memory (a bounded list: forgetting one
 * only causes a resend). After a restart only readings above the watermark
 * and not in a range are unacknowledged, so a few duplicates may be resent,
 * never fewer readings than were unacknowledged.
 *
 * Upgrade: spool_open() first converts, once and crash-safely, each segment
 * an older meterd wrote in its record layout (spool_upgrade.h), so the
 * readings it held are resent like any other.
 *
 * Damage: spool_open() validates every record of the newest segment (the
 * only one written since the last sync), truncates a torn or corrupt tail,
 * finds the first and last valid record of older segments, and renames a
 * segment with no valid record to <name>.bad. A corrupt record met while
 * reading is skipped with a warning (once per segment). Nothing in a damaged
 * file makes the spool crash or stop taking new readings.
 *
 * Memory: the spool holds a table of its segments (a few dozen bytes each)
 * and the acked ranges, never the records themselves.
 *
 * Threads: not thread-safe; meterd uses it from its main thread only. The
 * functions log problems with the files (log.h) and return -errno.
 * Ownership: spool_open() copies the config; spool_close() accepts NULL.
 */
#ifndef SMARTMETER_METER_SPOOL_H
#define SMARTMETER_METER_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

/* Bytes one reading takes on disk. */
#define SPOOL_RECORD_SIZE    580
#define SPOOL_RECORD_V1_SIZE 228 /* before three-phase readings (spool_record.c) */
/* Acked ranges kept above the watermark. */
#define SPOOL_ACK_RANGES_MAX 4096

struct spool;

struct spool_config {
    const char *dir;              /* the spool's directory, created if missing */
    uint64_t max_records;         /* readings the spool holds at least, >= 1 */
    uint32_t records_per_segment; /* >= 2; the unit in which the oldest are dropped */
    int64_t sync_interval_ms;     /* fdatasync at most this long after a write; 0: every write */
};

struct spool_stats {
    uint64_t spooled;      /* readings appended since open */
    uint64_t acked;        /* readings newly acknowledged since open */
    uint64_t dropped_full; /* unacknowledged readings dropped because the spool was full */
    uint64_t corrupt;      /* corrupt records skipped or truncated */
    uint64_t upgraded;     /* readings converted at open from an older meterd's record layout */
    uint64_t depth;        /* unacknowledged readings held (estimate: seqs are nearly dense) */
    uint64_t records;      /* records on disk */
    uint64_t bytes;        /* bytes of segment files */
    uint32_t segments;
    uint64_t watermark;  /* every seq <= it is acknowledged or gone */
    uint64_t newest_seq; /* 0 when the spool never held a reading */
};

/*
 * Opens (creating it) the spool in cfg->dir, validates it as described above
 * and loads the watermark. Returns 0 with *ret set, or -errno with err naming
 * the problem (an unusable directory; damaged content is repaired, not an error).
 */
int spool_open(const struct spool_config *cfg, struct spool **ret, char *err, size_t errlen);

/* Syncs the data and the watermark, then frees the spool. Accepts NULL. */
void spool_close(struct spool *s);

/*
 * Appends r (r->seq must be 1..READING_SEQ_MAX and above every seq appended
 * before) at now_ms (the clock spool_sync() is given). Starts a new
 * segment when the current one is full, dropping the oldest when the spool is
 * full. Returns 0, -EINVAL for a seq not above the newest, or -errno from the
 * file system (the spool stays consistent; the reading is not held).
 */
int spool_append(struct spool *s, const struct reading *r, int64_t now_ms);

/*
 * Makes what was written durable when force is set or sync_interval_ms has
 * passed since the first unsynced write, and persists a changed watermark.
 * Returns 0 or -errno.
 */
int spool_sync(struct spool *s, int64_t now_ms, bool force);

/*
 * Reads up to max unacknowledged readings with from_seq <= seq <= to_seq,
 * oldest first, into out. *ret_n is the number read; *ret_next the seq to
 * continue from (one past the last seq considered). Returns 0 or -errno.
 */
int spool_read(struct spool *s, uint64_t from_seq, uint64_t to_seq, struct reading *out, size_t max,
               size_t *ret_n, uint64_t *ret_next);

/*
 * Records that the server acknowledged seqs first..last (inclusive), advances
 * the watermark over acknowledged and missing seqs and deletes segments left
 * fully acknowledged. Seqs not held, or already acknowledged, are ignored.
 * Returns the number of held readings newly acknowledged (an estimate when
 * seqs have gaps).
 */
uint64_t spool_ack(struct spool *s, uint64_t first, uint64_t last);

/* True when every seq in first..last is acknowledged (or at or below the watermark). */
bool spool_acked(const struct spool *s, uint64_t first, uint64_t last);

/* The oldest unacknowledged seq held, or newest_seq + 1 when there is none. */
uint64_t spool_first_unacked(struct spool *s);

/*
 * Reads the newest reading held, acknowledged or not, into *ret. Returns 0,
 * -ENOENT when none is held, or -errno.
 */
int spool_last(struct spool *s, struct reading *ret);

/* The newest seq appended (0 when none). */
uint64_t spool_newest_seq(const struct spool *s);

void spool_get_stats(const struct spool *s, struct spool_stats *ret);

#endif
