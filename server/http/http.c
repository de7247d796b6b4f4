#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_check.h"
#include "https.h"
#include "log.h"
#include "proxy.h"
#include "timeutil.h"

#define STOP_WAIT_MS  30000 /* http_stop() waits this long for deferred answers */
#define WATCH_TICK_MS 250   /* how often the deadlines are looked at */
#define LINGER_MAX    64    /* connections drained at once after an early answer */
#define LINGER_MS     5000  /* how long one is drained at most */

/*
 * Where a connection stands, for the deadlines: waiting for a request's line
 * and headers (since it opened or its previous answer went out), reading a
 * body (since the headers), or busy (a handler, a deferred answer, sending).
 */
enum conn_phase { CONN_WAITING, CONN_BODY, CONN_BUSY };

/* One open connection, in the server's list under watch_mu. */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    enum conn_phase phase;
    int64_t since_ms; /* monotonic */
    bool shut;        /* shut down for being late; libmicrohttpd closes it */
    bool linger;      /* answered before its body was read: drain it after the close */
};

/* A socket kept open after libmicrohttpd let go of it, drained until the client stops. */
struct lingering_socket {
    int fd; /* our duplicate */
    int64_t until_ms;
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_options opts;
    int port;
    pthread_mutex_t defer_mu; /* the deferral fields below and in every request_ctx */
    pthread_cond_t defer_done;
    unsigned deferred; /* answers deferred and not yet resumed */
    bool stopping;     /* http_defer() refuses */
    /*
     * Deadlines: the open connections and the thread that shuts down late ones. The same
     * thread drains the connections answered before their body was read: closing one with
     * the body still arriving would make the kernel reset it, and a client that sends its
     * whole body before reading would see the reset instead of the answer.
     */
    pthread_mutex_t watch_mu;
    struct conn_watch *conns;
    struct lingering_socket lingering[LINGER_MAX];
    unsigned nlinger;
    pthread_t watchdog;
    bool watchdog_running, watchdog_quit;
};

/* Where a request's deferred answer stands. */
enum defer_state {
    DEFER_NONE,
    DEFER_PENDING,   /* http_defer() called; the handler has not returned yet */
    DEFER_SUSPENDED, /* the connection waits */
    DEFER_RESUMED,   /* the answer is in dres, to be sent on the next call */
};

/*
 * Per-request state between libmicrohttpd's calls. Freed when its last holder
 * lets go: libmicrohttpd (until on_completed) and a deferred answer (until
 * http_resume()), counted in refs under the server's defer_mu.
 */
struct request_ctx {
    struct dynbuf body;
    bool too_large;
    bool started;       /* on_request has seen the headers */
    char *raw_path;     /* the path as sent, before percent-decoding; NULL if too long */
    bool raw_path_long; /* it was longer than RAW_PATH_MAX */
    struct http_server *srv;
    struct MHD_Connection *conn;
    int refs;
    bool closed; /* on_completed ran: the connection is gone */
    enum defer_state defer;
    struct http_response dres;        /* the deferred answer */
    char client_addr[PROXY_ADDR_MAX]; /* from X-Forwarded-For; "" for the peer */
    int label;                        /* http_request_label(); -1 before */
    struct timespec started_at;       /* the request's headers arrived (for opts.observe) */
};

void http_request_label(const struct http_request *req, int label)
{
    struct request_ctx *ctx = req->ctx;
    if (ctx)
        ctx->label = label;
}

/* Tells opts.observe (when set) how the request ended: its label, status and duration. */
static void observe(struct http_server *srv, struct request_ctx *ctx, int status)
{
    if (!srv->opts.observe || !ctx)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - ctx->started_at.tv_sec) * 1000000000 +
                 (now.tv_nsec - ctx->started_at.tv_nsec);
    srv->opts.observe(srv->opts.app, ctx->label, status, ns > 0 ? (uint64_t)ns : 0);
}

static void ctx_free(struct request_ctx *ctx)
{
    dynbuf_free(&ctx->body);
    dynbuf_free(&ctx->dres.body);
    free(ctx->raw_path);
    free(ctx);
}

/* Drops one reference; under srv->defer_mu. True when the caller must ctx_free() it. */
static bool ctx_unref(struct request_ctx *ctx)
{
    return --ctx->refs == 0;
}

#define RAW_PATH_MAX 4096

/*
 * Called with the request line's URI before libmicrohttpd decodes it: keeps
 * the raw path, so the static files can refuse encoded slashes. Its result
 * becomes the request's context (NULL when out of memory: on_request then
 * makes one without the raw path).
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct request_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->refs = 1;
    size_t len = strcspn(uri, "?");
    ctx->raw_path_long = len > RAW_PATH_MAX;
    if (len <= RAW_PATH_MAX) {
        ctx->raw_path = malloc(len + 1);
        if (ctx->raw_path) {
            memcpy(ctx->raw_path, uri, len);
            ctx->raw_path[len] = '\0';
        }
    }
    return ctx;
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_response_header(struct http_response *res, const char *name, const char *value)
{
    if (res->nheaders >= HTTP_MAX_HEADERS)
        return;
    res->headers[res->nheaders].name = name;
    snprintf(res->headers[res->nheaders].value, sizeof(res->headers[0].value), "%s", value);
    res->nheaders++;
}

static struct MHD_Response *stream_response(struct MHD_Connection *c, struct http_response *res);

static enum MHD_Result send_response(struct MHD_Connection *c, struct http_response *res)
{
    if (res->stream.read) {
        struct MHD_Response *sr = stream_response(c, res);
        dynbuf_free(&res->body);
        if (!sr)
            return MHD_NO;
        MHD_add_response_header(sr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                res->content_type ? res->content_type : "text/event-stream");
        MHD_add_response_header(sr, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(sr, "Cache-Control", "no-store");
        for (unsigned i = 0; i < res->nheaders; i++)
            MHD_add_response_header(sr, res->headers[i].name, res->headers[i].value);
        enum MHD_Result sok = MHD_queue_response(c, (unsigned)res->status, sr);
        MHD_destroy_response(sr);
        return sok;
    }
    size_t len = 0;
    char *body = dynbuf_steal(&res->body, &len);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    bool has_cache_control = false;
    for (unsigned i = 0; i < res->nheaders; i++) {
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
        if (strcasecmp(res->headers[i].name, "Cache-Control") == 0)
            has_cache_control = true;
    }
    if (!has_cache_control)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *message)
{
    struct http_response res = {.status = (int)status};
    dynbuf_init(&res.body, 1024);
    dynbuf_addf(&res.body, "{\"status\":\"error\",\"message\":\"%s\"}", message);
    return send_response(c, &res);
}

static enum MHD_Result send_too_large(struct http_server *srv, struct MHD_Connection *c)
{
    char msg[80];
    snprintf(msg, sizeof(msg), "request body larger than %zu bytes", srv->opts.max_body_bytes);
    return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
}

static void peer_addr(struct MHD_Connection *c, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
}

#define XFF_VALUES_MAX 8 /* X-Forwarded-For headers looked at: the last ones */

struct xff_values {
    const char *v[XFF_VALUES_MAX];
    size_t n;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct xff_values *x = cls;
    (void)kind;
    if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    if (x->n == XFF_VALUES_MAX) { /* the rightmost hops are in the last headers */
        memmove(x->v, x->v + 1, sizeof(x->v[0]) * (XFF_VALUES_MAX - 1));
        x->n--;
    }
    x->v[x->n++] = value;
    return MHD_YES;
}

/* The client behind a trusted proxy, into out ("" when it is the peer). */
static void forwarded_client(struct http_server *srv, struct MHD_Connection *c, const char *peer,
                             char out[PROXY_ADDR_MAX])
{
    struct xff_values x = {.n = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_xff, &x);
    if (!proxy_client_address(srv->opts.trusted_proxies, peer, x.v, x.n, out))
        out[0] = '\0';
}

const char *http_client_address(const struct http_request *req)
{
    const struct request_ctx *ctx = req->ctx;
    return ctx && ctx->client_addr[0] ? ctx->client_addr : req->peer_addr;
}

/* --- deadlines --------------------------------------------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    struct conn_watch *w = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = ci ? calloc(1, sizeof(*w)) : NULL;
        if (!w)
            return; /* no deadline for this one: libmicrohttpd's idle timeout still applies */
        w->fd = ci->connect_fd;
        w->phase = CONN_WAITING;
        w->since_ms = time_mono_ms();
        pthread_mutex_lock(&srv->watch_mu);
        w->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = w;
        srv->conns = w;
        pthread_mutex_unlock(&srv->watch_mu);
        *socket_context = w;
        return;
    }
    /* Closed: called before libmicrohttpd closes the socket, so the watchdog never shuts down
       a descriptor that was closed (and maybe reused). */
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_mu);
    if (w->linger && !w->shut && srv->watchdog_running && srv->nlinger < LINGER_MAX) {
        /* libmicrohttpd has sent the answer and shut the sending side; keep reading. */
        int fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0)
            srv->lingering[srv->nlinger++] =
                (struct lingering_socket){.fd = fd, .until_ms = time_mono_ms() + LINGER_MS};
    }
    if (w->prev)
        w->prev->next = w->next;
    else
        srv->conns = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&srv->watch_mu);
    free(w);
    *socket_context = NULL;
}

/* The connection's watch (NULL when it has none), for set_phase() and the like. */
static struct conn_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_phase(struct http_server *srv, struct MHD_Connection *c, enum conn_phase phase)
{
    struct conn_watch *w = watch_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_mu);
    w->phase = phase;
    w->since_ms = time_mono_ms();
    pthread_mutex_unlock(&srv->watch_mu);
}

static void set_linger(struct http_server *srv, struct MHD_Connection *c)
{
    struct conn_watch *w = watch_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_mu);
    w->linger = true;
    pthread_mutex_unlock(&srv->watch_mu);
}

/* Shuts down the connections past their deadline; locked. */
static void enforce_deadlines(struct http_server *srv, int64_t now)
{
    int64_t header_ms = (int64_t)srv->opts.header_timeout_s * 1000;
    int64_t body_ms = (int64_t)srv->opts.body_timeout_s * 1000;
    unsigned late = 0;
    for (struct conn_watch *w = srv->conns; w; w = w->next) {
        int64_t limit = w->phase == CONN_WAITING ? header_ms : w->phase == CONN_BODY ? body_ms : 0;
        if (w->shut || limit == 0 || now - w->since_ms < limit)
            continue;
        /* libmicrohttpd sees the end of the stream and closes the connection itself. */
        shutdown(w->fd, SHUT_RDWR);
        w->shut = true;
        late++;
    }
    if (late)
        log_debug("http: shut down %u connections past their header or body deadline", late);
}

/* Reads and drops what a lingering socket holds; false once the client is done (or gone). */
static bool drain(int fd)
{
    static char sink[65536]; /* the watchdog thread's alone */
    for (;;) {
        ssize_t n = read(fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

/*
 * Every WATCH_TICK_MS (sooner when a lingering socket has data): shuts down
 * the connections past their deadline, drains the lingering sockets and
 * closes those that are done or past LINGER_MS.
 */
static void *watchdog(void *arg)
{
    struct http_server *srv = arg;
    struct pollfd pfd[LINGER_MAX];
    pthread_mutex_lock(&srv->watch_mu);
    while (!srv->watchdog_quit) {
        enforce_deadlines(srv, time_mono_ms());
        unsigned n = srv->nlinger;
        for (unsigned i = 0; i < n; i++)
            pfd[i] = (struct pollfd){.fd = srv->lingering[i].fd, .events = POLLIN};
        pthread_mutex_unlock(&srv->watch_mu);
        int ready = poll(pfd, n, WATCH_TICK_MS);
        pthread_mutex_lock(&srv->watch_mu);
        /* Only this thread removes lingering sockets: the first n are still pfd's. */
        int64_t now = time_mono_ms();
        for (unsigned i = n; i-- > 0;) {
            bool open = (ready <= 0 || !pfd[i].revents || drain(pfd[i].fd)) &&
                        now < srv->lingering[i].until_ms;
            if (open)
                continue;
            close(srv->lingering[i].fd);
            srv->lingering[i] = srv->lingering[--srv->nlinger];
        }
    }
    while (srv->nlinger > 0)
        close(srv->lingering[--srv->nlinger].fd);
    pthread_mutex_unlock(&srv->watch_mu);
    return NULL;
}

/* --- requests ----------------------------------------------------------------------------- */

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct http_framing *f = cls;
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->content_lengths++ == 0)
            f->content_length = value ? value : "";
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0) {
        f->authorizations++;
    }
    return MHD_YES;
}

/*
 * The rules of http_check.h, on a request whose headers just arrived: 0, or
 * the status to answer at once with *ret_message.
 */
static int check_request(struct http_server *srv, struct MHD_Connection *c,
                         const struct request_ctx *ctx, const char **ret_message)
{
    struct http_framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &f);
    int status = http_check_framing(&f, srv->opts.max_body_bytes, ret_message);
    if (status)
        return status;
    if (!ctx->raw_path) {
        *ret_message = ctx->raw_path_long ? "path too long" : "out of memory";
        return ctx->raw_path_long ? 414 : 503;
    }
    return http_check_path(ctx->raw_path, ret_message);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct request_ctx *ctx = *con_cls;
    (void)version;

    if (ctx && ctx->started && *upload_data_size == 0) {
        /* Called again after http_resume() (no body data then): the answer is ready. */
        pthread_mutex_lock(&srv->defer_mu);
        bool resumed = ctx->defer == DEFER_RESUMED;
        if (resumed)
            ctx->defer = DEFER_NONE;
        pthread_mutex_unlock(&srv->defer_mu);
        if (resumed) {
            observe(srv, ctx, ctx->dres.status);
            return send_response(c, &ctx->dres);
        }
    }
    if (!ctx || !ctx->started) {
        if (!ctx) {
            ctx = calloc(1, sizeof(*ctx));
            if (ctx)
                ctx->refs = 1;
        }
        if (!ctx)
            return MHD_NO;
        ctx->started = true;
        ctx->label = -1;
        clock_gettime(CLOCK_MONOTONIC, &ctx->started_at);
        ctx->srv = srv;
        ctx->conn = c;
        dynbuf_init(&ctx->body, srv->opts.max_body_bytes);
        *con_cls = ctx;
        /* Answered now, before any body is read: libmicrohttpd then reads no more of it. */
        const char *why = NULL;
        int status = check_request(srv, c, ctx, &why);
        if (status) {
            set_linger(srv, c);
            observe(srv, ctx, status);
        }
        if (status == MHD_HTTP_CONTENT_TOO_LARGE)
            return send_too_large(srv, c);
        if (status)
            return send_error(c, (unsigned)status, why);
        set_phase(srv, c, CONN_BODY);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ctx->too_large && dynbuf_add(&ctx->body, upload_data, *upload_data_size))
            ctx->too_large = true;
        *upload_data_size = 0; /* consumed (or discarded once too large) */
        return MHD_YES;
    }
    set_phase(srv, c, CONN_BUSY);
    if (ctx->too_large) {
        observe(srv, ctx, MHD_HTTP_CONTENT_TOO_LARGE);
        return send_too_large(srv, c);
    }

    struct http_request req = {
        .method = method,
        .path = url,
        .raw_path = ctx->raw_path,
        .body = dynbuf_str(&ctx->body),
        .body_len = ctx->body.len,
        .conn = c,
        .ctx = ctx,
    };
    peer_addr(c, req.peer_addr, sizeof(req.peer_addr));
    if (srv->opts.trusted_proxies)
        forwarded_client(srv, c, req.peer_addr, ctx->client_addr);
    struct http_response res = {.status = 200};
    dynbuf_init(&res.body, srv->opts.max_response_bytes);
    srv->opts.handler(srv->opts.app, &req, &res);
    pthread_mutex_lock(&srv->defer_mu);
    enum defer_state d = ctx->defer;
    if (d == DEFER_PENDING) {
        /* Resumed from another thread by http_resume(), which may come at any moment. */
        ctx->defer = DEFER_SUSPENDED;
        MHD_suspend_connection(c);
    } else if (d == DEFER_RESUMED) {
        ctx->defer = DEFER_NONE; /* answered while the handler was still running */
    }
    pthread_mutex_unlock(&srv->defer_mu);
    if (d == DEFER_NONE) {
        observe(srv, ctx, res.status);
        return send_response(c, &res);
    }
    dynbuf_free(&res.body);
    if (d != DEFER_RESUMED)
        return MHD_YES;
    observe(srv, ctx, ctx->dres.status);
    return send_response(c, &ctx->dres);
}

struct http_deferred *http_defer(const struct http_request *req)
{
    struct request_ctx *ctx = req->ctx;
    struct http_server *srv = ctx->srv;
    pthread_mutex_lock(&srv->defer_mu);
    bool ok = !srv->stopping && ctx->defer == DEFER_NONE;
    if (ok) {
        ctx->defer = DEFER_PENDING;
        ctx->refs++;
        srv->deferred++;
        ctx->dres = (struct http_response){.status = 200};
        dynbuf_init(&ctx->dres.body, srv->opts.max_response_bytes);
    }
    pthread_mutex_unlock(&srv->defer_mu);
    return ok ? (struct http_deferred *)ctx : NULL;
}

struct http_response *http_deferred_response(struct http_deferred *d)
{
    return &((struct request_ctx *)d)->dres;
}

void http_resume(struct http_deferred *d)
{
    struct request_ctx *ctx = (struct request_ctx *)d;
    struct http_server *srv = ctx->srv;
    pthread_mutex_lock(&srv->defer_mu);
    if (ctx->defer == DEFER_SUSPENDED && !ctx->closed)
        MHD_resume_connection(ctx->conn);
    ctx->defer = DEFER_RESUMED;
    srv->deferred--;
    pthread_cond_broadcast(&srv->defer_done);
    bool last = ctx_unref(ctx);
    pthread_mutex_unlock(&srv->defer_mu);
    if (last)
        ctx_free(ctx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request_ctx *ctx = *con_cls;
    (void)toe;
    set_phase(srv, c, CONN_WAITING);
    if (!ctx)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&srv->defer_mu);
    ctx->closed = true;
    bool last = ctx_unref(ctx);
    pthread_mutex_unlock(&srv->defer_mu);
    if (last)
        ctx_free(ctx);
}

/* libmicrohttpd's messages: fmt is its own format string (clang checks the forwarding). */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    log_debug("http: %s", line);
}

/* Parses "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[128];
    const char *colon;
    memset(ss, 0, sizeof(*ss));
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - listen - 1) >= sizeof(host))
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(rb - listen - 1), listen + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host))
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        goto bad;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (host[0] == '\0' || strcmp(host, "*") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else if (strcmp(host, "localhost") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_port = htons((uint16_t)port);
    } else {
        goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "bad listen address '%s' (expected HOST:PORT with a numeric host)",
             listen);
    return -EINVAL;
}

int http_check_listen(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    return parse_listen(listen, &ss, err, errlen);
}

static void destroy(struct http_server *srv)
{
    pthread_mutex_destroy(&srv->watch_mu);
    pthread_cond_destroy(&srv->defer_done);
    pthread_mutex_destroy(&srv->defer_mu);
    free(srv);
}

int http_start(const struct http_options *opts, struct http_server **ret, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int r = parse_listen(opts->listen, &ss, err, errlen);
    if (r)
        return r;
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->opts = *opts;
    pthread_mutex_init(&srv->defer_mu, NULL);
    time_cond_init_monotonic(&srv->defer_done);
    pthread_mutex_init(&srv->watch_mu, NULL);
    /* TURBO: try reads and writes before asking epoll (saves a loop round per request). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* HTTPS: libmicrohttpd copies the certificate and key into GnuTLS while it starts. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, opts->tls ? opts->tls->cert_pem : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, opts->tls ? opts->tls->key_pem : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem plain[] = {{MHD_OPTION_END, 0, NULL}};
    if (opts->tls)
        flags |= MHD_USE_TLS;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts->tls ? tls : plain,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(opts->threads ? opts->threads : 1), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)opts->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)opts->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available)",
                 opts->listen);
        destroy(srv);
        return -EADDRINUSE;
    }
    /* Under watch_mu: on_connection() reads watchdog_running from the daemon's threads. */
    pthread_mutex_lock(&srv->watch_mu);
    int tr = pthread_create(&srv->watchdog, NULL, watchdog, srv);
    srv->watchdog_running = tr == 0;
    pthread_mutex_unlock(&srv->watch_mu);
    if (tr) {
        snprintf(err, errlen, "cannot start the HTTP deadline thread");
        MHD_stop_daemon(srv->daemon);
        destroy(srv);
        return -ENOMEM;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    *ret = srv;
    return 0;
}

int http_port(const struct http_server *srv)
{
    return srv->port;
}

void http_stop(struct http_server *srv)
{
    if (!srv)
        return;
    /* libmicrohttpd must not be stopped with a connection suspended. */
    int64_t end = time_mono_ms() + STOP_WAIT_MS;
    pthread_mutex_lock(&srv->defer_mu);
    srv->stopping = true;
    while (srv->deferred > 0 && time_mono_ms() < end) {
        struct timespec until = time_mono_deadline(100);
        pthread_cond_timedwait(&srv->defer_done, &srv->defer_mu, &until);
    }
    unsigned left = srv->deferred;
    pthread_mutex_unlock(&srv->defer_mu);
    if (left > 0) {
        /* Never seen: the writer answers every upload within its own timeout. Leaving the
           daemon running is safer than freeing what a late http_resume() would touch. */
        log_error("http: %u deferred answers still due after %d ms; not stopping the listener",
                  left, STOP_WAIT_MS);
        return;
    }
    pthread_mutex_lock(&srv->watch_mu);
    srv->watchdog_quit = true;
    bool running = srv->watchdog_running;
    srv->watchdog_running = false; /* no more lingering sockets from here on */
    pthread_mutex_unlock(&srv->watch_mu);
    if (running)
        pthread_join(srv->watchdog, NULL);
    /* Closes every connection: on_connection() empties the list as it goes. */
    MHD_stop_daemon(srv->daemon);
    destroy(srv);
}

/* --- Streamed answers (http.h "A streamed answer") --- */

struct http_stream {
    pthread_mutex_t mu;
    struct MHD_Connection *conn;
    struct http_stream_source src;
    bool suspended; /* by the reader, waiting for a wake */
    bool woken;     /* a wake came while the reader ran: read again instead of sleeping */
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->woken = false;
    pthread_mutex_unlock(&s->mu);
    ssize_t n = s->src.read(s->src.ctx, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n > 0)
        return n;
    pthread_mutex_lock(&s->mu);
    /* Suspending from the reader is what libmicrohttpd allows; a wake since the read retries. */
    if (!s->woken) {
        s->suspended = true;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void stream_free(void *cls)
{
    struct http_stream *s = cls;
    s->src.free(s->src.ctx); /* the producer forgets s before it goes */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void http_stream_wake(struct http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    } else {
        s->woken = true;
    }
    pthread_mutex_unlock(&s->mu);
}

static struct MHD_Response *stream_response(struct MHD_Connection *c, struct http_response *res)
{
    struct http_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        res->stream.free(res->stream.ctx);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->conn = c;
    s->src = res->stream;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return NULL;
    }
    if (s->src.attach)
        s->src.attach(s->src.ctx, s);
    return r;
}
