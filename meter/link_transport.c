#include "link_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ack_queue.h"
#include "commands.h"
#include "link.h"
#include "link_backoff.h"
#include "link_batch.h"
#include "link_url.h"
#include "log.h"
#include "timeutil.h"

#define CONNECT_TIMEOUT_MS 10000
#define RETRY_MIN_MS       1000
#define RETRY_MAX_MS       30000
/* The output buffer: a capture's chunks at most (a 10 s three-phase capture is ~1.5 MB). */
#define OUT_MAX       (16u << 20)
#define OUT_KEEP      65536 /* an empty output buffer larger than this is given back */
#define RECV_BUF      8192
#define POLL_MAX_MS   1000
#define CLOCK_WARN_MS 5000 /* the meter's clock this far from the server's is worth a warning */

struct lt {
    struct link_addr addr;
    char peer[LINK_HOST_MAX + 16]; /* host:port, for the log */
    char device_id[LINK_DEVICE_ID_MAX + 1];
    uint8_t hash[SIGN_HASH_LEN];
    struct transport_sinks sinks;
    int64_t connect_timeout_ms;
    struct link_backoff backoff;
    int wake[2]; /* the main thread wakes the link thread: output queued, stop */
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_int stop_timeout_ms;
    atomic_bool connected;
    atomic_uint_fast64_t generation;
    atomic_int undelivered; /* set by the link thread as it ends */

    pthread_mutex_t lock; /* what follows: the link thread and the senders */
    struct link link;
    bool open;         /* the session is open: frames may be sent */
    bool exhausted;    /* a send found the counter at its end: reconnect */
    struct dynbuf out; /* frames to write; out.buf[out_off..len) not written yet */
    size_t out_off;
    int64_t last_tx_ms;    /* monotonic: the last frame queued */
    struct dynbuf payload; /* a TELEMETRY payload being built */
    struct ack_msg ack;    /* an ACK frame being parsed */
};

static void wake(struct lt *t)
{
    char c = 1;
    ssize_t n = write(t->wake[1], &c, 1);
    (void)n; /* a full pipe wakes the thread all the same */
}

static void drain_wake(struct lt *t)
{
    char buf[64];
    while (read(t->wake[0], buf, sizeof(buf)) > 0)
        ;
}

/* Under the lock: bytes queued and not yet written. */
static size_t pending(const struct lt *t)
{
    return t->out.len - t->out_off;
}

/* Under the lock: forgets what was written, gives back a large empty buffer. */
static void out_compact(struct lt *t)
{
    if (t->out_off == t->out.len) {
        if (t->out.cap > OUT_KEEP) {
            dynbuf_free(&t->out);
            dynbuf_init(&t->out, OUT_MAX);
        } else {
            dynbuf_reset(&t->out);
        }
        t->out_off = 0;
    } else if (t->out_off > OUT_KEEP && t->out_off > t->out.len / 2) {
        memmove(t->out.buf, t->out.buf + t->out_off, pending(t));
        t->out.len -= t->out_off;
        t->out_off = 0;
    }
}

/* Under the lock: writes what the socket takes. 0, or -errno when the connection broke. */
static int out_flush(struct lt *t, int fd)
{
    while (pending(t) > 0) {
        ssize_t n = send(fd, t->out.buf + t->out_off, pending(t), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        t->out_off += (size_t)n;
    }
    out_compact(t);
    return 0;
}

/* --- connecting ------------------------------------------------------------------------------ */

/* Waits for fd's events (none when fd < 0) or a wake-up, at most ms. Returns fd's revents
   (0: timeout or woken). */
static short wait_fd(struct lt *t, int fd, short events, int64_t ms)
{
    struct pollfd p[2];
    nfds_t n_fds = 0;
    if (fd >= 0)
        p[n_fds++] = (struct pollfd){.fd = fd, .events = events};
    nfds_t wi = n_fds;
    p[n_fds++] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
    if (ms < 0)
        ms = 0;
    int n = poll(p, n_fds, (int)(ms > POLL_MAX_MS ? POLL_MAX_MS : ms));
    if (n > 0 && (p[wi].revents & POLLIN))
        drain_wake(t);
    return n > 0 && fd >= 0 ? p[0].revents : 0;
}

/* One address: a non-blocking connect within the deadline. Returns the fd, or -errno. */
static int connect_one(struct lt *t, const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    for (;;) {
        int64_t now = time_mono_ms();
        if (atomic_load(&t->stopping) || now >= deadline) {
            close(fd);
            return atomic_load(&t->stopping) ? -ECANCELED : -ETIMEDOUT;
        }
        short rev = wait_fd(t, fd, POLLOUT, deadline - now);
        if (rev & (POLLOUT | POLLERR | POLLHUP)) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                soerr = errno;
            if (soerr == 0)
                return fd;
            close(fd);
            return -soerr;
        }
    }
}

/* Resolves the gateway and tries its addresses. Returns a connected fd, or -errno. */
static int connect_gateway(struct lt *t, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", t->addr.port);
    int g = getaddrinfo(t->addr.host, port, &hints, &res);
    if (g) {
        snprintf(why, whylen, "cannot resolve %.200s: %s", t->addr.host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    int fd = -ENOENT;
    int64_t deadline = time_mono_ms() + t->connect_timeout_ms;
    for (struct addrinfo *ai = res; ai && fd < 0 && fd != -ECANCELED; ai = ai->ai_next)
        fd = connect_one(t, ai, deadline);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, whylen, "%s", fd == -ETIMEDOUT ? "connection timed out" : strerror(-fd));
    else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* --- one session ----------------------------------------------------------------------------- */

/* Under the lock: a session frame from the server. 0, or a link_error closing the session. */
static int dispatch(struct lt *t, const struct link_frame *f)
{
    int64_t ms;
    switch (f->type) {
    case LINK_HEARTBEAT:
        return link_parse_heartbeat(f, &ms);
    case LINK_ACK:
        if (link_parse_ack(f, &t->ack))
            return LINK_E_PAYLOAD;
        if (t->sinks.acks)
            ack_queue_push(t->sinks.acks, &t->ack);
        return 0;
    case LINK_COMMAND:
        if (t->sinks.commands)
            command_queue_handler_authenticated(f->payload, f->len, t->sinks.commands);
        return 0;
    default:
        return LINK_E_ORDER; /* link_feed() lets only the client's types through */
    }
}

/* Under the lock: the session opened. */
static void on_open(struct lt *t)
{
    t->open = true;
    t->last_tx_ms = time_mono_ms();
    link_backoff_reset(&t->backoff);
    int64_t skew = t->link.server_time_ms - time_now_ms();
    log_info("link to %s open as %s (heartbeat %u s, idle timeout %u s)", t->peer, t->device_id,
             (unsigned)t->link.heartbeat_s, (unsigned)t->link.idle_s);
    if (t->link.server_time_ms && (skew > CLOCK_WARN_MS || skew < -CLOCK_WARN_MS))
        log_warn("the meter's clock is %.1f s %s the server's: commands may be refused as "
                 "expired",
                 (double)(skew < 0 ? -skew : skew) / 1000.0, skew < 0 ? "ahead of" : "behind");
    atomic_fetch_add(&t->generation, 1);
    atomic_store(&t->connected, true);
}

/* Under the lock: the server's CLOSE. */
static void on_close(struct lt *t, const struct link_frame *f, bool authenticated)
{
    uint8_t reason = 0;
    char text[LINK_CLOSE_TEXT_MAX + 1] = "";
    if (link_parse_close(f, &reason, text)) {
        log_warn("link to %s closed by the server (unreadable reason); reconnecting", t->peer);
        return;
    }
    const char *name = link_reason_name(reason);
    if (reason == LINK_R_AUTH)
        log_error("link to %s: the server refused the handshake (auth_failed%s%s): the device "
                  "%s is unknown there or its secret is another; retrying",
                  t->peer, text[0] ? ": " : "", text, t->device_id);
    else
        log_warn("link to %s closed by the server%s: %s%s%s; reconnecting", t->peer,
                 authenticated ? "" : " during the handshake", name, text[0] ? ": " : "", text);
}

/*
 * Under the lock: takes n received bytes. Returns 0 to go on, 1 when the
 * server closed the session, or a link_error (logged, CLOSE queued).
 */
static int take_bytes(struct lt *t, const uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        struct link_frame f;
        bool was_open = t->open;
        int ev = link_feed(&t->link, buf + off, n - off, time_now_ms(), &used, &f, &t->out);
        off += used;
        if (ev == LINK_EV_FRAME) {
            int r = dispatch(t, &f);
            if (r)
                ev = r;
        }
        if (ev < 0) {
            log_warn("link to %s: refused a frame from the server (%s); reconnecting", t->peer,
                     link_error_name(ev));
            link_send_close(&t->link, link_error_reason(ev), NULL, &t->out);
            return ev;
        }
        if (ev == LINK_EV_OPEN)
            on_open(t);
        else if (ev == LINK_EV_CLOSE) {
            on_close(t, &f, was_open);
            return 1;
        } else if (ev == LINK_EV_NONE && used == 0)
            break;
    }
    return 0;
}

/* Says goodbye (when the session allows) and lets the output go for at most ms. */
static void goodbye(struct lt *t, int fd, enum link_reason reason, const char *text, int64_t ms)
{
    int64_t deadline = time_mono_ms() + ms;
    pthread_mutex_lock(&t->lock);
    if (t->link.state != LINK_S_CLOSED)
        link_send_close(&t->link, reason, text, &t->out);
    pthread_mutex_unlock(&t->lock);
    for (;;) {
        pthread_mutex_lock(&t->lock);
        int r = out_flush(t, fd);
        size_t left = pending(t);
        pthread_mutex_unlock(&t->lock);
        int64_t now = time_mono_ms();
        if (r || left == 0 || now >= deadline)
            return;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, (int)(deadline - now > POLL_MAX_MS ? POLL_MAX_MS : deadline - now));
    }
}

/* Runs one connection until it ends. */
static void run_session(struct lt *t, int fd)
{
    uint8_t nonce[LINK_NONCE_LEN], buf[RECV_BUF];
    sign_random(nonce, sizeof(nonce));
    pthread_mutex_lock(&t->lock);
    int r = link_client_init(&t->link, t->device_id, t->hash, nonce);
    if (r == 0)
        r = link_client_hello(&t->link, &t->out);
    t->last_tx_ms = time_mono_ms();
    pthread_mutex_unlock(&t->lock);
    explicit_bzero(nonce, sizeof(nonce));
    if (r) {
        log_error("link to %s: cannot start the handshake: %s", t->peer, link_error_name(r));
        return;
    }
    int64_t last_rx = time_mono_ms(), last_hb = 0;
    for (;;) {
        if (atomic_load(&t->stopping)) {
            goodbye(t, fd, LINK_R_SHUTDOWN, "meter stopping", atomic_load(&t->stop_timeout_ms));
            pthread_mutex_lock(&t->lock);
            atomic_store(&t->undelivered, pending(t) > 0);
            pthread_mutex_unlock(&t->lock);
            return;
        }
        pthread_mutex_lock(&t->lock);
        int fr = out_flush(t, fd);
        bool want_out = pending(t) > 0, open = t->open, exhausted = t->exhausted;
        int64_t silence = link_timeout_ms(&t->link);
        int64_t hb_ms = (int64_t)t->link.heartbeat_s * 1000, last_tx = t->last_tx_ms;
        pthread_mutex_unlock(&t->lock);
        if (fr) {
            log_warn("link to %s: cannot send: %s; reconnecting", t->peer, strerror(-fr));
            return;
        }
        if (exhausted) {
            log_info("link to %s: the frame counter reached its end; reconnecting", t->peer);
            goodbye(t, fd, LINK_R_EXHAUSTED, NULL, 1000);
            return;
        }
        int64_t now = time_mono_ms();
        if (now - last_rx >= silence) {
            if (open) {
                log_warn("link to %s: nothing from the server for %lld s; reconnecting", t->peer,
                         (long long)(silence / 1000));
                goodbye(t, fd, LINK_R_IDLE, NULL, 1000);
            } else {
                log_warn("link to %s: the handshake took over %lld s; reconnecting", t->peer,
                         (long long)(silence / 1000));
            }
            return;
        }
        /* Due when the meter sent nothing for the interval, and also when it heard nothing for
           that long (readings flow, acks do not): the server's answer proves it alive before
           the idle timeout would drop a link that works. */
        int64_t quiet_from = last_rx > last_hb ? last_rx : last_hb;
        int64_t hb_due = last_tx + hb_ms;
        if (quiet_from + hb_ms < hb_due)
            hb_due = quiet_from + hb_ms;
        if (open && now >= hb_due) {
            pthread_mutex_lock(&t->lock);
            int hr = link_send_heartbeat(&t->link, time_now_ms(), &t->out);
            t->last_tx_ms = last_hb = now;
            pthread_mutex_unlock(&t->lock);
            if (hr) {
                log_warn("link to %s: %s; reconnecting", t->peer, link_error_name(hr));
                goodbye(t, fd, hr == LINK_E_EXHAUSTED ? LINK_R_EXHAUSTED : LINK_R_INTERNAL, NULL,
                        1000);
                return;
            }
            continue;
        }
        int64_t until = last_rx + silence - now;
        if (open && hb_due - now < until)
            until = hb_due - now;
        short rev = wait_fd(t, fd, (short)(POLLIN | (want_out ? POLLOUT : 0)), until);
        if (!(rev & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n <= 0) {
            log_warn("link to %s: %s; reconnecting", t->peer,
                     n == 0 ? "the server closed the connection" : strerror(errno));
            return;
        }
        last_rx = time_mono_ms();
        pthread_mutex_lock(&t->lock);
        int tr = take_bytes(t, buf, (size_t)n);
        if (tr)
            out_flush(t, fd); /* the CLOSE that says why, if it goes */
        pthread_mutex_unlock(&t->lock);
        if (tr)
            return;
    }
}

/* Under no lock: the session is over; nothing of it is kept. */
static void end_session(struct lt *t)
{
    pthread_mutex_lock(&t->lock);
    t->open = false;
    t->exhausted = false;
    atomic_store(&t->connected, false);
    link_free(&t->link);
    memset(&t->link, 0, sizeof(t->link));
    t->link.state = LINK_S_CLOSED;
    dynbuf_free(&t->out);
    dynbuf_init(&t->out, OUT_MAX);
    t->out_off = 0;
    pthread_mutex_unlock(&t->lock);
}

static void *link_thread(void *arg)
{
    struct lt *t = arg;
    char why[256];
    while (!atomic_load(&t->stopping)) {
        int fd = connect_gateway(t, why, sizeof(why));
        if (fd >= 0) {
            log_info("connected to %s; handshake as %s", t->peer, t->device_id);
            run_session(t, fd);
            end_session(t);
            close(fd);
        } else if (fd == -ECANCELED) {
            break;
        }
        if (atomic_load(&t->stopping))
            break;
        uint32_t rnd;
        sign_random(&rnd, sizeof(rnd));
        int64_t wait = link_backoff_next(&t->backoff, rnd);
        if (fd < 0)
            log_warn("cannot connect to %s: %s; retrying in %.1f s, readings are spooled", t->peer,
                     why, (double)wait / 1000.0);
        for (int64_t until = time_mono_ms() + wait, now = time_mono_ms();
             now < until && !atomic_load(&t->stopping); now = time_mono_ms())
            wait_fd(t, -1, 0, until - now);
    }
    return NULL;
}

/* --- the transport's operations ----------------------------------------------------------------
 */

static int lt_start(void *impl, char *err, size_t errlen)
{
    struct lt *t = impl;
    log_info("connecting to the terminal gateway %s as %s", t->peer, t->device_id);
    int r = pthread_create(&t->thread, NULL, link_thread, t);
    if (r) {
        snprintf(err, errlen, "cannot start the link thread: %s", strerror(r));
        return -r;
    }
    t->started = true;
    return 0;
}

static bool lt_connected(const void *impl)
{
    return atomic_load(&((struct lt *)impl)->connected);
}

static uint64_t lt_generation(const void *impl)
{
    return atomic_load(&((struct lt *)impl)->generation);
}

/* Under the lock: maps link_send()'s errors onto transport.h's. */
static int send_error(struct lt *t, int r)
{
    if (r == LINK_E_EXHAUSTED)
        t->exhausted = true; /* the link thread closes the session and reconnects */
    return r == LINK_E_NOMEM ? -ENOBUFS : r == LINK_E_STATE ? -ENOTCONN : -EIO;
}

static int lt_send_readings(void *impl, const struct reading *r, size_t n, bool as_array)
{
    struct lt *t = impl;
    if (n == 0 || (!as_array && n != 1))
        return -EINVAL;
    int ret = 0;
    pthread_mutex_lock(&t->lock);
    if (!t->open || t->link.state != LINK_S_OPEN) {
        pthread_mutex_unlock(&t->lock);
        return -ENOTCONN;
    }
    for (size_t k = 0; k < n && !ret;) {
        size_t used = 0;
        ret = link_batch_next(&r[k], n - k, as_array, &t->payload, &used);
        if (ret == -EMSGSIZE)
            log_warn("reading seq %llu does not fit in a frame; not sent",
                     (unsigned long long)r[k].seq);
        if (ret)
            break;
        int s = link_send(&t->link, LINK_TELEMETRY, t->payload.buf, t->payload.len, &t->out);
        if (s)
            ret = send_error(t, s);
        k += used;
    }
    dynbuf_reset(&t->payload);
    t->last_tx_ms = time_mono_ms();
    pthread_mutex_unlock(&t->lock);
    wake(t);
    if (ret && ret != -EMSGSIZE)
        log_warn("readings seq %llu..%llu not sent: %s", (unsigned long long)r[0].seq,
                 (unsigned long long)r[n - 1].seq, strerror(-ret));
    return ret;
}

static int lt_send(void *impl, enum topic_leaf leaf, const void *payload, size_t len)
{
    struct lt *t = impl;
    int ret = 0;
    if (leaf != TOPIC_REPLY && leaf != TOPIC_CAPTURE)
        return -EINVAL;
    uint32_t chunks = leaf == TOPIC_CAPTURE ? link_chunk_count(len) : 1;
    if (chunks == 0 || (leaf == TOPIC_REPLY && (len < 2 || len > LINK_PAYLOAD_MAX)))
        return -EMSGSIZE;
    pthread_mutex_lock(&t->lock);
    if (!t->open || t->link.state != LINK_S_OPEN) {
        ret = -ENOTCONN;
    } else if (pending(t) + (size_t)chunks * LINK_FRAME_MAX > OUT_MAX) {
        ret = -ENOBUFS;
    } else if (leaf == TOPIC_REPLY) {
        int s = link_send(&t->link, LINK_REPLY, payload, len, &t->out);
        ret = s ? send_error(t, s) : 0;
    } else {
        for (uint32_t k = 0; k < chunks && !ret; k++) {
            int s = link_send_chunk(&t->link, payload, len, k, &t->out);
            ret = s ? send_error(t, s) : 0;
        }
    }
    if (!ret)
        t->last_tx_ms = time_mono_ms();
    pthread_mutex_unlock(&t->lock);
    wake(t);
    if (ret)
        log_warn("cannot send a %s of %zu bytes: %s", leaf == TOPIC_REPLY ? "reply" : "capture",
                 len, strerror(-ret));
    else
        log_debug("%s of %zu bytes queued (%u frames)", leaf == TOPIC_REPLY ? "reply" : "capture",
                  len, (unsigned)chunks);
    return ret;
}

static int lt_stop(void *impl, int timeout_ms)
{
    struct lt *t = impl;
    if (!t->started)
        return 0;
    atomic_store(&t->stop_timeout_ms, timeout_ms);
    atomic_store(&t->stopping, true);
    wake(t);
    pthread_join(t->thread, NULL);
    t->started = false;
    atomic_store(&t->connected, false);
    return atomic_load(&t->undelivered);
}

static void lt_free(void *impl)
{
    struct lt *t = impl;
    if (!t)
        return;
    if (t->started)
        lt_stop(t, 0);
    link_free(&t->link);
    dynbuf_free(&t->out);
    dynbuf_free(&t->payload);
    pthread_mutex_destroy(&t->lock);
    if (t->wake[0] >= 0)
        close(t->wake[0]);
    if (t->wake[1] >= 0)
        close(t->wake[1]);
    explicit_bzero(t->hash, sizeof(t->hash));
    free(t);
}

static const struct transport_ops link_ops = {
    .name = "link",
    .start = lt_start,
    .connected = lt_connected,
    .generation = lt_generation,
    .send_readings = lt_send_readings,
    .send = lt_send,
    .stop = lt_stop,
    .free = lt_free,
};

int transport_link_new(const struct link_transport_config *cfg, const struct transport_sinks *sinks,
                       struct transport *ret, char *err, size_t errlen)
{
    if (!cfg->device_id || !device_id_valid(cfg->device_id) || !cfg->secret_hash) {
        snprintf(err, errlen, "the link needs a valid device id and the device secret");
        return -EINVAL;
    }
    struct lt *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    t->wake[0] = t->wake[1] = -1;
    int r = link_url_parse(cfg->url, &t->addr, err, errlen);
    if (r) {
        free(t);
        return r;
    }
    if (pthread_mutex_init(&t->lock, NULL)) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (pipe2(t->wake, O_NONBLOCK | O_CLOEXEC)) {
        r = -errno;
        snprintf(err, errlen, "cannot make the link's wake-up pipe: %s", strerror(errno));
        lt_free(t);
        return r;
    }
    bool v6 = strchr(t->addr.host, ':') != NULL;
    snprintf(t->peer, sizeof(t->peer), "%s%s%s:%d", v6 ? "[" : "", t->addr.host, v6 ? "]" : "",
             t->addr.port);
    snprintf(t->device_id, sizeof(t->device_id), "%s", cfg->device_id);
    memcpy(t->hash, cfg->secret_hash, SIGN_HASH_LEN);
    t->sinks = *sinks;
    t->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : CONNECT_TIMEOUT_MS;
    link_backoff_init(&t->backoff, cfg->retry_min_ms > 0 ? cfg->retry_min_ms : RETRY_MIN_MS,
                      cfg->retry_max_ms > 0 ? cfg->retry_max_ms : RETRY_MAX_MS);
    t->link.state = LINK_S_CLOSED;
    dynbuf_init(&t->out, OUT_MAX);
    dynbuf_init(&t->payload, LINK_PAYLOAD_MAX);
    ret->ops = &link_ops;
    ret->impl = t;
    return 0;
}
