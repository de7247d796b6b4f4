/*
 * interval: the publish interval a server's set_interval command gave the
 * meter (docs/protocol.md "Remote operations"), kept in a small file of the
 * state directory so that a restart keeps it.
 *
 * The file, <state_dir>/<device_id>.interval, is text written atomically:
 *   line 1: the interval in ms (COMMAND_INTERVAL_MIN_MS..COMMAND_INTERVAL_MAX_MS)
 *   then:   the ids of the last INTERVAL_IDS_MAX set_interval commands applied, newest first
 * Without the file, --interval (or the config file's interval) holds; with
 * it, the file wins over them (meterd logs which it uses): remove the file
 * to go back to the configured interval. A damaged file is an error: meterd
 * refuses to start rather than guess.
 *
 * interval_apply() decides what one set_interval command does: an id seen
 * before is answered again without acting (the server resends until it has
 * an answer), any other sets and saves the interval. Pure apart from the
 * file: no logging.
 *
 * Ownership: struct interval_state is plain data the caller owns.
 */
#ifndef SMARTMETER_METER_INTERVAL_H
#define SMARTMETER_METER_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

#define INTERVAL_IDS_MAX  8
#define INTERVAL_PATH_MAX 4096
#define INTERVAL_FILE_MAX (16 + INTERVAL_IDS_MAX * (COMMAND_ID_MAX + 1))

struct interval_state {
    bool present;         /* a file was loaded or saved: interval_ms holds */
    uint32_t interval_ms; /* with present */
    size_t n_ids;
    char ids[INTERVAL_IDS_MAX][COMMAND_ID_MAX + 1]; /* newest first */
    char path[INTERVAL_PATH_MAX];
};

/*
 * Loads the interval state of device_id in state_dir (present false when
 * there is no file). Returns 0, or -errno with err saying what is wrong (a
 * damaged file names its line).
 */
int interval_load(const char *state_dir, const char *device_id, struct interval_state *ret,
                  char *err, size_t errlen);
/* The file's text (len bytes) into *s (whose path names it in messages): 0 or -EINVAL with err. */
int interval_parse(const char *text, size_t len, struct interval_state *s, char *err,
                   size_t errlen);
/* The file's text for *s; 0 or -E2BIG (never for a valid state). */
int interval_format(const struct interval_state *s, char out[INTERVAL_FILE_MAX + 1],
                    size_t *ret_len);

enum interval_outcome {
    INTERVAL_APPLIED,  /* saved: the caller uses c->interval_ms from now on */
    INTERVAL_REPEATED, /* this id was applied before: answered again, nothing done */
};

/*
 * Applies one parsed set_interval command: saves the state with the new
 * interval before returning INTERVAL_APPLIED. Returns 0 with *ret_outcome,
 * or -EINVAL (not a set_interval) / -errno when the file could not be written
 * (nothing changed then).
 */
int interval_apply(struct interval_state *s, const struct command *c,
                   enum interval_outcome *ret_outcome);

#endif
