/*
 * http: the HTTP server (libmicrohttpd; the only file that includes
 * microhttpd.h). It accepts connections on a pool of threads, reads request
 * bodies up to a cap, and hands each complete request to one handler
 * function with our own request/response structs.
 *
 * A handler that must wait for something (an upload for its commit, a
 * password check) defers its answer instead of blocking a thread:
 * http_defer(), then, from any thread, fill http_deferred_response() and
 * call http_resume(). Meanwhile the connection is suspended and its thread
 * serves others.
 *
 * Before any handler sees a request, its framing, headers and path pass the
 * rules of http_check.h; one that breaks them is answered at once (400, or
 * 413 for a body announced too large, before the body is read) with a JSON
 * error. Slow clients are bounded: connections per address, a deadline for a
 * request's line and headers and another for its body (a connection past its
 * deadline is shut down), and an idle timeout.
 *
 * With a certificate (https.h) the listener speaks only HTTPS, TLS 1.2 or
 * later. Behind a reverse proxy, http_client_address() names the client the
 * trusted proxies forwarded (proxy.h).
 */
#ifndef SMARTMETER_HTTP_H
#define SMARTMETER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dynbuf.h"

struct http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* percent-decoded, without the query */
    const char *raw_path; /* as sent (still percent-encoded), without the query; NULL if unknown */
    const char *body;     /* NUL-terminated; "" when there is none */
    size_t body_len;
    char peer_addr[64]; /* the TCP peer: the client, or a proxy; see http_client_address() */
    void *conn;         /* for http_header()/http_query() */
    void *ctx;          /* the request's own state, for http_defer() */
};

#define HTTP_MAX_HEADERS 8

/*
 * A streamed answer (server-sent events): its body is produced as it goes.
 * read() fills buf with up to max bytes and returns how many; 0 when it has
 * nothing now (the connection then sleeps, costing no thread, until
 * http_stream_wake()); -1 to end the answer. attach() is told, before the
 * first read(), the handle to wake the stream with; free() comes exactly once
 * when the connection is done (closed by either side or by http_stop()), and
 * after it the handle is gone: whoever wakes it must have forgotten it by
 * then (under the same lock as its wakes). Each callback runs on one of the
 * server's threads; read() must not block.
 */
struct http_stream;
struct http_stream_source {
    ssize_t (*read)(void *ctx, char *buf, size_t max);
    void (*attach)(void *ctx, struct http_stream *s);
    void (*free)(void *ctx);
    void *ctx;
};
/* Wakes a sleeping stream to call read() again. From any thread. */
void http_stream_wake(struct http_stream *s);

struct http_response {
    int status;
    const char *content_type; /* static string; default application/json */
    struct dynbuf body;
    unsigned nheaders;
    struct {
        const char *name; /* static string */
        char value[256];
    } headers[HTTP_MAX_HEADERS];
    struct http_stream_source stream; /* read set: a streamed answer; body is ignored */
};

/*
 * The client's address, for rate limits and logs: the TCP peer's, or, when the
 * peer is one of http_options.trusted_proxies, the client its X-Forwarded-For
 * names (proxy_client_address()). Valid during the handler call.
 */
const char *http_client_address(const struct http_request *req);

/* A request header or query parameter, or NULL. Valid during the handler call. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);
/* Adds a response header (name must be a static string); silently ignored past the limit. */
void http_response_header(struct http_response *res, const char *name, const char *value);

struct http_deferred;
struct http_tls;
struct proxy_list;

/*
 * Called by a handler that will answer later: the handler then returns
 * without filling its res (which is discarded). Returns NULL when the server
 * is stopping (the handler must answer at once) or out of memory.
 */
struct http_deferred *http_defer(const struct http_request *req);
/* Where the deferred answer goes: a response as the handler's res would be (status 200). */
struct http_response *http_deferred_response(struct http_deferred *d);
/* Sends the deferred answer; exactly once per http_defer(), from any thread. d is gone after. */
void http_resume(struct http_deferred *d);

/*
 * Names which of the application's routes a request went to, for
 * http_options.observe (an index the application gives meaning to; -1, the
 * default, for none). Call it from the handler, before answering or deferring.
 */
void http_request_label(const struct http_request *req, int label);
/*
 * Told of every answer as it is queued (the deferred ones when resumed, the
 * ones the checks refuse before any handler too): the request's label, the
 * status and the time since its headers arrived. Runs on a server thread;
 * must be quick and must not block.
 */
typedef void (*http_observe_fn)(void *app, int label, int status, uint64_t duration_ns);

/* Fills res (status and body), or defers it. Runs on one of the server's threads. */
typedef void (*http_handler_fn)(void *app, const struct http_request *req,
                                struct http_response *res);

struct http_options {
    const char *listen;        /* "HOST:PORT", "[::1]:PORT"; port 0 picks a free one */
    unsigned threads;          /* worker threads */
    size_t max_body_bytes;     /* larger bodies get 413 */
    size_t max_response_bytes; /* cap on a response body */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no limit */
    unsigned timeout_s;              /* idle connection timeout (0: none) */
    /* A request's line and headers must arrive within this many seconds of the connection
       opening or the previous answer, and its body within body_timeout_s of the headers (0: no
       deadline). */
    unsigned header_timeout_s;
    unsigned body_timeout_s;
    /* HTTPS with this certificate and key, read only while starting; NULL: plain HTTP. */
    const struct http_tls *tls;
    const struct proxy_list *trusted_proxies; /* NULL: no proxy trusted; kept until stop */
    http_handler_fn handler;
    void *app;
    http_observe_fn observe; /* NULL: nobody is told */
};

struct http_server;

/* Checks listen ("HOST:PORT") before anything starts: 0, or -EINVAL with err naming it. */
int http_check_listen(const char *listen, char *err, size_t errlen);
/* Starts listening. Returns 0, or -errno with err set (bad address, port in use). */
int http_start(const struct http_options *opts, struct http_server **ret, char *err, size_t errlen);
/* The port actually bound. */
int http_port(const struct http_server *srv);
/*
 * Stops deferring, waits (at most 30 s) for deferred answers still due, then
 * closes every connection. Whoever resumes them must still be running.
 */
void http_stop(struct http_server *srv);

#endif
