"""History at scale: interval and points answered from rollups, energy per local day and month,
raw retention. The real server on SQLite or MariaDB.

The ingest path fills the rollups table as readings are stored; here the tests write rollup
rows themselves (RollupWriter: the same aggregation, computed in Python from synthetic
readings), so every expected answer is computed from the readings, never from the rollups the
server reads.
"""
import datetime
import math
import os
import subprocess
import time
import urllib.parse
from zoneinfo import ZoneInfo

from harness import IntegrationTest, main, sqlite_path, wait_until

MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def ms(text):
    """Epoch ms of an RFC 3339 UTC time ("2026-03-29T00:00:00Z")."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(t):
    d = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t % 1000:03d}Z"


def local_date(t, tz):
    return datetime.datetime.fromtimestamp(t / 1000, tz).date()


def local_midnight(date, tz):
    return int(datetime.datetime.combine(date, datetime.time(0), tzinfo=tz).timestamp() * 1000)


def readings(start, end, step, seed=0, energy0=1_000_000):
    """Synthetic readings every step ms in [start, end): (ts, voltage, current, power, energy mWh)."""
    out = []
    e = energy0
    k = 0
    for t in range(start, end, step):
        v = round(230 + 5 * math.sin((k + seed) / 7), 3)
        i = round(5 + 2 * math.cos((k + seed) / 11), 3)
        p = round(v * i, 3)
        e += int(p * step / 3600)  # W over step ms in mWh
        out.append((t, v, i, p, e))
        k += 1
    return out


class RollupWriter:
    """Writes rollup rows (sql/*/004_rollups.sql) computed from readings, as ingest would."""

    def __init__(self, backend, db_url):
        self.backend = backend
        self.db_url = db_url

    def sql(self, statements, fetch=False):
        if self.backend == "sqlite":
            import sqlite3
            con = sqlite3.connect(sqlite_path(self.db_url), timeout=30)
            try:
                if fetch:
                    return [list(r) for r in con.execute(statements)]
                con.executescript(statements)
                con.commit()
            finally:
                con.close()
            return None
        u = urllib.parse.urlparse(self.db_url)
        env = dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or ""))
        r = subprocess.run(["mariadb", "-h", u.hostname, "-P", str(u.port), "-u", u.username,
                            "-N", "-B", u.path.lstrip("/")], input=statements, env=env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"mariadb failed: {r.stderr}")
        return [line.split("\t") for line in r.stdout.splitlines()] if fetch else None

    def device_pk(self, device_id):
        return int(self.sql(f"SELECT id FROM devices WHERE device_id = '{device_id}'", fetch=True)[0][0])

    @staticmethod
    def aggregate(rows, tz):
        """{(period, bucket_ms): aggregate} for the 1m, 1h and local-day 1d buckets."""
        out = {}
        for (t, v, i, p, e) in rows:
            keys = [("1m", t // MIN * MIN), ("1h", t // HOUR * HOUR),
                    ("1d", local_midnight(local_date(t, tz), tz))]
            for key in keys:
                a = out.get(key)
                if a is None:
                    a = out[key] = {"n": 0, "first": t, "last": t, "v": [0, v, v], "i": [0, i, i],
                                    "p": [0, p, p], "e": [e, e]}
                a["n"] += 1
                a["first"] = min(a["first"], t)
                a["last"] = max(a["last"], t)
                for name, x in (("v", v), ("i", i), ("p", p)):
                    s = a[name]
                    s[0] += x
                    s[1] = min(s[1], x)
                    s[2] = max(s[2], x)
                a["e"] = [min(a["e"][0], e), max(a["e"][1], e)]
        return out

    def put(self, device_pk, rows, tz, export_mwh=None):
        values = []
        for (period, bucket), a in sorted(self.aggregate(rows, tz).items()):
            ex = "NULL, NULL" if export_mwh is None else f"{export_mwh}, {export_mwh}"
            values.append(
                f"({device_pk}, '{period}', {bucket}, {a['n']}, {a['first']}, {a['last']}, "
                f"{a['v'][0]!r}, {a['v'][1]!r}, {a['v'][2]!r}, {a['i'][0]!r}, {a['i'][1]!r}, "
                f"{a['i'][2]!r}, {a['n']}, {a['p'][0]!r}, {a['p'][1]!r}, {a['p'][2]!r}, "
                f"{a['e'][0]}, {a['e'][1]}, {ex})")
        # REPLACE: where the ingest path already rolled up the same readings, ours are equal.
        head = ("REPLACE INTO rollups (device_pk, period, bucket_ms, n, first_ts_ms, last_ts_ms, "
                "voltage_sum, voltage_min, voltage_max, current_sum, current_min, current_max, "
                "power_w_n, power_w_sum, power_w_min, power_w_max, energy_import_min_mwh, "
                "energy_import_max_mwh, energy_export_min_mwh, energy_export_max_mwh) VALUES\n")
        chunks = [head + ",\n".join(values[k:k + 500]) + ";\n" for k in range(0, len(values), 500)]
        self.sql("BEGIN;\n" + "".join(chunks) + "COMMIT;\n")


def expected_buckets(rows, key_of):
    """Ground truth from readings: buckets by key_of(ts), oldest first, with energy used."""
    groups = {}
    for r in rows:
        groups.setdefault(key_of(r[0]), []).append(r)
    out = []
    prev = None
    for k in sorted(groups):
        g = groups[k]
        emax = max(r[4] for r in g)
        used = emax - (prev if prev is not None else min(r[4] for r in g))
        prev = emax
        out.append({"timestamp": iso(k), "count": len(g),
                    "voltage": sum(r[1] for r in g) / len(g),
                    "voltage_min": min(r[1] for r in g), "voltage_max": max(r[1] for r in g),
                    "power_w_max": max(r[3] for r in g),
                    "energy_wh": emax / 1000, "energy_used_wh": used / 1000})
    return out


def expected_days(rows, tz, first, last):
    """Energy per local date from readings (last counter of the day minus the day before's)."""
    per_day = {}
    for r in rows:
        per_day.setdefault(local_date(r[0], tz), []).append(r)
    out = {}
    prev = None
    for d in sorted(per_day):
        g = per_day[d]
        emax = max(r[4] for r in g)
        used = emax - (prev if prev is not None else min(r[4] for r in g))
        prev = emax
        if first <= d <= last:
            out[d] = (used, len(g))
    return out


class HistoryBase(IntegrationTest):
    zone = "UTC"

    @classmethod
    def start_server(cls, users, devices, login=()):
        """The class's server in cls.zone (cls.srv, tokens in cls.tok); cls.w writes its
        rollups."""
        cls.tz = ZoneInfo(cls.zone)
        cls.srv = cls.server_fixture(users, devices, login, extra_args=("--timezone", cls.zone),
                                     connect=False)
        cls.tok = cls.srv.tokens
        cls.w = RollupWriter(cls.backend, cls.srv.db)
        return cls.srv

    @classmethod
    def start_for_alice(cls, device):
        """start_server where alice owns device."""
        return cls.start_server({"alice": "user"}, {device: "alice"}, login=("alice",))

    def get(self, path, who="alice", **kw):
        return super().get(path, who, **kw)

    def assert_buckets(self, got, want):
        """got (newest first, from the API) equals want (oldest first, from readings)."""
        self.assertEqual([b["timestamp"] for b in got], [b["timestamp"] for b in reversed(want)])
        for g, w in zip(got, reversed(want)):
            self.assertEqual(g["count"], w["count"], g["timestamp"])
            for k in ("voltage", "voltage_min", "voltage_max", "power_w_max", "energy_wh",
                      "energy_used_wh"):
                self.assertAlmostEqual(g[k], w[k], places=3, msg=(g["timestamp"], k))


class BerlinHistory(HistoryBase):
    """Europe/Berlin: the 23-hour 2026-03-29 and the 25-hour 2026-10-25."""

    zone = "Europe/Berlin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_server({"alice": "user", "bob": "user"},
                         {"m1": "alice", "m2": "bob", "big": "alice"}, login=("alice", "bob"))
        # Every 5 minutes from 2026-02-26 to 2026-04-03 and around the autumn change.
        spring = readings(ms("2026-02-26T00:00:00Z"), ms("2026-04-03T00:00:00Z"), 5 * MIN)
        autumn = readings(ms("2026-10-23T00:00:00Z"), ms("2026-10-28T00:00:00Z"), 5 * MIN,
                          seed=3, energy0=spring[-1][4] + 5_000_000)
        cls.rows = spring + autumn
        cls.w.put(cls.w.device_pk("m1"), cls.rows, cls.tz)
        # Hourly through 2026-03-01 local (23:00 UTC the day before to 23:00 UTC).
        cls.w.put(cls.w.device_pk("m2"), readings(ms("2026-02-28T23:00:00Z"),
                                                  ms("2026-03-01T23:00:00Z"), HOUR), cls.tz)

    def test_a_scan_stops_at_limit_buckets_and_is_capped(self):
        # 100 001 minute rollups from 2025-01-01 (one reading each), generated in SQL.
        pk, base = self.w.device_pk("big"), ms("2025-01-01T00:00:00Z")
        minute = "a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d"
        self.w.sql("CREATE TABLE test_digits (d INTEGER NOT NULL);\n"
                   "INSERT INTO test_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);\n"
                   "INSERT INTO rollups (device_pk, period, bucket_ms, n, first_ts_ms, last_ts_ms, "
                   "voltage_sum, voltage_min, voltage_max, current_sum, current_min, current_max) "
                   f"SELECT {pk}, '1m', {base} + ({minute}) * 60000, 1, 0, 0, 230, 230, 230, 1, 1, 1 "
                   "FROM test_digits a, test_digits b, test_digits c, test_digits e, test_digits f;\n"
                   f"INSERT INTO rollups (device_pk, period, bucket_ms, n, first_ts_ms, last_ts_ms, "
                   "voltage_sum, voltage_min, voltage_max, current_sum, current_min, current_max) "
                   f"VALUES ({pk}, '1m', {base + 100000 * MIN}, 1, 0, 0, 230, 230, 230, 1, 1, 1);\n"
                   "DROP TABLE test_digits;\n")
        span = f"from={base}&to={base + 200 * DAY}"
        r = self.get(f"/api/device/data/big?interval=1m&limit=10000&{span}")
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual(len(got), 10000)
        self.assertEqual(got[0]["timestamp"], iso(base + 100000 * MIN))
        self.assertEqual(got[-1]["timestamp"], iso(base + 90001 * MIN))
        r = self.get(f"/api/device/data/big?interval=59m&limit=10000&{span}")
        self.assertEqual(r.status, 400, r)
        self.assertIn("more than 100000 1m rollups", r.json()["message"])
        r = self.get(f"/api/device/data/big?interval=1h&limit=10000&{span}")
        self.assertEqual(r.status, 200, r)  # no 1h rows were written: an empty answer
        self.assertEqual(r.json(), [])

    def energy(self, query, who="alice", device="m1"):
        return self.get(f"/api/devices/{device}/energy?{query}", who)

    def test_the_23_hour_day_is_one_day_starting_at_local_midnight(self):
        r = self.energy("period=day&from=2026-03-28&to=2026-03-30")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual((body["device_id"], body["timezone"], body["period"]),
                         ("m1", "Europe/Berlin", "day"))
        b = body["buckets"]
        self.assertEqual([x["date"] for x in b], ["2026-03-28", "2026-03-29", "2026-03-30"])
        # CET (+01) until 02:00 on the 29th, CEST (+02) after it.
        self.assertEqual([x["start"] for x in b], ["2026-03-27T23:00:00.000Z",
                                                   "2026-03-28T23:00:00.000Z",
                                                   "2026-03-29T22:00:00.000Z"])
        want = expected_days(self.rows, self.tz, datetime.date(2026, 3, 28),
                             datetime.date(2026, 3, 30))
        for x in b:
            used, n = want[datetime.date.fromisoformat(x["date"])]
            self.assertEqual(round(x["energy_wh"] * 1000), used, x)
            self.assertEqual(x["readings"], n, x)
            self.assertEqual(x["export_wh"], 0)
        self.assertEqual(b[1]["readings"], 23 * 12)  # a 23-hour day of 5-minute readings
        self.assertIn('"export_wh":0.000', r.body)

    def test_the_25_hour_day_is_one_day(self):
        b = self.energy("period=day&from=2026-10-24&to=2026-10-26").json()["buckets"]
        self.assertEqual([x["start"] for x in b], ["2026-10-23T22:00:00.000Z",
                                                   "2026-10-24T22:00:00.000Z",
                                                   "2026-10-25T23:00:00.000Z"])
        self.assertEqual(b[1]["readings"], 25 * 12)
        want = expected_days(self.rows, self.tz, datetime.date(2026, 10, 24),
                             datetime.date(2026, 10, 26))
        for x in b:
            self.assertEqual(round(x["energy_wh"] * 1000),
                             want[datetime.date.fromisoformat(x["date"])][0], x)

    def test_a_month_sums_its_days(self):
        r = self.energy("period=month&from=2026-02-01&to=2026-04-30")
        self.assertEqual(r.status, 200, r)
        b = r.json()["buckets"]
        self.assertEqual([x["date"] for x in b], ["2026-02", "2026-03", "2026-04"])
        self.assertEqual([x["start"] for x in b], ["2026-01-31T23:00:00.000Z",
                                                   "2026-02-28T23:00:00.000Z",
                                                   "2026-03-31T22:00:00.000Z"])
        march = expected_days(self.rows, self.tz, datetime.date(2026, 3, 1),
                              datetime.date(2026, 3, 31))
        self.assertEqual(len(march), 31)
        self.assertEqual(round(b[1]["energy_wh"] * 1000), sum(u for u, _ in march.values()))
        self.assertEqual(b[1]["readings"], sum(n for _, n in march.values()))
        # March's energy is also its last counter minus February's last.
        feb_last = max(r[4] for r in self.rows if local_date(r[0], self.tz).month == 2)
        mar_last = max(r[4] for r in self.rows if local_date(r[0], self.tz).month == 3)
        self.assertEqual(round(b[1]["energy_wh"] * 1000), mar_last - feb_last)
        # YYYY-MM is taken too.
        again = self.energy("period=month&from=2026-03&to=2026-03").json()["buckets"]
        self.assertEqual(again, [b[1]])

    def test_days_without_data_answer_zero(self):
        b = self.energy("period=day&from=2026-05-01&to=2026-05-03").json()["buckets"]
        self.assertEqual([(x["energy_wh"], x["readings"]) for x in b], [(0, 0)] * 3)

    def test_interval_1d_gives_local_days(self):
        frm, to = ms("2026-03-26T23:00:00Z"), ms("2026-04-01T22:00:00Z")
        r = self.get(f"/api/device/data/m1?interval=1d&from={frm}&to={to}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("X-Interval-Seconds"), "86400")
        want = expected_buckets([x for x in self.rows if frm <= x[0] < to],
                                lambda t: local_midnight(local_date(t, self.tz), self.tz))
        # The first day's energy counts from the day before it.
        prev_max = max(x[4] for x in self.rows if x[0] < frm)
        want[0]["energy_used_wh"] = (want[0]["energy_wh"] * 1000 - prev_max) / 1000
        self.assert_buckets(r.json(), want)
        self.assertIn("2026-03-28T23:00:00.000Z", [b["timestamp"] for b in r.json()])

    def test_interval_1h_across_the_25_hour_day(self):
        frm, to = ms("2026-10-24T22:00:00Z"), ms("2026-10-25T23:00:00Z")
        r = self.get(f"/api/device/data/m1?interval=1h&from={iso(frm)}&to={iso(to)}")
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual(len(got), 25)
        want = expected_buckets([x for x in self.rows if x[0] < to], lambda t: t // HOUR * HOUR)
        self.assert_buckets(got, want[-25:])

    def test_interval_1m_and_15m(self):
        frm, to = ms("2026-03-29T00:30:00Z"), ms("2026-03-29T01:30:00Z")
        for iv, step in (("1m", MIN), ("15m", 15 * MIN)):
            r = self.get(f"/api/device/data/m1?interval={iv}&from={frm}&to={to}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("X-Interval-Seconds"), str(step // 1000))
            want = expected_buckets([x for x in self.rows if x[0] < to],
                                    lambda t, s=step: t // s * s)
            want = [b for b in want if ms(b["timestamp"]) >= frm]
            self.assertEqual(len(r.json()), 12 if iv == "1m" else 4)
            self.assert_buckets(r.json(), want)

    def test_points_500_over_24_hours_and_30_days(self):
        for frm, span, step in ((ms("2026-03-10T00:00:00Z"), DAY, 5 * MIN),
                                (ms("2026-03-01T00:00:00Z"), 30 * DAY, 2 * HOUR)):
            to = frm + span
            r = self.get(f"/api/device/data/m1?points=500&from={frm}&to={to}&limit=10000")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(int(r.headers.get("X-Interval-Seconds")), step // 1000)
            got = r.json()
            self.assertLessEqual(len(got), 500)
            self.assertEqual(len(got), span // step)
            self.assertEqual(sum(b["count"] for b in got),
                             len([x for x in self.rows if frm <= x[0] < to]))
            want = expected_buckets([x for x in self.rows if x[0] < to], lambda t, s=step: t // s * s)
            self.assert_buckets(got, [b for b in want if ms(b["timestamp"]) >= frm])

    def test_limit_keeps_the_newest_buckets_with_their_energy(self):
        frm, to = ms("2026-03-10T00:00:00Z"), ms("2026-03-11T00:00:00Z")
        r = self.get(f"/api/device/data/m1?interval=1h&from={frm}&to={to}&limit=3")
        want = expected_buckets([x for x in self.rows if x[0] < to], lambda t: t // HOUR * HOUR)
        self.assert_buckets(r.json(), want[-3:])

    def test_bad_history_queries_are_refused(self):
        for q, msg in (("points=0", "points"), ("points=5001", "points"), ("points=x", "points"),
                       ("points=10&interval=1h", "not both"),
                       ("interval=10s&limit=10000&from=0&to=999999999999", "24 h"),
                       ("points=1&from=0&to=1767225600000", "too few")):
            r = self.get(f"/api/device/data/m1?{q}")
            self.assertEqual(r.status, 400, (q, r))
            self.assertIn(msg, r.json()["message"], q)
        for q, msg in (("period=week", "period"), ("period=day&from=2026-02-30", "from"),
                       ("period=day&from=2026-03-02&to=2026-03-01", "later"),
                       ("period=day&from=2025-01-01&to=2026-03-01", "400 days"),
                       ("period=month&from=2000-01&to=2026-03", "120 months"),
                       ("period=month&to=2026-13", "to")):
            r = self.energy(q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertIn(msg, r.json()["message"], q)

    def test_extreme_ranges_answer(self):
        for q in ("interval=1d&from=0&to=9223372036854775807", "interval=7d&from=0",
                  "points=5000&from=0&to=9223372036854775807", "interval=1h&limit=1&from=0"):
            r = self.get(f"/api/device/data/m1?{q}")
            self.assertEqual(r.status, 200, (q, r))
        r = self.get("/api/device/data/m1?interval=1d&from=0&to=9223372036854775807&limit=10000")
        self.assertEqual(sum(b["count"] for b in r.json()), len(self.rows))

    def test_default_ranges_end_today(self):
        today = datetime.datetime.now(self.tz).date()
        days = self.energy("period=day").json()["buckets"]
        self.assertEqual(len(days), 30)
        self.assertEqual(days[-1]["date"], today.isoformat())
        self.assertEqual(days[0]["date"], (today - datetime.timedelta(days=29)).isoformat())
        months = self.energy("period=month").json()["buckets"]
        self.assertEqual(len(months), 12)
        self.assertEqual(months[-1]["date"], today.strftime("%Y-%m"))
        r = self.get("/api/device/data/m1?points=100")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("X-Interval-Seconds"), "900")  # 24 h / 100 -> 15 min

    def test_a_user_is_refused_another_users_device_energy(self):
        foreign = self.energy("period=day", who="bob")
        missing = self.energy("period=day", who="bob", device="nope")
        self.assertEqual(foreign.status, 404, foreign)
        self.assertEqual(missing.status, 404, missing)
        self.assertEqual(foreign.body, missing.body)
        own = self.energy("period=day&from=2026-03-01&to=2026-03-01", who="bob", device="m2")
        self.assertEqual(own.status, 200, own)
        self.assertEqual(own.json()["buckets"][0]["readings"], 24)
        self.assertEqual(self.get("/api/device/data/m1?interval=1h", "bob").status, 404)

    def test_query_plans_use_the_rollups_primary_key(self):
        # The shapes of the store's rollup and retention statements (server/store/ops_rollups.c,
        # ops_readings.c).
        pk = self.w.device_pk("m1")
        where = (f"device_pk = {pk} AND period = '1m' AND bucket_ms >= 0 AND "
                 f"bucket_ms < 9999999999999")
        queries = [(f"SELECT n FROM rollups WHERE {where} ORDER BY bucket_ms {o} LIMIT 10",
                    "rollups", "PRIMARY") for o in ("ASC", "DESC")]
        queries.append((f"SELECT energy_import_max_mwh FROM rollups WHERE device_pk = {pk} AND "
                        "period = '1d' AND bucket_ms < 1774000000000 AND energy_import_max_mwh "
                        "IS NOT NULL ORDER BY bucket_ms DESC LIMIT 1", "rollups", "PRIMARY"))
        # Retention walks the readings' time index.
        queries.append((f"SELECT seq FROM readings WHERE device_pk = {pk} AND ts_ms < 5 "
                        "ORDER BY ts_ms LIMIT 10", "readings", "readings_by_time"))
        for q, table, key in queries:
            if self.backend == "sqlite":
                plan = " ".join(str(r[-1]) for r in self.w.sql("EXPLAIN QUERY PLAN " + q, fetch=True))
                self.assertIn(f"SEARCH {table} USING ", plan, q)
                self.assertIn("PRIMARY KEY" if key == "PRIMARY" else key, plan, q)
                self.assertNotIn("TEMP B-TREE", plan, q)  # no sort: the key gives the order
            else:
                plan = self.w.sql("EXPLAIN " + q, fetch=True)
                self.assertEqual(plan[0][2], table, plan)
                self.assertEqual(plan[0][5], key, plan)
                self.assertNotIn("filesort", plan[0][-1], plan)


class KolkataHistory(HistoryBase):
    """Asia/Kolkata (+05:30): local midnight is 18:30 UTC."""

    zone = "Asia/Kolkata"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_for_alice("k1")
        # Every minute from 17:00 to 20:00 UTC on 2026-11-22 (22:30 to 01:30 local).
        cls.rows = readings(ms("2026-11-22T17:00:00Z"), ms("2026-11-22T20:00:00Z"), MIN)
        cls.w.put(cls.w.device_pk("k1"), cls.rows, cls.tz)

    def test_readings_either_side_of_local_midnight_fall_in_their_days(self):
        b = self.get("/api/devices/k1/energy?period=day&from=2026-11-22&to=2026-11-23").json()
        days = b["buckets"]
        self.assertEqual([(d["date"], d["start"]) for d in days],
                         [("2026-11-22", "2026-11-21T18:30:00.000Z"),
                          ("2026-11-23", "2026-11-22T18:30:00.000Z")])
        before = [r for r in self.rows if r[0] < ms("2026-11-22T18:30:00Z")]
        self.assertEqual([d["readings"] for d in days], [len(before), len(self.rows) - len(before)])
        self.assertEqual(len(before), 90)
        self.assertEqual(round(days[0]["energy_wh"] * 1000), before[-1][4] - before[0][4])
        self.assertEqual(round(days[1]["energy_wh"] * 1000), self.rows[-1][4] - before[-1][4])

    def test_interval_1d_starts_at_half_past_six_utc(self):
        r = self.get("/api/device/data/k1?interval=1d&from=2026-11-21T18:30:00Z"
                     "&to=2026-11-23T18:30:00Z").json()
        self.assertEqual([b["timestamp"] for b in r],
                         ["2026-11-22T18:30:00.000Z", "2026-11-21T18:30:00.000Z"])
        self.assertEqual([b["count"] for b in r], [90, 90])

    def test_minutes_either_side_of_local_midnight(self):
        r = self.get("/api/device/data/k1?interval=1m&from=2026-11-22T18:28:00Z"
                     "&to=2026-11-22T18:32:00Z").json()
        want = expected_buckets([x for x in self.rows if x[0] < ms("2026-11-22T18:32:00Z")],
                                lambda t: t // MIN * MIN)
        self.assert_buckets(r, want[-4:])


class ShanghaiHistory(HistoryBase):
    """Asia/Shanghai: the documented answer, and energy today in the device answers."""

    zone = "Asia/Shanghai"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_for_alice("m1")
        pk = cls.w.device_pk("m1")
        # 2026-11-23 local: 8640 readings every 10 s, 12.345 Wh between the first and the last.
        start = ms("2026-11-22T16:00:00Z")
        day = [(start + k * 10_000, 230.0, 5.0, 1150.0, 5_000_000 + (12_345 * k) // 8639)
               for k in range(8640)]
        cls.w.put(pk, day, cls.tz, export_mwh=777)
        # Today: 1.5 Wh since local midnight, after yesterday's last counter.
        now = int(time.time() * 1000)
        midnight = local_midnight(local_date(now, cls.tz), cls.tz)
        cls.w.put(pk, [(midnight - 60_000, 230, 5, 1150, 9_000_000),
                       (midnight, 230, 5, 1150, 9_000_200),
                       (midnight + 1000, 230, 5, 1150, 9_001_500)], cls.tz)

    def test_the_documented_answer(self):
        r = self.get("/api/devices/m1/energy?period=day&from=2026-11-23&to=2026-11-23")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, '{"device_id":"m1","timezone":"Asia/Shanghai","period":"day",'
                                 '"buckets":[{"date":"2026-11-23","start":"2026-11-22T16:00:00.000Z",'
                                 '"energy_wh":12.345,"export_wh":0.000,"readings":8640,'
                                 '"cost":0.00,"periods":[]}],"cost":0.00}')

    def test_energy_today_in_device_answers(self):
        lst = self.get("/api/devices").json()["devices"]
        self.assertEqual(lst[0]["energy_today_wh"], 1.5)
        self.assertIn('"energy_today_wh":1.500', self.get("/api/devices").body)
        self.assertEqual(self.get("/api/devices/m1").json()["energy_today_wh"], 1.5)


class Retention(HistoryBase):
    """Raw readings past raw_retention_days are deleted; rollups and their answers stay."""

    zone = "UTC"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_server({"alice": "user", "op": "operator"}, {"r1": "alice"})
        now = int(time.time() * 1000)
        cls.old_day = (now - 40 * DAY) // DAY * DAY
        cls.old = readings(cls.old_day + HOUR, cls.old_day + 2 * HOUR, MIN)
        cls.recent = readings(now - HOUR, now - HOUR + 5 * MIN, MIN, energy0=cls.old[-1][4] + 10)
        batch = [{"device_id": "r1", "seq": k + 1, "ts": t, "voltage": v, "current": i,
                  "power_w": p, "energy_wh": e / 1000}
                 for k, (t, v, i, p, e) in enumerate(cls.old + cls.recent)]
        cls.srv.upload(cls.srv.secrets["r1"], batch, check=True)
        cls.w.put(cls.w.device_pk("r1"), cls.old + cls.recent, ZoneInfo("UTC"))
        cls.srv.stop()
        cls.srv = cls.new_server(extra_args=("--raw-retention-days", "30")).start()
        cls.tok = cls.srv.login_all(("alice", "op"))

    def test_old_readings_go_and_history_stays(self):
        def raw():
            return self.get("/api/device/data/r1?from=0&limit=10000").json()
        rows = wait_until(lambda: (lambda x: x if len(x) == len(self.recent) else None)(raw()),
                          30, what="old readings deleted")
        self.assertEqual(sorted(r["seq"] for r in rows),
                         list(range(len(self.old) + 1, len(self.old) + len(self.recent) + 1)))
        stats = wait_until(lambda: (lambda s: s if s["runs"] >= 1 else None)(
            self.get("/api/stats", who="op").json()["retention"]), 30, what="a retention run")
        self.assertEqual(stats["raw_retention_days"], 30)
        self.assertEqual(stats["rows_deleted"], len(self.old))
        self.assertGreaterEqual(stats["runs"], 1)
        self.assertEqual(stats["errors"], 0)
        # History of the deleted readings still answers, from rollups.
        day = datetime.datetime.fromtimestamp(self.old_day / 1000, datetime.timezone.utc).date()
        e = self.get(f"/api/devices/r1/energy?period=day&from={day}&to={day}").json()["buckets"]
        self.assertEqual(e[0]["readings"], len(self.old))
        self.assertEqual(round(e[0]["energy_wh"] * 1000), self.old[-1][4] - self.old[0][4])
        b = self.get(f"/api/device/data/r1?interval=1h&from={self.old_day}"
                     f"&to={self.old_day + DAY}").json()
        self.assertEqual([x["count"] for x in b], [len(self.old)])


if __name__ == "__main__":
    main()
