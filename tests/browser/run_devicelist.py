"""The dashboard's device list in pages, end to end: meter-server (SQLite) with a park of 120
meters imported in one go (`meter-server device import`; every tenth named "Pump n", the others "Meter n", three
recharged so they are not in arrears), and Chromium driven by devicelist.mjs: the first render
shows 50 of them, "More" follows next_cursor, a search narrows, the filters and the fleet
counts are the server's, and the alarms page's device picker still lists every meter.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import ARTIFACTS, IntegrationTest, Server, http, main, new_database, services_env  # noqa: E402

os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

HERE = os.path.dirname(os.path.abspath(__file__))
WEB_ROOT = os.environ.get("WEB_ROOT", "")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLEET = [f"park-{i:03d}" for i in range(120)]
RECHARGED = ["park-001", "park-002", "park-003"]


class DeviceList(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(os.path.join(WEB_ROOT, "index.html")):
            raise AssertionError(f"no built dashboard in WEB_ROOT={WEB_ROOT!r} (build the 'web' target)")
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError(f"{CHROMIUM} is missing (scripts/deps.sh installs the chromium package)")
        env = services_env()
        db = new_database("sqlite", "devicelist", cls.workdir)
        cls.srv = cls.track(Server(cls.workdir, db, env["MQTT_URL"], extra_args=["--web-root", WEB_ROOT]))
        cls.srv.migrate()
        cls.srv.add_user("op", "operator", "op-password")
        park = os.path.join(cls.workdir, "park.csv")
        with open(park, "w", encoding="utf-8") as f:
            f.write("device_id,name,site\n")
            for i, dev in enumerate(FLEET):
                f.write(f"{dev},{('Pump ' if i % 10 == 0 else 'Meter ') + str(i)},{'north' if i < 60 else 'south'}\n")
        r = cls.srv.cli("device", "import", park)
        assert len(r.stdout.splitlines()) == len(FLEET), f"import printed {r.stdout[:200]!r}"
        cls.srv.start()
        tok = cls.srv.login("op", "op-password")
        for dev in RECHARGED:
            r = http("POST", cls.srv.url(f"/api/device/recharge/{dev}"), {"amount": "10.00"}, token=tok)
            assert r.status == 200, f"recharge {dev}: {r}"
        cls.summary = http("GET", cls.srv.url("/api/devices/summary"), token=tok).json()

    def test_the_park_is_as_the_browser_test_expects(self):
        self.assertEqual(self.summary["total"], len(FLEET))
        self.assertEqual(self.summary["in_arrears"], len(FLEET) - len(RECHARGED))

    def test_z_device_list_in_chromium(self):
        """Named to run last: the check above says more when the park is not as expected."""
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
                   FLEET=",".join(FLEET), RECHARGED=",".join(RECHARGED))
        r = subprocess.run(["node", os.path.join(HERE, "devicelist.mjs")], env=env, timeout=150)
        self.assertEqual(r.returncode, 0, "the browser test failed (its output is above)")


if __name__ == "__main__":
    main()
