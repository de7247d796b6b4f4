"""Accounts (SPEC "Accounts", docs/api.md): PATCH and DELETE /api/users/:username, POST
/api/me/password and POST /api/logout each end the affected account's tokens at once (401
afterwards), and a new account never inherits an old one's tokens (the audit's F4, reproduced
as the audit did it); disabled accounts; the last enabled admin; device secret rotation and
device deletion; the audit log; the command line's user delete and user set."""
import json
import re
import sqlite3
import subprocess
import time

from harness import (IntegrationTest, main, mqtt_publish, services_env, sqlite_path, wait_until)

PASSWORD = "account-password"


class Accounts(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"root": "admin", "op": "operator", "alice": "user"}
        cls.srv = cls.server_fixture(users, {"dev-a": "alice"}, login=users)
        cls.tok = cls.srv.tokens
        cls.dev = f"dev-gone-{cls.backend}"  # its MQTT topic must not meet the other backend's

    # --- helpers ---

    def new_user(self, name, role="user", password=PASSWORD):
        r = self.call("POST", "/api/users", {"username": name, "password": password, "role": role},
                      who="root")
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def login(self, name, password=PASSWORD):
        r = self.call("POST", "/api/login", {"username": name, "password": password})
        return r

    def token(self, name, password=PASSWORD):
        r = self.login(name, password)
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def me(self, token):
        return self.call("GET", "/api/me", token=token)

    def assert_ended(self, token, why=None):
        r = self.me(token)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
        if why:
            self.assertEqual(r.json()["message"], why)

    def sql(self, statement):
        """Runs SQL on the server's database directly, as the audit did."""
        if self.backend == "sqlite":
            with sqlite3.connect(sqlite_path(self.srv.db)) as db:
                db.execute("PRAGMA foreign_keys = ON")
                db.execute(statement)
            return
        env = services_env()
        name = self.srv.db.rsplit("/", 1)[1]
        subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", env["MYSQL_SOCKET"], name,
                        "-e", statement], check=True, timeout=30)

    # --- account changes end tokens at once ---

    def test_a_role_change_ends_the_accounts_tokens_at_once(self):
        self.new_user("pat-role")
        old = self.token("pat-role")
        self.assertEqual(self.me(old).status, 200)
        r = self.call("PATCH", "/api/users/pat-role", {"role": "operator"}, who="root")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["role"], r.json()["disabled"]), ("operator", False))
        self.assert_ended(old, "token revoked; log in again")
        new = self.token("pat-role")
        self.assertEqual(self.me(new).json()["role"], "operator")
        self.assertEqual(self.call("GET", "/api/stats", token=new).status, 200)

    def test_a_disabled_account_cannot_log_in_and_its_tokens_stop(self):
        self.new_user("pat-dis")
        old = self.token("pat-dis")
        r = self.call("PATCH", "/api/users/pat-dis", {"disabled": True}, who="root")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["disabled"])
        self.assert_ended(old)
        r = self.login("pat-dis")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["message"], "account disabled")
        self.assertEqual(self.login("pat-dis", "wrong-password").status, 401)
        users = {u["username"]: u for u in self.call("GET", "/api/users", who="op").json()["users"]}
        self.assertTrue(users["pat-dis"]["disabled"])
        self.assertFalse(users["alice"]["disabled"])
        # Enabled again: the old token stays dead, a new login works.
        r = self.call("PATCH", "/api/users/pat-dis", {"disabled": False}, who="root")
        self.assertEqual(r.status, 200, r)
        self.assert_ended(old)
        self.assertEqual(self.me(self.token("pat-dis")).status, 200)

    def test_a_new_password_ends_the_accounts_tokens(self):
        self.new_user("pat-pw")
        old = self.token("pat-pw")
        r = self.call("PATCH", "/api/users/pat-pw", {"password": "a-new-password"}, who="root")
        self.assertEqual(r.status, 200, r)
        self.assert_ended(old)
        self.assertEqual(self.login("pat-pw").status, 401)
        self.assertEqual(self.me(self.token("pat-pw", "a-new-password")).status, 200)

    def test_a_patch_is_checked_and_only_admins_may_send_it(self):
        self.new_user("pat-bad")
        for body, status in (({}, 400), ({"role": "boss"}, 400), ({"disabled": "yes"}, 400),
                             ({"password": "short"}, 400), ({"role": 3}, 400)):
            r = self.call("PATCH", "/api/users/pat-bad", body, who="root")
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.json()["status"], "error")
        self.assertEqual(self.call("PATCH", "/api/users/nobody", {"role": "user"}, who="root").status,
                         404)
        for who in ("op", "alice"):
            for method in ("PATCH", "DELETE"):
                r = self.call(method, "/api/users/pat-bad", {"role": "admin"}, who=who)
                self.assertEqual(r.status, 403, (who, method, r))
                self.assertEqual(r.json()["message"], "admin role required")

    def test_a_deleted_accounts_tokens_end_and_its_name_may_be_taken_again(self):
        first = self.new_user("del-me", "operator")
        old = self.token("del-me")
        self.assertEqual(self.call("DELETE", "/api/users/del-me", who="root").status, 200)
        self.assert_ended(old, "the account of this token no longer exists")
        names = [u["username"] for u in self.call("GET", "/api/users", who="root").json()["users"]]
        self.assertNotIn("del-me", names)
        self.assertEqual(self.call("DELETE", "/api/users/del-me", who="root").status, 404)
        again = self.new_user("del-me")
        self.assertGreater(again, first)
        self.assert_ended(old)

    def test_f4_a_deleted_accounts_token_never_speaks_for_the_next_account(self):
        # The audit's reproduction: the row deleted with SQL, then a new account made.
        temp = self.new_user("temp", "operator")
        stolen = self.token("temp")
        self.assertEqual(self.me(stolen).json()["username"], "temp")
        self.sql("DELETE FROM users WHERE username = 'temp'")
        self.assert_ended(stolen, "the account of this token no longer exists")
        r = self.call("POST", "/api/users", {"username": "newguy", "password": "newguy-password"},
                      who="op")
        self.assertEqual(r.status, 201, r)
        self.assertNotEqual(r.json()["id"], temp)
        self.assert_ended(stolen)
        # Even when a row takes the deleted id (here by hand), the older token is not its own.
        self.sql("UPDATE users SET id = %d WHERE username = 'newguy'" % temp)
        self.assert_ended(stolen, "the account of this token no longer exists")
        self.assertEqual(self.me(self.token("newguy", "newguy-password")).json()["id"], temp)

    def test_the_last_enabled_admin_stays_an_admin(self):
        for method, body in (("DELETE", None), ("PATCH", {"role": "operator"}),
                             ("PATCH", {"disabled": True})):
            r = self.call(method, "/api/users/root", body, who="root")
            self.assertEqual(r.status, 409, (method, body, r))
            self.assertIn("last enabled admin", r.json()["message"])
        self.assertEqual(self.me(self.tok["root"]).status, 200)  # refused: nothing changed
        self.new_user("root2", "admin")
        self.assertEqual(self.call("PATCH", "/api/users/root2", {"disabled": True},
                                   who="root").status, 200)
        # root2 is disabled: root is still the last enabled admin.
        self.assertEqual(self.call("DELETE", "/api/users/root", who="root").status, 409)
        self.assertEqual(self.call("PATCH", "/api/users/root2", {"role": "operator"},
                                   who="root").status, 200)
        self.assertEqual(self.call("DELETE", "/api/users/root2", who="root").status, 200)

    # --- the caller's own session ---

    def test_a_password_change_ends_every_other_token_and_answers_a_new_one(self):
        self.new_user("pw-user")
        phone, browser = self.token("pw-user"), self.token("pw-user")
        wrong = self.call("POST", "/api/me/password",
                          {"old_password": "not-it", "new_password": "brand-new-pass"}, token=phone)
        self.assertEqual(wrong.status, 403, wrong)
        self.assertEqual(self.me(phone).status, 200)  # a wrong old password changes nothing
        short = self.call("POST", "/api/me/password",
                          {"old_password": PASSWORD, "new_password": "short"}, token=phone)
        self.assertEqual(short.status, 400, short)
        for body in ({"old_password": PASSWORD}, {"new_password": "brand-new-pass"}):
            self.assertEqual(self.call("POST", "/api/me/password", body, token=phone).status, 400)
        r = self.call("POST", "/api/me/password",
                      {"old_password": PASSWORD, "new_password": "brand-new-pass"}, token=phone)
        self.assertEqual(r.status, 200, r)
        fresh = r.json()["token"]
        self.assertEqual(r.json()["username"], "pw-user")
        self.assert_ended(phone, "token revoked; log in again")
        self.assert_ended(browser)
        self.assertEqual(self.me(fresh).status, 200)
        self.assertEqual(self.login("pw-user").status, 401)
        self.assertEqual(self.login("pw-user", "brand-new-pass").status, 200)
        self.assertEqual(self.call("POST", "/api/me/password", {}).status, 401)

    def test_logout_ends_the_accounts_tokens_and_a_new_login_works_at_once(self):
        self.new_user("lo-user")
        one, two = self.token("lo-user"), self.token("lo-user")
        r = self.call("POST", "/api/logout", token=one)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "success"})
        self.assert_ended(one, "token revoked; log in again")
        self.assert_ended(two)
        self.assertEqual(self.call("POST", "/api/logout", token=one).status, 401)
        # Logged in again right away (the same second, maybe the same millisecond): valid.
        for _ in range(5):
            t = self.token("lo-user")
            self.assertEqual(self.me(t).status, 200)
            self.assertEqual(self.call("POST", "/api/logout", token=t).status, 200)
            self.assert_ended(t)

    # --- devices ---

    def test_a_rotated_secret_ends_the_old_one_at_once(self):
        old = self.srv.secrets["dev-a"]
        reading = {"device_id": "dev-a", "voltage": 230, "current": 1}
        self.assertEqual(self.srv.upload(old, reading).status, 200)  # cached by the server now
        self.assertEqual(self.call("POST", "/api/devices/dev-a/secret", who="alice").status, 403)
        self.assertEqual(self.call("POST", "/api/devices/nope/secret", who="op").status, 404)
        r = self.call("POST", "/api/devices/dev-a/secret", who="op")
        self.assertEqual(r.status, 200, r)
        new = r.json()["secret"]
        self.assertRegex(new, r"^[0-9a-f]{64}$")
        self.assertNotEqual(new, old)
        r = self.srv.upload(old, reading)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.srv.upload(new, reading).status, 200)
        self.srv.secrets["dev-a"] = new
        self.assertNotIn(new, self.call("GET", "/api/audit?limit=1000", who="root").body)

    def test_a_deleted_device_is_gone_for_uploads_mqtt_and_queries(self):
        dev = self.dev
        r = self.call("POST", "/api/devices", {"device_id": dev, "owner": "alice"}, who="op")
        self.assertEqual(r.status, 201, r)
        secret = r.json()["secret"]
        self.assertEqual(self.srv.upload(secret, {"device_id": dev, "seq": 1, "voltage": 230,
                                                   "current": 1}).status, 200)
        ts = int(time.time() * 1000)
        mqtt_publish(self.srv.mqtt, f"meters/{dev}/telemetry",
                     json.dumps({"seq": 2, "ts": ts, "voltage": 231, "current": 1}))
        wait_until(lambda: len(self.get(f"/api/device/data/{dev}", who="op").json()) == 2, 20,
                   what="MQTT reading stored")
        self.assertEqual(self.call("DELETE", f"/api/devices/{dev}", who="alice").status, 403)
        r = self.call("DELETE", f"/api/devices/{dev}", who="op")
        self.assertEqual(r.status, 200, r)
        for path in (f"/api/devices/{dev}", f"/api/device/data/{dev}", f"/api/devices/{dev}/ledger"):
            self.assertEqual(self.get(path, who="op").status, 404, path)
        self.assertEqual(self.call("DELETE", f"/api/devices/{dev}", who="op").status, 404)
        self.assertEqual(self.srv.upload(secret, {"device_id": dev, "voltage": 1,
                                                   "current": 1}).status, 403)
        # MQTT ingest forgot it too: the next message is for an unknown device.
        before = self.get("/api/stats", who="op").json()["mqtt"]["unknown_device"]
        mqtt_publish(self.srv.mqtt, f"meters/{dev}/telemetry",
                     json.dumps({"seq": 3, "ts": ts + 1000, "voltage": 232, "current": 1}))
        wait_until(lambda: self.get("/api/stats", who="op").json()["mqtt"]["unknown_device"]
                   > before, 20, what="unknown device counted")
        # The same id again starts empty.
        self.assertEqual(self.call("POST", "/api/devices", {"device_id": dev}, who="op").status, 201)
        self.assertEqual(self.get(f"/api/device/data/{dev}", who="op").json(), [])

    # --- the audit log ---

    def test_the_audit_log_says_who_did_what_to_what_from_where(self):
        self.new_user("aud-user", "operator", "aud-user-password")
        self.call("PATCH", "/api/users/aud-user", {"role": "user", "password": "aud-password-2"},
                  who="root")
        r = self.call("POST", "/api/device/recharge/dev-a", {"amount": "12.34"}, who="op")
        self.assertEqual(r.status, 200, r)
        self.call("DELETE", "/api/users/aud-user", who="root")
        r = self.call("GET", "/api/audit?limit=3", who="root")
        self.assertEqual(r.status, 200, r)
        page = r.json()
        entries = page["entries"]
        self.assertEqual([(e["actor"], e["action"], e["target"]) for e in entries],
                         [("root", "user.delete", "aud-user"), ("op", "recharge", "dev-a"),
                          ("root", "user.update", "aud-user")])
        self.assertIn("amount=12.34", entries[1]["detail"])
        self.assertIn("role=user", entries[2]["detail"])
        self.assertIn("password=changed", entries[2]["detail"])
        for e in entries:
            self.assertEqual(e["address"], "127.0.0.1")
            self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(entries[0]["id"] > entries[1]["id"] > entries[2]["id"], True)
        nxt = self.call("GET", f"/api/audit?limit=1&before={page['next_before']}", who="root").json()
        self.assertEqual(nxt["entries"][0]["action"], "user.create")
        self.assertEqual(nxt["entries"][0]["target"], "aud-user")
        everything = self.call("GET", "/api/audit?limit=1000", who="root").body
        for secret in ("aud-user-password", "aud-password-2", PASSWORD):
            self.assertNotIn(secret, everything)
        for who in ("op", "alice"):
            self.assertEqual(self.call("GET", "/api/audit", who=who).status, 403)
        for q in ("limit=0", "limit=1001", "limit=x", "before=0", "before=-3"):
            self.assertEqual(self.call("GET", f"/api/audit?{q}", who="root").status, 400, q)

    # --- the command line ---

    def test_the_command_line_changes_and_deletes_accounts_too(self):
        self.new_user("cli-user")
        t = self.token("cli-user")
        self.srv.cli("user", "set", "cli-user", "--role", "operator")
        self.assert_ended(t)
        t = self.token("cli-user")
        self.srv.cli("user", "set", "cli-user", "--disabled", "true")
        self.assert_ended(t)
        self.assertEqual(self.login("cli-user").status, 403)
        self.srv.cli("user", "set", "cli-user", "--disabled", "false", "--password",
                     stdin="cli-new-password\n")
        self.assertEqual(self.login("cli-user").status, 401)
        t = self.token("cli-user", "cli-new-password")
        self.srv.cli("user", "delete", "cli-user")
        self.assert_ended(t)
        r = self.srv.cli("user", "delete", "root", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("last enabled admin", r.stderr)
        r = self.srv.cli("user", "set", "root", "--disabled", "maybe", check=False)
        self.assertEqual(r.returncode, 2, r)
        r = self.srv.cli("user", "set", "nobody", "--role", "user", check=False)
        self.assertEqual(r.returncode, 1, r)
        audit = self.call("GET", "/api/audit?limit=1000", who="root").json()["entries"]
        cli = [(e["action"], e["target"], e["address"]) for e in audit if e["actor"] == "(cli)"]
        self.assertIn(("user.delete", "cli-user", "local"), cli)
        self.assertTrue(re.search("cli-new-password", json.dumps(audit)) is None)


if __name__ == "__main__":
    main()
