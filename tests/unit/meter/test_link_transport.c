/*
 * The terminal link transport against an in-process gateway: the codec's
 * server side (common/wire/link.h) on a loopback TCP socket, driven step by
 * step by the test while the transport runs its own thread. Readings go out
 * as TELEMETRY, an ACK arrives in the ack queue as a parsed ack, a COMMAND
 * in the command queue without a signature (an id taken before is refused),
 * replies and captures (in chunks) go out; heartbeats flow when the meter
 * has nothing to say, a silent server is dropped after the idle timeout and
 * the link comes back (a new generation); a wrong secret, a tampered frame
 * and a stop each end the session with the right CLOSE.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ack_queue.h"
#include "commands.h"
#include "link.h"
#include "link_transport.h"
#include "timeutil.h"

#define DEVICE  "link-unit"
#define SECRET  "the device secret of the unit test"
#define GW_EOF  100 /* gw_next(): the meter closed the connection */
#define WAIT_MS 5000

struct gw {
    int lfd, fd, port;
    struct link l;
    struct dynbuf out;
    uint8_t hash[SIGN_HASH_LEN]; /* the device's H as the server has it */
    uint16_t hb, idle;
    uint8_t buf[8192];
    size_t have, off;
};

struct fixture {
    struct gw g;
    struct ack_queue *acks;
    struct command_queue *cmds;
    struct transport tr;
    uint8_t hash[SIGN_HASH_LEN]; /* the meter's */
};

static void gw_listen(struct gw *g, uint16_t hb, uint16_t idle)
{
    memset(g, 0, sizeof(*g));
    g->fd = -1;
    g->hb = hb;
    g->idle = idle;
    sign_secret_hash(SECRET, strlen(SECRET), g->hash);
    g->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(g->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(g->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(g->lfd, 4), 0);
    assert_int_equal(getsockname(g->lfd, (struct sockaddr *)&a, &al), 0);
    g->port = ntohs(a.sin_port);
    dynbuf_init(&g->out, 1 << 20);
}

static void gw_drop(struct gw *g)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    link_free(&g->l);
    dynbuf_reset(&g->out);
    g->have = g->off = 0;
}

static void gw_accept(struct gw *g)
{
    gw_drop(g);
    struct pollfd p = {.fd = g->lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
    g->fd = accept(g->lfd, NULL, NULL);
    assert_true(g->fd >= 0);
    uint8_t nonce[LINK_NONCE_LEN];
    sign_random(nonce, sizeof(nonce));
    link_server_init(&g->l, nonce, g->hb, g->idle);
}

static void gw_flush(struct gw *g)
{
    size_t off = 0;
    while (off < g->out.len) {
        ssize_t n = send(g->fd, g->out.buf + off, g->out.len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the meter left: the next read says so */
        off += (size_t)n;
    }
    dynbuf_reset(&g->out);
}

/* The next event within timeout_ms: a link_event (> 0), 0 on timeout, GW_EOF, or a link_error. */
static int gw_next(struct gw *g, int timeout_ms, struct link_frame *f)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    for (;;) {
        while (g->off < g->have) {
            size_t used = 0;
            int ev = link_feed(&g->l, g->buf + g->off, g->have - g->off, time_now_ms(), &used, f,
                               &g->out);
            g->off += used;
            if (ev == LINK_EV_HELLO) {
                assert_string_equal(g->l.device_id, DEVICE);
                assert_int_equal(link_server_accept(&g->l, g->hash, &g->out), 0);
            }
            gw_flush(g);
            if (ev < 0 || (ev != LINK_EV_NONE && ev != LINK_EV_HELLO))
                return ev;
        }
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = g->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(g->fd, g->buf, sizeof(g->buf), 0);
        if (n <= 0)
            return GW_EOF;
        g->have = (size_t)n;
        g->off = 0;
    }
}

/* The next event that is not a HEARTBEAT (answered, as the gateway does). */
static int gw_next_data(struct gw *g, int timeout_ms, struct link_frame *f)
{
    for (;;) {
        int ev = gw_next(g, timeout_ms, f);
        if (ev != LINK_EV_FRAME || f->type != LINK_HEARTBEAT)
            return ev;
        assert_int_equal(link_send_heartbeat(&g->l, time_now_ms(), &g->out), 0);
        gw_flush(g);
    }
}

static void gw_send(struct gw *g, enum link_type type, const char *payload)
{
    assert_int_equal(link_send(&g->l, type, payload, strlen(payload), &g->out), 0);
    gw_flush(g);
}

static void wait_connected(struct fixture *fx, bool want)
{
    int64_t deadline = time_mono_ms() + WAIT_MS;
    while (transport_connected(&fx->tr) != want && time_mono_ms() < deadline)
        usleep(5000);
    assert_int_equal(transport_connected(&fx->tr), want);
}

/* Accepts the meter's connection and runs the handshake: the link is open on both sides. */
static void open_session(struct fixture *fx)
{
    struct link_frame f;
    gw_accept(&fx->g);
    assert_int_equal(gw_next(&fx->g, WAIT_MS, &f), LINK_EV_OPEN);
    wait_connected(fx, true);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(sign_init(), 0);
    gw_listen(&fx->g, 30, 90);
    assert_int_equal(ack_queue_new(4, &fx->acks), 0);
    assert_int_equal(command_queue_new(4, &fx->cmds), 0);
    sign_secret_hash(SECRET, strlen(SECRET), fx->hash);
    *state = fx;
    return 0;
}

static void start(struct fixture *fx)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", fx->g.port);
    struct link_transport_config c = {.url = url,
                                      .device_id = DEVICE,
                                      .secret_hash = fx->hash,
                                      .connect_timeout_ms = 2000,
                                      .retry_min_ms = 50,
                                      .retry_max_ms = 200};
    struct transport_sinks sinks = {.commands = fx->cmds, .acks = fx->acks};
    assert_int_equal(transport_link_new(&c, &sinks, &fx->tr, err, sizeof(err)), 0);
    assert_string_equal(fx->tr.ops->name, "link");
    assert_int_equal(transport_start(&fx->tr, err, sizeof(err)), 0);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    transport_free(&fx->tr);
    gw_drop(&fx->g);
    close(fx->g.lfd);
    dynbuf_free(&fx->g.out);
    ack_queue_free(fx->acks);
    command_queue_free(fx->cmds);
    free(fx);
    return 0;
}

static void reading_at(struct reading *r, uint64_t seq)
{
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->has_seq = true;
    r->ts_ms = time_now_ms();
    reading_set_real(r, RR_VOLTAGE, 230);
}

static void iso(int64_t ms, char out[TIME_RFC3339_LEN])
{
    time_format_rfc3339_ms(ms, out);
}

static void test_readings_acks_commands_replies_captures(void **state)
{
    struct fixture *fx = *state;
    struct link_frame f;
    struct reading r[3];
    for (unsigned k = 0; k < 3; k++)
        reading_at(&r[k], 41 + k);
    start(fx);
    assert_int_equal(transport_send_readings(&fx->tr, r, 1, false), -ENOTCONN);
    open_session(fx);
    assert_int_equal(transport_generation(&fx->tr), 1);

    /* Readings: a live object, then a backlog array. */
    assert_int_equal(transport_send_readings(&fx->tr, r, 1, false), 0);
    assert_int_equal(transport_send_readings(&fx->tr, &r[1], 2, true), 0);
    assert_int_equal(gw_next_data(&fx->g, WAIT_MS, &f), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_TELEMETRY);
    assert_true(f.len > 2 && f.payload[0] == '{' && strstr((const char *)f.payload, "\"seq\":41"));
    assert_int_equal(gw_next_data(&fx->g, WAIT_MS, &f), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_TELEMETRY);
    assert_true(f.payload[0] == '[');

    /* An ACK reaches the ack queue as the parsed ack. */
    struct ack_range acked = {41, 43}, rejected = {42, 42};
    struct ack_cursor cur;
    memset(&cur, 0, sizeof(cur));
    assert_int_equal(link_send_ack_next(&fx->g.l, &acked, 1, &rejected, 1, &cur, &fx->g.out), 1);
    gw_flush(&fx->g);
    struct ack_msg *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    int64_t deadline = time_mono_ms() + WAIT_MS;
    while (!ack_queue_pop(fx->acks, a) && time_mono_ms() < deadline)
        usleep(5000);
    assert_int_equal(a->n_seqs, 1);
    assert_int_equal(a->seqs[0].first, 41);
    assert_int_equal(a->seqs[0].last, 43);
    assert_int_equal(a->n_rejected, 1);
    assert_int_equal(a->rejected[0].first, 42);
    free(a);

    /* A command without "sig" is taken (the MAC stood for it), even with a key required for
       MQTT; the same id again is refused. */
    struct sign_key k;
    sign_key_from_secret(SECRET, strlen(SECRET), &k);
    command_queue_require_signature(fx->cmds, &k, "meters/" DEVICE "/cmd");
    char ts[TIME_RFC3339_LEN], cmd[256];
    iso(time_now_ms(), ts);
    snprintf(cmd, sizeof(cmd),
             "{\"id\":\"cap-7\",\"cmd\":\"capture\",\"duration_ms\":500,\"ts\":\"%s\"}", ts);
    gw_send(&fx->g, LINK_COMMAND, cmd);
    gw_send(&fx->g, LINK_COMMAND, cmd);
    snprintf(cmd, sizeof(cmd),
             "{\"id\":\"rel-7\",\"cmd\":\"relay\",\"state\":\"off\",\"ts\":\"%s\"}", ts);
    gw_send(&fx->g, LINK_COMMAND, cmd);
    struct command c;
    deadline = time_mono_ms() + WAIT_MS;
    while (!command_queue_pop(fx->cmds, &c) && time_mono_ms() < deadline)
        usleep(5000);
    assert_int_equal(c.kind, COMMAND_CAPTURE);
    assert_string_equal(c.id, "cap-7");
    assert_int_equal(c.duration_ms, 500);
    deadline = time_mono_ms() + WAIT_MS;
    while (!command_queue_pop(fx->cmds, &c) && time_mono_ms() < deadline)
        usleep(5000);
    assert_int_equal(c.kind, COMMAND_RELAY);
    assert_false(c.relay_on);
    assert_false(command_queue_pop(fx->cmds, &c));
    uint64_t bad_sig = 0, replayed = 0;
    command_queue_refused(fx->cmds, &bad_sig, &replayed);
    assert_int_equal(bad_sig, 0);
    assert_int_equal(replayed, 1);

    /* A reply, and a capture in chunks that reassemble into the payload. */
    const char *reply = "{\"id\":\"cap-7\",\"cmd\":\"capture\",\"status\":\"ok\"}";
    assert_int_equal(transport_send(&fx->tr, TOPIC_REPLY, reply, strlen(reply)), 0);
    assert_int_equal(gw_next_data(&fx->g, WAIT_MS, &f), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_REPLY);
    assert_memory_equal(f.payload, reply, strlen(reply));
    size_t total = 3 * LINK_CHUNK_DATA_MAX + 17;
    char *capture = malloc(total);
    assert_non_null(capture);
    for (size_t i = 0; i < total; i++)
        capture[i] = (char)('a' + i % 26);
    assert_int_equal(transport_send(&fx->tr, TOPIC_CAPTURE, capture, total), 0);
    struct link_upload up = {0};
    struct dynbuf whole;
    dynbuf_init(&whole, LINK_CAPTURE_MAX);
    int done = 0, chunks = 0;
    while (!done) {
        assert_int_equal(gw_next_data(&fx->g, WAIT_MS, &f), LINK_EV_FRAME);
        assert_int_equal(f.type, LINK_CAPTURE);
        struct link_chunk ch;
        assert_int_equal(link_parse_chunk(&f, &ch), 0);
        done = link_upload_add(&up, &ch, &whole);
        assert_true(done >= 0);
        chunks++;
    }
    assert_int_equal(chunks, 4);
    assert_int_equal(whole.len, total);
    assert_memory_equal(whole.buf, capture, total);
    dynbuf_free(&whole);
    free(capture);
    /* Only replies and captures: the status topic has no frame. */
    assert_int_equal(transport_send(&fx->tr, TOPIC_STATUS, "{}", 2), -EINVAL);
    assert_int_equal(transport_send(&fx->tr, TOPIC_REPLY, "x", 1), -EMSGSIZE);
}

static void test_heartbeats_idle_timeout_and_reconnect(void **state)
{
    struct fixture *fx = *state;
    struct link_frame f;
    fx->g.hb = 1;
    fx->g.idle = 2;
    start(fx);
    open_session(fx);
    /* Nothing to send: a HEARTBEAT within the interval, and another; the server answers one. */
    int64_t t0 = time_mono_ms();
    assert_int_equal(gw_next(&fx->g, 3000, &f), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_HEARTBEAT);
    int64_t ms = 0;
    assert_int_equal(link_parse_heartbeat(&f, &ms), 0);
    assert_true(ms > INT64_C(1700000000000)); /* the meter's clock */
    assert_true(time_mono_ms() - t0 < 1600);
    assert_int_equal(link_send_heartbeat(&fx->g.l, time_now_ms(), &fx->g.out), 0);
    gw_flush(&fx->g);
    /* Then the server says nothing more: the meter probes, then drops it with idle_timeout. */
    int heartbeats = 0, ev;
    t0 = time_mono_ms();
    while ((ev = gw_next(&fx->g, 4000, &f)) == LINK_EV_FRAME && f.type == LINK_HEARTBEAT)
        heartbeats++;
    assert_int_equal(ev, LINK_EV_CLOSE);
    uint8_t reason = 0;
    char text[LINK_CLOSE_TEXT_MAX + 1];
    assert_int_equal(link_parse_close(&f, &reason, text), 0);
    assert_int_equal(reason, LINK_R_IDLE);
    assert_true(heartbeats >= 1);
    int64_t idle_ms = time_mono_ms() - t0;
    assert_true(idle_ms >= 1500 && idle_ms < 3500);
    assert_int_equal(gw_next(&fx->g, WAIT_MS, &f), GW_EOF);
    wait_connected(fx, false);
    /* It comes back by itself: a new session, a new generation. */
    open_session(fx);
    assert_int_equal(transport_generation(&fx->tr), 2);
}

static void test_a_wrong_secret_is_refused_and_retried(void **state)
{
    struct fixture *fx = *state;
    struct link_frame f;
    sign_secret_hash("another secret", 14, fx->g.hash);
    start(fx);
    for (int attempt = 0; attempt < 2; attempt++) {
        gw_accept(&fx->g);
        int ev = gw_next(&fx->g, WAIT_MS, &f);
        assert_int_equal(ev, LINK_E_AUTH);
        assert_int_equal(link_send_close(&fx->g.l, LINK_R_AUTH, "wrong proof", &fx->g.out), 0);
        gw_flush(&fx->g);
        assert_int_equal(gw_next(&fx->g, WAIT_MS, &f), GW_EOF);
        assert_false(transport_connected(&fx->tr));
    }
    assert_int_equal(transport_generation(&fx->tr), 0);
    /* The right secret: in. */
    sign_secret_hash(SECRET, strlen(SECRET), fx->g.hash);
    open_session(fx);
    assert_int_equal(transport_generation(&fx->tr), 1);
}

static void test_a_tampered_frame_ends_the_session(void **state)
{
    struct fixture *fx = *state;
    struct link_frame f;
    start(fx);
    open_session(fx);
    const char *cmd =
        "{\"id\":\"x1\",\"cmd\":\"relay\",\"state\":\"off\",\"ts\":\"2026-12-07T08:00:00Z\"}";
    assert_int_equal(link_send(&fx->g.l, LINK_COMMAND, cmd, strlen(cmd), &fx->g.out), 0);
    /* "off" becomes "of!": the CRC is made right again, the MAC cannot be. */
    char *p = memmem(fx->g.out.buf, fx->g.out.len, "\"off\"", 5);
    assert_non_null(p);
    p[3] = '!';
    uint32_t crc = link_crc32(fx->g.out.buf, fx->g.out.len - LINK_CRC_LEN);
    uint8_t *end = (uint8_t *)fx->g.out.buf + fx->g.out.len - LINK_CRC_LEN;
    end[0] = (uint8_t)(crc >> 24);
    end[1] = (uint8_t)(crc >> 16);
    end[2] = (uint8_t)(crc >> 8);
    end[3] = (uint8_t)crc;
    gw_flush(&fx->g);
    int ev;
    while ((ev = gw_next(&fx->g, WAIT_MS, &f)) == LINK_EV_FRAME && f.type == LINK_HEARTBEAT)
        ;
    assert_int_equal(ev, LINK_EV_CLOSE);
    uint8_t reason = 0;
    char text[LINK_CLOSE_TEXT_MAX + 1];
    assert_int_equal(link_parse_close(&f, &reason, text), 0);
    assert_int_equal(reason, LINK_R_MAC);
    struct command c;
    assert_false(command_queue_pop(fx->cmds, &c)); /* nothing of it was taken */
    open_session(fx);
    assert_int_equal(transport_generation(&fx->tr), 2);
}

static void test_a_stop_says_goodbye(void **state)
{
    struct fixture *fx = *state;
    struct link_frame f;
    start(fx);
    open_session(fx);
    assert_int_equal(transport_stop(&fx->tr, 1000), 0);
    assert_false(transport_connected(&fx->tr));
    int ev;
    while ((ev = gw_next(&fx->g, WAIT_MS, &f)) == LINK_EV_FRAME && f.type == LINK_HEARTBEAT)
        ;
    assert_int_equal(ev, LINK_EV_CLOSE);
    uint8_t reason = 0;
    char text[LINK_CLOSE_TEXT_MAX + 1];
    assert_int_equal(link_parse_close(&f, &reason, text), 0);
    assert_int_equal(reason, LINK_R_SHUTDOWN);
    struct reading r;
    reading_at(&r, 1);
    assert_int_equal(transport_send_readings(&fx->tr, &r, 1, false), -ENOTCONN);
}

/* Nobody listens: meterd waits seconds before it retries, and a stop ends the wait at once. */
static void test_a_stop_while_waiting_to_retry_is_prompt(void **state)
{
    struct fixture *fx = *state;
    char url[64], err[256];
    close(fx->g.lfd); /* the port refuses connections now */
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", fx->g.port);
    fx->g.lfd = socket(AF_INET, SOCK_STREAM, 0); /* for the teardown */
    struct link_transport_config c = {
        .url = url, .device_id = DEVICE, .secret_hash = fx->hash, .retry_min_ms = 8000};
    struct transport_sinks sinks = {.commands = fx->cmds, .acks = fx->acks};
    assert_int_equal(transport_link_new(&c, &sinks, &fx->tr, err, sizeof(err)), 0);
    assert_int_equal(transport_start(&fx->tr, err, sizeof(err)), 0);
    usleep(300000); /* refused, now waiting 4..8 s */
    int64_t t0 = time_mono_ms();
    assert_int_equal(transport_stop(&fx->tr, 1000), 0);
    assert_true(time_mono_ms() - t0 < 300);
    assert_int_equal(transport_generation(&fx->tr), 0);
}

static void test_bad_configurations_are_refused(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    struct transport_sinks sinks = {0};
    struct link_transport_config c = {
        .url = "tcp://gw", .device_id = DEVICE, .secret_hash = fx->hash};
    assert_int_equal(transport_link_new(&c, &sinks, &fx->tr, err, sizeof(err)), -EINVAL);
    c.url = "tcp://gw:1";
    c.device_id = "no spaces";
    assert_int_equal(transport_link_new(&c, &sinks, &fx->tr, err, sizeof(err)), -EINVAL);
    c.device_id = DEVICE;
    c.secret_hash = NULL;
    assert_int_equal(transport_link_new(&c, &sinks, &fx->tr, err, sizeof(err)), -EINVAL);
    assert_null(fx->tr.impl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readings_acks_commands_replies_captures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_idle_timeout_and_reconnect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_wrong_secret_is_refused_and_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_tampered_frame_ends_the_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stop_says_goodbye, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stop_while_waiting_to_retry_is_prompt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_configurations_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
