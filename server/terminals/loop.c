/*
 * The gateway's event loop: the listening socket, one epoll set for every
 * connection, the eventfd other threads wake it with, and the two timeouts.
 *
 * Timeouts without a timer per connection: connections still in their
 * handshake are kept in accept order (the deadline is accept + 10 s), those
 * in session in the order of their last bytes received (a connection that
 * receives moves to the end). Both lists are thus sorted by deadline, and
 * the loop only looks at their heads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "tcp_listen.h"
#include "terminals_internal.h"
#include "timeutil.h"

#define MAX_EVENTS        256
#define ACCEPTS_PER_TURN  256
#define LOG_EVERY_MS      60000
#define EMFILE_PAUSE_MS   100
#define STOP_STATUS_MS    3000 /* offline statuses stored at shutdown, at most this long */
#define DEFAULT_MAX_CONNS 20000u
#define TABLE_MIN         1024u

static char listen_tag, wake_tag; /* epoll data for the two non-connection descriptors */

/* --- lists ---------------------------------------------------------------------------------- */

static void list_add(struct conn_list *l, struct conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_del(struct conn_list *l, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

/* --- the device table ----------------------------------------------------------------------- */

static size_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are authenticated before they go in */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)h;
}

struct conn *term_table_find(struct terminals *t, const char *device_id)
{
    for (struct conn *c = t->table[id_hash(device_id) & t->table_mask]; c; c = c->hnext)
        if (strcmp(c->link.device_id, device_id) == 0)
            return c;
    return NULL;
}

static void table_del(struct terminals *t, struct conn *c)
{
    struct conn **p = &t->table[id_hash(c->link.device_id) & t->table_mask];
    while (*p && *p != c)
        p = &(*p)->hnext;
    if (*p)
        *p = c->hnext;
    c->hnext = NULL;
    c->in_table = false;
}

void term_session_opened(struct terminals *t, struct conn *c)
{
    struct conn *old = term_table_find(t, c->link.device_id);
    pthread_mutex_lock(&t->lock);
    if (old)
        table_del(t, old);
    size_t b = id_hash(c->link.device_id) & t->table_mask;
    c->hnext = t->table[b];
    t->table[b] = c;
    c->in_table = true;
    pthread_mutex_unlock(&t->lock);
    if (old)
        term_close(t, old, LINK_R_REPLACED, false, "a newer connection of the device");
    list_del(&t->handshaking, c);
    list_add(&t->sessions, c);
    c->session = true;
    c->since_ms = time_mono_ms();
    atomic_fetch_add(&t->c.opened, 1);
    atomic_fetch_add(&t->c.sessions, 1);
    term_status_post(t->status, c->link.device_id, true, time_now_ms());
}

/* --- sending and closing -------------------------------------------------------------------- */

static void set_events(struct terminals *t, struct conn *c, bool in, bool out)
{
    if (c->reading == in && c->want_out == out)
        return;
    struct epoll_event ev = {.events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->reading = in;
        c->want_out = out;
    }
}

/* Writes what it can; false when the connection failed (not closed here). */
static bool write_out(struct conn *c)
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
    /* All sent: an idle connection holds no output buffer. */
    dynbuf_free(&c->out);
    dynbuf_init(&c->out, TERM_OUT_MAX);
    c->out_off = 0;
    return true;
}

int term_flush(struct terminals *t, struct conn *c)
{
    if (c->dead)
        return -1;
    if (!write_out(c)) {
        term_close(t, c, -1, false, "send failed");
        return -1;
    }
    size_t pending = c->out.len - c->out_off;
    set_events(t, c, pending<TERM_OUT_HIGH, pending> 0);
    return 0;
}

static const char *kind_name(int reason, bool peer)
{
    if (reason < 0)
        return "disconnected";
    return peer ? "peer_close" : link_reason_name((unsigned)reason);
}

/* At most one line a minute per reason, saying how many went unlogged. */
static void log_close(struct terminals *t, const struct conn *c, int reason, bool peer,
                      const char *why)
{
    size_t k = reason < 0 || peer ? TERMINALS_CLOSE_KINDS : (size_t)reason;
    if (reason == LINK_R_SHUTDOWN && !peer)
        return;
    int64_t now = time_mono_ms();
    if (t->log_at[k] && now - t->log_at[k] < LOG_EVERY_MS) {
        t->log_skipped[k]++;
        return;
    }
    const char *dev = c->link.device_id[0] ? c->link.device_id : "-";
    if (peer)
        log_info("terminals: device '%s' closed its link: %s (%s); %llu more since", dev,
                 link_reason_name((unsigned)reason), why ? why : "",
                 (unsigned long long)t->log_skipped[k]);
    else
        log_info("terminals: link of device '%s' closed: %s%s%s; %llu more of this kind since", dev,
                 kind_name(reason, peer), why ? ": " : "", why ? why : "",
                 (unsigned long long)t->log_skipped[k]);
    t->log_at[k] = now;
    t->log_skipped[k] = 0;
}

void term_close(struct terminals *t, struct conn *c, int reason, bool peer, const char *why)
{
    if (c->dead)
        return;
    if (reason >= 0 && !peer &&
        link_send_close(&c->link, (enum link_reason)reason, NULL, &c->out) == 0) {
        atomic_fetch_add(&t->c.frames_out, 1);
        (void)write_out(c); /* best effort: the socket closes next */
    }
    if (reason < 0)
        atomic_fetch_add(&t->c.disconnected, 1);
    else if (peer)
        atomic_fetch_add(&t->c.peer_closed[reason < TERMINALS_CLOSE_KINDS ? reason : 0], 1);
    else
        atomic_fetch_add(&t->c.closed[reason], 1);
    log_close(t, c, reason, peer, why);
    term_capture_release(t, c);
    epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    if (c->in_table) {
        pthread_mutex_lock(&t->lock);
        table_del(t, c);
        pthread_mutex_unlock(&t->lock);
        term_status_post(t->status, c->link.device_id, false, time_now_ms());
    }
    if (c->session) {
        list_del(&t->sessions, c);
        atomic_fetch_sub(&t->c.sessions, 1);
    } else {
        list_del(&t->handshaking, c);
    }
    list_add(&t->dead, c);
    atomic_fetch_sub(&t->c.connections, 1);
    t->n_conns--;
}

void term_capture_release(struct terminals *t, struct conn *c)
{
    t->capture_reserved -= c->capture_reserved;
    c->capture_reserved = 0;
    dynbuf_free(&c->capture);
}

static void free_dead(struct terminals *t)
{
    while (t->dead.head) {
        struct conn *c = t->dead.head;
        list_del(&t->dead, c);
        link_free(&c->link);
        dynbuf_free(&c->out);
        dynbuf_free(&c->capture);
        free(c);
    }
}

/* --- accepting ------------------------------------------------------------------------------ */

/* Refuses a connection over the limit with a bare CLOSE busy. */
static void refuse_busy(struct terminals *t, int fd)
{
    struct link l;
    struct dynbuf out;
    uint8_t nonce[LINK_NONCE_LEN] = {0};
    link_server_init(&l, nonce, t->heartbeat_s, t->idle_s);
    dynbuf_init(&out, 256);
    if (link_send_close(&l, LINK_R_BUSY, "at the connection limit", &out) == 0)
        (void)send(fd, out.buf, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    dynbuf_free(&out);
    link_free(&l);
    close(fd);
    atomic_fetch_add(&t->c.closed[LINK_R_BUSY], 1);
    int64_t now = time_mono_ms();
    if (!t->log_at[LINK_R_BUSY] || now - t->log_at[LINK_R_BUSY] >= LOG_EVERY_MS) {
        log_warn("terminals: at the limit of %u connections: refusing (busy)", t->max_connections);
        t->log_at[LINK_R_BUSY] = now;
    }
}

static void accept_some(struct terminals *t, int64_t now)
{
    for (int k = 0; k < ACCEPTS_PER_TURN; k++) {
        int fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: leave the listener out for a moment rather than spin. */
                epoll_ctl(t->epoll_fd, EPOLL_CTL_DEL, t->listen_fd, NULL);
                t->listen_paused_until = now + EMFILE_PAUSE_MS;
                log_warn("terminals: cannot accept: %s", strerror(errno));
            }
            return;
        }
        if (t->n_conns >= t->max_connections) {
            refuse_busy(t, fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->since_ms = now;
        uint8_t nonce[LINK_NONCE_LEN];
        sign_random(nonce, sizeof(nonce));
        link_server_init(&c->link, nonce, t->heartbeat_s, t->idle_s);
        dynbuf_init(&c->out, TERM_OUT_MAX);
        dynbuf_init(&c->capture, t->capture_max);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
            link_free(&c->link);
            free(c);
            close(fd);
            continue;
        }
        c->reading = true;
        list_add(&t->handshaking, c);
        t->n_conns++;
        atomic_fetch_add(&t->c.accepted, 1);
        atomic_fetch_add(&t->c.connections, 1);
    }
}

/* --- one connection's readiness ------------------------------------------------------------- */

static void on_readable(struct terminals *t, struct conn *c, int64_t now)
{
    ssize_t n = recv(c->fd, t->rbuf, sizeof(t->rbuf), 0);
    if (n == 0) {
        term_close(t, c, -1, false, "the terminal closed the connection");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            term_close(t, c, -1, false, strerror(errno));
        return;
    }
    if (c->link.state == LINK_S_OPEN) {
        /* Received: the idle timeout starts again. */
        c->since_ms = now;
        list_del(&t->sessions, c);
        list_add(&t->sessions, c);
    }
    if (term_received(t, c, t->rbuf, (size_t)n, now) == 0) {
        link_release(&c->link); /* an idle link holds no receive buffer */
        term_flush(t, c);
    }
}

/* --- timers --------------------------------------------------------------------------------- */

static int64_t expire(struct terminals *t, int64_t now)
{
    /* link_timeout_ms(): the handshake's 10 s until the session opens, then the idle timeout;
       the same for every link of a list, whose head is therefore the first due. */
    struct conn_list *lists[] = {&t->handshaking, &t->sessions};
    int64_t wait = 1000;
    for (size_t k = 0; k < 2; k++) {
        struct conn *c;
        while ((c = lists[k]->head) && now - c->since_ms >= link_timeout_ms(&c->link))
            term_close(t, c, k == 0 ? LINK_R_HANDSHAKE_TIMEOUT : LINK_R_IDLE, false, NULL);
        if (c) {
            int64_t w = c->since_ms + link_timeout_ms(&c->link) - now;
            wait = w < wait ? w : wait;
        }
    }
    return wait < 1 ? 1 : wait;
}

static void *loop_main(void *arg)
{
    struct terminals *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    int64_t wait = 1000;
    while (!atomic_load(&t->stopping)) {
        int n = epoll_wait(t->epoll_fd, evs, MAX_EVENTS, (int)wait);
        int64_t now = time_mono_ms();
        for (int k = 0; k < n; k++) {
            void *p = evs[k].data.ptr;
            if (p == &listen_tag) {
                accept_some(t, now);
                continue;
            }
            if (p == &wake_tag) {
                uint64_t v;
                (void)!read(t->wake_fd, &v, sizeof(v));
                term_inbox_run(t);
                continue;
            }
            struct conn *c = p;
            if (c->dead)
                continue;
            if (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                if (term_flush(t, c))
                    continue;
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(t, c, now);
        }
        if (t->listen_paused_until && now >= t->listen_paused_until) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
            epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->listen_fd, &ev);
            t->listen_paused_until = 0;
        }
        wait = expire(t, now);
        free_dead(t);
    }
    /* Shutdown: every link gets CLOSE shutdown (the status thread stores what time allows). */
    while (t->handshaking.head)
        term_close(t, t->handshaking.head, LINK_R_SHUTDOWN, false, NULL);
    while (t->sessions.head)
        term_close(t, t->sessions.head, LINK_R_SHUTDOWN, false, NULL);
    free_dead(t);
    return NULL;
}

/* --- start and stop ------------------------------------------------------------------------- */

/* Binds a listening socket on spec. 0 or -errno with err. */
static int listen_on(const char *spec, int *ret_fd, int *ret_port, char *err, size_t errlen)
{
    return tcp_listen("terminal_listen", spec, 4096, true, ret_fd, ret_port, err, errlen);
}

int terminals_check(const char *listen, unsigned heartbeat_s, unsigned idle_s, char *err,
                    size_t errlen)
{
    unsigned hb = heartbeat_s ? heartbeat_s : LINK_HEARTBEAT_S_DEFAULT;
    unsigned idle = idle_s ? idle_s : LINK_IDLE_S_DEFAULT;
    if (hb > UINT16_MAX - 1 || idle > UINT16_MAX || idle <= hb) {
        snprintf(err, errlen, "terminal_idle_s (%u) must be greater than terminal_heartbeat_s (%u)",
                 idle, hb);
        return -EINVAL;
    }
    if (!listen) {
        snprintf(err, errlen, "terminal_listen: no address");
        return -EINVAL;
    }
    return tcp_listen_check("terminal_listen", listen, err, errlen);
}

int terminals_start(const struct terminals_options *o, struct terminals **ret, char *err,
                    size_t errlen)
{
    unsigned hb = o->heartbeat_s ? o->heartbeat_s : LINK_HEARTBEAT_S_DEFAULT;
    unsigned idle = o->idle_s ? o->idle_s : LINK_IDLE_S_DEFAULT;
    if (!o->listen || !o->writer || !o->stats || hb > UINT16_MAX - 1 || idle > UINT16_MAX ||
        idle <= hb) {
        snprintf(err, errlen,
                 "terminals: bad options (the idle timeout must exceed the heartbeat interval)");
        return -EINVAL;
    }
    struct terminals *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "terminals: out of memory");
        return -ENOMEM;
    }
    t->listen_fd = t->epoll_fd = t->wake_fd = -1;
    t->heartbeat_s = (uint16_t)hb;
    t->idle_s = (uint16_t)idle;
    t->max_connections = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNS;
    t->stats = o->stats;
    size_t cap =
        o->limits.max_capture_bytes ? o->limits.max_capture_bytes : INGEST_MAX_CAPTURE_BYTES;
    t->capture_max = cap < LINK_CAPTURE_MAX ? cap : LINK_CAPTURE_MAX;
    t->capture_budget =
        TERM_CAPTURE_BUDGET > 4 * t->capture_max ? TERM_CAPTURE_BUDGET : 4 * t->capture_max;
    size_t buckets = TABLE_MIN;
    while (buckets < t->max_connections && buckets < ((size_t)1 << 22))
        buckets <<= 1;
    t->table = calloc(buckets, sizeof(*t->table));
    t->table_mask = buckets - 1;
    pthread_mutex_init(&t->lock, NULL);
    t->ing = ingest_new(&o->db, &o->limits, o->stats);
    int r = -ENOMEM;
    if (!t->table || !t->ing) {
        snprintf(err, errlen, "terminals: out of memory");
        goto fail;
    }
    ingest_set_writer(t->ing, o->writer);
    r = term_status_start(&o->db, &o->limits, o->stats, (size_t)t->max_connections * 4 + 1024,
                          &t->status);
    if (r) {
        snprintf(err, errlen, "terminals: cannot start the status thread: %s", strerror(-r));
        goto fail;
    }
    r = listen_on(o->listen, &t->listen_fd, &t->port, err, errlen);
    if (r)
        goto fail;
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = &listen_tag};
    struct epoll_event ew = {.events = EPOLLIN, .data.ptr = &wake_tag};
    if (t->epoll_fd < 0 || t->wake_fd < 0 ||
        epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->listen_fd, &el) ||
        epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->wake_fd, &ew)) {
        r = -errno;
        snprintf(err, errlen, "terminals: epoll: %s", strerror(errno));
        goto fail;
    }
    r = -pthread_create(&t->thread, NULL, loop_main, t);
    if (r) {
        snprintf(err, errlen, "terminals: cannot start the thread: %s", strerror(-r));
        goto fail;
    }
    t->started = true;
    *ret = t;
    return 0;
fail:
    t->stopping = true;
    terminals_free(t);
    return r;
}

int terminals_port(const struct terminals *t)
{
    return t->port;
}

void terminals_stop(struct terminals *t)
{
    if (!t || !t->started)
        return;
    atomic_store(&t->stopping, true);
    uint64_t one = 1;
    (void)!write(t->wake_fd, &one, sizeof(one));
    pthread_join(t->thread, NULL);
    t->started = false;
    term_status_stop(t->status, STOP_STATUS_MS); /* the offline statuses the closes posted */
    t->status = NULL;
}

void terminals_free(struct terminals *t)
{
    if (!t)
        return;
    terminals_stop(t);
    term_status_stop(t->status, 0); /* a start that failed after it */
    t->status = NULL;
    term_inbox_clear(t);
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->epoll_fd >= 0)
        close(t->epoll_fd);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    ingest_free(t->ing);
    pthread_mutex_destroy(&t->lock);
    free(t->table);
    free(t);
}

void terminals_get_stats(struct terminals *t, struct terminals_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!t)
        return;
    const struct term_counters *c = &t->c;
    ret->connections = atomic_load(&c->connections);
    ret->sessions = atomic_load(&c->sessions);
    ret->accepted = atomic_load(&c->accepted);
    ret->opened = atomic_load(&c->opened);
    ret->frames_in = atomic_load(&c->frames_in);
    ret->frames_out = atomic_load(&c->frames_out);
    ret->telemetry = atomic_load(&c->telemetry);
    ret->replies = atomic_load(&c->replies);
    ret->captures = atomic_load(&c->captures);
    ret->acks_sent = atomic_load(&c->acks_sent);
    ret->commands_sent = atomic_load(&c->commands_sent);
    ret->routed_dropped = atomic_load(&c->routed_dropped);
    ret->disconnected = atomic_load(&c->disconnected);
    for (size_t k = 0; k < TERMINALS_CLOSE_KINDS; k++) {
        ret->closed[k] = atomic_load(&c->closed[k]);
        ret->peer_closed[k] = atomic_load(&c->peer_closed[k]);
    }
}
