#include "link.h"

#include <string.h>

#include "telemetry.h" /* READING_SEQ_MAX */
#include "topic.h"     /* device_id_valid */

_Static_assert(LINK_NONCE_LEN == SIGN_LINK_NONCE_LEN, "one nonce size");
_Static_assert(LINK_PROOF_LEN == SIGN_LINK_PROOF_LEN, "one proof size");
_Static_assert(LINK_MAC_LEN == SIGN_LINK_MAC_LEN, "one MAC size");
_Static_assert(LINK_FRAME_MAX - 2 <= UINT16_MAX, "the length field holds any frame");
_Static_assert(LINK_DEVICE_ID_MAX <= UINT8_MAX, "HELLO's id length is one byte");
_Static_assert(2 + 2 * LINK_ACK_RANGES_MAX * 16 <= LINK_PAYLOAD_MAX, "a full ACK fits a frame");
_Static_assert(LINK_CHUNKS_MAX <= UINT16_MAX, "chunk indexes are u16");
_Static_assert((uint64_t)LINK_CHUNK_DATA_MAX *LINK_CHUNKS_MAX <= UINT32_MAX, "totals are u32");

#define HELLO_MIN     (LINK_NONCE_LEN + 1 + 1)
#define WELCOME_LEN   (LINK_PROOF_LEN + 8 + 2 + 2)
#define HEARTBEAT_LEN 8

/* --- bytes ---------------------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (24 - 8 * k));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (56 - 8 * k));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 8 | p[k];
    return v;
}

uint32_t link_crc32(const void *data, size_t len)
{
    /* Bitwise: frames are small and an MCU port reads the same few lines. */
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t k = 0; k < len; k++) {
        c ^= p[k];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* --- names ---------------------------------------------------------------------------------- */

const char *link_type_name(unsigned type)
{
    switch (type) {
    case LINK_HELLO:
        return "hello";
    case LINK_CHALLENGE:
        return "challenge";
    case LINK_RESPONSE:
        return "response";
    case LINK_WELCOME:
        return "welcome";
    case LINK_HEARTBEAT:
        return "heartbeat";
    case LINK_TELEMETRY:
        return "telemetry";
    case LINK_ACK:
        return "ack";
    case LINK_CAPTURE:
        return "capture";
    case LINK_COMMAND:
        return "command";
    case LINK_REPLY:
        return "reply";
    case LINK_CLOSE:
        return "close";
    default:
        return NULL;
    }
}

static const char *const error_names[LINK_E_COUNT] = {
    "bad_length",   "oversized", "bad_crc",           "bad_version", "unknown_type",
    "out_of_order", "bad_mac",   "replayed",          "counter_gap", "bad_payload",
    "auth_failed",  "closed",    "counter_exhausted", "no_memory",   "bad_state",
};

const char *link_error_name(int err)
{
    return err <= -1 && err >= -LINK_E_COUNT ? error_names[-err - 1] : "unknown";
}

enum link_reason link_error_reason(int err)
{
    switch (err) {
    case LINK_E_LENGTH:
        return LINK_R_LENGTH;
    case LINK_E_OVERSIZE:
        return LINK_R_OVERSIZE;
    case LINK_E_CRC:
        return LINK_R_CRC;
    case LINK_E_VERSION:
        return LINK_R_VERSION;
    case LINK_E_TYPE:
        return LINK_R_TYPE;
    case LINK_E_ORDER:
        return LINK_R_ORDER;
    case LINK_E_MAC:
        return LINK_R_MAC;
    case LINK_E_REPLAY:
        return LINK_R_REPLAY;
    case LINK_E_GAP:
        return LINK_R_GAP;
    case LINK_E_PAYLOAD:
        return LINK_R_PAYLOAD;
    case LINK_E_AUTH:
        return LINK_R_AUTH;
    case LINK_E_EXHAUSTED:
        return LINK_R_EXHAUSTED;
    case LINK_E_CLOSED:
        return LINK_R_NORMAL;
    default:
        return LINK_R_INTERNAL;
    }
}

static const char *const reason_names[LINK_R_MAX + 1] = {
    "normal",    "shutdown",    "idle_timeout", "handshake_timeout", "auth_failed",  "bad_length",
    "oversized", "bad_crc",     "bad_version",  "unknown_type",      "out_of_order", "bad_mac",
    "replayed",  "counter_gap", "bad_payload",  "counter_exhausted", "replaced",     "busy",
    "internal",
};

const char *link_reason_name(unsigned reason)
{
    return reason <= LINK_R_MAX ? reason_names[reason] : "unknown";
}

/* --- state ---------------------------------------------------------------------------------- */

static void init_common(struct link *l, enum link_role role, enum link_state state)
{
    memset(l, 0, sizeof(*l));
    l->role = role;
    l->state = state;
    dynbuf_init(&l->rx, LINK_FRAME_MAX);
}

int link_client_init(struct link *l, const char *device_id, const uint8_t hash[SIGN_HASH_LEN],
                     const uint8_t nonce[LINK_NONCE_LEN])
{
    init_common(l, LINK_CLIENT, LINK_S_CLIENT_START);
    if (!device_id_valid(device_id) || strlen(device_id) > LINK_DEVICE_ID_MAX) {
        l->state = LINK_S_CLOSED;
        return LINK_E_STATE;
    }
    memcpy(l->device_id, device_id, strlen(device_id) + 1);
    memcpy(l->nonce_c, nonce, LINK_NONCE_LEN);
    sign_link_key(hash, &l->key);
    return 0;
}

void link_server_init(struct link *l, const uint8_t nonce[LINK_NONCE_LEN], uint16_t heartbeat_s,
                      uint16_t idle_s)
{
    init_common(l, LINK_SERVER, LINK_S_WAIT_HELLO);
    memcpy(l->nonce_s, nonce, LINK_NONCE_LEN);
    /* WELCOME must satisfy its reader: 1 <= heartbeat < idle. */
    l->heartbeat_s = heartbeat_s == 0            ? 1
                     : heartbeat_s == UINT16_MAX ? UINT16_MAX - 1
                                                 : heartbeat_s;
    l->idle_s = idle_s > l->heartbeat_s ? idle_s : (uint16_t)(l->heartbeat_s + 1);
}

int64_t link_timeout_ms(const struct link *l)
{
    if (l->state == LINK_S_OPEN)
        return (int64_t)l->idle_s * 1000;
    return LINK_HANDSHAKE_TIMEOUT_MS;
}

bool link_idle(const struct link *l)
{
    return l->rx.len == 0 || l->rx_done;
}

void link_release(struct link *l)
{
    if (link_idle(l)) {
        dynbuf_free(&l->rx);
        l->rx_done = false;
    }
}

void link_free(struct link *l)
{
    if (!l)
        return;
    sign_key_wipe(&l->key);
    sign_key_wipe(&l->key_tx);
    sign_key_wipe(&l->key_rx);
    dynbuf_free(&l->rx);
    l->state = LINK_S_CLOSED;
}

/* --- writing frames ------------------------------------------------------------------------- */

/*
 * Appends one frame: the header, payload a[0..na) then b[0..nb), the MAC with
 * mac_key (none when NULL), the CRC. out is untouched on failure.
 */
static int put_frame(struct dynbuf *out, uint8_t type, uint32_t counter, const void *a, size_t na,
                     const void *b, size_t nb, const struct sign_key *mac_key)
{
    if (na > LINK_PAYLOAD_MAX || nb > LINK_PAYLOAD_MAX - na)
        return LINK_E_STATE;
    size_t n = LINK_HEADER_LEN + na + nb + (mac_key ? LINK_MAC_LEN : 0) + LINK_CRC_LEN;
    if (out->len > out->max || n > out->max - out->len)
        return LINK_E_NOMEM;
    uint8_t *p = (uint8_t *)dynbuf_reserve(out, n);
    if (!p)
        return LINK_E_NOMEM;
    put16(p, (uint16_t)(n - 2));
    p[2] = LINK_VERSION;
    p[3] = type;
    put32(p + 4, counter);
    if (na)
        memcpy(p + LINK_HEADER_LEN, a, na);
    if (nb)
        memcpy(p + LINK_HEADER_LEN + na, b, nb);
    size_t at = LINK_HEADER_LEN + na + nb;
    if (mac_key) {
        sign_link_mac(mac_key, p, at, p + at);
        at += LINK_MAC_LEN;
    }
    put32(p + at, link_crc32(p, at));
    dynbuf_commit(out, n);
    return 0;
}

int link_client_hello(struct link *l, struct dynbuf *out)
{
    if (l->role != LINK_CLIENT || l->state != LINK_S_CLIENT_START)
        return LINK_E_STATE;
    uint8_t p[HELLO_MIN - 1 + LINK_DEVICE_ID_MAX];
    size_t idlen = strlen(l->device_id);
    memcpy(p, l->nonce_c, LINK_NONCE_LEN);
    p[LINK_NONCE_LEN] = (uint8_t)idlen;
    memcpy(p + LINK_NONCE_LEN + 1, l->device_id, idlen);
    int r = put_frame(out, LINK_HELLO, 0, p, LINK_NONCE_LEN + 1 + idlen, NULL, 0, NULL);
    if (!r)
        l->state = LINK_S_WAIT_CHALLENGE;
    return r;
}

int link_server_accept(struct link *l, const uint8_t *hash, struct dynbuf *out)
{
    if (l->role != LINK_SERVER || l->state != LINK_S_NEED_KEY)
        return LINK_E_STATE;
    int r = put_frame(out, LINK_CHALLENGE, 0, l->nonce_s, LINK_NONCE_LEN, NULL, 0, NULL);
    if (r)
        return r;
    if (hash) {
        sign_link_key(hash, &l->key);
    } else {
        /* A key nobody holds: the RESPONSE fails as a wrong proof would. */
        l->unknown_device = true;
        sign_random(l->key.bytes, sizeof(l->key.bytes));
    }
    l->state = LINK_S_WAIT_RESPONSE;
    return 0;
}

/* Whether this side's frames now carry a MAC (its session keys are set). */
static bool tx_keyed(const struct link *l)
{
    return l->tx_keyed;
}

int link_send(struct link *l, enum link_type type, const void *payload, size_t len,
              struct dynbuf *out)
{
    if (l->state != LINK_S_OPEN || len > LINK_PAYLOAD_MAX)
        return LINK_E_STATE;
    switch (type) {
    case LINK_HEARTBEAT:
    case LINK_CLOSE:
        break;
    case LINK_TELEMETRY:
    case LINK_CAPTURE:
    case LINK_REPLY:
        if (l->role != LINK_CLIENT)
            return LINK_E_STATE;
        break;
    case LINK_ACK:
    case LINK_COMMAND:
        if (l->role != LINK_SERVER)
            return LINK_E_STATE;
        break;
    default:
        return LINK_E_STATE;
    }
    if (l->tx_counter == UINT32_MAX)
        return LINK_E_EXHAUSTED;
    int r = put_frame(out, (uint8_t)type, l->tx_counter + 1, payload, len, NULL, 0, &l->key_tx);
    if (!r)
        l->tx_counter++;
    return r;
}

int link_send_heartbeat(struct link *l, int64_t now_ms, struct dynbuf *out)
{
    uint8_t p[HEARTBEAT_LEN];
    put64(p, (uint64_t)now_ms);
    return link_send(l, LINK_HEARTBEAT, p, sizeof(p), out);
}

int link_send_close(struct link *l, enum link_reason reason, const char *text, struct dynbuf *out)
{
    if (l->close_sent)
        return LINK_E_STATE;
    uint8_t p[1 + LINK_CLOSE_TEXT_MAX];
    size_t n = 1;
    p[0] = (uint8_t)reason;
    for (size_t k = 0; text && text[k] && k < LINK_CLOSE_TEXT_MAX; k++, n++)
        p[n] = text[k] >= 0x20 && text[k] < 0x7f ? (uint8_t)text[k] : '?';
    int r;
    if (tx_keyed(l)) {
        if (l->tx_counter == UINT32_MAX)
            return LINK_E_EXHAUSTED;
        r = put_frame(out, LINK_CLOSE, l->tx_counter + 1, p, n, NULL, 0, &l->key_tx);
        if (!r)
            l->tx_counter++;
    } else {
        r = put_frame(out, LINK_CLOSE, 0, p, n, NULL, 0, NULL);
    }
    if (!r) {
        l->close_sent = true;
        l->state = LINK_S_CLOSED;
    }
    return r;
}

uint32_t link_chunk_count(size_t total)
{
    if (total == 0 || total > LINK_CAPTURE_MAX)
        return 0;
    return (uint32_t)((total + LINK_CHUNK_DATA_MAX - 1) / LINK_CHUNK_DATA_MAX);
}

int link_send_chunk(struct link *l, const void *payload, size_t total, uint32_t index,
                    struct dynbuf *out)
{
    uint32_t count = link_chunk_count(total);
    if (index >= count)
        return LINK_E_STATE;
    size_t off = (size_t)index * LINK_CHUNK_DATA_MAX;
    size_t len = total - off < LINK_CHUNK_DATA_MAX ? total - off : LINK_CHUNK_DATA_MAX;
    uint8_t head[LINK_CHUNK_HEAD_LEN];
    put16(head, (uint16_t)index);
    put16(head + 2, (uint16_t)count);
    put32(head + 4, (uint32_t)total);
    /* link_send's checks, with the payload in two pieces. */
    if (l->state != LINK_S_OPEN || l->role != LINK_CLIENT)
        return LINK_E_STATE;
    if (l->tx_counter == UINT32_MAX)
        return LINK_E_EXHAUSTED;
    int r = put_frame(out, LINK_CAPTURE, l->tx_counter + 1, head, sizeof(head),
                      (const uint8_t *)payload + off, len, &l->key_tx);
    if (!r)
        l->tx_counter++;
    return r;
}

static size_t put_range(uint8_t *p, uint64_t first, uint64_t last)
{
    put64(p, first);
    put64(p + 8, last);
    return 16;
}

int link_send_ack_next(struct link *l, const struct ack_range *acked, size_t n_acked,
                       const struct ack_range *rejected, size_t n_rejected, struct ack_cursor *cur,
                       struct dynbuf *out)
{
    if (cur->acked >= n_acked)
        return 0;
    /* The splitting of ack_encode_next(), with LINK_ACK_RANGES_MAX and binary ranges. */
    uint8_t p[2 + 2 * LINK_ACK_RANGES_MAX * 16];
    uint8_t rej[LINK_ACK_RANGES_MAX * 16];
    size_t at = 2, n_a = 0, n_r = 0, ir = cur->rejected;
    struct ack_cursor next = *cur;
    while (next.acked < n_acked && n_a < LINK_ACK_RANGES_MAX) {
        const struct ack_range *a = &acked[next.acked];
        uint64_t from = next.started ? next.from : a->first;
        uint64_t to = a->last;
        bool cut = false;
        while (ir < n_rejected && rejected[ir].first <= a->last) {
            if (n_r == LINK_ACK_RANGES_MAX) {
                cut = true;
                break;
            }
            n_r++;
            ir++;
        }
        if (cut) {
            if (rejected[ir].first <= from)
                break; /* nothing of this range fits: the next frame starts with it */
            to = rejected[ir].first - 1;
        }
        at += put_range(p + at, from, to);
        n_a++;
        if (cut) {
            next.from = to + 1;
            next.started = 1;
            break;
        }
        next.acked++;
        next.started = 0;
    }
    if (n_a == 0)
        return LINK_E_STATE; /* rejected ranges outside the acked ones */
    for (size_t i = cur->rejected, k = 0; i < ir; i++, k++)
        put_range(rej + 16 * k, rejected[i].first, rejected[i].last);
    memcpy(p + at, rej, 16 * n_r);
    at += 16 * n_r;
    p[0] = (uint8_t)n_a;
    p[1] = (uint8_t)n_r;
    int r = link_send(l, LINK_ACK, p, at, out);
    if (r)
        return r;
    next.rejected = ir;
    *cur = next;
    return 1;
}

/* --- reading payloads ----------------------------------------------------------------------- */

int link_parse_heartbeat(const struct link_frame *f, int64_t *ret_ms)
{
    if (f->type != LINK_HEARTBEAT || f->len != HEARTBEAT_LEN)
        return LINK_E_PAYLOAD;
    *ret_ms = (int64_t)get64(f->payload);
    return 0;
}

int link_parse_close(const struct link_frame *f, uint8_t *ret_reason,
                     char ret_text[LINK_CLOSE_TEXT_MAX + 1])
{
    if (f->type != LINK_CLOSE || f->len < 1 || f->len > 1 + LINK_CLOSE_TEXT_MAX)
        return LINK_E_PAYLOAD;
    for (size_t k = 1; k < f->len; k++)
        if (f->payload[k] < 0x20 || f->payload[k] >= 0x7f)
            return LINK_E_PAYLOAD;
    *ret_reason = f->payload[0];
    memcpy(ret_text, f->payload + 1, f->len - 1);
    ret_text[f->len - 1] = '\0';
    return 0;
}

/* n ranges at p: each 1 <= first <= last <= READING_SEQ_MAX, ascending and disjoint. */
static bool read_ranges(const uint8_t *p, size_t n, struct ack_range *out)
{
    uint64_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t first = get64(p + 16 * k), last = get64(p + 16 * k + 8);
        if (first < 1 || first > last || last > (uint64_t)READING_SEQ_MAX ||
            (k > 0 && first <= prev))
            return false;
        out[k].first = first;
        out[k].last = last;
        prev = last;
    }
    return true;
}

/* Whether [first,last] lies in the union of the ranges (ascending, disjoint). */
static bool covered(const struct ack_range *r, size_t n, uint64_t first, uint64_t last)
{
    size_t k = 0;
    while (k < n && r[k].last < first)
        k++;
    if (k == n || r[k].first > first)
        return false;
    while (r[k].last < last) {
        if (k + 1 == n || r[k + 1].first != r[k].last + 1)
            return false;
        k++;
    }
    return true;
}

int link_parse_ack(const struct link_frame *f, struct ack_msg *ret)
{
    if (f->type != LINK_ACK || f->len < 2)
        return LINK_E_PAYLOAD;
    size_t ns = f->payload[0], nr = f->payload[1];
    if (ns < 1 || ns > LINK_ACK_RANGES_MAX || nr > LINK_ACK_RANGES_MAX ||
        f->len != 2 + 16 * (ns + nr))
        return LINK_E_PAYLOAD;
    if (!read_ranges(f->payload + 2, ns, ret->seqs) ||
        !read_ranges(f->payload + 2 + 16 * ns, nr, ret->rejected))
        return LINK_E_PAYLOAD;
    for (size_t k = 0; k < nr; k++)
        if (!covered(ret->seqs, ns, ret->rejected[k].first, ret->rejected[k].last))
            return LINK_E_PAYLOAD;
    ret->n_seqs = ns;
    ret->n_rejected = nr;
    return 0;
}

int link_parse_chunk(const struct link_frame *f, struct link_chunk *ret)
{
    if (f->type != LINK_CAPTURE || f->len <= LINK_CHUNK_HEAD_LEN)
        return LINK_E_PAYLOAD;
    uint16_t index = get16(f->payload), count = get16(f->payload + 2);
    uint32_t total = get32(f->payload + 4);
    size_t len = f->len - LINK_CHUNK_HEAD_LEN;
    if (count == 0 || link_chunk_count(total) != count || index >= count)
        return LINK_E_PAYLOAD;
    size_t off = (size_t)index * LINK_CHUNK_DATA_MAX;
    size_t want = total - off < LINK_CHUNK_DATA_MAX ? total - off : LINK_CHUNK_DATA_MAX;
    if (len != want)
        return LINK_E_PAYLOAD;
    ret->index = index;
    ret->count = count;
    ret->total = total;
    ret->data = f->payload + LINK_CHUNK_HEAD_LEN;
    ret->len = len;
    return 0;
}

int link_upload_add(struct link_upload *u, const struct link_chunk *c, struct dynbuf *buf)
{
    if (c->index == 0) {
        dynbuf_reset(buf);
        u->count = c->count;
        u->total = c->total;
        u->next = 0;
    } else if (u->count == 0 || c->index != u->next || c->count != u->count ||
               c->total != u->total) {
        memset(u, 0, sizeof(*u));
        dynbuf_reset(buf);
        return LINK_E_PAYLOAD;
    }
    if (dynbuf_add(buf, c->data, c->len)) {
        memset(u, 0, sizeof(*u));
        dynbuf_reset(buf);
        return LINK_E_NOMEM;
    }
    u->next++;
    if (u->next < u->count)
        return 0;
    memset(u, 0, sizeof(*u));
    return 1;
}

/* --- receiving ------------------------------------------------------------------------------ */

/* Whether type is one this side may receive in an open session. */
static bool session_type_ok(enum link_role role, unsigned type)
{
    switch (type) {
    case LINK_HEARTBEAT:
    case LINK_CLOSE:
        return true;
    case LINK_TELEMETRY:
    case LINK_CAPTURE:
    case LINK_REPLY:
        return role == LINK_SERVER;
    case LINK_ACK:
    case LINK_COMMAND:
        return role == LINK_CLIENT;
    default:
        return false;
    }
}

/* Whether the frame type is the handshake step this state waits for (CLOSE always is). */
static bool handshake_type_ok(enum link_state st, unsigned type)
{
    if (type == LINK_CLOSE)
        return true;
    switch (st) {
    case LINK_S_WAIT_HELLO:
        return type == LINK_HELLO;
    case LINK_S_WAIT_RESPONSE:
        return type == LINK_RESPONSE;
    case LINK_S_WAIT_CHALLENGE:
        return type == LINK_CHALLENGE;
    case LINK_S_WAIT_WELCOME:
        return type == LINK_WELCOME;
    default:
        return false; /* CLIENT_START, NEED_KEY: nothing may come yet */
    }
}

/* Whether a session frame's payload has the shape its type needs. */
static bool payload_ok(const struct link_frame *f)
{
    switch (f->type) {
    case LINK_HEARTBEAT:
        return f->len == HEARTBEAT_LEN;
    case LINK_TELEMETRY:
    case LINK_COMMAND:
    case LINK_REPLY:
        return f->len >= 2; /* the smallest JSON object, {} */
    case LINK_ACK: {
        size_t ns = f->len >= 2 ? f->payload[0] : 0, nr = f->len >= 2 ? f->payload[1] : 0;
        return f->len >= 2 && ns >= 1 && ns <= LINK_ACK_RANGES_MAX && nr <= LINK_ACK_RANGES_MAX &&
               f->len == 2 + 16 * (ns + nr);
    }
    case LINK_CAPTURE: {
        struct link_chunk c;
        return link_parse_chunk(f, &c) == 0;
    }
    case LINK_CLOSE: {
        uint8_t reason;
        char text[LINK_CLOSE_TEXT_MAX + 1];
        return link_parse_close(f, &reason, text) == 0;
    }
    default:
        return false;
    }
}

static bool id_ok(const uint8_t *p, size_t n)
{
    char id[LINK_DEVICE_ID_MAX + 1];
    if (n < 1 || n > LINK_DEVICE_ID_MAX)
        return false;
    memcpy(id, p, n);
    id[n] = '\0';
    return strlen(id) == n && device_id_valid(id);
}

/* Opens the session: both directions' keys from KL and the nonces; KL is wiped. */
static void open_session(struct link *l)
{
    struct sign_key c2s, s2c;
    sign_link_session(&l->key, l->nonce_c, l->nonce_s, &c2s, &s2c);
    l->key_tx = l->role == LINK_CLIENT ? c2s : s2c;
    l->key_rx = l->role == LINK_CLIENT ? s2c : c2s;
    sign_key_wipe(&c2s);
    sign_key_wipe(&s2c);
    sign_key_wipe(&l->key);
    l->tx_keyed = true;
    l->rx_keyed = true;
    l->tx_counter = 0;
    l->rx_counter = 0;
    l->state = LINK_S_OPEN;
}

/* One handshake frame f (checked: CRC, version, type for the state). */
static int handshake(struct link *l, const struct link_frame *f, int64_t now_ms, struct dynbuf *out)
{
    uint8_t proof[LINK_PROOF_LEN];
    switch (f->type) {
    case LINK_HELLO:
        if (f->len < HELLO_MIN || f->payload[LINK_NONCE_LEN] != f->len - LINK_NONCE_LEN - 1 ||
            !id_ok(f->payload + LINK_NONCE_LEN + 1, f->len - LINK_NONCE_LEN - 1))
            return LINK_E_PAYLOAD;
        memcpy(l->nonce_c, f->payload, LINK_NONCE_LEN);
        memcpy(l->device_id, f->payload + LINK_NONCE_LEN + 1, f->len - LINK_NONCE_LEN - 1);
        l->device_id[f->len - LINK_NONCE_LEN - 1] = '\0';
        l->state = LINK_S_NEED_KEY;
        return LINK_EV_HELLO;
    case LINK_CHALLENGE: {
        if (f->len != LINK_NONCE_LEN)
            return LINK_E_PAYLOAD;
        memcpy(l->nonce_s, f->payload, LINK_NONCE_LEN);
        sign_link_proof(&l->key, false, l->nonce_c, l->nonce_s, NULL, 0, proof);
        int r = put_frame(out, LINK_RESPONSE, 0, proof, sizeof(proof), NULL, 0, NULL);
        if (r)
            return r;
        l->state = LINK_S_WAIT_WELCOME;
        return LINK_EV_NONE;
    }
    case LINK_RESPONSE: {
        if (f->len != LINK_PROOF_LEN)
            return LINK_E_PAYLOAD;
        sign_link_proof(&l->key, false, l->nonce_c, l->nonce_s, NULL, 0, proof);
        if (!sign_equal(proof, f->payload, LINK_PROOF_LEN) || l->unknown_device)
            return LINK_E_AUTH;
        uint8_t w[WELCOME_LEN];
        l->server_time_ms = now_ms;
        put64(w + LINK_PROOF_LEN, (uint64_t)now_ms);
        put16(w + LINK_PROOF_LEN + 8, l->heartbeat_s);
        put16(w + LINK_PROOF_LEN + 10, l->idle_s);
        sign_link_proof(&l->key, true, l->nonce_c, l->nonce_s, w + LINK_PROOF_LEN,
                        WELCOME_LEN - LINK_PROOF_LEN, w);
        int r = put_frame(out, LINK_WELCOME, 0, w, sizeof(w), NULL, 0, NULL);
        if (r)
            return r;
        open_session(l);
        return LINK_EV_OPEN;
    }
    case LINK_WELCOME: {
        if (f->len != WELCOME_LEN)
            return LINK_E_PAYLOAD;
        sign_link_proof(&l->key, true, l->nonce_c, l->nonce_s, f->payload + LINK_PROOF_LEN,
                        WELCOME_LEN - LINK_PROOF_LEN, proof);
        if (!sign_equal(proof, f->payload, LINK_PROOF_LEN))
            return LINK_E_AUTH;
        uint16_t hb = get16(f->payload + LINK_PROOF_LEN + 8);
        uint16_t idle = get16(f->payload + LINK_PROOF_LEN + 10);
        if (hb == 0 || idle <= hb)
            return LINK_E_PAYLOAD;
        l->server_time_ms = (int64_t)get64(f->payload + LINK_PROOF_LEN);
        l->heartbeat_s = hb;
        l->idle_s = idle;
        open_session(l);
        return LINK_EV_OPEN;
    }
    default:
        return LINK_E_ORDER;
    }
}

/* A whole frame in l->rx: every check, then the handshake or the caller. */
static int process(struct link *l, int64_t now_ms, struct link_frame *ret_frame, struct dynbuf *out)
{
    const uint8_t *p = (const uint8_t *)l->rx.buf;
    size_t n = l->rx.len;
    if (get32(p + n - LINK_CRC_LEN) != link_crc32(p, n - LINK_CRC_LEN))
        return LINK_E_CRC;
    if (p[2] != LINK_VERSION)
        return LINK_E_VERSION;
    unsigned type = p[3];
    if (!link_type_name(type))
        return LINK_E_TYPE;
    struct link_frame f = {
        .type = (uint8_t)type, .counter = get32(p + 4), .payload = p + LINK_HEADER_LEN};
    if (l->rx_keyed) {
        if (!session_type_ok(l->role, type))
            return LINK_E_ORDER;
        size_t at = n - LINK_CRC_LEN - LINK_MAC_LEN;
        uint8_t mac[LINK_MAC_LEN];
        sign_link_mac(&l->key_rx, p, at, mac);
        if (!sign_equal(mac, p + at, LINK_MAC_LEN))
            return LINK_E_MAC;
        if (f.counter <= l->rx_counter)
            return LINK_E_REPLAY;
        if (f.counter != l->rx_counter + 1)
            return LINK_E_GAP;
        l->rx_counter = f.counter;
        f.len = at - LINK_HEADER_LEN;
        if (!payload_ok(&f))
            return LINK_E_PAYLOAD;
        *ret_frame = f;
        if (type == LINK_CLOSE) {
            l->state = LINK_S_CLOSED;
            return LINK_EV_CLOSE;
        }
        return LINK_EV_FRAME;
    }
    if (!handshake_type_ok(l->state, type))
        return LINK_E_ORDER;
    f.len = n - LINK_CRC_LEN - LINK_HEADER_LEN;
    if (f.counter != 0)
        return LINK_E_PAYLOAD;
    if (type == LINK_CLOSE) {
        if (!payload_ok(&f))
            return LINK_E_PAYLOAD;
        *ret_frame = f;
        l->state = LINK_S_CLOSED;
        return LINK_EV_CLOSE;
    }
    return handshake(l, &f, now_ms, out);
}

int link_feed(struct link *l, const void *data, size_t len, int64_t now_ms, size_t *ret_used,
              struct link_frame *ret_frame, struct dynbuf *out)
{
    *ret_used = 0;
    if (l->rx_done) {
        dynbuf_reset(&l->rx);
        l->rx_done = false;
    }
    if (l->state == LINK_S_CLOSED)
        return LINK_E_CLOSED;
    const uint8_t *in = data;
    size_t used = 0;
    int r = LINK_EV_NONE;
    while (used < len) {
        size_t have = l->rx.len;
        size_t want = 2;
        if (have >= 2) {
            size_t total = (size_t)get16((const uint8_t *)l->rx.buf) + 2;
            want = total;
        }
        size_t take = want - have < len - used ? want - have : len - used;
        if (dynbuf_add(&l->rx, in + used, take)) {
            r = LINK_E_NOMEM;
            break;
        }
        used += take;
        if (l->rx.len < want)
            continue;
        if (want == 2) {
            size_t total = (size_t)get16((const uint8_t *)l->rx.buf) + 2;
            size_t min = LINK_FRAME_MIN + (l->rx_keyed ? LINK_MAC_LEN : 0);
            if (total < min) {
                r = LINK_E_LENGTH;
                break;
            }
            if (total > LINK_FRAME_MAX) {
                r = LINK_E_OVERSIZE;
                break;
            }
            continue;
        }
        /* A whole frame. */
        r = process(l, now_ms, ret_frame, out);
        l->rx_done = true;
        break;
    }
    *ret_used = used;
    if (r < 0) {
        l->state = LINK_S_CLOSED;
        l->rx_done = true;
    }
    return r;
}
