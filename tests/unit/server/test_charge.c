/*
 * Charges from the import counter: the worked example of docs/billing.md, a month of
 * consumption delivered live, late and out of order against a reference computed second by
 * second, and the edges (DST, meter exchange, duplicates, gaps, huge values, a boundary
 * exactly at a reading).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charge.h"
#include "sitetime.h"
#include "tariff.h"
#include "timeutil.h"
#include "wallclock.h"

__extension__ typedef __int128 i128;

#define S   (INT64_C(1000))
#define MIN (60 * S)
#define H   (60 * MIN)
#define U   CHARGE_NANOFEN_PER_FEN

static int64_t at(const char *s)
{
    int64_t ms;
    assert_int_equal(time_parse_rfc3339(s, &ms), 0);
    return ms;
}

static void use(const char *zone)
{
    char err[128];
    assert_int_equal(sitetime_set_zone(zone, err, sizeof(err)), 0);
}

static struct tariff version(const char *body)
{
    struct tariff t;
    char err[TARIFF_ERR_LEN];
    if (tariff_parse(body, strlen(body), 0, &t, err))
        fail_msg("%s: %s", body, err);
    return t;
}

static const struct charge_config wait5 = {.gap_wait_ms = 5 * MIN};

/* ---------------------------------------------------------------------------------------
 * Charge rows: what the store will keep, the sum of the deltas of each key. */

struct row {
    int64_t hour_ms, version_ms;
    uint32_t period;
    int64_t price, energy_mwh, amount_nfen, fen;
};

struct rows {
    struct row *r;
    size_t n, cap;
};

static struct row *row_for(struct rows *rs, int64_t hour, int64_t ver, uint32_t period)
{
    for (size_t i = rs->n; i > 0; i--) {
        struct row *r = &rs->r[i - 1];
        if (r->hour_ms == hour && r->version_ms == ver && r->period == period)
            return r;
        if (rs->n - i > 64) /* rows come in time order; old hours are never touched again */
            break;
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
        assert_non_null(rs->r);
    }
    struct row *r = &rs->r[rs->n++];
    memset(r, 0, sizeof(*r));
    r->hour_ms = hour;
    r->version_ms = ver;
    r->period = period;
    return r;
}

/* Checks I1, I2 and I3 for one result and adds its deltas to the rows. */
static void apply(struct rows *rs, const struct charge_result *res, int64_t rem_before,
                  int64_t rem_after)
{
    i128 amount = 0, fen = 0;
    for (size_t i = 0; i < res->n_delta; i++) {
        const struct charge_delta *d = &res->delta[i];
        assert_true(d->energy_mwh > 0);
        assert_true(d->fen >= 0 && d->amount_nfen >= 0);
        assert_true((i128)d->energy_mwh * d->price == d->amount_nfen);
        assert_true(d->first_ms <= d->last_ms);
        assert_true(d->first_ms >= d->hour_ms && d->last_ms <= wallclock_hour_end(d->hour_ms));
        amount += d->amount_nfen;
        fen += d->fen;
        struct row *r = row_for(rs, d->hour_ms, d->version_ms, d->period);
        assert_true(r->energy_mwh == 0 || r->price == d->price);
        r->price = d->price;
        r->energy_mwh += d->energy_mwh;
        r->amount_nfen += d->amount_nfen;
        r->fen += d->fen;
    }
    assert_true(rem_after >= 0 && rem_after < U);
    assert_true(fen * U + rem_after == amount + rem_before);
    assert_true(fen == res->fen && amount == res->amount_nfen);
}

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->hour_ms != y->hour_ms)
        return x->hour_ms < y->hour_ms ? -1 : 1;
    if (x->version_ms != y->version_ms)
        return x->version_ms < y->version_ms ? -1 : 1;
    return x->period < y->period ? -1 : x->period > y->period;
}

/* Sorts the rows and joins any key seen twice (which the merge window may leave). */
static void rows_normalise(struct rows *rs)
{
    qsort(rs->r, rs->n, sizeof(*rs->r), row_cmp);
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (k > 0 && row_cmp(&rs->r[k - 1], &rs->r[i]) == 0) {
            rs->r[k - 1].energy_mwh += rs->r[i].energy_mwh;
            rs->r[k - 1].amount_nfen += rs->r[i].amount_nfen;
            rs->r[k - 1].fen += rs->r[i].fen;
        } else {
            rs->r[k++] = rs->r[i];
        }
    }
    rs->n = k;
}

static void assert_rows_equal(struct rows *a, struct rows *b)
{
    rows_normalise(a);
    rows_normalise(b);
    if (a->n != b->n)
        fail_msg("%zu rows against %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct row *x = &a->r[i], *y = &b->r[i];
        if (row_cmp(x, y) || x->energy_mwh != y->energy_mwh || x->amount_nfen != y->amount_nfen ||
            x->fen != y->fen || x->price != y->price)
            fail_msg("row %zu (hour %lld period %u): %lld mWh %lld nfen %lld fen against "
                     "(hour %lld period %u) %lld mWh %lld nfen %lld fen",
                     i, (long long)x->hour_ms, x->period, (long long)x->energy_mwh,
                     (long long)x->amount_nfen, (long long)x->fen, (long long)y->hour_ms, y->period,
                     (long long)y->energy_mwh, (long long)y->amount_nfen, (long long)y->fen);
    }
}

static void rows_free(struct rows *rs)
{
    free(rs->r);
    memset(rs, 0, sizeof(*rs));
}

/* One call, checked and applied. */
static void advance_with(const struct charge_config *cfg, struct charge_state *st,
                         const struct tariff *v, size_t nv, const struct charge_reading *r,
                         size_t n, int64_t now, struct charge_result *res, struct rows *rs)
{
    int64_t before = st->remainder_nfen;
    assert_int_equal(charge_advance(st, v, nv, r, n, now, cfg, res), 0);
    apply(rs, res, before, st->remainder_nfen);
}

static void advance(struct charge_state *st, const struct tariff *v, size_t nv,
                    const struct charge_reading *r, size_t n, int64_t now,
                    struct charge_result *res, struct rows *rs)
{
    advance_with(&wait5, st, v, nv, r, n, now, res, rs);
}

/* ---------------------------------------------------------------------------------------
 * The worked example of docs/billing.md, number for number. */

static const char *example_v1 =
    "{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.3125\",\"label\":\"谷\"},"
    "{\"from\":\"08:00\",\"price\":\"1.0237\",\"label\":\"峰\"},"
    "{\"from\":\"12:00\",\"price\":\"0.6418\",\"label\":\"平\"},"
    "{\"from\":\"22:00\",\"price\":\"0.3125\",\"label\":\"谷\"}],"
    "\"effective_from\":\"2026-12-01T00:00:00+08:00\"}";
static const char *example_v2 =
    "{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.3125\",\"label\":\"谷\"},"
    "{\"from\":\"08:00\",\"price\":\"1.2000\",\"label\":\"峰\"},"
    "{\"from\":\"12:00\",\"price\":\"0.6418\",\"label\":\"平\"},"
    "{\"from\":\"22:00\",\"price\":\"0.3125\",\"label\":\"谷\"}],"
    "\"effective_from\":\"2026-12-07T08:20:00+08:00\"}";

static void test_worked_example_of_the_docs(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v[2] = {version(example_v1), version(example_v2)};
    const struct charge_reading r[] = {
        {1, at("2026-12-07T07:40:00+08:00"), 1000000},
        {2, at("2026-12-07T08:05:00+08:00"), 1250000},
        {3, at("2026-12-07T08:35:00+08:00"), 1333333},
        {4, at("2026-12-07T09:00:00+08:00"), 500000}, /* a new meter */
        {5, at("2026-12-07T09:30:00+08:00"), 600000},
    };
    int64_t now = at("2026-12-07T09:31:00+08:00");
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);

    /* Reading 1 is the baseline; 2 bills 07:40..08:05. */
    advance(&st, v, 2, r, 2, now, &res, &rs);
    assert_int_equal(res.n_event, 1);
    assert_int_equal(res.event[0].kind, CHARGE_EV_BASELINE);
    assert_int_equal(res.n_delta, 2);
    assert_int_equal(res.delta[0].hour_ms, at("2026-12-07T07:00:00+08:00"));
    assert_int_equal(res.delta[0].label, TARIFF_LABEL_VALLEY);
    assert_int_equal(res.delta[0].energy_mwh, 200000);
    assert_int_equal(res.delta[0].amount_nfen, 625000000);
    assert_int_equal(res.delta[0].fen, 6);
    assert_int_equal(res.delta[1].hour_ms, at("2026-12-07T08:00:00+08:00"));
    assert_int_equal(res.delta[1].label, TARIFF_LABEL_PEAK);
    assert_int_equal(res.delta[1].energy_mwh, 50000);
    assert_int_equal(res.delta[1].amount_nfen, 511850000);
    assert_int_equal(res.delta[1].fen, 5);
    assert_int_equal(st.remainder_nfen, 36850000);

    /* Reading 3 again with 2 (a duplicate) bills 08:05..08:35 across the price change. */
    advance(&st, v, 2, &r[1], 2, now, &res, &rs);
    assert_int_equal(res.stale, 1);
    assert_int_equal(res.n_delta, 2);
    assert_int_equal(res.delta[0].version_ms, v[0].effective_from_ms);
    assert_int_equal(res.delta[0].energy_mwh, 41666);
    assert_int_equal(res.delta[0].amount_nfen, 426534842);
    assert_int_equal(res.delta[0].fen, 4);
    assert_int_equal(res.delta[1].version_ms, v[1].effective_from_ms);
    assert_int_equal(res.delta[1].price, 12000);
    assert_int_equal(res.delta[1].energy_mwh, 41667);
    assert_int_equal(res.delta[1].amount_nfen, 500004000);
    assert_int_equal(res.delta[1].fen, 5);
    assert_int_equal(st.remainder_nfen, 63388842);

    /* Reading 4 is lower: a meter exchange, nothing billed; 5 bills the new meter. */
    advance(&st, v, 2, &r[3], 2, now, &res, &rs);
    assert_int_equal(res.n_event, 1);
    assert_int_equal(res.event[0].kind, CHARGE_EV_EXCHANGE);
    assert_int_equal(res.event[0].from_import_mwh, 1333333);
    assert_int_equal(res.event[0].to_import_mwh, 500000);
    assert_int_equal(res.n_delta, 1);
    assert_int_equal(res.delta[0].energy_mwh, 100000);
    assert_int_equal(res.delta[0].amount_nfen, 1200000000);
    assert_int_equal(res.delta[0].fen, 12);
    assert_int_equal(st.remainder_nfen, 63388842);

    /* The rows: 07:00 谷, 08:00 峰 at each price, 09:00 峰 at the new price. */
    rows_normalise(&rs);
    assert_int_equal(rs.n, 4);
    static const int64_t want[4][3] = {{200000, 625000000, 6},
                                       {91666, 938384842, 9},
                                       {41667, 500004000, 5},
                                       {100000, 1200000000, 12}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rs.r[i].energy_mwh, want[i][0]);
        assert_int_equal(rs.r[i].amount_nfen, want[i][1]);
        assert_int_equal(rs.r[i].fen, want[i][2]);
    }
    assert_int_equal(rs.r[2].hour_ms, at("2026-12-07T08:00:00+08:00"));
    assert_int_equal(rs.r[2].version_ms, v[1].effective_from_ms);
    int64_t fen = 0, energy = 0;
    for (size_t i = 0; i < rs.n; i++) {
        fen += rs.r[i].fen;
        energy += rs.r[i].energy_mwh;
    }
    assert_int_equal(fen, 32);
    assert_int_equal(energy, 333333 + 100000);
    rows_free(&rs);
    charge_result_free(&res);
}

/* ---------------------------------------------------------------------------------------
 * A month, against a reference that walks every second. */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

enum fate { LIVE, STRAGGLER, BACKLOG, LOST, VERY_LATE };

struct sim_reading {
    struct charge_reading r;
    enum fate fate;
    int64_t arrives_ms;
};

struct arrival {
    int64_t ms;
    size_t idx; /* into the readings; a duplicate arrives twice */
};

static int arrival_cmp(const void *a, const void *b)
{
    const struct arrival *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The reference's own look-up: the version by a linear scan, the period from the hour and
 * minute localtime_r gives. */
static void ref_cell(const struct tariff *v, size_t nv, int64_t sec_ms, int64_t *ret_ver,
                     uint32_t *ret_period, int64_t *ret_price, int64_t *ret_hour)
{
    time_t t = (time_t)(sec_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    *ret_hour = sec_ms - (int64_t)(tm.tm_min * 60 + tm.tm_sec) * 1000;
    const struct tariff *in_force = NULL;
    for (size_t i = 0; i < nv; i++)
        if (v[i].effective_from_ms <= sec_ms)
            in_force = &v[i];
    if (!in_force) {
        *ret_ver = CHARGE_UNPRICED;
        *ret_period = 0;
        *ret_price = 0;
        return;
    }
    int minute = tm.tm_hour * 60 + tm.tm_min;
    uint32_t p = in_force->n_periods - 1;
    for (uint32_t i = 0; i < in_force->n_periods; i++)
        if (in_force->period[i].from_min <= minute)
            p = i;
    *ret_ver = in_force->effective_from_ms;
    *ret_period = p;
    *ret_price = in_force->period[p].price;
}

/*
 * Bills the used readings (in seq order, ts on whole seconds) second by second: the energy
 * of second [s, s+1) of a span a..b is floor(E(s+1-a)/(b-a)) - floor(E(s-a)/(b-a)), priced
 * at the cell of s; whole fen carried second by second.
 */
static void reference(const struct tariff *v, size_t nv, const struct charge_reading *used,
                      size_t n, struct rows *rs, int64_t *ret_remainder)
{
    i128 rem = 0;
    for (size_t i = 1; i < n; i++) {
        const struct charge_reading *a = &used[i - 1], *b = &used[i];
        i128 e = b->import_mwh - a->import_mwh, dt = b->ts_ms - a->ts_ms;
        assert_true(dt > 0 && dt % 1000 == 0 && e >= 0);
        for (int64_t s = a->ts_ms; s < b->ts_ms; s += 1000) {
            int64_t part = (int64_t)(e * (s + 1000 - a->ts_ms) / dt - e * (s - a->ts_ms) / dt);
            if (part == 0)
                continue;
            int64_t ver, price, hour;
            uint32_t period;
            ref_cell(v, nv, s, &ver, &period, &price, &hour);
            struct row *r = row_for(rs, hour, ver, period);
            r->price = price;
            r->energy_mwh += part;
            r->amount_nfen += part * price;
            rem += (i128)part * price;
            r->fen += (int64_t)(rem / U);
            rem %= U;
        }
    }
    *ret_remainder = (int64_t)rem;
}

struct month {
    struct sim_reading *rd;
    size_t n;
    struct tariff v[3];
    size_t nv;
    int64_t end_ms;
};

/*
 * A month of readings every 45..75 s on whole seconds from start_local, with consumption
 * that follows the time of day, two outages whose backlog comes after live readings in a
 * shuffled order, stragglers, lost readings, a few too late to be billed, and duplicates.
 */
static void simulate(struct month *m, int64_t start_ms, uint64_t seed)
{
    rng_state = seed;
    size_t cap = 31 * 24 * 60 + 64;
    m->rd = calloc(cap, sizeof(*m->rd));
    assert_non_null(m->rd);
    int64_t t = start_ms, import = rnd_in(0, INT64_C(1000000000));
    int64_t outage[2][2] = {{start_ms + 6 * 24 * H + 5 * H, start_ms + 6 * 24 * H + 13 * H},
                            {start_ms + 19 * 24 * H + 20 * H, start_ms + 20 * 24 * H + 2 * H}};
    size_t n = 0;
    while (t < start_ms + 30 * 24 * H) {
        struct sim_reading *s = &m->rd[n];
        s->r.seq = 1000 + n;
        s->r.ts_ms = t;
        s->r.import_mwh = import;
        s->fate = LIVE;
        s->arrives_ms = t + rnd_in(50, 900);
        for (int k = 0; k < 2; k++)
            if (t >= outage[k][0] && t < outage[k][1]) {
                s->fate = BACKLOG;
                s->arrives_ms = outage[k][1] + rnd_in(1 * S, 120 * S);
            }
        if (s->fate == LIVE && n > 0) {
            uint64_t x = rnd() % 1000;
            if (x < 5)
                s->fate = LOST;
            else if (x < 7)
                s->fate = VERY_LATE, s->arrives_ms = t + H + rnd_in(0, H);
            else if (x < 40)
                s->fate = STRAGGLER, s->arrives_ms = t + rnd_in(1 * S, 100 * S);
        }
        int64_t dt_s = rnd_in(45, 75);
        /* Watts by the hour of the day: a working day with a night load. */
        time_t tt = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&tt, &tm);
        int64_t w = tm.tm_hour >= 8 && tm.tm_hour < 18 ? rnd_in(20000, 60000) : rnd_in(0, 8000);
        if (rnd() % 50 == 0)
            w = 0;
        import += w * dt_s * 1000 / 3600 + rnd_in(0, 999);
        t += dt_s * S;
        n++;
        assert_true(n < cap);
    }
    m->n = n;
    m->end_ms = t;
}

static void run_month(const char *zone, const char *start, uint64_t seed)
{
    use(zone);
    struct month m = {0};
    char b1[512], b2[512];
    snprintf(b1, sizeof(b1),
             "{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.2987\",\"label\":\"谷\"},"
             "{\"from\":\"02:30\",\"price\":\"0.2501\",\"label\":\"谷\"},"
             "{\"from\":\"07:00\",\"price\":\"0.6418\",\"label\":\"平\"},"
             "{\"from\":\"10:00\",\"price\":\"1.0237\",\"label\":\"峰\"},"
             "{\"from\":\"11:30\",\"price\":\"1.3333\",\"label\":\"尖\"},"
             "{\"from\":\"13:00\",\"price\":\"0.6418\",\"label\":\"平\"},"
             "{\"from\":\"18:07\",\"price\":\"1.0237\",\"label\":\"峰\"},"
             "{\"from\":\"23:00\",\"price\":\"0.2987\",\"label\":\"谷\"}],"
             "\"effective_from\":\"%s\"}",
             start);
    int64_t start_ms = at(start);
    /* The price change lands mid-span, mid-hour and mid-period, on a whole second. */
    char eff[TIME_RFC3339_LEN];
    time_format_rfc3339_ms(start_ms + 17 * 24 * H + 13 * H + 17 * MIN + 23 * S, eff);
    snprintf(b2, sizeof(b2),
             "{\"periods\":[{\"from\":\"01:15\",\"price\":\"0.3100\",\"label\":\"谷\"},"
             "{\"from\":\"08:00\",\"price\":\"0.7777\"},"
             "{\"from\":\"17:45\",\"price\":\"1.1111\",\"label\":\"峰\"}],"
             "\"effective_from\":\"%s\"}",
             eff);
    m.v[0] = version(b1);
    m.v[1] = version(b2);
    m.nv = 2;
    /* Consumption starts an hour before the first version: that hour is not priced. */
    simulate(&m, start_ms - H, seed);

    /* Arrivals in time order; every 97th reading arrives a second time later on. */
    size_t na = 0;
    struct arrival *arr = calloc(m.n * 2, sizeof(*arr));
    assert_non_null(arr);
    for (size_t i = 0; i < m.n; i++) {
        if (m.rd[i].fate == LOST)
            continue;
        arr[na++] = (struct arrival){m.rd[i].arrives_ms, i};
        if (i % 97 == 0)
            arr[na++] = (struct arrival){m.rd[i].arrives_ms + rnd_in(1 * S, 3 * H), i};
    }
    qsort(arr, na, sizeof(*arr), arrival_cmp);

    /* The store as billing will see it: readings by seq, and the billing state. */
    bool *stored = calloc(m.n, sizeof(bool));
    struct charge_reading *batch = calloc(CHARGE_MAX_BATCH, sizeof(*batch));
    assert_non_null(stored);
    assert_non_null(batch);
    size_t top = 0; /* one past the highest stored index */
    struct charge_state st = {0};
    struct charge_result res;
    charge_result_init(&res);
    struct rows rows = {0};
    size_t bridged = 0, exchanged = 0, unbillable = 0, stale = 0;
    for (size_t a = 0; a <= na; a++) {
        int64_t now = a < na ? arr[a].ms : m.end_ms + 24 * H;
        if (a < na) {
            stored[arr[a].idx] = true;
            if (arr[a].idx + 1 > top)
                top = arr[a].idx + 1;
        }
        for (;;) {
            /* What the store returns: the stored readings from a little before the frontier
             * (so billed ones come too, as a careless query would) on, in seq order. */
            size_t from = st.started ? (size_t)(st.seq - 1000) : 0;
            from = from > 3 ? from - 3 : 0;
            size_t nb = 0;
            for (size_t i = from; i < top && nb < 256; i++)
                if (stored[i])
                    batch[nb++] = m.rd[i].r;
            advance(&st, m.v, m.nv, batch, nb, now, &res, &rows);
            for (size_t e = 0; e < res.n_event; e++) {
                bridged += res.event[e].kind == CHARGE_EV_GAP_BRIDGED;
                exchanged += res.event[e].kind == CHARGE_EV_EXCHANGE;
                unbillable += res.event[e].kind == CHARGE_EV_UNBILLABLE;
            }
            stale += res.stale;
            if (res.waiting || (!res.more && res.consumed == nb && nb < 256))
                break;
            if (res.consumed == res.stale && !res.more)
                break;
        }
    }
    assert_int_equal(st.seq, m.rd[m.n - 1].r.seq);
    assert_int_equal(exchanged, 0);
    assert_int_equal(unbillable, 0);

    /* The reference: every reading but the lost and those that came after billing had
     * bridged the gap they left; one bridge per run of such readings. */
    struct charge_reading *used = calloc(m.n, sizeof(*used));
    assert_non_null(used);
    size_t nu = 0, runs = 0;
    bool in_run = false;
    for (size_t i = 0; i < m.n; i++) {
        bool skipped = m.rd[i].fate == LOST || m.rd[i].fate == VERY_LATE;
        if (skipped && !in_run)
            runs++;
        in_run = skipped;
        if (!skipped)
            used[nu++] = m.rd[i].r;
    }
    assert_true(runs > 100); /* the month does exercise bridging */
    assert_int_equal(bridged, runs);
    struct rows ref = {0};
    int64_t ref_remainder;
    reference(m.v, m.nv, used, nu, &ref, &ref_remainder);
    assert_int_equal(st.remainder_nfen, ref_remainder);
    int64_t fen = 0, ref_fen = 0, energy = 0;
    for (size_t i = 0; i < rows.n; i++)
        fen += rows.r[i].fen, energy += rows.r[i].energy_mwh;
    for (size_t i = 0; i < ref.n; i++)
        ref_fen += ref.r[i].fen;
    assert_int_equal(energy, used[nu - 1].import_mwh - used[0].import_mwh);
    assert_int_equal(fen, ref_fen);
    assert_true(fen > 100000); /* over a thousand yuan: the month did cost something */
    assert_rows_equal(&rows, &ref);

    /* The same readings billed in one pass, in order and in batches of 1000, without
     * waiting at their gaps, give the same rows (I5). */
    struct charge_state st2 = {0};
    struct rows rows2 = {0};
    const struct charge_config no_wait = {.gap_wait_ms = 0};
    for (size_t i = 0; i < nu; i += 1000) {
        size_t n = nu - i < 1000 ? nu - i : 1000;
        advance_with(&no_wait, &st2, m.v, m.nv, &used[i], n, m.end_ms + 24 * H, &res, &rows2);
        assert_int_equal(res.consumed, n);
    }
    assert_int_equal(st2.remainder_nfen, st.remainder_nfen);
    assert_rows_equal(&rows2, &rows);

    printf("# %s from %s: %zu readings, %zu late or lost runs bridged, %zu stale, %zu rows, "
           "%lld.%02lld yuan\n",
           zone, start, m.n, bridged, stale, rows.n, (long long)(fen / 100),
           (long long)(fen % 100));
    rows_free(&rows);
    rows_free(&rows2);
    rows_free(&ref);
    charge_result_free(&res);
    free(used);
    free(batch);
    free(stored);
    free(arr);
    free(m.rd);
}

static void test_a_month_in_shanghai_matches_the_reference(void **state)
{
    (void)state;
    run_month("Asia/Shanghai", "2026-11-01T00:00:00+08:00", 0x9e3779b97f4a7c15u);
}

/* Berlin's clocks go back on 25 October 2026, inside the month: 02:00..03:00 twice. */
static void test_a_month_in_berlin_across_dst_matches_the_reference(void **state)
{
    (void)state;
    run_month("Europe/Berlin", "2026-10-10T00:00:00+02:00", 0x2545f4914f6cdd1du);
}

/* ---------------------------------------------------------------------------------------
 * Edges. */

static const char *flat_body = "{\"periods\":[{\"from\":\"00:00\",\"price\":\"1.0000\"}],"
                               "\"effective_from\":\"2026-01-01T00:00:00Z\"}";
static const char *day_night_body =
    "{\"periods\":[{\"from\":\"08:00\",\"price\":\"1.0000\",\"label\":\"峰\"},"
    "{\"from\":\"22:00\",\"price\":\"0.5000\",\"label\":\"谷\"}],"
    "\"effective_from\":\"2026-01-01T00:00:00Z\"}";

static void test_a_reading_on_a_boundary_splits_nothing(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v = version(day_night_body);
    const struct charge_reading r[] = {
        {1, at("2026-12-07T07:00:00+08:00"), 0},
        {2, at("2026-12-07T08:00:00+08:00"), 3000000}, /* 3 kWh before 08:00 exactly */
        {3, at("2026-12-07T08:30:00+08:00"), 4000000}, /* 1 kWh after */
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 3, r[2].ts_ms, &res, &rs);
    assert_int_equal(res.n_delta, 2);
    assert_int_equal(res.delta[0].label, TARIFF_LABEL_VALLEY);
    assert_int_equal(res.delta[0].energy_mwh, 3000000);
    assert_int_equal(res.delta[0].last_ms, r[1].ts_ms);
    assert_int_equal(res.delta[0].fen, 150);
    assert_int_equal(res.delta[1].label, TARIFF_LABEL_PEAK);
    assert_int_equal(res.delta[1].energy_mwh, 1000000);
    assert_int_equal(res.delta[1].first_ms, r[1].ts_ms);
    assert_int_equal(res.delta[1].fen, 100);
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_applying_a_reading_twice_changes_nothing(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v = version(day_night_body);
    const struct charge_reading r[] = {
        {7, at("2026-12-07T07:00:00+08:00"), 123},
        {8, at("2026-12-07T07:01:00+08:00"), 4567},
        {9, at("2026-12-07T07:02:30+08:00"), 99999},
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 3, r[2].ts_ms, &res, &rs);
    struct charge_state after = st;
    for (size_t i = 0; i < 3; i++) {
        advance(&st, &v, 1, &r[i], 3 - i, r[2].ts_ms + H, &res, &rs);
        assert_int_equal(res.n_delta, 0);
        assert_int_equal(res.n_event, 0);
        assert_int_equal(res.stale, 3 - i);
        assert_memory_equal(&st, &after, sizeof(st));
    }
    /* Out of order within a call is refused, and the state stays. */
    const struct charge_reading bad[] = {r[2], r[1]};
    assert_int_equal(charge_advance(&st, &v, 1, bad, 2, r[2].ts_ms, &wait5, &res), -EINVAL);
    assert_memory_equal(&st, &after, sizeof(st));
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_a_counter_going_back_is_a_meter_exchange(void **state)
{
    (void)state;
    use("UTC");
    struct tariff v = version(flat_body);
    const struct charge_reading r[] = {
        {1, at("2026-12-07T00:00:00Z"), 5000000}, {2, at("2026-12-07T00:10:00Z"), 6000000},
        {3, at("2026-12-07T00:20:00Z"), 0},      /* reset to zero */
        {4, at("2026-12-07T00:30:00Z"), 250000}, /* the new meter counts on */
        {5, at("2026-12-07T00:40:00Z"), 249999}, /* and goes back by one mWh */
        {6, at("2026-12-07T00:50:00Z"), 250000},
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 6, r[5].ts_ms, &res, &rs);
    assert_int_equal(res.n_event, 3);
    assert_int_equal(res.event[0].kind, CHARGE_EV_BASELINE);
    assert_int_equal(res.event[1].kind, CHARGE_EV_EXCHANGE);
    assert_int_equal(res.event[1].from_seq, 2);
    assert_int_equal(res.event[1].to_seq, 3);
    assert_int_equal(res.event[2].kind, CHARGE_EV_EXCHANGE);
    assert_int_equal(res.event[2].from_import_mwh, 250000);
    assert_int_equal(res.event[2].to_import_mwh, 249999);
    /* 1 kWh, then 0.25 kWh, then 1 mWh: never the new counter's whole value, never negative. */
    assert_int_equal(res.energy_mwh, 1000000 + 250000 + 1);
    assert_int_equal(res.fen, 125);
    assert_int_equal(st.remainder_nfen, 10000);

    /* A new meter whose counter is higher: declared by an operator, then like the rest. */
    const struct charge_reading next[] = {
        {7, at("2026-12-07T01:00:00Z"), 9000000},
        {8, at("2026-12-07T01:10:00Z"), 9000010},
    };
    charge_declare_exchange(&st);
    advance(&st, &v, 1, next, 2, next[1].ts_ms, &res, &rs);
    assert_int_equal(res.n_event, 1);
    assert_int_equal(res.event[0].kind, CHARGE_EV_EXCHANGE);
    assert_int_equal(res.event[0].to_seq, 7);
    assert_int_equal(res.energy_mwh, 10);
    assert_false(st.exchange_next);
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_a_gap_waits_then_is_bridged_and_late_readings_are_ignored(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v = version(day_night_body);
    const struct charge_reading r[] = {
        {1, at("2026-12-07T21:50:00+08:00"), 0},
        {2, at("2026-12-07T22:00:00+08:00"), 1000000},
        {3, at("2026-12-07T22:10:00+08:00"), 1000000},
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    const struct charge_reading r13[] = {r[0], r[2]};
    int64_t t0 = at("2026-12-07T22:10:01+08:00");
    advance(&st, &v, 1, r13, 2, t0, &res, &rs);
    assert_true(res.waiting);
    assert_int_equal(res.wait_until_ms, t0 + 5 * MIN);
    assert_int_equal(res.consumed, 1);
    assert_int_equal(st.seq, 1);
    assert_int_equal(st.waiting_since_ms, t0);
    /* Still waiting a little later: the wait started at t0, not now. */
    advance(&st, &v, 1, &r13[1], 1, t0 + 5 * MIN - 1, &res, &rs);
    assert_true(res.waiting);
    assert_int_equal(res.n_delta, 0);
    /* Then bridged: 1 kWh over 20 minutes, half of it at each price. */
    advance(&st, &v, 1, &r13[1], 1, t0 + 5 * MIN, &res, &rs);
    assert_false(res.waiting);
    assert_int_equal(res.n_event, 1);
    assert_int_equal(res.event[0].kind, CHARGE_EV_GAP_BRIDGED);
    assert_int_equal(res.n_delta, 2);
    assert_int_equal(res.delta[0].energy_mwh, 500000);
    assert_int_equal(res.delta[1].energy_mwh, 500000);
    assert_int_equal(res.fen, 50 + 25);
    assert_int_equal(st.waiting_since_ms, CHARGE_NOT_WAITING);
    /* Reading 2 (which would have put it all before 22:00) comes too late: nothing moves. */
    advance(&st, &v, 1, &r[1], 1, t0 + H, &res, &rs);
    assert_int_equal(res.stale, 1);
    assert_int_equal(res.n_delta, 0);
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_dst_days_bill_the_hours_the_wall_clock_shows(void **state)
{
    (void)state;
    use("Europe/Berlin");
    /* 02:30..06:00 at 1.0000, the rest at 0.5000. */
    struct tariff v = version("{\"periods\":[{\"from\":\"02:30\",\"price\":\"1.0000\"},"
                              "{\"from\":\"06:00\",\"price\":\"0.5000\"}],"
                              "\"effective_from\":\"2026-01-01T00:00:00Z\"}");
    /* Autumn: 00:00 UTC (02:00 CEST) to 02:00 UTC (03:00 CET) is two real hours, 2 kWh.
     * 02:00-02:30 CEST at 0.5, 02:30-03:00 CEST at 1, 02:00-02:30 CET at 0.5,
     * 02:30-03:00 CET at 1: four slices of 0.5 kWh in two hour rows. */
    const struct charge_reading r[] = {{1, at("2026-10-25T00:00:00Z"), 0},
                                       {2, at("2026-10-25T02:00:00Z"), 2000000}};
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 2, r[1].ts_ms, &res, &rs);
    assert_int_equal(res.n_delta, 4);
    assert_int_equal(res.delta[0].hour_ms, at("2026-10-25T00:00:00Z"));
    assert_int_equal(res.delta[0].price, 5000);
    assert_int_equal(res.delta[1].hour_ms, at("2026-10-25T00:00:00Z"));
    assert_int_equal(res.delta[1].price, 10000);
    assert_int_equal(res.delta[2].hour_ms, at("2026-10-25T01:00:00Z"));
    assert_int_equal(res.delta[2].price, 5000);
    assert_int_equal(res.delta[3].hour_ms, at("2026-10-25T01:00:00Z"));
    assert_int_equal(res.delta[3].price, 10000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(res.delta[i].energy_mwh, 500000);
    assert_int_equal(res.fen, 150);

    /* Spring: 00:00 UTC (01:00 CET) to 02:00 UTC (04:00 CEST): two real hours, 2 kWh; the
     * clock skips 02:00..03:00, so 01:00-02:00 CET at 0.5 and 03:00-04:00 CEST at 1. */
    const struct charge_reading s[] = {{1, at("2026-03-29T00:00:00Z"), 0},
                                       {2, at("2026-03-29T02:00:00Z"), 2000000}};
    struct charge_state st2 = {0};
    advance(&st2, &v, 1, s, 2, s[1].ts_ms, &res, &rs);
    assert_int_equal(res.n_delta, 2);
    assert_int_equal(res.delta[0].price, 5000);
    assert_int_equal(res.delta[0].energy_mwh, 1000000);
    assert_int_equal(res.delta[1].price, 10000);
    assert_int_equal(res.delta[1].hour_ms, at("2026-03-29T01:00:00Z"));
    assert_int_equal(res.fen, 150);
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_huge_values_are_never_wrapped(void **state)
{
    (void)state;
    use("UTC");
    struct tariff v = version("{\"periods\":[{\"from\":\"00:00\",\"price\":\"100\"}],"
                              "\"effective_from\":\"2026-01-01T00:00:00Z\"}");
    int64_t t = at("2026-12-07T00:00:00Z");
    const int64_t top = INT64_C(1000000000000000000); /* the largest counter a reading holds */
    /* 10^13 mWh at 100 yuan/kWh is 10^19 nanofen: past int64, so not billed but said. */
    const struct charge_reading r[] = {
        {1, t, 0},
        {2, t + H, INT64_C(10000000000000)},
        {3, t + 2 * H, INT64_C(19000000000000)}, /* 9 * 10^18 nanofen: fits */
        {4, t + 3 * H, top},
        {5, t + 4 * H, top},
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 5, t + 5 * H, &res, &rs);
    assert_int_equal(res.n_event, 3);
    assert_int_equal(res.event[1].kind, CHARGE_EV_UNBILLABLE);
    assert_int_equal(res.event[1].to_seq, 2);
    assert_int_equal(res.event[2].kind, CHARGE_EV_UNBILLABLE);
    assert_int_equal(res.event[2].to_seq, 4);
    assert_int_equal(res.n_delta, 1);
    assert_int_equal(res.delta[0].energy_mwh, INT64_C(9000000000000));
    assert_int_equal(res.delta[0].amount_nfen, INT64_C(9000000000000000000));
    assert_int_equal(res.delta[0].fen, INT64_C(90000000000));
    assert_int_equal(st.seq, 5);

    /* A span longer than CHARGE_MAX_SPAN_MS is not billed either; bad input is refused. */
    const struct charge_reading far[] = {{6, t + 5 * H + CHARGE_MAX_SPAN_MS, top}};
    advance(&st, &v, 1, far, 1, far[0].ts_ms, &res, &rs);
    assert_int_equal(res.n_event, 0); /* no energy: nothing to bill */
    struct charge_reading more = {7, far[0].ts_ms + CHARGE_MAX_SPAN_MS + 1, top};
    struct charge_state keep = st;
    more.import_mwh = -1;
    assert_int_equal(charge_advance(&st, &v, 1, &more, 1, more.ts_ms, &wait5, &res), -EINVAL);
    more.import_mwh = top;
    more.ts_ms = TIME_MAX_VALID_MS + 1;
    assert_int_equal(charge_advance(&st, &v, 1, &more, 1, far[0].ts_ms, &wait5, &res), -EINVAL);
    assert_memory_equal(&st, &keep, sizeof(st));
    struct charge_state odd = st;
    odd.remainder_nfen = U;
    assert_int_equal(charge_advance(&odd, &v, 1, far, 1, far[0].ts_ms, &wait5, &res), -EINVAL);
    rows_free(&rs);
    charge_result_free(&res);
}

/* Years between readings: more deltas than one result holds, so it stops and goes on. */
static void test_a_full_result_stops_and_the_next_call_goes_on(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v =
        version("{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.1\"},{\"from\":\"03:10\","
                "\"price\":\"0.2\"},"
                "{\"from\":\"06:20\",\"price\":\"0.3\"},{\"from\":\"09:30\",\"price\":\"0.4\"},"
                "{\"from\":\"12:40\",\"price\":\"0.5\"},{\"from\":\"15:50\",\"price\":\"0.6\"},"
                "{\"from\":\"18:05\",\"price\":\"0.7\"},{\"from\":\"21:15\",\"price\":\"0.8\"}],"
                "\"effective_from\":\"2020-01-01T00:00:00Z\"}");
    struct charge_reading r[9];
    int64_t t = at("2026-01-01T00:00:00Z");
    for (int i = 0; i < 9; i++)
        r[i] = (struct charge_reading){(uint64_t)i + 1, t + i * 399 * 24 * H + i * 7 * MIN,
                                       (int64_t)i * INT64_C(987654321001)};
    int64_t now = r[8].ts_ms;
    struct charge_state st = {0}, one = {0};
    struct charge_result res;
    struct rows rs = {0}, rs1 = {0};
    charge_result_init(&res);
    size_t calls = 0, done = 0;
    while (done < 9) {
        advance(&st, &v, 1, &r[done], 9 - done, now, &res, &rs);
        assert_true(res.consumed > 0);
        assert_true(res.n_delta <= CHARGE_MAX_DELTAS);
        done += res.consumed;
        calls++;
        assert_true(res.more == (done < 9));
    }
    assert_true(calls > 1);
    for (int i = 0; i < 9; i++)
        advance(&one, &v, 1, &r[i], 1, now, &res, &rs1);
    assert_int_equal(st.remainder_nfen, one.remainder_nfen);
    assert_rows_equal(&rs, &rs1);
    rows_free(&rs);
    rows_free(&rs1);
    charge_result_free(&res);
}

static void test_a_clock_set_back_bills_at_the_frontier(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v = version(day_night_body);
    const struct charge_reading r[] = {
        {1, at("2026-12-07T08:10:00+08:00"), 0},
        {2, at("2026-12-07T07:00:00+08:00"), 1000}, /* a meter booted with a stale clock */
        {3, at("2026-12-07T08:20:00+08:00"), 2000},
    };
    struct charge_state st = {0};
    struct charge_result res;
    struct rows rs = {0};
    charge_result_init(&res);
    advance(&st, &v, 1, r, 3, r[2].ts_ms, &res, &rs);
    /* All at the day price (the frontier stayed at 08:10), 2 Wh = 0.2 fen. */
    assert_int_equal(res.n_delta, 1);
    assert_int_equal(res.delta[0].energy_mwh, 2000);
    assert_int_equal(res.delta[0].label, TARIFF_LABEL_PEAK);
    assert_int_equal(res.fen, 0);
    assert_int_equal(st.remainder_nfen, 20000000);
    assert_int_equal(st.ts_ms, r[2].ts_ms);
    rows_free(&rs);
    charge_result_free(&res);
}

static void test_new_versions_only_after_the_frontier(void **state)
{
    (void)state;
    struct charge_state st = {0};
    assert_true(charge_version_allowed(&st, 0));
    st.started = true;
    st.ts_ms = at("2026-12-07T00:00:00Z");
    assert_false(charge_version_allowed(&st, st.ts_ms));
    assert_true(charge_version_allowed(&st, st.ts_ms + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example_of_the_docs),
        cmocka_unit_test(test_a_month_in_shanghai_matches_the_reference),
        cmocka_unit_test(test_a_month_in_berlin_across_dst_matches_the_reference),
        cmocka_unit_test(test_a_reading_on_a_boundary_splits_nothing),
        cmocka_unit_test(test_applying_a_reading_twice_changes_nothing),
        cmocka_unit_test(test_a_counter_going_back_is_a_meter_exchange),
        cmocka_unit_test(test_a_gap_waits_then_is_bridged_and_late_readings_are_ignored),
        cmocka_unit_test(test_dst_days_bill_the_hours_the_wall_clock_shows),
        cmocka_unit_test(test_huge_values_are_never_wrapped),
        cmocka_unit_test(test_a_full_result_stops_and_the_next_call_goes_on),
        cmocka_unit_test(test_a_clock_set_back_bills_at_the_frontier),
        cmocka_unit_test(test_new_versions_only_after_the_frontier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
