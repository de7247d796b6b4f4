"""The terminal gateway end to end: meter-server --terminal-listen against the independent
Python implementation of the link (tests/lib/link_client.py), on either backend.

Readings are stored once and acked only after commit, through reconnects and a kill -9 of
the server; a relay command queued through the API reaches the terminal (also one queued
while it was away) and its reply completes it; a capture uploaded in chunks completes a
capture; a second connection of a device replaces the first; an idle link and a silent
handshake are closed on time. The bad-frame corpus and a bounded mutation run live in
test_terminals_bad_frames.py.
"""
import base64
import json
import math
import socket
import struct
import subprocess
import time

from harness import METER_SERVER, IntegrationTest, free_port, main, wait_until
from ingest_common import reading, stored_seqs
import link_client as lc

IDLE_S = 3
HEARTBEAT_S = 1
DEVICES = ["tm-1", "tm-2", "tm-3", "tm-4", "tm-5", "tm-6", "tm-7", "tm-8"]
MAX_CAPTURE_BYTES = 65536  # the chunked capture below takes about 35 KB


def now_ms():
    return int(time.time() * 1000)


def gateway_args(port, batch_wait_ms=300):
    # A batch waits 300 ms to fill: a kill -9 right after a send lands before its commit.
    return ["--terminal-listen", f"127.0.0.1:{port}", "--terminal-heartbeat-s", str(HEARTBEAT_S),
            "--terminal-idle-s", str(IDLE_S), "--batch-wait-ms", str(batch_wait_ms),
            "--max-capture-bytes", str(MAX_CAPTURE_BYTES)]


def next_frame(t, ftypes, timeout, what="frame"):
    """The next session frame of one of ftypes; heartbeats meanwhile, so the link stays up.
    Raises on CLOSE, EOF, or when nothing fitting came in time."""
    deadline = time.monotonic() + timeout
    last_sent = time.monotonic()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {what} within {timeout} s")
        t.sock.settimeout(max(0.05, min(left, HEARTBEAT_S / 2)))
        try:
            ev = t.recv_event()
        except socket.timeout:
            ev = None
        if ev and ev[0] == "close":
            raise AssertionError(f"the server closed the link: {ev}")
        if ev and ev[0] == "frame" and ev[1] in ftypes:
            return ev
        if time.monotonic() - last_sent >= HEARTBEAT_S / 2:
            t.send_heartbeat(now_ms())
            last_sent = time.monotonic()


def collect_acks(t, want, timeout=20):
    """ACK frames until every seq of want is named; returns (acked, rejected) sets."""
    acked, rejected = set(), set()
    deadline = time.monotonic() + timeout
    while not want <= acked:
        ev = next_frame(t, {lc.ACK}, deadline - time.monotonic(), what=f"ack of {sorted(want - acked)}")
        a, r = lc.parse_ack(ev[3])
        for first, last in a:
            acked.update(range(first, last + 1))
        for first, last in r:
            rejected.update(range(first, last + 1))
    return acked, rejected


def read_close(sock, timeout=5.0):
    """Reads what the server sends until it closes; returns the reason of its CLOSE frame
    (a bare or an authenticated one: the reason byte is the payload's first either way),
    or None when it closed without one."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    reason = None
    while len(data) >= 2:
        n = struct.unpack(">H", data[:2])[0] + 2
        frame, data = data[:n], data[n:]
        if len(frame) == n and frame[3] == lc.CLOSE:
            reason = lc.REASONS[frame[8]] if frame[8] < len(lc.REASONS) else frame[8]
    return reason


def sine_capture(request_id, rate_hz=6400, samples=3200, vrms=230.0, irms=5.0):
    def channel(amplitude, phase):
        vals = [amplitude * math.sin(2 * math.pi * 50 * k / rate_hz - phase) for k in range(samples)]
        return base64.b64encode(struct.pack("<%df" % samples, *vals)).decode()
    start = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps({"id": request_id, "rate_hz": rate_hz, "start": start, "samples": samples,
                       "channels": ["v", "i"], "units": ["V", "A"], "encoding": "f32le-base64",
                       "nominal_hz": 50, "v": channel(vrms * math.sqrt(2), 0),
                       "i": channel(irms * math.sqrt(2), 0)}).encode()


class Terminals(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = free_port()
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user"},
                                     {d: "alice" for d in DEVICES}, login=("op",),
                                     extra_args=gateway_args(cls.port))
        cls.tok = cls.srv.tokens

    @classmethod
    def connect(cls, device, secret=None):
        return lc.Terminal.connect("127.0.0.1", cls.port, device, secret or cls.srv.secrets[device])

    def device(self, dev):
        r = self.get(f"/api/devices/{dev}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def stats(self):
        r = self.get("/api/stats", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()["terminals"]

    def stored(self, dev):
        return stored_seqs(self.srv, self.tok["op"], dev)

    def command(self, dev, cid):
        r = self.get(f"/api/devices/{dev}/commands/{cid}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_1_readings_are_acked_after_commit_and_stored_once_across_reconnects(self):
        t = self.connect("tm-1")
        wait_until(lambda: self.device("tm-1")["status"] == "online", 10, what="tm-1 online")
        t.send_telemetry(json.dumps([reading(s) for s in (1, 2, 3)]))
        t.send_telemetry(json.dumps(reading(4)))
        t.send_telemetry(json.dumps(reading(5, device_id="tm-1")))
        t.send_telemetry(json.dumps({"seq": 6, "ts": now_ms(), "voltage": "high", "current": 1}))
        acked, rejected = collect_acks(t, set(range(1, 7)))
        # Acked after commit: whatever an ACK names as stored is queryable once it is in.
        self.assertEqual(sorted(self.stored("tm-1")), [1, 2, 3, 4, 5])
        self.assertEqual(acked, set(range(1, 7)))
        self.assertEqual(rejected, {6})
        # The connection drops without a goodbye; the terminal resends what it had
        # outstanding (and more): the copies are acked again, stored once.
        t.sock.close()
        wait_until(lambda: self.device("tm-1")["status"] == "offline", 10, what="tm-1 offline")
        t = self.connect("tm-1")
        t.send_telemetry(json.dumps([reading(s) for s in (3, 4, 5, 7, 8)]))
        acked, _ = collect_acks(t, {3, 4, 5, 7, 8})
        self.assertLessEqual({3, 4, 5, 7, 8}, acked)
        self.assertEqual(sorted(self.stored("tm-1")), [1, 2, 3, 4, 5, 7, 8])
        t.close()
        s = self.stats()
        self.assertGreaterEqual(s["peer_closed"]["normal"], 1)
        self.assertGreaterEqual(s["disconnected"], 1)
        self.assertGreaterEqual(s["acks_sent"], 2)

    def test_2_a_kill_9_between_send_and_ack_loses_and_doubles_nothing(self):
        t = self.connect("tm-2")
        t.send_telemetry(json.dumps([reading(s) for s in (1, 2)]))
        collect_acks(t, {1, 2})
        t.send_telemetry(json.dumps([reading(s) for s in (3, 4)]))
        time.sleep(0.05)  # in the writer's queue, inside its 300 ms batch wait
        self.srv.kill()
        with self.assertRaises((EOFError, ConnectionResetError, lc.LinkError, AssertionError)):
            collect_acks(t, {3, 4}, timeout=5)
        t.sock.close()
        self.srv.start()
        t = self.connect("tm-2")
        t.send_telemetry(json.dumps([reading(s) for s in (3, 4, 5)]))
        collect_acks(t, {3, 4, 5})
        self.assertEqual(sorted(self.stored("tm-2")), [1, 2, 3, 4, 5])
        # A reading acked before the crash, sent again, is still stored once.
        t.send_telemetry(json.dumps(reading(2)))
        collect_acks(t, {2})
        self.assertEqual(sorted(self.stored("tm-2")), [1, 2, 3, 4, 5])
        t.close()

    def test_3_a_relay_command_reaches_the_terminal_and_its_reply_completes_it(self):
        t = self.connect("tm-3")
        wait_until(lambda: self.device("tm-3")["status"] == "online", 10, what="tm-3 online")
        r = self.call("POST", "/api/devices/tm-3/relay", {"state": "off", "reason": "test"},
                      who="op")
        self.assertEqual(r.status, 202, r)
        cid = r.json()["command_id"]
        ev = next_frame(t, {lc.COMMAND}, 15, what="the relay command")
        cmd = json.loads(ev[3])
        self.assertEqual((cmd["id"], cmd["cmd"], cmd["state"]), (cid, "relay", "off"))
        self.assertNotIn("sig", cmd)  # the frame's MAC authenticates it
        wait_until(lambda: self.command("tm-3", cid)["state"] == "sent", 10, what="sent")
        t.send(lc.REPLY, json.dumps({"id": cid, "cmd": "relay", "status": "ok",
                                     "ts": now_ms()}).encode())
        wait_until(lambda: self.command("tm-3", cid)["state"] in ("acknowledged", "done"), 10,
                   what="acknowledged")
        # A reading that shows the relay off completes it.
        t.send_telemetry(json.dumps(reading(1, relay="off", current=0.0)))
        collect_acks(t, {1})
        wait_until(lambda: self.command("tm-3", cid)["state"] == "done", 15, interval=0.3,
                   what="done")
        t.close()
        self.assertGreaterEqual(self.stats()["commands_sent"], 1)

    def test_4_a_command_queued_while_the_terminal_is_away_comes_when_it_returns(self):
        self.assertNotEqual(self.device("tm-4")["status"], "online")
        r = self.call("POST", "/api/devices/tm-4/relay", {"state": "off", "reason": "away"},
                      who="op")
        self.assertEqual(r.status, 202, r)
        cid = r.json()["command_id"]
        time.sleep(1.0)
        self.assertEqual(self.command("tm-4", cid)["state"], "queued")
        t = self.connect("tm-4")
        ev = next_frame(t, {lc.COMMAND}, 15, what="the queued command")
        self.assertEqual(json.loads(ev[3])["id"], cid)
        t.send(lc.REPLY, json.dumps({"id": cid, "cmd": "relay", "status": "error",
                                     "message": "relay stuck", "ts": now_ms()}).encode())
        c = wait_until(lambda: (lambda c: c if c["state"] == "failed" else None)(
            self.command("tm-4", cid)), 10, what="failed")
        self.assertIn("relay stuck", c.get("message") or json.dumps(c))
        t.close()

    def test_5_a_capture_uploaded_in_chunks_completes_the_capture(self):
        t = self.connect("tm-5")
        wait_until(lambda: self.device("tm-5")["status"] == "online", 10, what="tm-5 online")
        r = self.call("POST", "/api/devices/tm-5/captures", {"duration_ms": 500}, who="op")
        self.assertEqual(r.status, 202, r)
        body = r.json()
        ev = next_frame(t, {lc.COMMAND}, 15, what="the capture command")
        cmd = json.loads(ev[3])
        self.assertEqual((cmd["id"], cmd["cmd"]), (body["request_id"], "capture"))
        payload = sine_capture(cmd["id"])
        chunks = lc.chunk_payloads(payload)
        self.assertGreater(len(chunks), 3)
        # Chunks with other frames between them, as the protocol allows.
        for k, p in enumerate(chunks):
            t.send(lc.CAPTURE, p)
            if k == 1:
                t.send_telemetry(json.dumps(reading(1)))
        t.send(lc.REPLY, json.dumps({"id": cmd["id"], "cmd": "capture", "status": "ok",
                                     "ts": now_ms()}).encode())
        collect_acks(t, {1})

        def complete():
            c = self.get(f"/api/devices/tm-5/captures/{body['capture_id']}", "op").json()
            return c if c["state"] != "pending" else None
        cap = wait_until(complete, 20, interval=0.2, what="capture complete")
        self.assertEqual(cap["state"], "complete", cap)
        self.assertEqual(cap["samples"], 3200)
        self.assertAlmostEqual(cap["analysis"]["vrms"], 230.0, delta=0.5)
        self.assertAlmostEqual(cap["analysis"]["irms"], 5.0, delta=0.05)
        self.assertGreaterEqual(self.stats()["captures"], 1)
        t.close()

    def test_6_a_second_connection_of_a_device_replaces_the_first(self):
        first = self.connect("tm-6")
        before = self.stats()["closed"]["replaced"]
        second = self.connect("tm-6")
        self.assertEqual(read_close(first.sock), "replaced")
        first.sock.close()
        second.send_telemetry(json.dumps(reading(1)))
        collect_acks(second, {1})
        self.assertEqual(self.device("tm-6")["status"], "online")
        self.assertEqual(self.stats()["closed"]["replaced"], before + 1)
        second.close()

    def test_7_an_idle_link_and_a_silent_handshake_are_closed_on_time(self):
        before = self.stats()["closed"]
        silent = socket.create_connection(("127.0.0.1", self.port))
        started = time.monotonic()
        t = self.connect("tm-7")
        self.assertEqual(read_close(t.sock, timeout=IDLE_S + 5), "idle_timeout")
        idle = time.monotonic() - started
        self.assertGreaterEqual(idle, IDLE_S - 0.5)
        self.assertLess(idle, IDLE_S + 3)
        wait_until(lambda: self.device("tm-7")["status"] == "offline", 10, what="tm-7 offline")
        # The handshake's 10 s run from accept.
        self.assertEqual(read_close(silent, timeout=15), "handshake_timeout")
        self.assertGreaterEqual(time.monotonic() - started, 9.5)
        after = self.stats()["closed"]
        self.assertEqual(after["idle_timeout"], before["idle_timeout"] + 1)
        self.assertEqual(after["handshake_timeout"], before["handshake_timeout"] + 1)
        t.sock.close()
        silent.close()

    def test_8_a_capture_over_max_capture_bytes_is_read_and_dropped(self):
        t = self.connect("tm-8")
        before = self.get("/api/stats", "op").json()["mqtt"]["too_large"]
        captures = self.stats()["captures"]
        t.send_capture(bytes(MAX_CAPTURE_BYTES + 1))
        # The link stays up and its readings flow.
        t.send_telemetry(json.dumps(reading(1)))
        collect_acks(t, {1})
        self.assertEqual(self.get("/api/stats", "op").json()["mqtt"]["too_large"], before + 1)
        self.assertEqual(self.stats()["captures"], captures)  # not reassembled
        t.close()

    def test_9_bad_gateway_options_are_one_line_and_exit_2(self):
        base = [METER_SERVER, "--db", self.srv.db, "--jwt-secret-file", self.srv.secret_file,
                "--listen", f"127.0.0.1:{free_port()}", "--mqtt", self.srv.mqtt]
        for extra, words in ((["--terminal-listen", "nowhere"], "terminal_listen"),
                             (["--terminal-listen", "127.0.0.1:http"], "terminal_listen"),
                             (["--terminal-listen", "127.0.0.1:0", "--terminal-heartbeat-s", "30",
                               "--terminal-idle-s", "30"], "terminal_idle_s")):
            with self.subTest(extra=extra):
                r = subprocess.run(base + extra, capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(words, lines[0])


if __name__ == "__main__":
    main()
