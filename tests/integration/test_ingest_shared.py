"""Two meter-server instances in one MQTT share group on one database: the broker splits
the messages between them, both do work, and every reading is stored exactly once even
when replays of the same readings reach both instances."""
import json

from harness import main, mqtt_publish_lines, wait_until
from ingest_common import IngestTest, reading, stats, stored_seqs

DEVICES = [f"share-{i}" for i in range(4)]
MESSAGES = 60  # per device, each with 2 readings, then all of them again


class SharedSubscriptions(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        args = ["--mqtt-share-group", "ingest", "--batch-wait-ms", "5"]
        cls.a = cls.ingest_fixture(DEVICES, extra_args=args, client_id="meter-server-a")
        cls.b = cls.new_server(extra_args=args, client_id="meter-server-b").start()
        cls.b.wait_mqtt()
        cls.watch_acks()

    def publish_lines(self, device, lines):
        mqtt_publish_lines(self.broker.url, f"meters/{device}/telemetry", lines)

    def test_every_reading_once_and_both_instances_work(self):
        # Subscriptions settle before the first message: both are connected and subscribed
        # (the watcher's probe went through the same broker afterwards).
        lines = {d: [json.dumps([reading(2 * k + 1), reading(2 * k + 2)])
                     for k in range(MESSAGES)] for d in DEVICES}
        for d in DEVICES:
            self.publish_lines(d, lines[d])
        for d in DEVICES:  # the same readings again: replays, split between the instances too
            self.publish_lines(d, lines[d])
        want = set(range(1, 2 * MESSAGES + 1))
        wait_until(lambda: all(self.watcher.acked(d)[0] >= want for d in DEVICES), 60,
                   what="acks for every reading")
        for d in DEVICES:
            seqs = stored_seqs(self.a, self.token, d)
            self.assertEqual(sorted(seqs), sorted(want), d)  # no gaps, no repeats
            self.assertEqual(self.watcher.acked(d)[0], want, d)
        sa, sb = stats(self.a, self.token), stats(self.b, self.token)
        self.assertGreater(sa["writer"]["readings"], 0, "instance a did no work")
        self.assertGreater(sb["writer"]["readings"], 0, "instance b did no work")
        total = len(DEVICES) * 2 * MESSAGES
        self.assertEqual(sa["mqtt"]["readings_stored"] + sb["mqtt"]["readings_stored"], total)
        self.assertEqual(sa["mqtt"]["duplicates"] + sb["mqtt"]["duplicates"], total)
        self.assertEqual(sa["mqtt"]["messages"] + sb["mqtt"]["messages"],
                         2 * len(DEVICES) * MESSAGES)


if __name__ == "__main__":
    main()
