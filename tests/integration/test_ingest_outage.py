"""A database outage under load: no acks while readings cannot be committed, the queue
and the server's memory stay bounded (the MQTT side stops reading), and once the database
is back every reading is stored exactly once and acknowledged. A device whose key is not
cached yet needs the database for its first message: its messages are all stored as soon as
the database is back, without any traffic after them.
SQLite: another connection holds the write lock. MariaDB: the server is killed (-9) and
started again."""
import json
import sqlite3

from harness import (PrivateMariaDB, http, main, mqtt_publish, mqtt_publish_lines, sqlite_path,
                     wait_until)
from ingest_common import IngestTest, publish_readings, reading, rss_kib, stats, stored_seqs

DEVICE = "outage-1"
UNCACHED = "outage-2"  # sends nothing before an outage: its key is read from the database
LATE = 10  # messages of UNCACHED during the outage
MESSAGES = 60  # of 5 readings: 300 readings against a queue of 40
QUEUE = 40


class DatabaseOutage(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = None
        if cls.backend == "mysql":
            cls.mariadb = cls.track(PrivateMariaDB(cls.workdir)).install()
            db = cls.mariadb.new_database(cls.db_name())
        cls.ingest_fixture([DEVICE, UNCACHED], db=db, extra_args=[
            "--ingest-queue", str(QUEUE), "--max-batch", "10", "--batch-max", "10",
            "--batch-wait-ms", "5"])
        cls.db = cls.srv.db
        cls.watch_acks()

    def stats(self):
        return stats(self.srv, self.token)

    def publish_all(self):
        lines = [json.dumps([reading(5 * k + i) for i in range(1, 6)]) for k in range(MESSAGES)]
        # In the background: the server stops taking messages while the queue is full.
        return mqtt_publish_lines(self.broker.url, f"meters/{DEVICE}/telemetry", lines,
                                  wait=False)

    def test_outage_holds_everything_then_stores_once_and_acks(self):
        # One reading before the outage, so the device's key is cached and the writer warm.
        publish_readings(self.broker.url, DEVICE, [reading(0)])
        wait_until(lambda: 0 in self.watcher.acked(DEVICE)[0], 20, what="first ack")
        rss_before = rss_kib(self.srv.proc.pid)
        acks_before = len(self.watcher.for_device(DEVICE))

        lock = self.take_database_away()
        try:
            pub = self.publish_all()
            # The writer keeps failing and the queue fills up: held, not dropped, not acked.
            pub.wait(timeout=60)  # the broker took everything; the server holds back
            self.wait_outage_seen()
            self.assertEqual(len(self.watcher.for_device(DEVICE)), acks_before,
                             "an ack went out while the database was away")
            self.assertIsNone(self.srv.proc.poll(), "the server died")
            # Bounded: a few MiB at most for the queue and paho's buffers.
            self.assertLess(rss_kib(self.srv.proc.pid) - rss_before, 64 * 1024)
        finally:
            self.bring_database_back(lock)

        want = set(range(0, 5 * MESSAGES + 1))
        wait_until(lambda: self.watcher.acked(DEVICE)[0] >= want, 90, interval=0.5,
                   what="every reading acked after the outage")
        seqs = stored_seqs(self.srv, self.token, DEVICE)
        self.assertEqual(sorted(seqs), sorted(want))  # each exactly once
        self.assertEqual(self.watcher.acked(DEVICE)[0], want)
        s = self.stats()
        self.assertEqual(s["mqtt"]["readings_stored"], len(want))
        self.assertEqual(s["writer"]["queue_depth"], 0)
        self.assertGreaterEqual(s["writer"]["queue_full"], 1)
        self.assertGreaterEqual(s["writer"]["retries"], 1)
        self.assertEqual(http("GET", self.srv.url("/api/health")).status, 200)

    def test_uncached_device_is_stored_once_the_database_is_back(self):
        # Its first message waits for the database inside the MQTT callback. (Handed back
        # to paho instead, it and every later message would go to paho's own queue, which
        # delivers one message for each packet received afterwards: with no traffic after
        # the outage the last ones would wait a keepalive each, 20 s.)
        unavailable = "ingest: database unavailable"
        before = self.srv.log().count(unavailable)
        lock = self.take_database_away()
        try:
            # A status message before each reading: it needs the database too, and once it
            # is stored nothing goes out (no ack) that could make paho look at its queue.
            for k in range(1, LATE + 1):
                mqtt_publish(self.broker.url, f"meters/{UNCACHED}/status",
                             json.dumps({"status": "online", "boot": 1}))
                publish_readings(self.broker.url, UNCACHED, [reading(k)])
            if self.backend == "mysql":
                wait_until(lambda: self.srv.log().count(unavailable) > before, 60,
                           what="the device lookup failing")
            self.assertEqual(self.watcher.acked(UNCACHED)[0], set(), "acked without a database")
        finally:
            self.bring_database_back(lock)
        want = set(range(1, LATE + 1))
        wait_until(lambda: self.watcher.acked(UNCACHED)[0] >= want, 15, interval=0.2,
                   what="every message of the device stored and acked, nothing sent after them")
        self.assertEqual(sorted(stored_seqs(self.srv, self.token, UNCACHED)), sorted(want))

    # --- the two ways a database goes away ---

    def wait_outage_seen(self):
        if self.backend == "mysql":
            # The API itself needs the database (to check the token): read the log instead.
            wait_until(lambda: "holding them, retrying" in self.srv.log(), 60,
                       what="the writer failing and holding its batch")
            return
        wait_until(lambda: self.stats()["writer"]["queue_full"] >= 1
                   and self.stats()["writer"]["retries"] >= 2, 60,
                   what="a full queue and failing batches")
        s = self.stats()
        self.assertLessEqual(s["writer"]["queue_depth"], QUEUE)
        self.assertGreater(s["writer"]["queue_depth"], 0)

    def take_database_away(self):
        if self.backend == "mysql":
            self.mariadb.kill()
            return None
        conn = sqlite3.connect(sqlite_path(self.db), isolation_level=None, timeout=1)
        conn.execute("BEGIN EXCLUSIVE")  # every writer now waits, then fails with "busy"
        return conn

    def bring_database_back(self, lock):
        if self.backend == "mysql":
            if self.mariadb.proc is None:
                self.mariadb.start()
            return
        lock.execute("ROLLBACK")
        lock.close()


if __name__ == "__main__":
    main()
