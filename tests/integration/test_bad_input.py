"""Bad input from outside gets a clear 4xx and never disturbs good data: HTTP and MQTT."""
from http.client import HTTPConnection
import json
import time

from harness import IntegrationTest, http, main, mqtt_publish, wait_until


class BadInput(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = f"bad-{cls.backend}"
        cls.srv = cls.server_fixture({"op": "operator", "mallory": "user"}, {cls.dev: "op"},
                                     login=("op",),
                                     extra_args=["--max-batch", "50", "--login-max-failures", "3"])
        cls.mqtt = cls.srv.mqtt
        cls.secret = cls.srv.secrets[cls.dev]
        cls.token = cls.srv.tokens["op"]

    def post(self, path, raw, token=None, headers=None):
        h = {"Content-Type": "application/json", **(headers or {})}
        return http("POST", self.srv.url(path), raw=raw, token=token, headers=h)

    def assert_400(self, r, words):
        self.assertEqual(r.status, 400, r)
        body = r.json()
        self.assertEqual(body["status"], "error")
        self.assertIn(words, body["message"])

    def test_malformed_and_hostile_json_is_refused_with_a_reason(self):
        url = f"/api/device/recharge/{self.dev}"
        cases = [
            (b'{"amount": 1', "malformed JSON"),
            (b'{"amount": NaN}', "malformed JSON"),
            (b'{"amount": Infinity}', "malformed JSON"),
            (b'{"amount": 1e400}', "malformed JSON"),
            (b'{"amount": 1, "amount": 2}', "malformed JSON"),
            (b'[1, 2]', "must be a JSON object"),
            (b'"text"', "malformed JSON"),
            (b"[" * 50 + b"]" * 50, "nested deeper"),
            (b'{"amount": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}', "nested deeper"),
            (b"", "must be a JSON object"),
            (b'{"amount": "12.345"}', "two decimals"),
            (b'{"amount": 0.001}', "two decimals"),
            (b'{"amount": true}', "amount must be"),
            (b'{"amount": 0}', "more than 0"),
            (b'{"amount": -1}', "more than 0"),
            (b'{"amount": 100000000}', "at most"),
            (b'{}', "amount is missing"),
        ]
        for raw, words in cases:
            with self.subTest(raw=raw[:40]):
                self.assert_400(self.post(url, raw, token=self.token), words)

    def test_bodies_over_the_cap_get_413(self):
        r = self.post("/api/login", b'{"username": "' + b"a" * (2 << 20) + b'"}')
        self.assertEqual(r.status, 413, r)
        self.assertIn("larger than", r.json()["message"])

    def test_login_fields_are_checked(self):
        self.assert_400(self.post("/api/login", b'{"username": "op"}'), "password is missing")
        self.assert_400(self.post("/api/login", b'{"username": 5, "password": "x"}'),
                        "username must be a string")
        self.assert_400(self.post("/api/login", json.dumps(
            {"username": "op", "password": "p" * 2000}).encode()), "password must be at most")

    def test_history_parameters_are_checked(self):
        base = f"/api/device/data/{self.dev}"
        for query, words in (("?limit=0", "limit"), ("?limit=10001", "limit"), ("?limit=ten", "limit"),
                             ("?from=yesterday", "from must be"), ("?to=2026-13-01T00:00:00Z", "to must be"),
                             ("?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "earlier"),
                             ("?interval=0", "interval"), ("?interval=5w", "interval"),
                             ("?interval=999d", "interval")):
            with self.subTest(query=query):
                self.assert_400(http("GET", self.srv.url(base + query), token=self.token), words)

    def test_uploads_are_validated_and_all_or_nothing(self):
        auth = {"Authorization": f"Bearer {self.secret}"}
        ok = {"device_id": self.dev, "voltage": 230, "current": 1}
        cases = [
            ({**ok, "voltage": "230"}, "voltage must be a number"),
            ({**ok, "voltage": -3}, "voltage out of range"),
            ({**ok, "pf": 2}, "pf out of range"),
            ({"device_id": self.dev, "current": 1}, "voltage is missing"),
            ({**ok, "seq": -1}, "seq must be"),
            ({**ok, "ts": "yesterday"}, "ts must be"),
            ({**ok, "ts": "2199-01-01T00:00:00Z"}, "future"),
            ([ok, {**ok, "current": None}], "item 1: current is missing"),
            ([ok] * 51, "1 to 50 readings"),
            ([], "1 to 50 readings"),
        ]
        before = len(http("GET", self.srv.url(f"/api/device/data/{self.dev}"), token=self.token).json())
        for body, words in cases:
            with self.subTest(words=words):
                self.assert_400(self.post("/api/device/data", json.dumps(body).encode(), headers=auth),
                                words)
        after = len(http("GET", self.srv.url(f"/api/device/data/{self.dev}"), token=self.token).json())
        self.assertEqual(before, after, "a refused upload stored nothing")

    def test_idempotency_keys_are_checked(self):
        url = f"/api/device/recharge/{self.dev}"
        r = self.post(url, b'{"amount": 1}', token=self.token, headers={"Idempotency-Key": "k" * 200})
        self.assert_400(r, "Idempotency-Key")
        r1 = self.post(url, b'{"amount": 3}', token=self.token, headers={"Idempotency-Key": "bad-1"})
        self.assertEqual(r1.status, 200, r1)
        r2 = self.post(url, b'{"amount": 4}', token=self.token, headers={"Idempotency-Key": "bad-1"})
        self.assertEqual(r2.status, 409, r2)

    def test_unknown_routes_and_methods(self):
        self.assertEqual(http("GET", self.srv.url("/api/nope"), token=self.token).status, 404)
        # Paths outside /api/ belong to the dashboard (when built): a missing file is 404 there too.
        self.assertEqual(http("GET", self.srv.url("/elsewhere.php")).status, 404)
        r = http("DELETE", self.srv.url("/api/login"))
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers["Allow"], "POST")

    def test_repeated_failed_logins_are_throttled(self):
        for _ in range(3):
            self.assertEqual(self.post("/api/login", b'{"username": "mallory", "password": "no"}').status, 401)
        r = self.post("/api/login", b'{"username": "mallory", "password": "mallory-password"}')
        self.assertEqual(r.status, 429, r)
        self.assertTrue(int(r.headers["Retry-After"]) > 0)
        # failures from one address do not lock the user out elsewhere
        conn = HTTPConnection("127.0.0.1", self.srv.port, timeout=30,
                                          source_address=("127.0.0.2", 0))
        conn.request("POST", "/api/login", b'{"username": "mallory", "password": "mallory-password"}')
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_bad_mqtt_payloads_are_counted_and_never_block_valid_data(self):
        stats = lambda: http("GET", self.srv.url("/api/stats"), token=self.token).json()["mqtt"]
        before = stats()
        topic = f"meters/{self.dev}/telemetry"
        now = int(time.time() * 1000)
        garbage = [
            (topic, "not json at all"),
            (topic, '{"seq": 1}'),
            (topic, '{"seq": 1, "ts": %d, "voltage": NaN, "current": 1}' % now),
            (topic, '{"seq": 1, "ts": %d, "voltage": 1, "current": 1, "device_id": "other"}' % now),
            (topic, "[" * 100 + "]" * 100),
            (topic, "x" * 300000),
            ("meters/never-registered/telemetry", '{"seq": 1, "ts": %d, "voltage": 1, "current": 1}' % now),
        ]
        for t, payload in garbage:
            mqtt_publish(self.mqtt, t, payload)
        batch = json.dumps([{"seq": 500, "ts": now, "voltage": 229.5, "current": 3.25},
                            {"seq": 501, "ts": now, "voltage": -5, "current": 1},
                            {"seq": 502, "ts": now + 1, "voltage": 229.75, "current": 3.5}])
        mqtt_publish(self.mqtt, topic, batch)

        def arrived():
            rows = http("GET", self.srv.url(f"/api/device/data/{self.dev}"), token=self.token).json()
            return {r["seq"]: r for r in rows if r["seq"] >= 500}
        rows = wait_until(lambda: len(arrived()) == 2 and arrived(), 15, what="valid readings after garbage")
        self.assertEqual(sorted(rows), [500, 502])
        self.assertEqual(rows[502]["voltage"], 229.75)
        after = stats()
        self.assertGreaterEqual(after["invalid"] - before["invalid"], 6)
        self.assertGreaterEqual(after["unknown_device"] - before["unknown_device"], 1)
        self.assertGreaterEqual(after["too_large"] - before["too_large"], 1)
        # the server logs a device's bad payloads once a minute, not once per message
        self.assertLessEqual(self.srv.log().count(f"invalid telemetry from device '{self.dev}'"), 1)


if __name__ == "__main__":
    main()
