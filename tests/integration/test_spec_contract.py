"""The contract of SPEC.md, end to end, as an outside script would check it.

Uses only the documented command line, REST endpoints and MQTT topics: migrate
a database, add users and devices, start the server and a simulated meter, log
in, read readings in the seed's shape, be refused on another user's device,
recharge exactly, and get 400 with a message for malformed input.
Run with --backend sqlite or --backend mysql.
"""
import datetime
import json
import time
from decimal import Decimal

from harness import IntegrationTest, Meter, http, main


class SpecContract(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.device = f"contract-{cls.backend}-a"
        cls.other_device = f"contract-{cls.backend}-b"
        users = {"admin": "admin", "operator1": ("operator", "operator-password"),
                 "alice": "user", "bob": "user"}
        cls.srv = cls.server_fixture(users, {cls.device: "alice", cls.other_device: "bob"},
                                     migrations=2)
        cls.migrate_outputs = tuple(cls.srv.migrations)
        cls.secret = cls.srv.secrets[cls.device]
        cls.other_secret = cls.srv.secrets[cls.other_device]
        cls.meter = cls.track(Meter(cls.workdir, cls.device, cls.srv.mqtt, interval="1",
                                    adc="sim:freq=50,v=230,i=10,phase=30"))
        cls.meter.start()

    def test_1_migrate_is_idempotent(self):
        first, again = self.migrate_outputs
        self.assertEqual(first.returncode, 0)
        self.assertEqual(again.returncode, 0)

    def test_2_login_returns_a_token_in_the_seed_shape(self):
        r = http("POST", self.srv.url("/api/login"), {"username": "alice", "password": "alice-password"})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "success")
        self.assertEqual(len(body["token"].split(".")), 3)
        bad = http("POST", self.srv.url("/api/login"), {"username": "alice", "password": "wrong"})
        self.assertEqual(bad.status, 401)
        self.assertEqual(bad.json()["status"], "error")

    def test_3_three_readings_arrive_within_ten_seconds(self):
        token = self.srv.login("alice", "alice-password")
        start = time.monotonic()
        rows = []
        while time.monotonic() - start < 10:
            r = http("GET", self.srv.url(f"/api/device/data/{self.device}"), token=token)
            self.assertEqual(r.status, 200, r)
            rows = r.json()
            if len(rows) >= 3:
                break
            time.sleep(0.25)
        self.assertGreaterEqual(len(rows), 3, f"only {len(rows)} readings after 10 s; server log:\n"
                                f"{self.srv.log()}")
        for row in rows:
            self.assertIsInstance(row["timestamp"], str)
            datetime.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            self.assertIsInstance(row["voltage"], (int, float))
            self.assertIsInstance(row["current"], (int, float))
            self.assertAlmostEqual(row["voltage"], 230, delta=2.3)
            self.assertAlmostEqual(row["current"], 10, delta=0.1)
        stamps = [row["timestamp"] for row in rows]
        self.assertEqual(stamps, sorted(stamps, reverse=True), "newest first")
        seqs = [row["seq"] for row in rows]
        self.assertEqual(len(set(seqs)), len(seqs))
        # computed from the simulated waveform: P = V I cos(30 deg)
        self.assertAlmostEqual(rows[0]["power_w"], 2300 * 0.8660254, delta=2300 * 0.01)

    def test_4_another_users_device_is_refused(self):
        token = self.srv.login("alice", "alice-password")
        for method, path, body in (
                ("GET", f"/api/device/data/{self.other_device}", None),
                ("POST", f"/api/device/recharge/{self.other_device}", {"amount": 1})):
            r = http(method, self.srv.url(path), body, token=token)
            self.assertIn(r.status, (403, 404), r)
            self.assertEqual(r.json()["status"], "error")
            self.assertNotIn("bob", r.body)

    def test_5_operator_recharge_is_exact(self):
        token = self.srv.login("operator1", "operator-password")
        url = self.srv.url(f"/api/device/recharge/{self.device}")
        r1 = http("POST", url, raw=b'{"amount": 100.10}', token=token,
                  headers={"Content-Type": "application/json"})
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r1.json()["status"], "success")
        self.assertEqual(json.loads(r1.body, parse_float=Decimal)["new_balance"], Decimal("100.10"))
        r2 = http("POST", url, raw=b'{"amount": 0.20}', token=token,
                  headers={"Content-Type": "application/json"})
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(json.loads(r2.body, parse_float=Decimal)["new_balance"], Decimal("100.30"))
        self.assertEqual(r2.json()["new_balance"], 100.3)

    def test_6_malformed_input_gets_400_with_a_message(self):
        token = self.srv.login("operator1", "operator-password")
        cases = [
            ("POST", "/api/login", b'{"username": "alice", "password": '),
            ("POST", "/api/login", b'{"username": "alice"}'),
            ("POST", f"/api/device/recharge/{self.device}", b'{"amount": "lots"}'),
            ("POST", f"/api/device/recharge/{self.device}", b'{"amount": NaN}'),
            ("POST", f"/api/device/recharge/{self.device}", b'{"amount": -5}'),
            ("GET", f"/api/device/data/{self.device}?from=yesterday", None),
        ]
        for method, path, raw in cases:
            r = http(method, self.srv.url(path), raw=raw, token=token,
                     headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 400, (path, raw, r))
            body = r.json()
            self.assertEqual(body["status"], "error")
            self.assertTrue(len(body["message"]) > 5, body)
        r = http("POST", self.srv.url("/api/device/data"), raw=b'{"device_id": "x", "voltage": }',
                 headers={"Authorization": f"Bearer {self.secret}"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("malformed JSON", r.json()["message"])

    def test_7_a_device_uploads_with_its_own_secret_only(self):
        url = self.srv.url("/api/device/data")
        ok = http("POST", url, {"device_id": self.other_device, "voltage": 220.5, "current": 10.2},
                  headers={"Authorization": f"Bearer {self.other_secret}"})
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(ok.json()["status"], "success")
        other = http("POST", url, {"device_id": self.other_device, "voltage": 220.5, "current": 10.2},
                     headers={"Authorization": f"Bearer {self.secret}"})
        self.assertEqual(other.status, 403, other)
        token = self.srv.login("bob", "bob-password")
        rows = http("GET", self.srv.url(f"/api/device/data/{self.other_device}"), token=token).json()
        self.assertEqual(rows[0]["voltage"], 220.5)
        self.assertEqual(rows[0]["current"], 10.2)


if __name__ == "__main__":
    main()
