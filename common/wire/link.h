/*
 * link: the terminal link, our framed protocol over one TCP connection
 * between a terminal (meterd --link, or an MCU behind a 4G module) and
 * meter-server's terminal gateway (docs/terminal-protocol.md, which gives
 * every byte; this header gives the C interface).
 *
 *   frame = length u16 | version u8 | type u8 | counter u32 | payload
 *           | MAC (16, once the sender's session is open) | CRC-32 u32
 *
 * One struct link per connection, either side. The caller moves bytes:
 * everything received goes to link_feed(), which frames it (partial frames,
 * several frames in one read), checks the CRC, version, type, MAC and
 * counter, runs the handshake (writing the answers to the caller's output
 * buffer) and hands the caller each frame of the open session. Everything
 * the caller wants to send goes through the link_send_*() encoders, which
 * append one frame each to the caller's output buffer.
 *
 * The handshake (mutual challenge-response with the link key sign.h derives
 * from the device's secret hash H; fresh nonces from each side, which the
 * caller supplies from sign_random()):
 *
 *   client                                server
 *   HELLO     (Nc, device id)      ->
 *                                         link_feed() -> LINK_EV_HELLO: the caller
 *                                         looks the device up, link_server_accept()
 *                                  <-     CHALLENGE (Ns)
 *   RESPONSE  (client proof)       ->
 *                                  <-     WELCOME (server proof, time, heartbeat, idle)
 *   LINK_EV_OPEN                          LINK_EV_OPEN
 *
 * Pure: no I/O, no clock (times are arguments), no logging, no allocation
 * but the receive buffer (a dynbuf inside struct link, capped at
 * LINK_FRAME_MAX; link_release() frees it between frames) and the caller's
 * output dynbufs. Errors are enum link_error values (negative), each with
 * a name for counters and the close reason to send.
 */
#ifndef SMARTMETER_WIRE_LINK_H
#define SMARTMETER_WIRE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "dynbuf.h"
#include "sign.h"

#define LINK_VERSION     1
#define LINK_HEADER_LEN  8  /* length, version, type, counter */
#define LINK_MAC_LEN     16 /* keyed BLAKE2b-128 */
#define LINK_CRC_LEN     4  /* CRC-32 (ISO-HDLC, as zlib's crc32) */
#define LINK_NONCE_LEN   16
#define LINK_PROOF_LEN   32
#define LINK_PAYLOAD_MAX 4096 /* bytes of payload in one frame */
/* The largest frame on the wire, and the smallest (a handshake frame without payload). */
#define LINK_FRAME_MAX      (LINK_HEADER_LEN + LINK_PAYLOAD_MAX + LINK_MAC_LEN + LINK_CRC_LEN)
#define LINK_FRAME_MIN      (LINK_HEADER_LEN + LINK_CRC_LEN)
#define LINK_DEVICE_ID_MAX  64 /* the ids of topic.h: 1..64 of A-Z a-z 0-9 _ - . : */
#define LINK_CLOSE_TEXT_MAX 64
/* Ranges of each kind one ACK frame holds (ack.h's rules, fewer of them). */
#define LINK_ACK_RANGES_MAX 64
/* A capture upload: chunks of at most LINK_CHUNK_DATA_MAX bytes, at most LINK_CHUNKS_MAX. */
#define LINK_CHUNK_HEAD_LEN 8
#define LINK_CHUNK_DATA_MAX (LINK_PAYLOAD_MAX - LINK_CHUNK_HEAD_LEN)
#define LINK_CHUNKS_MAX     16384
#define LINK_CAPTURE_MAX    ((uint32_t)LINK_CHUNK_DATA_MAX * LINK_CHUNKS_MAX)
/* The timing the server announces in WELCOME unless told otherwise. */
#define LINK_HEARTBEAT_S_DEFAULT  30
#define LINK_IDLE_S_DEFAULT       90
#define LINK_HANDSHAKE_TIMEOUT_MS 10000 /* from accept to WELCOME sent */

enum link_type {
    LINK_HELLO = 0x01,     /* c->s, handshake */
    LINK_CHALLENGE = 0x02, /* s->c, handshake */
    LINK_RESPONSE = 0x03,  /* c->s, handshake */
    LINK_WELCOME = 0x04,   /* s->c, handshake */
    LINK_HEARTBEAT = 0x10, /* both */
    LINK_TELEMETRY = 0x11, /* c->s: telemetry.h's JSON (one reading or an array) */
    LINK_ACK = 0x12,       /* s->c: ack.h's meaning, binary ranges */
    LINK_CAPTURE = 0x13,   /* c->s: one chunk of capture.h's payload */
    LINK_COMMAND = 0x14,   /* s->c: command.h's JSON, unsigned (the frame's MAC covers it) */
    LINK_REPLY = 0x15,     /* c->s: command.h's reply JSON */
    LINK_CLOSE = 0x16,     /* both, also during the handshake (then without MAC) */
};

/* The frame's type name ("telemetry"), NULL for an unknown type. */
const char *link_type_name(unsigned type);

enum link_error {
    LINK_E_LENGTH = -1,     /* length field below the smallest frame */
    LINK_E_OVERSIZE = -2,   /* length field above LINK_FRAME_MAX */
    LINK_E_CRC = -3,        /* CRC-32 does not match */
    LINK_E_VERSION = -4,    /* version byte is not LINK_VERSION */
    LINK_E_TYPE = -5,       /* unknown frame type */
    LINK_E_ORDER = -6,      /* a known frame where it may not come (state, direction) */
    LINK_E_MAC = -7,        /* session frame whose MAC is wrong */
    LINK_E_REPLAY = -8,     /* counter already used (a replay or a reorder) */
    LINK_E_GAP = -9,        /* counter skips ahead (a frame was taken out) */
    LINK_E_PAYLOAD = -10,   /* payload malformed for its type */
    LINK_E_AUTH = -11,      /* the peer's proof is wrong (or the device is unknown) */
    LINK_E_CLOSED = -12,    /* the link is closed: after an error or a CLOSE */
    LINK_E_EXHAUSTED = -13, /* the send counter reached its end: reconnect */
    LINK_E_NOMEM = -14,     /* an allocation failed, or the output buffer is full */
    LINK_E_STATE = -15,     /* the call does not fit the link's state (a caller's bug) */
};
#define LINK_E_COUNT 15

/* A short name for counters and logs ("bad_crc"); "unknown" for other values. */
const char *link_error_name(int err);

/* Close reasons (CLOSE's first byte). */
enum link_reason {
    LINK_R_NORMAL = 0x00,   /* goodbye */
    LINK_R_SHUTDOWN = 0x01, /* the sender is stopping */
    LINK_R_IDLE = 0x02,     /* nothing received within the idle timeout */
    LINK_R_HANDSHAKE_TIMEOUT = 0x03,
    LINK_R_AUTH = 0x04, /* proof wrong or device unknown */
    LINK_R_LENGTH = 0x05,
    LINK_R_OVERSIZE = 0x06,
    LINK_R_CRC = 0x07,
    LINK_R_VERSION = 0x08,
    LINK_R_TYPE = 0x09,
    LINK_R_ORDER = 0x0a,
    LINK_R_MAC = 0x0b,
    LINK_R_REPLAY = 0x0c,
    LINK_R_GAP = 0x0d,
    LINK_R_PAYLOAD = 0x0e,
    LINK_R_EXHAUSTED = 0x0f,
    LINK_R_REPLACED = 0x10, /* a newer connection of the same device took over */
    LINK_R_BUSY = 0x11,     /* the server is at its connection limit */
    LINK_R_INTERNAL = 0x12, /* the sender failed (out of memory, database) */
};
#define LINK_R_MAX 0x12

/* The reason to send when link_feed() failed with err. */
enum link_reason link_error_reason(int err);
/* The reason's name ("idle_timeout"), "unknown" for others. */
const char *link_reason_name(unsigned reason);

enum link_role { LINK_CLIENT, LINK_SERVER };

enum link_state {
    LINK_S_CLIENT_START,   /* client: HELLO not written yet */
    LINK_S_WAIT_CHALLENGE, /* client */
    LINK_S_WAIT_WELCOME,   /* client */
    LINK_S_WAIT_HELLO,     /* server */
    LINK_S_NEED_KEY,       /* server: HELLO read, link_server_accept() due */
    LINK_S_WAIT_RESPONSE,  /* server */
    LINK_S_OPEN,           /* both: session frames */
    LINK_S_CLOSED,         /* both: after an error, a CLOSE received or sent */
};

/*
 * One connection: about 300 bytes, plus the receive buffer while a frame is
 * partly in (link_release() frees it between frames). Plain data: set it up
 * only through the init functions.
 */
struct link {
    enum link_role role;
    enum link_state state;
    char device_id[LINK_DEVICE_ID_MAX + 1];
    uint8_t nonce_c[LINK_NONCE_LEN], nonce_s[LINK_NONCE_LEN];
    struct sign_key key;            /* the link key KL, during the handshake */
    struct sign_key key_tx, key_rx; /* the session's keys, once open */
    uint32_t tx_counter;            /* the last counter sent (0: none yet) */
    uint32_t rx_counter;            /* the last counter received */
    bool unknown_device;            /* server: accepted with no key, refuses the RESPONSE */
    bool tx_keyed, rx_keyed;        /* this side's frames (the peer's) carry a MAC */
    bool close_sent;
    bool rx_done; /* rx holds a frame already handed out */
    /* WELCOME's values: the server's, or what the client received. */
    int64_t server_time_ms;
    uint16_t heartbeat_s, idle_s;
    struct dynbuf rx; /* the frame being received */
};

/* What link_feed() returns besides an error. */
enum link_event {
    LINK_EV_NONE = 0,  /* all bytes taken, no whole frame yet (or a handshake step done) */
    LINK_EV_HELLO = 1, /* server: l->device_id says who; call link_server_accept() */
    LINK_EV_OPEN = 2,  /* the handshake is done: session frames may flow */
    LINK_EV_FRAME = 3, /* *ret_frame is a session frame for the caller */
    LINK_EV_CLOSE = 4, /* *ret_frame is the peer's CLOSE; the link is closed */
};

/* A received frame; payload points into the link's buffer, valid until the next link_feed(). */
struct link_frame {
    uint8_t type;
    uint32_t counter;
    const uint8_t *payload;
    size_t len;
};

/*
 * Client: starts a link for device_id (1..LINK_DEVICE_ID_MAX of topic.h's
 * alphabet) holding the device's secret hash H, with LINK_NONCE_LEN fresh
 * random bytes. Returns 0 or LINK_E_STATE for a bad device id (*l is then
 * unusable but safe to link_free()).
 */
int link_client_init(struct link *l, const char *device_id, const uint8_t hash[SIGN_HASH_LEN],
                     const uint8_t nonce[LINK_NONCE_LEN]);

/* Client: appends HELLO to out. Returns 0, LINK_E_STATE (not at the start) or LINK_E_NOMEM. */
int link_client_hello(struct link *l, struct dynbuf *out);

/*
 * Server: starts a link for an accepted connection with LINK_NONCE_LEN fresh
 * random bytes and the heartbeat interval and idle timeout (seconds, 1..65535,
 * idle greater than heartbeat) WELCOME announces.
 */
void link_server_init(struct link *l, const uint8_t nonce[LINK_NONCE_LEN], uint16_t heartbeat_s,
                      uint16_t idle_s);

/*
 * Server, after LINK_EV_HELLO: the stored secret hash of l->device_id, or
 * NULL when there is no such device (the handshake then goes on and fails at
 * the RESPONSE with LINK_E_AUTH, so a stranger cannot tell which ids
 * exist). Appends CHALLENGE to out. Returns 0, LINK_E_STATE or LINK_E_NOMEM.
 */
int link_server_accept(struct link *l, const uint8_t *hash, struct dynbuf *out);

/*
 * Takes up to len bytes received: *ret_used says how many (all of them
 * unless a whole frame ended first: call again with the rest). A frame that
 * ends here is checked and, in the handshake, answered into out (the server's
 * WELCOME carries now_ms; the client records the server's time). Returns a
 * link_event, or a link_error after which the link is closed: send
 * link_send_close(l, link_error_reason(err)) if the state still allows it
 * (link_send_close() says) and drop the connection.
 */
int link_feed(struct link *l, const void *data, size_t len, int64_t now_ms, size_t *ret_used,
              struct link_frame *ret_frame, struct dynbuf *out);

/*
 * How long the link may stay silent (ms since the last bytes received, or
 * since the connection was made) before its owner drops it: the handshake's
 * LINK_HANDSHAKE_TIMEOUT_MS until the session is open, then the idle
 * timeout WELCOME announced (the server's own, or the one the client read).
 */
int64_t link_timeout_ms(const struct link *l);

/* Whether no partial frame is buffered (an idle connection); link_release() then frees the buffer.
 */
bool link_idle(const struct link *l);
void link_release(struct link *l);

/* Wipes the keys and frees the buffer; l may be reused only after an init. NULL is fine. */
void link_free(struct link *l);

/* --- sending, in an open session (CLOSE also in the handshake) ---------------------------- */

/*
 * Appends one frame of type with payload[0..len) to out: the next counter,
 * the MAC. Returns 0, LINK_E_STATE (session not open, a type this side does
 * not send, len over LINK_PAYLOAD_MAX), LINK_E_EXHAUSTED or LINK_E_NOMEM
 * (out is then as it was).
 */
int link_send(struct link *l, enum link_type type, const void *payload, size_t len,
              struct dynbuf *out);

/* HEARTBEAT with the sender's clock (ms since the epoch; 0 when it has none). */
int link_send_heartbeat(struct link *l, int64_t now_ms, struct dynbuf *out);

/*
 * CLOSE with a reason and an optional text (NULL, or at most
 * LINK_CLOSE_TEXT_MAX printable ASCII characters; longer text is cut, other
 * characters become '?'). In an open session it is authenticated; during the
 * handshake it is sent bare. Closes the link. Returns 0, LINK_E_STATE
 * (already closed), LINK_E_EXHAUSTED or LINK_E_NOMEM.
 */
int link_send_close(struct link *l, enum link_reason reason, const char *text, struct dynbuf *out);

/*
 * Server: appends the next ACK frame of an acknowledgement (the ranges and
 * the cursor of ack_encode_next(), with at most LINK_ACK_RANGES_MAX of each
 * kind per frame). Returns 1 when a frame was written, 0 when everything was
 * sent, or a link_error.
 */
int link_send_ack_next(struct link *l, const struct ack_range *acked, size_t n_acked,
                       const struct ack_range *rejected, size_t n_rejected, struct ack_cursor *cur,
                       struct dynbuf *out);

/* One chunk of a capture upload. */
struct link_chunk {
    uint16_t index; /* 0 .. count-1 */
    uint16_t count; /* 1 .. LINK_CHUNKS_MAX */
    uint32_t total; /* bytes of the whole payload, 1 .. LINK_CAPTURE_MAX */
    const uint8_t *data;
    size_t len; /* 1 .. LINK_CHUNK_DATA_MAX */
};

/* The number of chunks a payload of total bytes takes (0 when total is 0 or too large). */
uint32_t link_chunk_count(size_t total);

/*
 * Client: appends CAPTURE chunk index of the payload[0..total) (the chunks
 * split it into LINK_CHUNK_DATA_MAX-byte pieces, the last one shorter).
 * Returns 0, LINK_E_STATE (bad total or index) or a link_send() error.
 */
int link_send_chunk(struct link *l, const void *payload, size_t total, uint32_t index,
                    struct dynbuf *out);

/* --- reading a session frame's payload ------------------------------------------------------ */

/* HEARTBEAT: the sender's clock. 0 or LINK_E_PAYLOAD. */
int link_parse_heartbeat(const struct link_frame *f, int64_t *ret_ms);

/* CLOSE: the reason and its text (NUL-terminated, printable ASCII). 0 or LINK_E_PAYLOAD. */
int link_parse_close(const struct link_frame *f, uint8_t *ret_reason,
                     char ret_text[LINK_CLOSE_TEXT_MAX + 1]);

/* ACK: into ack.h's struct (the same rules as ack_parse). 0 or LINK_E_PAYLOAD. */
int link_parse_ack(const struct link_frame *f, struct ack_msg *ret);

/* CAPTURE: the chunk's header and data (pointing into f). 0 or LINK_E_PAYLOAD. */
int link_parse_chunk(const struct link_frame *f, struct link_chunk *ret);

/*
 * Reassembly of one capture upload at a time, into the caller's dynbuf
 * (cap it at LINK_CAPTURE_MAX or the server's max_capture_bytes, whichever
 * is lower). Chunks come in order, each repeating count and total; chunk 0
 * starts an upload (dropping an unfinished one).
 */
struct link_upload {
    uint16_t next; /* the index expected next; 0 when none is under way */
    uint16_t count;
    uint32_t total;
};

/*
 * Adds a chunk. Returns 1 when the upload is complete (buf holds exactly
 * total bytes; the upload state is reset), 0 when more chunks are due,
 * LINK_E_PAYLOAD for a chunk out of order or inconsistent with the upload's
 * first (the upload is dropped: buf reset), or LINK_E_NOMEM (buf's cap).
 */
int link_upload_add(struct link_upload *u, const struct link_chunk *c, struct dynbuf *buf);

/* --- the frame's checksum, for tests and tools ----------------------------------------------- */

/* CRC-32/ISO-HDLC (poly 0x04C11DB7 reflected, init and xorout 0xFFFFFFFF; "123456789" ->
 * 0xCBF43926). */
uint32_t link_crc32(const void *data, size_t len);

#endif
