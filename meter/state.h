/*
 * state: the counters a meter must never lose or reuse, persisted in
 * <state_dir>/meterd-<device_id>.state and its backup copy
 * <state_dir>/meterd-<device_id>.state.bak.
 *
 * seq is strictly increasing for the device's life, so the files are written
 * (atomically and durably) after every reading is taken and before it is
 * published: a published seq is always <= the persisted one, and a restart
 * can never hand it out again. boot counts starts. Energy counters are
 * integer milliwatt-hours (active) and millivar-hours (reactive; import while
 * the current lags, Q > 0, export while it leads) that only grow; the sub-unit
 * remainders live in memory only (a restart loses less than 1 mWh / 1 mvarh).
 *
 * Each file is text, one "key value" a line, closed by a CRC-32 over
 * everything before it:
 *
 *   smartmeter-meterd-state 2
 *   device_id m1
 *   seq 1234
 *   boot 3
 *   energy_import_mwh 567890
 *   energy_export_mwh 0
 *   reactive_import_mvarh 123456
 *   reactive_export_mvarh 0
 *   energy_import_a_mwh 190000
 *   energy_import_b_mwh 188000
 *   energy_import_c_mwh 189890
 *   wiring 3p4w
 *   demand_max_mw 41250000
 *   demand_max_ts_ms 1796605200000
 *   demand_month_ms 1796083200000
 *   crc32 0a1b2c3d
 *
 * The per-phase import counters (three-phase wiring; 0 on a single-phase
 * meter), the wiring the counters were measured with, and this month's
 * maximum demand (milliwatts, signed; its time and the start of the month it
 * belongs to, epoch ms; demand_max_ts_ms 0 when there is none yet) came with
 * version 3. Version 1 files (no reactive lines) and version 2 files (no
 * three-phase lines) still load, with zeros for what they lack and wiring
 * 1p2w; they are rewritten as version 3 at the next save.
 *
 * Two copies, one rule. meter_state_save() replaces the main file, then the
 * backup, each with write + fsync + rename, and returns only when both are
 * durable; so every copy that exists and is valid holds a seq >= every seq
 * ever published, and a crash between the two writes leaves the backup one
 * save behind a valid main file. At start the newer valid copy wins: with both
 * valid, every counter (seq, boot, energy) is the larger of the two, so none
 * ever goes backwards; with one valid (the other damaged, e.g. a bad CRC after
 * a disk error, or missing), that one is used and the other is rewritten, the
 * damaged main file first kept as <file>.corrupt for inspection. Only when
 * neither copy is valid, or either belongs to another device, does meterd
 * refuse to start: resetting seq silently would make the server drop or
 * misfile readings. The functions here do not log; they return a message.
 */
#ifndef SMARTMETER_METER_STATE_H
#define SMARTMETER_METER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

#define METER_STATE_MAGIC    "smartmeter-meterd-state"
#define METER_STATE_VERSION  3 /* 1 and 2 are still read */
#define METER_STATE_MAX_SIZE 4096
#define METER_STATE_ERR_LEN  512
/* Counters saturate here (the wire format's 1e15 Wh and 1e15 varh). */
#define METER_STATE_ENERGY_MAX_MWH INT64_C(1000000000000000000)

struct meter_state {
    char device_id[DEVICE_ID_MAX + 1];
    uint64_t seq; /* the last seq handed out; the next reading gets seq + 1 */
    uint32_t boot;
    int64_t energy_import_mwh;
    int64_t energy_export_mwh;
    int64_t reactive_import_mvarh; /* Q > 0: current lags */
    int64_t reactive_export_mvarh; /* Q < 0: current leads */
    int64_t energy_import_phase_mwh[3]; /* phases a, b, c (three-phase wiring) */
    char wiring[8];                     /* "1p2w", "3p4w" or "3p3w" */
    /* this month's maximum demand; demand_max_ts_ms 0: none */
    int64_t demand_max_mw, demand_max_ts_ms, demand_month_ms;
    /* 0 <= rem < 1, not persisted */
    double import_rem_mwh, export_rem_mwh;
    double reactive_import_rem_mvarh, reactive_export_rem_mvarh;
    double import_phase_rem_mwh[3];
};

/* A fresh state: seq 0, boot 0, zero energy, wiring 1p2w, no demand. device_id must be valid. */
void meter_state_init(struct meter_state *s, const char *device_id);

/* Writes "<dir>/meterd-<device_id>.state" into buf. Returns 0 or -ENAMETOOLONG. */
int meter_state_path(const char *dir, const char *device_id, char *buf, size_t len);

/* Writes the backup's path, "<path>.bak", into buf. Returns 0 or -ENAMETOOLONG. */
int meter_state_backup_path(const char *path, char *buf, size_t len);

/* Serialises s into buf (NUL-terminated). Returns the length, or -ENOSPC. */
int meter_state_format(const struct meter_state *s, char *buf, size_t len);

/*
 * Parses a state file's text (version 1, 2 or 3), checks its CRC and that it
 * belongs to device_id. Returns 0, -EBADMSG (malformed or checksum mismatch)
 * or -EXDEV (another device's file), with err set. *ret is written only on
 * success, with zero remainders.
 */
int meter_state_parse(const char *text, size_t len, const char *device_id, struct meter_state *ret,
                      char *err, size_t errlen);

/*
 * Reads and parses the one file path. Returns 0, -ENOENT when there is no
 * file, -EBADMSG when it is damaged (also a file too large to be one), or
 * another -errno from reading it, with err set.
 */
int meter_state_load(const char *path, const char *device_id, struct meter_state *ret, char *err,
                     size_t errlen);

/*
 * Loads the newer valid copy of path and its backup by the rule above.
 * Returns 0 with *ret_main_state telling what became of the main file: 0 it
 * was valid, -ENOENT missing, -EBADMSG or -EIO damaged (the backup was used).
 * On success err holds a warning for the log (a copy was damaged or missing
 * and another one used) or is empty. Returns -ENOENT when neither file exists,
 * -EBADMSG when neither is valid, -EXDEV when either belongs to another
 * device, or another -errno when a file cannot be read (e.g. -EACCES), with
 * err set. *ret and *ret_main_state are written only on success.
 */
int meter_state_load_newest(const char *path, const char *device_id, struct meter_state *ret,
                            int *ret_main_state, char *err, size_t errlen);

/*
 * Writes s to path, then to its backup, each with file_write_atomic (write,
 * fsync, rename, fsync of the directory). Returns 0 once both are durable, or
 * -errno; after an error the reading that caused the save must not be
 * published.
 */
int meter_state_save(const char *path, const struct meter_state *s);

/*
 * What meterd does at start: creates dir if missing, loads the device's
 * newest valid copy (meter_state_load_newest; no copy at all gives a fresh
 * state), increments boot and saves both copies. Writes the main file's path
 * to ret_path (ret_path_len bytes, also on error, for messages) and
 * *ret_fresh when no copy existed. Returns 0 or -errno with err set; on error
 * *ret and *ret_fresh are left alone and no copy is written (a damaged main
 * file may have been moved aside: the backup still stands). On success err
 * holds a warning to log when a damaged or missing copy was replaced (a
 * damaged main file is kept as "<path>.corrupt"), or is empty.
 */
int meter_state_open(const char *dir, const char *device_id, struct meter_state *ret,
                     char *ret_path, size_t ret_path_len, bool *ret_fresh, char *err,
                     size_t errlen);

/* Hands out the next seq. */
uint64_t meter_state_next_seq(struct meter_state *s);

/*
 * Adds energy (Wh; positive = import, negative = export) to the counters,
 * carrying the fraction of a mWh. Non-finite values are ignored and return
 * -EINVAL; counters never decrease.
 */
int meter_state_add_energy(struct meter_state *s, double energy_wh);

/*
 * Adds reactive energy (varh; positive = import, the current lagging,
 * negative = export, the current leading) the same way, in mvarh.
 */
int meter_state_add_reactive(struct meter_state *s, double reactive_varh);

/*
 * Adds phase ph's (0..2) imported energy (Wh, >= 0) to its counter the same
 * way. Returns 0, or -EINVAL for a bad phase, a negative or non-finite value.
 */
int meter_state_add_phase_import(struct meter_state *s, unsigned ph, double energy_wh);

#endif
