/*
 * What a link's frames do: the handshake's device lookup, then telemetry,
 * replies and capture chunks into ingest (the MQTT path's topics), heartbeats
 * answered, the terminal's CLOSE counted. Every refusal closes the
 * connection with the protocol's reason.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "log.h"
#include "sign.h"
#include "terminals_internal.h"
#include "timeutil.h"
#include "topic.h"

/* Gives one message to ingest on device's leaf topic. false: the database is unavailable. */
static bool ingest(struct terminals *t, struct conn *c, enum topic_leaf leaf, const void *p,
                   size_t len)
{
    char topic[TOPIC_MAX];
    if (topic_build(topic, c->link.device_id, leaf))
        return true;
    return ingest_message(t->ing, topic, p, len) == INGEST_DONE;
}

/* HELLO: the device's key, or none (the handshake then fails at RESPONSE as a wrong proof). */
static int on_hello(struct terminals *t, struct conn *c)
{
    _Static_assert(SIGN_HASH_LEN == SIGN_KEY_LEN, "H is held in a sign_key to be wiped");
    char hex[65];
    struct sign_key hash;
    int r = ingest_device_hash(t->ing, c->link.device_id, hex);
    if (r && r != -ENOENT) {
        term_close(t, c, LINK_R_INTERNAL, false, "the database is unavailable");
        return -1;
    }
    bool known = r == 0 && sign_hash_parse(hex, hash.bytes) == 0;
    r = link_server_accept(&c->link, known ? hash.bytes : NULL, &c->out);
    sign_key_wipe(&hash);
    if (r) {
        term_close(t, c, LINK_R_INTERNAL, false, "cannot answer the HELLO");
        return -1;
    }
    atomic_fetch_add(&t->c.frames_out, 1);
    return 0;
}

/* One chunk of a capture upload; a whole capture goes to ingest. */
static int on_chunk(struct terminals *t, struct conn *c, const struct link_frame *f)
{
    struct link_chunk ch;
    if (link_parse_chunk(f, &ch)) {
        term_close(t, c, LINK_R_PAYLOAD, false, "malformed capture chunk");
        return -1;
    }
    if (ch.index == 0) {
        c->discarding = false;
        term_capture_release(t, c); /* an unfinished upload is dropped */
        bool over = ch.total > t->capture_max;
        if (over || ch.total > t->capture_budget - t->capture_reserved) {
            /* Read and dropped: the command's own timeout tells the operator. */
            atomic_fetch_add(&t->stats->too_large, 1);
            log_warn("terminals: device '%s': a capture of %u bytes dropped: %s", c->link.device_id,
                     (unsigned)ch.total,
                     over ? "over max_capture_bytes" : "too many uploads under way");
            memset(&c->up, 0, sizeof(c->up));
            c->discarding = ch.count > 1;
            c->discard_next = 1;
            c->discard_count = ch.count;
            return 0;
        }
        c->capture_reserved = ch.total;
        t->capture_reserved += ch.total;
    } else if (c->discarding) {
        if (ch.index != c->discard_next || ch.count != c->discard_count) {
            term_close(t, c, LINK_R_PAYLOAD, false, "capture chunk out of order");
            return -1;
        }
        c->discard_next++;
        c->discarding = c->discard_next < c->discard_count;
        return 0;
    }
    int r = link_upload_add(&c->up, &ch, &c->capture);
    if (r == LINK_E_PAYLOAD) {
        term_close(t, c, LINK_R_PAYLOAD, false, "capture chunk out of order");
        return -1;
    }
    if (r < 0) {
        term_close(t, c, LINK_R_INTERNAL, false, "out of memory for a capture");
        return -1;
    }
    if (r == 0)
        return 0;
    atomic_fetch_add(&t->c.captures, 1);
    bool ok = ingest(t, c, TOPIC_CAPTURE, c->capture.buf, c->capture.len);
    term_capture_release(t, c);
    if (!ok) {
        term_close(t, c, LINK_R_INTERNAL, false, "the database is unavailable");
        return -1;
    }
    return 0;
}

/* A session frame. 0, or -1 when c was closed. */
static int on_frame(struct terminals *t, struct conn *c, const struct link_frame *f)
{
    switch (f->type) {
    case LINK_HEARTBEAT:
        if (link_send_heartbeat(&c->link, time_now_ms(), &c->out)) {
            term_close(t, c, LINK_R_INTERNAL, false, "output full");
            return -1;
        }
        atomic_fetch_add(&t->c.frames_out, 1);
        return 0;
    case LINK_TELEMETRY:
        atomic_fetch_add(&t->c.telemetry, 1);
        /* Not acked now: the writer acks after commit (terminals_route). */
        if (!ingest(t, c, TOPIC_TELEMETRY, f->payload, f->len)) {
            term_close(t, c, LINK_R_INTERNAL, false, "the database is unavailable");
            return -1;
        }
        return 0;
    case LINK_REPLY:
        atomic_fetch_add(&t->c.replies, 1);
        if (!ingest(t, c, TOPIC_REPLY, f->payload, f->len)) {
            term_close(t, c, LINK_R_INTERNAL, false, "the database is unavailable");
            return -1;
        }
        return 0;
    case LINK_CAPTURE:
        return on_chunk(t, c, f);
    default: /* link.c lets no other type through */
        term_close(t, c, LINK_R_ORDER, false, NULL);
        return -1;
    }
}

int term_received(struct terminals *t, struct conn *c, const uint8_t *data, size_t len,
                  int64_t now_mono_ms)
{
    (void)now_mono_ms;
    size_t off = 0;
    while (off < len && !c->dead) {
        size_t used = 0;
        struct link_frame f;
        int r = link_feed(&c->link, data + off, len - off, time_now_ms(), &used, &f, &c->out);
        off += used;
        if (r < 0) {
            term_close(t, c, link_error_reason(r), false, link_error_name(r));
            return -1;
        }
        if (r == LINK_EV_NONE) {
            if (used == 0)
                break; /* cannot happen: link_feed takes bytes until a frame ends */
            continue;
        }
        atomic_fetch_add(&t->c.frames_in, 1);
        switch (r) {
        case LINK_EV_HELLO:
            if (on_hello(t, c))
                return -1;
            break;
        case LINK_EV_OPEN:
            atomic_fetch_add(&t->c.frames_out, 1); /* WELCOME */
            term_session_opened(t, c);
            break;
        case LINK_EV_FRAME:
            if (on_frame(t, c, &f))
                return -1;
            break;
        case LINK_EV_CLOSE: {
            uint8_t reason = 0;
            char text[LINK_CLOSE_TEXT_MAX + 1] = "";
            (void)link_parse_close(&f, &reason, text);
            term_close(t, c, reason, true, text);
            return -1;
        }
        default:
            break;
        }
    }
    return c->dead ? -1 : 0;
}
