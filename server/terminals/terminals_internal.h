/*
 * terminals_internal: what the gateway's files share (loop.c: sockets, the
 * epoll loop, timers; session.c: what a link's frames do; route.c: the
 * queue other threads fill). Not for use outside server/terminals/.
 */
#ifndef SMARTMETER_TERMINALS_INTERNAL_H
#define SMARTMETER_TERMINALS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dynbuf.h"
#include "link.h"
#include "terminals.h"
#include "topic.h"

/* Output held for one connection at most; past it the terminal is not reading: dropped. */
#define TERM_OUT_MAX (256u * 1024u)
/* Output above which the loop stops reading the connection until it drains. */
#define TERM_OUT_HIGH (64u * 1024u)
/*
 * Capture uploads under way hold at most this much in all (each at most max_capture_bytes):
 * a chunk 0 that does not fit is read and dropped as one over the limit is.
 */
#define TERM_CAPTURE_BUDGET ((size_t)64 << 20)
/* Bytes other threads may have queued to the loop at most (acks and commands). */
#define TERM_INBOX_MAX ((size_t)16 << 20)

/* One TCP connection. Lives in exactly one of the loop's lists (handshake, session, dead). */
struct conn {
    int fd;
    bool dead;       /* closed: freed at the end of the loop's turn */
    bool in_table;   /* the device table points here (an open session) */
    bool want_out;   /* EPOLLOUT armed */
    bool reading;    /* EPOLLIN armed */
    bool session;    /* in the session list (the handshake is done) */
    bool discarding; /* a capture over the limit is being read and dropped */
    uint16_t discard_next, discard_count;
    uint32_t capture_reserved; /* of the gateway's capture budget, for this upload */
    int64_t since_ms;         /* monotonic: accepted (handshake) or last bytes received (session) */
    struct conn *prev, *next; /* the list it is in, oldest first */
    struct conn *hnext;       /* the device table's chain */
    struct link link;
    struct dynbuf out; /* frames to send; out_off of them sent */
    size_t out_off;
    struct link_upload up;
    struct dynbuf capture; /* the capture being reassembled (freed in between) */
};

struct conn_list {
    struct conn *head, *tail;
};

/* Something another thread asked the loop to do for a device. */
enum term_msg_kind { TERM_MSG_ACK, TERM_MSG_COMMAND, TERM_MSG_FORGET };

struct term_msg {
    struct term_msg *next;
    enum term_msg_kind kind;
    char device_id[DEVICE_ID_MAX + 1];
    size_t n_acked, n_rejected; /* ACK: ranges in data, acked ones first */
    size_t len;                 /* COMMAND: the JSON's bytes in data */
    _Alignas(8) uint8_t data[];
};

struct term_counters {
    atomic_uint_fast64_t connections, sessions, accepted, opened, frames_in, frames_out;
    atomic_uint_fast64_t telemetry, replies, captures, acks_sent, commands_sent, routed_dropped;
    atomic_uint_fast64_t closed[TERMINALS_CLOSE_KINDS], peer_closed[TERMINALS_CLOSE_KINDS];
    atomic_uint_fast64_t disconnected;
};

struct terminals {
    int listen_fd, epoll_fd, wake_fd;
    int port;
    uint16_t heartbeat_s, idle_s;
    unsigned max_connections;
    unsigned n_conns;
    size_t capture_max;
    size_t capture_budget, capture_reserved; /* TERM_CAPTURE_BUDGET (at least 4 uploads) */
    struct ingest *ing;
    struct term_status *status; /* stores the devices' online/offline (status.c) */
    struct server_counters *stats;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    int64_t listen_paused_until; /* accept() ran out of descriptors: wait a moment */
    struct conn_list handshaking, sessions, dead;
    /* The device table: device id -> its open session; written by the loop under lock. */
    pthread_mutex_t lock;
    struct conn **table;
    size_t table_mask;
    /* The inbox (under lock). */
    struct term_msg *inbox_head, *inbox_tail;
    size_t inbox_bytes;
    /* Logging of closes at most once a minute per reason. */
    int64_t log_at[TERMINALS_CLOSE_KINDS + 1];
    uint64_t log_skipped[TERMINALS_CLOSE_KINDS + 1];
    struct term_counters c;
    uint8_t rbuf[16384]; /* the loop's one receive buffer */
};

/* --- loop.c ------------------------------------------------------------------------------- */

/* Sends what c->out holds (as much as the socket takes now). 0, or -1 when c was closed. */
int term_flush(struct terminals *t, struct conn *c);

/*
 * Ends c: with CLOSE reason (sent when the link still allows), counted under
 * closed[reason]; or, when peer is set, a CLOSE the terminal sent with
 * reason (peer_closed); or, reason < 0, the terminal vanished (disconnected).
 * The device goes offline unless the link was replaced. c is freed later.
 */
void term_close(struct terminals *t, struct conn *c, int reason, bool peer, const char *why);

/* c's session opened: it becomes its device's link, replacing an older one (closed). */
void term_session_opened(struct terminals *t, struct conn *c);

/* The open session of device_id, or NULL. The loop's thread (or under t->lock). */
struct conn *term_table_find(struct terminals *t, const char *device_id);

/* Gives back c's share of the capture budget and its buffer (an upload ended or was dropped). */
void term_capture_release(struct terminals *t, struct conn *c);

/* --- session.c ---------------------------------------------------------------------------- */

/* Bytes received on c: every frame they end is handled. 0, or -1 when c was closed. */
int term_received(struct terminals *t, struct conn *c, const uint8_t *data, size_t len,
                  int64_t now_mono_ms);

/* --- status.c ----------------------------------------------------------------------------- */

struct term_status;

/* Starts the thread that stores statuses (at most max queued). 0 or -errno. */
int term_status_start(const struct store_source *db, const struct ingest_limits *limits,
                      struct server_counters *stats, size_t max, struct term_status **ret);

/* Queues device_id's status as of at_ms (wall clock); never blocks on the database. */
void term_status_post(struct term_status *s, const char *device_id, bool online, int64_t at_ms);

/* Stores what is queued for at most drain_ms, then stops and frees. NULL is fine. */
void term_status_stop(struct term_status *s, int64_t drain_ms);

/* --- route.c ------------------------------------------------------------------------------ */

/* Takes everything queued and does it. */
void term_inbox_run(struct terminals *t);

/* Frees what is left queued (at the end). */
void term_inbox_clear(struct terminals *t);

#endif
