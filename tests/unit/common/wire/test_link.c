/*
 * The terminal link (common/wire/link.h, docs/terminal-protocol.md): the
 * documented worked example byte for byte, a handshake and a session in both
 * directions for every frame type, input cut anywhere or run together, and
 * each error the receiver reports, from a bad length to a replayed counter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link.h"
#include "link_example.h"

static uint8_t hash[SIGN_HASH_LEN];

static int setup(void **state)
{
    (void)state;
    if (sign_init())
        return -1;
    sign_secret_hash(EXAMPLE_SECRET, strlen(EXAMPLE_SECRET), hash);
    return 0;
}

/* A received frame kept past the next link_feed(). */
struct got {
    int ev;
    uint8_t type;
    uint32_t counter;
    size_t len;
    uint8_t payload[LINK_PAYLOAD_MAX];
};

/*
 * Feeds data[0..len) to l step by step (step bytes at a time, 0: all at
 * once), answering into out; keeps the frames in got[] (up to max) and
 * returns the number of events, or the first error.
 */
static int feed(struct link *l, const void *data, size_t len, size_t step, struct dynbuf *out,
                struct got *got, size_t max)
{
    const uint8_t *p = data;
    size_t n = 0, at = 0;
    while (at < len) {
        size_t chunk = step && len - at > step ? step : len - at;
        size_t off = 0;
        while (off < chunk) {
            size_t used;
            struct link_frame f;
            int r = link_feed(l, p + at + off, chunk - off, EXAMPLE_TIME_MS, &used, &f, out);
            if (r < 0)
                return r;
            assert_true(used > 0);
            off += used;
            if (r == LINK_EV_NONE)
                continue;
            if (n < max) {
                got[n].ev = r;
                if (r == LINK_EV_FRAME || r == LINK_EV_CLOSE) {
                    got[n].type = f.type;
                    got[n].counter = f.counter;
                    got[n].len = f.len;
                    memcpy(got[n].payload, f.payload, f.len);
                }
            }
            n++;
        }
        at += chunk;
    }
    return (int)n;
}

static void hexof(const struct dynbuf *b, char *out)
{
    for (size_t k = 0; k < b->len; k++)
        snprintf(out + 2 * k, 3, "%02x", (uint8_t)b->buf[k]);
}

static void assert_hex(const struct dynbuf *b, const char *want)
{
    char *h = malloc(2 * b->len + 1);
    assert_non_null(h);
    h[0] = '\0';
    hexof(b, h);
    assert_string_equal(h, want);
    free(h);
}

/* A client and a server of the example, through the handshake. */
struct pair {
    struct link c, s;
    struct dynbuf c_out, s_out;
};

static void pair_open_ns(struct pair *p, const uint8_t *server_hash, const uint8_t *ns)
{
    static const uint8_t nc[] = EXAMPLE_NONCE_C;
    struct got got[4];
    dynbuf_init(&p->c_out, 1 << 20);
    dynbuf_init(&p->s_out, 1 << 20);
    assert_int_equal(link_client_init(&p->c, EXAMPLE_DEVICE, hash, nc), 0);
    link_server_init(&p->s, ns, EXAMPLE_HEARTBEAT_S, EXAMPLE_IDLE_S);
    assert_int_equal(link_client_hello(&p->c, &p->c_out), 0);
    assert_int_equal(feed(&p->s, p->c_out.buf, p->c_out.len, 0, &p->s_out, got, 4), 1);
    assert_int_equal(got[0].ev, LINK_EV_HELLO);
    assert_string_equal(p->s.device_id, EXAMPLE_DEVICE);
    dynbuf_reset(&p->c_out);
    assert_int_equal(link_server_accept(&p->s, server_hash, &p->s_out), 0);
    assert_int_equal(feed(&p->c, p->s_out.buf, p->s_out.len, 0, &p->c_out, got, 4), 0);
    dynbuf_reset(&p->s_out);
}

static void pair_open(struct pair *p, const uint8_t *server_hash)
{
    static const uint8_t ns[] = EXAMPLE_NONCE_S;
    pair_open_ns(p, server_hash, ns);
}

static void pair_finish(struct pair *p)
{
    struct got got[4];
    assert_int_equal(feed(&p->s, p->c_out.buf, p->c_out.len, 0, &p->s_out, got, 4), 1);
    assert_int_equal(got[0].ev, LINK_EV_OPEN);
    dynbuf_reset(&p->c_out);
    assert_int_equal(feed(&p->c, p->s_out.buf, p->s_out.len, 0, &p->c_out, got, 4), 1);
    assert_int_equal(got[0].ev, LINK_EV_OPEN);
    dynbuf_reset(&p->s_out);
    assert_int_equal(p->c.state, LINK_S_OPEN);
    assert_int_equal(p->s.state, LINK_S_OPEN);
}

static void pair_free(struct pair *p)
{
    link_free(&p->c);
    link_free(&p->s);
    dynbuf_free(&p->c_out);
    dynbuf_free(&p->s_out);
}

static void test_crc32_is_iso_hdlc(void **state)
{
    (void)state;
    assert_int_equal(link_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(link_crc32("", 0), 0);
}

static void test_link_key_matches_the_documented_construction(void **state)
{
    (void)state;
    struct sign_key kl;
    char hex[65];
    sign_link_key(hash, &kl);
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", kl.bytes[k]);
    assert_string_equal(hex, EXAMPLE_LINK_KEY);
}

/* The worked example of docs/terminal-protocol.md, every byte. */
static void test_the_worked_example_is_the_documented_bytes(void **state)
{
    (void)state;
    static const uint8_t nc[] = EXAMPLE_NONCE_C, ns[] = EXAMPLE_NONCE_S;
    struct link c, s;
    struct dynbuf c_out, s_out;
    struct got got[4];
    dynbuf_init(&c_out, 65536);
    dynbuf_init(&s_out, 65536);
    assert_int_equal(link_client_init(&c, EXAMPLE_DEVICE, hash, nc), 0);
    link_server_init(&s, ns, EXAMPLE_HEARTBEAT_S, EXAMPLE_IDLE_S);

    assert_int_equal(link_client_hello(&c, &c_out), 0);
    assert_hex(&c_out, EXAMPLE_HELLO);
    assert_int_equal(feed(&s, c_out.buf, c_out.len, 0, &s_out, got, 4), 1);
    dynbuf_reset(&c_out);
    assert_int_equal(link_server_accept(&s, hash, &s_out), 0);
    assert_hex(&s_out, EXAMPLE_CHALLENGE);
    assert_int_equal(feed(&c, s_out.buf, s_out.len, 0, &c_out, got, 4), 0);
    dynbuf_reset(&s_out);
    assert_hex(&c_out, EXAMPLE_RESPONSE);
    assert_int_equal(feed(&s, c_out.buf, c_out.len, 0, &s_out, got, 4), 1);
    dynbuf_reset(&c_out);
    assert_hex(&s_out, EXAMPLE_WELCOME);
    assert_int_equal(feed(&c, s_out.buf, s_out.len, 0, &c_out, got, 4), 1);
    dynbuf_reset(&s_out);
    assert_int_equal(c.server_time_ms, EXAMPLE_TIME_MS);
    assert_int_equal(c.heartbeat_s, EXAMPLE_HEARTBEAT_S);
    assert_int_equal(c.idle_s, EXAMPLE_IDLE_S);

    assert_int_equal(
        link_send(&c, LINK_TELEMETRY, EXAMPLE_TELEMETRY, strlen(EXAMPLE_TELEMETRY), &c_out), 0);
    assert_hex(&c_out, EXAMPLE_TELEMETRY_FRAME);
    assert_int_equal(feed(&s, c_out.buf, c_out.len, 0, &s_out, got, 4), 1);
    assert_int_equal(got[0].ev, LINK_EV_FRAME);
    assert_int_equal(got[0].type, LINK_TELEMETRY);
    assert_int_equal(got[0].counter, 1);
    assert_int_equal(got[0].len, strlen(EXAMPLE_TELEMETRY));
    assert_memory_equal(got[0].payload, EXAMPLE_TELEMETRY, got[0].len);

    struct ack_range acked[] = {{1, 1}};
    struct ack_cursor cur = {0};
    assert_int_equal(link_send_ack_next(&s, acked, 1, NULL, 0, &cur, &s_out), 1);
    assert_hex(&s_out, EXAMPLE_ACK_FRAME);
    assert_int_equal(feed(&c, s_out.buf, s_out.len, 0, &c_out, got, 4), 1);
    assert_int_equal(got[0].type, LINK_ACK);

    link_free(&c);
    link_free(&s);
    dynbuf_free(&c_out);
    dynbuf_free(&s_out);
}

static void test_every_session_frame_type_arrives_intact(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    pair_finish(&p);
    struct got *got = calloc(8, sizeof(*got));
    assert_non_null(got);

    /* Client to server: heartbeat, telemetry, reply, close. */
    const char *reply = "{\"id\":\"r1\",\"cmd\":\"capture\",\"status\":\"ok\",\"ts\":1}";
    assert_int_equal(link_send_heartbeat(&p.c, 1234, &p.c_out), 0);
    assert_int_equal(
        link_send(&p.c, LINK_TELEMETRY, EXAMPLE_TELEMETRY, strlen(EXAMPLE_TELEMETRY), &p.c_out), 0);
    assert_int_equal(link_send(&p.c, LINK_REPLY, reply, strlen(reply), &p.c_out), 0);
    /* All three in one read. */
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 0, &p.s_out, got, 8), 3);
    assert_int_equal(got[0].type, LINK_HEARTBEAT);
    assert_int_equal(got[1].type, LINK_TELEMETRY);
    assert_int_equal(got[2].type, LINK_REPLY);
    assert_int_equal(got[2].counter, 3);
    assert_memory_equal(got[2].payload, reply, strlen(reply));
    struct link_frame f = {.type = got[0].type, .payload = got[0].payload, .len = got[0].len};
    int64_t ms;
    assert_int_equal(link_parse_heartbeat(&f, &ms), 0);
    assert_int_equal(ms, 1234);
    dynbuf_reset(&p.c_out);

    /* Server to client: heartbeat, command, ack; one byte at a time. */
    const char *cmd = "{\"id\":\"r1\",\"cmd\":\"capture\",\"duration_ms\":200,\"ts\":1}";
    assert_int_equal(link_send_heartbeat(&p.s, -5, &p.s_out), 0);
    assert_int_equal(link_send(&p.s, LINK_COMMAND, cmd, strlen(cmd), &p.s_out), 0);
    struct ack_range acked[] = {{1, 5}, {9, 12}}, rejected[] = {{3, 3}, {10, 11}};
    struct ack_cursor cur = {0};
    assert_int_equal(link_send_ack_next(&p.s, acked, 2, rejected, 2, &cur, &p.s_out), 1);
    assert_int_equal(link_send_ack_next(&p.s, acked, 2, rejected, 2, &cur, &p.s_out), 0);
    assert_int_equal(feed(&p.c, p.s_out.buf, p.s_out.len, 1, &p.c_out, got, 8), 3);
    f = (struct link_frame){.type = got[0].type, .payload = got[0].payload, .len = got[0].len};
    assert_int_equal(link_parse_heartbeat(&f, &ms), 0);
    assert_int_equal(ms, -5);
    assert_int_equal(got[1].type, LINK_COMMAND);
    assert_memory_equal(got[1].payload, cmd, strlen(cmd));
    static struct ack_msg m;
    f = (struct link_frame){.type = got[2].type, .payload = got[2].payload, .len = got[2].len};
    assert_int_equal(link_parse_ack(&f, &m), 0);
    assert_int_equal(m.n_seqs, 2);
    assert_int_equal(m.n_rejected, 2);
    assert_memory_equal(m.seqs, acked, sizeof(acked));
    assert_memory_equal(m.rejected, rejected, sizeof(rejected));
    dynbuf_reset(&p.s_out);

    /* A goodbye: authenticated, and the link is closed after it. */
    assert_int_equal(link_send_close(&p.c, LINK_R_SHUTDOWN, "stopping\n", &p.c_out), 0);
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{}", 2, &p.c_out), LINK_E_STATE);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 0, &p.s_out, got, 8), 1);
    assert_int_equal(got[0].ev, LINK_EV_CLOSE);
    uint8_t reason;
    char text[LINK_CLOSE_TEXT_MAX + 1];
    f = (struct link_frame){.type = got[0].type, .payload = got[0].payload, .len = got[0].len};
    assert_int_equal(link_parse_close(&f, &reason, text), 0);
    assert_int_equal(reason, LINK_R_SHUTDOWN);
    assert_string_equal(text, "stopping?");
    assert_int_equal(feed(&p.s, "x", 1, 0, &p.s_out, got, 8), LINK_E_CLOSED);
    free(got);
    pair_free(&p);
}

static void test_a_capture_travels_in_chunks_and_reassembles(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    pair_finish(&p);
    size_t total = 3 * LINK_CHUNK_DATA_MAX + 17;
    uint8_t *payload = malloc(total);
    assert_non_null(payload);
    for (size_t k = 0; k < total; k++)
        payload[k] = (uint8_t)(k * 7 + 1);
    uint32_t count = link_chunk_count(total);
    assert_int_equal(count, 4);
    assert_int_equal(link_chunk_count(0), 0);
    assert_int_equal(link_chunk_count((size_t)LINK_CAPTURE_MAX + 1), 0);
    assert_int_equal(link_chunk_count(LINK_CAPTURE_MAX), LINK_CHUNKS_MAX);
    for (uint32_t k = 0; k < count; k++)
        assert_int_equal(link_send_chunk(&p.c, payload, total, k, &p.c_out), 0);
    assert_int_equal(link_send_chunk(&p.c, payload, total, count, &p.c_out), LINK_E_STATE);

    struct got *got = calloc(4, sizeof(*got));
    assert_non_null(got);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 1000, &p.s_out, got, 4), 4);
    struct link_upload u = {0};
    struct dynbuf buf;
    dynbuf_init(&buf, LINK_CAPTURE_MAX);
    for (uint32_t k = 0; k < count; k++) {
        struct link_frame f = {.type = got[k].type, .payload = got[k].payload, .len = got[k].len};
        struct link_chunk c;
        assert_int_equal(link_parse_chunk(&f, &c), 0);
        assert_int_equal(c.index, k);
        assert_int_equal(link_upload_add(&u, &c, &buf), k + 1 == count ? 1 : 0);
    }
    assert_int_equal(buf.len, total);
    assert_memory_equal(buf.buf, payload, total);

    /* Out of order, or not matching the upload's first chunk: refused, upload dropped. */
    struct link_chunk c0, c1;
    struct link_frame f0 = {.type = got[0].type, .payload = got[0].payload, .len = got[0].len};
    struct link_frame f2 = {.type = got[2].type, .payload = got[2].payload, .len = got[2].len};
    assert_int_equal(link_parse_chunk(&f0, &c0), 0);
    assert_int_equal(link_parse_chunk(&f2, &c1), 0);
    assert_int_equal(link_upload_add(&u, &c1, &buf), LINK_E_PAYLOAD);
    assert_int_equal(link_upload_add(&u, &c0, &buf), 0);
    assert_int_equal(link_upload_add(&u, &c1, &buf), LINK_E_PAYLOAD);
    assert_int_equal(buf.len, 0);
    /* A cap below the upload: out of memory, dropped. */
    struct dynbuf small;
    dynbuf_init(&small, 100);
    assert_int_equal(link_upload_add(&u, &c0, &small), LINK_E_NOMEM);
    dynbuf_free(&small);

    /* A chunk whose header contradicts itself. */
    uint8_t bad[LINK_CHUNK_HEAD_LEN + 4] = {0, 0, 0, 2, 0, 0, 0, 4, 1, 2, 3, 4};
    struct link_frame fb = {.type = LINK_CAPTURE, .payload = bad, .len = sizeof(bad)};
    struct link_chunk cb;
    assert_int_equal(link_parse_chunk(&fb, &cb), LINK_E_PAYLOAD); /* 4 bytes are one chunk */
    bad[3] = 1;
    assert_int_equal(link_parse_chunk(&fb, &cb), 0);
    bad[7] = 5; /* total 5, data 4 */
    assert_int_equal(link_parse_chunk(&fb, &cb), LINK_E_PAYLOAD);

    dynbuf_free(&buf);
    free(got);
    free(payload);
    pair_free(&p);
}

static void test_acks_split_into_frames_of_at_most_64_ranges(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    pair_finish(&p);
    enum { N = 150 };
    static struct ack_range acked[N], rejected[N];
    for (size_t k = 0; k < N; k++) {
        acked[k] = (struct ack_range){10 * k + 1, 10 * k + 5};
        rejected[k] = (struct ack_range){10 * k + 2, 10 * k + 2};
    }
    /* One long acked range holding many rejected ones: split between frames. */
    struct ack_range one[] = {{1, 10 * N}};
    struct ack_cursor cur = {0};
    int frames = 0, r;
    while ((r = link_send_ack_next(&p.s, one, 1, rejected, N, &cur, &p.s_out)) == 1)
        frames++;
    assert_int_equal(r, 0);
    assert_int_equal(frames, 3);
    cur = (struct ack_cursor){0};
    while ((r = link_send_ack_next(&p.s, acked, N, rejected, N, &cur, &p.s_out)) == 1)
        frames++;
    assert_int_equal(r, 0);
    assert_int_equal(frames, 6);

    struct got *got = calloc(6, sizeof(*got));
    assert_non_null(got);
    assert_int_equal(feed(&p.c, p.s_out.buf, p.s_out.len, 0, &p.c_out, got, 6), 6);
    static struct ack_msg m;
    uint64_t next = 1;
    size_t n_rej = 0;
    for (int k = 0; k < 3; k++) {
        struct link_frame f = {.type = got[k].type, .payload = got[k].payload, .len = got[k].len};
        assert_int_equal(link_parse_ack(&f, &m), 0);
        assert_true(m.n_seqs <= LINK_ACK_RANGES_MAX && m.n_rejected <= LINK_ACK_RANGES_MAX);
        assert_int_equal(m.seqs[0].first, next);
        next = m.seqs[m.n_seqs - 1].last + 1;
        n_rej += m.n_rejected;
    }
    assert_int_equal(next, 10 * N + 1);
    assert_int_equal(n_rej, N);
    free(got);
    pair_free(&p);
}

static void test_malformed_acks_are_refused(void **state)
{
    (void)state;
    static struct ack_msg m;
    uint8_t p[2 + 3 * 16];
    struct link_frame f = {.type = LINK_ACK, .payload = p};
    memset(p, 0, sizeof(p));
#define RANGE(i, a, b)                                                                             \
    do {                                                                                           \
        p[2 + 16 * (i) + 7] = (a);                                                                 \
        p[2 + 16 * (i) + 15] = (b);                                                                \
    } while (0)
    p[0] = 2;
    p[1] = 1;
    RANGE(0, 1, 5);
    RANGE(1, 6, 9);
    RANGE(2, 5, 6); /* across two adjacent ranges: inside their union */
    f.len = sizeof(p);
    assert_int_equal(link_parse_ack(&f, &m), 0);
    RANGE(1, 7, 9); /* now 6 is not acked */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    RANGE(1, 6, 9);
    RANGE(0, 0, 5); /* seq 0 */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    RANGE(0, 7, 5); /* first > last */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    RANGE(0, 1, 6); /* overlapping the next */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    RANGE(0, 1, 5);
    f.len = sizeof(p) - 1; /* length not matching the counts */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    f.len = sizeof(p);
    p[0] = 0; /* no acked range */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
    p[0] = 2;
    p[2] = 0x80; /* above READING_SEQ_MAX */
    assert_int_equal(link_parse_ack(&f, &m), LINK_E_PAYLOAD);
#undef RANGE
}

/* --- errors -------------------------------------------------------------------------------- */

/* An open pair, and one frame from the client to tamper with. */
static void one_frame(struct pair *p, uint8_t *frame, size_t *len)
{
    pair_open(p, hash);
    pair_finish(p);
    assert_int_equal(
        link_send(&p->c, LINK_TELEMETRY, EXAMPLE_TELEMETRY, strlen(EXAMPLE_TELEMETRY), &p->c_out),
        0);
    memcpy(frame, p->c_out.buf, p->c_out.len);
    *len = p->c_out.len;
    dynbuf_reset(&p->c_out);
}

/* Puts a correct CRC back after frame[0..len) was altered. */
static void recrc(uint8_t *frame, size_t len)
{
    uint32_t c = link_crc32(frame, len - 4);
    for (int k = 0; k < 4; k++)
        frame[len - 4 + k] = (uint8_t)(c >> (24 - 8 * k));
}

static int fed_to_server(struct pair *p, const uint8_t *frame, size_t len)
{
    struct got got[2];
    return feed(&p->s, frame, len, 0, &p->s_out, got, 2);
}

static void test_framing_errors_are_reported_precisely(void **state)
{
    (void)state;
    uint8_t fr[LINK_FRAME_MAX + 8], orig[LINK_FRAME_MAX];
    size_t n;
    struct pair p;

    one_frame(&p, orig, &n);
    memcpy(fr, orig, n);
    fr[4 + 3] ^= 1; /* the counter, CRC kept right: MAC */
    recrc(fr, n);
    assert_int_equal(fed_to_server(&p, fr, n), LINK_E_MAC);
    assert_int_equal(p.s.state, LINK_S_CLOSED);
    assert_int_equal(link_error_reason(LINK_E_MAC), LINK_R_MAC);
    pair_free(&p);

    one_frame(&p, orig, &n);
    memcpy(fr, orig, n);
    fr[10] ^= 0x20; /* a payload byte, CRC left: CRC */
    assert_int_equal(fed_to_server(&p, fr, n), LINK_E_CRC);
    pair_free(&p);

    one_frame(&p, orig, &n);
    memcpy(fr, orig, n);
    fr[2] = 2;
    recrc(fr, n);
    assert_int_equal(fed_to_server(&p, fr, n), LINK_E_VERSION);
    pair_free(&p);

    one_frame(&p, orig, &n);
    memcpy(fr, orig, n);
    fr[3] = 0x7f;
    recrc(fr, n);
    assert_int_equal(fed_to_server(&p, fr, n), LINK_E_TYPE);
    pair_free(&p);

    one_frame(&p, orig, &n);
    memcpy(fr, orig, n);
    fr[3] = LINK_ACK; /* the server does not receive acks */
    recrc(fr, n);
    assert_int_equal(fed_to_server(&p, fr, n), LINK_E_ORDER);
    pair_free(&p);

    /* Length below the smallest session frame, then above the largest. */
    one_frame(&p, orig, &n);
    uint8_t shortlen[] = {0, LINK_FRAME_MIN - 2 + LINK_MAC_LEN - 1};
    assert_int_equal(fed_to_server(&p, shortlen, 2), LINK_E_LENGTH);
    pair_free(&p);
    one_frame(&p, orig, &n);
    uint8_t biglen[] = {(LINK_FRAME_MAX - 1) >> 8, (LINK_FRAME_MAX - 1) & 0xff};
    assert_int_equal(fed_to_server(&p, biglen, 2), LINK_E_OVERSIZE);
    pair_free(&p);
    one_frame(&p, orig, &n);
    uint8_t maxlen[] = {(LINK_FRAME_MAX - 2) >> 8, (LINK_FRAME_MAX - 2) & 0xff};
    assert_int_equal(fed_to_server(&p, maxlen, 2), 0); /* the largest: waits for more */
    assert_false(link_idle(&p.s));
    pair_free(&p);

    /* A well-formed, authenticated frame with a payload its type cannot have. */
    one_frame(&p, orig, &n);
    assert_int_equal(fed_to_server(&p, orig, n), 1);
    assert_int_equal(link_send(&p.c, LINK_HEARTBEAT, "abc", 3, &p.c_out), 0);
    assert_int_equal(fed_to_server(&p, (uint8_t *)p.c_out.buf, p.c_out.len), LINK_E_PAYLOAD);
    pair_free(&p);
}

static void test_replayed_reordered_and_skipped_frames_are_refused(void **state)
{
    (void)state;
    uint8_t f1[LINK_FRAME_MAX];
    size_t n1;
    struct pair p;

    /* The same frame twice. */
    one_frame(&p, f1, &n1);
    assert_int_equal(fed_to_server(&p, f1, n1), 1);
    assert_int_equal(fed_to_server(&p, f1, n1), LINK_E_REPLAY);
    assert_int_equal(link_error_reason(LINK_E_REPLAY), LINK_R_REPLAY);
    pair_free(&p);

    /* Frames 1, 2, 3 delivered as 1, 3: a gap; as 2, 1: the 2 is a gap, then closed. */
    one_frame(&p, f1, &n1);
    uint8_t f2[LINK_FRAME_MAX], f3[LINK_FRAME_MAX];
    size_t n2, n3;
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{\"seq\":2}", 9, &p.c_out), 0);
    n2 = p.c_out.len;
    memcpy(f2, p.c_out.buf, n2);
    dynbuf_reset(&p.c_out);
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{\"seq\":3}", 9, &p.c_out), 0);
    n3 = p.c_out.len;
    memcpy(f3, p.c_out.buf, n3);
    assert_int_equal(fed_to_server(&p, f1, n1), 1);
    assert_int_equal(fed_to_server(&p, f3, n3), LINK_E_GAP);
    pair_free(&p);

    one_frame(&p, f1, &n1);
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{\"seq\":2}", 9, &p.c_out), 0);
    assert_int_equal(fed_to_server(&p, (uint8_t *)p.c_out.buf, p.c_out.len), LINK_E_GAP);
    pair_free(&p);

    /* A server frame reflected back to the server: the other direction's key. */
    one_frame(&p, f1, &n1);
    assert_int_equal(link_send_heartbeat(&p.s, 1, &p.s_out), 0);
    memcpy(f2, p.s_out.buf, p.s_out.len);
    assert_int_equal(fed_to_server(&p, f2, p.s_out.len), LINK_E_MAC);
    pair_free(&p);

    /* A frame of an earlier session replayed into a new one (fresh nonces, new keys). */
    one_frame(&p, f1, &n1);
    pair_free(&p);
    struct pair q;
    uint8_t ns[LINK_NONCE_LEN];
    sign_random(ns, sizeof(ns)); /* the server's fresh nonce */
    pair_open_ns(&q, hash, ns);
    pair_finish(&q);
    assert_int_equal(fed_to_server(&q, f1, n1), LINK_E_MAC);
    pair_free(&q);
}

static void test_the_handshake_refuses_frames_out_of_order(void **state)
{
    (void)state;
    struct pair p;
    uint8_t tele[LINK_FRAME_MAX];
    size_t nt;
    one_frame(&p, tele, &nt);
    pair_free(&p);

    /* A server waiting for HELLO gets a RESPONSE; a session frame; a CHALLENGE. */
    static const uint8_t ns[] = EXAMPLE_NONCE_S, nc[] = EXAMPLE_NONCE_C;
    struct link s, c;
    struct dynbuf out;
    struct got got[2];
    dynbuf_init(&out, 65536);
    link_server_init(&s, ns, 30, 90);
    uint8_t resp[LINK_FRAME_MIN + LINK_PROOF_LEN] = {0, LINK_FRAME_MIN - 2 + LINK_PROOF_LEN,
                                                     LINK_VERSION, LINK_RESPONSE};
    recrc(resp, sizeof(resp));
    assert_int_equal(feed(&s, resp, sizeof(resp), 0, &out, got, 2), LINK_E_ORDER);
    link_free(&s);
    link_server_init(&s, ns, 30, 90);
    assert_int_equal(feed(&s, tele, nt, 0, &out, got, 2), LINK_E_ORDER);
    link_free(&s);

    /* HELLO twice: the second comes before the CHALLENGE was sent. */
    assert_int_equal(link_client_init(&c, EXAMPLE_DEVICE, hash, nc), 0);
    assert_int_equal(link_client_hello(&c, &out), 0);
    assert_int_equal(link_client_hello(&c, &out), LINK_E_STATE);
    link_server_init(&s, ns, 30, 90);
    assert_int_equal(feed(&s, out.buf, out.len / 2, 0, &out, got, 2), 0);
    assert_int_equal(link_server_accept(&s, hash, &out), LINK_E_STATE);
    link_free(&s);
    link_server_init(&s, ns, 30, 90);
    uint8_t two[2 * 64];
    size_t hl = out.len;
    memcpy(two, out.buf, hl);
    memcpy(two + hl, out.buf, hl);
    dynbuf_reset(&out);
    size_t used;
    struct link_frame f;
    assert_int_equal(link_feed(&s, two, 2 * hl, 0, &used, &f, &out), LINK_EV_HELLO);
    assert_int_equal(used, hl);
    assert_int_equal(link_feed(&s, two + hl, hl, 0, &used, &f, &out), LINK_E_ORDER);
    link_free(&s);

    /* A client that has not said HELLO takes nothing. */
    link_free(&c);
    assert_int_equal(link_client_init(&c, EXAMPLE_DEVICE, hash, nc), 0);
    assert_int_equal(feed(&c, tele, nt, 0, &out, got, 2), LINK_E_ORDER);
    link_free(&c);

    /* A counter in a handshake frame. */
    assert_int_equal(link_client_init(&c, EXAMPLE_DEVICE, hash, nc), 0);
    dynbuf_reset(&out);
    assert_int_equal(link_client_hello(&c, &out), 0);
    out.buf[7] = 1;
    recrc((uint8_t *)out.buf, out.len);
    link_server_init(&s, ns, 30, 90);
    assert_int_equal(feed(&s, out.buf, out.len, 0, &out, got, 2), LINK_E_PAYLOAD);
    link_free(&s);
    link_free(&c);

    /* Bad device ids, either side. */
    assert_int_equal(link_client_init(&c, "a/b", hash, nc), LINK_E_STATE);
    link_free(&c);
    dynbuf_free(&out);
}

static void test_a_wrong_secret_fails_on_either_side(void **state)
{
    (void)state;
    uint8_t other[SIGN_HASH_LEN];
    sign_secret_hash("another secret", 14, other);
    struct pair p;
    struct got got[2];

    /* The server holds another hash: the client's proof fails. */
    pair_open(&p, other);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 0, &p.s_out, got, 2), LINK_E_AUTH);
    assert_int_equal(link_error_reason(LINK_E_AUTH), LINK_R_AUTH);
    /* The refusal goes out bare (no session) and the client reads it. */
    assert_int_equal(link_send_close(&p.s, LINK_R_AUTH, "refused", &p.s_out), 0);
    assert_int_equal(link_send_close(&p.s, LINK_R_AUTH, NULL, &p.s_out), LINK_E_STATE);
    assert_int_equal(feed(&p.c, p.s_out.buf, p.s_out.len, 0, &p.c_out, got, 2), 1);
    assert_int_equal(got[0].ev, LINK_EV_CLOSE);
    assert_int_equal(got[0].payload[0], LINK_R_AUTH);
    pair_free(&p);

    /* An unknown device: refused at the same step, as a wrong proof is. */
    pair_open(&p, NULL);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 0, &p.s_out, got, 2), LINK_E_AUTH);
    pair_free(&p);

    /* A server that does not hold the key cannot prove itself to the client. */
    pair_open(&p, hash);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 0, &p.s_out, got, 2), 1);
    p.s_out.buf[LINK_HEADER_LEN + 43] ^= 1; /* the announced idle timeout, CRC kept */
    recrc((uint8_t *)p.s_out.buf, p.s_out.len);
    assert_int_equal(feed(&p.c, p.s_out.buf, p.s_out.len, 0, &p.c_out, got, 2), LINK_E_AUTH);
    pair_free(&p);
}

/* A recorded handshake replayed to a server that picks a fresh nonce gets nowhere. */
static void test_a_recorded_handshake_cannot_be_replayed(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    uint8_t hello[128], response[128];
    struct dynbuf rec;
    dynbuf_init(&rec, 128);
    /* Record the client's two frames. */
    static const uint8_t nc[] = EXAMPLE_NONCE_C;
    struct link c;
    assert_int_equal(link_client_init(&c, EXAMPLE_DEVICE, hash, nc), 0);
    assert_int_equal(link_client_hello(&c, &rec), 0);
    size_t nh = rec.len;
    memcpy(hello, rec.buf, nh);
    size_t nr = p.c_out.len;
    memcpy(response, p.c_out.buf, nr);
    pair_finish(&p);
    pair_free(&p);

    uint8_t fresh[LINK_NONCE_LEN];
    sign_random(fresh, sizeof(fresh));
    struct link s;
    struct dynbuf out;
    struct got got[2];
    dynbuf_init(&out, 4096);
    link_server_init(&s, fresh, 30, 90);
    assert_int_equal(feed(&s, hello, nh, 0, &out, got, 2), 1);
    assert_int_equal(link_server_accept(&s, hash, &out), 0);
    assert_int_equal(feed(&s, response, nr, 0, &out, got, 2), LINK_E_AUTH);
    link_free(&s);
    link_free(&c);
    dynbuf_free(&out);
    dynbuf_free(&rec);
}

static void test_limits_are_enforced_on_sending(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    /* Nothing but CLOSE before the session is open. */
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{}", 2, &p.c_out), LINK_E_STATE);
    pair_finish(&p);
    static uint8_t big[LINK_PAYLOAD_MAX + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, big, LINK_PAYLOAD_MAX + 1, &p.c_out),
                     LINK_E_STATE);
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, big, LINK_PAYLOAD_MAX, &p.c_out), 0);
    assert_int_equal(p.c_out.len, LINK_FRAME_MAX);
    /* The largest frame is read back. */
    struct got *got = calloc(1, sizeof(*got));
    assert_non_null(got);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 7, &p.s_out, got, 1), 1);
    assert_int_equal(got->len, LINK_PAYLOAD_MAX);
    free(got);
    /* Each side sends only its own kinds. */
    assert_int_equal(link_send(&p.c, LINK_ACK, "ab", 2, &p.c_out), LINK_E_STATE);
    assert_int_equal(link_send(&p.s, LINK_TELEMETRY, "{}", 2, &p.s_out), LINK_E_STATE);
    assert_int_equal(link_send(&p.s, LINK_HELLO, "{}", 2, &p.s_out), LINK_E_STATE);
    /* A full output buffer: nothing written, the counter not used. */
    struct dynbuf tiny;
    dynbuf_init(&tiny, 20);
    uint32_t before = p.c.tx_counter;
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{}", 2, &tiny), LINK_E_NOMEM);
    assert_int_equal(tiny.len, 0);
    assert_int_equal(p.c.tx_counter, before);
    dynbuf_free(&tiny);
    /* The counter's end. */
    p.c.tx_counter = UINT32_MAX;
    assert_int_equal(link_send(&p.c, LINK_TELEMETRY, "{}", 2, &p.c_out), LINK_E_EXHAUSTED);
    assert_int_equal(link_send_close(&p.c, LINK_R_EXHAUSTED, NULL, &p.c_out), LINK_E_EXHAUSTED);
    pair_free(&p);
}

static void test_an_idle_link_holds_no_buffer(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, hash);
    pair_finish(&p);
    assert_int_equal(link_send_heartbeat(&p.c, 1, &p.c_out), 0);
    struct got got[1];
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len - 1, 0, &p.s_out, got, 1), 0);
    assert_false(link_idle(&p.s));
    link_release(&p.s);
    assert_non_null(p.s.rx.buf); /* a partial frame is kept */
    assert_int_equal(feed(&p.s, p.c_out.buf + p.c_out.len - 1, 1, 0, &p.s_out, got, 1), 1);
    assert_true(link_idle(&p.s));
    link_release(&p.s);
    assert_null(p.s.rx.buf);
    /* ... and takes the next frame as before. */
    dynbuf_reset(&p.c_out);
    assert_int_equal(link_send_heartbeat(&p.c, 2, &p.c_out), 0);
    assert_int_equal(feed(&p.s, p.c_out.buf, p.c_out.len, 3, &p.s_out, got, 1), 1);
    assert_int_equal(got[0].counter, 2);
    pair_free(&p);
}

/* A gateway holds one per terminal: thousands of them must stay small. */
static void test_a_link_is_small_and_times_out_by_its_state(void **state)
{
    (void)state;
    assert_true(sizeof(struct link) <= 320);
    struct pair p;
    pair_open(&p, hash);
    assert_int_equal(link_timeout_ms(&p.s), LINK_HANDSHAKE_TIMEOUT_MS);
    assert_int_equal(link_timeout_ms(&p.c), LINK_HANDSHAKE_TIMEOUT_MS);
    pair_finish(&p);
    assert_int_equal(link_timeout_ms(&p.s), EXAMPLE_IDLE_S * 1000);
    assert_int_equal(link_timeout_ms(&p.c), EXAMPLE_IDLE_S * 1000);
    pair_free(&p);

    /* WELCOME's values are always ones a client accepts. */
    static const uint8_t ns[] = EXAMPLE_NONCE_S;
    struct link s;
    link_server_init(&s, ns, 0, 0);
    assert_true(s.heartbeat_s >= 1 && s.idle_s > s.heartbeat_s);
    link_server_init(&s, ns, UINT16_MAX, UINT16_MAX);
    assert_true(s.heartbeat_s >= 1 && s.idle_s > s.heartbeat_s);
    link_free(&s);
}

static void test_names_cover_every_error_and_reason(void **state)
{
    (void)state;
    for (int e = -1; e >= -LINK_E_COUNT; e--)
        assert_string_not_equal(link_error_name(e), "unknown");
    assert_string_equal(link_error_name(0), "unknown");
    assert_string_equal(link_error_name(LINK_E_CRC), "bad_crc");
    for (unsigned r = 0; r <= LINK_R_MAX; r++)
        assert_string_not_equal(link_reason_name(r), "unknown");
    assert_string_equal(link_reason_name(LINK_R_IDLE), "idle_timeout");
    assert_string_equal(link_reason_name(LINK_R_MAX + 1), "unknown");
    assert_string_equal(link_type_name(LINK_CAPTURE), "capture");
    assert_null(link_type_name(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_is_iso_hdlc),
        cmocka_unit_test(test_link_key_matches_the_documented_construction),
        cmocka_unit_test(test_the_worked_example_is_the_documented_bytes),
        cmocka_unit_test(test_every_session_frame_type_arrives_intact),
        cmocka_unit_test(test_a_capture_travels_in_chunks_and_reassembles),
        cmocka_unit_test(test_acks_split_into_frames_of_at_most_64_ranges),
        cmocka_unit_test(test_malformed_acks_are_refused),
        cmocka_unit_test(test_framing_errors_are_reported_precisely),
        cmocka_unit_test(test_replayed_reordered_and_skipped_frames_are_refused),
        cmocka_unit_test(test_the_handshake_refuses_frames_out_of_order),
        cmocka_unit_test(test_a_wrong_secret_fails_on_either_side),
        cmocka_unit_test(test_a_recorded_handshake_cannot_be_replayed),
        cmocka_unit_test(test_limits_are_enforced_on_sending),
        cmocka_unit_test(test_an_idle_link_holds_no_buffer),
        cmocka_unit_test(test_a_link_is_small_and_times_out_by_its_state),
        cmocka_unit_test(test_names_cover_every_error_and_reason),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
