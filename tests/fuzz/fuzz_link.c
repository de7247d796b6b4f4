/*
 * The terminal link's receiver (common/wire/link.c, link_feed) on the bytes
 * of a TCP connection, on either side and in every state, and the payload
 * readers on what an authenticated peer may send.
 *
 * The first byte picks the case, the second how the rest is cut into reads:
 *   0  a server waiting for HELLO reads the bytes
 *   1  a server whose session is open (the worked example's handshake, so
 *      the example's frames are valid seeds) reads them
 *   2  a client in the same open session reads them
 *   3  a client waiting for CHALLENGE (the example's nonce) reads them
 *   4  an open server reads frames its client wraps around the bytes:
 *      each piece is <type byte><length byte><payload>, sent with link_send
 *   5  likewise an open client, from its server
 *   6  a server waiting for HELLO, a client waiting for CHALLENGE or WELCOME
 *      read handshake frames with a correct CRC around the bytes
 *
 * Checks: every call takes at least one byte or fails; no frame is larger
 * than LINK_PAYLOAD_MAX or of a type this side may not receive; session
 * counters go 1, 2, 3 ...; after an error the link stays closed; a close can
 * still be written; the payload readers accept only what they promise
 * (acks by ack.h's rules, chunks that reassemble to their total).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "link.h"
#include "telemetry.h"

#define SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define NOW_MS INT64_C(1796630400000)

static uint8_t hash[SIGN_HASH_LEN];
static const uint8_t nc[LINK_NONCE_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t ns[LINK_NONCE_LEN] = {16, 17, 18, 19, 20, 21, 22, 23,
                                           24, 25, 26, 27, 28, 29, 30, 31};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sign_init())
        abort();
    sign_secret_hash(SECRET, strlen(SECRET), hash);
    return 0;
}

/* Feeds all of b to l, handing each event to the caller's counters. */
static int pump(struct link *l, const struct dynbuf *b, struct dynbuf *out)
{
    size_t at = 0;
    int last = 0;
    while (at < b->len) {
        size_t used;
        struct link_frame f;
        int r = link_feed(l, b->buf + at, b->len - at, NOW_MS, &used, &f, out);
        FUZZ_CHECK(r >= 0);
        at += used;
        if (r)
            last = r;
    }
    return last;
}

/* The example's client and server with their sessions open. */
static void open_pair(struct link *c, struct link *s)
{
    struct dynbuf a, b;
    dynbuf_init(&a, 4096);
    dynbuf_init(&b, 4096);
    FUZZ_CHECK(link_client_init(c, "m-1", hash, nc) == 0);
    link_server_init(s, ns, 30, 90);
    FUZZ_CHECK(link_client_hello(c, &a) == 0);
    FUZZ_CHECK(pump(s, &a, &b) == LINK_EV_HELLO);
    dynbuf_reset(&a);
    FUZZ_CHECK(link_server_accept(s, hash, &b) == 0);
    FUZZ_CHECK(pump(c, &b, &a) == 0);
    dynbuf_reset(&b);
    FUZZ_CHECK(pump(s, &a, &b) == LINK_EV_OPEN);
    dynbuf_reset(&a);
    FUZZ_CHECK(pump(c, &b, &a) == LINK_EV_OPEN);
    dynbuf_free(&a);
    dynbuf_free(&b);
}

static bool may_receive(const struct link *l, unsigned type)
{
    switch (type) {
    case LINK_HEARTBEAT:
    case LINK_CLOSE:
        return true;
    case LINK_TELEMETRY:
    case LINK_CAPTURE:
    case LINK_REPLY:
        return l->role == LINK_SERVER;
    case LINK_ACK:
    case LINK_COMMAND:
        return l->role == LINK_CLIENT;
    default:
        return false;
    }
}

static void check_ack(const struct link_frame *f)
{
    static struct ack_msg m;
    if (link_parse_ack(f, &m))
        return;
    FUZZ_CHECK(m.n_seqs >= 1 && m.n_seqs <= LINK_ACK_RANGES_MAX);
    FUZZ_CHECK(m.n_rejected <= LINK_ACK_RANGES_MAX);
    for (size_t k = 0; k < m.n_seqs; k++) {
        FUZZ_CHECK(m.seqs[k].first >= 1 && m.seqs[k].first <= m.seqs[k].last);
        FUZZ_CHECK(m.seqs[k].last <= READING_SEQ_MAX);
        FUZZ_CHECK(k == 0 || m.seqs[k].first > m.seqs[k - 1].last);
    }
}

/* Reads the bytes as they come, cut by the step, checking each event. */
static void read_all(struct link *l, const uint8_t *data, size_t size, size_t step)
{
    struct dynbuf out, upload;
    struct link_upload u = {0};
    dynbuf_init(&out, 1 << 16);
    dynbuf_init(&upload, 1 << 20);
    size_t at = 0;
    uint32_t counter = l->rx_counter;
    bool failed = false;
    while (at < size && !failed) {
        size_t piece = step && size - at > step ? step : size - at;
        size_t off = 0;
        while (off < piece) {
            size_t used;
            struct link_frame f;
            bool keyed = l->rx_keyed; /* the frame, if one ends here, carries a MAC */
            int r = link_feed(l, data + at + off, piece - off, NOW_MS, &used, &f, &out);
            FUZZ_CHECK(used <= piece - off);
            off += used;
            if (r < 0) {
                FUZZ_CHECK(r >= -LINK_E_COUNT);
                FUZZ_CHECK(l->state == LINK_S_CLOSED);
                size_t u2;
                FUZZ_CHECK(link_feed(l, "x", 1, NOW_MS, &u2, &f, &out) == LINK_E_CLOSED);
                int c = link_send_close(l, link_error_reason(r), link_error_name(r), &out);
                FUZZ_CHECK(c == 0 || c == LINK_E_STATE);
                failed = true;
                break;
            }
            FUZZ_CHECK(used > 0);
            if (r == LINK_EV_HELLO) {
                FUZZ_CHECK(l->state == LINK_S_NEED_KEY && l->device_id[0]);
                FUZZ_CHECK(link_server_accept(l, l->device_id[0] & 1 ? hash : NULL, &out) == 0);
            }
            if (r == LINK_EV_FRAME || r == LINK_EV_CLOSE) {
                FUZZ_CHECK(f.len <= LINK_PAYLOAD_MAX);
                FUZZ_CHECK(may_receive(l, f.type));
                FUZZ_CHECK(keyed ? f.counter == ++counter : f.counter == 0 && f.type == LINK_CLOSE);
                if (f.type == LINK_ACK)
                    check_ack(&f);
                if (f.type == LINK_CAPTURE) {
                    struct link_chunk c;
                    FUZZ_CHECK(link_parse_chunk(&f, &c) == 0); /* link_feed checked it */
                    int k = link_upload_add(&u, &c, &upload);
                    FUZZ_CHECK(k >= LINK_E_NOMEM && k <= 1);
                    if (k == 1)
                        FUZZ_CHECK(upload.len == c.total);
                }
                if (f.type == LINK_HEARTBEAT) {
                    int64_t ms;
                    FUZZ_CHECK(link_parse_heartbeat(&f, &ms) == 0);
                }
                if (r == LINK_EV_CLOSE) {
                    uint8_t reason;
                    char text[LINK_CLOSE_TEXT_MAX + 1];
                    FUZZ_CHECK(link_parse_close(&f, &reason, text) == 0);
                    FUZZ_CHECK(l->state == LINK_S_CLOSED);
                    failed = true;
                    break;
                }
            }
            if (r == LINK_EV_OPEN) {
                FUZZ_CHECK(l->state == LINK_S_OPEN);
                counter = 0;
            }
        }
        at += piece;
    }
    dynbuf_free(&out);
    dynbuf_free(&upload);
}

/* Pieces <type><length><payload> wrapped by the peer, then read by l. */
static void wrapped(struct link *peer, struct link *l, const uint8_t *data, size_t size)
{
    struct dynbuf frames;
    dynbuf_init(&frames, 1 << 20);
    size_t at = 0;
    while (at + 2 <= size) {
        uint8_t type = data[at];
        size_t len = data[at + 1];
        at += 2;
        if (len > size - at)
            len = size - at;
        /* A length byte of 255 stands for the rest, so large payloads are reached too. */
        if (data[at - 1] == 255)
            len = size - at > LINK_PAYLOAD_MAX ? LINK_PAYLOAD_MAX : size - at;
        int r = link_send(peer, (enum link_type)type, data + at, len, &frames);
        FUZZ_CHECK(r == 0 || r == LINK_E_STATE || r == LINK_E_NOMEM);
        at += len;
    }
    read_all(l, (const uint8_t *)frames.buf, frames.len, 0);
    dynbuf_free(&frames);
}

/* A bare handshake frame of type with payload, correct CRC, into b. */
static void bare(struct dynbuf *b, uint8_t type, const uint8_t *p, size_t n)
{
    if (n > LINK_PAYLOAD_MAX)
        n = LINK_PAYLOAD_MAX;
    uint8_t head[LINK_HEADER_LEN] = {(uint8_t)((n + 10) >> 8), (uint8_t)(n + 10), LINK_VERSION,
                                     type};
    size_t start = b->len;
    if (dynbuf_add(b, head, sizeof(head)) || dynbuf_add(b, p, n))
        return;
    uint32_t c = link_crc32(b->buf + start, b->len - start);
    uint8_t crc[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    dynbuf_add(b, crc, sizeof(crc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] % 7;
    size_t step = data[1];
    data += 2;
    size -= 2;
    struct link c, s;
    struct dynbuf b;
    switch (mode) {
    case 0:
        link_server_init(&s, ns, 30, 90);
        read_all(&s, data, size, step);
        link_free(&s);
        break;
    case 1:
    case 2:
        open_pair(&c, &s);
        read_all(mode == 1 ? &s : &c, data, size, step);
        link_free(&c);
        link_free(&s);
        break;
    case 3:
        dynbuf_init(&b, 4096);
        FUZZ_CHECK(link_client_init(&c, "m-1", hash, nc) == 0);
        FUZZ_CHECK(link_client_hello(&c, &b) == 0);
        read_all(&c, data, size, step);
        link_free(&c);
        dynbuf_free(&b);
        break;
    case 4:
    case 5:
        open_pair(&c, &s);
        if (mode == 4)
            wrapped(&c, &s, data, size);
        else
            wrapped(&s, &c, data, size);
        link_free(&c);
        link_free(&s);
        break;
    case 6:
        /* step picks the receiver; the bytes are <type> then the payload. */
        if (size < 1)
            return 0;
        dynbuf_init(&b, 8192);
        bare(&b, data[0], data + 1, size - 1);
        if (step % 2 == 0) {
            link_server_init(&s, ns, 30, 90);
            read_all(&s, (const uint8_t *)b.buf, b.len, 0);
            link_free(&s);
        } else {
            struct dynbuf out;
            dynbuf_init(&out, 4096);
            FUZZ_CHECK(link_client_init(&c, "m-1", hash, nc) == 0);
            FUZZ_CHECK(link_client_hello(&c, &out) == 0);
            if (step % 4 == 3) {
                /* Past the CHALLENGE first, so the bytes meet a client waiting for WELCOME. */
                struct dynbuf ch;
                dynbuf_init(&ch, 64);
                bare(&ch, LINK_CHALLENGE, ns, sizeof(ns));
                FUZZ_CHECK(pump(&c, &ch, &out) == 0);
                dynbuf_free(&ch);
            }
            read_all(&c, (const uint8_t *)b.buf, b.len, 0);
            link_free(&c);
            dynbuf_free(&out);
        }
        dynbuf_free(&b);
        break;
    }
    return 0;
}
