"""WeChat login end to end: a real meter-server against a local stand-in for WeChat's API.

Login by code, binding and unbinding, WeChat's errors, throttling, configuration checks,
and that the app secret, the session_key and the openid never reach the log or an answer.
"""
import os
import secrets
import subprocess

from harness import METER_SERVER, IntegrationTest, main, write_secret_file
from wechat_standin import Standin, code_for

# curl in meter-server must talk to the stand-in directly, whatever proxy the caller uses.
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

APPID = "wxa1b2c3d4e5f60718"


class WechatLogin(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.app_secret = "appsecret" + secrets.token_hex(16)
        cls.secret_file = write_secret_file(cls.path("wechat.secret"), cls.app_secret + "\n")
        cls.wx = Standin(APPID, cls.app_secret).start()
        cls.wechat_args = ["--wechat-appid", APPID, "--wechat-secret-file", cls.secret_file,
                           "--wechat-api-base", cls.wx.base]
        # Each test binds its own accounts, so the tests do not depend on their order.
        cls.srv = cls.server_fixture({"alice": "user", "bob": "user", "carol": "user",
                                      "op": "operator"}, {"wx-dev-c": "carol"},
                                     extra_args=cls.wechat_args + ["--login-max-failures", "1000"],
                                     connect=False)
        cls.db = cls.srv.db
        cls.answers = []  # every answer any test got, checked for leaks

    @classmethod
    def tearDownClass(cls):
        cls.wx.stop()
        super().tearDownClass()

    def call(self, method, path, body=None, **kw):
        r = super().call(method, path, body, **kw)
        type(self).answers.append(r)
        return r

    def password_token(self, name):
        r = self.call("POST", "/api/login", {"username": name, "password": f"{name}-password"})
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def tearDown(self):
        """After every test: nothing secret in the server's log or in any answer so far."""
        log = ""
        for name in os.listdir(self.workdir):
            if name.startswith("meter-server-") and name.endswith(".log"):
                with open(os.path.join(self.workdir, name), errors="replace") as f:
                    log += f.read()
        with self.wx.lock:
            keys = list(self.wx.session_keys)
            openids = {q.get("js_code", "").split(".")[1] for q in self.wx.requests
                       if q.get("js_code", "").startswith("ok.")}
        texts = [log] + [r.body + repr(r.headers) for r in self.answers]
        for text in texts:
            self.assertNotIn(self.app_secret, text)
            for key in keys:
                self.assertNotIn(key, text)
        for openid in openids:
            self.assertNotIn(openid, log)

    # --- the happy path ---------------------------------------------------------------------

    def test_an_unbound_wechat_user_is_told_to_log_in_with_a_password_and_bind(self):
        r = self.call("POST", "/api/login/wechat", {"code": code_for("oNobodyBound01")})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["status"], "error")
        self.assertIn("no account is bound to this WeChat user", r.json()["message"])
        self.assertIn("password", r.json()["message"])
        self.assertNotIn("token", r.json())

    def test_bind_then_log_in_by_code_gives_a_working_token(self):
        token = self.password_token("carol")
        me = self.call("GET", "/api/me", token=token).json()
        self.assertIs(me["wechat_bound"], False)
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oCarolWx_01")}, token=token)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json(), {"status": "success", "wechat_bound": True})
        self.assertIs(self.call("GET", "/api/me", token=token).json()["wechat_bound"], True)
        # binding the same WeChat user again changes nothing
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oCarolWx_01")}, token=token)
        self.assertEqual(r.status, 200, r)

        r = self.call("POST", "/api/login/wechat", {"code": code_for("oCarolWx_01")})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "success")
        self.assertEqual(body["username"], "carol")
        self.assertEqual(body["role"], "user")
        self.assertEqual(body["token_type"], "Bearer")
        self.assertGreater(body["expires_in"], 0)
        self.assertEqual(set(body), {"status", "token", "token_type", "expires_in", "username", "role"})
        wx_token = body["token"]
        me = self.call("GET", "/api/me", token=wx_token)
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json()["username"], "carol")
        devices = self.call("GET", "/api/devices", token=wx_token).json()["devices"]
        self.assertEqual([d["device_id"] for d in devices], ["wx-dev-c"])
        # a code works once, as at WeChat
        code = code_for("oCarolWx_01")
        self.assertEqual(self.call("POST", "/api/login/wechat", {"code": code}).status, 200)
        r = self.call("POST", "/api/login/wechat", {"code": code})
        self.assertEqual(r.status, 401, r)
        self.assertIn("invalid or expired WeChat login code", r.json()["message"])

    def test_an_openid_bound_to_another_account_is_a_conflict(self):
        alice, bob = self.password_token("alice"), self.password_token("bob")
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oShared_02")}, token=alice)
        self.assertEqual(r.status, 201, r)
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oShared_02")}, token=bob)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["message"], "this WeChat user is already bound to another account")
        self.assertIs(self.call("GET", "/api/me", token=bob).json()["wechat_bound"], False)
        # one WeChat user per account: alice must unbind before binding another
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oSecond_02")}, token=alice)
        self.assertEqual(r.status, 409, r)
        self.assertIn("unbind it first", r.json()["message"])
        login = self.call("POST", "/api/login/wechat", {"code": code_for("oShared_02")})
        self.assertEqual(login.json()["username"], "alice")

    def test_unbinding_stops_wechat_logins(self):
        op = self.password_token("op")
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oOperator_03")}, token=op)
        self.assertEqual(r.status, 201, r)
        login = self.call("POST", "/api/login/wechat", {"code": code_for("oOperator_03")})
        self.assertEqual(login.status, 200, login)
        self.assertEqual(login.json()["role"], "operator")
        r = self.call("DELETE", "/api/me/wechat", token=op)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "success", "wechat_bound": False})
        self.assertIs(self.call("GET", "/api/me", token=op).json()["wechat_bound"], False)
        r = self.call("DELETE", "/api/me/wechat", token=op)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["message"], "no WeChat user is bound to your account")
        r = self.call("POST", "/api/login/wechat", {"code": code_for("oOperator_03")})
        self.assertEqual(r.status, 403, r)
        # the freed openid may be bound again
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oOperator_03")}, token=op)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.call("DELETE", "/api/me/wechat", token=op).status, 200)

    # --- WeChat's errors --------------------------------------------------------------------

    def test_wechat_errors_become_clear_answers(self):
        cases = [
            ("invalid", 401, "invalid or expired WeChat login code", None),
            ("blocked", 403, "security restriction", None),
            ("busy", 503, "WeChat is busy", "5"),
            ("ratelimit", 503, "try again in a minute", "60"),
            ("garbage", 502, "unusable answer", None),
            ("huge", 502, "unusable answer", None),
            ("http500", 503, "cannot reach WeChat", "5"),
            ("slow", 503, "cannot reach WeChat", "5"),
        ]
        for code, status, text, retry in cases:
            r = self.call("POST", "/api/login/wechat", {"code": code})
            self.assertEqual(r.status, status, (code, r))
            self.assertEqual(r.json()["status"], "error", code)
            self.assertIn(text, r.json()["message"], code)
            self.assertEqual(r.headers.get("Retry-After"), retry, code)
        # the server is still fine afterwards
        self.assertEqual(self.call("GET", "/api/health").status, 200)

    def test_an_invalid_code_while_binding_does_not_end_the_session(self):
        token = self.password_token("bob")
        r = self.call("POST", "/api/me/wechat", {"code": "invalid"}, token=token)
        self.assertEqual(r.status, 400, r)  # a 401 here would mean "your token is bad"
        self.assertIn("invalid or expired WeChat login code", r.json()["message"])
        self.assertEqual(self.call("GET", "/api/me", token=token).status, 200)
        r = self.call("POST", "/api/me/wechat", {"code": "busy"}, token=token)
        self.assertEqual(r.status, 503, r)

    def test_bad_requests_never_reach_wechat(self):
        before = self.wx.request_count()
        for body, raw, message in [
            ({}, None, "code is missing"),
            ({"code": 42}, None, "code must be a string"),
            ({"code": ""}, None, "code must be 1 to 128 printable characters"),
            ({"code": "has space"}, None, "code must be 1 to 128 printable characters"),
            ({"code": "c" * 129}, None, "code must be at most 128 bytes"),
            (None, b"[]", "request body must be a JSON object"),
            (None, b"{\"code\":", "malformed JSON"),
        ]:
            r = self.call("POST", "/api/login/wechat", body, raw=raw)
            self.assertEqual(r.status, 400, (body, raw, r))
            self.assertIn(message, r.json()["message"])
        self.assertEqual(self.wx.request_count(), before)
        r = self.call("POST", "/api/me/wechat", {"code": code_for("oX")})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")
        self.assertEqual(self.call("DELETE", "/api/me/wechat").status, 401)
        r = self.call("GET", "/api/login/wechat")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(self.wx.request_count(), before)

    def test_the_server_sends_its_appid_and_secret_to_wechat_only(self):
        n = self.wx.request_count()
        self.call("POST", "/api/login/wechat", {"code": code_for("oProbe_04")})
        with self.wx.lock:
            q = self.wx.requests[n]
        self.assertEqual(q["appid"], APPID)
        self.assertEqual(q["secret"], self.app_secret)
        self.assertEqual(q["grant_type"], "authorization_code")
        self.assertTrue(q["js_code"].startswith("ok.oProbe_04."))
        # tearDown checks that neither the secret nor the session_key came back anywhere

    # --- throttling and configuration -------------------------------------------------------

    def test_failed_code_logins_count_against_the_address(self):
        srv = self.new_server(extra_args=self.wechat_args + ["--login-max-failures", "2"]).start()
        for _ in range(2):
            self.assertEqual(self.call("POST", "/api/login/wechat", {"code": "invalid"}, srv=srv).status, 401)
        before = self.wx.request_count()
        r = self.call("POST", "/api/login/wechat", {"code": code_for("oCarolWx_01")}, srv=srv)
        self.assertEqual(r.status, 429, r)
        self.assertIn("too many failed logins", r.json()["message"])
        self.assertTrue(int(r.headers["Retry-After"]) > 0)
        self.assertEqual(self.wx.request_count(), before)  # WeChat was not asked
        # the budget is the address's, shared with password logins
        r = self.call("POST", "/api/login", {"username": "alice", "password": "alice-password"}, srv=srv)
        self.assertEqual(r.status, 429, r)
        srv.stop()

    def test_a_server_without_wechat_settings_says_so(self):
        srv = self.new_server().start()
        r = self.call("POST", "/api/login/wechat", {"code": code_for("oAny")}, srv=srv)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["message"], "WeChat login is not enabled on this server")
        token = self.call("POST", "/api/login", {"username": "bob", "password": "bob-password"},
                          srv=srv).json()["token"]
        self.assertEqual(self.call("GET", "/api/me", token=token, srv=srv).status, 200)
        srv.stop()

    def test_bad_wechat_settings_stop_the_server_with_one_clear_line(self):
        bad = [
            (["--wechat-appid", APPID], "needs both wechat_appid and wechat_secret_file"),
            (["--wechat-secret-file", self.secret_file], "needs both"),
            (["--wechat-appid", APPID, "--wechat-secret-file", self.secret_file + ".missing"],
             "cannot read wechat_secret_file"),
            (["--wechat-appid", "wx bad", "--wechat-secret-file", self.secret_file], "wechat_appid"),
            (["--wechat-appid", APPID, "--wechat-secret-file", self.secret_file,
              "--wechat-api-base", "http://api.weixin.qq.com"], "wechat_api_base must be https"),
        ]
        for args, text in bad:
            r = subprocess.run([METER_SERVER, "--db", self.db, "--jwt-secret-file", self.srv.secret_file,
                                "--listen", "127.0.0.1:0", *args],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(text, r.stderr, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertNotIn(self.app_secret, r.stderr + r.stdout)


if __name__ == "__main__":
    main()
