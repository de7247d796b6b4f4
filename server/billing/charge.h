/*
 * charge: billing a device from its meter's cumulative import counter
 * (`energy_wh` on the wire, integer mWh in store) at the tariff in force when
 * the energy was consumed (tariff.h). Pure: the caller loads the state and the
 * readings, calls charge_advance(), and stores what it returns in one
 * transaction; no I/O, and the only allocation is the result's arrays.
 *
 * The rules (docs/billing.md has them with a worked example):
 *
 * - Readings are taken in seq order (seq is strictly increasing over a
 *   device's life). The last reading billed is the frontier. A reading at or
 *   before the frontier (a duplicate, or one that arrived after billing went
 *   past it) changes nothing: its energy is in the counter at the frontier
 *   and has been billed.
 * - The energy between two consecutive readings a and b, E = import_b -
 *   import_a mWh, is spread evenly over the time between them: the part billed
 *   up to instant x is floor(E * (x - ts_a) / (ts_b - ts_a)), so each slice
 *   gets whole mWh and the slices add up to E exactly. The slices are cut at
 *   every change of tariff period (by the site's wall clock), of tariff
 *   version, and of wall-clock hour. A reading whose ts is not after the
 *   frontier's (a clock set back) is taken at the frontier's instant, so
 *   time never runs backwards and its energy falls in the slice at that instant.
 * - A slice of e mWh at a price of p units (0.0001 yuan/kWh) costs e * p
 *   nanofen (10^-8 fen), exactly. Whole fen are charged; what is left under a
 *   fen is carried in the state to the next slice, never dropped or rounded.
 * - A gap in seq (the reading after the frontier has not arrived; live readings
 *   come before the backlog after an outage) stops billing until it arrives,
 *   for at most config.gap_wait_ms after billing first stopped there; then the
 *   gap is bridged (one span, event CHARGE_EV_GAP_BRIDGED) and the missing
 *   readings, should they still come, are late.
 * - The first reading is the baseline: nothing before it is billed.
 * - A counter lower than the frontier's is a meter exchange (a new meter, or a
 *   counter reset): nothing is billed for that span (neither negative nor the
 *   new counter's whole value), the reading becomes the new baseline, and
 *   event CHARGE_EV_EXCHANGE carries both counters for the operator. An
 *   exchange billing cannot see (the new counter is higher) is declared with
 *   charge_declare_exchange() and then handled alike.
 * - A span that cannot be billed safely (longer than CHARGE_MAX_SPAN_MS, or a
 *   slice whose price times energy overflows) is not billed: the reading
 *   becomes the new baseline and CHARGE_EV_UNBILLABLE says so, for an operator.
 *
 * Invariants (each pinned by tests/unit/server/test_charge.c):
 *  I1 every mWh between a baseline and the frontier is in exactly one delta;
 *     every delta has energy_mwh > 0, amount_nfen >= 0 and fen >= 0.
 *  I2 amount_nfen == energy_mwh * price for every delta, and so for every
 *     charge row summed from deltas of one key (a key fixes the price).
 *  I3 sum(fen) * CHARGE_NANOFEN_PER_FEN + remainder after == sum(amount_nfen) +
 *     remainder before, with 0 <= remainder < CHARGE_NANOFEN_PER_FEN.
 *  I4 the result depends only on (state, versions, readings, now_ms): the same
 *     call after a crash returns the same; a reading already billed is a no-op.
 *  I5 when every reading is stored before billing gives up waiting for it, the
 *     charge rows (summed deltas per key) and the fen of each do not depend on
 *     the order or batching in which the readings arrived.
 *
 * Storing it: the state is one row per device (struct charge_state's fields),
 * saved after every successful call (a call that only starts a wait changes
 * it too); the deltas are added (never assigned: a key may come twice) to
 * charge rows keyed (device, hour_ms, version_ms, period) that grow as the
 * hour goes on; the ledger takes the fen, in the same transaction that saves
 * the state. Only then is the frontier's reading billed.
 */
#ifndef SMARTMETER_BILLING_CHARGE_H
#define SMARTMETER_BILLING_CHARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tariff.h"

/* Money in charges: nanofen, 10^-8 fen = one mWh at 0.0001 yuan/kWh. */
#define CHARGE_NANOFEN_PER_FEN INT64_C(100000000)
/* The longest span between two readings billed as one: 400 days. */
#define CHARGE_MAX_SPAN_MS (400 * 24 * 3600 * INT64_C(1000))
/* Most readings one call takes, and most tariff versions it reads. */
#define CHARGE_MAX_BATCH    4096
#define CHARGE_MAX_VERSIONS 256
/* Most deltas one result holds; a call stops early (more) rather than pass it. */
#define CHARGE_MAX_DELTAS 65536
/* charge_state.waiting_since_ms while billing is not waiting at a gap (never a valid time). */
#define CHARGE_NOT_WAITING 0
/* charge_delta.version_ms for energy consumed while no tariff version was in force. */
#define CHARGE_UNPRICED INT64_MIN

/* One reading as billing sees it: its seq, its ts and its import counter. */
struct charge_reading {
    uint64_t seq;
    int64_t ts_ms;      /* TIME_MIN_VALID_MS..TIME_MAX_VALID_MS */
    int64_t import_mwh; /* >= 0 */
};

/* A device's billing state; all zero (started false) before its first reading. */
struct charge_state {
    bool started;             /* false: the next reading is the baseline */
    uint64_t seq;             /* the frontier: the last reading billed */
    int64_t ts_ms;            /* its instant (never earlier than the frontier before it) */
    int64_t import_mwh;       /* its import counter */
    int64_t remainder_nfen;   /* owed under a fen, carried: 0..CHARGE_NANOFEN_PER_FEN-1 */
    int64_t waiting_since_ms; /* CHARGE_NOT_WAITING, or when billing stopped at a seq gap */
    bool exchange_next;       /* charge_declare_exchange(): the next reading starts a new meter */
};

struct charge_config {
    int64_t gap_wait_ms; /* how long a seq gap holds billing back, >= 0 */
};

/*
 * What one charge row of key (hour_ms, version_ms, period) gains: energy,
 * its exact price and the whole fen charged for it.
 */
struct charge_delta {
    int64_t hour_ms;         /* start of the wall-clock hour (wallclock_hour_start()) */
    int64_t version_ms;      /* effective_from_ms of the tariff version, or CHARGE_UNPRICED */
    uint32_t period;         /* index of the period in that version (0 when unpriced) */
    enum tariff_label label; /* the period's label */
    int64_t price;           /* TARIFF_PRICE_SCALE units per yuan/kWh (0 when unpriced) */
    int64_t energy_mwh;      /* > 0 */
    int64_t amount_nfen;     /* energy_mwh * price, exactly */
    int64_t fen;             /* whole fen charged for it (with the carried remainder) */
    int64_t first_ms;        /* the consumption it covers: [first_ms, last_ms] */
    int64_t last_ms;
};

enum charge_event_kind {
    CHARGE_EV_BASELINE,    /* the first reading: billing starts from its counter */
    CHARGE_EV_EXCHANGE,    /* the counter went down: meter exchanged or reset, span not billed */
    CHARGE_EV_GAP_BRIDGED, /* a seq gap was not filled in time: billed as one span */
    CHARGE_EV_UNBILLABLE,  /* a span too long, or too large to price: not billed */
};

/* An event and the span it concerns: from the frontier before to the reading. */
struct charge_event {
    enum charge_event_kind kind;
    uint64_t from_seq, to_seq;
    int64_t from_ts_ms, to_ts_ms;
    int64_t from_import_mwh, to_import_mwh;
};

/*
 * The outcome of one call. The arrays belong to the result: charge_result_init()
 * before the first use, charge_result_free() at the end (it accepts a result
 * never used); each call empties it first and keeps the memory.
 */
struct charge_result {
    struct charge_delta *delta; /* in order of the consumption they cover */
    size_t n_delta;
    struct charge_event *event;
    size_t n_event;
    size_t consumed;       /* readings of the input dealt with, from the first */
    size_t stale;          /* of those, at or before the frontier: nothing done */
    bool waiting;          /* stopped at a seq gap: call again by wait_until_ms */
    int64_t wait_until_ms; /* when the gap will be bridged (valid when waiting) */
    bool more;             /* stopped because the result is full: call again */
    int64_t energy_mwh;    /* sums over the deltas */
    int64_t amount_nfen;
    int64_t fen;
    /* private: capacities, and one span's slices before they join the deltas */
    size_t cap_delta, cap_event;
    struct charge_delta *slice;
    size_t n_slice, cap_slice;
};

void charge_result_init(struct charge_result *res);
void charge_result_free(struct charge_result *res);

/*
 * Bills what the readings r[0..n) (ascending seq, at most CHARGE_MAX_BATCH,
 * normally those after the frontier) add to the state *st, with the tariff
 * versions v[0..n_versions) (tariff_versions_check(), at most
 * CHARGE_MAX_VERSIONS) and now_ms the current time (for the gap wait).
 *
 * Returns 0, updates *st and fills *res; or, with *st unchanged, -EINVAL for
 * readings out of seq order, a ts outside TIME_MIN_VALID_MS..TIME_MAX_VALID_MS,
 * a negative counter, a state or config out of its ranges, or too many
 * readings or versions; -ENOMEM.
 */
int charge_advance(struct charge_state *st, const struct tariff *v, size_t n_versions,
                   const struct charge_reading *r, size_t n, int64_t now_ms,
                   const struct charge_config *cfg, struct charge_result *res);

/*
 * An operator says the meter was exchanged (a new meter whose counter is not
 * lower than the old one's, which billing cannot see by itself): the next
 * reading after the frontier starts the new meter as CHARGE_EV_EXCHANGE does,
 * with nothing billed for the span before it.
 */
void charge_declare_exchange(struct charge_state *st);

/*
 * Whether a tariff version starting at effective_from_ms may be added to the
 * device with state st: only after the frontier, since billed consumption is
 * never repriced.
 */
bool charge_version_allowed(const struct charge_state *st, int64_t effective_from_ms);

/* "baseline", "exchange", "gap_bridged", "unbillable". */
const char *charge_event_name(enum charge_event_kind kind);

#endif
