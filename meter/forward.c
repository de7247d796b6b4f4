#include "forward.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SENDS_PER_TICK 16 /* bounds the work of one forward_tick() */
/* The resend timeout backs off to at most this many times ack_timeout. */
#define RTO_MAX_FACTOR 16

struct flight {
    uint64_t first, last; /* seqs the messages carried (acked ones included) */
    int64_t sent_ms;      /* of the first message */
    uint32_t n;           /* readings in it */
    bool live;            /* consecutive live readings, one message each */
};

struct forward {
    struct forward_config cfg;
    struct spool *spool;
    forward_send_fn send;
    void *send_ctx;
    bool connected;
    uint64_t generation;
    /* The backlog: unacknowledged readings in [cursor, backlog_end] are to be (re)sent;
       none when cursor > backlog_end. */
    uint64_t cursor, backlog_end;
    double tokens;
    int64_t refill_ms;
    struct flight *fl; /* ring of sent, unacknowledged messages, oldest first */
    size_t fl_head, fl_len;
    uint64_t inflight;
    struct reading *batch;
    struct forward_stats st;
    /* When to give up waiting for an ack (like TCP's retransmission timeout): at least
       ack_timeout, four times the smoothed ack delay, doubled at every expiry. */
    int64_t rto_ms;
    double srtt_ms; /* smoothed delay from send to ack; 0 before the first */
};

int forward_new(const struct forward_config *cfg, struct spool *spool, forward_send_fn send,
                void *send_ctx, struct forward **ret)
{
    if (cfg->ack_timeout_ms < 1 || cfg->backlog_batch < 1 || cfg->backlog_rate < 1 ||
        cfg->max_inflight < 1 || !spool || !send)
        return -EINVAL;
    struct forward *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->fl = calloc(cfg->max_inflight, sizeof(*f->fl));
    f->batch = calloc(cfg->backlog_batch, sizeof(*f->batch));
    if (!f->fl || !f->batch) {
        forward_free(f);
        return -ENOMEM;
    }
    f->cfg = *cfg;
    f->spool = spool;
    f->send = send;
    f->send_ctx = send_ctx;
    f->cursor = spool_first_unacked(spool);
    f->backlog_end = spool_newest_seq(spool);
    f->rto_ms = cfg->ack_timeout_ms;
    *ret = f;
    return 0;
}

void forward_free(struct forward *f)
{
    if (!f)
        return;
    free(f->fl);
    free(f->batch);
    free(f);
}

static bool backlog_active(const struct forward *f)
{
    return f->cursor <= f->backlog_end;
}

/* Puts first..last into the backlog. */
static void backlog_include(struct forward *f, uint64_t first, uint64_t last)
{
    if (!backlog_active(f)) {
        f->cursor = first;
        f->backlog_end = last;
        return;
    }
    if (first < f->cursor)
        f->cursor = first;
    if (last > f->backlog_end)
        f->backlog_end = last;
}

static struct flight *fl_at(struct forward *f, size_t k)
{
    return &f->fl[(f->fl_head + k) % f->cfg.max_inflight];
}

/*
 * Records a sent message. Consecutive live readings sent within a quarter of
 * the ack timeout share one flight, so what times out together is resent
 * together in one array (a reading may then be resent up to a quarter of the
 * timeout early: a duplicate at worst).
 */
static void fl_push(struct forward *f, uint64_t first, uint64_t last, uint32_t n, bool live,
                    int64_t now_ms)
{
    f->inflight += n;
    if (live && f->fl_len) {
        struct flight *t = fl_at(f, f->fl_len - 1);
        if (t->live && t->last + 1 == first && t->n < f->cfg.backlog_batch &&
            now_ms - t->sent_ms < f->cfg.ack_timeout_ms / 4) {
            t->last = last;
            t->n += n;
            return;
        }
    }
    *fl_at(f, f->fl_len) = (struct flight){first, last, now_ms, n, live};
    f->fl_len++;
}

/* Keeps only the flights keep() approves, in order. */
static void fl_filter(struct forward *f, bool (*keep)(struct forward *, const struct flight *))
{
    size_t out = 0;
    for (size_t k = 0; k < f->fl_len; k++) {
        struct flight fl = *fl_at(f, k);
        if (keep(f, &fl))
            *fl_at(f, out++) = fl;
        else
            f->inflight -= fl.n;
    }
    f->fl_len = out;
}

static bool keep_unacked(struct forward *f, const struct flight *fl)
{
    return !spool_acked(f->spool, fl->first, fl->last);
}

static bool keep_outside_backlog(struct forward *f, const struct flight *fl)
{
    return !(backlog_active(f) && fl->first >= f->cursor && fl->last <= f->backlog_end);
}

void forward_link(struct forward *f, bool connected, uint64_t generation, int64_t now_ms)
{
    if (!connected) {
        f->connected = false;
        return;
    }
    if (f->connected && generation == f->generation)
        return;
    f->connected = true;
    f->generation = generation;
    /* A new session: whatever was in flight is resent from the oldest unacknowledged. */
    f->fl_head = f->fl_len = 0;
    f->inflight = 0;
    uint64_t first = spool_first_unacked(f->spool), newest = spool_newest_seq(f->spool);
    f->cursor = first;
    f->backlog_end = newest;
    f->tokens = f->cfg.backlog_batch;
    f->refill_ms = now_ms;
    if (first <= newest)
        log_info("link up: resending unacknowledged readings from seq %" PRIu64 " to %" PRIu64,
                 first, newest);
}

void forward_live(struct forward *f, const struct reading *r, int64_t now_ms)
{
    bool was_idle = !backlog_active(f);
    if (f->connected && f->fl_len < f->cfg.max_inflight) {
        int ret = f->send(f->send_ctx, r, 1, false);
        if (ret == 0) {
            fl_push(f, r->seq, r->seq, 1, true, now_ms);
            f->st.live++;
            if (was_idle) { /* keep the idle backlog just behind the live edge */
                f->backlog_end = r->seq;
                f->cursor = r->seq + 1;
            }
            return;
        }
        f->st.send_errors++;
    }
    backlog_include(f, r->seq, r->seq);
}

static int64_t rto_cap(const struct forward *f)
{
    return f->cfg.ack_timeout_ms * RTO_MAX_FACTOR;
}

/* A flight was acknowledged delay_ms after it was sent: the timeout follows the delay, so a
   server working through a long queue is not flooded with copies of what it already holds. */
static void rtt_sample(struct forward *f, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    f->srtt_ms = f->srtt_ms > 0 ? 0.875 * f->srtt_ms + 0.125 * (double)delay_ms : (double)delay_ms;
    int64_t rto = (int64_t)(4.0 * f->srtt_ms);
    if (rto < f->cfg.ack_timeout_ms)
        rto = f->cfg.ack_timeout_ms;
    if (rto > rto_cap(f))
        rto = rto_cap(f);
    f->rto_ms = rto;
}

void forward_ack(struct forward *f, const struct ack_msg *a, int64_t now_ms)
{
    for (size_t k = 0; k < a->n_seqs; k++)
        spool_ack(f->spool, a->seqs[k].first, a->seqs[k].last);
    /* The newest flight this ack completed tells how long acks take now. */
    for (size_t k = f->fl_len; k-- > 0;) {
        const struct flight *fl = fl_at(f, k);
        if (spool_acked(f->spool, fl->first, fl->last)) {
            rtt_sample(f, now_ms - fl->sent_ms);
            break;
        }
    }
    for (size_t k = 0; k < a->n_rejected; k++) {
        uint64_t n = a->rejected[k].last - a->rejected[k].first + 1;
        f->st.rejected += n;
        log_warn("the server refused %" PRIu64 " readings as invalid (seq %" PRIu64 "..%" PRIu64
                 "); %" PRIu64 " refused so far",
                 n, a->rejected[k].first, a->rejected[k].last, f->st.rejected);
    }
    fl_filter(f, keep_unacked);
}

/* Moves flights older than the ack timeout back into the backlog. */
static void expire(struct forward *f, int64_t now_ms)
{
    bool expired = false;
    while (f->fl_len) {
        struct flight *fl = fl_at(f, 0);
        if (now_ms - fl->sent_ms < f->rto_ms)
            break;
        if (!spool_acked(f->spool, fl->first, fl->last)) {
            if (!expired)
                log_info("no ack for seq %" PRIu64 "..%" PRIu64 " within %" PRId64 " ms: resending",
                         fl->first, fl->last, f->rto_ms);
            f->st.timeouts++;
            backlog_include(f, fl->first, fl->last);
            expired = true;
        }
        f->inflight -= fl->n;
        f->fl_head = (f->fl_head + 1) % f->cfg.max_inflight;
        f->fl_len--;
    }
    /* Flights the backlog now covers are resent with it; the next resend waits twice as long
       (up to RTO_MAX_FACTOR x ack_timeout) unless acks show the server is keeping up. */
    if (expired) {
        fl_filter(f, keep_outside_backlog);
        f->rto_ms = f->rto_ms > rto_cap(f) / 2 ? rto_cap(f) : 2 * f->rto_ms;
    }
}

void forward_tick(struct forward *f, int64_t now_ms)
{
    expire(f, now_ms);
    if (!f->connected)
        return;
    if (now_ms > f->refill_ms) {
        f->tokens += (double)f->cfg.backlog_rate * (double)(now_ms - f->refill_ms) / 1000.0;
        if (f->tokens > f->cfg.backlog_batch)
            f->tokens = f->cfg.backlog_batch;
    }
    f->refill_ms = now_ms;
    for (int k = 0; k < SENDS_PER_TICK && backlog_active(f); k++) {
        if (f->tokens < f->cfg.backlog_batch || f->fl_len >= f->cfg.max_inflight ||
            f->inflight >= f->cfg.max_inflight)
            break;
        size_t max = f->cfg.backlog_batch;
        if (max > f->cfg.max_inflight - f->inflight)
            max = (size_t)(f->cfg.max_inflight - f->inflight);
        size_t n = 0;
        uint64_t next = f->cursor;
        int r = spool_read(f->spool, f->cursor, f->backlog_end, f->batch, max, &n, &next);
        if (r) {
            log_error("spool: cannot read the backlog at seq %" PRIu64 ": %s", f->cursor,
                      strerror(-r));
            break;
        }
        if (n == 0) {
            f->cursor = next; /* nothing unacknowledged left in the backlog */
            continue;
        }
        if (f->send(f->send_ctx, f->batch, n, true)) {
            f->st.send_errors++;
            break;
        }
        fl_push(f, f->batch[0].seq, f->batch[n - 1].seq, (uint32_t)n, false, now_ms);
        f->st.resent += n;
        f->tokens -= (double)n;
        f->cursor = next;
    }
}

void forward_get_stats(const struct forward *f, struct forward_stats *ret)
{
    *ret = f->st;
    ret->inflight = f->inflight;
    ret->backlog_active = backlog_active(f);
}
