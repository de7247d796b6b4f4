/*
 * cli: meter-server's administrative commands (migrate, user add, device add,
 * device delete).
 * Each returns the process exit code: 0 done, 1 failed, 2 bad input.
 */
#ifndef SMARTMETER_CLI_H
#define SMARTMETER_CLI_H

int cli_migrate(int argc, char **argv);
int cli_user_add(int argc, char **argv);
int cli_device_add(int argc, char **argv);
/* Deletes a device and everything stored for it; a running server removes its broker account. */
int cli_device_delete(int argc, char **argv);

/* Shared with main.c: prints "meter-server: <msg>" on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
