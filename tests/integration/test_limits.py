"""Rate limits and slow clients (docs/api.md "Rate limits", docs/security.md): the audit's F5
and F6 scripts (tests/integration/attacks.py) rerun against this build.

- F5a: crafted user names cannot evict an address's failure counter (the table is keyed and
  never gives up a live count): at most login_max_failures wrong passwords per address.
- F5b: logins sent at one instant cannot race past the limit (each check is reserved first).
- F6a: one address cannot hold more than max_connections_per_ip connections, and headers that
  never finish are cut off at http_header_timeout_s; /api/health stays fast meanwhile.
- F6b: a flood of wrong-password logins from many addresses does not slow /api/health (the
  hashing runs on its own threads; a full queue answers 503).
- Requests per address, per user and per device upload answer 429 with Retry-After.
Every load is bounded in count and time, on loopback addresses only."""
import time
from concurrent.futures import ThreadPoolExecutor

from attacks import (http_status, load_result, login_race, login_request, p99, rl_bypass,
                     start_load, time_health)
from harness import IntegrationTest, main

LIMIT = 10            # login_max_failures, the default
# /api/health under load, 99th percentile: under 50 ms, or five times what it is unloaded in
# the same run when the machine is slower than that allows (a sanitizer build, a busy machine).
# Before the fixes a login flood took it to 0.7 s median, 5 s at most.
HEALTH_P99_S = 0.050
HEALTH_P99_FACTOR = 5


def raw_get(path, token=None):
    auth = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
    return b"GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (path.encode(), auth)


class LoginThrottle(IntegrationTest):
    """The default options (login_max_failures 10, max_connections_per_ip 64), with a short
    header deadline so the slowloris run sees it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"alice": "user", "op": "operator"}
        cls.srv = cls.server_fixture(users, login=users, connect=False,
                                     extra_args=["--http-header-timeout-s", "3"])
        cls.port = cls.srv.port
        idle = time_health(cls.port, 2)
        cls.health_p99_limit = max(HEALTH_P99_S, HEALTH_P99_FACTOR * p99(idle))

    def test_f5a_crafted_names_cannot_evict_an_addresss_count(self):
        src = "127.0.0.8"
        out = rl_bypass(self.port, src, ["alice", "op"], 60, LIMIT)
        wrong = sum(n for k, n in out["results"].items() if k.endswith(" 401"))
        self.assertLessEqual(wrong, LIMIT, out)
        self.assertIsNotNone(out["first_429"], out)
        # The address stays blocked, even for the right password.
        status, _ = http_status(self.port, login_request("alice", "alice-password"), src)
        self.assertEqual(status, "429")

    def test_f5b_simultaneous_logins_cannot_race_past_the_limit(self):
        out = login_race(self.port, "127.0.0.4", 60, "alice", "alice-password")
        st = out["statuses"]
        # Every password checked counted: wrong ones (401) and the right one (200) together.
        self.assertLessEqual(st.get("401", 0) + st.get("200", 0), LIMIT, out)
        self.assertGreaterEqual(st.get("429", 0), 60 - LIMIT - st.get("503", 0), out)
        self.assertLessEqual(len(out["token_for"]), 1, out)

    def test_a_right_password_is_given_back_and_clears_the_user_count(self):
        src = "127.0.0.9"
        for i in range(LIMIT - 1):
            self.assertEqual(http_status(self.port, login_request("op", "wrong%d" % i), src)[0],
                             "401")
        # Right ones cost nothing: the address is one failure short of its limit throughout.
        for _ in range(3):
            self.assertEqual(http_status(self.port, login_request("op", "op-password"), src)[0],
                             "200")
        self.assertEqual(http_status(self.port, login_request("op", "wrong"), src)[0], "401")
        self.assertEqual(http_status(self.port, login_request("op", "op-password"), src)[0], "429")
        r = http_status(self.port, login_request("op", "op-password"), "127.0.0.10")
        self.assertEqual(r[0], "200")  # other addresses are not affected

    def test_f6a_slowloris_from_one_address_holds_64_connections_for_3_seconds(self):
        load = start_load("slowloris", self.port, 300, 6, "127.0.0.66")
        lat = time_health(self.port, 5.5, until=lambda: load.poll() is not None)
        out = load_result(load)
        self.assertEqual(out["opened"] + out["failed"], 300, out)
        self.assertLessEqual(out["open_after_1s"], 64, out)
        self.assertEqual(out["open_at_end"], 0, out)
        self.assertGreater(len(lat), 20)
        self.assertLess(p99(lat), self.health_p99_limit, lat[-5:])

    def test_f6b_a_login_flood_does_not_slow_health(self):
        load = start_load("login_flood", self.port, 24, 6, 100)
        time.sleep(0.5)
        lat = time_health(self.port, 5, until=lambda: load.poll() is not None)
        out = load_result(load)
        tried = sum(out["statuses"].values())
        self.assertGreater(tried, 24, out)
        self.assertEqual(set(out["statuses"]) - {"401", "503", "429"}, set(), out)
        self.assertGreater(len(lat), 20)
        self.assertLess(p99(lat), self.health_p99_limit, (out, lat[-5:]))
        # And the server still logs people in once it is over.
        self.assertEqual(self.srv.request("POST", "/api/login", {
            "username": "alice", "password": "alice-password"}).status, 200)


class RequestLimits(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"alice": "user", "op": "operator"}
        cls.srv = cls.server_fixture(users, {"dev-1": "alice"}, login=users, connect=False,
                                     extra_args=["--rate-limit-user", "30", "--rate-limit-address",
                                                 "60", "--rate-limit-device", "5",
                                                 "--password-threads", "1", "--password-queue", "2"])
        cls.port = cls.srv.port

    def assert_429(self, status, body, headers_from):
        self.assertEqual(status, "429", body)
        self.assertIn(b"try again in", body)

    def test_each_user_has_a_budget_per_minute(self):
        src = "127.0.1.1"
        for _ in range(30):
            self.assertEqual(http_status(self.port, raw_get("/api/me", self.srv.tokens["alice"]),
                                         src)[0], "200")
        r = self.srv.request("GET", "/api/me", token=self.srv.tokens["alice"])
        self.assertEqual(r.status, 429, r)
        retry = int(r.headers["Retry-After"])
        self.assertTrue(0 < retry <= 60, retry)
        # Another user from the same address still has theirs.
        st, _ = http_status(self.port, raw_get("/api/me", self.srv.tokens["op"]), src)
        self.assertEqual(st, "200")

    def test_each_address_has_a_budget_per_minute_bad_tokens_included(self):
        src = "127.0.1.2"
        for _ in range(60):
            self.assertEqual(http_status(self.port, raw_get("/api/devices"), src)[0], "401")
        st, body = http_status(self.port, raw_get("/api/devices", self.srv.tokens["op"]), src)
        self.assert_429(st, body, None)
        st, _ = http_status(self.port, login_request("op", "op-password"), src)
        self.assertEqual(st, "429")
        # Health is never limited; other addresses are not affected.
        self.assertEqual(http_status(self.port, raw_get("/api/health"), src)[0], "200")
        st, _ = http_status(self.port, raw_get("/api/devices", self.srv.tokens["op"]), "127.0.1.3")
        self.assertEqual(st, "200")

    def test_each_device_has_an_upload_budget_per_minute(self):
        secret = self.srv.secrets["dev-1"]
        for s in range(1, 6):
            r = self.srv.upload(secret, {"device_id": "dev-1", "seq": s, "voltage": 230,
                                         "current": 1})
            self.assertEqual(r.status, 200, r)
        r = self.srv.upload(secret, {"device_id": "dev-1", "seq": 6, "voltage": 230, "current": 1})
        self.assertEqual(r.status, 429, r)
        self.assertIn("Retry-After", r.headers)
        # A wrong secret never spends the device's budget (403 before it is counted).
        self.assertEqual(self.srv.upload("0" * 64, {"device_id": "dev-1", "voltage": 1,
                                                    "current": 1}).status, 403)


    def test_a_full_password_queue_answers_503_at_once(self):
        def attempt(i):
            t = time.monotonic()
            st, body = http_status(self.port, login_request("alice", "wrong-%d" % i),
                                   "127.0.2.%d" % (i + 1))
            return st, body, time.monotonic() - t
        with ThreadPoolExecutor(max_workers=16) as pool:
            out = list(pool.map(attempt, range(16)))
        statuses = [st for st, _, _ in out]
        self.assertEqual(set(statuses) - {"401", "503"}, set(), statuses)
        self.assertGreaterEqual(statuses.count("401"), 1, statuses)
        refused = [(body, dt) for st, body, dt in out if st == "503"]
        self.assertGreaterEqual(len(refused), 1, statuses)
        for body, dt in refused:
            self.assertIn(b"too many password checks", body)
            self.assertLess(dt, 1.0)  # refused at once, not after waiting for a thread


if __name__ == "__main__":
    main()
