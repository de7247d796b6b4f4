"""The dashboard end to end: meter-server (SQLite) serving the built web files, two simulated
meters publishing through the fixture's mosquitto, and Chromium driven by dashboard.mjs.

Before the browser runs, the static file serving is checked over plain HTTP: content types,
caching headers, conditional requests, the app-route fallback and refused paths.
"""
import http.client as httpclient
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import (ARTIFACTS, IntegrationTest, Meter, Server, http, main,  # noqa: E402
                     new_database, services_env, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
WEB_ROOT = os.environ.get("WEB_ROOT", "")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USERS = {"admin": "admin", "op": "operator", "alice": "user", "bob": "user"}
# meter-a has harmonics, so its capture shows bars.
ADC_A = "sim:v=230,i=8,phase=25,h3=5,h5=3,h7=2,noise=0.1"


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
        cls.srv = cls.track(Server(cls.workdir, db, env["MQTT_URL"], extra_args=["--web-root", WEB_ROOT]))
        cls.srv.migrate()
        for name, role in USERS.items():
            cls.srv.add_user(name, role, f"{name}-password")
        cls.srv.add_device("meter-a", "alice")
        cls.srv.add_device("meter-b", "bob")
        cls.srv.start()
        cls.srv.wait_mqtt()
        for dev, adc in (("meter-a", ADC_A), ("meter-b", "sim")):
            os.makedirs(os.path.join(cls.workdir, dev))
            m = Meter(os.path.join(cls.workdir, dev), dev, env["MQTT_URL"], adc=adc)
            cls.track(m).start()
        tok = cls.srv.login("op", "op-password")
        for dev in ("meter-a", "meter-b"):
            wait_until(lambda d=dev: len(http("GET", cls.srv.url(f"/api/device/data/{d}?limit=3"), token=tok).json()) >= 3,
                       30, interval=0.5, what=f"readings of {dev}")

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
        env = dict(os.environ, BASE_URL=self.srv.base, CHROMIUM=CHROMIUM, SCREENSHOTS=shots)
        r = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs")], env=env, timeout=150)
        self.assertEqual(r.returncode, 0, "the browser test failed (its output is above)")


if __name__ == "__main__":
    main()
