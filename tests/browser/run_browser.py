"""The dashboard end to end: meter-server (SQLite) serving the built web files, two simulated
meters publishing through the fixture's mosquitto, a three-phase meter whose readings are
uploaded over HTTP with its secret, and Chromium driven by dashboard.mjs. alice has paid for
meter-a through the WeChat Pay stand-in (one order paid, one left unpaid) so the payments
list has orders in both states.

Before the browser runs, the static file serving is checked over plain HTTP: content types,
caching headers, conditional requests, the app-route fallback and refused paths.
"""
import http.client as httpclient
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import (ARTIFACTS, IntegrationTest, Meter, Server, bearer, http, main,  # noqa: E402
                     new_database, services_env, wait_until, write_secret_file)
from wechat_standin import Standin, code_for  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wxpay_standin import APPID, WxpayStandin  # noqa: E402

os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

HERE = os.path.dirname(os.path.abspath(__file__))
WEB_ROOT = os.environ.get("WEB_ROOT", "")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USERS = {"admin": "admin", "op": "operator", "alice": "user", "bob": "user"}
# meter-a has harmonics, so its capture shows bars.
ADC_A = "sim:v=230,i=8,phase=25,h3=5,h5=3,h7=2,noise=0.1"
# The three-phase meter (bob's): its readings go up over HTTP, an hour of minutes.
METER_3P = "meter-p3"
SEED_MINUTES = 60
# A simulated three-phase meter (bob's too), for its live readings and a six-channel capture:
# phase c at 220 V, currents 10/12/8 A lagging 20°, 3 % of the 5th harmonic.
METER_T3 = "meter-t3"
ADC_T3 = "sim:wiring=3p4w,v=230,i=10,ib=12,ic=8,vc=220,phase=20,h5=3"


def three_phase_reading(seq, ts_ms, order="abc", scale=1.0):
    """A consistent three-phase (3p4w) reading: per-phase powers from V, I and the angle, the
    totals their sums. order "acb" swaps the voltage angles of b and c (two phases swapped);
    scale multiplies the currents, so a later reading is told apart from an earlier one. ts_ms
    None leaves the time to the server (the time of arrival)."""
    at_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
    v = {"a": 231.2, "b": 228.4, "c": 226.9}
    i = {"a": 10.5 * scale, "b": 12.6 * scale, "c": 8.4 * scale}
    lag = {"a": 25.0, "b": 31.0, "c": 18.0}
    angle_v = {"b": -119.4, "c": 120.7} if order == "abc" else {"b": 119.4, "c": -120.7}
    r = {"device_id": METER_3P, "seq": seq, "wiring": "3p4w", "sequence": order,
         "freq_hz": 50.02, "angle_v_b": angle_v["b"], "angle_v_c": angle_v["c"],
         "voltage_ab": 398.1, "voltage_bc": 394.6, "voltage_ca": 395.9, "current_n": 3.7 * scale,
         "unbalance_u2_pct": 1.23, "unbalance_u0_pct": 0.41, "unbalance_i2_pct": 14.6,
         "demand_w": 6543.0 * scale, "demand_max_w": 7890.0, "demand_max_ts": at_ms - 3 * 3600 * 1000}
    if ts_ms is not None:
        r["ts"] = ts_ms
    total = {"power_w": 0.0, "reactive_var": 0.0, "apparent_va": 0.0}
    for p in "abc":
        s_va = v[p] * i[p]
        p_w = s_va * math.cos(math.radians(lag[p]))
        q_var = s_va * math.sin(math.radians(lag[p]))
        r.update({f"voltage_{p}": v[p], f"current_{p}": round(i[p], 3), f"power_w_{p}": round(p_w, 2),
                  f"reactive_var_{p}": round(q_var, 2), f"apparent_va_{p}": round(s_va, 2),
                  f"pf_{p}": round(p_w / s_va, 6), f"phase_deg_{p}": lag[p],
                  f"thd_v_{p}": {"a": 2.1, "b": 2.6, "c": 3.4}[p], f"thd_i_{p}": {"a": 8.0, "b": 9.5, "c": 6.2}[p],
                  f"energy_{p}_wh": 1000.0 * {"a": 512, "b": 604, "c": 398}[p] + seq})
        total["power_w"] += p_w
        total["reactive_var"] += q_var
        total["apparent_va"] += s_va
    r.update({k: round(x, 2) for k, x in total.items()})
    r.update({"voltage": round(sum(v.values()) / 3, 2), "current": round(sum(i.values()) / 3, 3),
              "pf": round(total["power_w"] / total["apparent_va"], 6), "thd_v": 3.4, "thd_i": 9.5,
              "energy_wh": sum(r[f"energy_{p}_wh"] for p in "abc")})
    return r


def raw_get(port, path, headers=None):
    """GET with the path exactly as given (no client-side normalisation)."""
    c = httpclient.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class Dashboard(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(os.path.join(WEB_ROOT, "index.html")):
            raise AssertionError(f"no built dashboard in WEB_ROOT={WEB_ROOT!r} (build the 'web' target)")
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError(f"{CHROMIUM} is missing (scripts/deps.sh installs the chromium package)")
        env = services_env()
        db = new_database("sqlite", "dashboard", cls.workdir)
        # WeChat login and WeChat Pay stand-ins, so alice can pay for her meter.
        app_secret = "appsecret" + secrets.token_hex(16)
        secret_file = write_secret_file(os.path.join(cls.workdir, "wechat.secret"), app_secret + "\n")
        cls.login_wx = Standin(APPID, app_secret).start()
        keydir = os.path.join(cls.workdir, "wxpay-keys")
        os.makedirs(keydir)
        cls.wx = WxpayStandin(keydir).start()
        cls.srv = cls.track(Server(cls.workdir, db, env["MQTT_URL"], extra_args=["--web-root", WEB_ROOT]))
        cls.srv.extra += ["--wechat-appid", APPID, "--wechat-secret-file", secret_file,
                          "--wechat-api-base", cls.login_wx.base]
        for k, v in cls.wx.options(cls.srv.url("/api/payments/wechat/notify")).items():
            cls.srv.extra += ["--" + k.replace("_", "-"), v]
        cls.srv.migrate()
        for name, role in USERS.items():
            cls.srv.add_user(name, role, f"{name}-password")
        cls.srv.add_device("meter-a", "alice")
        cls.srv.add_device("meter-b", "bob")
        cls.srv.add_device(METER_3P, "bob")
        cls.srv.add_device(METER_T3, "bob")
        cls.srv.start()
        cls.srv.wait_mqtt()
        for dev, adc in (("meter-a", ADC_A), ("meter-b", "sim"), (METER_T3, ADC_T3)):
            os.makedirs(os.path.join(cls.workdir, dev))
            m = Meter(os.path.join(cls.workdir, dev), dev, env["MQTT_URL"], adc=adc)
            cls.track(m).start()
        # An hour of the three-phase meter's minutes, the newest with two phases swapped.
        now_ms = int(time.time() * 1000)
        seed = [three_phase_reading(k + 1, now_ms - (SEED_MINUTES - k) * 60000) for k in range(SEED_MINUTES)]
        seed.append(three_phase_reading(SEED_MINUTES + 1, now_ms, order="acb"))
        r = http("POST", cls.srv.url("/api/device/data"), seed, headers=bearer(cls.srv.secrets[METER_3P]))
        assert r.status == 200 and r.json()["stored"] == len(seed), f"three-phase upload: {r}"
        tok = cls.srv.login("op", "op-password")
        cls.pay_for_meter_a()
        for dev in ("meter-a", "meter-b", METER_T3):
            wait_until(lambda d=dev: len(http("GET", cls.srv.url(f"/api/device/data/{d}?limit=3"), token=tok).json()) >= 3,
                       30, interval=0.5, what=f"readings of {dev}")

    @classmethod
    def tearDownClass(cls):
        cls.wx.stop()
        cls.login_wx.stop()
        super().tearDownClass()

    @classmethod
    def pay_for_meter_a(cls):
        """alice links her account to WeChat, pays 50.00 for meter-a and places a 20.00 order
        she never pays."""
        alice = cls.srv.login("alice", "alice-password")
        r = http("POST", cls.srv.url("/api/me/wechat"), {"code": code_for("oAliceBrowser_01")}, token=alice)
        assert r.status in (200, 201), f"linking alice to WeChat: {r}"
        orders = []
        for amount in ("50.00", "20.00"):
            r = http("POST", cls.srv.url("/api/devices/meter-a/payments"), {"amount": amount}, token=alice)
            assert r.status == 201, f"order of {amount}: {r}"
            orders.append(r.json()["out_trade_no"])
        status, _ = cls.wx.pay_and_notify(orders[0])
        assert status in (200, 204), f"payment notification answered {status}"
        r = http("GET", cls.srv.url(f"/api/devices/meter-a/payments/{orders[0]}"), token=alice)
        assert r.status == 200 and r.json()["state"] == "paid", f"the paid order: {r}"
        cls.orders = orders

    def test_static_files_are_served_with_caching_headers(self):
        status, h, body = raw_get(self.srv.port, "/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn("default-src 'self'", h["content-security-policy"])
        self.assertIn(b'<div id="app">', body)
        asset = next(a for a in os.listdir(os.path.join(WEB_ROOT, "assets")) if a.endswith(".js"))
        status, h, body = raw_get(self.srv.port, f"/assets/{asset}")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
        self.assertIn("immutable", h["cache-control"])
        with open(os.path.join(WEB_ROOT, "assets", asset), "rb") as f:
            self.assertEqual(body, f.read())
        status, h2, body = raw_get(self.srv.port, f"/assets/{asset}", {"If-None-Match": h["etag"]})
        self.assertEqual((status, body), (304, b""))
        status, _, body = raw_get(self.srv.port, f"/assets/{asset}", {"If-Modified-Since": h["last-modified"]})
        self.assertEqual((status, body), (304, b""))
        status, _, body = raw_get(self.srv.port, f"/assets/{asset}", {"If-None-Match": '"0-0"'})
        self.assertEqual(status, 200, "another tag must not match")

    def test_app_routes_get_index_and_missing_files_404(self):
        for path in ("/devices", "/devices/meter-a", "/login?next=1"):
            status, h, body = raw_get(self.srv.port, path)
            self.assertEqual((status, h["content-type"]), (200, "text/html; charset=utf-8"), path)
        for path in ("/assets/missing.js", "/nope.css"):
            self.assertEqual(raw_get(self.srv.port, path)[0], 404, path)
        # The API keeps its own answers.
        status, h, body = raw_get(self.srv.port, "/api/nope")
        self.assertEqual((status, h["content-type"]), (404, "application/json"))

    def test_traversal_and_encoded_slashes_are_refused(self):
        for path in ("/../../etc/passwd", "/assets/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                     "/assets%2F..%2F..%2Fetc%2Fpasswd", "/.hidden", "/a%00.html", "/a\\b"):
            status, _, body = raw_get(self.srv.port, path)
            self.assertIn(status, (400, 404), path)
            self.assertNotIn(b"root:", body, path)
        self.assertEqual(raw_get(self.srv.port, "/assets%2Fx.js")[0], 400)
        r = http("POST", self.srv.url("/devices"), raw=b"x")
        self.assertEqual((r.status, r.headers.get("Allow")), (405, "GET, HEAD"))

    def test_z_dashboard_in_chromium(self):
        """Named to run last: the static checks above fail faster and say more."""
        npm = shutil.which("npm")
        self.assertIsNotNone(npm, "npm is missing")
        installed = os.path.join(HERE, "node_modules", ".package-lock.json")
        lock = os.path.join(HERE, "package-lock.json")
        if not os.path.exists(installed) or os.path.getmtime(lock) > os.path.getmtime(installed):
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=HERE,
                           check=True, timeout=120)
        shots = os.path.join(ARTIFACTS, "browser")
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ, BASE_URL=self.srv.base, CHROMIUM=CHROMIUM, SCREENSHOTS=shots,
                   METER_3P=METER_3P, METER_T3=METER_T3, METER_3P_SECRET=self.srv.secrets[METER_3P],
                   METER_3P_NEXT=json.dumps(three_phase_reading(SEED_MINUTES + 2, None, scale=1.2)),
                   PAID_ORDER=self.orders[0], OPEN_ORDER=self.orders[1])
        r = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs")], env=env, timeout=150)
        self.assertEqual(r.returncode, 0, "the browser test failed (its output is above)")


if __name__ == "__main__":
    main()
