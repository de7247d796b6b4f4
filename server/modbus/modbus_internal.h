/*
 * modbus_internal: what the listener (listener.c) and a connection's
 * session (session.c, the only file with <modbus.h>) share.
 */
#ifndef SMARTMETER_MODBUS_INTERNAL_H
#define SMARTMETER_MODBUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "answer.h"
#include "modbus_server.h"

struct modbus_server {
    int listen_fd;
    int wake[2]; /* the listener's stop signal */
    int port;
    pthread_t thread;
    struct store_source db;
    struct modbus_units *units;
    unsigned max_connections, idle_s;

    pthread_mutex_t lock;
    pthread_cond_t drained; /* active reached 0 */
    unsigned active;
    int *fds; /* [max_connections]: open connections' sockets, -1 when free */
    bool stopping;

    atomic_uint_fast64_t accepted, refused, requests, exceptions, malformed, timeouts;
};

/* Serves one connection until it ends; closes nothing (the listener owns fd). */
void modbus_session_run(struct modbus_server *s, int fd);

#endif
