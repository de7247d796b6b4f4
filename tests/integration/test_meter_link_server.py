"""meterd --link against the real meter-server --terminal-listen, on either backend: the two
daemons' ends of the terminal link together, with the server's command service and API.

The meter's readings are stored once each through a kill -9 of the server and a restart of
the meter and a kill -9 of the meter; a relay command an operator gives through the API reaches the meter over the link,
switches its relay and completes; a capture asked for through the API comes up in chunks and
completes with its analysis; at the end the meter's spool is empty.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import METERD, IntegrationTest, Meter, free_port, main, wait_until  # noqa: E402
from ingest_common import stored_seqs  # noqa: E402

DEV = "lk-1"
INTERVAL = "0.5"


class MeterLinkServer(IntegrationTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = free_port()
        cls.srv = cls.server_fixture(
            {"op": "operator", "alice": "user"}, {DEV: "alice"}, login=("op",),
            extra_args=["--terminal-listen", f"127.0.0.1:{cls.port}",
                        "--terminal-heartbeat-s", "2", "--terminal-idle-s", "6"])
        cls.tok = cls.srv.tokens
        cls.meter = cls.track(Meter(cls.workdir, DEV, "unused", interval=INTERVAL,
                                    secret=cls.srv.secrets[DEV]))
        cls.meter.args = [METERD, "--device-id", DEV, "--link", f"tcp://127.0.0.1:{cls.port}",
                          "--adc", "sim", "--interval", INTERVAL,
                          "--state-dir", cls.meter.state_dir, "--ack-timeout", "3"]

    def device(self):
        r = self.get(f"/api/devices/{DEV}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def stored(self):
        return stored_seqs(self.srv, self.tok["op"], DEV)

    def command(self, cid):
        r = self.get(f"/api/devices/{DEV}/commands/{cid}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def more_readings(self, n, timeout=30):
        have = len(self.stored())
        wait_until(lambda: len(self.stored()) >= have + n, timeout, interval=0.3,
                   what=f"{n} more readings stored")

    def test_the_meter_and_the_gateway_end_to_end(self):
        self.meter.start()
        wait_until(lambda: self.device()["status"] == "online", 20, what="the meter online")
        self.more_readings(4)

        # A relay command through the API: over the link, switched, reported, done.
        r = self.call("POST", f"/api/devices/{DEV}/relay", {"state": "off", "reason": "link"},
                      who="op")
        self.assertEqual(r.status, 202, r)
        cid = r.json()["command_id"]
        wait_until(lambda: self.command(cid)["state"] == "done", 20, interval=0.3,
                   what="the relay command done")
        wait_until(lambda: self.device()["relay"] == "off", 10, what="the device's relay off")

        # A capture through the API: its chunks reassembled and analysed by the server.
        r = self.call("POST", f"/api/devices/{DEV}/captures", {"duration_ms": 1000}, who="op")
        self.assertEqual(r.status, 202, r)
        cap_id = r.json()["capture_id"]

        def complete():
            c = self.get(f"/api/devices/{DEV}/captures/{cap_id}", "op").json()
            return c if c["state"] != "pending" else None
        cap = wait_until(complete, 30, interval=0.3, what="the capture complete")
        self.assertEqual(cap["state"], "complete", cap)
        self.assertEqual(cap["samples"], 6400)
        self.assertAlmostEqual(cap["analysis"]["vrms"], 230.0, delta=2.0)

        # The server killed mid-stream and started again: the meter reconnects and resends.
        self.srv.kill()
        time.sleep(2)
        self.srv.start()
        self.more_readings(4, timeout=60)

        # The meter restarted: its spool and seq carry on.
        self.assertEqual(self.meter.stop(), 0)
        self.meter.start(note="restart")
        self.more_readings(4, timeout=60)

        # A kill -9 of the meter (a power cut): what it spooled and was not acked comes again,
        # the server keeps one copy.
        self.meter.kill()
        self.meter.start(note="after kill -9")
        self.more_readings(4, timeout=60)

        # Stopped for good once everything was acked.
        time.sleep(2)
        self.meter.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.meter.stop(), 0)
        log = self.meter.log(tail=200000)
        last = int(log.rsplit("stopped at seq ", 1)[1].split(";")[0])
        wait_until(lambda: len(self.stored()) >= last, 15, interval=0.3,
                   what=f"the readings up to seq {last} stored")
        seqs = self.stored()
        self.assertEqual(len(seqs), len(set(seqs)), "a reading stored twice")
        self.assertEqual(sorted(seqs), list(range(1, last + 1)), "a reading missing")
        # The acks drained the spool: it holds at most what was in flight at the stop.
        stops = [line for line in log.splitlines() if "spool at stop" in line]
        depth = int(re.search(r"depth (\d+),", stops[-1]).group(1))
        inflight = int(re.search(r"inflight (\d+),", stops[-1]).group(1))
        self.assertLessEqual(depth, 2, stops[-1])
        self.assertEqual(depth, inflight, stops[-1])
        self.assertIn(f"relay off (command {cid})", log)
        print(f"{len(seqs)} readings stored once each; capture of {cap['samples']} samples",
              file=sys.stderr)


if __name__ == "__main__":
    main()
