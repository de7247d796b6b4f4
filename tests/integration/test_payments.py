"""Tenants' WeChat Pay payments end to end: a real meter-server against the WeChat Pay
stand-in (tests/lib/wxpay_standin.py) and the WeChat login stand-in (for the linked accounts).

An order gives wx.requestPayment's parameters signed with the merchant key; WeChat Pay's
notification credits the device once (a repeat and fifty concurrent copies credit nothing
more); every forged or foreign notification (signature, stale timestamp, amount, mchid, appid,
unknown order, key id, body, APIv3 key, unsigned) is refused and credits nothing; a payment
whose notification is lost is found by the query thread and credited once, and an order
never paid is closed once expired. After each test
the balance equals the sum of the ledger.
"""
import os
import secrets
import subprocess
import sys
import threading
import time

from harness import (METER_SERVER, IntegrationTest, main, new_database, wait_until,
                     write_secret_file)
from wechat_standin import Standin, code_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wxpay_standin import APPID, WxpayStandin  # noqa: E402

os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

DEVICE = "pay-dev-a"
TAMPERS = ["signature", "stale", "amount", "mchid", "appid", "order", "serial", "apiv3", "body",
           "unsigned"]


class Payments(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        app_secret = "appsecret" + secrets.token_hex(16)
        secret_file = write_secret_file(cls.path("wechat.secret"), app_secret + "\n")
        cls.login_wx = Standin(APPID, app_secret).start()
        keydir = cls.subdir("wxpay-keys")
        cls.wx = WxpayStandin(keydir).start()
        broker = cls.private_broker()
        srv = cls.new_server(new_database(cls.backend, cls.db_name(), cls.workdir), broker)
        notify = f"http://127.0.0.1:{srv.port}/api/payments/wechat/notify"
        cls.base_args = ["--wechat-appid", APPID, "--wechat-secret-file", secret_file,
                         "--wechat-api-base", cls.login_wx.base]
        for k, v in cls.wx.options(notify).items():
            cls.base_args += ["--" + k.replace("_", "-"), v]
        srv.extra = list(cls.base_args)
        srv.provision({"alice": "user", "bob": "user", "carol": "user", "op": "operator",
                       "op2": "operator"},
                      {DEVICE: "op"})
        cls.srv = srv.start()
        cls.tok = {u: srv.login(u) for u in ("alice", "bob", "carol", "op", "op2")}
        for u in ("alice", "bob"):
            r = cls.call("POST", f"/api/devices/{DEVICE}/bindings", {"username": u}, who="op")
            assert r.status in (200, 201), r
        r = cls.call("POST", "/api/me/wechat", {"code": code_for("oAlicePayer_01")}, who="alice")
        assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        cls.wx.stop()
        cls.login_wx.stop()
        super().tearDownClass()

    # --- helpers ---

    def ledger(self):
        r = self.get(f"/api/devices/{DEVICE}/ledger?limit=1000", who="op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def balance_fen(self):
        led = self.ledger()
        fen = round(float(led["balance"]) * 100)
        total = sum(round(float(e["amount"]) * 100) for e in led["entries"])
        self.assertEqual(fen, total, "balance must equal the sum of the ledger")
        return fen

    def payments_of(self, amount):
        return [e for e in self.ledger()["entries"]
                if e["kind"] == "payment" and round(float(e["amount"]) * 100) == amount]

    def order(self, amount="50.00", who="alice"):
        r = self.call("POST", f"/api/devices/{DEVICE}/payments", {"amount": amount}, who=who)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def state(self, out_trade_no):
        r = self.get(f"/api/devices/{DEVICE}/payments/{out_trade_no}", who="alice")
        self.assertEqual(r.status, 200, r)
        return r.json()["state"]

    def tearDown(self):
        self.balance_fen()  # the invariant holds after every test

    # --- tests ---

    def test_an_order_then_its_notification_credits_the_device_once(self):
        before = self.balance_fen()
        o = self.order("50.00")
        p = o["pay_params"]
        self.assertEqual(set(p), {"appId", "timeStamp", "nonceStr", "package", "signType",
                                  "paySign"})
        self.assertEqual(p["signType"], "RSA")
        self.assertEqual(p["appId"], APPID)
        self.assertTrue(p["package"].startswith("prepay_id="), p)
        message = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n".encode()
        self.assertTrue(self.wx.merchant_signature_valid(message, p["paySign"]))
        self.assertEqual(self.state(o["out_trade_no"]), "created")

        status, _ = self.wx.pay_and_notify(o["out_trade_no"])
        self.assertIn(status, (200, 204))
        self.assertEqual(self.balance_fen(), before + 5000)
        self.assertEqual(self.state(o["out_trade_no"]), "paid")
        # WeChat Pay sends it again: answered as a success, nothing more credited.
        headers, body = self.wx.notification(o["out_trade_no"])
        status, _ = self.wx.send_notify(self.srv.url("/api/payments/wechat/notify"), headers, body)
        self.assertIn(status, (200, 204))
        self.assertEqual(self.balance_fen(), before + 5000)
        self.assertEqual(len(self.payments_of(5000)), 1)

    def test_fifty_concurrent_copies_of_one_notification_credit_once(self):
        before = self.balance_fen()
        o = self.order("7.77")
        headers, body = self.wx.pay(o["out_trade_no"])
        url = self.srv.url("/api/payments/wechat/notify")
        results = []
        lock = threading.Lock()

        def send():
            s, _ = self.wx.send_notify(url, headers, body, timeout=60)
            with lock:
                results.append(s)

        threads = [threading.Thread(target=send) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 50)
        self.assertTrue(all(s in (200, 204) for s in results), results)
        self.assertEqual(self.balance_fen(), before + 777)
        self.assertEqual(len(self.payments_of(777)), 1)

    def test_forged_and_foreign_notifications_are_refused_and_credit_nothing(self):
        for i, tamper in enumerate(TAMPERS):
            with self.subTest(tamper=tamper):
                before = self.balance_fen()
                o = self.order(f"3.{i:02d}")
                status, answer = self.wx.pay_and_notify(o["out_trade_no"], tamper)
                self.assertGreaterEqual(status, 400, (tamper, answer))
                self.assertLess(status, 500, (tamper, answer))
                self.assertIn(b"FAIL", answer)
                self.assertEqual(self.balance_fen(), before)
                self.assertEqual(self.state(o["out_trade_no"]), "created")

    def test_the_query_thread_credits_a_lost_payment_once_and_closes_an_expired_order(self):
        """One restart with the thread asking after 1 s and orders expiring after 60 s: a
        payment whose notification was lost is credited once (the late notification then
        credits nothing), and an order never paid is closed at WeChat Pay and here."""
        before = self.balance_fen()
        o = self.order("12.34")
        self.wx.pay(o["out_trade_no"])  # paid at WeChat Pay; the notification never arrives
        time.sleep(1)
        self.assertEqual(self.balance_fen(), before)
        self.srv.stop()
        self.srv.extra = self.base_args + ["--wechatpay-query-after-s", "1",
                                           "--wechatpay-order-ttl-s", "60"]
        try:
            self.srv.start()
            unpaid = self.order("6.66")
            wait_until(lambda: self.state(o["out_trade_no"]) == "paid", 30,
                       what="the query thread credits the lost payment")
            time.sleep(2.5)  # more rounds of the thread: still credited once
            self.assertEqual(len(self.payments_of(1234)), 1)
            # The late notification, when it comes after all, credits nothing more.
            status, _ = self.wx.send_notify(self.srv.url("/api/payments/wechat/notify"),
                                            *self.wx.notification(o["out_trade_no"]))
            self.assertIn(status, (200, 204))
            self.assertEqual(len(self.payments_of(1234)), 1)
            # The unpaid order: still open while it may be paid, closed once expired.
            self.assertEqual(self.state(unpaid["out_trade_no"]), "created")
            wait_until(lambda: self.state(unpaid["out_trade_no"]) == "closed", 90,
                       what="the query thread closes the expired order")
            with self.wx.lock:
                self.assertEqual(self.wx.orders[unpaid["out_trade_no"]]["state"], "CLOSED")
            self.assertEqual(self.payments_of(666), [])
        finally:
            self.srv.stop()
            self.srv.extra = list(self.base_args)
            self.srv.start()
        self.assertGreaterEqual(self.balance_fen(), before + 1234)

    def test_only_a_bound_tenant_linked_to_wechat_may_pay(self):
        path = f"/api/devices/{DEVICE}/payments"
        r = self.call("POST", path, {"amount": "5.00"}, who="bob")  # bound, not linked
        self.assertEqual(r.status, 409, r)
        self.assertIn("WeChat", r.json()["message"])
        r = self.call("POST", path, {"amount": "5.00"}, who="carol")  # not bound
        self.assertEqual(r.status, 404, r)
        r = self.call("POST", path, {"amount": "5.00"}, who="op2")  # staff, not bound: the counter
        self.assertEqual(r.status, 403, r)
        r = self.call("POST", path, {"amount": "5.00"})
        self.assertEqual(r.status, 401, r)
        for bad in ("0", "-1", "1.001", "abc", None, [], "99999999999"):
            with self.subTest(amount=bad):
                r = self.call("POST", path, {"amount": bad}, who="alice")
                self.assertEqual(r.status, 400, r)

    def test_a_tenant_lists_their_own_orders_and_staff_every_order(self):
        o = self.order("1.23")
        r = self.get(f"/api/devices/{DEVICE}/payments?limit=1", who="alice")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(p["out_trade_no"], p["state"], p["amount"]) for p in r.json()["payments"]],
                         [(o["out_trade_no"], "created", 1.23)])
        r = self.get(f"/api/devices/{DEVICE}/payments", who="op")
        self.assertEqual(r.status, 200, r)
        self.assertIn(o["out_trade_no"], [p["out_trade_no"] for p in r.json()["payments"]])
        r = self.get(f"/api/devices/{DEVICE}/payments", who="bob")  # bound, paid nothing
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["payments"], [])
        self.assertEqual(self.get(f"/api/devices/{DEVICE}/payments", who="carol").status, 404)
        self.assertEqual(self.get(f"/api/devices/{DEVICE}/payments/{o['out_trade_no']}",
                                  who="bob").status, 404)
        self.assertEqual(self.get(f"/api/devices/{DEVICE}/payments?limit=0", who="op").status, 400)

    def test_counter_recharge_stays_for_staff_with_an_idempotency_key(self):
        before = self.balance_fen()
        r = self.call("POST", f"/api/device/recharge/{DEVICE}", {"amount": "1.00"}, who="alice")
        self.assertEqual(r.status, 403, r)
        key = {"Idempotency-Key": "counter-" + secrets.token_hex(4)}
        for _ in range(2):
            r = self.call("POST", f"/api/device/recharge/{DEVICE}", {"amount": "1.00"},
                          who="op", headers=key)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.balance_fen(), before + 100)

    def test_a_bad_wechatpay_setting_stops_the_server_with_exit_2_naming_it(self):
        opts = self.wx.options(self.srv.url("/api/payments/wechat/notify"))
        loose = self.path("apiv3-loose.key")
        with open(self.wx.path("apiv3.key"), "rb") as src, open(loose, "wb") as dst:
            dst.write(src.read())
        os.chmod(loose, 0o644)
        cases = [
            ("wechatpay_mchid", "12ab", "wechatpay_mchid"),
            ("wechatpay_apiv3_key_file", loose, "chmod"),
            ("wechatpay_private_key_file", self.path("no-such-key.pem"), "no-such-key.pem"),
            ("wechatpay_platform_public_key_file", self.wx.path("apiv3.key"), "public key"),
            ("wechatpay_notify_url", "http://meter.example.com/notify", "wechatpay_notify_url"),
            ("wechatpay_base_url", "http://api.mch.example.com", "wechatpay_base_url"),
        ]
        for name, value, said in cases:
            with self.subTest(option=name):
                args = dict(opts, **{name: value})
                flags = []
                for k, v in args.items():
                    flags += ["--" + k.replace("_", "-"), v]
                r = subprocess.run([METER_SERVER, "--db", self.srv.db, "--jwt-secret-file",
                                    self.srv.secret_file, "--listen", "127.0.0.1:1", *flags],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("WeChat Pay", r.stderr)
                self.assertIn(said, r.stderr)
        # Some but not all of the options: the missing ones are named.
        r = subprocess.run([METER_SERVER, "--db", self.srv.db, "--jwt-secret-file",
                            self.srv.secret_file, "--wechatpay-mchid", "1230000109"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("wechatpay_private_key_file", r.stderr)

    def test_notifications_without_a_body_or_headers_are_refused(self):
        url = self.srv.url("/api/payments/wechat/notify")
        status, _ = self.wx.send_notify(url, {"Content-Type": "application/json"}, b"{}")
        self.assertEqual(status, 401)


if __name__ == "__main__":
    main()
