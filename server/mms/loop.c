/*
 * The MMS port's thread (mms.h): one poll() over the listener, a wake pipe
 * and at most MMS_MAX_CONNECTIONS clients. With so few connections a poll
 * set rebuilt every turn costs nothing and keeps the loop plain.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mms.h"
#include "store_provider.h"
#include "tcp_listen.h"
#include "timeutil.h"

#define IN_MAX       (TPKT_MAX + 1u) /* one TPKT at most waits for its end */
#define OUT_MAX      (2u * MMS_OUT_MAX)
#define LOG_EVERY_MS 60000
#define TICK_MS      250 /* reports are due at this resolution */

struct client {
    int fd;
    bool closing; /* ended: close once the output is sent (or it times out) */
    int64_t since_ms, last_ms;
    struct mms_conn conn;
    uint8_t *in;
    size_t in_len;
    struct dynbuf out;
    size_t out_off;
};

struct mms_server {
    int listen_fd, wake[2], port;
    pthread_t thread;
    bool started;
    struct mms_allow allow;
    struct mms_store_provider sp;
    struct mms_scratch *scratch;
    struct client *clients[MMS_MAX_CONNECTIONS];
    uint16_t next_ref;
    int64_t log_at[MMS_END__COUNT + 1];
    atomic_uint_fast64_t c_connections, c_accepted, c_refused_allow, c_refused_busy;
    atomic_uint_fast64_t c_associations, c_requests, c_rejects, c_timeouts, c_reports;
    atomic_uint_fast64_t c_ended[MMS_END__COUNT];
};

static const char *end_names[MMS_END__COUNT] = {"disconnected",        "released", "aborted",
                                                "malformed",           "refused",  "too big",
                                                "association rejected"};

const char *mms_end_name(enum mms_end why)
{
    return (unsigned)why < MMS_END__COUNT ? end_names[why] : "unknown";
}

/* --- addresses ------------------------------------------------------------------------------ */

int mms_check(const char *listen, const char *allow, char *err, size_t errlen)
{
    struct mms_allow a;
    int r = tcp_listen_check("mms_listen", listen, err, errlen);
    return r ? r : mms_allow_parse(allow, &a, err, errlen);
}

/* --- clients -------------------------------------------------------------------------------- */

static void count_end(struct mms_server *m, enum mms_end why)
{
    atomic_fetch_add(&m->c_ended[why], 1);
    int64_t now = time_mono_ms();
    if (why == MMS_END_RELEASED || why == MMS_END_NONE)
        return;
    if (m->log_at[why] && now - m->log_at[why] < LOG_EVERY_MS)
        return;
    m->log_at[why] = now;
    log_info("mms: a client connection ended: %s", end_names[why]);
}

static void drop(struct mms_server *m, unsigned i)
{
    struct client *c = m->clients[i];
    if (!c->closing)
        count_end(m, c->conn.end);
    close(c->fd);
    mms_conn_free(&c->conn);
    free(c->in);
    dynbuf_free(&c->out);
    free(c);
    m->clients[i] = NULL;
    atomic_fetch_sub(&m->c_connections, 1);
}

static void accept_all(struct mms_server *m, int64_t now)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(m->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        atomic_fetch_add(&m->c_accepted, 1);
        if (!mms_allow_check(&m->allow, (struct sockaddr *)&ss)) {
            atomic_fetch_add(&m->c_refused_allow, 1);
            close(fd);
            continue;
        }
        unsigned i = 0;
        while (i < MMS_MAX_CONNECTIONS && m->clients[i])
            i++;
        struct client *c = i < MMS_MAX_CONNECTIONS ? calloc(1, sizeof(*c)) : NULL;
        if (c)
            c->in = malloc(IN_MAX);
        if (!c || !c->in) {
            if (c)
                free(c);
            atomic_fetch_add(&m->c_refused_busy, 1);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->since_ms = c->last_ms = now;
        mms_conn_init(&c->conn, ++m->next_ref);
        dynbuf_init(&c->out, OUT_MAX);
        m->clients[i] = c;
        atomic_fetch_add(&m->c_connections, 1);
    }
}

/* Sends what it can; false when the connection failed. */
static bool flush(struct client *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    dynbuf_reset(&c->out);
    c->out_off = 0;
    return true;
}

/* Serves the whole TPKTs in the input; false when the connection is to go now. */
static bool process(struct mms_server *m, struct client *c)
{
    bool was_associated = c->conn.state == MC_ASSOCIATED;
    uint64_t req = c->conn.requests, rej = c->conn.rejects;
    size_t used = 0;
    c->conn.rcbs.now_ms = time_mono_ms();
    int r = mms_conn_input(&c->conn, &m->sp.p, m->scratch, c->in, c->in_len, &used, &c->out);
    atomic_fetch_add(&m->c_requests, c->conn.requests - req);
    atomic_fetch_add(&m->c_rejects, c->conn.rejects - rej);
    if (!was_associated && c->conn.state == MC_ASSOCIATED)
        atomic_fetch_add(&m->c_associations, 1);
    if (r < 0)
        return false;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (r == 1) {
        count_end(m, c->conn.end);
        c->closing = true;
    }
    return flush(c);
}

/* Reads and serves; false when the connection is to go now. */
static bool serve(struct mms_server *m, struct client *c, int64_t now)
{
    if (c->in_len == IN_MAX) /* whole TPKTs left for later: serve them first */
        return process(m, c);
    ssize_t n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
    if (n == 0)
        return false; /* the client closed */
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c->in_len += (size_t)n;
    c->last_ms = now;
    return process(m, c);
}

static void *run(void *arg)
{
    struct mms_server *m = arg;
    struct pollfd pf[MMS_MAX_CONNECTIONS + 2];
    unsigned idx[MMS_MAX_CONNECTIONS];
    for (;;) {
        unsigned n = 0;
        pf[n++] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
        unsigned nc = 0;
        for (unsigned i = 0; i < MMS_MAX_CONNECTIONS; i++) {
            struct client *c = m->clients[i];
            if (!c)
                continue;
            bool pending = c->out_off < c->out.len;
            /* Reading stops while output waits: a client that does not read cannot grow it. */
            short ev = (short)(pending ? POLLOUT : c->closing ? 0 : POLLIN);
            idx[nc++] = i;
            pf[n++] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int r = poll(pf, n, TICK_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break; /* mms_stop() */
        int64_t now = time_mono_ms();
        for (unsigned k = 0; k < nc; k++) {
            unsigned i = idx[k];
            struct client *c = m->clients[i];
            short re = pf[k + 2].revents;
            bool ok = true;
            if (re & (POLLERR | POLLNVAL))
                ok = false;
            else if (re & POLLOUT) {
                ok = flush(c);
                /* Sent: what the client sent meanwhile waits in the input. */
                if (ok && c->out_off >= c->out.len && c->in_len && !c->closing)
                    ok = process(m, c);
            } else if (re & (POLLIN | POLLHUP))
                ok = serve(m, c, now);
            if (ok && c->closing && c->out_off >= c->out.len)
                ok = false;
            /* Reports owed, once what went before is sent. */
            if (ok && !c->closing && c->out_off >= c->out.len && c->conn.state == MC_ASSOCIATED) {
                uint64_t sent = c->conn.reports;
                ok = mms_conn_tick(&c->conn, &m->sp.p, m->scratch, now, &c->out) == 0 && flush(c);
                atomic_fetch_add(&m->c_reports, c->conn.reports - sent);
                if (c->conn.reports != sent)
                    c->last_ms = now; /* a client taking reports is not idle */
            }
            /* Timeouts: to associate (from the accept), then between requests; one that ended
               has MMS_ASSOCIATE_S from its last input to take its last answer. */
            bool live = c->conn.state == MC_ASSOCIATED && !c->closing;
            int64_t limit = live ? MMS_IDLE_S : MMS_ASSOCIATE_S;
            int64_t from = live || c->closing ? c->last_ms : c->since_ms;
            if (ok && now - from > limit * 1000) {
                atomic_fetch_add(&m->c_timeouts, 1);
                ok = false;
            }
            if (!ok)
                drop(m, i);
        }
        if (pf[1].revents & POLLIN)
            accept_all(m, now);
    }
    return NULL;
}

/* --- start and stop ----------------------------------------------------------------------- */

static int listen_on(struct mms_server *m, const char *spec, char *err, size_t errlen)
{
    return tcp_listen("mms_listen", spec, 64, true, &m->listen_fd, &m->port, err, errlen);
}

int mms_start(const struct mms_options *o, struct mms_server **ret, char *err, size_t errlen)
{
    struct mms_server *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "mms: out of memory");
        return -ENOMEM;
    }
    m->listen_fd = m->wake[0] = m->wake[1] = -1;
    int r = mms_allow_parse(o->allow, &m->allow, err, errlen);
    if (r == 0 && !(m->scratch = malloc(sizeof(*m->scratch)))) {
        snprintf(err, errlen, "mms: out of memory");
        r = -ENOMEM;
    }
    if (r == 0 && (r = mms_store_provider_init(&m->sp, &o->db)))
        snprintf(err, errlen, "mms: no database source");
    if (r == 0 && pipe2(m->wake, O_CLOEXEC)) {
        r = -errno;
        snprintf(err, errlen, "mms: pipe: %s", strerror(errno));
    }
    if (r == 0)
        r = listen_on(m, o->listen, err, errlen);
    if (r == 0 && (r = -pthread_create(&m->thread, NULL, run, m)))
        snprintf(err, errlen, "mms: cannot start its thread");
    if (r) {
        mms_stop(m);
        return r;
    }
    m->started = true;
    *ret = m;
    return 0;
}

int mms_port(const struct mms_server *m)
{
    return m ? m->port : 0;
}

void mms_get_stats(struct mms_server *m, struct mms_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!m)
        return;
    ret->connections = atomic_load(&m->c_connections);
    ret->accepted = atomic_load(&m->c_accepted);
    ret->refused_allow = atomic_load(&m->c_refused_allow);
    ret->refused_busy = atomic_load(&m->c_refused_busy);
    ret->associations = atomic_load(&m->c_associations);
    ret->requests = atomic_load(&m->c_requests);
    ret->rejects = atomic_load(&m->c_rejects);
    ret->timeouts = atomic_load(&m->c_timeouts);
    ret->reports = atomic_load(&m->c_reports);
    for (unsigned i = 0; i < MMS_END__COUNT; i++)
        ret->ended[i] = atomic_load(&m->c_ended[i]);
}

void mms_stop(struct mms_server *m)
{
    if (!m)
        return;
    if (m->started) {
        ssize_t w = write(m->wake[1], "x", 1);
        (void)w;
        pthread_join(m->thread, NULL);
    }
    for (unsigned i = 0; i < MMS_MAX_CONNECTIONS; i++)
        if (m->clients[i]) {
            m->clients[i]->closing = true; /* not counted as an end by the client */
            drop(m, i);
        }
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->wake[0] >= 0)
        close(m->wake[0]);
    if (m->wake[1] >= 0)
        close(m->wake[1]);
    mms_store_provider_free(&m->sp);
    free(m->scratch);
    free(m);
}
