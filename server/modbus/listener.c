/* listener: the Modbus TCP server's socket, its connections' threads, start and stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "modbus_internal.h"
#include "tcp_listen.h"

#define MAX_CONNECTIONS_DEFAULT 32
#define IDLE_S_DEFAULT          60

int modbus_server_check(const char *listen, char *err, size_t errlen)
{
    return tcp_listen_check("modbus_listen", listen, err, errlen);
}

struct conn {
    struct modbus_server *s;
    int fd;
    unsigned slot;
};

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct modbus_server *s = c->s;
    modbus_session_run(s, c->fd);
    pthread_mutex_lock(&s->lock);
    s->fds[c->slot] = -1;
    close(c->fd);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->lock);
    free(c);
    return NULL;
}

/* Gives fd a thread, or closes it when the server is full or stopping. */
static void admit(struct modbus_server *s, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = malloc(sizeof(*c));
    pthread_mutex_lock(&s->lock);
    unsigned slot = 0;
    while (slot < s->max_connections && s->fds[slot] >= 0)
        slot++;
    if (!c || s->stopping || slot == s->max_connections) {
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&s->refused, 1);
        close(fd);
        free(c);
        return;
    }
    *c = (struct conn){.s = s, .fd = fd, .slot = slot};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, conn_main, c)) {
        pthread_mutex_unlock(&s->lock);
        pthread_attr_destroy(&attr);
        atomic_fetch_add(&s->refused, 1);
        close(fd);
        free(c);
        return;
    }
    pthread_attr_destroy(&attr);
    s->fds[slot] = fd;
    s->active++;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->accepted, 1);
}

static void *listener_main(void *arg)
{
    struct modbus_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("modbus: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                log_warn("modbus: accept: %s", strerror(errno));
                poll(NULL, 0, 100); /* let connections end before trying again */
            }
            continue;
        }
        admit(s, fd);
    }
    return NULL;
}

static void server_free(struct modbus_server *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    modbus_units_free(s->units);
    store_source_clear(&s->db);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->drained);
    free(s->fds);
    free(s);
}

int modbus_server_start(const struct modbus_server_options *o, struct modbus_server **ret,
                        char *err, size_t errlen)
{
    struct modbus_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "modbus: out of memory");
        return -ENOMEM;
    }
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->drained, NULL);
    s->max_connections = o->max_connections ? o->max_connections : MAX_CONNECTIONS_DEFAULT;
    s->idle_s = o->idle_s ? o->idle_s : IDLE_S_DEFAULT;
    int r = store_source_copy(&s->db, &o->db);
    if (r) {
        snprintf(err, errlen, "modbus: %s", r == -EINVAL ? "no database" : "out of memory");
        goto fail;
    }
    s->units = modbus_units_new(o->units_refresh_ms);
    s->fds = malloc(s->max_connections * sizeof(*s->fds));
    if (!s->units || !s->fds || pipe2(s->wake, O_CLOEXEC)) {
        r = -ENOMEM;
        snprintf(err, errlen, "modbus: out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < s->max_connections; i++)
        s->fds[i] = -1;
    r = tcp_listen("modbus_listen", o->listen, 128, false, &s->listen_fd, &s->port, err, errlen);
    if (r)
        goto fail;
    r = -pthread_create(&s->thread, NULL, listener_main, s);
    if (r) {
        snprintf(err, errlen, "modbus: cannot start its thread: %s", strerror(-r));
        goto fail;
    }
    *ret = s;
    return 0;
fail:
    server_free(s);
    return r;
}

int modbus_server_port(const struct modbus_server *s)
{
    return s ? s->port : 0;
}

void modbus_server_counters(const struct modbus_server *s, struct modbus_server_counters *ret)
{
    *ret = (struct modbus_server_counters){
        .accepted = atomic_load(&s->accepted),
        .refused = atomic_load(&s->refused),
        .requests = atomic_load(&s->requests),
        .exceptions = atomic_load(&s->exceptions),
        .malformed = atomic_load(&s->malformed),
        .timeouts = atomic_load(&s->timeouts),
    };
}

void modbus_server_stop(struct modbus_server *s)
{
    if (!s)
        return;
    char b = 1;
    if (write(s->wake[1], &b, 1) != 1)
        log_warn("modbus: cannot wake the listener: %s", strerror(errno));
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    /* A session blocked in recv or send returns at once, and its thread ends. */
    for (unsigned i = 0; i < s->max_connections; i++)
        if (s->fds[i] >= 0)
            shutdown(s->fds[i], SHUT_RDWR);
    while (s->active > 0)
        pthread_cond_wait(&s->drained, &s->lock);
    pthread_mutex_unlock(&s->lock);
    server_free(s);
}
