#!/usr/bin/env python3
"""The WeChat Pay module (server/wxpay/) against the stand-in (tests/lib/wxpay_standin.py).

wxpay_cli (a test program over the module) places JSAPI orders, queries and closes them;
a small HTTP receiver here plays the server's notify endpoint by handing each notification
the stand-in POSTs to wxpay_cli. Checks: an order gives a prepay_id and wx.requestPayment
parameters whose paySign verifies with the merchant's public key; the stand-in saw our
merchant signature valid on every call; a notification verifies, decrypts and pays exactly
the order; each tampering (signature, stale timestamp, amount, mchid, appid, key id, body,
APIv3 key, unknown order) is refused with a 4xx and nothing paid; answers with a bad
signature are refused too; and a client with the wrong merchant key is refused by the
stand-in. Needs python3-cryptography. Keys are made in a temporary folder.
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wxpay_standin import WxpayStandin  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

CLI = os.environ.get("WXPAY_CLI")
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


class Receiver:
    """The server's notify endpoint, played by wxpay_cli: records each verdict."""

    def __init__(self, env):
        self.env = env
        self.current = None  # (out_trade_no, total fen): the order the test expects paid
        self.results = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/payments/wechat/notify"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, headers, body):
        args = [headers.get(h) or "-" for h in (
            "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial")]
        # The server will look the order up by out_trade_no; here the test names the one it
        # pays, and the amount its orders table would hold.
        no, total = self.current
        r = subprocess.run([CLI, "notify", *args, no, str(total)], input=body, env=self.env,
                           capture_output=True, timeout=30)
        result = json.loads(r.stdout)
        self.results.append(result)
        if result["result"] == "ok":
            return 204, b""
        return result["answer_status"], json.dumps({"code": "FAIL", "message": "refused"}).encode()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class WxpayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLI:
            raise unittest.SkipTest("WXPAY_CLI is not set")
        cls.tmp = tempfile.TemporaryDirectory(prefix="wxpay-")
        cls.standin = WxpayStandin(cls.tmp.name).start()
        cls.env = dict(os.environ)
        cls.receiver = Receiver(cls.env)
        for k, v in cls.standin.options(notify_url=cls.receiver.url).items():
            cls.env[k.upper()] = v

    @classmethod
    def tearDownClass(cls):
        cls.receiver.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.standin.answer_tamper = None

    def cli(self, *args, env=None):
        r = subprocess.run([CLI, *args], env=env or self.env, capture_output=True, text=True,
                           timeout=30)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)

    def order(self, total=5000):
        r = self.cli("order", str(total), OPENID, "电费充值 meter-7")
        self.assertEqual(r["result"], "ok", r)
        return r

    def notify(self, no, total, tamper=None):
        self.receiver.current = (no, total)
        before = len(self.receiver.results)
        status, _ = self.standin.pay_and_notify(no, tamper)
        self.assertEqual(len(self.receiver.results), before + 1)
        return status, self.receiver.results[-1]

    def test_an_order_gives_a_prepay_id_and_pay_params_that_verify(self):
        r = self.order(5000)
        no = r["out_trade_no"]
        order = self.standin.orders[no]
        self.assertEqual(r["prepay_id"], order["prepay_id"])
        self.assertEqual(order["body"]["amount"], {"total": 5000, "currency": "CNY"})
        self.assertEqual(order["body"]["payer"], {"openid": OPENID})
        self.assertEqual(order["body"]["appid"], self.standin.appid)
        self.assertEqual(order["body"]["mchid"], self.standin.mchid)
        self.assertEqual(order["body"]["notify_url"], self.receiver.url)
        self.assertEqual(order["body"]["description"], "电费充值 meter-7")
        self.assertRegex(order["body"]["time_expire"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
        p = r["pay_params"]
        self.assertEqual(p["appId"], self.standin.appid)
        self.assertEqual(p["package"], "prepay_id=" + order["prepay_id"])
        self.assertEqual(p["signType"], "RSA")
        self.assertRegex(p["timeStamp"], r"^\d{10}$")
        self.assertRegex(p["nonceStr"], r"^[0-9A-F]{32}$")
        message = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n".encode()
        self.assertTrue(self.standin.merchant_signature_valid(message, p["paySign"]))
        self.assertFalse(self.standin.merchant_signature_valid(message[:-1], p["paySign"]))
        # The stand-in checked our merchant signature on the call.
        self.assertIn(("POST", "/v3/pay/transactions/jsapi", None), self.standin.requests)

    def test_a_notification_pays_the_order_once_checked(self):
        r = self.order(1234)
        no = r["out_trade_no"]
        q = self.cli("query", no)
        self.assertEqual((q["result"], q["trade_state"], q["total"]), ("ok", "NOTPAY", 1234))
        status, result = self.notify(no, 1234)
        self.assertEqual(status, 204)
        self.assertEqual(result["result"], "ok")
        self.assertEqual(result["out_trade_no"], no)
        self.assertEqual(result["trade_state"], "SUCCESS")
        self.assertEqual((result["total"], result["payer_total"]), (1234, 1234))
        self.assertEqual(result["payer_openid"], OPENID)
        self.assertEqual(result["transaction_id"], self.standin.orders[no]["transaction_id"])
        self.assertGreater(result["success_time_ms"], 0)
        # WeChat Pay sends the same notification again: it still verifies (crediting once is
        # the ledger's job, by out_trade_no).
        status, result = self.notify(no, 1234)
        self.assertEqual((status, result["result"]), (204, "ok"))
        q = self.cli("query", no)
        self.assertEqual((q["trade_state"], q["transaction_id"]),
                         ("SUCCESS", result["transaction_id"]))
        c = self.cli("close", no)
        self.assertEqual((c["result"], c["code"], c["http_status"]), ("refused", "ORDERPAID", 400))

    def test_the_control_endpoint_pays_an_order_for_tests_outside_python(self):
        no = self.order(700)["out_trade_no"]
        self.receiver.current = (no, 700)
        req = urllib.request.Request(self.standin.base + "/_standin/pay", method="POST",
                                     data=json.dumps({"out_trade_no": no}).encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual(json.loads(r.read()), {"notify_status": 204})
        self.assertEqual(self.receiver.results[-1]["out_trade_no"], no)
        self.assertEqual(self.cli("query", no)["trade_state"], "SUCCESS")

    def test_each_tampered_notification_is_refused(self):
        cases = {
            "signature": ("bad signature", 401),
            "stale": ("stale timestamp", 401),
            "serial": ("bad signature", 401),
            "body": ("bad signature", 401),
            "unsigned": ("bad signature", 401),
            "apiv3": ("resource does not decrypt", 400),
            "mchid": ("not ours", 400),
            "appid": ("not ours", 400),
            "amount": ("not ours", 400),
            "order": ("not ours", 400),
        }
        for tamper, (name, want_status) in cases.items():
            with self.subTest(tamper=tamper):
                no = self.order(5000)["out_trade_no"]
                status, result = self.notify(no, 5000, tamper)
                self.assertEqual(result["result"], name, result)
                self.assertEqual(status, want_status)
                self.assertNotIn("out_trade_no", result)  # nothing handed on to credit

    def test_query_and_close_of_an_unpaid_order(self):
        no = self.order(300)["out_trade_no"]
        c = self.cli("close", no)
        self.assertEqual((c["result"], c["http_status"]), ("ok", 204))
        q = self.cli("query", no)
        self.assertEqual((q["result"], q["trade_state"]), ("ok", "CLOSED"))
        q = self.cli("query", "SM20261207NOSUCHORDER00000000")
        self.assertEqual((q["result"], q["code"], q["http_status"]),
                         ("no such order", "ORDER_NOT_EXIST", 404))

    def test_answers_not_signed_by_wechat_pay_are_refused(self):
        no = self.order(100)["out_trade_no"]
        for tamper, name in [("signature", "bad signature"), ("stale", "stale timestamp"),
                             ("serial", "bad signature"), ("body", "bad signature"),
                             ("unsigned", "bad signature"), ("mchid", "not ours"),
                             ("appid", "not ours")]:
            with self.subTest(tamper=tamper):
                self.standin.answer_tamper = tamper
                r = self.cli("query", no)
                self.assertEqual(r["result"], name, r)
                self.assertNotIn("trade_state", r)
                if tamper in ("mchid", "appid"):
                    continue
                r = self.cli("order", "100", OPENID)
                self.assertEqual(r["result"], name, r)
                self.assertNotIn("pay_params", r)

    def test_an_unsigned_error_is_believed_in_nothing(self):
        self.standin.answer_tamper = "unsigned"
        q = self.cli("query", "SM20261207NOSUCHORDER00000000")
        self.assertEqual((q["result"], q["code"]), ("bad signature", ""))
        self.assertIn("HTTP 404 claiming ORDER_NOT_EXIST, not signed", q["detail"])

    def test_the_stand_in_refuses_a_merchant_signature_it_cannot_verify(self):
        # Another merchant key (owner-only), and then a wrong certificate serial.
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = os.path.join(self.tmp.name, "other_key.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(other.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        env = dict(self.env, WECHATPAY_PRIVATE_KEY_FILE=path)
        r = self.cli("order", "100", OPENID, env=env)
        self.assertEqual((r["result"], r["code"], r["http_status"]), ("refused", "SIGN_ERROR", 401))
        env = dict(self.env, WECHATPAY_SERIAL_NO="0000000000000000000000000000000000000000")
        r = self.cli("order", "100", OPENID, env=env)
        self.assertEqual((r["result"], r["code"]), ("refused", "SIGN_ERROR"))

    def test_a_secret_file_others_may_read_is_refused_at_start(self):
        path = os.path.join(self.tmp.name, "open_apiv3.key")
        with open(path, "wb") as f:
            f.write(self.standin.apiv3_key)
        os.chmod(path, 0o644)
        env = dict(self.env, WECHATPAY_APIV3_KEY_FILE=path)
        r = subprocess.run([CLI, "query", "SM20261207ABCDEF"], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("wechatpay_apiv3_key_file", r.stderr)
        self.assertIn("chmod 600", r.stderr)
        self.assertNotIn(self.standin.apiv3_key.decode(), r.stderr)

    def test_the_sdk_public_key_sample_matches_our_unit_vector(self):
        # Guards the unit test's known vector: the public key is the SDK key's public half.
        sig = base64.b64decode(
            "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp"
            "4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536G"
            "LwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk"
            "2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8"
            "bX9+8m1rLg==")
        pub = serialization.load_pem_public_key(
            b"-----BEGIN PUBLIC KEY-----\n"
            b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2VCTd91fnUn73Xy9DLvt\n"
            b"/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXagHQ4vGeZN0yqm++rDsGK+\n"
            b"U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOmDeJf2vg6byms9RUipiq4\n"
            b"SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B834uxl1zNLYQCrkdBzb8oU\n"
            b"xwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGfy8wus7hwKz6clt3Whmmd\n"
            b"a7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtkaSef4FdEEgEXJiw0VAJT\n"
            b"8wIDAQAB\n-----END PUBLIC KEY-----\n")
        pub.verify(sig, b"source", padding.PKCS1v15(), hashes.SHA256())


if __name__ == "__main__":
    unittest.main(verbosity=2)
