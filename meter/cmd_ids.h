/*
 * cmd_ids: the text of a state file the meter keeps for a kind of command
 * (relay.c, interval.c): a few lines of values, then the ids of the last
 * commands run, newest first, one per line, so that a command sent again
 * after a reconnect or a restart is known and not run twice.
 *
 * The caller owns every buffer; nothing here allocates or touches a file.
 */
#ifndef SMARTMETER_CMD_IDS_H
#define SMARTMETER_CMD_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "command.h"

typedef char cmd_id[COMMAND_ID_MAX + 1];

/*
 * Copies the line that starts at *p into buf (cap bytes, NUL-terminated)
 * and moves *p past it. False at the end of the text, or for a line of cap
 * bytes or more (*p still moves past it).
 */
bool cmd_ids_line(const char **p, char *buf, size_t cap);

/*
 * Reads the rest of the text at *p as command ids, one per line, into
 * ids[0..max) and *ret_n. 0, or -EINVAL with *ret_line (first_line for the
 * line at *p, counting on) and *ret_what ("expected a command id", "too many
 * command ids") saying what is wrong.
 */
int cmd_ids_parse(const char **p, int first_line, cmd_id *ids, size_t max, size_t *ret_n,
                  int *ret_line, const char **ret_what);

/*
 * Appends ids[0..n) one per line at out + *len (cap bytes in all), moving
 * *len. -E2BIG when they do not fit (*len is then past cap: the text is cut).
 */
int cmd_ids_format(const cmd_id *ids, size_t n, char *out, size_t cap, size_t *len);

/* Whether id is among ids[0..n). */
bool cmd_ids_seen(const cmd_id *ids, size_t n, const char *id);

/* Puts id first, the others one down; the oldest goes when max are held. */
void cmd_ids_remember(cmd_id *ids, size_t max, size_t *n, const char *id);

#endif
