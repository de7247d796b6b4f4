"""GET /api/device/data from the history cache: repeated answers come from memory, every
change of a device's readings (an upload over HTTP, telemetry over MQTT, a retention delete by
another server instance) shows at once, ETag/If-None-Match answers 304 while nothing changed,
and a foreign device is still a 404. The real server on SQLite or MariaDB.
"""
import json
import time

from harness import IntegrationTest, http, main, mqtt_publish, wait_until

DAY = 86_400_000


class HistoryCache(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Per backend: both variants may run at once on the shared broker, and each server
        # would store the other's MQTT telemetry for a device of the same name.
        cls.a = f"hc-a-{cls.backend}"
        cls.b = f"hc-b-{cls.backend}"
        users = {"alice": "user", "bob": "user", "op": "operator"}
        cls.srv = cls.server_fixture(users, {cls.a: "alice", cls.b: "bob"}, login=users)
        cls.tok = cls.srv.tokens
        cls.secret = cls.srv.secrets[cls.a]
        now = int(time.time() * 1000)
        cls.now = now
        # 40-day-old readings (for the retention delete) and recent ones.
        cls.seq = 0
        rows = []
        for ts in [now - 40 * DAY + k * 1000 for k in range(5)] + \
                  [now - 3_600_000 + k * 1000 for k in range(20)]:
            cls.seq += 1
            rows.append({"device_id": cls.a, "seq": cls.seq, "ts": ts, "voltage": 230.0,
                         "current": 5.0})
        cls.upload(rows)
        cls.srv.upload(cls.srv.secrets[cls.b], {"device_id": cls.b, "voltage": 231.5,
                                                "current": 7.25}, check=True)

    @classmethod
    def upload(cls, rows):
        cls.srv.upload(cls.secret, rows, check=True)

    def get(self, path, who="alice", **kw):
        return super().get(path, who, **kw)

    def cache_stats(self, srv=None):
        r = self.get("/api/stats", "op", srv=srv)
        self.assertEqual(r.status, 200, r)
        return r.json()["history_cache"]

    def seqs(self, r):
        self.assertEqual(r.status, 200, r)
        return [x["seq"] for x in r.json()]

    def test_1_a_repeated_answer_comes_from_the_cache(self):
        before = self.cache_stats()
        first = self.get(f"/api/device/data/{self.a}?limit=1000")
        second = self.get(f"/api/device/data/{self.a}?limit=1000")
        after = self.cache_stats()
        self.assertEqual(first.status, 200, first)
        self.assertEqual(second.body, first.body)
        self.assertEqual(len(first.json()), self.seq)
        self.assertEqual(after["misses"] - before["misses"], 1)
        self.assertEqual(after["hits"] - before["hits"], 1)
        self.assertGreater(after["bytes"], len(first.body))
        self.assertEqual(after["max_bytes"], 64 << 20)
        self.assertEqual(first.headers.get("ETag"), second.headers.get("ETag"))
        # Another query of the same device is its own entry.
        self.assertEqual(self.seqs(self.get(f"/api/device/data/{self.a}?limit=3")),
                         [self.seq, self.seq - 1, self.seq - 2])

    def test_2_an_http_upload_shows_at_once(self):
        old = self.get(f"/api/device/data/{self.a}?limit=1000")
        self.get(f"/api/device/data/{self.a}?limit=1000")  # cached now
        type(self).seq += 1
        self.upload([{"device_id": self.a, "seq": self.seq, "voltage": 232.0, "current": 5.5}])
        new = self.get(f"/api/device/data/{self.a}?limit=1000")
        self.assertEqual(self.seqs(new)[0], self.seq)
        self.assertEqual(len(new.json()), len(old.json()) + 1)
        self.assertNotEqual(new.headers.get("ETag"), old.headers.get("ETag"))
        # A replay stores nothing: the answer and its tag stay.
        self.upload([{"device_id": self.a, "seq": self.seq, "voltage": 232.0, "current": 5.5}])
        again = self.get(f"/api/device/data/{self.a}?limit=1000")
        self.assertEqual(again.body, new.body)
        self.assertEqual(again.headers.get("ETag"), new.headers.get("ETag"))

    def test_3_mqtt_telemetry_shows_as_soon_as_stored(self):
        self.get(f"/api/device/data/{self.a}?limit=5")
        cached = self.get(f"/api/device/data/{self.a}?limit=5")
        type(self).seq += 1
        seq = self.seq
        payload = json.dumps({"seq": seq, "ts": int(time.time() * 1000), "voltage": 229.0,
                              "current": 4.0})
        sent = [0.0]

        def shown():
            # Published again every 2 s until it shows (as a meter resends without an ack): a
            # server still subscribing on a loaded machine would miss a single copy. Storing
            # is idempotent on (device, seq).
            if time.monotonic() - sent[0] > 2:
                mqtt_publish(self.srv.mqtt, f"meters/{self.a}/telemetry", payload)
                sent[0] = time.monotonic()
            s = self.seqs(self.get(f"/api/device/data/{self.a}?limit=5"))
            return s if s[0] == seq else None

        # The writer stores it asynchronously: poll, and the first answer carrying it must be
        # complete (the old newest rows follow it).
        got = wait_until(shown, 30, what="MQTT reading shown")
        self.assertEqual(got, [seq] + self.seqs(cached)[:4])

    def test_4_etag_answers_304_while_nothing_changed(self):
        r = self.get(f"/api/device/data/{self.a}?limit=1000")
        tag = r.headers.get("ETag")
        self.assertRegex(tag, r'^"d\d+-v\d+-[0-9a-f]{16}"$')
        nm = self.get(f"/api/device/data/{self.a}?limit=1000", headers={"If-None-Match": tag})
        self.assertEqual(nm.status, 304, nm)
        self.assertEqual(nm.body, "")
        self.assertEqual(nm.headers.get("ETag"), tag)
        # Another query has another tag: no 304 for it.
        other = self.get(f"/api/device/data/{self.a}?limit=999", headers={"If-None-Match": tag})
        self.assertEqual(other.status, 200, other)
        # Bucket answers with an explicit range are tagged too.
        q = f"/api/device/data/{self.a}?interval=1m&from={self.now - 7_200_000}&to={self.now + 60_000}"
        b = self.get(q)
        self.assertEqual(b.status, 200, b)
        self.assertIn("ETag", b.headers)
        self.assertEqual(b.headers.get("X-Interval-Seconds"), "60")
        self.assertEqual(self.get(q, headers={"If-None-Match": b.headers["ETag"]}).status, 304)
        # A range ending "now" follows the clock: never tagged.
        self.assertNotIn("ETag", self.get(f"/api/device/data/{self.a}?interval=1m").headers)
        # After a new reading the old tag no longer matches.
        type(self).seq += 1
        self.upload([{"device_id": self.a, "seq": self.seq, "voltage": 232.0, "current": 5.5}])
        fresh = self.get(f"/api/device/data/{self.a}?limit=1000", headers={"If-None-Match": tag})
        self.assertEqual(fresh.status, 200, fresh)
        self.assertEqual(self.seqs(fresh)[0], self.seq)

    def test_5_a_foreign_device_is_404_before_any_cache(self):
        own = self.get(f"/api/device/data/{self.b}?limit=1000", who="bob")
        self.assertEqual(own.status, 200, own)
        tag = own.headers["ETag"]
        before = self.cache_stats()
        for headers in (None, {"If-None-Match": tag}, {"If-None-Match": "*"}):
            r = self.get(f"/api/device/data/{self.b}?limit=1000", who="alice", headers=headers)
            self.assertEqual(r.status, 404, r)
            self.assertNotIn("231.5", r.body)
            self.assertNotIn("ETag", r.headers)
        after = self.cache_stats()
        self.assertEqual((after["hits"], after["misses"]), (before["hits"], before["misses"]))

    def test_6_another_instance_deleting_old_readings_invalidates(self):
        path = f"/api/device/data/{self.a}?limit=1000"
        self.get(path)
        cached = self.seqs(self.get(path))
        self.assertIn(1, cached)  # the 40-day-old readings are still there
        # A second server on the same database deletes raw readings past 30 days.
        other = self.new_server(extra_args=("--raw-retention-days", "30")).start()
        wait_until(lambda: http("GET", other.url("/api/stats"), token=self.tok["op"]).json()
                   ["retention"]["rows_deleted"] >= 5, 30, what="a retention run")
        now_seen = self.seqs(self.get(path))
        self.assertEqual(now_seen, [s for s in cached if s > 5])
        other.stop()


if __name__ == "__main__":
    main()
