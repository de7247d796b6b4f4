"""Many uploads at once (POST /api/device/data): they share the writer's transactions
(group commit), yet each gets its own answer, and the database holds exactly what was
sent. Seq-less uploads of one device that share a transaction get distinct seqs."""
from concurrent.futures import ThreadPoolExecutor

from harness import main
from ingest_common import IngestTest, stats, stored_seqs

DEVICES = [f"gc-{k}" for k in range(10)]
PER_DEVICE = 20  # 10 x 20 = 200 single-reading uploads with a seq
SEQLESS = 40     # and these without one, all for one device
WORKERS = 32     # uploads in flight at once
TS0 = 1795459562000


class UploadConcurrency(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ingest_fixture(DEVICES + ["gc-noseq"], extra_args=["--http-threads", "32"],
                           connect=False)
        cls.secrets = cls.srv.secrets

    def upload(self, device, reading):
        return self.srv.upload(self.secrets[device], dict(reading, device_id=device), timeout=60)

    def run_all(self, jobs):
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return list(pool.map(lambda job: self.upload(*job), jobs))

    def test_1_concurrent_uploads_each_answered_and_stored_exactly(self):
        jobs = [(d, {"seq": s, "ts": TS0 + s, "voltage": 230, "current": 1})
                for s in range(1, PER_DEVICE + 1) for d in DEVICES]
        results = self.run_all(jobs)
        for (device, reading), r in zip(jobs, results):
            self.assertEqual(r.status, 200, (device, reading["seq"], r))
            self.assertEqual(r.json(), {"status": "success", "stored": 1, "duplicates": 0})
        for d in DEVICES:
            self.assertEqual(sorted(stored_seqs(self.srv, self.token, d)),
                             list(range(1, PER_DEVICE + 1)), d)
        # The same uploads again, at once: every one a duplicate, nothing added.
        for r in self.run_all(jobs):
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["stored"], r.json()["duplicates"]), (0, 1))
        for d in DEVICES:
            self.assertEqual(len(stored_seqs(self.srv, self.token, d)), PER_DEVICE, d)
        s = stats(self.srv, self.token)
        self.assertEqual(s["http"]["uploads"], 2 * len(jobs))
        self.assertEqual(s["http"]["readings_stored"], len(jobs))
        self.assertEqual(s["http"]["duplicates"], len(jobs))
        self.assertEqual(s["writer"]["queue_depth"], 0)

    def test_2_concurrent_seqless_uploads_get_distinct_seqs(self):
        jobs = [("gc-noseq", {"ts": TS0 + k, "voltage": 230, "current": 1})
                for k in range(SEQLESS)]
        for r in self.run_all(jobs):
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["stored"], r.json()["duplicates"]), (1, 0))
        self.assertEqual(sorted(stored_seqs(self.srv, self.token, "gc-noseq")),
                         list(range(1, SEQLESS + 1)))


if __name__ == "__main__":
    main()
