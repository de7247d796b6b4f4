/*
 * relay: the meter's load relay as the server commands it (docs/protocol.md
 * "Relay"), kept in a small file of the state directory so that a power cut
 * never closes a relay the server opened.
 *
 * The file, <state_dir>/<device_id>.relay, is text written atomically:
 *   line 1: "on" or "off"
 *   line 2: the "ts" of the newest relay command applied (epoch ms)
 *   then:   the ids of the last RELAY_IDS_MAX relay commands taken, newest first
 * A missing file is a relay that is on (a new meter supplies its load). A
 * damaged file is an error: meterd refuses to start rather than guess.
 *
 * relay_apply() decides what one relay command does: a command id seen
 * before is answered again without acting (the server resends until it has
 * an answer), a command older than the newest one applied is refused
 * ("superseded"), any other sets the state, saves the file, then calls the
 * switch. Pure apart from the file: no logging, no GPIO (the caller's
 * callback drives the line).
 *
 * Ownership: struct relay_state is plain data the caller owns.
 */
#ifndef SMARTMETER_METER_RELAY_H
#define SMARTMETER_METER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

#define RELAY_IDS_MAX  32
#define RELAY_PATH_MAX 4096
/* The longest file: line 1 and 2, then every id and its newline. */
#define RELAY_FILE_MAX (16 + 24 + RELAY_IDS_MAX * (COMMAND_ID_MAX + 1))

struct relay_state {
    bool on;
    int64_t last_ts_ms; /* INT64_MIN before any command */
    size_t n_ids;
    char ids[RELAY_IDS_MAX][COMMAND_ID_MAX + 1]; /* newest first */
    char path[RELAY_PATH_MAX];
};

/*
 * Loads (or starts, when there is no file) the relay state of device_id in
 * state_dir. Returns 0, or -errno with err saying what is wrong (a damaged
 * file names its line).
 */
int relay_load(const char *state_dir, const char *device_id, struct relay_state *ret, char *err,
               size_t errlen);

/*
 * The file's text (len bytes, NUL-terminated) into *s, whose path names the
 * file in messages; what relay_load() does after reading. Returns 0, or
 * -EINVAL with err naming the line (then *s is partly written).
 */
int relay_parse(const char *text, size_t len, struct relay_state *s, char *err, size_t errlen);
/* The file's text for *s into out; *ret_len its length. 0, or -E2BIG (never for a valid state). */
int relay_format(const struct relay_state *s, char out[RELAY_FILE_MAX + 1], size_t *ret_len);

/* Writes the state to its file atomically. Returns 0 or -errno. */
int relay_save(const struct relay_state *s);

enum relay_outcome {
    RELAY_SWITCHED,   /* state changed, saved, switch called */
    RELAY_UNCHANGED,  /* already in the asked state (saved: the id is remembered) */
    RELAY_REPEATED,   /* this id was taken before: answered again, nothing done */
    RELAY_SUPERSEDED, /* older than the newest command applied: refused */
};

/*
 * Applies one parsed relay command (c->kind COMMAND_RELAY). The state is
 * saved before switch_fn runs, so a cut in between leaves the file right
 * and the line is set from it at the next start. Returns 0 with *ret_outcome,
 * or -errno when the file could not be written (nothing changed then; the
 * command is answered with an error and the server sends it again).
 */
int relay_apply(struct relay_state *s, const struct command *c,
                int (*switch_fn)(void *ctx, bool on), void *ctx, enum relay_outcome *ret_outcome);

#endif
