#include "charge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "wallclock.h"

/* Products of energy and time need 128 bits: up to 10^18 mWh times 400 days in ms. */
__extension__ typedef __int128 i128;

/* How far back a delta of the same key is looked for before a new one is started. Slices
 * come in time order and a key holds one hour, so its slices are never further apart. */
#define MERGE_WINDOW 32

void charge_result_init(struct charge_result *res)
{
    memset(res, 0, sizeof(*res));
}

void charge_result_free(struct charge_result *res)
{
    if (!res)
        return;
    free(res->delta);
    free(res->event);
    free(res->slice);
    charge_result_init(res);
}

const char *charge_event_name(enum charge_event_kind kind)
{
    switch (kind) {
    case CHARGE_EV_BASELINE:
        return "baseline";
    case CHARGE_EV_EXCHANGE:
        return "exchange";
    case CHARGE_EV_GAP_BRIDGED:
        return "gap_bridged";
    case CHARGE_EV_UNBILLABLE:
        return "unbillable";
    }
    return "?";
}

void charge_declare_exchange(struct charge_state *st)
{
    st->exchange_next = true;
}

bool charge_version_allowed(const struct charge_state *st, int64_t effective_from_ms)
{
    return !st->started || effective_from_ms > st->ts_ms;
}

static bool same_key(const struct charge_delta *a, const struct charge_delta *b)
{
    return a->hour_ms == b->hour_ms && a->version_ms == b->version_ms && a->period == b->period;
}

/* Grows *arr (of size elements) to hold want, never past max. 0, -ENOMEM or -E2BIG. */
static int reserve(void **arr, size_t *cap, size_t want, size_t size, size_t max)
{
    if (want <= *cap)
        return 0;
    if (want > max)
        return -E2BIG;
    size_t n = *cap ? *cap : 64;
    while (n < want)
        n *= 2;
    if (n > max)
        n = max;
    void *p = realloc(*arr, n * size);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

/* Adds e mWh consumed in [from, to] at quote q to the span's slices. -ERANGE when its price
 * cannot be carried in int64 nanofen together with a remainder. */
static int add_slice(struct charge_result *res, int64_t from, int64_t to,
                     const struct tariff_quote *q, int64_t e)
{
    struct charge_delta d = {
        .hour_ms = wallclock_hour_start(from),
        .version_ms = q->version ? q->version->effective_from_ms : CHARGE_UNPRICED,
        .period = q->version ? q->period : 0,
        .label = q->version ? q->version->period[q->period].label : TARIFF_LABEL_NONE,
        .price = q->price,
        .energy_mwh = e,
        .first_ms = from,
        .last_ms = to,
    };
    if (__builtin_mul_overflow(e, q->price, &d.amount_nfen) ||
        d.amount_nfen > INT64_MAX - CHARGE_NANOFEN_PER_FEN)
        return -ERANGE;
    if (res->n_slice > 0) {
        struct charge_delta *last = &res->slice[res->n_slice - 1];
        if (same_key(last, &d)) {
            /* Both are parts of one span of at most its energy and price: no overflow
             * past the span's own checked total, which the caller checks next. */
            if (__builtin_add_overflow(last->energy_mwh, e, &last->energy_mwh) ||
                __builtin_add_overflow(last->amount_nfen, d.amount_nfen, &last->amount_nfen) ||
                last->amount_nfen > INT64_MAX - CHARGE_NANOFEN_PER_FEN)
                return -ERANGE;
            last->last_ms = to;
            return 0;
        }
    }
    int r = reserve((void **)&res->slice, &res->cap_slice, res->n_slice + 1, sizeof(d),
                    CHARGE_MAX_DELTAS);
    if (r)
        return r == -E2BIG ? -ERANGE : r;
    res->slice[res->n_slice++] = d;
    return 0;
}

/*
 * Cuts the energy e_mwh (> 0) consumed from a_ms to b_ms (>= a_ms) into slices of one
 * hour, version and period each: up to instant x, floor(e * (x - a) / (b - a)) mWh.
 */
static int slice_span(struct charge_result *res, const struct tariff *v, size_t nv, int64_t a_ms,
                      int64_t b_ms, int64_t e_mwh)
{
    struct tariff_quote q;
    res->n_slice = 0;
    if (b_ms == a_ms) {
        tariff_quote_at(v, nv, a_ms, &q);
        return add_slice(res, a_ms, a_ms, &q, e_mwh);
    }
    int64_t dt = b_ms - a_ms, billed = 0;
    for (int64_t x = a_ms; x < b_ms;) {
        tariff_quote_at(v, nv, x, &q);
        int64_t end = wallclock_hour_end(x);
        if (q.until_ms < end)
            end = q.until_ms;
        if (b_ms < end)
            end = b_ms;
        int64_t upto = (int64_t)((i128)e_mwh * (end - a_ms) / dt);
        if (upto > billed) {
            int r = add_slice(res, x, end, &q, upto - billed);
            if (r)
                return r;
            billed = upto;
        }
        x = end;
    }
    return 0;
}

/* Joins the span's slices to the deltas, charging whole fen in time order with the
 * remainder carried. Returns 0, or 1 when the result has no room for them (more). */
static int take_slices(struct charge_result *res, int64_t *remainder_nfen)
{
    int64_t amount = 0, energy = 0;
    for (size_t i = 0; i < res->n_slice; i++)
        if (__builtin_add_overflow(amount, res->slice[i].amount_nfen, &amount) ||
            __builtin_add_overflow(energy, res->slice[i].energy_mwh, &energy))
            return -ERANGE;
    int64_t total_amount, total_energy;
    if (res->n_delta + res->n_slice > CHARGE_MAX_DELTAS ||
        __builtin_add_overflow(res->amount_nfen, amount, &total_amount) ||
        __builtin_add_overflow(res->energy_mwh, energy, &total_energy))
        return res->n_delta > 0 ? 1 : -ERANGE;
    if (reserve((void **)&res->delta, &res->cap_delta, res->n_delta + res->n_slice,
                sizeof(*res->delta), CHARGE_MAX_DELTAS))
        return -ENOMEM;
    for (size_t i = 0; i < res->n_slice; i++) {
        struct charge_delta d = res->slice[i];
        /* remainder < 10^8 and amount <= INT64_MAX - 10^8 (add_slice): no overflow */
        int64_t owed = *remainder_nfen + d.amount_nfen;
        d.fen = owed / CHARGE_NANOFEN_PER_FEN;
        *remainder_nfen = owed % CHARGE_NANOFEN_PER_FEN;
        res->fen += d.fen;
        struct charge_delta *into = NULL;
        for (size_t k = res->n_delta, seen = 0; k > 0 && seen < MERGE_WINDOW; k--, seen++)
            if (same_key(&res->delta[k - 1], &d)) {
                into = &res->delta[k - 1];
                break;
            }
        if (into) {
            /* Bounded by the result's totals, checked above. */
            into->energy_mwh += d.energy_mwh;
            into->amount_nfen += d.amount_nfen;
            into->fen += d.fen;
            if (d.last_ms > into->last_ms)
                into->last_ms = d.last_ms;
        } else {
            res->delta[res->n_delta++] = d;
        }
    }
    res->amount_nfen = total_amount;
    res->energy_mwh = total_energy;
    res->n_slice = 0;
    return 0;
}

static void add_event(struct charge_result *res, enum charge_event_kind kind,
                      const struct charge_state *s, const struct charge_reading *rd, int64_t ts)
{
    struct charge_event e = {
        .kind = kind,
        .from_seq = s->started ? s->seq : rd->seq,
        .to_seq = rd->seq,
        .from_ts_ms = s->started ? s->ts_ms : ts,
        .to_ts_ms = ts,
        .from_import_mwh = s->started ? s->import_mwh : rd->import_mwh,
        .to_import_mwh = rd->import_mwh,
    };
    res->event[res->n_event++] = e;
}

static void move_frontier(struct charge_state *s, const struct charge_reading *rd, int64_t ts)
{
    s->started = true;
    s->seq = rd->seq;
    s->ts_ms = ts;
    s->import_mwh = rd->import_mwh;
    s->waiting_since_ms = CHARGE_NOT_WAITING;
    s->exchange_next = false;
}

static bool valid_ms(int64_t ms)
{
    return ms >= TIME_MIN_VALID_MS && ms <= TIME_MAX_VALID_MS;
}

static bool inputs_valid(const struct charge_state *st, size_t n_versions,
                         const struct charge_reading *r, size_t n, int64_t now_ms,
                         const struct charge_config *cfg)
{
    if (n > CHARGE_MAX_BATCH || n_versions > CHARGE_MAX_VERSIONS || !valid_ms(now_ms) ||
        cfg->gap_wait_ms < 0 || cfg->gap_wait_ms > CHARGE_MAX_SPAN_MS)
        return false;
    if (st->remainder_nfen < 0 || st->remainder_nfen >= CHARGE_NANOFEN_PER_FEN ||
        (st->started && (!valid_ms(st->ts_ms) || st->import_mwh < 0)) ||
        (st->waiting_since_ms != CHARGE_NOT_WAITING && !valid_ms(st->waiting_since_ms)))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!valid_ms(r[i].ts_ms) || r[i].import_mwh < 0 || (i > 0 && r[i].seq <= r[i - 1].seq))
            return false;
    return true;
}

int charge_advance(struct charge_state *st, const struct tariff *v, size_t n_versions,
                   const struct charge_reading *r, size_t n, int64_t now_ms,
                   const struct charge_config *cfg, struct charge_result *res)
{
    res->n_delta = res->n_event = res->n_slice = res->consumed = res->stale = 0;
    res->waiting = res->more = false;
    res->wait_until_ms = 0;
    res->energy_mwh = res->amount_nfen = res->fen = 0;
    if (!inputs_valid(st, n_versions, r, n, now_ms, cfg))
        return -EINVAL;
    int ret = reserve((void **)&res->event, &res->cap_event, n ? n : 1, sizeof(*res->event),
                      CHARGE_MAX_BATCH);
    if (ret)
        return ret;

    struct charge_state s = *st;
    for (size_t i = 0; i < n; i++) {
        const struct charge_reading *rd = &r[i];
        if (s.started && rd->seq <= s.seq) { /* billed already, or too late to bill */
            res->stale++;
            res->consumed++;
            continue;
        }
        if (!s.started) {
            add_event(res, CHARGE_EV_BASELINE, &s, rd, rd->ts_ms);
            move_frontier(&s, rd, rd->ts_ms);
            res->consumed++;
            continue;
        }
        bool gap = rd->seq != s.seq + 1;
        if (gap) {
            if (s.waiting_since_ms == CHARGE_NOT_WAITING || s.waiting_since_ms > now_ms)
                s.waiting_since_ms = now_ms;
            if (now_ms - s.waiting_since_ms < cfg->gap_wait_ms) {
                res->waiting = true;
                res->wait_until_ms = s.waiting_since_ms + cfg->gap_wait_ms;
                break;
            }
        }
        /* A clock set back does not move billing back in time. */
        int64_t ts = rd->ts_ms > s.ts_ms ? rd->ts_ms : s.ts_ms;
        if (rd->import_mwh < s.import_mwh || s.exchange_next) {
            add_event(res, CHARGE_EV_EXCHANGE, &s, rd, ts);
            move_frontier(&s, rd, ts);
            res->consumed++;
            continue;
        }
        int64_t e = rd->import_mwh - s.import_mwh;
        if (e > 0) {
            int r2 = ts - s.ts_ms > CHARGE_MAX_SPAN_MS
                         ? -ERANGE
                         : slice_span(res, v, n_versions, s.ts_ms, ts, e);
            if (r2 == 0) {
                int64_t rem = s.remainder_nfen;
                r2 = take_slices(res, &rem);
                if (r2 == 1) {
                    res->more = true;
                    break;
                }
                if (r2 == 0)
                    s.remainder_nfen = rem;
            }
            if (r2 == -ENOMEM)
                return r2;
            if (r2) {
                add_event(res, CHARGE_EV_UNBILLABLE, &s, rd, ts);
                move_frontier(&s, rd, ts);
                res->consumed++;
                continue;
            }
        }
        if (gap)
            add_event(res, CHARGE_EV_GAP_BRIDGED, &s, rd, ts);
        move_frontier(&s, rd, ts);
        res->consumed++;
    }
    *st = s;
    return 0;
}
