"""The terminal link (docs/terminal-protocol.md), written again from the document alone.

Standard library only (hashlib's BLAKE2b, zlib's CRC-32), so it checks the C implementation
(common/wire/link.c) rather than repeating it. It holds:

- the derivations (`link_key`, `proof`, `session_keys`, `mac`) and the frame codec
  (`encode_frame`, `Decoder`);
- `Session`: one side of a connection, client or server, over bytes (`feed` in, `out` bytes to
  send), with the handshake and the per-direction counters;
- `Terminal`: a client over a TCP socket, for tests that drive a gateway
  (`Terminal.connect(host, port, device_id, secret)`, then `send_telemetry`, `recv`, ...).
"""

import hashlib
import os
import socket
import struct
import zlib

VERSION = 1
HEADER_LEN = 8
MAC_LEN = 16
CRC_LEN = 4
NONCE_LEN = 16
PROOF_LEN = 32
PAYLOAD_MAX = 4096
FRAME_MAX = HEADER_LEN + PAYLOAD_MAX + MAC_LEN + CRC_LEN
FRAME_MIN = HEADER_LEN + CRC_LEN
ACK_RANGES_MAX = 64
CHUNK_HEAD_LEN = 8
CHUNK_DATA_MAX = PAYLOAD_MAX - CHUNK_HEAD_LEN
CHUNKS_MAX = 16384
SEQ_MAX = 2**63 - 1

HELLO, CHALLENGE, RESPONSE, WELCOME = 0x01, 0x02, 0x03, 0x04
HEARTBEAT, TELEMETRY, ACK, CAPTURE, COMMAND, REPLY, CLOSE = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
TYPES = {HELLO: "hello", CHALLENGE: "challenge", RESPONSE: "response", WELCOME: "welcome",
         HEARTBEAT: "heartbeat", TELEMETRY: "telemetry", ACK: "ack", CAPTURE: "capture",
         COMMAND: "command", REPLY: "reply", CLOSE: "close"}
# What each side may receive once the session is open.
SERVER_RECEIVES = {HEARTBEAT, TELEMETRY, CAPTURE, REPLY, CLOSE}
CLIENT_RECEIVES = {HEARTBEAT, ACK, COMMAND, CLOSE}

REASONS = ["normal", "shutdown", "idle_timeout", "handshake_timeout", "auth_failed", "bad_length",
           "oversized", "bad_crc", "bad_version", "unknown_type", "out_of_order", "bad_mac",
           "replayed", "counter_gap", "bad_payload", "counter_exhausted", "replaced", "busy",
           "internal"]
REASON = {name: code for code, name in enumerate(REASONS)}


class LinkError(Exception):
    """A frame the receiver refuses; .name is the document's error name ("bad_crc")."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


# --- derivations -------------------------------------------------------------------------------

def secret_hash(secret):
    """H = BLAKE2b-256(secret text)."""
    return hashlib.blake2b(secret.encode() if isinstance(secret, str) else secret,
                           digest_size=32).digest()


def link_key(h):
    """KL = BLAKE2b-256(key H, "smartmeter link key v1")."""
    return hashlib.blake2b(b"smartmeter link key v1", key=h, digest_size=32).digest()


def proof(kl, side, nc, ns, extra=b""):
    label = b"smartmeter link %s v1" % side.encode()
    return hashlib.blake2b(label + nc + ns + extra, key=kl, digest_size=32).digest()


def session_keys(kl, nc, ns):
    """(K_c2s, K_s2c)."""
    return tuple(hashlib.blake2b(b"smartmeter link %s v1" % d + nc + ns, key=kl,
                                 digest_size=32).digest() for d in (b"c2s", b"s2c"))


def mac(key, data):
    return hashlib.blake2b(data, key=key, digest_size=MAC_LEN).digest()


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


# --- frames ------------------------------------------------------------------------------------

def encode_frame(ftype, counter, payload, key=None):
    """One frame: with a MAC when key is given (an open session)."""
    if len(payload) > PAYLOAD_MAX:
        raise ValueError("payload over %d bytes" % PAYLOAD_MAX)
    n = HEADER_LEN + len(payload) + (MAC_LEN if key else 0) + CRC_LEN
    body = struct.pack(">HBBI", n - 2, VERSION, ftype, counter) + payload
    if key:
        body += mac(key, body)
    return body + struct.pack(">I", crc32(body))


class Decoder:
    """Bytes in, (type, counter, payload, mac) frames out; framing, CRC, version and type."""

    def __init__(self):
        self.buf = b""
        self.keyed = False  # frames carry a MAC (the sender's session is open)

    def feed(self, data):
        self.buf += data

    def next(self):
        """The next whole frame, or None; raises LinkError."""
        if len(self.buf) < 2:
            return None
        total = struct.unpack(">H", self.buf[:2])[0] + 2
        if total < FRAME_MIN + (MAC_LEN if self.keyed else 0):
            raise LinkError("bad_length")
        if total > FRAME_MAX:
            raise LinkError("oversized")
        if len(self.buf) < total:
            return None
        frame, self.buf = self.buf[:total], self.buf[total:]
        if struct.unpack(">I", frame[-4:])[0] != crc32(frame[:-4]):
            raise LinkError("bad_crc")
        if frame[2] != VERSION:
            raise LinkError("bad_version")
        if frame[3] not in TYPES:
            raise LinkError("unknown_type")
        counter = struct.unpack(">I", frame[4:8])[0]
        if self.keyed:
            return frame[3], counter, frame[8:-4 - MAC_LEN], frame[:-4 - MAC_LEN], frame[-4 - MAC_LEN:-4]
        return frame[3], counter, frame[8:-4], None, None


# --- payloads ----------------------------------------------------------------------------------

def ack_payload(acked, rejected=()):
    p = bytes([len(acked), len(rejected)])
    for first, last in list(acked) + list(rejected):
        p += struct.pack(">QQ", first, last)
    return p


def parse_ack(p):
    """(acked, rejected) lists of (first, last); raises LinkError("bad_payload")."""
    if len(p) < 2:
        raise LinkError("bad_payload")
    ns, nr = p[0], p[1]
    if not 1 <= ns <= ACK_RANGES_MAX or nr > ACK_RANGES_MAX or len(p) != 2 + 16 * (ns + nr):
        raise LinkError("bad_payload")
    ranges = [struct.unpack(">QQ", p[2 + 16 * k:18 + 16 * k]) for k in range(ns + nr)]
    acked, rejected = ranges[:ns], ranges[ns:]
    for group in (acked, rejected):
        prev = 0
        for first, last in group:
            if not 1 <= first <= last <= SEQ_MAX or first <= prev:
                raise LinkError("bad_payload")
            prev = last
    for first, last in rejected:
        seq = first
        while seq <= last:  # every seq of the rejected range lies in an acked one
            hit = [a for a in acked if a[0] <= seq <= a[1]]
            if not hit:
                raise LinkError("bad_payload")
            seq = hit[0][1] + 1
    return acked, rejected


def chunk_payloads(data):
    """The CAPTURE payloads that carry data."""
    count = (len(data) + CHUNK_DATA_MAX - 1) // CHUNK_DATA_MAX
    if not 1 <= count <= CHUNKS_MAX:
        raise ValueError("capture of %d bytes" % len(data))
    return [struct.pack(">HHI", k, count, len(data)) + data[k * CHUNK_DATA_MAX:(k + 1) * CHUNK_DATA_MAX]
            for k in range(count)]


def parse_chunk(p):
    if len(p) <= CHUNK_HEAD_LEN:
        raise LinkError("bad_payload")
    index, count, total = struct.unpack(">HHI", p[:8])
    data = p[8:]
    want_count = (total + CHUNK_DATA_MAX - 1) // CHUNK_DATA_MAX
    if total == 0 or want_count > CHUNKS_MAX or count != want_count or index >= count:
        raise LinkError("bad_payload")
    if len(data) != min(CHUNK_DATA_MAX, total - index * CHUNK_DATA_MAX):
        raise LinkError("bad_payload")
    return index, count, total, data


def close_payload(reason, text=""):
    return bytes([REASON[reason] if isinstance(reason, str) else reason]) + text.encode("ascii")


def parse_close(p):
    if not 1 <= len(p) <= 65 or any(b < 0x20 or b >= 0x7F for b in p[1:]):
        raise LinkError("bad_payload")
    return (REASONS[p[0]] if p[0] < len(REASONS) else p[0]), p[1:].decode()


def check_payload(ftype, p):
    """The shape each session frame's payload must have."""
    if ftype == HEARTBEAT and len(p) != 8:
        raise LinkError("bad_payload")
    if ftype in (TELEMETRY, COMMAND, REPLY) and len(p) < 2:
        raise LinkError("bad_payload")
    if ftype == ACK:
        parse_ack(p)
    if ftype == CAPTURE:
        parse_chunk(p)
    if ftype == CLOSE:
        parse_close(p)


# --- one side of a connection ------------------------------------------------------------------

class Session:
    """A client or a server over bytes: feed() what arrives, send out() what it wrote.

    A client: Session("client", device_id=..., h=H, nonce=...) then hello(). A server:
    Session("server", nonce=..., keys={device_id: H}, time_ms=..., heartbeat_s=30, idle_s=90).
    feed() returns the events: ("open",), ("frame", type, counter, payload), ("close", reason,
    text); it raises LinkError for a refused frame.
    """

    def __init__(self, role, device_id=None, h=None, nonce=None, keys=None, time_ms=0,
                 heartbeat_s=30, idle_s=90):
        self.role = role
        self.device_id = device_id
        self.kl = link_key(h) if h is not None else None
        self.keys = keys or {}
        self.nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
        self.nc = self.nonce if role == "client" else None
        self.ns = self.nonce if role == "server" else None
        self.time_ms, self.heartbeat_s, self.idle_s = time_ms, heartbeat_s, idle_s
        self.state = "start" if role == "client" else "wait_hello"
        self.dec = Decoder()
        self.tx = self.rx = None
        self.tx_counter = self.rx_counter = 0
        self.pending = b""

    def out(self):
        data, self.pending = self.pending, b""
        return data

    def _bare(self, ftype, payload):
        self.pending += encode_frame(ftype, 0, payload)

    def hello(self):
        assert self.state == "start"
        ident = self.device_id.encode()
        self._bare(HELLO, self.nc + bytes([len(ident)]) + ident)
        self.state = "wait_challenge"

    def send(self, ftype, payload):
        assert self.state == "open"
        self.tx_counter += 1
        self.pending += encode_frame(ftype, self.tx_counter, payload, self.tx)

    def send_close(self, reason, text=""):
        if self.tx:
            self.tx_counter += 1
            self.pending += encode_frame(CLOSE, self.tx_counter, close_payload(reason, text), self.tx)
        else:
            self._bare(CLOSE, close_payload(reason, text))
        self.state = "closed"

    def _open(self):
        c2s, s2c = session_keys(self.kl, self.nc, self.ns)
        self.tx, self.rx = (c2s, s2c) if self.role == "client" else (s2c, c2s)
        self.state = "open"
        self.dec.keyed = True

    def feed(self, data):
        self.dec.feed(data)
        events = []
        while True:
            f = self.dec.next()
            if f is None:
                return events
            events.append(self._frame(*f))
            if events[-1][0] == "close":
                return events

    def _frame(self, ftype, counter, payload, signed, tag):
        if self.state == "open":
            if ftype not in (SERVER_RECEIVES if self.role == "server" else CLIENT_RECEIVES):
                raise LinkError("out_of_order")
            if mac(self.rx, signed) != tag:
                raise LinkError("bad_mac")
            if counter <= self.rx_counter:
                raise LinkError("replayed")
            if counter != self.rx_counter + 1:
                raise LinkError("counter_gap")
            self.rx_counter = counter
            check_payload(ftype, payload)
            if ftype == CLOSE:
                self.state = "closed"
                return ("close",) + parse_close(payload)
            return ("frame", ftype, counter, payload)
        want = {"wait_hello": HELLO, "wait_challenge": CHALLENGE, "wait_response": RESPONSE,
                "wait_welcome": WELCOME}.get(self.state)
        if ftype != CLOSE and ftype != want:
            raise LinkError("out_of_order")
        if counter != 0:
            raise LinkError("bad_payload")
        if ftype == CLOSE:
            self.state = "closed"
            return ("close",) + parse_close(payload)
        if ftype == HELLO:
            if len(payload) < 18 or payload[16] != len(payload) - 17:
                raise LinkError("bad_payload")
            self.nc, self.device_id = payload[:16], payload[17:].decode()
            h = self.keys.get(self.device_id)
            self.kl = link_key(h) if h else os.urandom(32)
            self._bare(CHALLENGE, self.ns)
            self.state = "wait_response"
            return ("hello", self.device_id)
        if ftype == CHALLENGE:
            if len(payload) != NONCE_LEN:
                raise LinkError("bad_payload")
            self.ns = payload
            self._bare(RESPONSE, proof(self.kl, "client", self.nc, self.ns))
            self.state = "wait_welcome"
            return ("challenge",)
        if ftype == RESPONSE:
            if len(payload) != PROOF_LEN:
                raise LinkError("bad_payload")
            if payload != proof(self.kl, "client", self.nc, self.ns):
                raise LinkError("auth_failed")
            extra = struct.pack(">qHH", self.time_ms, self.heartbeat_s, self.idle_s)
            self._bare(WELCOME, proof(self.kl, "server", self.nc, self.ns, extra) + extra)
            self._open()
            return ("open",)
        # WELCOME
        if len(payload) != PROOF_LEN + 12:
            raise LinkError("bad_payload")
        if payload[:32] != proof(self.kl, "server", self.nc, self.ns, payload[32:]):
            raise LinkError("auth_failed")
        self.time_ms, self.heartbeat_s, self.idle_s = struct.unpack(">qHH", payload[32:])
        if self.heartbeat_s == 0 or self.idle_s <= self.heartbeat_s:
            raise LinkError("bad_payload")
        self._open()
        return ("open",)


# --- a terminal over TCP -----------------------------------------------------------------------

class Terminal:
    """A client session over a socket, for tests that drive meter-server's terminal gateway."""

    def __init__(self, sock, session):
        self.sock, self.s = sock, session
        self.events = []

    @classmethod
    def connect(cls, host, port, device_id, secret, timeout=10.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        t = cls(sock, Session("client", device_id=device_id, h=secret_hash(secret)))
        t.s.hello()
        t.flush()
        while t.s.state != "open":
            ev = t.recv_event()
            if ev[0] == "close":
                raise LinkError("closed by the server: %s %s" % (ev[1], ev[2]))
        return t

    def flush(self):
        data = self.s.out()
        if data:
            self.sock.sendall(data)

    def recv_event(self):
        """The next event; raises LinkError for a refused frame, EOFError when the peer left."""
        while not self.events:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.events += self.s.feed(data)
            self.flush()
        return self.events.pop(0)

    def send(self, ftype, payload):
        self.s.send(ftype, payload)
        self.flush()

    def send_telemetry(self, reading_json):
        self.send(TELEMETRY, reading_json.encode() if isinstance(reading_json, str) else reading_json)

    def send_heartbeat(self, now_ms=0):
        self.send(HEARTBEAT, struct.pack(">q", now_ms))

    def send_capture(self, payload):
        for p in chunk_payloads(payload):
            self.s.send(CAPTURE, p)
        self.flush()

    def close(self, reason="normal", text=""):
        try:
            if self.s.state == "open":
                self.s.send_close(reason, text)
                self.flush()
        finally:
            self.sock.close()


# --- the server side over TCP ------------------------------------------------------------------

class ServerConnection:
    """One terminal's connection on the server side: the handshake, then frames both ways.

    recv_event() answers each HEARTBEAT with one of its own, as the gateway does, and returns
    ("frame", type, counter, payload) or ("close", reason, text); EOFError when the terminal left.
    """

    def __init__(self, sock, session):
        self.sock, self.s = sock, session
        self.events = []
        self.device_id = None
        self.heartbeats = 0  # HEARTBEATs the terminal sent

    def flush(self):
        data = self.s.out()
        if data:
            self.sock.sendall(data)

    def _read(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.events += self.s.feed(data)
        self.flush()

    def handshake(self, timeout=10.0):
        """Runs the server's side of the handshake; returns the device id. Raises LinkError."""
        while self.s.state != "open":
            self._read(timeout)
            while self.events and self.events[0][0] in ("hello", "open", "close"):
                ev = self.events.pop(0)
                if ev[0] == "hello":
                    self.device_id = ev[1]
                elif ev[0] == "close":
                    raise LinkError("closed by the terminal: %s %s" % (ev[1], ev[2]))
        return self.device_id

    def recv_event(self, timeout=None):
        """The next event, or None after timeout s without one."""
        while True:
            while self.events:
                ev = self.events.pop(0)
                if ev[0] == "frame" and ev[1] == HEARTBEAT:
                    self.heartbeats += 1
                    self.send(HEARTBEAT, struct.pack(">q", 0))
                    continue
                return ev
            try:
                self._read(timeout)
            except socket.timeout:
                return None

    def send(self, ftype, payload):
        self.s.send(ftype, payload)
        self.flush()

    def send_ack(self, acked, rejected=()):
        """One ACK frame: acked and rejected lists of (first, last), ascending."""
        self.send(ACK, ack_payload(acked, rejected))

    def send_command(self, command_json):
        """A COMMAND: the command's JSON without "sig" (the frame's MAC authenticates it)."""
        self.send(COMMAND, command_json.encode() if isinstance(command_json, str) else command_json)

    def close(self, reason="normal", text=""):
        """CLOSE, then the TCP connection."""
        try:
            if self.s.state == "open":
                self.s.send_close(reason, text)
                self.flush()
        finally:
            self.sock.close()

    def drop(self):
        """The TCP connection cut without a word, as a carrier's network or a crash does."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class TerminalServer:
    """A listening terminal gateway for tests: keys maps device ids to their secret hash H.

    accept() returns a ServerConnection whose handshake is done.
    """

    def __init__(self, keys, host="127.0.0.1", port=0, heartbeat_s=30, idle_s=90, time_ms=None):
        self.keys, self.heartbeat_s, self.idle_s, self.time_ms = keys, heartbeat_s, idle_s, time_ms
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.host, self.port = self.sock.getsockname()[:2]

    def accept(self, timeout=30.0):
        import time
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        now = int(time.time() * 1000) if self.time_ms is None else self.time_ms
        c = ServerConnection(conn, Session("server", keys=self.keys, time_ms=now,
                                           heartbeat_s=self.heartbeat_s, idle_s=self.idle_s))
        c.handshake()
        return c

    def close(self):
        self.sock.close()
