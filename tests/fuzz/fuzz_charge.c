/*
 * Billing from the import counter (server/billing/charge.c, charge_advance)
 * on readings and tariff versions drawn from the input, in Europe/Berlin
 * around its DST changes: counters that jump, go back or stand still, clocks
 * set back, seq gaps, spans from a millisecond to weeks, prices up to the cap.
 * Not a parser, but every value in it comes from a meter or an operator.
 *
 * Checks, at every call: the invariants of charge.h (slices of positive
 * energy whose cost is energy times price, fen times 10^8 plus the remainder
 * conserved, the remainder under a fen); the energy billed plus the energy
 * of unbillable spans is the counter's rise over the steps that are not
 * exchanges; one call per reading and one call for all of them end in the
 * same state with the same fen; every reading applied again changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "charge.h"
#include "fuzz.h"
#include "sitetime.h"
#include "tariff.h"
#include "timeutil.h"

__extension__ typedef __int128 i128;

#define MAX_READINGS 64
#define H            (3600 * INT64_C(1000))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[128];
    (void)argc;
    (void)argv;
    if (sitetime_set_zone("Europe/Berlin", err, sizeof(err)))
        fuzz_fail(__FILE__, __LINE__, err);
    return 0;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
        v |= (uint64_t)in->p[0] << (8 * i);
    return v;
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

struct totals {
    i128 energy, amount, fen, unbillable;
};

/* One call of charge_advance(), checked; returns how many readings it took. */
static size_t call_once(struct charge_state *st, const struct tariff *v, size_t nv,
                        const struct charge_reading *r, size_t n, int64_t now,
                        struct charge_result *res, struct totals *t)
{
    static const struct charge_config cfg = {.gap_wait_ms = 0};
    int64_t before = st->remainder_nfen;
    struct charge_state copy = *st;
    FUZZ_CHECK(charge_advance(st, v, nv, r, n, now, &cfg, res) == 0);
    FUZZ_CHECK(!res->waiting && res->more == (res->consumed < n) && res->consumed > 0);
    FUZZ_CHECK(st->remainder_nfen >= 0 && st->remainder_nfen < CHARGE_NANOFEN_PER_FEN);
    i128 amount = 0, fen = 0;
    for (size_t i = 0; i < res->n_delta; i++) {
        const struct charge_delta *d = &res->delta[i];
        FUZZ_CHECK(d->energy_mwh > 0 && d->fen >= 0 && d->price >= 0);
        FUZZ_CHECK((i128)d->energy_mwh * d->price == d->amount_nfen);
        FUZZ_CHECK(d->first_ms <= d->last_ms && d->hour_ms <= d->first_ms);
        amount += d->amount_nfen;
        fen += d->fen;
        t->energy += d->energy_mwh;
    }
    FUZZ_CHECK(fen * CHARGE_NANOFEN_PER_FEN + st->remainder_nfen == amount + before);
    for (size_t i = 0; i < res->n_event; i++)
        if (res->event[i].kind == CHARGE_EV_UNBILLABLE)
            t->unbillable += res->event[i].to_import_mwh - res->event[i].from_import_mwh;
    t->amount += amount;
    t->fen += fen;
    /* I4: the same call from the same state gives the same. */
    struct charge_result again;
    charge_result_init(&again);
    FUZZ_CHECK(charge_advance(&copy, v, nv, r, n, now, &cfg, &again) == 0);
    FUZZ_CHECK(memcmp(&copy, st, sizeof(copy)) == 0 && again.fen == res->fen &&
               again.n_delta == res->n_delta && again.n_event == res->n_event);
    charge_result_free(&again);
    return res->consumed;
}

/* Bills r[0..n), calling again while the result fills up. */
static void call(struct charge_state *st, const struct tariff *v, size_t nv,
                 const struct charge_reading *r, size_t n, int64_t now, struct charge_result *res,
                 struct totals *t)
{
    for (size_t done = 0; done < n;)
        done += call_once(st, v, nv, &r[done], n - done, now, res, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    const int64_t base = INT64_C(1774656000000); /* 2026-03-28T00:00:00Z, a day before DST */

    struct tariff v[3];
    size_t nv = 1 + take(&in, 1) % 3;
    int64_t eff = base - (int64_t)(take(&in, 2) % 48) * H;
    for (size_t k = 0; k < nv; k++) {
        struct tariff *t = &v[k];
        memset(t, 0, sizeof(*t));
        int32_t from[TARIFF_MAX_PERIODS];
        uint32_t n = 1 + (uint32_t)(take(&in, 1) % TARIFF_MAX_PERIODS);
        for (uint32_t i = 0; i < n; i++)
            from[i] = (int32_t)(take(&in, 2) % 1440);
        qsort(from, n, sizeof(from[0]), cmp_int32);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++)
            if (m == 0 || from[i] != from[m - 1])
                from[m++] = from[i];
        t->n_periods = m;
        for (uint32_t i = 0; i < m; i++) {
            uint64_t p = take(&in, 3);
            t->period[i].from_min = from[i];
            t->period[i].price = p % 16 == 0 ? TARIFF_PRICE_MAX : (int64_t)(p % 20001);
            t->period[i].label = (enum tariff_label)(p % 5);
        }
        t->effective_from_ms = eff;
        eff += 1 + (int64_t)(take(&in, 3) % (72 * 3600)) * 1000 + (int64_t)(take(&in, 1) % 1000);
    }
    char err[TARIFF_ERR_LEN];
    FUZZ_CHECK(tariff_versions_check(v, nv, err) == 0);

    struct charge_reading r[MAX_READINGS];
    size_t n = 0;
    uint64_t seq = 1 + take(&in, 1);
    int64_t ts = base + (int64_t)(take(&in, 3) % (48 * 3600)) * 1000, import = 0, latest = ts;
    while (n < MAX_READINGS && in.n > 0) {
        uint64_t shape = take(&in, 1), x = take(&in, 4);
        if (shape % 7 == 0)
            seq += 1 + shape % 3; /* a gap */
        else
            seq += 1;
        int64_t dt;
        switch (shape % 5) {
        case 0:
            dt = (int64_t)(x % 1000); /* ms apart */
            break;
        case 1:
            dt = -(int64_t)(x % (2 * H)); /* a clock set back */
            break;
        case 2:
            dt = (int64_t)(x % (40 * 24 * 3600)) * 1000; /* up to 40 days */
            break;
        default:
            dt = (int64_t)(x % (6 * 3600 * 1000)); /* up to 6 hours */
        }
        ts += dt;
        if (ts < TIME_MIN_VALID_MS)
            ts = TIME_MIN_VALID_MS;
        if (ts > latest)
            latest = ts;
        uint64_t y = take(&in, 4);
        switch (shape % 11) {
        case 0:
            import = (int64_t)(y % 1000000); /* an exchange, mostly */
            break;
        case 1:
            import += (int64_t)y * INT64_C(100000000); /* a jump of up to 4 * 10^17 mWh */
            break;
        case 2:
            break; /* standing still */
        default:
            import += (int64_t)(y % 100000000);
        }
        if (import > INT64_C(1000000000000000000))
            import = INT64_C(1000000000000000000);
        r[n++] = (struct charge_reading){seq, ts, import};
    }
    if (n == 0)
        return 0;
    int64_t now = latest;

    /* One call per reading, then all at once: the same state and the same fen. */
    struct charge_result res;
    charge_result_init(&res);
    struct charge_state one = {0}, all = {0};
    struct totals t1 = {0}, t2 = {0};
    for (size_t i = 0; i < n; i++)
        call(&one, v, nv, &r[i], 1, now, &res, &t1);
    call(&all, v, nv, r, n, now, &res, &t2);
    FUZZ_CHECK(memcmp(&one, &all, sizeof(one)) == 0);
    FUZZ_CHECK(t1.fen == t2.fen && t1.amount == t2.amount && t1.energy == t2.energy);

    /* Every mWh of every rise that is not an exchange is billed, or reported unbillable. */
    i128 rise = 0;
    for (size_t i = 1; i < n; i++)
        if (r[i].import_mwh >= r[i - 1].import_mwh)
            rise += r[i].import_mwh - r[i - 1].import_mwh;
    FUZZ_CHECK(t2.energy + t2.unbillable == rise);

    /* Applied again: nothing. */
    struct charge_state before = all;
    FUZZ_CHECK(charge_advance(&all, v, nv, r, n, now, &(struct charge_config){0}, &res) == 0);
    FUZZ_CHECK(res.stale == n && res.n_delta == 0 && res.n_event == 0);
    FUZZ_CHECK(memcmp(&before, &all, sizeof(all)) == 0);
    charge_result_free(&res);
    return 0;
}
