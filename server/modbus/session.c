/*
 * session: one Modbus TCP connection, framed and answered with libmodbus
 * (the only file that includes <modbus.h>). libmodbus reads a request as its
 * function code defines it; this file then holds the MBAP header to the
 * standard (protocol id 0, a length that matches what arrived) before
 * anything is answered, so a malformed frame closes its connection instead
 * of leaving the stream out of step.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <modbus.h>

#include "log.h"
#include "modbus_internal.h"
#include "timeutil.h"

#define MBAP_LEN      7                               /* transaction, protocol, length, unit */
#define MBAP_MAX_BODY (MODBUS_TCP_MAX_ADU_LENGTH - 6) /* the length field's largest value */
/* Between two bytes of one frame: a frame that stalls longer closes its connection. */
#define BYTE_TIMEOUT_US 500000
#define SEND_TIMEOUT_S  5

/* Functions libmodbus frames by their own layout; any other is read as header + code. */
static bool framed_by_libmodbus(int function)
{
    return (function >= 0x01 && function <= 0x06) || function == 0x0F || function == 0x10 ||
           function == 0x16 || function == 0x17;
}

/* Reads and drops n bytes a request carries past what libmodbus read: 0, or -1. */
static int drain(int fd, size_t n)
{
    uint8_t buf[MBAP_MAX_BODY];
    while (n > 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, BYTE_TIMEOUT_US / 1000) <= 0)
            return -1;
        ssize_t k = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), 0);
        if (k <= 0)
            return -1;
        n -= (size_t)k;
    }
    return 0;
}

/* 0 when req[0..len) is a well-formed request (after draining what its header announced). */
static int check_frame(int fd, const uint8_t *req, int len)
{
    if (len < MBAP_LEN + 1)
        return -1;
    unsigned protocol = ((unsigned)req[2] << 8) | req[3];
    unsigned body = ((unsigned)req[4] << 8) | req[5]; /* unit + PDU */
    unsigned have = (unsigned)len - 6;
    if (protocol != 0 || body < 2 || body > MBAP_MAX_BODY || body < have)
        return -1;
    if (body == have)
        return 0;
    /* Longer than what libmodbus read: only for a function it does not frame (refused below). */
    if (framed_by_libmodbus(req[7]))
        return -1;
    return drain(fd, body - have);
}

void modbus_session_run(struct modbus_server *s, int fd)
{
    struct timeval snd = {.tv_sec = SEND_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", MODBUS_TCP_DEFAULT_PORT);
    if (!ctx)
        return;
    modbus_set_socket(ctx, fd);
    modbus_set_indication_timeout(ctx, s->idle_s, 0);
    modbus_set_byte_timeout(ctx, 0, BYTE_TIMEOUT_US);

    struct store *st = NULL;
    uint16_t regs[MODBUS_READ_MAX];
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        int len = modbus_receive(ctx, req);
        if (len < 0) {
            if (errno == ETIMEDOUT)
                atomic_fetch_add(&s->timeouts, 1);
            else if (errno == EMBBADDATA || errno == EMBMDATA)
                atomic_fetch_add(&s->malformed, 1);
            break;
        }
        if (len == 0)
            continue; /* a request libmodbus ignores */
        if (check_frame(fd, req, len)) {
            atomic_fetch_add(&s->malformed, 1);
            log_debug("modbus: closing a connection after a malformed frame");
            break;
        }
        struct modbus_request q = {.unit = req[6], .function = req[7]};
        if (len >= MBAP_LEN + 5) {
            q.addr = (uint16_t)((req[8] << 8) | req[9]);
            q.count = (uint16_t)((req[10] << 8) | req[11]);
        }
        int ex = MBX_DEVICE_FAILURE, result = 0;
        if (!st) {
            char err[STORE_ERR_LEN];
            if (store_source_open(&s->db, &st, err)) {
                log_warn("modbus: no database connection: %s", err);
                st = NULL;
            }
        }
        if (st)
            ex = modbus_answer(s->units, st, &q, time_now_ms(), regs, &result);
        if (result == -ENOTCONN) {
            store_close(st);
            st = NULL;
        }
        int sent;
        if (ex) {
            atomic_fetch_add(&s->exceptions, 1);
            sent = modbus_reply_exception(ctx, req, (unsigned)ex);
        } else {
            modbus_mapping_t window = {.start_input_registers = q.addr,
                                       .nb_input_registers = q.count,
                                       .tab_input_registers = regs};
            sent = modbus_reply(ctx, req, len, &window);
        }
        atomic_fetch_add(&s->requests, 1);
        if (sent < 0)
            break;
    }
    store_close(st);
    modbus_free(ctx);
}
