/*
 * state: the counters a meter must never lose or reuse, persisted in
 * <state_dir>/meterd-<device_id>.state.
 *
 * seq is strictly increasing for the device's life, so the file is written
 * (atomically and durably) after every reading is taken and before it is
 * published: a published seq is always <= the persisted one, and a restart
 * can never hand it out again. boot counts starts. Energy counters are
 * integer milliwatt-hours that only grow; the sub-mWh remainder lives in
 * memory only (a restart loses less than 1 mWh).
 *
 * The file is text, one "key value" a line, closed by a CRC-32 over
 * everything before it:
 *
 *   smartmeter-meterd-state 1
 *   device_id m1
 *   seq 1234
 *   boot 3
 *   energy_import_mwh 567890
 *   energy_export_mwh 0
 *   crc32 0a1b2c3d
 *
 * A file that is present but damaged, or that belongs to another device, is
 * an error: resetting seq silently would make the server drop or misfile
 * readings. The functions here do not log; they return a message.
 */
#ifndef SMARTMETER_METER_STATE_H
#define SMARTMETER_METER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

#define METER_STATE_MAGIC    "smartmeter-meterd-state"
#define METER_STATE_VERSION  1
#define METER_STATE_MAX_SIZE 4096
#define METER_STATE_ERR_LEN  512
/* Counters saturate here (the wire format's 1e15 Wh). */
#define METER_STATE_ENERGY_MAX_MWH INT64_C(1000000000000000000)

struct meter_state {
    char device_id[DEVICE_ID_MAX + 1];
    uint64_t seq; /* the last seq handed out; the next reading gets seq + 1 */
    uint32_t boot;
    int64_t energy_import_mwh;
    int64_t energy_export_mwh;
    double import_rem_mwh, export_rem_mwh; /* 0 <= rem < 1, not persisted */
};

/* A fresh state: seq 0, boot 0, zero energy. device_id must be valid. */
void meter_state_init(struct meter_state *s, const char *device_id);

/* Writes "<dir>/meterd-<device_id>.state" into buf. Returns 0 or -ENAMETOOLONG. */
int meter_state_path(const char *dir, const char *device_id, char *buf, size_t len);

/* Serialises s into buf (NUL-terminated). Returns the length, or -ENOSPC. */
int meter_state_format(const struct meter_state *s, char *buf, size_t len);

/*
 * Parses a state file's text, checks its CRC and that it belongs to
 * device_id. Returns 0, -EBADMSG (malformed or checksum mismatch) or
 * -EXDEV (another device's file), with err set. *ret is written only on success.
 */
int meter_state_parse(const char *text, size_t len, const char *device_id, struct meter_state *ret,
                      char *err, size_t errlen);

/* Reads and parses path. Returns 0, -ENOENT when there is no file, or an error as above. */
int meter_state_load(const char *path, const char *device_id, struct meter_state *ret, char *err,
                     size_t errlen);

/* Writes s to path with file_write_atomic (fsync + rename). Returns 0 or -errno. */
int meter_state_save(const char *path, const struct meter_state *s);

/*
 * What meterd does at start: creates dir if missing, loads the device's file
 * (a missing one gives a fresh state), increments boot and saves. Writes the
 * file's path to ret_path (ret_path_len bytes, also on error, for messages)
 * and *ret_fresh when no file existed. Returns 0 or -errno with err set; on
 * error *ret and *ret_fresh are left alone and no file is written.
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

#endif
