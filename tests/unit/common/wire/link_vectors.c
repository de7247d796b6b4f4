/*
 * link_vectors: the C side of the terminal link for the independent Python
 * implementation (tests/lib/link_client.py, run by tests/unit/common/wire/
 * test_link_python.py).
 *
 *   link_vectors example   prints the worked example and a session of every
 *                          frame type, one "name hex" line each
 *   link_vectors server    a server on stdin/stdout: accepts the example's
 *                          device, acks each reading's seq, answers heartbeats,
 *                          tells a finished capture upload's length and CRC in a
 *                          COMMAND, and closes with the reason of any error
 *   link_vectors client    a client on stdin/stdout: sends readings 1..3 and
 *                          a heartbeat, waits until seq 3 is acked, says goodbye;
 *                          exits 0 only if all of it worked
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h"
#include "link_example.h"

static uint8_t hash[SIGN_HASH_LEN];

static void hexline(const char *name, const void *data, size_t len)
{
    const uint8_t *p = data;
    printf("%s ", name);
    for (size_t k = 0; k < len; k++)
        printf("%02x", p[k]);
    printf("\n");
}

static void emit(const char *name, struct dynbuf *b)
{
    hexline(name, b->buf, b->len);
    dynbuf_reset(b);
}

/* Feeds all of b to l and expects exactly the event ev (and no error). */
static void deliver(struct link *l, struct dynbuf *b, int ev, struct dynbuf *out)
{
    size_t at = 0;
    int last = LINK_EV_NONE;
    while (at < b->len) {
        size_t used;
        struct link_frame f;
        int r = link_feed(l, b->buf + at, b->len - at, EXAMPLE_TIME_MS, &used, &f, out);
        if (r < 0) {
            fprintf(stderr, "link_vectors: %s\n", link_error_name(r));
            exit(1);
        }
        at += used;
        if (r != LINK_EV_NONE)
            last = r;
    }
    if (last != ev) {
        fprintf(stderr, "link_vectors: event %d, expected %d\n", last, ev);
        exit(1);
    }
    dynbuf_reset(b);
}

static int example(void)
{
    static const uint8_t nc[] = EXAMPLE_NONCE_C, ns[] = EXAMPLE_NONCE_S;
    struct link c, s;
    struct dynbuf co, so;
    dynbuf_init(&co, 1 << 20);
    dynbuf_init(&so, 1 << 20);
    struct sign_key kl;
    sign_link_key(hash, &kl);
    hexline("link_key", kl.bytes, sizeof(kl.bytes));

    if (link_client_init(&c, EXAMPLE_DEVICE, hash, nc))
        return 1;
    link_server_init(&s, ns, EXAMPLE_HEARTBEAT_S, EXAMPLE_IDLE_S);
    link_client_hello(&c, &co);
    hexline("hello", co.buf, co.len);
    deliver(&s, &co, LINK_EV_HELLO, &so);
    link_server_accept(&s, hash, &so);
    hexline("challenge", so.buf, so.len);
    deliver(&c, &so, LINK_EV_NONE, &co);
    hexline("response", co.buf, co.len);
    deliver(&s, &co, LINK_EV_OPEN, &so);
    hexline("welcome", so.buf, so.len);
    deliver(&c, &so, LINK_EV_OPEN, &co);
    hexline("key_c2s", c.key_tx.bytes, SIGN_KEY_LEN);
    hexline("key_s2c", c.key_rx.bytes, SIGN_KEY_LEN);

    /* The session: every frame type, in both directions. */
    link_send(&c, LINK_TELEMETRY, EXAMPLE_TELEMETRY, strlen(EXAMPLE_TELEMETRY), &co);
    hexline("telemetry", co.buf, co.len);
    deliver(&s, &co, LINK_EV_FRAME, &so);
    struct ack_range acked[] = {{1, 1}};
    struct ack_cursor cur = {0};
    link_send_ack_next(&s, acked, 1, NULL, 0, &cur, &so);
    hexline("ack", so.buf, so.len);
    deliver(&c, &so, LINK_EV_FRAME, &co);

    link_send_heartbeat(&c, EXAMPLE_TIME_MS + 1000, &co);
    emit("c2s", &co);
    link_send_heartbeat(&s, EXAMPLE_TIME_MS + 1001, &so);
    emit("s2c", &so);
    const char *cmd = "{\"id\":\"r-7\",\"cmd\":\"capture\",\"duration_ms\":200,"
                      "\"ts\":1796630401000}";
    link_send(&s, LINK_COMMAND, cmd, strlen(cmd), &so);
    emit("s2c", &so);
    const char *reply = "{\"id\":\"r-7\",\"cmd\":\"capture\",\"status\":\"ok\","
                        "\"ts\":\"2026-12-07T08:00:01.500Z\"}";
    link_send(&c, LINK_REPLY, reply, strlen(reply), &co);
    emit("c2s", &co);
    size_t total = LINK_CHUNK_DATA_MAX + 100;
    uint8_t *cap = malloc(total);
    if (!cap)
        return 1;
    for (size_t k = 0; k < total; k++)
        cap[k] = (uint8_t)('a' + k % 26);
    for (uint32_t k = 0; k < link_chunk_count(total); k++) {
        link_send_chunk(&c, cap, total, k, &co);
        emit("c2s", &co);
    }
    free(cap);
    struct ack_range a2[] = {{2, 9}, {12, 12}}, r2[] = {{4, 5}};
    cur = (struct ack_cursor){0};
    link_send_ack_next(&s, a2, 2, r2, 1, &cur, &so);
    emit("s2c", &so);
    link_send_close(&c, LINK_R_SHUTDOWN, "meterd stopping", &co);
    emit("c2s", &co);
    link_free(&c);
    link_free(&s);
    dynbuf_free(&co);
    dynbuf_free(&so);
    return 0;
}

static int flush(struct dynbuf *out)
{
    size_t at = 0;
    while (at < out->len) {
        ssize_t n = write(1, out->buf + at, out->len - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    dynbuf_reset(out);
    return 0;
}

/* The number after "seq": in a reading, 0 when there is none. */
static uint64_t seq_of(const uint8_t *p, size_t len)
{
    char text[LINK_PAYLOAD_MAX + 1];
    memcpy(text, p, len);
    text[len] = '\0';
    const char *s = strstr(text, "\"seq\":");
    return s ? strtoull(s + 6, NULL, 10) : 0;
}

static int server(void)
{
    uint8_t ns[LINK_NONCE_LEN];
    sign_random(ns, sizeof(ns));
    struct link l;
    struct dynbuf out, upload;
    struct link_upload u = {0};
    dynbuf_init(&out, 1 << 16);
    dynbuf_init(&upload, 1 << 20);
    link_server_init(&l, ns, EXAMPLE_HEARTBEAT_S, EXAMPLE_IDLE_S);
    uint8_t buf[1500];
    ssize_t n;
    int done = 0;
    while (!done && (n = read(0, buf, sizeof(buf))) > 0) {
        size_t at = 0;
        while (!done && at < (size_t)n) {
            size_t used;
            struct link_frame f;
            int r = link_feed(&l, buf + at, (size_t)n - at, EXAMPLE_TIME_MS, &used, &f, &out);
            at += used;
            if (r < 0) {
                link_send_close(&l, link_error_reason(r), link_error_name(r), &out);
                done = 1;
            } else if (r == LINK_EV_HELLO) {
                link_server_accept(&l, strcmp(l.device_id, EXAMPLE_DEVICE) ? NULL : hash, &out);
            } else if (r == LINK_EV_CLOSE) {
                done = 1;
            } else if (r == LINK_EV_FRAME && f.type == LINK_TELEMETRY) {
                uint64_t seq = seq_of(f.payload, f.len);
                struct ack_range a[] = {{seq, seq}};
                struct ack_cursor cur = {0};
                if (seq)
                    link_send_ack_next(&l, a, 1, NULL, 0, &cur, &out);
            } else if (r == LINK_EV_FRAME && f.type == LINK_HEARTBEAT) {
                link_send_heartbeat(&l, EXAMPLE_TIME_MS, &out);
            } else if (r == LINK_EV_FRAME && f.type == LINK_CAPTURE) {
                struct link_chunk c;
                int k = link_parse_chunk(&f, &c);
                if (!k)
                    k = link_upload_add(&u, &c, &upload);
                if (k == 1) {
                    char cmd[128];
                    int m = snprintf(cmd, sizeof(cmd),
                                     "{\"id\":\"upload\",\"cmd\":\"capture\",\"got\":%zu,"
                                     "\"crc\":%" PRIu32 "}",
                                     upload.len, link_crc32(upload.buf, upload.len));
                    link_send(&l, LINK_COMMAND, cmd, (size_t)m, &out);
                } else if (k < 0) {
                    link_send_close(&l, link_error_reason(k), "upload", &out);
                    done = 1;
                }
            }
            if (flush(&out))
                done = 1;
        }
    }
    link_free(&l);
    dynbuf_free(&out);
    dynbuf_free(&upload);
    return 0;
}

static int client(void)
{
    uint8_t nc[LINK_NONCE_LEN];
    sign_random(nc, sizeof(nc));
    struct link l;
    struct dynbuf out;
    dynbuf_init(&out, 1 << 16);
    if (link_client_init(&l, EXAMPLE_DEVICE, hash, nc) || link_client_hello(&l, &out) ||
        flush(&out))
        return 1;
    uint8_t buf[1500];
    ssize_t n;
    int ok = 0, done = 0;
    while (!done && (n = read(0, buf, sizeof(buf))) > 0) {
        size_t at = 0;
        while (!done && at < (size_t)n) {
            size_t used;
            struct link_frame f;
            int r = link_feed(&l, buf + at, (size_t)n - at, EXAMPLE_TIME_MS, &used, &f, &out);
            at += used;
            if (r < 0) {
                fprintf(stderr, "link_vectors client: %s\n", link_error_name(r));
                link_send_close(&l, link_error_reason(r), link_error_name(r), &out);
                done = 1;
            } else if (r == LINK_EV_OPEN) {
                for (int k = 1; k <= 3; k++) {
                    char t[128];
                    int m = snprintf(t, sizeof(t),
                                     "{\"seq\":%d,\"ts\":\"2026-12-07T08:00:0%d.000Z\","
                                     "\"voltage\":230.1,\"current\":4.2}",
                                     k, k);
                    link_send(&l, LINK_TELEMETRY, t, (size_t)m, &out);
                }
                link_send_heartbeat(&l, EXAMPLE_TIME_MS, &out);
            } else if (r == LINK_EV_FRAME && f.type == LINK_ACK) {
                static struct ack_msg m;
                if (link_parse_ack(&f, &m) == 0 && m.seqs[m.n_seqs - 1].last >= 3) {
                    link_send_close(&l, LINK_R_NORMAL, "done", &out);
                    ok = 1;
                    done = 1;
                }
            } else if (r == LINK_EV_CLOSE) {
                fprintf(stderr, "link_vectors client: closed by the server (%s)\n",
                        link_reason_name(f.len ? f.payload[0] : 0xff));
                done = 1;
            }
            if (flush(&out))
                done = 1;
        }
    }
    link_free(&l);
    dynbuf_free(&out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (sign_init())
        return 1;
    sign_secret_hash(EXAMPLE_SECRET, strlen(EXAMPLE_SECRET), hash);
    if (argc == 2 && !strcmp(argv[1], "example"))
        return example();
    if (argc == 2 && !strcmp(argv[1], "server"))
        return server();
    if (argc == 2 && !strcmp(argv[1], "client"))
        return client();
    fprintf(stderr, "usage: link_vectors example|server|client\n");
    return 2;
}
