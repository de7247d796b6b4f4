"""Acknowledgements end to end: meters/<id>/ack only after the readings are queryable,
covering exactly the seqs sent; duplicates and invalid readings acked too; none for an
unregistered device. HTTP uploads go through the same idempotent batch insert."""
import threading

from harness import http, main, wait_until
from ingest_common import IngestTest, publish_readings, reading, seqs_in, stats, stored_seqs


class IngestAcks(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.early = []  # (device, seqs acked but not yet queryable when the ack arrived)
        cls.early_lock = threading.Lock()
        cls.ingest_fixture(("ack-1", "ack-2", "up-1"), extra_args=["--batch-wait-ms", "5"])
        cls.secrets = cls.srv.secrets
        cls.watch_acks(on_ack=cls.check_queryable)

    @classmethod
    def check_queryable(cls, device, body):
        # Runs as each ack arrives: everything it names as stored must be readable already.
        rejected = seqs_in(body.get("rejected", []))
        acked = seqs_in(body["seqs"])
        missing = (acked - rejected) - set(stored_seqs(cls.srv, cls.token, device))
        if missing:
            with cls.early_lock:
                cls.early.append((device, sorted(missing)))

    def test_1_acks_follow_commit_and_cover_exactly_the_sent_seqs(self):
        publish_readings(self.broker.url, "ghost", [reading(1)])  # not registered: no ack
        publish_readings(self.broker.url, "ack-1", [reading(s) for s in range(1, 6)])
        publish_readings(self.broker.url, "ack-1", [reading(6)])
        publish_readings(self.broker.url, "ack-2",
                         [reading(1), {"seq": 2, "ts": 1, "voltage": 230, "current": 1},
                          reading(3), {"ts": 5, "voltage": 1}])
        # The last message of each device is acked after the ghost's was handled.
        wait_until(lambda: self.watcher.acked("ack-1")[0] >= set(range(1, 7))
                   and self.watcher.acked("ack-2")[0] >= {1, 2, 3}, 30, what="acks")
        seqs1, rej1 = self.watcher.acked("ack-1")
        seqs2, rej2 = self.watcher.acked("ack-2")
        self.assertEqual(seqs1, set(range(1, 7)))
        self.assertEqual(rej1, set())
        self.assertEqual(seqs2, {1, 2, 3})
        self.assertEqual(rej2, {2})
        self.assertEqual(self.watcher.for_device("ghost"), [])
        self.assertEqual(self.early, [])
        self.assertEqual(sorted(stored_seqs(self.srv, self.token, "ack-1")), list(range(1, 7)))
        self.assertEqual(sorted(stored_seqs(self.srv, self.token, "ack-2")), [1, 3])
        for body in self.watcher.for_device("ack-1") + self.watcher.for_device("ack-2"):
            ranges = body["seqs"]
            self.assertEqual(ranges, sorted(ranges))
            for (_, last), (first, _) in zip(ranges, ranges[1:]):
                self.assertGreater(first, last + 1, body)  # disjoint and merged

    def test_2_a_replay_is_acked_again_and_stored_once(self):
        before = len(self.watcher.for_device("ack-1"))
        publish_readings(self.broker.url, "ack-1", [reading(s, voltage=1.0) for s in range(3, 9)])
        wait_until(lambda: len(self.watcher.for_device("ack-1")) > before
                   and self.watcher.acked("ack-1")[0] >= set(range(1, 9)), 30, what="replay ack")
        self.assertEqual(self.watcher.acked("ack-1")[0], set(range(1, 9)))
        rows = http("GET", self.srv.url("/api/device/data/ack-1?limit=100"), token=self.token).json()
        self.assertEqual(sorted(r["seq"] for r in rows), list(range(1, 9)))
        self.assertTrue(all(r["voltage"] == 230.0 for r in rows if r["seq"] <= 6),
                        "a replay must not change a stored reading")
        self.assertEqual(self.early, [])
        s = stats(self.srv, self.token)
        self.assertGreaterEqual(s["writer"]["batches"], 1)
        self.assertGreaterEqual(s["writer"]["acks_sent"], 3)
        self.assertEqual(s["writer"]["rejected_acked"], 1)
        self.assertEqual(s["mqtt"]["duplicates"], 4)
        self.assertEqual(s["writer"]["queue_depth"], 0)

    def test_3_an_http_upload_replay_stores_once(self):
        body = [{"device_id": "up-1", "seq": s, "ts": 1795459562000 + s, "voltage": 230,
                 "current": 2, "energy_wh": s} for s in range(1, 11)]
        auth = {"Authorization": f"Bearer {self.secrets['up-1']}"}
        r = http("POST", self.srv.url("/api/device/data"), body, headers=auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["stored"], 10)
        self.assertEqual(r.json()["duplicates"], 0)
        r = http("POST", self.srv.url("/api/device/data"), body[5:] + [
            dict(body[0], seq=11)], headers=auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["stored"], r.json()["duplicates"]), (1, 5))
        self.assertEqual(sorted(stored_seqs(self.srv, self.token, "up-1")), list(range(1, 12)))
        s = stats(self.srv, self.token)["http"]
        self.assertEqual((s["uploads"], s["readings_stored"], s["duplicates"]), (2, 11, 5))


if __name__ == "__main__":
    main()
