/*
 * cli: meter-server's administrative commands (migrate, user add|delete|set,
 * device add|delete). Each returns the process exit code: 0 done, 1 failed,
 * 2 bad input.
 */
#ifndef SMARTMETER_CLI_H
#define SMARTMETER_CLI_H

#include "options.h"

int cli_migrate(int argc, char **argv);
int cli_user_add(int argc, char **argv);
int cli_user_delete(int argc, char **argv);
int cli_user_set(int argc, char **argv);
int cli_device_add(int argc, char **argv);
/* Deletes a device and everything stored for it; a running server removes its broker account. */
int cli_device_delete(int argc, char **argv);
/*
 * Adds the devices of a CSV (FILE, or "-" for stdin; provision.h) in one
 * transaction and prints "device_id,secret" a line on stdout.
 */
int cli_device_import(int argc, char **argv);
/* Writes the SCL (IEC 61850-6) of the MMS port's devices on stdout (docs/iec61850.md). */
int cli_scl_export(int argc, char **argv);

/*
 * Shared with main.c: with db_password_file, puts the password it holds into
 * opt->db (a mysql:// URL with a user and no password), in memory only.
 * Returns 0, or the exit code after printing why.
 */
int cli_db_url(struct server_options *opt);

/* Shared with main.c: prints "meter-server: <msg>" on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
