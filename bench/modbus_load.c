/*
 * bench_modbus_load: reads a Modbus TCP server as a SCADA poller does, as
 * fast as it answers (bench/grid.sh, bench/README.md "Grid ports").
 *
 *   bench_modbus_load --port P [--host H] [--units N] [--connections C]
 *                     [--seconds S] [--address A] [--count R]
 *
 * Each of C connections (one thread each) sends a Read Input Registers
 * (function 04) of R registers from A for unit 1, 2 .. N in turn, waits for
 * the answer and sends the next. Prints one line:
 *   reads=... exceptions=... errors=... seconds=... rate=... p50_ms=... p99_ms=...
 * where rate is answered reads (exceptions included) per second. A read
 * answered with an exception or a malformed answer counts apart; a broken
 * connection ends that thread (errors). Only loopback addresses are targets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64
#define MAX_REGISTERS   125 /* Modbus: at most 125 registers a read */
#define LAT_MAX         (1u << 20)

static struct {
    const char *host;
    int port, units, connections, seconds, address, count;
} o = {"127.0.0.1", 0, 100, 4, 10, 0, 80};

static atomic_uint_fast64_t reads, exceptions, errors;
static uint32_t lat_us[MAX_CONNECTIONS][LAT_MAX / MAX_CONNECTIONS];
static size_t n_lat[MAX_CONNECTIONS];
static int64_t deadline_us;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool io_all(int fd, void *buf, size_t len, bool out)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void *run(void *arg)
{
    int k = (int)(intptr_t)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    inet_pton(AF_INET, o.host, &sa.sin_addr);
    int one = 1;
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        atomic_fetch_add(&errors, 1);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint16_t tid = 0;
    int unit = 1 + k % o.units;
    while (now_us() < deadline_us) {
        uint8_t q[12] = {0};
        tid++;
        q[0] = (uint8_t)(tid >> 8), q[1] = (uint8_t)tid;
        q[5] = 6; /* length: unit + PDU */
        q[6] = (uint8_t)unit;
        q[7] = 0x04;
        q[8] = (uint8_t)(o.address >> 8), q[9] = (uint8_t)o.address;
        q[10] = (uint8_t)(o.count >> 8), q[11] = (uint8_t)o.count;
        int64_t t0 = now_us();
        uint8_t h[9];
        if (!io_all(fd, q, sizeof(q), true) || !io_all(fd, h, sizeof(h), false)) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        size_t len = ((size_t)h[4] << 8) | h[5];
        if (h[0] != q[0] || h[1] != q[1] || len < 3 || len > 3 + 2 * MAX_REGISTERS) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        uint8_t rest[2 * MAX_REGISTERS];
        if (!io_all(fd, rest, len - 3, false)) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        if (h[7] & 0x80)
            atomic_fetch_add(&exceptions, 1);
        else if (h[7] != 0x04 || h[8] != 2 * o.count || len != 3 + 2 * (size_t)o.count) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        atomic_fetch_add(&reads, 1);
        if (n_lat[k] < LAT_MAX / MAX_CONNECTIONS)
            lat_us[k][n_lat[k]++] = (uint32_t)(now_us() - t0);
        unit = unit % o.units + 1;
    }
    close(fd);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int parse_int(const char *name, const char *s, int min, int max, int *ret)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < min || v > max) {
        fprintf(stderr, "bench_modbus_load: %s must be %d..%d\n", name, min, max);
        return -1;
    }
    *ret = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},
                                         {"units", 1, 0, 'u'},   {"connections", 1, 0, 'c'},
                                         {"seconds", 1, 0, 's'}, {"address", 1, 0, 'a'},
                                         {"count", 1, 0, 'n'},   {0, 0, 0, 0}};
    int ch, bad = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o.host = optarg;
            break;
        case 'p':
            bad |= parse_int("--port", optarg, 1, 65535, &o.port);
            break;
        case 'u':
            bad |= parse_int("--units", optarg, 1, 247, &o.units);
            break;
        case 'c':
            bad |= parse_int("--connections", optarg, 1, MAX_CONNECTIONS, &o.connections);
            break;
        case 's':
            bad |= parse_int("--seconds", optarg, 1, 600, &o.seconds);
            break;
        case 'a':
            bad |= parse_int("--address", optarg, 0, 65535, &o.address);
            break;
        case 'n':
            bad |= parse_int("--count", optarg, 1, MAX_REGISTERS, &o.count);
            break;
        default:
            bad = 1;
        }
    }
    struct in_addr a;
    if (bad || !o.port || inet_pton(AF_INET, o.host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
        fprintf(stderr, "usage: bench_modbus_load --port P [--host 127.x.y.z] [--units N] "
                        "[--connections C] [--seconds S] [--address A] [--count R]\n");
        return 2;
    }
    pthread_t th[MAX_CONNECTIONS];
    int64_t t0 = now_us();
    deadline_us = t0 + (int64_t)o.seconds * 1000000;
    for (int k = 0; k < o.connections; k++)
        if (pthread_create(&th[k], NULL, run, (void *)(intptr_t)k)) {
            fprintf(stderr, "bench_modbus_load: cannot start a thread\n");
            return 1;
        }
    for (int k = 0; k < o.connections; k++)
        pthread_join(th[k], NULL);
    double secs = (double)(now_us() - t0) / 1e6;
    size_t n = 0;
    for (int k = 0; k < o.connections; k++)
        n += n_lat[k];
    uint32_t *all = malloc((n ? n : 1) * sizeof(*all));
    if (!all)
        return 1;
    size_t m = 0;
    for (int k = 0; k < o.connections; k++) {
        memcpy(all + m, lat_us[k], n_lat[k] * sizeof(*all));
        m += n_lat[k];
    }
    qsort(all, n, sizeof(*all), cmp_u32);
    printf("reads=%llu exceptions=%llu errors=%llu seconds=%.2f rate=%.0f p50_ms=%.2f "
           "p99_ms=%.2f\n",
           (unsigned long long)reads, (unsigned long long)exceptions, (unsigned long long)errors,
           secs, (double)reads / secs, n ? all[n / 2] / 1000.0 : 0.0,
           n ? all[(n * 99) / 100] / 1000.0 : 0.0);
    free(all);
    return errors ? 1 : 0;
}
