"""Three-phase metering on the server: readings, history by phase, maximum demand, and a
six-channel capture through to COMTRADE.

A three-phase device (p3) uploads per-phase readings over HTTP with its own secret; the
API must return them in the latest reading and the raw data, answer history per phase
(from raw readings and from rollups), and keep the month's maximum demand. A capture
request is answered on MQTT, as meterd does, with the device's own credentials: six
channels of a known unbalanced signal, whose per-phase analysis and COMTRADE files must
match it. A single-phase device (p1) beside it answers exactly as before.
"""
import base64
import json
import math
import struct
import time

from harness import IntegrationTest, device_auth, main, mqtt_publish, wait_until

RATE_HZ = 6400
V = (230.0, 207.0, 230.0)  # phase b at 90 %
I = (10.0, 12.0, 8.0)
LAG = math.radians(30)
ANGLE = (0.0, -2 * math.pi / 3, 2 * math.pi / 3)


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def three_phase_reading(seq, ts_ms, scale=1.0, demand_w=None):
    r = {"device_id": "p3", "seq": seq, "ts": ts_ms, "wiring": "3p4w", "sequence": "abc",
         "voltage": 222.3 * scale, "current": 10.0 * scale, "power_w": 5736.6 * scale,
         "voltage_ab": 378.0 * scale, "current_n": 3.5 * scale, "unbalance_u2_pct": 3.4,
         "energy_wh": 1000 + seq, "energy_a_wh": 400 + seq}
    for k, p in enumerate("abc"):
        r[f"voltage_{p}"] = V[k] * scale
        r[f"current_{p}"] = I[k] * scale
        r[f"power_w_{p}"] = V[k] * I[k] * math.cos(LAG) * scale
    if demand_w is not None:
        r["demand_w"] = demand_w
    return r


def channel(values):
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def signal(n):
    """va, vb, vc, ia, ib, ic: n samples of the known three-phase signal."""
    out = [[0.0] * n for _ in range(6)]
    for j in range(n):
        th = 2 * math.pi * 50 * j / RATE_HZ
        for k in range(3):
            out[k][j] = V[k] * math.sqrt(2) * math.sin(th + ANGLE[k])
            out[3 + k][j] = I[k] * math.sqrt(2) * math.sin(th + ANGLE[k] - LAG)
    return out


class ThreePhase(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user", "bob": "user"},
                                     {"p3": "alice", "p1": "alice", "b1": "bob"},
                                     login=("op", "alice", "bob"))
        cls.tok = cls.srv.tokens
        now = int(time.time() * 1000)
        # Ten minutes of readings a second apart, ending a minute ago; demand peaks once.
        cls.t0 = (now - 11 * 60 * 1000) // 60000 * 60000
        cls.peak_ms = cls.t0 + 123 * 1000
        batch = []
        for k in range(600):
            ts = cls.t0 + k * 1000
            demand = 6000.0 if ts == cls.peak_ms else 5000.0 + (k % 7)
            batch.append(three_phase_reading(k + 1, ts, 1.0 + (k % 3) * 0.01, demand))
        for start in range(0, len(batch), 100):
            cls.srv.upload(cls.srv.secrets["p3"], batch[start:start + 100], check=True)
        single = [{"device_id": "p1", "seq": k + 1, "ts": cls.t0 + k * 1000, "voltage": 231.0, "current": 5.0,
                   "power_w": 1100.0} for k in range(60)]
        cls.srv.upload(cls.srv.secrets["p1"], single, check=True)

    def test_latest_and_raw_readings_carry_the_phases(self):
        r = self.get("/api/devices/p3", "alice")
        self.assertEqual(r.status, 200, r)
        latest = r.json()["latest"]
        self.assertEqual(latest["wiring"], "3p4w")
        self.assertAlmostEqual(latest["voltage_b"], V[1] * 1.02, places=3)
        self.assertAlmostEqual(latest["current_c"], I[2] * 1.02, places=3)
        rows = self.get("/api/device/data/p3?limit=3", "alice").json()
        self.assertEqual(len(rows), 3)
        self.assertIn("power_w_a", rows[0])
        self.assertIn("energy_a_wh", rows[0])
        # phase= keeps that phase's fields only
        rows = self.get("/api/device/data/p3?limit=2&phase=c", "alice").json()
        self.assertEqual(len(rows), 2)
        self.assertIn("voltage_c", rows[0])
        self.assertNotIn("voltage_a", rows[0])
        self.assertNotIn("voltage", rows[0])
        self.assertIn("seq", rows[0])

    def history(self, query, who="alice", device="p3"):
        r = self.get(f"/api/device/data/{device}?{query}", who)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_history_by_phase_from_rollups_and_raw_buckets(self):
        frm, to = iso(self.t0), iso(self.t0 + 600 * 1000)
        for interval in ("1m", "30"):  # rollups, then raw buckets
            with self.subTest(interval=interval):
                b = self.history(f"from={frm}&to={to}&interval={interval}&phase=b")
                self.assertTrue(b)
                first = b[0]
                self.assertIn("voltage_b", first)
                self.assertIn("current_b_max", first)
                self.assertNotIn("voltage", first)
                self.assertNotIn("voltage_a", first)
                self.assertTrue(V[1] <= first["voltage_b"] <= V[1] * 1.02, first)
                self.assertAlmostEqual(first["power_w_b_min"], V[1] * I[1] * math.cos(LAG),
                                       places=2)
                whole = self.history(f"from={frm}&to={to}&interval={interval}")
                self.assertIn("voltage", whole[0])
                self.assertNotIn("voltage_b", whole[0])
                self.assertEqual(len(whole), len(b))
                self.assertEqual(sum(x["count"] for x in b), 600)
        r = self.get(f"/api/device/data/p3?from={frm}&to={to}&interval=1m&phase=n", "alice")
        self.assertEqual(r.status, 400, r)
        self.assertIn("phase must be a, b or c", r.json()["message"])

    def test_a_single_phase_device_answers_as_before(self):
        frm, to = iso(self.t0), iso(self.t0 + 60 * 1000)
        for interval in ("1m", "10"):
            b = self.history(f"from={frm}&to={to}&interval={interval}", device="p1")
            self.assertTrue(b)
            self.assertEqual(b[0]["voltage"], 231.0)
            self.assertEqual(b[0]["power_w_max"], 1100.0)
            self.assertFalse([k for k in b[0] if k.endswith(("_a", "_b", "_c"))], b[0])
        self.assertEqual(self.history(f"from={frm}&to={to}&interval=1m&phase=a",
                                      device="p1")[0].get("voltage_a"), None)

    def test_the_months_maximum_demand(self):
        month = time.strftime("%Y-%m", time.gmtime(self.peak_ms // 1000))
        r = self.get(f"/api/devices/p3/demand?month={month}", "alice")
        self.assertEqual(r.status, 200, r)
        d = r.json()
        self.assertEqual(d["month"], month)
        self.assertEqual(d["demand_max_w"], 6000.0)
        self.assertEqual(d["demand_max_at"], iso(self.peak_ms))
        self.assertEqual(d["readings"], 600)
        listed = self.get("/api/devices/p3/demand", "alice").json()["months"]
        self.assertEqual(listed[0]["month"], month)
        # A month without data, a single-phase device: nulls
        empty = self.get("/api/devices/p1/demand?month=2001-01", "alice").json()
        self.assertIsNone(empty["demand_max_w"])
        self.assertEqual(empty["readings"], 0)
        # Errors: bad month, a foreign device
        self.assertEqual(self.get("/api/devices/p3/demand?month=2026-13", "alice").status, 400)
        self.assertEqual(self.get("/api/devices/p3/demand?month=26-01", "alice").status, 400)
        self.assertEqual(self.get(f"/api/devices/p3/demand?month={month}", "bob").status, 404)
        self.assertEqual(self.get("/api/devices/p3/demand", "op").status, 200)

    def test_a_six_channel_capture_reaches_comtrade(self):
        # The broker drops the server once when it gives it its role: it reconnects at once.
        r = wait_until(lambda: (lambda r: r if r.status != 503 else None)(
            self.call("POST", "/api/devices/p3/captures", {"duration_ms": 1000}, who="op")),
            20, interval=0.2, what="the capture request accepted")
        self.assertEqual(r.status, 202, r)
        body = r.json()
        cid, rid = body["capture_id"], body["request_id"]
        n = RATE_HZ
        x = signal(n)
        names = ["va", "vb", "vc", "ia", "ib", "ic"]
        payload = {"id": rid, "rate_hz": RATE_HZ, "start": iso(int(time.time() * 1000) - 1000),
                   "samples": n, "wiring": "3p4w", "channels": names,
                   "units": ["V", "V", "V", "A", "A", "A"], "encoding": "f32le-base64",
                   "nominal_hz": 50, "phase_cal_deg": {"ia": 0, "ib": 0, "ic": 0}}
        for k, name in enumerate(names):
            payload[name] = channel(x[k])
        mqtt_publish(self.srv.mqtt, "meters/p3/capture", json.dumps(payload),
                     auth=device_auth("p3", self.srv.secrets["p3"]))

        def done():
            d = self.get(f"/api/devices/p3/captures/{cid}", "alice").json()
            return d if d["state"] != "pending" else None
        d = wait_until(done, 30, interval=0.2, what="capture complete")
        self.assertEqual(d["state"], "complete", d)
        self.assertEqual(d["wiring"], "3p4w")
        self.assertEqual(d["channels"], names)
        a = d["analysis"]
        self.assertEqual(a["sequence"], "abc")
        total = 0
        for k, p in enumerate("abc"):
            pw = V[k] * I[k] * math.cos(LAG)
            total += pw
            self.assertAlmostEqual(a["phases"][p]["vrms"] / V[k], 1, delta=0.001)
            self.assertAlmostEqual(a["phases"][p]["irms"] / I[k], 1, delta=0.001)
            self.assertAlmostEqual(a["phases"][p]["p_w"] / pw, 1, delta=0.002)
        self.assertAlmostEqual(a["p_w"] / total, 1, delta=0.002)
        self.assertGreater(a["unbalance_u2_pct"], 2)

        s = self.get(f"/api/devices/p3/captures/{cid}/samples?decimate=4", "alice").json()
        self.assertEqual(s["channels"], names)
        self.assertEqual(len(s["ib"]), n // 4)
        self.assertAlmostEqual(s["ib"][10], x[4][40], places=3)

        cfg = self.get(f"/api/devices/p3/captures/{cid}/comtrade.cfg", "alice")
        self.assertEqual(cfg.status, 200, cfg)
        lines = cfg.body.split("\r\n")
        self.assertEqual(lines[0], "p3,smartmeter,1999")
        self.assertEqual(lines[1], "6,6A,0D")
        for k, name in enumerate(names):
            f = lines[2 + k].split(",")
            self.assertEqual(f[0], str(k + 1))
            self.assertEqual(f[1], name.upper())
            self.assertEqual(f[2], name[1])  # the phase: a, b, c
            self.assertEqual(f[4], "A" if name[0] == "i" else "V")
        self.assertEqual(lines[10], f"{RATE_HZ},{n}")
        scale = [(float(lines[2 + k].split(",")[5]), float(lines[2 + k].split(",")[6]))
                 for k in range(6)]
        dat = self.get(f"/api/devices/p3/captures/{cid}/comtrade.dat", "alice")
        self.assertEqual(dat.status, 200, dat)
        rows = dat.body.rstrip("\r\n").split("\r\n")
        self.assertEqual(len(rows), n)
        f = rows[100].split(",")
        self.assertEqual(len(f), 8)
        for k in range(6):
            a_k, b_k = scale[k]
            self.assertAlmostEqual(a_k * int(f[2 + k]) + b_k, x[k][100], delta=a_k)
        # bob sees nothing of p3
        self.assertEqual(self.get(f"/api/devices/p3/captures/{cid}/comtrade.cfg", "bob").status,
                         404)


if __name__ == "__main__":
    main()
