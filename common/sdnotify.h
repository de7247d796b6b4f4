/*
 * sdnotify: the daemon's side of systemd's notification protocol (sd_notify(3),
 * sd_watchdog_enabled(3)), without libsystemd, so the meter's ARM builds need
 * nothing new.
 *
 * The service manager names an AF_UNIX datagram socket in $NOTIFY_SOCKET: a
 * path ("/run/systemd/notify") or an abstract name written with a leading
 * '@'. Each message is one datagram of newline-separated VAR=VALUE lines
 * (READY=1, STATUS=..., STOPPING=1, WATCHDOG=1). Without $NOTIFY_SOCKET every
 * send is a no-op, so the daemons behave the same outside systemd.
 * $WATCHDOG_USEC (with $WATCHDOG_PID, when set, naming this process) says the
 * manager expects WATCHDOG=1 at least that often; watchdog.h sends them.
 *
 * The environment is read, never changed (setenv/unsetenv are not thread-safe).
 * Every function may be called from any thread; none allocates or logs.
 */
#ifndef SMARTMETER_SDNOTIFY_H
#define SMARTMETER_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest STATUS= text sent; longer texts are cut (at a UTF-8 character boundary). */
#define SDNOTIFY_STATUS_MAX 480

/*
 * The socket address for a $NOTIFY_SOCKET value: an absolute path, or "@name"
 * for the abstract name "\0name". Returns 0 and *ret, *ret_len (the length to
 * pass to connect/sendto); -EINVAL for an empty name or one that is neither;
 * -ENAMETOOLONG when it does not fit sun_path.
 */
int sdnotify_address(const char *name, struct sockaddr_un *ret, socklen_t *ret_len);

/*
 * Whether the watchdog applies to process self, from the values of
 * $WATCHDOG_USEC and $WATCHDOG_PID (either may be NULL: unset). Returns 1 and
 * *ret_usec when usec is a positive decimal and pid is unset or equal to
 * self; 0 when usec is unset or pid names another process; -EINVAL when
 * either is not a number (or usec is 0).
 */
int sdnotify_parse_watchdog(const char *usec, const char *pid, pid_t self, uint64_t *ret_usec);

/* sdnotify_parse_watchdog() on this process's environment (sd_watchdog_enabled(0, ...)). */
int sdnotify_watchdog_enabled(uint64_t *ret_usec);

/*
 * Sends message (one or more "VAR=VALUE" lines) to $NOTIFY_SOCKET. Returns 1
 * when sent, 0 when $NOTIFY_SOCKET is unset, or -errno (the address is
 * invalid, or the socket or the send failed); the caller decides whether to log.
 */
int sdnotify_send(const char *message);

/*
 * The state lines with a STATUS= line after them: "READY=1", "STOPPING=1" or
 * NULL (the status alone). status may be NULL (no STATUS= line); newlines in
 * it become spaces, and it is cut at SDNOTIFY_STATUS_MAX bytes. Returns as
 * sdnotify_send().
 */
int sdnotify_state(const char *state, const char *status);

/* READY=1: the daemon serves. */
int sdnotify_ready(const char *status);
/* STOPPING=1: the daemon is shutting down. */
int sdnotify_stopping(const char *status);
/* STATUS=...: a one-line summary for `systemctl status`. */
int sdnotify_status(const char *status);
/* WATCHDOG=1: the daemon is alive (watchdog.h sends it only while it makes progress). */
int sdnotify_watchdog(void);

#endif
