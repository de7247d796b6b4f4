/*
 * spool_upgrade: converts a segment file an older meterd wrote in the
 * record layout before three-phase readings ("SMR1", spool_record.h) to
 * today's layout, once, when the spool opens, so an upgraded meter keeps
 * every reading it had not delivered.
 *
 * Crash safety: the converted records go to <segment>.smr2.tmp, which is
 * fsynced and renamed over the segment, then the directory is fsynced. A
 * crash at any instant leaves the segment either wholly old (converted again
 * at the next open, the temporary file overwritten) or wholly new; no
 * reading is lost. A damaged old record (bad magic, CRC or seq) or a torn
 * tail is counted and left out; the records around it are kept.
 *
 * Pure file work on one path; logs nothing (the spool logs the outcome).
 */
#ifndef SMARTMETER_METER_SPOOL_UPGRADE_H
#define SMARTMETER_METER_SPOOL_UPGRADE_H

#include <stdbool.h>
#include <stdint.h>

struct spool_upgrade_result {
    bool converted;     /* the file was an old one and now holds today's records */
    uint64_t records;   /* old records converted */
    uint64_t corrupt;   /* old records (or a torn tail) left out as damaged */
};

/*
 * Converts the segment file at path when it holds old records; a file in
 * today's layout (or one holding no intact old record) is left as it is.
 * *ret is always filled. Returns 0 or -errno (the file is then unchanged).
 */
int spool_upgrade_segment(const char *path, struct spool_upgrade_result *ret);

#endif
