/*
 * tcp_listen: a listening TCP socket from an option's HOST:PORT ("[V6]:PORT"
 * too; an empty host is every address; port 0 picks a free one), for the
 * server's TCP ports (terminal_listen, modbus_listen, dtu_listen,
 * mms_listen). Messages name the option.
 */
#ifndef SMARTMETER_TCP_LISTEN_H
#define SMARTMETER_TCP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* Checks spec without binding: 0, or -EINVAL with err. */
int tcp_listen_check(const char *option, const char *spec, char *err, size_t errlen);
/*
 * Binds and listens with backlog (close-on-exec; non-blocking when nonblocking
 * is set): 0 with *ret_fd and *ret_port, or -errno with err.
 */
int tcp_listen(const char *option, const char *spec, int backlog, bool nonblocking, int *ret_fd,
               int *ret_port, char *err, size_t errlen);

#endif
