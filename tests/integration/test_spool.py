"""meterd's spool and the end-to-end acknowledgement, against a real mosquitto.

The test plays the server: a mosquitto_sub records every payload on
meters/<id>/telemetry (with its arrival time), and an acker answers on
meters/<id>/ack with {"seqs":[[first,last],...]} for what arrived, signed with
the device's key as the server does after its database commit (docs/meterd.md,
docs/protocol.md). Covered:
  1. the broker down for ~10 s: every seq arrives, the backlog as arrays, in order;
  2. acks withheld for some seqs: those are resent after ack_timeout, acked ones never;
  3. meterd killed (kill -9) while draining a backlog and restarted: no seq lost;
  4. a large backlog drains at the bounded rate while live readings keep flowing.
Only the command line, MQTT payloads, the state file and the log are used.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from harness import (IntegrationTest, Meter, client_args, free_port, main, mosquitto_sub,
                     provision_device, read_text, spool_dir, state_file, wait_until)
from mqtt_accounts import sign

SPOOL_FILL = os.environ.get("SPOOL_FILL", "spool_fill")


class Recorder:
    """mosquitto_sub on one device's telemetry; keeps (arrival time, payload) in order."""

    def __init__(self, broker_url, device, workdir):
        self.url = broker_url
        self.device = device
        self.msgs = []  # (monotonic time, parsed payload)
        self.lock = threading.Lock()
        self.client_id = f"rec-{device}"[:23]
        self.err = open(os.path.join(workdir, f"sub-{device}.err"), "ab")
        self.proc = None
        self.thread = None

    def start(self):
        # A persistent session (-c) keeps the subscription across broker restarts.
        self.proc = mosquitto_sub(self.url, [f"meters/{self.device}/telemetry"], "-c",
                                  "-i", self.client_id, stdout=subprocess.PIPE, stderr=self.err)
        self.thread = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.thread.start()
        time.sleep(0.3)  # subscribed: nothing is published for this device before it

    def _read(self, proc):
        for line in proc.stdout:
            doc = json.loads(line)
            with self.lock:
                self.msgs.append((time.monotonic(), doc))

    def ensure_running(self):
        if self.proc.poll() is not None:
            self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.err.close()

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def counts(self):
        """How many times each seq arrived."""
        c = {}
        for _, doc in self.snapshot():
            for r in doc if isinstance(doc, list) else [doc]:
                c[r["seq"]] = c.get(r["seq"], 0) + 1
        return c


def ranges(seqs):
    out = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        elif not out or s > out[-1][1]:
            out.append([s, s])
    return out


class Acker:
    """Acknowledges every message the recorder received, duplicates too, as the server does
    (optionally only the seqs accept() allows)."""

    def __init__(self, url, device, secret, recorder, accept=lambda seq: True):
        self.url = url
        self.device = device
        self.secret = secret
        self.rec = recorder
        self.accept = accept
        self.next = 0  # index of the first message not yet acknowledged
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_flag.wait(0.2):
            msgs = self.rec.snapshot()
            fresh = set()
            for _, doc in msgs[self.next:]:
                fresh |= {r["seq"] for r in (doc if isinstance(doc, list) else [doc])
                          if self.accept(r["seq"])}
            if not fresh:
                self.next = len(msgs)
                continue
            rs = ranges(fresh)
            ok = True
            topic = f"meters/{self.device}/ack"
            for k in range(0, len(rs), 256):
                payload = sign(self.secret, topic,
                               json.dumps({"seqs": rs[k:k + 256]}, separators=(",", ":")))
                r = subprocess.run(["mosquitto_pub", *client_args(self.url), "-q", "1", "-t",
                                    topic, "-m", payload], capture_output=True, timeout=10)
                ok = ok and r.returncode == 0
            if ok:  # else the broker was down: try again
                self.next = len(msgs)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=10)


class Spool(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_broker()

    def setUp(self):
        self.device = f"sp-{self._testMethodName[5:20]}-{random.randrange(1 << 20):x}"
        self.secret = provision_device(self.broker.url, self.device)
        self.state_dir = self.path(f"state-{self.device}")
        self.log_path = self.path(f"meterd-{self.device}.log")
        self.procs = []
        self.helpers = []

    def tearDown(self):
        for h in reversed(self.helpers):
            h.stop()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.broker.proc is None:
            self.broker.start()

    def meterd(self, *extra, mqtt=None, interval="0.2"):
        m = Meter(self.workdir, self.device, mqtt or self.broker.url, interval=interval,
                  adc="sim:v=230,i=10,phase=20", extra=extra, state_dir=self.state_dir,
                  log_path=self.log_path)
        p = m.start(note=" ".join(m.args[1:])).proc
        self.procs.append(p)
        return p

    def log(self):
        return read_text(self.log_path)

    def recorder(self):
        rec = Recorder(self.broker.url, self.device, self.workdir)
        rec.start()
        self.helpers.append(rec)
        return rec

    def acker(self, rec, **kw):
        a = Acker(self.broker.url, self.device, self.secret, rec, **kw).start()
        self.helpers.append(a)
        return a

    def state_seq(self):
        with open(state_file(self.state_dir, self.device)) as f:
            for line in f:
                if line.startswith("seq "):
                    return int(line.split()[1])
        raise AssertionError("no seq in the state file")

    def stop_meterd(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0, self.log()[-3000:])

    def assert_contiguous(self, counts, upto):
        missing = [s for s in range(1, upto + 1) if s not in counts]
        self.assertEqual(missing, [], f"seqs lost; log tail:\n{self.log()[-2000:]}")

    def test_1_broker_outage_loses_nothing_and_drains_in_arrays(self):
        rec = self.recorder()
        self.acker(rec)
        p = self.meterd()
        wait_until(lambda: max(rec.counts(), default=0) >= 5, 20, what="live readings")
        before = max(rec.counts())
        self.broker.stop()
        time.sleep(10)  # the outage: readings go to the spool only
        self.broker.start()
        rec.ensure_running()
        after_restart = self.state_seq()
        self.assertGreater(after_restart, before + 20, "readings were taken during the outage")
        wait_until(lambda: all(s in rec.counts() for s in range(1, after_restart + 1)), 30,
                   what="every seq up to the restart")
        self.assert_contiguous(rec.counts(), after_restart)

        # The outage's readings came back as arrays, oldest first and each array in order.
        arrays = [doc for _, doc in rec.snapshot() if isinstance(doc, list)]
        self.assertTrue(arrays, "no backlog array arrived")
        firsts = [a[0]["seq"] for a in arrays]
        self.assertEqual(firsts, sorted(firsts), "backlog arrays not oldest first")
        for a in arrays:
            seqs = [r["seq"] for r in a]
            self.assertEqual(seqs, sorted(seqs))
            self.assertLessEqual(len(a), 100)
        # The outage's readings are in them (an array may start a little earlier: what was in
        # flight when the broker went away is resent too).
        self.assertTrue(any(before < r["seq"] <= after_restart for a in arrays for r in a))
        self.stop_meterd(p)

    def test_2_unacknowledged_readings_are_resent_after_ack_timeout(self):
        rec = self.recorder()
        self.acker(rec, accept=lambda s: s % 2 == 0)  # odd seqs are never acknowledged
        p = self.meterd("--ack-timeout", "2")
        wait_until(lambda: all(rec.counts().get(s, 0) >= 2 for s in range(1, 20, 2)), 30,
                   what="odd seqs resent after the ack timeout")
        counts = rec.counts()
        resent_even = [s for s in range(2, 21, 2) if counts.get(s, 0) != 1]
        self.assertEqual(resent_even, [], "acknowledged seqs were resent")
        self.assertIn("no ack for seq", self.log())
        # Resends are arrays; the first copy of every seq was a live object.
        first_kind = {}
        for _, doc in rec.snapshot():
            for r in doc if isinstance(doc, list) else [doc]:
                first_kind.setdefault(r["seq"], isinstance(doc, list))
        self.assertFalse(any(first_kind[s] for s in range(5, 21)))
        self.stop_meterd(p)

    def test_3_kill_9_while_draining_loses_no_seq(self):
        rec = self.recorder()
        # A backlog: readings taken while no broker is reachable.
        p = self.meterd("--backlog-rate", "20", "--backlog-batch", "5", interval="0.1",
                        mqtt=f"tcp://127.0.0.1:{free_port()}")
        wait_until(lambda: os.path.exists(state_file(self.state_dir, self.device))
                   and self.state_seq() >= 60, 30, what="a backlog of 60 readings")
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.acker(rec)
        killed_at = []
        for k in range(2):
            p = self.meterd("--backlog-rate", "20", "--backlog-batch", "5", interval="0.1")
            wait_until(lambda: sum(isinstance(d, list) for _, d in rec.snapshot()) >= 3 * (k + 1),
                       20, what="the backlog draining")
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed_at.append(self.state_seq())
        p = self.meterd("--backlog-rate", "20", "--backlog-batch", "5", interval="0.1")
        last = self.state_seq()
        self.assertGreaterEqual(last, killed_at[-1])
        wait_until(lambda: all(s in rec.counts() for s in range(1, last + 1)), 40,
                   what=f"every seq up to {last}")
        self.assert_contiguous(rec.counts(), last)
        self.stop_meterd(p)

    def test_4_live_readings_flow_while_a_large_backlog_drains_at_its_rate(self):
        n, rate, batch = 3000, 400, 50
        subprocess.run([SPOOL_FILL, spool_dir(self.state_dir, self.device), str(n)], check=True,
                       timeout=60, capture_output=True)
        rec = self.recorder()
        self.acker(rec)
        p = self.meterd("--backlog-rate", str(rate), "--backlog-batch", str(batch))
        wait_until(lambda: all(s in rec.counts() for s in range(1, n + 1)), 40,
                   what=f"the {n} spooled readings")
        msgs = rec.snapshot()
        arrays = [(t, d) for t, d in msgs if isinstance(d, list) and d[0]["seq"] <= n]
        live = [(t, d) for t, d in msgs if isinstance(d, dict)]
        t0, t1 = arrays[0][0], arrays[-1][0]
        self.assertTrue(all(len(d) <= batch for _, d in arrays))
        self.assertTrue(all(d["seq"] > n for _, d in live), "live seqs continue above the spool")
        # Live readings were not starved: they kept arriving during the drain.
        during = [d["seq"] for t, d in live if t0 < t < t1]
        self.assertGreaterEqual(len(during), 5, f"live during the drain: {during}")
        # The rate: n readings need at least (n - one batch) / rate seconds; and no second
        # carries much more than rate readings.
        min_s = (n - batch) / rate
        self.assertGreaterEqual(t1 - t0, 0.9 * min_s, "the backlog went faster than its rate")
        per_window = max(sum(len(d) for t, d in arrays if ts <= t < ts + 1.0)
                         for ts, _ in arrays)
        self.assertLessEqual(per_window, 1.5 * rate + batch)  # arrival jitter allowed
        # Every reading acked: the spool is empty at the stop (the counters' log line).
        wait_until(lambda: rec.counts().get(n + 10), 10, what="live readings after the drain")
        time.sleep(1.0)  # the acker's last round
        self.stop_meterd(p)
        stop_line = [l for l in self.log().splitlines() if "spool at stop" in l][-1]
        self.assertIn("dropped_full 0", stop_line)
        depth = int(stop_line.split("depth ")[1].split(",")[0])
        self.assertLessEqual(depth, 10, stop_line)  # at most the last second's live readings


if __name__ == "__main__":
    if "--spool-fill" in sys.argv:
        i = sys.argv.index("--spool-fill")
        SPOOL_FILL = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    main()
