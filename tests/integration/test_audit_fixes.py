"""Findings of the security audit of 2026-12-07 that the server's data path answers (F3, F8,
F10, F11's database files, F12's leap second), each reproduced as the audit did it and
checked against its "Expected" line. Run with --backend sqlite or --backend mysql.
"""
import os
import stat

from harness import IntegrationTest, main, sqlite_path

SEQ_MAX = 2**63 - 1


class AuditFixes(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = f"audit-{cls.backend}-e"
        cls.hist = f"audit-{cls.backend}-h"
        cls.seqs = f"audit-{cls.backend}-s"
        users = {"op": "operator", "bob": "user"}
        cls.srv = cls.server_fixture(users, {cls.dev: "bob", cls.hist: "bob", cls.seqs: "bob"},
                                     login=("op",), connect=False)
        cls.secret = cls.srv.secrets[cls.dev]
        cls.tok = cls.srv.tokens

    def upload(self, body):
        return self.srv.upload(self.secret, body)

    def test_f3_readings_without_seq_never_wrap_past_the_largest_seq(self):
        dev, secret = self.seqs, self.srv.secrets[self.seqs]
        ok = self.srv.upload(secret, {"device_id": dev, "voltage": 230, "current": 1})
        self.assertEqual(ok.status, 200, ok)
        top = self.srv.upload(secret, {"device_id": dev, "voltage": 230, "current": 1,
                                       "seq": SEQ_MAX})
        self.assertEqual(top.status, 200, top)
        for v in (231, 232):
            r = self.srv.upload(secret, {"device_id": dev, "voltage": v, "current": 1})
            self.assertEqual(r.status, 409, r)
            self.assertIn("no seq left", r.json()["message"])
        rows = self.get(f"/api/device/data/{dev}?limit=10", who="op").json()
        self.assertEqual(sorted(row["seq"] for row in rows), [1, SEQ_MAX])
        # A reading with its own seq still goes in.
        r = self.srv.upload(secret, {"device_id": dev, "voltage": 233, "current": 1, "seq": 5})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["stored"], 1)

    def test_f8_amounts_with_digits_below_one_fen_are_refused_not_rounded(self):
        before = self.get(f"/api/devices/{self.dev}/ledger", who="op").json()
        for amount in ("0.30000000000000004", "100.000009", "0.0099999", "0.019999", "1.0000001"):
            r = self.call("POST", f"/api/device/recharge/{self.dev}", raw=(
                '{"amount":%s}' % amount).encode(), who="op",
                headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 400, (amount, r))
            self.assertIn("at most two decimals", r.json()["message"])
        after = self.get(f"/api/devices/{self.dev}/ledger", who="op").json()
        self.assertEqual(after["entries"], before["entries"])
        r = self.call("POST", f"/api/device/recharge/{self.dev}", {"amount": 0.3}, who="op")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["new_balance"], 0.3)

    def test_f10_sub_minute_intervals_answer_the_newest_buckets_with_data(self):
        day0 = 1_796_601_600_000  # 2026-12-07T00:00:00Z
        readings = [{"device_id": self.hist, "seq": k + 1, "ts": day0 + 6 * 3600_000 + k * 1000,
                     "voltage": 230 + k, "current": 1} for k in range(90)]
        r = self.srv.upload(self.srv.secrets[self.hist], readings)
        self.assertEqual(r.status, 200, r)
        day = "from=2026-12-07T00:00:00Z&to=2026-12-08T00:00:00Z"
        # Readings 06:00:00 to 06:01:29: three 30 s buckets and two minutes, all the newest.
        for interval, buckets in (("30s", 3), ("1m", 2)):
            r = self.get(f"/api/device/data/{self.hist}?interval={interval}&{day}&limit=3",
                         who="op")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r.json()), buckets, (interval, r))
        newest = self.get(f"/api/device/data/{self.hist}?interval=30s&{day}&limit=3",
                          who="op").json()
        self.assertEqual(newest[0]["count"], 30)  # 06:01:00..06:01:29, the newest 30 s
        r = self.get(f"/api/device/data/{self.hist}?interval=1s&{day}&limit=10000", who="op")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()), 90)
        r = self.get(f"/api/device/data/{self.hist}?to=9223372036854775807&interval=1m", who="op")
        self.assertEqual(r.status, 200, r)

    def test_f11_a_new_database_is_readable_by_its_owner_only(self):
        if self.backend != "sqlite":
            self.skipTest("a MariaDB server keeps its own files")
        path = sqlite_path(self.srv.db)
        for p in (path, path + "-wal", path + "-shm"):
            if os.path.exists(p):
                self.assertEqual(stat.S_IMODE(os.stat(p).st_mode) & 0o077, 0, p)

    def test_f12_a_leap_second_on_an_ordinary_day_is_refused(self):
        r = self.upload({"device_id": self.dev, "seq": 100, "ts": "2026-12-06T23:59:60Z",
                         "voltage": 230, "current": 1})
        self.assertEqual(r.status, 400, r)
        r = self.upload({"device_id": self.dev, "seq": 101, "ts": "2026-12-06T23:59:59Z",
                         "voltage": 230, "current": 1})
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    main()
