"""Prepaid billing end to end (SPEC.md "Prepaid", docs/billing.md): a time-of-use tariff set
through the API, a simulated day of readings across its period boundaries delivered live with
a hole, then the hole's readings as a shuffled late backlog, over HTTP uploads; the balance
follows to the exact fen of a reference computed here, independently of the server's code, and
the ledger's charge entries add up to it. Then the refusals: a version at or before what is
billed, a tariff from a user, bad bodies; billing settings; a server killed with SIGKILL again
and again while billing a large backlog bills nothing twice and misses nothing; and a month
across a tariff change, live, late and shuffled, to the fen of the reference."""
import datetime
import random
import time

from harness import db_rows, main, wait_until
from ingest_common import IngestTest

DEVICE = "bill-1"
DEVICE_KILL = "bill-2"
DEVICE_GAP = "bill-3"
DEVICE_MONTH = "bill-4"
ZONE = datetime.timezone(datetime.timedelta(hours=8))  # Asia/Shanghai: no DST
GAP_WAIT_MS = 40000
RECHARGE_FEN = 100000  # 1000.00 yuan
KILL_READINGS = 150000  # the backlog billed while the server is killed: 37 runs of 4096
KILLS = 5
NFEN_PER_FEN = 10 ** 8

# (from "HH:MM", price in 0.0001 yuan/kWh, label): a Chinese industrial TOU day.
PERIODS = [("00:00", 3000, "谷"), ("08:00", 9500, "峰"), ("12:00", 6100, "平"),
           ("17:00", 9500, "峰"), ("19:00", 12000, "尖"), ("21:00", 6100, "平"),
           ("23:00", 3000, "谷")]


def price_text(units):
    return f"{units // 10000}.{units % 10000:04d}"


def tariff_body(effective_from, periods=PERIODS):
    return {"periods": [{"from": f, "price": price_text(p), "label": lab}
                        for f, p, lab in periods],
            "effective_from": effective_from}


def period_price(ms):
    """The price in force at instant ms, by the site's wall clock."""
    local = datetime.datetime.fromtimestamp(ms / 1000, ZONE)
    minute = local.hour * 60 + local.minute
    price = PERIODS[-1][1]
    for f, p, _ in PERIODS:
        h, m = map(int, f.split(":"))
        if h * 60 + m <= minute:
            price = p
    return price


def period_starts(t0, t1):
    """Every instant in (t0, t1) where a period starts, ascending."""
    out = []
    day = datetime.datetime.fromtimestamp(t0 / 1000, ZONE).replace(hour=0, minute=0, second=0,
                                                                   microsecond=0)
    while int(day.timestamp() * 1000) < t1:
        for f, _, _ in PERIODS:
            h, m = map(int, f.split(":"))
            ms = int((day + datetime.timedelta(hours=h, minutes=m)).timestamp() * 1000)
            if t0 < ms < t1:
                out.append(ms)
        day += datetime.timedelta(days=1)
    return sorted(set(out))


def reference_energy_by_label(readings):
    """The mWh consumed in each tariff period (by label), spread as reference_fen() does."""
    label_of = {p: lab for _, p, lab in PERIODS}
    out = {}
    for a, b in zip(readings, readings[1:]):
        e = (b["energy_wh"] - a["energy_wh"]) * 1000
        d = b["ts"] - a["ts"]
        cuts = [a["ts"]] + period_starts(a["ts"], b["ts"]) + [b["ts"]]
        done = 0
        for x0, x1 in zip(cuts, cuts[1:]):
            upto = e * (x1 - a["ts"]) // d
            lab = label_of[period_price(x0)]
            out[lab] = out.get(lab, 0) + upto - done
            done = upto
    return out


def reference_fen(readings):
    """The fen a day of readings (seq order) costs: each span's energy spread evenly over its
    time, the part up to instant x being floor(E * (x - ts_a) / (ts_b - ts_a)), each slice at
    the price in force at its start; whole fen of the exact sum (the remainder is carried)."""
    nfen = 0
    for a, b in zip(readings, readings[1:]):
        e = (b["energy_wh"] - a["energy_wh"]) * 1000  # mWh
        d = b["ts"] - a["ts"]
        cuts = [a["ts"]] + period_starts(a["ts"], b["ts"]) + [b["ts"]]
        done = 0
        for x0, x1 in zip(cuts, cuts[1:]):
            upto = e * (x1 - a["ts"]) // d
            nfen += (upto - done) * period_price(x0)
            done = upto
        assert done == e
    return nfen // NFEN_PER_FEN


# --- the general reference: any versions, the charge rows and their fen -------------------------

HOUR_MS = 3_600_000
STEP_MS = 300_000  # every period start below, every wall-clock hour (UTC+8) is on a 5-minute step

# A month's tariff: 5 periods, the last running past midnight to 06:30; then a second version
# from the middle of the month with other boundaries and prices (4 periods, 谷 past midnight).
MONTH_V1 = [("06:30", 5237, "平"), ("10:00", 11043, "峰"), ("15:00", 7319, "平"),
            ("18:30", 13571, "尖"), ("22:30", 2503, "谷")]
MONTH_V2 = [("07:15", 5861, "平"), ("09:45", 14129, "尖"), ("13:00", 9787, "峰"),
            ("21:15", 2819, "谷")]


def local_minute(ms):
    local = datetime.datetime.fromtimestamp(ms / 1000, ZONE)
    return local.hour * 60 + local.minute


def period_index(periods, ms):
    """The period of a version in force at instant ms: the last one started by the wall clock's
    minute of the day, or before the first start the day's last one (from the evening before)."""
    minute, at = local_minute(ms), len(periods) - 1
    for i, (f, _, _) in enumerate(periods):
        h, m = map(int, f.split(":"))
        if h * 60 + m <= minute:
            at = i
    return at


def reference_bill(readings, versions):
    """What the readings (seq order, none missing) cost under versions [(effective_ms,
    periods)], by the rules of docs/billing.md, computed the long way: each span's energy E is
    spread evenly in time (the part up to x being floor(E * (x - ts_a) / (ts_b - ts_a))), cut
    at every 5-minute step and every version start (a cut where nothing changes moves no mWh
    between rows), each piece priced by the version and period in force at its start, its
    cost mWh x price nanofen added to the carried remainder in time order and the whole fen
    charged to the piece's row (wall-clock hour, version, period).
    Returns (fen, remainder, rows {(hour_ms, version_ms, period): [label, price, mWh, fen]})."""
    versions = sorted(versions)
    starts = [v for v, _ in versions]
    fen = rem = 0
    rows = {}
    for a, b in zip(readings, readings[1:]):
        e = (b["energy_wh"] - a["energy_wh"]) * 1000
        d = b["ts"] - a["ts"]
        assert e >= 0 and d > 0
        cuts = set(range((a["ts"] // STEP_MS + 1) * STEP_MS, b["ts"], STEP_MS))
        cuts |= {v for v in starts if a["ts"] < v < b["ts"]}
        points = [a["ts"]] + sorted(cuts) + [b["ts"]]
        done = 0
        for x0, x1 in zip(points, points[1:]):
            upto = e * (x1 - a["ts"]) // d
            piece, done = upto - done, upto
            if not piece:
                continue
            vms, periods = [v for v in versions if v[0] <= x0][-1]
            i = period_index(periods, x0)
            _, price, label = periods[i]
            f, rem = divmod(rem + piece * price, NFEN_PER_FEN)
            fen += f
            row = rows.setdefault((x0 - x0 % HOUR_MS, vms, i), [label, price, 0, 0])
            row[2] += piece
            row[3] += f
        assert done == e
    return fen, rem, rows


def reference_by_day(rows):
    """The rows summed as the energy API answers: {local date: {(label, price): [mWh, fen]}}."""
    out = {}
    for (hour, _, _), (label, price, mwh, f) in rows.items():
        date = datetime.datetime.fromtimestamp(hour / 1000, ZONE).strftime("%Y-%m-%d")
        got = out.setdefault(date, {}).setdefault((label, price_text(price)), [0, 0])
        got[0] += mwh
        got[1] += f
    return out


def simulated_readings(start_ms, n, step_ms, rng, load_wh):
    """n readings from start_ms every step_ms (with a jitter that keeps them in order), the
    counter (integer Wh) growing by load_wh(rng, local hour, weekday) each time."""
    out, wh = [], 2_000_000
    for k in range(n):
        ts = start_ms + k * step_ms + 1000 + rng.randrange(0, step_ms // 2)
        local = datetime.datetime.fromtimestamp(ts / 1000, ZONE)
        if k:
            wh += load_wh(rng, local.hour, local.weekday())
        out.append({"seq": k + 1, "ts": ts, "voltage": 230.0, "current": 5.0, "energy_wh": wh})
    return out


def factory_load(rng, hour, weekday):
    """Wh in 15 minutes: a works on two shifts, less at weekends, a little at night."""
    base = 400 if hour < 6 or hour >= 22 else 2500 if 8 <= hour < 18 else 1200
    if weekday >= 5:
        base //= 3
    return base + rng.randrange(0, base)


def simulated_day(day_start_ms, rng):
    """A reading every 5 minutes (with jitter, never on a period's start) over a local day, the
    load heavier by day."""
    out, wh = [], 1_000_000
    for k in range(24 * 12 + 1):
        ts = day_start_ms + k * 300_000 + 1000 + rng.randrange(0, 200_000)
        hour = datetime.datetime.fromtimestamp(ts / 1000, ZONE).hour
        wh += rng.randrange(50, 400) * (3 if 8 <= hour < 22 else 1)
        out.append({"seq": k + 1, "ts": ts, "voltage": 230.0, "current": 5.0, "energy_wh": wh})
    return out


class Billing(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ingest_fixture([DEVICE, DEVICE_KILL, DEVICE_GAP, DEVICE_MONTH],
                           extra_args=["--timezone", "Asia/Shanghai",
                                       "--billing-gap-wait-ms", str(GAP_WAIT_MS)],
                           connect=False)
        cls.secrets = cls.srv.secrets
        # Yesterday, local: a whole day in the past.
        today = datetime.datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
        cls.day0 = today - datetime.timedelta(days=1)
        cls.day0_ms = int(cls.day0.timestamp() * 1000)

    def req(self, method, path, body=None, token=None):
        return self.srv.request(method, path, body, token=token or self.token)

    def device(self, device):
        r = self.req("GET", f"/api/devices/{device}")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def balance_fen(self, device):
        return round(float(self.device(device)["balance"]) * 100)

    def upload(self, device, readings):
        for rd in readings:
            r = self.srv.upload(self.secrets[device], dict(rd, device_id=device), timeout=60)
            self.assertEqual(r.status, 200, r)

    def upload_chunks(self, device, readings, size):
        """readings in uploads of size, in the order given."""
        for i in range(0, len(readings), size):
            r = self.srv.upload(self.secrets[device],
                                [dict(rd, device_id=device) for rd in readings[i:i + size]],
                                timeout=60)
            self.assertEqual(r.status, 200, r)

    def recharge(self, device, fen):
        r = self.req("POST", f"/api/device/recharge/{device}",
                     {"amount": f"{fen // 100}.{fen % 100:02d}"})
        self.assertEqual(r.status, 200, r)

    def wait_balance(self, device, want, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.balance_fen(device)
            if got == want:
                return time.monotonic()
            time.sleep(0.2)
        self.fail(f"{device}: balance {self.balance_fen(device)} fen, want {want}")

    def ledger(self, device):
        r = self.req("GET", f"/api/devices/{device}/ledger?limit=1000")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def assert_ledger_adds_up(self, device, charged_fen):
        led = self.ledger(device)
        entries = list(reversed(led["entries"]))  # oldest first
        total = 0
        for e in entries:
            total += round(float(e["amount"]) * 100)
            self.assertEqual(round(float(e["balance_after"]) * 100), total, e)
        self.assertEqual(round(float(led["balance"]) * 100), total)
        self.assertLess(len(entries), 1000)  # all of them: the answer's limit is 1000
        charges = [e for e in entries if e["kind"] == "charge"]
        self.assertTrue(charges)
        self.assertEqual(-sum(round(float(e["amount"]) * 100) for e in charges), charged_fen)

    def test_1_a_tariff_is_set_and_read_back(self):
        eff = (self.day0 - datetime.timedelta(days=1)).isoformat()
        for dev in (DEVICE, DEVICE_GAP):
            r = self.req("PUT", f"/api/devices/{dev}/tariff", tariff_body(eff))
            self.assertEqual(r.status, 200, r)
        r = self.req("GET", f"/api/devices/{DEVICE}/tariff")
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual([(p["from"], p["price"], p.get("label")) for p in got["periods"]],
                         [(f, price_text(p), lab) for f, p, lab in PERIODS])
        # Refusals: a bad price, an unknown key, a body that is not JSON.
        bad = tariff_body(eff)
        bad["periods"][0]["price"] = "0.12345"
        self.assertEqual(self.req("PUT", f"/api/devices/{DEVICE}/tariff", bad).status, 400)
        self.assertEqual(self.req("PUT", f"/api/devices/{DEVICE}/tariff",
                                  {"periods": [{"from": "00:00", "price": 1}], "x": 1}).status,
                         400)
        self.assertEqual(self.req("PUT", f"/api/devices/{DEVICE}/tariff", {}).status, 400)
        self.assertEqual(self.req("PUT", f"/api/devices/nosuch/tariff", tariff_body(eff)).status,
                         404)

    def test_2_a_day_live_then_a_shuffled_backlog_is_billed_to_the_fen(self):
        rng = random.Random(12)
        day = simulated_day(self.day0_ms, rng)
        want = reference_fen(day)
        self.assertGreater(want, 1000)
        self.recharge(DEVICE, RECHARGE_FEN)
        # Live: everything but a hole across the 17:00 and 19:00 period starts.
        hole = [r for r in day if 16 * 12 <= r["seq"] <= 20 * 12]
        live = [r for r in day if r not in hole]
        start = time.monotonic()
        self.upload(DEVICE, live)
        # Billing holds at the hole: what is before it is billed, nothing after.
        before_hole = [r for r in day if r["seq"] < hole[0]["seq"]]
        self.wait_balance(DEVICE, RECHARGE_FEN - reference_fen(before_hole), 30)
        rng.shuffle(hole)
        self.upload(DEVICE, hole)
        done = self.wait_balance(DEVICE, RECHARGE_FEN - want, 60)
        self.assertLess(done - start, 60)  # the balance follows within a minute
        time.sleep(1.5)
        self.assertEqual(self.balance_fen(DEVICE), RECHARGE_FEN - want)
        self.assert_ledger_adds_up(DEVICE, want)
        # The energy API's cost per day and per period, and the month's statement, say the same.
        self.check_costs(day, want)
        # The same readings again change nothing.
        self.upload(DEVICE, rng.sample(day, 40))
        time.sleep(1.5)
        self.assertEqual(self.balance_fen(DEVICE), RECHARGE_FEN - want)

    def check_costs(self, day, want):
        first = self.day0.strftime("%Y-%m-%d")
        last = (self.day0 + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        r = self.req("GET", f"/api/devices/{DEVICE}/energy?period=day&from={first}&to={last}")
        self.assertEqual(r.status, 200, r)
        got = r.json()
        fen = lambda v: round(float(v) * 100)
        self.assertEqual(sum(fen(b["cost"]) for b in got["buckets"]), want)
        self.assertEqual(fen(got["cost"]), want)
        by_label = {}
        for b in got["buckets"]:
            self.assertEqual(sum(fen(p["cost"]) for p in b["periods"]), fen(b["cost"]))
            for p in b["periods"]:
                mwh = round(float(p["energy_wh"]) * 1000)
                by_label[p["label"]] = by_label.get(p["label"], 0) + mwh
        self.assertEqual(by_label, reference_energy_by_label(day))
        # The statement of the month(s) the day's charges fall in.
        months = sorted({self.day0.strftime("%Y-%m"),
                         (self.day0 + datetime.timedelta(days=1)).strftime("%Y-%m")})
        total = 0
        for m in months:
            r = self.req("GET", f"/api/devices/{DEVICE}/statement?month={m}")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers.get("Content-Type", "").startswith("text/csv"), r.headers)
            lines = r.body.strip().split("\r\n")
            self.assertEqual(lines[0], "date,period,price,energy_kwh,cost")
            rows = [ln.split(",") for ln in lines[1:]]
            self.assertEqual(rows[-1][0], "total")
            self.assertEqual(sum(fen(row[4]) for row in rows[:-1]), fen(rows[-1][4]))
            total += fen(rows[-1][4])
        self.assertEqual(total, want)
        self.assertEqual(self.req("GET", f"/api/devices/{DEVICE}/statement?month=2026-13").status,
                         400)
        self.assertEqual(self.req("GET", f"/api/devices/{DEVICE}/statement").status, 400)

    def test_3_a_version_at_or_before_what_is_billed_is_refused(self):
        at = datetime.datetime.fromtimestamp(self.day0_ms / 1000 + 3600, ZONE).isoformat()
        r = self.req("PUT", f"/api/devices/{DEVICE}/tariff", tariff_body(at))
        self.assertEqual(r.status, 409, r)
        later = (datetime.datetime.now(ZONE) + datetime.timedelta(days=1)).isoformat()
        r = self.req("PUT", f"/api/devices/{DEVICE}/tariff", tariff_body(later))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.req("GET", f"/api/devices/{DEVICE}/tariff").json()["upcoming"]),
                         1)

    def test_4_billing_settings(self):
        r = self.req("PUT", f"/api/devices/{DEVICE}/billing",
                     {"low_balance": 20.00, "cutoff_at": "-5.50", "protected": True})
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual((got["low_balance"], got["cutoff_at"], got["protected"]),
                         (20.0, -5.5, True))
        r = self.req("PUT", f"/api/devices/{DEVICE}/billing", {"protected": False})
        self.assertEqual(r.status, 200, r)
        got = self.req("GET", f"/api/devices/{DEVICE}/billing").json()
        self.assertEqual((got["low_balance"], got["cutoff_at"], got["protected"]),
                         (20.0, -5.5, False))
        for body in ({"low_balance": 0.001}, {"protected": "yes"}, {"limit": 1}, {}):
            self.assertEqual(self.req("PUT", f"/api/devices/{DEVICE}/billing", body).status, 400,
                             body)

    def frontier(self, device):
        """The seq of the last reading billed, from the database (the server may be dead)."""
        rows = db_rows(self.srv.db, "SELECT b.seq FROM billing_state b JOIN devices d ON "
                                    f"d.id = b.device_pk WHERE d.device_id = '{device}'")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def test_5_a_server_killed_again_and_again_while_billing_a_backlog_bills_nothing_twice(self):
        """A backlog of 150,000 readings (some 37 billing runs of 4,096 readings, one
        transaction each) is billed while the server is killed with SIGKILL five times, each
        time at a random moment after a run committed since it was started; the billing
        frontier in the database after each kill shows where the catch-up was. Then the
        balance, the ledger and the energy per day and period are exact to the reference."""
        rng = random.Random(99)
        day_ms = 24 * HOUR_MS
        start = self.day0 - datetime.timedelta(days=9)
        start_ms = int(start.timestamp() * 1000)
        backlog = simulated_readings(start_ms, KILL_READINGS, 5_000, rng,
                                     lambda rng, hour, _: rng.randrange(1, 13) *
                                     (3 if 8 <= hour < 22 else 1))
        self.assertLess(backlog[-1]["ts"], start_ms + 10 * day_ms)
        versions = [(start_ms - day_ms, PERIODS)]
        want, _, rows = reference_bill(backlog, versions)
        eff = datetime.datetime.fromtimestamp(versions[0][0] / 1000, ZONE).isoformat()
        r = self.req("PUT", f"/api/devices/{DEVICE_KILL}/tariff", tariff_body(eff))
        self.assertEqual(r.status, 200, r)
        self.recharge(DEVICE_KILL, RECHARGE_FEN)
        # The baseline, then everything after a gap at seq 2: billing waits there (for
        # GAP_WAIT_MS) while the backlog is stored, then takes it all once seq 2 comes.
        self.upload_chunks(DEVICE_KILL, backlog[:1], 1)
        wait_until(lambda: self.frontier(DEVICE_KILL) == 1, 10, what="the baseline billed")
        t0 = time.monotonic()
        self.upload_chunks(DEVICE_KILL, backlog[2:], 1000)
        stored_s = time.monotonic() - t0
        self.assertLess(stored_s, GAP_WAIT_MS / 1000 - 10)
        self.assertEqual(self.frontier(DEVICE_KILL), 1)
        self.assertEqual(self.balance_fen(DEVICE_KILL), RECHARGE_FEN)
        self.upload_chunks(DEVICE_KILL, backlog[1:2], 1)
        t1 = time.monotonic()
        frontiers, last = [], 1
        for k in range(KILLS):
            # A run committed since the server was started (the frontier moved), then the
            # kill at a random moment within about a run's time (a run of 4,096 readings takes
            # some 10 ms here): with more runs due, in the middle of the next one.
            wait_until(lambda: last == KILL_READINGS or self.frontier(DEVICE_KILL) != last, 30,
                       interval=0.001, what="a billing run")
            time.sleep(rng.uniform(0, 0.01))
            self.srv.kill()
            last = self.frontier(DEVICE_KILL)
            frontiers.append(last)
            if k < KILLS - 1:
                self.srv.start_nowait()  # billing starts before the server answers HTTP
        self.srv.start()
        self.wait_balance(DEVICE_KILL, RECHARGE_FEN - want, 60)
        billed_s = time.monotonic() - t1
        print(f"{len(backlog)} readings stored in {stored_s:.1f} s; billed in {billed_s:.1f} s "
              f"across {KILLS} kills; the frontier after each kill: {frontiers}", flush=True)
        # Kills landed while the backlog was being billed: the frontier had moved since the
        # last start and was short of the end (runs follow each other at once while a
        # device has more than 4,096 readings to bill, so one was under way).
        in_progress = [seq for seq in frontiers if 1 < seq < KILL_READINGS]
        self.assertGreaterEqual(len(in_progress), 3, frontiers)
        self.assertEqual(frontiers, sorted(frontiers))
        self.assertEqual(self.frontier(DEVICE_KILL), KILL_READINGS)
        time.sleep(1.5)
        self.assertEqual(self.balance_fen(DEVICE_KILL), RECHARGE_FEN - want)
        self.assert_ledger_adds_up(DEVICE_KILL, want)
        self.check_costs_by_day(DEVICE_KILL, start, 10, rows, want)

    def test_6_a_gap_never_filled_is_bridged_when_the_wait_ends(self):
        rng = random.Random(7)
        day = simulated_day(self.day0_ms, rng)[:60]
        lost = [r for r in day if r["seq"] in (20, 21, 22)]
        kept = [r for r in day if r not in lost]
        self.recharge(DEVICE_GAP, RECHARGE_FEN)
        start = time.monotonic()
        self.upload(DEVICE_GAP, kept)
        before = [r for r in kept if r["seq"] < 20]
        self.wait_balance(DEVICE_GAP, RECHARGE_FEN - reference_fen(before), 10)
        # Nothing after the gap until the wait ends; then the span 19 -> 23 as one.
        self.assertEqual(self.balance_fen(DEVICE_GAP), RECHARGE_FEN - reference_fen(before))
        done = self.wait_balance(DEVICE_GAP, RECHARGE_FEN - reference_fen(kept),
                                 GAP_WAIT_MS / 1000 + 15)
        self.assertGreater(done - start, GAP_WAIT_MS / 1000 - 5)
        # The lost readings, arriving now, are late: billed no more.
        self.upload(DEVICE_GAP, lost)
        time.sleep(1.5)
        self.assertEqual(self.balance_fen(DEVICE_GAP), RECHARGE_FEN - reference_fen(kept))
        self.assert_ledger_adds_up(DEVICE_GAP, reference_fen(kept))

    def test_7_a_month_live_late_and_shuffled_across_a_tariff_change_is_billed_to_the_fen(self):
        """30 days of readings every 15 minutes; a TOU tariff whose valley runs past midnight,
        and a second version from the middle of the month put in while the month is being
        billed; the first 10 days live, the next 10 live with a hole filled late, the last
        10 shuffled. The balance, the ledger and the energy API's cost per day and period
        equal a reference computed here to the fen and the mWh."""
        rng = random.Random(30)
        start = self.day0 - datetime.timedelta(days=29)
        start_ms = int(start.timestamp() * 1000)
        day_ms = 24 * HOUR_MS
        month = simulated_readings(start_ms, 30 * 96 + 1, 900_000, rng, factory_load)
        v1_ms = start_ms - day_ms
        v2 = start + datetime.timedelta(days=15, hours=14, minutes=20)
        v2_ms = int(v2.timestamp() * 1000)
        versions = [(v1_ms, MONTH_V1), (v2_ms, MONTH_V2)]
        want, _, rows = reference_bill(month, versions)
        self.assertGreater(want, 100_000)
        recharge = 1_000_000  # 10,000.00 yuan: the month costs some 4,500
        self.recharge(DEVICE_MONTH, recharge)
        eff = datetime.datetime.fromtimestamp(v1_ms / 1000, ZONE).isoformat()
        r = self.req("PUT", f"/api/devices/{DEVICE_MONTH}/tariff", tariff_body(eff, MONTH_V1))
        self.assertEqual(r.status, 200, r)

        def cost(readings):
            return reference_bill(readings, versions)[0]
        t0 = time.monotonic()
        # Days 0..9 live: in time order, two hours an upload, billed as they come.
        live = [rd for rd in month if rd["ts"] < start_ms + 10 * day_ms]
        self.upload_chunks(DEVICE_MONTH, live, 8)
        self.wait_balance(DEVICE_MONTH, recharge - cost(live), 30)
        # The second version, while billing is at day 10; the one in force cannot change.
        r = self.req("PUT", f"/api/devices/{DEVICE_MONTH}/tariff", tariff_body(v2.isoformat(),
                                                                               MONTH_V2))
        self.assertEqual(r.status, 200, r)
        got = self.req("GET", f"/api/devices/{DEVICE_MONTH}/tariff").json()  # in force now
        in_force = datetime.datetime.fromisoformat(got["effective_from"].replace("Z", "+00:00"))
        self.assertEqual(in_force, v2)
        self.assertEqual([(p["from"], p["price"], p["label"]) for p in got["periods"]],
                         [(f, price_text(p), lab) for f, p, lab in MONTH_V2])
        before = datetime.datetime.fromtimestamp((live[-1]["ts"] - HOUR_MS) / 1000, ZONE)
        self.assertEqual(self.req("PUT", f"/api/devices/{DEVICE_MONTH}/tariff",
                                  tariff_body(before.isoformat(), MONTH_V2)).status, 409)
        # Days 10..19 live but for a hole from day 12 05:00 to day 13 03:00 (across every
        # period start of the day and midnight), which comes late, after day 19.
        second = [rd for rd in month if start_ms + 10 * day_ms <= rd["ts"] < start_ms + 20 * day_ms]
        hole_from = start_ms + 12 * day_ms + 5 * HOUR_MS
        hole_to = start_ms + 13 * day_ms + 3 * HOUR_MS
        hole = [rd for rd in second if hole_from <= rd["ts"] < hole_to]
        self.upload_chunks(DEVICE_MONTH, [rd for rd in second if rd not in hole], 8)
        before_hole = [rd for rd in month if rd["ts"] < hole_from]
        self.wait_balance(DEVICE_MONTH, recharge - cost(before_hole), 20)
        time.sleep(1)
        self.assertEqual(self.balance_fen(DEVICE_MONTH), recharge - cost(before_hole))
        self.upload_chunks(DEVICE_MONTH, hole, 50)
        upto20 = [rd for rd in month if rd["ts"] < start_ms + 20 * day_ms]
        self.wait_balance(DEVICE_MONTH, recharge - cost(upto20), 20)
        # Days 20..29 as a shuffled backlog.
        third = [rd for rd in month if rd["ts"] >= start_ms + 20 * day_ms]
        rng.shuffle(third)
        self.upload_chunks(DEVICE_MONTH, third, 40)
        self.wait_balance(DEVICE_MONTH, recharge - want, 30)
        elapsed = time.monotonic() - t0
        # Duplicates change nothing.
        self.upload_chunks(DEVICE_MONTH, rng.sample(month, 100), 50)
        time.sleep(1.5)
        self.assertEqual(self.balance_fen(DEVICE_MONTH), recharge - want)
        self.assert_ledger_adds_up(DEVICE_MONTH, want)
        self.check_costs_by_day(DEVICE_MONTH, start, 30, rows, want)
        print(f"a month: {len(month)} readings, {want} fen, billed in {elapsed:.1f} s",
              flush=True)

    def check_costs_by_day(self, device, start, days, rows, want):
        """The energy API's days and months: cost, and energy and cost per period (label and
        price), each equal to the reference's rows summed by local day."""
        ref = reference_by_day(rows)
        first = start.strftime("%Y-%m-%d")
        last = (start + datetime.timedelta(days=days)).strftime("%Y-%m-%d")
        r = self.req("GET", f"/api/devices/{device}/energy?period=day&from={first}&to={last}")
        self.assertEqual(r.status, 200, r)
        got = r.json()
        fen = lambda v: round(float(v) * 100)
        days = {}
        for b in got["buckets"]:
            periods = {(p["label"], p["price"]): [round(float(p["energy_wh"]) * 1000),
                                                  fen(p["cost"])] for p in b["periods"]}
            self.assertEqual(len(periods), len(b["periods"]), b)
            self.assertEqual(fen(b["cost"]), sum(f for _, f in periods.values()), b)
            if periods:
                days[b["date"]] = periods
        self.assertEqual(days, ref)
        self.assertEqual(fen(got["cost"]), want)
        # The months: the same sums.
        r = self.req("GET", f"/api/devices/{device}/energy?period=month&from={first}&to={last}")
        self.assertEqual(r.status, 200, r)
        months = r.json()
        by_month = {}
        for date, periods in ref.items():
            for k, (mwh, f) in periods.items():
                got_m = by_month.setdefault(date[:7], {}).setdefault(k, [0, 0])
                got_m[0] += mwh
                got_m[1] += f
        got_months = {b["date"]: {(p["label"], p["price"]): [round(float(p["energy_wh"]) * 1000),
                                                             fen(p["cost"])]
                                  for p in b["periods"]}
                      for b in months["buckets"] if b["periods"]}
        self.assertEqual(got_months, by_month)
        self.assertEqual(fen(months["cost"]), want)


if __name__ == "__main__":
    main()
