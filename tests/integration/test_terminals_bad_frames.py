"""Bad frames at the terminal gateway: a corpus of malformed, truncated, oversized,
wrong-CRC, replayed, out-of-order and unauthenticated frames, each on a connection of its
own, must close that connection with the protocol's reason (counted in /api/stats), and a
bounded random mutation run of valid frames must be refused without harm, while a healthy
terminal on the same server keeps sending readings that are all acked and stored once.
"""
import json
import os
import random
import socket
import struct
import sys
import threading
import time

from harness import IntegrationTest, free_port, main, wait_until
from ingest_common import reading, stored_seqs
import link_client as lc
from test_terminals import collect_acks, gateway_args, read_close

MUTATIONS_MAX = int(os.environ.get("TERMINAL_MUTATIONS", "400"))
MUTATIONS_SECONDS = float(os.environ.get("TERMINAL_MUTATION_SECONDS", "20"))


def frame(ftype, counter, payload, key=None, version=lc.VERSION):
    """encode_frame() with any version (the client library always writes 1)."""
    body = lc.encode_frame(ftype, counter, payload, key)[:-4]
    body = body[:2] + bytes([version]) + body[3:]
    if key:
        body = body[:-lc.MAC_LEN] + lc.mac(key, body[:-lc.MAC_LEN])
    return body + struct.pack(">I", lc.crc32(body))


def recrc(data):
    return data[:-4] + struct.pack(">I", lc.crc32(data[:-4]))


def hello(device="tmb-1", nonce=None, counter=0, idlen=None):
    ident = device.encode()
    nonce = nonce or os.urandom(lc.NONCE_LEN)
    return lc.encode_frame(lc.HELLO, counter, nonce + bytes([len(ident) if idlen is None else idlen]) + ident)


class Handshake:
    """A raw socket through the handshake, its session kept to forge frames with."""

    def __init__(self, port, device, secret):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s = lc.Session("client", device_id=device, h=lc.secret_hash(secret))
        try:
            self._run()
        except BaseException:
            self.sock.close()
            raise

    def _run(self):
        self.s.hello()
        self.sent = [self.s.out()]
        self.sock.sendall(self.sent[0])
        while self.s.state != "open":
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("closed in the handshake")
            events = self.s.feed(data)
            if events and events[-1][0] == "close":
                raise lc.LinkError(events[-1][1])
            out = self.s.out()
            if out:
                self.sent.append(out)
                self.sock.sendall(out)

    def next_frame(self, ftype, payload):
        """The session's next frame of ftype (counted as sent)."""
        self.s.tx_counter += 1
        return lc.encode_frame(ftype, self.s.tx_counter, payload, self.s.tx)


class TerminalBadFrames(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = free_port()
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user"},
                                     {d: "alice" for d in ("tmb-1", "tmb-ok")}, login=("op",),
                                     extra_args=gateway_args(cls.port, batch_wait_ms=5))
        cls.tok = cls.srv.tokens
        cls.secret = cls.srv.secrets["tmb-1"]
        cls.healthy = Healthy(cls.port, cls.srv.secrets["tmb-ok"])
        cls.healthy.start()

    @classmethod
    def tearDownClass(cls):
        cls.healthy.stop.set()
        cls.healthy.join(timeout=30)
        super().tearDownClass()

    def stats(self):
        r = self.get("/api/stats", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()["terminals"]

    def refused(self, data, expected, after=None, shut=False):
        """Sends data on a fresh connection (or after a handshake: after(h) gives the bytes)
        and returns the reason the server closed with."""
        if after:
            h = Handshake(self.port, "tmb-1", self.secret)
            sock, data = h.sock, after(h)
        else:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            sock.sendall(data)
            if shut:
                sock.shutdown(socket.SHUT_WR)
            got = read_close(sock)
        finally:
            sock.close()
        self.assertEqual(got, expected, f"expected {expected}, the server answered {got}")
        return got

    def test_1_the_corpus_is_refused_with_counted_reasons(self):
        before = self.stats()
        ok_hello = hello()
        body = b'{"seq":1,"ts":1796630400000,"voltage":230,"current":1}'
        cases = [
            ("bad_length", struct.pack(">H", 3) + b"\x01\x01\x00", None),
            ("oversized", struct.pack(">H", 0xFFFF) + b"\x01", None),
            ("bad_crc", ok_hello[:-1] + bytes([ok_hello[-1] ^ 1]), None),
            ("bad_version", frame(lc.HELLO, 0, ok_hello[8:-4], version=2), None),
            ("unknown_type", lc.encode_frame(0x7F, 0, b"x"), None),
            ("out_of_order", lc.encode_frame(lc.RESPONSE, 0, bytes(32)), None),
            ("out_of_order", lc.encode_frame(lc.TELEMETRY, 0, body), None),  # unauthenticated
            ("bad_payload", hello(counter=5), None),
            ("bad_payload", hello(idlen=9), None),
            ("bad_payload", hello(device="a/b"), None),
            ("out_of_order", ok_hello + hello(), None),  # a second HELLO
            # in the session
            ("replayed", None, lambda h: (lambda f: f + f)(h.next_frame(lc.TELEMETRY, body))),
            ("counter_gap", None, lambda h: lc.encode_frame(lc.TELEMETRY, 3, body, h.s.tx)),
            ("bad_mac", None, lambda h: (lambda f: recrc(f[:-5] + bytes([f[-5] ^ 1]) + f[-4:]))(
                h.next_frame(lc.TELEMETRY, body))),
            ("bad_mac", None, lambda h: lc.encode_frame(lc.TELEMETRY, 1, body + bytes(16))),
            ("out_of_order", None, lambda h: h.next_frame(lc.HELLO, ok_hello[8:-4])),
            ("out_of_order", None, lambda h: h.next_frame(lc.ACK, lc.ack_payload([(1, 1)]))),
            ("bad_payload", None, lambda h: h.next_frame(lc.HEARTBEAT, bytes(7))),
            ("bad_payload", None, lambda h: h.next_frame(lc.CAPTURE, lc.chunk_payloads(bytes(5000))[1])),
            ("bad_length", None, lambda h: struct.pack(">H", 20) + bytes(20)),
            ("oversized", None, lambda h: struct.pack(">H", lc.FRAME_MAX - 1)),
            ("bad_crc", None, lambda h: (lambda f: f[:-1] + bytes([f[-1] ^ 0x80]))(
                h.next_frame(lc.TELEMETRY, body))),
        ]
        counts = {}
        for reason, data, after in cases:
            with self.subTest(reason=reason, data=data[:12].hex() if data else None):
                self.refused(data, reason, after=after)
                counts[reason] = counts.get(reason, 0) + 1
        after = self.stats()
        for reason, n in counts.items():
            self.assertEqual(after["closed"][reason] - before["closed"][reason], n, reason)
        self.assertEqual(self.srv.request("GET", "/api/health").status, 200)

    def test_2_unauthenticated_and_replayed_handshakes_fail(self):
        before = self.stats()["closed"]["auth_failed"]
        for device, secret in (("ghost", "0" * 64), ("tmb-1", "1" * 64)):
            with self.subTest(device=device):
                with self.assertRaises(lc.LinkError) as e:
                    Handshake(self.port, device, secret)
                self.assertIn("auth_failed", str(e.exception))
        # A recorded handshake replayed: the server's new nonce makes the old proof wrong.
        h = Handshake(self.port, "tmb-1", self.secret)
        h.sock.close()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(h.sent[0])
        sock.recv(4096)  # the CHALLENGE
        sock.sendall(h.sent[1])
        self.assertEqual(read_close(sock), "auth_failed")
        sock.close()
        self.assertEqual(self.stats()["closed"]["auth_failed"], before + 3)

    def test_3_a_truncated_frame_then_a_goodbye_is_a_disconnect(self):
        before = self.stats()["disconnected"]
        self.refused(hello()[:10], None, shut=True)
        wait_until(lambda: self.stats()["disconnected"] > before, 10, what="counted")

    def test_4_a_bounded_random_mutation_run_is_refused_without_harm(self):
        seed = int(os.environ.get("TERMINAL_MUTATION_SEED", str(int(time.time()))))
        rng = random.Random(seed)
        deadline = time.monotonic() + MUTATIONS_SECONDS
        body = json.dumps(reading(1)).encode()
        done = 0
        while done < MUTATIONS_MAX and time.monotonic() < deadline:
            in_session = rng.random() < 0.5
            if in_session:
                try:
                    h = Handshake(self.port, "tmb-1", self.secret)
                except (lc.LinkError, EOFError, OSError) as e:
                    self.fail(f"seed {seed}: a valid handshake failed: {e}")
                sock = h.sock
                valid = h.next_frame(rng.choice([lc.TELEMETRY, lc.HEARTBEAT, lc.REPLY, lc.CAPTURE]),
                                     rng.choice([body, bytes(8), lc.chunk_payloads(bytes(100))[0]]))
            else:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                valid = hello(rng.choice(["tmb-1", "ghost", "x" * 64]))
            data = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                if not data:
                    break
                op = rng.random()
                k = rng.randrange(len(data))
                if op < 0.5:
                    data[k] ^= 1 << rng.randrange(8)
                elif op < 0.65:
                    data = data[:max(k, 1)]
                elif op < 0.8:
                    data[k:k] = os.urandom(rng.randint(1, 8))
                elif op < 0.9:
                    data[0:2] = struct.pack(">H", rng.randrange(65536))
                else:
                    data = bytearray(bytes(data) * 2)
            if len(data) > 4 and rng.random() < 0.5:
                data = bytearray(recrc(bytes(data)))
            try:
                sock.sendall(bytes(data))
                # Refused at once, or waiting for bytes that never come: either way it ends.
                read_close(sock, timeout=0.3)
            except OSError:
                pass
            finally:
                sock.close()
            done += 1
        print(f"\n  {done} mutated connections, seed {seed}", file=sys.stderr)
        self.assertGreater(done, 20, f"seed {seed}: too few mutations ran")
        # Every one of those connections ended; only the healthy terminal is left.
        wait_until(lambda: self.stats()["connections"] == 1, 15,
                   what=f"the mutated connections closed (seed {seed})")
        self.assertEqual(self.srv.request("GET", "/api/health").status, 200)

    def test_5_the_healthy_terminal_kept_its_data_flowing(self):
        # Runs last: everything above happened while it sent.
        h = self.healthy
        wait_until(lambda: h.sent >= 50, 30, what="the healthy terminal's readings")
        h.stop.set()
        h.join(timeout=30)
        self.assertIsNone(h.error, h.error)
        self.assertEqual(h.acked, set(range(1, h.sent + 1)))
        self.assertEqual(sorted(stored_seqs(self.srv, self.tok["op"], "tmb-ok")),
                         list(range(1, h.sent + 1)))


class Healthy(threading.Thread):
    """A terminal sending a reading every 20 ms and reading its acks, on one link throughout."""

    def __init__(self, port, secret):
        super().__init__(daemon=True)
        self.port, self.secret = port, secret
        self.stop = threading.Event()
        self.sent = 0
        self.acked = set()
        self.error = None

    def run(self):
        try:
            t = lc.Terminal.connect("127.0.0.1", self.port, "tmb-ok", self.secret)
            while not self.stop.is_set():
                self.sent += 1
                t.send_telemetry(json.dumps(reading(self.sent)))
                t.sock.settimeout(0.02)
                try:
                    ev = t.recv_event()
                    if ev[0] == "close":
                        raise AssertionError(f"the healthy link was closed: {ev}")
                    if ev[0] == "frame" and ev[1] == lc.ACK:
                        for first, last in lc.parse_ack(ev[3])[0]:
                            self.acked.update(range(first, last + 1))
                except socket.timeout:
                    pass
            missing = set(range(1, self.sent + 1)) - self.acked
            if missing:
                acked, _ = collect_acks(t, missing, timeout=20)
                self.acked |= acked
            t.close()
        except Exception as e:  # noqa: BLE001 - reported by test_5
            self.error = f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    main()
