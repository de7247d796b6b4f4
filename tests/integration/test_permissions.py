"""Who may do what: every endpoint against a foreign device, every role, every bad token."""
import time

from harness import IntegrationTest, main
from tokens import make_token, read_key


class Permissions(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"alice": "user", "bob": "user", "op": "operator", "root": "admin"}
        cls.srv = cls.server_fixture(users, {"dev-a": "alice", "dev-b": "bob"}, login=users,
                                     connect=False)
        cls.tok = cls.srv.tokens
        cls.secret_a = cls.srv.secrets["dev-a"]
        cls.secret_b = cls.srv.secrets["dev-b"]
        cls.srv.upload(cls.secret_b, {"device_id": "dev-b", "voltage": 231.5, "current": 7.25},
                       check=True)

    # Every device-scoped endpoint, as (method, path template, body).
    DEVICE_ENDPOINTS = [
        ("GET", "/api/device/data/{d}", None),
        ("GET", "/api/device/data/{d}?interval=1h", None),
        ("POST", "/api/device/recharge/{d}", {"amount": 1}),
        ("GET", "/api/devices/{d}", None),
        ("GET", "/api/devices/{d}/ledger", None),
        ("POST", "/api/devices/{d}/bindings", {"username": "alice"}),
        ("DELETE", "/api/devices/{d}/bindings/bob", None),
        # Alarms (docs/alarms.md).
        ("GET", "/api/alarms?device={d}", None),
        ("GET", "/api/devices/{d}/alarm-rules", None),
        ("PUT", "/api/devices/{d}/alarm-rules", {"rules": {}}),
    ]

    def test_a_foreign_device_answers_like_a_missing_one_on_every_endpoint(self):
        for method, tmpl, body in self.DEVICE_ENDPOINTS:
            foreign = self.call(method, tmpl.format(d="dev-b"), body, who="alice")
            missing = self.call(method, tmpl.format(d="dev-zz"), body, who="alice")
            self.assertIn(foreign.status, (403, 404), (tmpl, foreign))
            self.assertEqual(foreign.status, missing.status, tmpl)
            self.assertEqual(foreign.json()["status"], "error")
            for leak in ("bob", "231.5", "7.25"):
                self.assertNotIn(leak, foreign.body, (tmpl, foreign.body))

    def test_the_owner_reaches_its_device(self):
        for path in ("/api/device/data/dev-b", "/api/devices/dev-b", "/api/devices/dev-b/ledger"):
            r = self.call("GET", path, who="bob")
            self.assertEqual(r.status, 200, (path, r))
        rows = self.call("GET", "/api/device/data/dev-b", who="bob").json()
        self.assertEqual(rows[0]["voltage"], 231.5)

    def test_device_lists_show_only_bound_devices_to_users(self):
        alice = [d["device_id"] for d in self.call("GET", "/api/devices", who="alice").json()["devices"]]
        self.assertEqual(alice, ["dev-a"])
        op = [d["device_id"] for d in self.call("GET", "/api/devices", who="op").json()["devices"]]
        self.assertEqual(op, ["dev-a", "dev-b"])

    def test_a_device_secret_uploads_only_for_its_device(self):
        url = "/api/device/data"
        r = self.call("POST", url, {"device_id": "dev-b", "voltage": 1, "current": 1},
                      headers={"Authorization": f"Bearer {self.secret_a}"})
        self.assertEqual(r.status, 403, r)
        r = self.call("POST", url, [{"device_id": "dev-a", "voltage": 1, "current": 1},
                                    {"device_id": "dev-b", "voltage": 1, "current": 1}],
                      headers={"Authorization": f"Bearer {self.secret_a}"})
        self.assertEqual(r.status, 403, r)
        r = self.call("POST", url, {"device_id": "dev-a", "voltage": 1, "current": 1},
                      headers={"Authorization": "Bearer " + "0" * 64})
        self.assertEqual(r.status, 403, r)
        r = self.call("POST", url, {"device_id": "dev-a", "voltage": 1, "current": 1})
        self.assertEqual(r.status, 401, r)
        # a user's token is not a device secret
        r = self.call("POST", url, {"device_id": "dev-a", "voltage": 1, "current": 1}, who="alice")
        self.assertEqual(r.status, 403, r)

    def test_roles_gate_administration(self):
        for method, path, body in (("GET", "/api/users", None),
                                   ("POST", "/api/users", {"username": "x1", "password": "long-enough"}),
                                   ("POST", "/api/devices", {"device_id": "x1"}),
                                   ("GET", "/api/stats", None)):
            r = self.call(method, path, body, who="alice")
            self.assertEqual(r.status, 403, (path, r))
        r = self.call("POST", "/api/device/recharge/dev-a", {"amount": 5}, who="alice")
        self.assertEqual(r.status, 403, r)
        self.assertIn("operators", r.json()["message"])
        r = self.call("POST", "/api/users", {"username": "sneaky", "password": "long-enough",
                                             "role": "admin"}, who="op")
        self.assertEqual(r.status, 403, r)
        r = self.call("POST", "/api/users", {"username": "carol", "password": "long-enough"}, who="op")
        self.assertEqual(r.status, 201, r)
        r = self.call("POST", "/api/users", {"username": "op2", "password": "long-enough",
                                             "role": "operator"}, who="root")
        self.assertEqual(r.status, 201, r)
        for who in ("op", "root"):
            r = self.call("POST", "/api/device/recharge/dev-a", {"amount": 5}, who=who)
            self.assertEqual(r.status, 200, (who, r))
            self.assertEqual(self.call("GET", "/api/stats", who=who).status, 200)

    def test_bindings_grant_and_revoke_access(self):
        self.assertEqual(self.call("GET", "/api/devices/dev-a", who="bob").status, 404)
        r = self.call("POST", "/api/devices/dev-a/bindings", {"username": "bob"}, who="op")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.call("POST", "/api/devices/dev-a/bindings", {"username": "bob"},
                                   who="op").status, 409)
        self.assertEqual(self.call("GET", "/api/devices/dev-a", who="bob").status, 200)
        detail = self.call("GET", "/api/devices/dev-a", who="op").json()
        self.assertEqual(detail["users"], ["alice", "bob"])
        self.assertEqual(self.call("DELETE", "/api/devices/dev-a/bindings/bob", who="op").status, 200)
        self.assertEqual(self.call("GET", "/api/devices/dev-a", who="bob").status, 404)
        self.assertEqual(self.call("DELETE", "/api/devices/dev-a/bindings/bob", who="op").status, 404)

    def test_operators_create_devices_and_see_the_secret_once(self):
        r = self.call("POST", "/api/devices", {"device_id": "dev-new", "owner": "alice"}, who="op")
        self.assertEqual(r.status, 201, r)
        secret = r.json()["secret"]
        self.assertEqual(len(secret), 64)
        self.assertNotIn(secret, self.call("GET", "/api/devices/dev-new", who="op").body)
        up = self.call("POST", "/api/device/data", {"device_id": "dev-new", "voltage": 1, "current": 2},
                       headers={"Authorization": f"Bearer {secret}"})
        self.assertEqual(up.status, 200, up)
        self.assertEqual(self.call("POST", "/api/devices", {"device_id": "dev-new"}, who="op").status, 409)
        self.assertEqual(self.call("POST", "/api/devices", {"device_id": "x", "owner": "nobody"},
                                   who="op").status, 400)

    def test_every_endpoint_but_login_health_and_upload_needs_a_token(self):
        for method, path in (("GET", "/api/me"), ("GET", "/api/devices"), ("GET", "/api/users"),
                             ("GET", "/api/device/data/dev-a"), ("POST", "/api/device/recharge/dev-a"),
                             ("GET", "/api/devices/dev-a"), ("GET", "/api/stats"),
                             ("GET", "/api/alarms"), ("GET", "/api/alarms/stream"),
                             ("POST", "/api/alarms/1/ack")):
            r = self.call(method, path, {"amount": 1} if method == "POST" else None)
            self.assertEqual(r.status, 401, (path, r))
            self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
        self.assertEqual(self.call("GET", "/api/health").status, 200)

    def test_forged_and_expired_tokens_are_refused(self):
        key = read_key(self.srv.secret_file)
        now = int(time.time())
        alice_id = self.call("GET", "/api/me", who="alice").json()["id"]
        # Issued no earlier than the account: a token older than its account is refused.
        good = {"sub": str(alice_id), "iat": now + 1, "exp": now + 600}
        # the hand-made token is right when signed right, so the refusals below mean something
        self.assertEqual(self.call("GET", "/api/me", token=make_token(good, key)).status, 200)
        bad = {
            "alg none": make_token(good, key, alg="none"),
            "HS512": make_token(good, key, alg="HS512"),
            "HS384": make_token(good, key, alg="HS384"),
            "other key": make_token(good, b"x" * 40),
            "expired": make_token({**good, "iat": now - 7200, "exp": now - 60}, key),
            "no exp": make_token({"sub": str(alice_id), "iat": now}, key),
            "no sub": make_token({"iat": now, "exp": now + 600}, key),
            "unknown user": make_token({**good, "sub": "999999"}, key),
            "garbage": "not.a.token",
        }
        for name, token in bad.items():
            r = self.call("GET", "/api/me", token=token)
            self.assertEqual(r.status, 401, (name, r))


if __name__ == "__main__":
    main()
