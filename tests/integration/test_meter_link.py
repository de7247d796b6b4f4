"""meterd --link end to end: the real meter against a terminal server written apart (the server
side of tests/lib/link_client.py, from docs/terminal-protocol.md alone), with no broker.

The server authenticates the meter with its secret, stores and acks readings, sends a relay
command and a capture command, cuts the connection mid-stream, goes away and comes back (a
server restart) and sees the meter itself restart. Then: every reading arrived (no seq missing),
none that was acked came back on a later connection, the acks drained the spool, the relay
switched once and said so, the capture came in chunks and reassembled into the capture JSON.
"""
import json
import os
import re
import secrets
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import link_client as lc  # noqa: E402

DEV = "link-1"
INTERVAL = "0.25"


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"


class Store:
    """What the server stored, and what it acked on which connection."""

    def __init__(self):
        self.seqs = {}      # seq -> the reading
        self.copies = 0     # readings received again (resends)
        self.acked_at = {}  # seq -> (connection number, time of the ack)
        self.replies = []
        self.captures = []  # (payload bytes, number of chunks)
        self.upload = None
        self.late = []      # acked seqs that came back on a later connection


class MeterLinkTest(harness.IntegrationTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.secret = secrets.token_hex(32)
        cls.keys = {DEV: lc.secret_hash(cls.secret)}
        cls.server = lc.TerminalServer(cls.keys, heartbeat_s=1, idle_s=4)
        cls.port = cls.server.port
        cls.meter = harness.Meter(cls.workdir, DEV, "unused", interval=INTERVAL,
                                  secret=cls.secret)
        cls.meter.args = [harness.METERD, "--device-id", DEV, "--link",
                          f"tcp://127.0.0.1:{cls.port}", "--adc", "sim", "--interval", INTERVAL,
                          "--state-dir", cls.meter.state_dir, "--ack-timeout", "60"]
        # A long ack timeout: readings not acked before a cut come again because the new
        # session restarts the backlog, not because a timer ran out.
        cls._procs.append(cls.meter)
        cls.store = Store()
        cls.conn_no = 0

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        super().tearDownClass()

    # --- the server's side ---

    def take(self, conn, ev, ack=True):
        """Handles one event from the meter."""
        st = self.store
        if ev[0] != "frame":
            return
        _, ftype, _, payload = ev
        if ftype == lc.TELEMETRY:
            doc = json.loads(payload)
            readings = doc if isinstance(doc, list) else [doc]
            seqs = []
            for r in readings:
                seq = r["seq"]
                seqs.append(seq)
                if seq in st.seqs:
                    st.copies += 1
                    done = st.acked_at.get(seq)
                    # An ack sent on an earlier connection well before it ended had arrived:
                    # the meter must not send that reading again.
                    if done and done[0] < self.conn_no and done[2] - done[1] > 1.0:
                        st.late.append(seq)
                else:
                    st.seqs[seq] = r
            if ack:
                ranges = []
                for s in sorted(set(seqs)):
                    if ranges and ranges[-1][1] == s - 1:
                        ranges[-1][1] = s
                    else:
                        ranges.append([s, s])
                conn.send_ack([tuple(x) for x in ranges])
                now = time.monotonic()
                for s in seqs:
                    st.acked_at[s] = [self.conn_no, now, float("inf")]
        elif ftype == lc.REPLY:
            st.replies.append(json.loads(payload))
        elif ftype == lc.CAPTURE:
            index, count, total, data = lc.parse_chunk(payload)
            if index == 0:
                st.upload = [b"", 0]
            self.assertIsNotNone(st.upload, "a capture chunk before its first")
            st.upload[0] += data
            st.upload[1] += 1
            if index == count - 1:
                self.assertEqual(len(st.upload[0]), total)
                st.captures.append((st.upload[0], st.upload[1]))
                st.upload = None

    def pump(self, conn, seconds, ack=True, until=None):
        """Serves conn for some seconds (or until until() holds); False when the meter left."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if until and until():
                return True
            try:
                ev = conn.recv_event(timeout=0.2)
            except (EOFError, ConnectionError):
                return False
            if ev is None:
                continue
            if ev[0] == "close":
                self.closes.append(ev[1])
                return False
            self.take(conn, ev, ack)
        return True

    def connection_ended(self):
        """Acks of the connection that just ended: when it ended."""
        now = time.monotonic()
        for v in self.store.acked_at.values():
            if v[0] == self.conn_no and v[2] == float("inf"):
                v[2] = now

    def accept(self):
        conn = self.server.accept(timeout=30)
        self.assertEqual(conn.device_id, DEV)
        type(self).conn_no += 1
        return conn

    # --- the test ---

    def test_the_link_end_to_end(self):
        self.closes = []
        st = self.store
        self.meter.start()
        conn = self.accept()

        # Readings flow and are acked.
        self.assertTrue(self.pump(conn, 10, until=lambda: len(st.seqs) >= 6))
        self.assertGreaterEqual(len(st.seqs), 6, "readings over the link")
        first = min(st.seqs)
        self.assertEqual(st.seqs[first]["relay"], "on")

        # A relay command, and the same command again (a resend after a reconnect): the relay
        # switches once, both are answered.
        cmd = {"id": "relay-1", "cmd": "relay", "state": "off", "ts": iso_now()}
        conn.send_command(json.dumps(cmd))
        conn.send_command(json.dumps(cmd))
        self.assertTrue(self.pump(conn, 10, until=lambda: len(st.replies) >= 2))
        self.assertEqual([(r["id"], r["status"]) for r in st.replies],
                         [("relay-1", "ok"), ("relay-1", "ok")], st.replies)
        n = len(st.seqs)
        self.assertTrue(self.pump(conn, 10, until=lambda: len(st.seqs) >= n + 3))
        self.assertEqual(st.seqs[max(st.seqs)]["relay"], "off", "readings show the relay off")

        # A capture: in chunks, reassembled into the capture JSON; its copy runs no second time.
        cap = {"id": "cap-1", "cmd": "capture", "duration_ms": 1000, "ts": iso_now()}
        conn.send_command(json.dumps(cap))
        conn.send_command(json.dumps(cap))
        self.assertTrue(self.pump(conn, 15, until=lambda: len(st.replies) >= 3))
        self.assertEqual(len(st.captures), 1)
        payload, chunks = st.captures[0]
        self.assertGreater(chunks, 1, "a 1 s capture takes several chunks")
        doc = json.loads(payload)
        self.assertEqual(doc["id"], "cap-1")
        self.assertEqual(doc["samples"], int(doc["rate_hz"]))
        self.assertEqual((st.replies[2]["id"], st.replies[2]["status"]), ("cap-1", "ok"))
        self.pump(conn, 1.5)
        self.assertEqual(len(st.replies), 3, "the repeated capture command was run again")
        self.assertEqual(len(st.captures), 1)

        # The meter's memory with the link, a capture's chunks included (aim: under 8 MB).
        with open(f"/proc/{self.meter.proc.pid}/maps") as f:
            sanitized = "libasan" in f.read()
        with open(f"/proc/{self.meter.proc.pid}/status") as f:
            mem = dict(line.split(":", 1) for line in f)
        rss, hwm = (int(mem[k].split()[0]) for k in ("VmRSS", "VmHWM"))
        print(f"meterd --link: VmRSS {rss / 1024:.2f} MB, VmHWM {hwm / 1024:.2f} MB (peak, with "
              f"a 1 s capture sent in chunks)", file=sys.stderr)
        if not sanitized:  # the sanitizer's shadow memory counts in RSS
            self.assertLess(hwm, 8 * 1024)

        # Mid-stream, the server stops acking, then the connection is cut without a word. The
        # meter's heartbeats probe the silence; the server answers them.
        self.assertTrue(self.pump(conn, 2.5, ack=False))
        unacked = [s for s in st.seqs if s not in st.acked_at]
        self.assertTrue(unacked, "readings sent and not acked before the cut")
        self.assertGreater(conn.heartbeats, 0, "the meter probes a server that says nothing")
        conn.drop()
        self.connection_ended()

        # It comes back by itself and resends what was not acked.
        conn = self.accept()
        self.assertTrue(self.pump(conn, 15, until=lambda: all(s in st.acked_at for s in unacked)))
        self.assertTrue(all(s in st.acked_at for s in unacked), "unacked readings resent")

        # The server goes away (a restart): nothing listens for a while.
        conn.drop()
        self.connection_ended()
        self.server.close()
        time.sleep(3)
        type(self).server = lc.TerminalServer(self.keys, port=self.port, heartbeat_s=1, idle_s=4)
        conn = self.accept()
        self.assertTrue(self.pump(conn, 4))

        # The meter restarts: it says goodbye (CLOSE shutdown), then comes back with its spool.
        self.meter.proc.send_signal(signal.SIGTERM)
        self.assertFalse(self.pump(conn, 20), "the meter closed the link")
        self.assertEqual(self.meter.proc.wait(timeout=20), 0)
        self.assertEqual(self.closes[-1], "shutdown")
        conn.close()
        self.connection_ended()
        self.meter.start(note="restart")
        conn = self.accept()
        top = max(st.seqs)
        self.assertTrue(self.pump(conn, 10, until=lambda: max(st.seqs) >= top + 4))

        # Stop for good with everything acked: the spool is empty.
        self.pump(conn, 1.5)
        self.meter.proc.send_signal(signal.SIGTERM)
        self.pump(conn, 20)
        self.assertEqual(self.meter.stop(), 0)
        conn.close()

        seqs = sorted(st.seqs)
        self.assertEqual(seqs, list(range(seqs[0], seqs[-1] + 1)), "no reading missing")
        self.assertEqual(seqs[0], 1)
        self.assertEqual(st.late, [], "readings acked before a reconnect sent again")
        log = self.meter.log(tail=200000)
        self.assertEqual(log.count("relay off (command relay-1)"), 1, log[-3000:])
        # The acks drained the spool: at each stop, what it still holds is only what was in
        # flight as the meter stopped (its ack came too late; the next start resends it).
        stops = [line for line in log.splitlines() if "spool at stop" in line]
        self.assertEqual(len(stops), 2, log[-3000:])
        for line in stops:
            depth = int(re.search(r"depth (\d+),", line).group(1))
            inflight = int(re.search(r"inflight (\d+),", line).group(1))
            self.assertLessEqual(depth, 2, line)
            self.assertEqual(depth, inflight, line)
        self.assertIn("link to 127.0.0.1", log)
        print(f"readings {len(seqs)}, copies resent {st.copies}, connections {self.conn_no}, "
              f"capture {len(payload)} bytes in {chunks} chunks", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
