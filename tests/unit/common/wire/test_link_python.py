#!/usr/bin/python3
"""The terminal link's C side against an implementation written from the document alone.

usage: test_link_python.py LINK_VECTORS docs/terminal-protocol.md

1. The worked example and a session of every frame type, as link_vectors prints them, are
   recomputed byte for byte from the document's construction (tests/lib/link_client.py).
2. The hex blocks of docs/terminal-protocol.md are those same bytes.
3. The Python client talks to the C server over pipes (readings acked, heartbeats answered, a
   capture upload reassembled), and is refused with the right reason for a replay, a wrong CRC,
   a wrong MAC, a wrong secret and an unknown device.
4. The C client talks to the Python server until its readings are acknowledged.
"""
import os
import re
import select
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../lib"))
import link_client as L  # noqa: E402

SECRET = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
DEVICE = "m-1"
NC = bytes(range(0x00, 0x10))
NS = bytes(range(0x10, 0x20))
TIME_MS = 1796630400000
TELEMETRY = b'{"seq":1,"ts":"2026-12-07T08:00:00.000Z","voltage":230.1,"current":4.2}'

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def vectors(tool):
    out = subprocess.run([tool, "example"], check=True, capture_output=True, text=True).stdout
    named, session = {}, []
    for line in out.splitlines():
        name, hexa = line.split()
        if name in ("c2s", "s2c"):
            session.append((name, bytes.fromhex(hexa)))
        else:
            named[name] = bytes.fromhex(hexa)
    return named, session


def expected_example():
    """The example's bytes, from the document's construction."""
    h = L.secret_hash(SECRET)
    kl = L.link_key(h)
    c2s, s2c = L.session_keys(kl, NC, NS)
    extra = struct.pack(">qHH", TIME_MS, 30, 90)
    return {
        "link_key": kl,
        "key_c2s": c2s,
        "key_s2c": s2c,
        "hello": L.encode_frame(L.HELLO, 0, NC + bytes([len(DEVICE)]) + DEVICE.encode()),
        "challenge": L.encode_frame(L.CHALLENGE, 0, NS),
        "response": L.encode_frame(L.RESPONSE, 0, L.proof(kl, "client", NC, NS)),
        "welcome": L.encode_frame(L.WELCOME, 0, L.proof(kl, "server", NC, NS, extra) + extra),
        "telemetry": L.encode_frame(L.TELEMETRY, 1, TELEMETRY, c2s),
        "ack": L.encode_frame(L.ACK, 1, L.ack_payload([(1, 1)]), s2c),
    }


def check_example(named):
    want = expected_example()
    for name, data in want.items():
        check(named.get(name) == data, "example %s: C %s, document %s"
              % (name, named.get(name, b"").hex(), data.hex()))
    return want


def check_session(named, session):
    """Python sessions of both sides replay the handshake, then read every C session frame."""
    h = L.secret_hash(SECRET)
    cl = L.Session("client", device_id=DEVICE, h=h, nonce=NC)
    sv = L.Session("server", nonce=NS, keys={DEVICE: h}, time_ms=TIME_MS)
    cl.hello()
    hello = cl.out()
    check(hello == named["hello"], "python hello")
    sv.feed(hello)
    ch = sv.out()
    cl.feed(ch)
    resp = cl.out()
    check(resp == named["response"], "python response")
    check(sv.feed(resp) == [("open",)], "python server opens")
    welcome = sv.out()
    check(welcome == named["welcome"], "python welcome")
    check(cl.feed(welcome) == [("open",)], "python client opens")
    check(cl.time_ms == TIME_MS and cl.heartbeat_s == 30 and cl.idle_s == 90, "welcome values")
    check(sv.feed(named["telemetry"]) == [("frame", L.TELEMETRY, 1, TELEMETRY)], "telemetry read")
    ev = cl.feed(named["ack"])
    check(ev and L.parse_ack(ev[0][3]) == ([(1, 1)], []), "ack read")

    chunks, kinds = [], []
    for direction, frame in session:
        reader, key = (sv, sv.rx) if direction == "c2s" else (cl, cl.rx)
        ev = reader.feed(frame)
        check(len(ev) == 1, "one event for %s" % frame.hex()[:40])
        if not ev:
            continue
        kinds.append((direction, ev[0][0] if ev[0][0] == "close" else L.TYPES[ev[0][1]]))
        if ev[0][0] == "frame":
            _, ftype, counter, payload = ev[0]
            again = L.encode_frame(ftype, counter, payload, key)
            check(again == frame, "re-encoded %s frame is the same bytes" % L.TYPES[ftype])
            if ftype == L.CAPTURE:
                chunks.append(L.parse_chunk(payload))
            if ftype == L.ACK:
                check(L.parse_ack(payload) == ([(2, 9), (12, 12)], [(4, 5)]), "ack ranges")
            if ftype == L.HEARTBEAT:
                check(struct.unpack(">q", payload)[0] in (TIME_MS + 1000, TIME_MS + 1001),
                      "heartbeat clock")
        else:
            check(ev[0][1:] == ("shutdown", "meterd stopping"), "close reason and text")
    data = b"".join(c[3] for c in chunks)
    check(len(chunks) == 2 and chunks[0][1] == 2 and len(data) == L.CHUNK_DATA_MAX + 100
          and data == bytes((ord("a") + k % 26) for k in range(len(data))), "capture chunks")
    check(kinds == [("c2s", "heartbeat"), ("s2c", "heartbeat"), ("s2c", "command"),
                    ("c2s", "reply"), ("c2s", "capture"), ("c2s", "capture"), ("s2c", "ack"),
                    ("c2s", "close")], "frame kinds %s" % kinds)


def check_document(doc, want):
    """Each block after <!-- vector: NAME --> holds NAME's bytes (first column of each line)."""
    text = open(doc, encoding="utf-8").read()
    found = set()
    for name, block in re.findall(r"<!-- vector: (\w+) -->\s*```[^\n]*\n(.*?)```", text, re.S):
        hexa = "".join(line.split()[0] for line in block.splitlines()
                       if line.strip() and re.fullmatch(r"[0-9a-f]+", line.split()[0]))
        check(bytes.fromhex(hexa) == want[name], "document's %s: %s" % (name, hexa))
        found.add(name)
    for name in ("link_key", "hello", "challenge", "response", "welcome", "telemetry", "ack"):
        check(name in found, "document shows %s" % name)


class Pipe:
    """A C peer (link_vectors server|client) on pipes."""

    def __init__(self, tool, mode):
        self.p = subprocess.Popen([tool, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def write(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read(self, timeout=5.0):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise TimeoutError("the C peer said nothing")
        return os.read(self.p.stdout.fileno(), 65536)

    def events(self, session, want):
        """Reads until want events (or a close) arrived."""
        got = []
        while len(got) < want and not (got and got[-1][0] == "close"):
            data = self.read()
            if not data:
                break
            got += session.feed(data)
            out = session.out()
            if out:
                self.write(out)
        return got

    def finish(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        return self.p.wait(timeout=5)


def open_client(tool, secret=SECRET, device=DEVICE):
    pipe = Pipe(tool, "server")
    s = L.Session("client", device_id=device, h=L.secret_hash(secret))
    s.hello()
    pipe.write(s.out())
    return pipe, s, pipe.events(s, 2)


def check_c_server(tool):
    pipe, s, ev = open_client(tool)
    check(ev == [("challenge",), ("open",)], "handshake with the C server: %s" % ev)
    for seq in (1, 2, 3):
        s.send(L.TELEMETRY, b'{"seq":%d,"ts":1796630400000,"voltage":230,"current":1}' % seq)
    s.send(L.HEARTBEAT, struct.pack(">q", 5))
    pipe.write(s.out())
    ev = pipe.events(s, 4)
    acks = [L.parse_ack(e[3]) for e in ev if e[0] == "frame" and e[1] == L.ACK]
    check(acks == [([(1, 1)], []), ([(2, 2)], []), ([(3, 3)], [])], "acks %s" % acks)
    check(any(e[0] == "frame" and e[1] == L.HEARTBEAT for e in ev), "heartbeat answered")
    blob = os.urandom(3 * L.CHUNK_DATA_MAX + 5)
    for p in L.chunk_payloads(blob):
        s.send(L.CAPTURE, p)
    pipe.write(s.out())
    ev = pipe.events(s, 1)
    want = b'{"id":"upload","cmd":"capture","got":%d,"crc":%d}' % (len(blob), L.crc32(blob))
    check(ev == [("frame", L.COMMAND, 5, want)], "upload reassembled: %s" % ev)
    s.send_close("normal", "bye")
    pipe.write(s.out())
    check(pipe.finish() == 0, "C server exits")

    # A replayed frame, a wrong CRC, a wrong MAC: each closes with its reason.
    for name, mangle in (("replayed", lambda f: f + f),
                         ("bad_crc", lambda f: f[:-1] + bytes([f[-1] ^ 1])),
                         ("bad_mac", lambda f: (lambda g: g[:-4] + struct.pack(
                             ">I", L.crc32(g[:-4])))(f[:-5] + bytes([f[-5] ^ 1]) + f[-4:])),
                         ("counter_gap", lambda f: L.encode_frame(L.TELEMETRY, 2, b"{}", s.tx)),
                         ("out_of_order", lambda f: L.encode_frame(L.ACK, 1,
                                                                   L.ack_payload([(1, 1)]), s.tx))):
        pipe, s, ev = open_client(tool)
        s.send(L.TELEMETRY, b'{"seq":1}')
        frame = s.out()
        pipe.write(mangle(frame))
        ev = pipe.events(s, 2)
        check(ev and ev[-1][0] == "close" and ev[-1][1] == name, "%s refused: %s" % (name, ev))
        pipe.finish()

    for what, secret, device in (("wrong secret", "not the secret", DEVICE),
                                 ("unknown device", SECRET, "ghost")):
        pipe, s, ev = open_client(tool, secret, device)
        check(ev == [("challenge",), ("close", "auth_failed", "auth_failed")],
              "%s refused: %s" % (what, ev))
        pipe.finish()


def check_c_client(tool):
    pipe = Pipe(tool, "client")
    s = L.Session("server", keys={DEVICE: L.secret_hash(SECRET)}, time_ms=TIME_MS)
    readings, closed = [], None
    while closed is None:
        data = pipe.read()
        if not data:
            break
        for ev in s.feed(data):
            if ev[0] == "frame" and ev[1] == L.TELEMETRY:
                readings.append(ev[3])
                seq = int(re.search(rb'"seq":(\d+)', ev[3]).group(1))
                s.send(L.ACK, L.ack_payload([(1, seq)]))
            elif ev[0] == "close":
                closed = ev
        out = s.out()
        if out:
            pipe.write(out)
    check(len(readings) == 3, "C client sent 3 readings: %d" % len(readings))
    check(closed == ("close", "normal", "done"), "C client said goodbye: %s" % (closed,))
    check(pipe.finish() == 0, "C client exits 0")


def main():
    tool, doc = sys.argv[1], sys.argv[2]
    named, session = vectors(tool)
    want = check_example(named)
    check_session(named, session)
    check_document(doc, want)
    check_c_server(tool)
    check_c_client(tool)
    # The decoder refuses what the document says it refuses.
    d = L.Decoder()
    d.feed(b"\x00\x01")
    try:
        d.next()
        check(False, "python decoder takes a short length")
    except L.LinkError as e:
        check(e.name == "bad_length", "short length")
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
