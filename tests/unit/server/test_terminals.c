/*
 * The terminal gateway in process, against a real SQLite database and the
 * writer: a C client (link.h's client side) over loopback TCP. Acks after
 * commit on the link, commands without their signature, routing that falls
 * back to MQTT for devices without a link, bad frames closing only their own
 * connection with a counted reason, and a newer connection replacing an older.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sqlite_fixture.h"

#include "ingest.h"
#include "link.h"
#include "sign.h"
#include "terminals.h"
#include "timeutil.h"
#include "writer.h"

static struct sqlite_fixture db;
static struct server_counters stats;
static struct writer *w;
static struct terminals *gw;
static struct terminals *_Atomic route_to;

/* The writer's publish hook as main.c's: the link first, MQTT (counted here) otherwise. */
static int publish(void *ctx, const char *topic, const void *payload, size_t len)
{
    (void)ctx;
    int r = terminals_route(atomic_load(&route_to), topic, payload, len);
    return r == -ENOENT ? 0 : r; /* MQTT would take it */
}

struct client {
    int fd;
    struct link l;
    struct dynbuf out;
    uint8_t buf[8192]; /* received, buf[off..have) not yet fed */
    size_t have, off;
};

static void client_send_out(struct client *c)
{
    /* Best effort: after a refusal the server has gone. */
    if (c->out.len)
        (void)!send(c->fd, c->out.buf, c->out.len, MSG_NOSIGNAL);
    dynbuf_reset(&c->out);
}

/*
 * The next event of the link (LINK_EV_OPEN, _FRAME, _CLOSE), a link_error, or
 * 0 when the server closed the socket; frame payloads are copied to ret_payload.
 */
static int client_next(struct client *c, struct link_frame *f, char *ret_payload, size_t cap)
{
    for (;;) {
        while (c->off < c->have) {
            size_t used;
            int r = link_feed(&c->l, c->buf + c->off, c->have - c->off, time_now_ms(), &used, f,
                              &c->out);
            c->off += used;
            client_send_out(c);
            if (r == LINK_EV_FRAME || r == LINK_EV_CLOSE) {
                size_t n = f->len < cap - 1 ? f->len : cap - 1;
                memcpy(ret_payload, f->payload, n);
                ret_payload[n] = '\0';
                return r;
            }
            if (r != LINK_EV_NONE)
                return r;
        }
        ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
        c->have = n > 0 ? (size_t)n : 0;
        c->off = 0;
        if (n <= 0)
            return 0;
    }
}

static void client_connect(struct client *c, const char *device, const char *hash_hex)
{
    uint8_t hash[SIGN_HASH_LEN], nonce[LINK_NONCE_LEN];
    c->have = c->off = 0;
    assert_int_equal(sign_hash_parse(hash_hex, hash), 0);
    sign_random(nonce, sizeof(nonce));
    dynbuf_init(&c->out, 1 << 16);
    assert_int_equal(link_client_init(&c->l, device, hash, nonce), 0);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)terminals_port(gw))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(link_client_hello(&c->l, &c->out), 0);
    client_send_out(c);
}

static void client_open(struct client *c, const char *device)
{
    struct link_frame f;
    char p[64];
    client_connect(c, device, FIXTURE_HASH);
    assert_int_equal(client_next(c, &f, p, sizeof(p)), LINK_EV_OPEN);
}

static void client_close(struct client *c)
{
    close(c->fd);
    link_free(&c->l);
    dynbuf_free(&c->out);
}

static int latest_seq(const char *device)
{
    char err[STORE_ERR_LEN];
    struct store *s;
    struct device_rec d;
    struct reading r;
    int seq = -1;
    if (store_open(db.url, &s, err))
        return -2;
    if (store_device_by_name(s, device, &d) == 0 && store_reading_latest(s, d.id, &r) == 0)
        seq = (int)r.seq;
    store_close(s);
    return seq;
}

static void wait_counter(uint64_t (*get)(const struct terminals_stats *), uint64_t want)
{
    struct terminals_stats ts;
    for (int k = 0; k < 500; k++) {
        terminals_get_stats(gw, &ts);
        if (get(&ts) >= want)
            return;
        usleep(10000);
    }
    fail_msg("counter stayed below %llu", (unsigned long long)want);
}

static int setup(void **state)
{
    (void)state;
    static const char *const devices[] = {"t1", "t2", "t3", NULL};
    static int64_t pks[3];
    if (sign_init() || sqlite_fixture_open(&db, "terminals", devices, pks))
        return -1;
    struct writer_options wo = {.db = sqlite_fixture_source(&db),
                                .queue_max = 1000,
                                .batch_max = 100,
                                .batch_wait_ms = 1,
                                .stats = &stats,
                                .publish = publish};
    if (writer_start(&wo, &w))
        return -1;
    struct terminals_options to = {.listen = "127.0.0.1:0",
                                   .db = sqlite_fixture_source(&db),
                                   .limits = {.max_payload_bytes = 65536, .max_batch = 100},
                                   .writer = w,
                                   .stats = &stats,
                                   .heartbeat_s = 1,
                                   .idle_s = 30};
    char err[256];
    if (terminals_start(&to, &gw, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    atomic_store(&route_to, gw);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    terminals_stop(gw);
    writer_stop(w, 2000);
    writer_free(w);
    atomic_store(&route_to, NULL);
    terminals_free(gw);
    sqlite_fixture_close(&db);
    return 0;
}

static void test_telemetry_is_acked_on_the_link_after_its_commit(void **state)
{
    (void)state;
    struct client c;
    struct link_frame f;
    char p[4200];
    client_open(&c, "t1");
    static const char reading[] =
        "[{\"seq\":1,\"ts\":1796630400000,\"voltage\":230,\"current\":1},"
        "{\"seq\":2,\"ts\":1796630401000,\"voltage\":\"x\",\"current\":1}]";
    assert_int_equal(link_send(&c.l, LINK_TELEMETRY, reading, strlen(reading), &c.out), 0);
    client_send_out(&c);
    assert_int_equal(client_next(&c, &f, p, sizeof(p)), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_ACK);
    /* The ACK came after the commit: seq 1 is there to read; 2 was refused. */
    assert_int_equal(latest_seq("t1"), 1);
    struct ack_msg *a = malloc(sizeof(*a));
    struct link_frame af = {.type = LINK_ACK, .payload = (const uint8_t *)p, .len = f.len};
    assert_int_equal(link_parse_ack(&af, a), 0);
    assert_int_equal(a->n_seqs, 1);
    assert_int_equal(a->seqs[0].first, 1);
    assert_int_equal(a->seqs[0].last, 2);
    assert_int_equal(a->n_rejected, 1);
    assert_int_equal(a->rejected[0].first, 2);
    free(a);
    client_close(&c);
}

static void test_commands_go_out_on_the_link_without_their_signature(void **state)
{
    (void)state;
    struct client c;
    struct link_frame f;
    char p[4200], signed_cmd[256];
    static const char cmd[] = "{\"id\":\"a1\",\"cmd\":\"relay\",\"state\":\"off\",\"ts\":1}";
    snprintf(signed_cmd, sizeof(signed_cmd), "%.*s,\"sig\":\"%064d\"}", (int)strlen(cmd) - 1, cmd,
             0);
    client_open(&c, "t2");
    assert_int_equal(terminals_route(gw, "meters/t2/cmd", signed_cmd, strlen(signed_cmd)), 0);
    assert_int_equal(client_next(&c, &f, p, sizeof(p)), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_COMMAND);
    assert_string_equal(p, cmd);
    /* A device without a link here, and topics that are not a device's: MQTT's. */
    assert_int_equal(terminals_route(gw, "meters/t3/cmd", cmd, strlen(cmd)), -ENOENT);
    assert_int_equal(terminals_route(gw, "$CONTROL/dynamic-security/v1", "{}", 2), -ENOENT);
    assert_int_equal(terminals_route(gw, "meters/t2/status", "{}", 2), -ENOENT);
    assert_int_equal(terminals_route(NULL, "meters/t2/cmd", cmd, strlen(cmd)), -ENOENT);
    /* An ack that is not one is refused, not sent. */
    assert_int_equal(terminals_route(gw, "meters/t2/ack", "{\"seqs\":[]}", 11), -EINVAL);
    client_close(&c);
}

static uint64_t closed_bad_crc(const struct terminals_stats *s)
{
    return s->closed[LINK_R_CRC];
}

static uint64_t closed_replaced(const struct terminals_stats *s)
{
    return s->closed[LINK_R_REPLACED];
}

static void test_a_bad_frame_closes_only_its_connection_with_its_reason(void **state)
{
    (void)state;
    struct client good, bad;
    struct link_frame f;
    char p[4200];
    struct terminals_stats before;
    terminals_get_stats(gw, &before);
    client_open(&good, "t3");
    client_connect(&bad, "t1", FIXTURE_HASH);
    /* bad's HELLO went out; now a frame with a broken CRC. */
    uint8_t junk[12] = {0x00, 0x0a, 0x01, 0x01, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(send(bad.fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    int r;
    do /* the CHALLENGE first, then the refusal */
        r = client_next(&bad, &f, p, sizeof(p));
    while (r == LINK_EV_NONE);
    assert_int_equal(r, LINK_EV_CLOSE);
    assert_int_equal((uint8_t)p[0], LINK_R_CRC);
    wait_counter(closed_bad_crc, before.closed[LINK_R_CRC] + 1);
    client_close(&bad);
    /* The other terminal is untouched. */
    static const char reading[] = "{\"seq\":7,\"ts\":1796630400000,\"voltage\":230,\"current\":1}";
    assert_int_equal(link_send(&good.l, LINK_TELEMETRY, reading, strlen(reading), &good.out), 0);
    client_send_out(&good);
    assert_int_equal(client_next(&good, &f, p, sizeof(p)), LINK_EV_FRAME);
    assert_int_equal(f.type, LINK_ACK);
    client_close(&good);
}

static void test_a_newer_connection_replaces_the_older(void **state)
{
    (void)state;
    struct client first, second;
    struct link_frame f;
    char p[4200];
    struct terminals_stats before;
    terminals_get_stats(gw, &before);
    client_open(&first, "t2");
    client_open(&second, "t2");
    assert_int_equal(client_next(&first, &f, p, sizeof(p)), LINK_EV_CLOSE);
    assert_int_equal((uint8_t)p[0], LINK_R_REPLACED);
    wait_counter(closed_replaced, before.closed[LINK_R_REPLACED] + 1);
    client_close(&first);
    /* Commands now go to the newer one. */
    static const char cmd[] = "{\"id\":\"a2\",\"cmd\":\"relay\",\"state\":\"on\",\"ts\":1}";
    assert_int_equal(terminals_route(gw, "meters/t2/cmd", cmd, strlen(cmd)), 0);
    assert_int_equal(client_next(&second, &f, p, sizeof(p)), LINK_EV_FRAME);
    assert_string_equal(p, cmd);
    client_close(&second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_telemetry_is_acked_on_the_link_after_its_commit),
        cmocka_unit_test(test_commands_go_out_on_the_link_without_their_signature),
        cmocka_unit_test(test_a_bad_frame_closes_only_its_connection_with_its_reason),
        cmocka_unit_test(test_a_newer_connection_replaces_the_older),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
