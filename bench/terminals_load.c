/*
 * terminals_load: many terminals on meter-server's terminal gateway at once,
 * for bench/terminals.sh (bench/README.md, "Terminals"). One thread, one
 * epoll set, the link codec both daemons use (common/wire/link.h) on the
 * client side.
 *
 * Devices are PREFIX<first..first+count-1>; device n's secret is the text
 * SECRET_PREFIX<n> (the script registers them so). Each connection does the
 * handshake, then:
 *
 *   --mode steady  one reading every --interval-ms (the first at a random
 *                  point of the first interval, so the load is spread), for
 *                  --seconds after the last connection opened;
 *   --mode rate    --readings readings, with at most --window of them sent
 *                  and not yet acknowledged (a terminal's spool catching up).
 *
 * Every reading's latency is taken from its send to the ACK that names it
 * (which the server sends after the commit). Prints key=value lines: "open"
 * once every connection is in session (open_ms, wall clock), then at the end
 * connections, failed, readings sent and acked, first_send_ms, last_ack_ms,
 * rate (acked per second between them), and latency p50/p99/max in ms.
 * Exit status 0, 1 when connections failed or readings went unacked, 2 on
 * bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "link.h"
#include "sign.h"

#define RING 256 /* send times kept per connection: the window's limit */

struct term {
    int fd;
    bool open, failed, connecting;
    struct link link;
    struct dynbuf out;
    size_t out_off;
    uint64_t seq_sent, seq_acked; /* highest sent, highest acked (acks come in order) */
    int64_t next_ms;
    int64_t sent_us[RING];
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static struct {
    const char *host, *prefix, *secret_prefix;
    int port;
    long first, count;
    bool rate;
    long interval_ms, seconds, readings, window, connect_rate;
} o = {"127.0.0.1", "bench-t-", "bench-secret-", 0, 1, 100, false, 10000, 60, 1000, 32, 2000};

static uint32_t *lat;
static size_t n_lat, cap_lat;
static uint64_t sent_total, acked_total;
static int64_t first_send_ms, last_ack_ms;

static void flush_out(struct term *t)
{
    while (t->out_off < t->out.len) {
        ssize_t n = send(t->fd, t->out.buf + t->out_off, t->out.len - t->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            t->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return; /* the kernel's buffer is full: small frames, rare; retried next turn */
        t->failed = true;
        return;
    }
    dynbuf_reset(&t->out);
    t->out_off = 0;
}

static void send_reading(struct term *t)
{
    char json[160];
    uint64_t seq = t->seq_sent + 1;
    int n = snprintf(json, sizeof(json),
                     "{\"seq\":%" PRIu64 ",\"ts\":%" PRId64
                     ",\"voltage\":230.1,\"current\":5.2,\"energy_wh\":%" PRIu64 "}",
                     seq, wall_ms(), seq);
    if (link_send(&t->link, LINK_TELEMETRY, json, (size_t)n, &t->out)) {
        t->failed = true;
        return;
    }
    t->sent_us[seq % RING] = now_us();
    t->seq_sent = seq;
    sent_total++;
    if (!first_send_ms)
        first_send_ms = wall_ms();
    flush_out(t);
}

static void on_ack(struct term *t, const struct link_frame *f)
{
    struct ack_msg *a = malloc(sizeof(*a));
    if (!a || link_parse_ack(f, a)) {
        free(a);
        t->failed = true;
        return;
    }
    int64_t now = now_us();
    for (size_t k = 0; k < a->n_seqs; k++)
        for (uint64_t s = a->seqs[k].first; s <= a->seqs[k].last && s <= t->seq_sent; s++) {
            if (s <= t->seq_acked)
                continue;
            t->seq_acked = s;
            acked_total++;
            if (n_lat < cap_lat)
                lat[n_lat++] = (uint32_t)((now - t->sent_us[s % RING]) / 100); /* 0.1 ms */
        }
    last_ack_ms = wall_ms();
    free(a);
}

static void on_readable(struct term *t, int64_t now_ms)
{
    uint8_t buf[8192];
    ssize_t n = recv(t->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            t->failed = true;
        return;
    }
    size_t off = 0;
    while (off < (size_t)n && !t->failed) {
        size_t used;
        struct link_frame f;
        int r = link_feed(&t->link, buf + off, (size_t)n - off, wall_ms(), &used, &f, &t->out);
        off += used;
        if (r < 0 || r == LINK_EV_CLOSE) {
            t->failed = true;
            break;
        }
        if (r == LINK_EV_OPEN) {
            t->open = true;
            t->next_ms = now_ms + (o.rate ? 0 : rand() % o.interval_ms);
        } else if (r == LINK_EV_FRAME && f.type == LINK_ACK) {
            on_ack(t, &f);
        }
    }
    link_release(&t->link);
    flush_out(t);
}

static int start_conn(struct term *t, long n, int ep, const struct sockaddr_in *sa)
{
    char id[LINK_DEVICE_ID_MAX + 1], secret[128];
    uint8_t hash[SIGN_HASH_LEN], nonce[LINK_NONCE_LEN];
    snprintf(id, sizeof(id), "%s%ld", o.prefix, n);
    int len = snprintf(secret, sizeof(secret), "%s%ld", o.secret_prefix, n);
    sign_secret_hash(secret, (size_t)len, hash);
    sign_random(nonce, sizeof(nonce));
    dynbuf_init(&t->out, 1 << 20);
    if (link_client_init(&t->link, id, hash, nonce) || link_client_hello(&t->link, &t->out))
        return -1;
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0)
        return -1;
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(t->fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS)
        return -1;
    t->connecting = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = t};
    return epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_terminals_load --port P [--host H] [--prefix P] [--secret-prefix S]\n"
            "  [--first N] [--count N] [--mode steady|rate] [--interval-ms MS] [--seconds S]\n"
            "  [--readings N] [--window N] [--connect-rate PER_S]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"host", 1, 0, 'h'},
                                         {"port", 1, 0, 'p'},
                                         {"prefix", 1, 0, 'P'},
                                         {"secret-prefix", 1, 0, 'S'},
                                         {"first", 1, 0, 'f'},
                                         {"count", 1, 0, 'n'},
                                         {"mode", 1, 0, 'm'},
                                         {"interval-ms", 1, 0, 'i'},
                                         {"seconds", 1, 0, 's'},
                                         {"readings", 1, 0, 'r'},
                                         {"window", 1, 0, 'w'},
                                         {"connect-rate", 1, 0, 'c'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'P':
            o.prefix = optarg;
            break;
        case 'S':
            o.secret_prefix = optarg;
            break;
        case 'f':
            o.first = atol(optarg);
            break;
        case 'n':
            o.count = atol(optarg);
            break;
        case 'm':
            o.rate = strcmp(optarg, "rate") == 0;
            break;
        case 'i':
            o.interval_ms = atol(optarg);
            break;
        case 's':
            o.seconds = atol(optarg);
            break;
        case 'r':
            o.readings = atol(optarg);
            break;
        case 'w':
            o.window = atol(optarg);
            break;
        case 'c':
            o.connect_rate = atol(optarg);
            break;
        default:
            usage();
            return 2;
        }
    }
    if (o.port <= 0 || o.count <= 0 || o.interval_ms <= 0 || o.window <= 0 || o.window >= RING ||
        o.connect_rate <= 0) {
        usage();
        return 2;
    }
    if (sign_init())
        return 1;
    srand((unsigned)now_us());
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1) {
        usage();
        return 2;
    }
    struct term *ts = calloc((size_t)o.count, sizeof(*ts));
    cap_lat = o.rate ? (size_t)o.count * (size_t)o.readings
                     : (size_t)o.count * (size_t)(o.seconds * 1000 / o.interval_ms + 2);
    if (cap_lat > ((size_t)1 << 26))
        cap_lat = (size_t)1 << 26;
    lat = malloc(cap_lat * sizeof(*lat));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!ts || !lat || ep < 0)
        return 1;

    long started = 0, opened = 0;
    int64_t t0 = now_us() / 1000, open_at = 0, end_at = INT64_MAX;
    struct epoll_event evs[512];
    for (;;) {
        int64_t now = now_us() / 1000;
        /* Connections at the connect rate. */
        long due = (long)((now - t0) * o.connect_rate / 1000) + 1;
        while (started < o.count && started < due) {
            if (start_conn(&ts[started], o.first + started, ep, &sa))
                ts[started].failed = true;
            started++;
        }
        int n = epoll_wait(ep, evs, 512, 5);
        now = now_us() / 1000;
        for (int k = 0; k < n; k++) {
            struct term *t = evs[k].data.ptr;
            if (t->failed)
                continue;
            if (t->connecting && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                t->connecting = false;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
                epoll_ctl(ep, EPOLL_CTL_MOD, t->fd, &ev);
                flush_out(t); /* the HELLO */
            }
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(t, now);
        }
        long open_now = 0, failed = 0;
        bool all_done = true;
        for (long k = 0; k < started; k++) {
            struct term *t = &ts[k];
            if (t->failed) {
                if (t->fd > 0) {
                    close(t->fd);
                    t->fd = -1;
                }
                failed++;
                continue;
            }
            if (!t->open) {
                all_done = false;
                continue;
            }
            open_now++;
            if (o.rate) {
                while (t->seq_sent < (uint64_t)o.readings &&
                       t->seq_sent - t->seq_acked < (uint64_t)o.window && !t->failed)
                    send_reading(t);
                if (t->seq_acked < (uint64_t)o.readings)
                    all_done = false;
            } else {
                if (now < end_at && now >= t->next_ms) {
                    send_reading(t);
                    t->next_ms += o.interval_ms;
                }
                if (t->seq_acked < t->seq_sent)
                    all_done = false;
            }
        }
        opened = open_now > opened ? open_now : opened;
        if (!open_at && started == o.count && open_now + failed == o.count) {
            open_at = now;
            end_at = now + o.seconds * 1000;
            printf("open open_ms=%" PRId64 " connections=%ld failed=%ld seconds_to_open=%.2f\n",
                   wall_ms(), open_now, failed, (now - t0) / 1000.0);
            fflush(stdout);
        }
        if (started == o.count && all_done && (o.rate || now >= end_at))
            break;
        /* Bounded: readings unacked for 60 s past the end are given up. */
        if (open_at && now > end_at + 60000 && !o.rate)
            break;
        if (now - t0 > 3600 * 1000)
            break;
    }
    long failed = 0;
    for (long k = 0; k < o.count; k++)
        failed += ts[k].failed;
    qsort(lat, n_lat, sizeof(*lat), cmp_u32);
    double p50 = n_lat ? lat[n_lat / 2] / 10.0 : 0, p99 = n_lat ? lat[n_lat * 99 / 100] / 10.0 : 0;
    double mx = n_lat ? lat[n_lat - 1] / 10.0 : 0;
    double secs = last_ack_ms > first_send_ms ? (last_ack_ms - first_send_ms) / 1000.0 : 0;
    printf("end connections=%ld failed=%ld sent=%" PRIu64 " acked=%" PRIu64
           " first_send_ms=%" PRId64 " last_ack_ms=%" PRId64 " seconds=%.2f rate=%.0f"
           " latency_p50_ms=%.1f latency_p99_ms=%.1f latency_max_ms=%.1f\n",
           opened, failed, sent_total, acked_total, first_send_ms, last_ack_ms, secs,
           secs > 0 ? acked_total / secs : 0, p50, p99, mx);
    return failed || acked_total < sent_total ? 1 : 0;
}
