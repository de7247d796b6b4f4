/* gateway: the DTU links, their registration, and the polls of the meters behind them (dtu.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device_meta.h"
#include "dtu.h"
#include "log.h"
#include "regmap.h"
#include "rtu.h"
#include "tcp_listen.h"
#include "timeutil.h"
#include "writer.h"

#define REG_MAX RTU_REGISTRATION_MAX
_Static_assert(RTU_REGISTRATION_MAX == DEVICE_META_DTU_ID_MAX, "a registration is a dtu_id");
#define QUIET_MS         200 /* the registration packet ends after this much silence */
#define DEVICES_PER_DTU  32  /* an RS-485 segment's unit loads */
#define DEVICES_MAX      100000
#define GAP_MAX          16 /* registers a read may span between two entries */
#define WRITE_TIMEOUT_MS 10000

struct bus_device {
    int64_t pk;
    char device_id[DEVICE_ID_MAX + 1];
    uint8_t unit;
    unsigned interval_s;
    const struct regmap *map;
    int64_t due_mono_ms;
};

struct link {
    struct dtu_gateway *g;
    int fd;
    unsigned slot;
    char reg[REG_MAX + 1];  /* written before the link is registered, then only read */
    atomic_bool registered; /* reg holds its registration */
    atomic_bool replaced;
};

struct dtu_gateway {
    int listen_fd, wake[2], port;
    pthread_t thread;
    struct store_source db;
    struct writer *writer;
    char heartbeat[REG_MAX + 1];
    size_t heartbeat_len;
    unsigned max_connections, register_timeout_ms, idle_s, response_timeout_ms, default_poll_s,
        reload_ms;

    pthread_mutex_t lock;
    pthread_cond_t drained;
    unsigned active;
    struct link **links; /* [max_connections] */
    bool stopping;

    atomic_uint_fast64_t connections, registered, refused, replaced, polls, readings, missed,
        timeouts, bad_crc, exceptions, mismatched;
};

/* --- one link ------------------------------------------------------------------------------ */

/* Reads what arrives within timeout_ms into buf[*n..cap): 1 read, 0 timed out, -1 closed. */
static int read_some(int fd, uint8_t *buf, size_t *n, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r == 0)
        return 0;
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (*n >= cap)
        return -1;
    ssize_t k = recv(fd, buf + *n, cap - *n, 0);
    if (k <= 0)
        return -1;
    *n += (size_t)k;
    return 1;
}

/* The registration packet: printable ASCII, CR/LF/NUL at its end dropped. 0, or -1. */
static int read_registration(struct dtu_gateway *g, int fd, char reg[REG_MAX + 1])
{
    uint8_t buf[REG_MAX + 8];
    size_t n = 0;
    if (read_some(fd, buf, &n, sizeof(buf), (int)g->register_timeout_ms) <= 0)
        return -1;
    int r;
    while ((r = read_some(fd, buf, &n, sizeof(buf), QUIET_MS)) > 0)
        ;
    if (r < 0 && n >= sizeof(buf))
        return -1;
    return rtu_registration(buf, n, reg);
}

struct collect {
    struct device_rec *items;
    size_t n;
};

/* The devices bound to reg with a unit, into dev[] (their due times kept by pk). */
static int load_devices(struct dtu_gateway *g, struct store *st, const char *reg,
                        struct bus_device *dev, size_t *n_dev)
{
    struct collect a = {0};
    int r = store_device_array(st, 0, DEVICES_MAX, &a.items, &a.n);
    struct bus_device next[DEVICES_PER_DTU];
    size_t n = 0;
    int64_t now = time_mono_ms();
    for (size_t i = 0; !r && i < a.n; i++) {
        struct device_meta m;
        r = store_device_meta_get(st, a.items[i].id, &m);
        if (r || !(m.present & DM_BIT(DM_DTU_ID)) || !(m.present & DM_BIT(DM_MODBUS_UNIT)) ||
            strcmp(m.dtu_id, reg))
            continue;
        if (n == DEVICES_PER_DTU) {
            log_warn("dtu %s: more than %d devices; %s not polled", reg, DEVICES_PER_DTU,
                     a.items[i].device_id);
            continue;
        }
        const char *map_name = (m.present & DM_BIT(DM_REGISTER_MAP)) ? m.register_map : "sdm630";
        const struct regmap *map = regmap_builtin(map_name);
        if (!map) {
            log_warn("dtu %s: %s names register map '%s', which this server does not have", reg,
                     a.items[i].device_id, map_name);
            continue;
        }
        struct bus_device *d = &next[n++];
        memset(d, 0, sizeof(*d));
        d->pk = a.items[i].id;
        memcpy(d->device_id, a.items[i].device_id, sizeof(d->device_id));
        d->unit = (uint8_t)m.modbus_unit;
        d->interval_s = (m.present & DM_BIT(DM_POLL_INTERVAL_S)) ? (unsigned)m.poll_interval_s
                                                                 : g->default_poll_s;
        d->map = map;
        d->due_mono_ms = now;
        for (size_t k = 0; k < *n_dev; k++)
            if (dev[k].pk == d->pk)
                d->due_mono_ms = dev[k].due_mono_ms;
    }
    free(a.items);
    if (r)
        return r;
    memcpy(dev, next, n * sizeof(*next));
    *n_dev = n;
    return 0;
}

/* Drops heartbeat packets that start at buf[from]: what arrived last (buf[from..*n)). */
static void drop_heartbeats(const struct dtu_gateway *g, uint8_t *buf, size_t from, size_t *n)
{
    while (g->heartbeat_len && *n - from >= g->heartbeat_len &&
           !memcmp(buf + from, g->heartbeat, g->heartbeat_len)) {
        memmove(buf + from, buf + from + g->heartbeat_len, *n - from - g->heartbeat_len);
        *n -= g->heartbeat_len;
    }
}

/* One read, retried once: 0 with regs, -1 failed (counted), -2 the link is gone. *heard is set
   when any byte came back. */
static int read_block(struct dtu_gateway *g, int fd, const struct bus_device *d,
                      const struct rtu_block *b, uint16_t *regs, bool *heard)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t req[RTU_REQUEST_LEN];
        rtu_read_request(d->unit, (uint8_t)d->map->function, b->addr, b->count, req);
        if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
            return -2;
        uint8_t buf[RTU_RESPONSE_MAX + REG_MAX];
        size_t n = 0;
        int64_t deadline = time_mono_ms() + g->response_timeout_ms;
        enum rtu_status st = RTU_MORE;
        int ex = 0;
        while (st == RTU_MORE) {
            int64_t left = deadline - time_mono_ms();
            size_t from = n;
            int r = left > 0 ? read_some(fd, buf, &n, sizeof(buf), (int)left) : 0;
            if (r < 0)
                return -2;
            if (r == 0)
                break;
            *heard = true;
            drop_heartbeats(g, buf, from, &n);
            st = rtu_read_response(buf, n, d->unit, (uint8_t)d->map->function, b->count, regs, &ex);
        }
        switch (st) {
        case RTU_OK:
            return 0;
        case RTU_MORE:
            atomic_fetch_add(&g->timeouts, 1);
            break;
        case RTU_BAD_CRC:
            atomic_fetch_add(&g->bad_crc, 1);
            break;
        case RTU_EXCEPTION:
            atomic_fetch_add(&g->exceptions, 1);
            log_debug("dtu: %s answered exception %d at 0x%04X", d->device_id, ex, b->addr);
            return -1; /* asking again gets the same answer */
        case RTU_MISMATCH:
            atomic_fetch_add(&g->mismatched, 1);
            break;
        }
        /* Whatever else is in flight is stale: let it arrive and drop it. */
        uint8_t junk[RTU_RESPONSE_MAX];
        size_t jn = 0;
        while (read_some(fd, junk, &jn, sizeof(junk), 50) > 0)
            jn = 0;
    }
    return -1;
}

/* The mean of the phases present of three fields, into to when the reading lacks it. */
static void fill_mean(struct reading *r, enum reading_real to, enum reading_real a)
{
    if (reading_has_real(r, to))
        return;
    double sum = 0;
    int k = 0;
    for (int p = 0; p < 3; p++)
        if (reading_has_real(r, (enum reading_real)(a + p))) {
            sum += r->real[a + p];
            k++;
        }
    if (k)
        reading_set_real(r, to, sum / k);
}

/* Polls one device: 0 stored (or a missed poll counted), -2 the link is gone. *heard as
   read_block() sets it. */
static int poll_device(struct dtu_gateway *g, int fd, const struct bus_device *d, bool *heard)
{
    atomic_fetch_add(&g->polls, 1);
    struct rtu_block blocks[RTU_BLOCKS_MAX];
    size_t nb = rtu_plan(d->map, GAP_MAX, blocks);
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.ts_ms = time_now_ms();
    bool ok = nb > 0;
    for (size_t i = 0; ok && i < nb; i++) {
        uint16_t regs[RTU_READ_MAX];
        int rr = read_block(g, fd, d, &blocks[i], regs, heard);
        if (rr == -2)
            return -2;
        ok = rr == 0;
        if (ok)
            regmap_decode(d->map, blocks[i].addr, regs, blocks[i].count, &r);
    }
    if (ok) {
        /* A three-phase meter's aggregates, as meterd sends them (docs/protocol.md). */
        fill_mean(&r, RR_VOLTAGE, RR_VOLTAGE_A);
        fill_mean(&r, RR_CURRENT, RR_CURRENT_A);
        ok = reading_has_real(&r, RR_VOLTAGE) && reading_has_real(&r, RR_CURRENT);
    }
    if (!ok) {
        atomic_fetch_add(&g->missed, 1);
        return 0;
    }
    size_t inserted = 0;
    int w = writer_submit_wait(g->writer, d->pk, &r, 1, &inserted, WRITE_TIMEOUT_MS);
    if (w && w != -ERANGE) {
        log_warn("dtu: a reading of %s was not stored: %s", d->device_id, strerror(-w));
        atomic_fetch_add(&g->missed, 1);
    } else {
        atomic_fetch_add(&g->readings, inserted);
    }
    return 0;
}

static void set_status(struct store *st, const struct bus_device *dev, size_t n, bool online)
{
    for (size_t i = 0; st && i < n; i++)
        store_device_set_status(
            st, dev[i].pk, online ? DEVICE_STATUS_ONLINE : DEVICE_STATUS_OFFLINE, time_now_ms());
}

/* Serves a registered link until it ends. */
static void serve(struct dtu_gateway *g, struct link *l)
{
    struct store *st = NULL;
    char err[STORE_ERR_LEN];
    struct bus_device dev[DEVICES_PER_DTU];
    size_t n_dev = 0;
    int64_t reload_at = 0, last_rx = time_mono_ms();
    for (;;) {
        int64_t now = time_mono_ms();
        if (now >= reload_at) {
            if (!st && store_source_open(&g->db, &st, err)) {
                log_warn("dtu %s: no database connection: %s", l->reg, err);
                st = NULL;
            }
            size_t before = n_dev;
            if (st && load_devices(g, st, l->reg, dev, &n_dev) == 0) {
                if (before == 0 && n_dev > 0)
                    set_status(st, dev, n_dev, true);
            } else if (st) {
                store_close(st);
                st = NULL;
            }
            reload_at = now + g->reload_ms;
        }
        int64_t next = reload_at;
        for (size_t i = 0; i < n_dev; i++)
            if (dev[i].due_mono_ms < next)
                next = dev[i].due_mono_ms;
        int64_t idle_at = last_rx + (int64_t)g->idle_s * 1000;
        if (idle_at < next)
            next = idle_at;
        /* Between polls anything the DTU sends is a heartbeat. */
        uint8_t hb[256];
        size_t hn = 0;
        int r = read_some(l->fd, hb, &hn, sizeof(hb), (int)(next - now));
        if (r < 0)
            break;
        now = time_mono_ms();
        if (r > 0) {
            last_rx = now;
            continue;
        }
        if (now >= idle_at) {
            log_info("dtu %s: silent for %u s, closing", l->reg, g->idle_s);
            break;
        }
        bool gone = false;
        for (size_t i = 0; !gone && i < n_dev; i++) {
            if (dev[i].due_mono_ms > now)
                continue;
            dev[i].due_mono_ms = now + (int64_t)dev[i].interval_s * 1000;
            bool heard = false;
            gone = poll_device(g, l->fd, &dev[i], &heard) == -2;
            if (heard) /* a DTU whose meters never answer and that sends no heartbeat goes idle */
                last_rx = time_mono_ms();
        }
        if (gone)
            break;
    }
    if (!atomic_load(&l->replaced))
        set_status(st, dev, n_dev, false);
    store_close(st);
}

static void *link_main(void *arg)
{
    struct link *l = arg;
    struct dtu_gateway *g = l->g;
    bool ok = read_registration(g, l->fd, l->reg) == 0;
    if (ok) {
        pthread_mutex_lock(&g->lock);
        for (unsigned i = 0; i < g->max_connections; i++) {
            struct link *o = g->links[i];
            if (o && o != l && atomic_load(&o->registered) && !atomic_load(&o->replaced) &&
                !strcmp(o->reg, l->reg)) {
                atomic_store(&o->replaced, true);
                shutdown(o->fd, SHUT_RDWR);
                atomic_fetch_add(&g->replaced, 1);
                log_info("dtu %s: registered again, the older link closed", l->reg);
            }
        }
        atomic_store(&l->registered, true);
        pthread_mutex_unlock(&g->lock);
        atomic_fetch_add(&g->registered, 1);
        log_info("dtu %s: registered", l->reg);
        serve(g, l);
        struct dtu_counters k;
        dtu_counters(g, &k);
        log_info("dtu %s: link closed (gateway so far: polls %llu, readings %llu, missed %llu, "
                 "timeouts %llu, bad CRC %llu, exceptions %llu, replaced %llu)",
                 l->reg, (unsigned long long)k.polls, (unsigned long long)k.readings,
                 (unsigned long long)k.missed, (unsigned long long)k.timeouts,
                 (unsigned long long)k.bad_crc, (unsigned long long)k.exceptions,
                 (unsigned long long)k.replaced);
    } else {
        atomic_fetch_add(&g->refused, 1);
        log_info("dtu: a connection sent no usable registration packet, closed");
    }
    pthread_mutex_lock(&g->lock);
    g->links[l->slot] = NULL;
    close(l->fd);
    if (--g->active == 0)
        pthread_cond_broadcast(&g->drained);
    pthread_mutex_unlock(&g->lock);
    free(l);
    return NULL;
}

/* --- the listener ---------------------------------------------------------------------------- */

static void admit(struct dtu_gateway *g, int fd)
{
    struct link *l = calloc(1, sizeof(*l));
    pthread_mutex_lock(&g->lock);
    unsigned slot = 0;
    while (slot < g->max_connections && g->links[slot])
        slot++;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (l && !g->stopping && slot < g->max_connections) {
        l->g = g;
        l->fd = fd;
        l->slot = slot;
        if (!pthread_create(&t, &attr, link_main, l)) {
            g->links[slot] = l;
            g->active++;
            pthread_mutex_unlock(&g->lock);
            pthread_attr_destroy(&attr);
            atomic_fetch_add(&g->connections, 1);
            return;
        }
    }
    pthread_mutex_unlock(&g->lock);
    pthread_attr_destroy(&attr);
    atomic_fetch_add(&g->refused, 1);
    close(fd);
    free(l);
}

static void *listener_main(void *arg)
{
    struct dtu_gateway *g = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = g->listen_fd, .events = POLLIN},
                              {.fd = g->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                poll(NULL, 0, 100);
            continue;
        }
        admit(g, fd);
    }
    return NULL;
}

static void gateway_free(struct dtu_gateway *g)
{
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->wake[0] >= 0)
        close(g->wake[0]);
    if (g->wake[1] >= 0)
        close(g->wake[1]);
    store_source_clear(&g->db);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->drained);
    free(g->links);
    free(g);
}

int dtu_check(const char *listen, char *err, size_t errlen)
{
    return tcp_listen_check("dtu_listen", listen, err, errlen);
}

int dtu_start(const struct dtu_options *o, struct dtu_gateway **ret, char *err, size_t errlen)
{
    size_t hb_len = o->heartbeat ? strlen(o->heartbeat) : 0;
    if (!o->writer || hb_len > REG_MAX) {
        snprintf(err, errlen, "dtu: bad options (a writer, a heartbeat of at most %d characters)",
                 REG_MAX);
        return -EINVAL;
    }
    struct dtu_gateway *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "dtu: out of memory");
        return -ENOMEM;
    }
    g->listen_fd = g->wake[0] = g->wake[1] = -1;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->drained, NULL);
    g->writer = o->writer;
    memcpy(g->heartbeat, o->heartbeat ? o->heartbeat : "", hb_len + 1);
    g->heartbeat_len = hb_len;
    g->max_connections = o->max_connections ? o->max_connections : 1000;
    g->register_timeout_ms = o->register_timeout_ms ? o->register_timeout_ms : 10000;
    g->idle_s = o->idle_s ? o->idle_s : 300;
    g->response_timeout_ms = o->response_timeout_ms ? o->response_timeout_ms : 1000;
    g->default_poll_s = o->default_poll_s ? o->default_poll_s : 60;
    g->reload_ms = o->reload_ms ? o->reload_ms : 30000;
    int r = store_source_copy(&g->db, &o->db);
    if (r) {
        snprintf(err, errlen, "dtu: %s", r == -EINVAL ? "no database" : "out of memory");
        goto fail;
    }
    g->links = calloc(g->max_connections, sizeof(*g->links));
    if (!g->links || pipe2(g->wake, O_CLOEXEC)) {
        r = -ENOMEM;
        snprintf(err, errlen, "dtu: out of memory");
        goto fail;
    }
    r = tcp_listen("dtu_listen", o->listen, 128, false, &g->listen_fd, &g->port, err, errlen);
    if (r)
        goto fail;
    r = -pthread_create(&g->thread, NULL, listener_main, g);
    if (r) {
        snprintf(err, errlen, "dtu: cannot start its thread: %s", strerror(-r));
        goto fail;
    }
    *ret = g;
    return 0;
fail:
    gateway_free(g);
    return r;
}

int dtu_port(const struct dtu_gateway *g)
{
    return g ? g->port : 0;
}

void dtu_counters(const struct dtu_gateway *g, struct dtu_counters *ret)
{
    *ret = (struct dtu_counters){
        .connections = atomic_load(&g->connections),
        .registered = atomic_load(&g->registered),
        .refused = atomic_load(&g->refused),
        .replaced = atomic_load(&g->replaced),
        .polls = atomic_load(&g->polls),
        .readings = atomic_load(&g->readings),
        .missed = atomic_load(&g->missed),
        .timeouts = atomic_load(&g->timeouts),
        .bad_crc = atomic_load(&g->bad_crc),
        .exceptions = atomic_load(&g->exceptions),
        .mismatched = atomic_load(&g->mismatched),
    };
}

void dtu_stop(struct dtu_gateway *g)
{
    if (!g)
        return;
    char b = 1;
    if (write(g->wake[1], &b, 1) != 1)
        log_warn("dtu: cannot wake the listener: %s", strerror(errno));
    pthread_join(g->thread, NULL);
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    for (unsigned i = 0; i < g->max_connections; i++)
        if (g->links[i])
            shutdown(g->links[i]->fd, SHUT_RDWR);
    while (g->active > 0)
        pthread_cond_wait(&g->drained, &g->lock);
    pthread_mutex_unlock(&g->lock);
    gateway_free(g);
}
