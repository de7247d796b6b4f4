#!/usr/bin/env python3
"""Checks what billing wrote against an independent reference (bench/billing.sh).

    billing_check.py READINGS STATE PERIODS [--recharge FEN] [--last-seq S]

READINGS: tab-separated device_id, seq, ts_ms, energy_import_mwh of every stored reading,
ordered by device and seq. STATE: tab-separated device_id, balance_fen, ledger_sum_fen,
charge_fen (what the ledger's `charge` entries took, >= 0), charges_fen (the sum of the
device's charge rows), charge_entries, frontier_seq, remainder_nfen (NULL/empty when the
device has no billing state). PERIODS: the tariff every device had from before its first
reading, "FROM_MIN:PRICE,..." (price in 1/10000 yuan per kWh, periods by the UTC wall
clock), or "none".

The reference prices each span between consecutive readings the way docs/billing.md
says: the energy of a span split at each period change in proportion to time (floor of
the cumulative share), each part at its period's price, in nanofen (10^-8 fen); whole fen
are charged with the remainder carried, so a device owes floor(total / 10^8) fen and keeps
total mod 10^8 as its remainder. With no tariff a device owes nothing.

Checks per device: balance = sum(ledger) = recharge - charged; the fen charged = the
reference; the charge rows add up to it; the remainder is the reference's; the frontier
is at the last seq (every reading billed). Prints one summary line; exit status 1 when
any check fails (the first failures are printed).
"""
import argparse
import sys

DAY_MS = 86400000
NFEN_PER_FEN = 10**8


def parse_periods(text):
    if text == "none":
        return None
    out = []
    for p in text.split(","):
        m, price = p.split(":")
        out.append((int(m) * 60000, int(price)))
    return sorted(out)


def price_at(periods, t):
    tod = t % DAY_MS
    price = periods[-1][1]  # before the first start: the last period, wrapped
    for start, p in periods:
        if start <= tod:
            price = p
    return price


def span_amount(periods, a, b, e):
    """Nanofen for e mWh consumed from a to b (ms), cut where the period changes."""
    if b <= a:
        return e * price_at(periods, a)
    cuts = []
    day = a - a % DAY_MS
    while day < b:
        for start, _ in periods:
            x = day + start
            if a < x < b:
                cuts.append(x)
        day += DAY_MS
    cuts.append(b)
    amount, billed, x = 0, 0, a
    for end in sorted(cuts):
        upto = e * (end - a) // (b - a)
        amount += (upto - billed) * price_at(periods, x)
        billed, x = upto, end
    return amount


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("readings")
    ap.add_argument("state")
    ap.add_argument("periods")
    ap.add_argument("--recharge", type=int, default=0, help="fen credited to each device")
    ap.add_argument("--last-seq", type=int, required=True)
    a = ap.parse_args()
    periods = parse_periods(a.periods)

    owed = {}  # device -> [nanofen, readings, last seq]
    prev = {}
    with open(a.readings) as f:
        for line in f:
            dev, seq, ts, mwh = line.rstrip("\n").split("\t")
            seq, ts, mwh = int(seq), int(ts), int(mwh)
            o = owed.setdefault(dev, [0, 0, 0])
            o[1] += 1
            o[2] = seq
            p = prev.get(dev)
            prev[dev] = (seq, ts, mwh)
            if p is None or periods is None:
                continue
            if seq != p[0] + 1 or mwh < p[2] or ts < p[1]:
                print(f"check: {dev}: readings {p[0]} and {seq} are not a plain sequence; "
                      "the reference handles only that", file=sys.stderr)
                return 1
            if mwh > p[2]:
                o[0] += span_amount(periods, p[1], ts, mwh - p[2])

    fails = []
    n = total_fen = entries = readings = 0
    with open(a.state) as f:
        for line in f:
            (dev, balance, ledger_sum, charged, rows, n_entries, frontier,
             remainder) = line.rstrip("\n").split("\t")
            n += 1
            o = owed.get(dev, [0, 0, 0])
            want_fen, want_rem = divmod(o[0], NFEN_PER_FEN)
            balance, ledger_sum, charged = int(balance), int(ledger_sum), int(charged)
            rows = int(rows) if rows not in ("", "NULL") else 0
            entries += int(n_entries)
            readings += o[1]
            total_fen += charged
            if balance != ledger_sum:
                fails.append(f"{dev}: balance {balance} != sum(ledger) {ledger_sum}")
            if balance != a.recharge - charged:
                fails.append(f"{dev}: balance {balance} != recharged {a.recharge} - charged {charged}")
            if charged != want_fen:
                fails.append(f"{dev}: charged {charged} fen, the reference {want_fen}")
            if rows != charged:
                fails.append(f"{dev}: charge rows add up to {rows} fen, the ledger {charged}")
            if frontier in ("", "NULL") or int(frontier) != a.last_seq or o[2] != a.last_seq:
                fails.append(f"{dev}: frontier {frontier or 'none'}, last seq stored {o[2]}, "
                             f"expected {a.last_seq}")
            elif int(remainder) != want_rem:
                fails.append(f"{dev}: remainder {remainder} nanofen, the reference {want_rem}")
    if n != len(owed):
        fails.append(f"{n} devices checked, {len(owed)} have readings")
    status = "ok" if not fails else f"FAILED ({len(fails)})"
    print(f"check {status}: {n} devices, {readings} readings, frontier at seq {a.last_seq}, "
          f"charged {total_fen / 100:.2f} yuan in {entries} charge entries "
          f"(reference {sum(o[0] // NFEN_PER_FEN for o in owed.values()) / 100:.2f}), "
          "balance = sum(ledger) = recharge - charged")
    for msg in fails[:10]:
        print("  " + msg)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
