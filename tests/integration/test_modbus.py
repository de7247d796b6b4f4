"""The Modbus TCP server (SPEC "Grid ports", docs/modbus.md) read by clients nobody here wrote.

meter-server runs with --modbus-listen on a free loopback port. A three-phase device (m3, unit
3) and a single-phase one (m1, unit 1) upload readings over HTTP and get their modbus_unit with
PATCH /api/devices/:id; a third device (m9) has none. Debian's mbpoll and python3-pymodbus (under
/usr/bin/python3, modbus_pymodbus.py) then read the Eastron SDM630 input registers and the
server's extra registers, which must hold what GET /api/devices/:id shows as the latest reading.
Illegal addresses, counts and functions answer their Modbus exceptions, an unknown unit answers
"gateway target device failed to respond" (0x0B), a malformed MBAP header closes only its own
connection, connections past the cap are closed at once, and an idle one is closed.
"""
import json
import math
import os
import re
import socket
import struct
import subprocess
import time

from harness import IntegrationTest, free_port, main, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"
MAX_CONNECTIONS = 4
IDLE_S = 3

# The SDM630 input registers SPEC.md names, and the reading field each holds.
THREE_PHASE_FIELDS = {
    0x0000: "voltage_a", 0x0002: "voltage_b", 0x0004: "voltage_c",
    0x0006: "current_a", 0x0008: "current_b", 0x000A: "current_c",
    0x000C: "power_w_a", 0x000E: "power_w_b", 0x0010: "power_w_c",
    0x0034: "power_w", 0x0038: "apparent_va", 0x003C: "reactive_var", 0x003E: "pf",
    0x0046: "freq_hz", 0x00EA: "thd_v_a",
}
SINGLE_PHASE_FIELDS = {
    0x0000: "voltage", 0x0006: "current", 0x000C: "power_w", 0x001E: "pf",
    0x002A: "voltage", 0x0034: "power_w", 0x003E: "pf", 0x0046: "freq_hz",
}
ENERGY_KWH = {0x0048: "energy_wh", 0x004A: "energy_export_wh"}


def f32(hi, lo):
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def three_phase(seq, ts_ms, bump=0.0):
    return {"device_id": "m3", "seq": seq, "ts": ts_ms, "wiring": "3p4w",
            "voltage": 230.25 + bump, "current": 10.5, "power_w": 6300.875,
            "apparent_va": 7000.5, "reactive_var": 1500.25, "pf": 0.9, "freq_hz": 50.0625,
            "voltage_a": 229.5 + bump, "voltage_b": 230.75, "voltage_c": 231.0,
            "current_a": 10.25, "current_b": 10.5, "current_c": 10.75,
            "power_w_a": 2000.5, "power_w_b": 2100.25, "power_w_c": 2200.125,
            "thd_v_a": 2.5, "unbalance_u2_pct": 1.25,
            "energy_wh": 123456 + seq, "energy_export_wh": 500}


def mbap(tid, unit, function, addr, count, protocol=0, length=6):
    return struct.pack(">HHHBBHH", tid, protocol, length, unit, function, addr, count)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed_by_peer(sock, timeout=5):
    """True when the server closes sock (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class Modbus(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mb_port = free_port()
        cls.srv = cls.server_fixture(
            {"op": "operator", "alice": "user"}, {"m3": "alice", "m1": "alice", "m9": "alice"},
            login=("op", "alice"),
            extra_args=["--modbus-listen", f"127.0.0.1:{cls.mb_port}",
                        "--modbus-max-connections", str(MAX_CONNECTIONS),
                        "--modbus-idle-s", str(IDLE_S)])
        cls.tok = cls.srv.tokens
        now = int(time.time() * 1000)
        cls.ts_ms = now - 5000
        cls.srv.upload(cls.srv.secrets["m3"], [three_phase(1, now - 6000, 1.0),
                                                three_phase(2, cls.ts_ms)], check=True)
        cls.srv.upload(cls.srv.secrets["m1"], {
            "device_id": "m1", "seq": 1, "ts": cls.ts_ms, "voltage": 221.5, "current": 3.25,
            "power_w": 700.5, "pf": 0.96875, "freq_hz": 49.9375, "energy_wh": 2000}, check=True)
        cls.srv.upload(cls.srv.secrets["m9"], {
            "device_id": "m9", "seq": 1, "ts": cls.ts_ms, "voltage": 220, "current": 1},
            check=True)
        for device, unit in (("m3", 3), ("m1", 1)):
            r = cls.call("PATCH", f"/api/devices/{device}", {"modbus_unit": unit}, who="op")
            assert r.status == 200, r
        # The server reads the units at its first request (and again every 2 s).
        wait_until(lambda: "registers" in cls.pymodbus("3:4:0:2")[0], 10,
                   what="unit 3 served")

    @classmethod
    def pymodbus(cls, *requests):
        r = subprocess.run([DEBIAN_PYTHON, os.path.join(HERE, "modbus_pymodbus.py"),
                            str(cls.mb_port), *requests], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    @classmethod
    def mbpoll(cls, unit, ref, count, table="3:float", check=True):
        """mbpoll's values by 0-based register address (its references are 1-based)."""
        r = subprocess.run(["mbpoll", "-m", "tcp", "-a", str(unit), "-r", str(ref + 1),
                            "-c", str(count), "-t", table, "-B", "-1", "-o", "5",
                            "-p", str(cls.mb_port), "127.0.0.1"],
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        values = {int(m.group(1)) - 1: float(m.group(2))
                  for m in re.finditer(r"^\[(\d+)\]:\s+(\S+)$", r.stdout, re.M)}
        return values, r

    def latest(self, device):
        r = self.get(f"/api/devices/{device}", who="alice")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_mbpoll_reads_the_latest_reading_of_both_meters(self):
        latest = self.latest("m3")["latest"]
        self.assertEqual(latest["seq"], 2)
        for start, count in ((0x0000, 9), (0x0034, 6), (0x0046, 3), (0x00EA, 1)):
            values, _ = self.mbpoll(3, start, count)
            for addr, field in THREE_PHASE_FIELDS.items():
                if start <= addr < start + 2 * count:
                    self.assertIn(addr, values, f"mbpoll gave no value at 0x{addr:04X}")
                    self.assertTrue(math.isclose(values[addr], latest[field], rel_tol=1e-5),
                                    f"0x{addr:04X} {field}: {values[addr]} != {latest[field]}")
            for addr, field in ENERGY_KWH.items():
                if start <= addr < start + 2 * count:
                    self.assertTrue(math.isclose(values[addr], latest[field] / 1000,
                                                 rel_tol=1e-5), f"0x{addr:04X} {field}")
        one = self.latest("m1")["latest"]
        values, _ = self.mbpoll(1, 0x0000, 24)
        for addr, field in SINGLE_PHASE_FIELDS.items():
            if addr >= 48:
                continue
            if field not in one:  # a quantity the reading lacks: not available
                self.assertTrue(math.isnan(values[addr]), f"m1 0x{addr:04X} {field}")
                continue
            self.assertTrue(math.isclose(values[addr], one[field], rel_tol=1e-5),
                            f"m1 0x{addr:04X} {field}: {values[addr]} != {one[field]}")
        # A single-phase meter has no phases 2 and 3: not available (NaN).
        self.assertTrue(math.isnan(values[0x0002]) and math.isnan(values[0x000E]))

    def test_pymodbus_reads_the_spec_registers_and_the_extra_ones(self):
        detail = self.latest("m3")
        latest = detail["latest"]
        (spec, tail, extra) = self.pymodbus("3:4:0x0000:0x50", "3:4:0x0156:2", "3:4:0x0200:0x18")
        regs = {0x0000 + i: v for i, v in enumerate(spec["registers"])}
        regs.update({0x0156 + i: v for i, v in enumerate(tail["registers"])})
        regs.update({0x0200 + i: v for i, v in enumerate(extra["registers"])})

        def value(addr):
            return f32(regs[addr], regs[addr + 1])
        for addr, field in THREE_PHASE_FIELDS.items():
            if addr < 0x50:
                self.assertTrue(math.isclose(value(addr), latest[field], rel_tol=1e-6),
                                f"0x{addr:04X} {field}: {value(addr)} != {latest[field]}")
        for addr, field in ENERGY_KWH.items():
            self.assertTrue(math.isclose(value(addr), latest[field] / 1000, rel_tol=1e-6))
        total = (latest["energy_wh"] + latest["energy_export_wh"]) / 1000
        self.assertTrue(math.isclose(value(0x0156), total, rel_tol=1e-6), value(0x0156))
        # The extra registers: the reading's age and time, the status, the unit, unbalance.
        age = value(0x0200)
        ts_s = (regs[0x0204] << 16) | regs[0x0205]
        self.assertEqual(ts_s, self.ts_ms // 1000)
        self.assertTrue(4 <= age <= 4 + (time.time() * 1000 - self.ts_ms) / 1000, age)
        status = {"online": 1, "offline": 0}.get(detail["status"], -1)
        self.assertEqual(value(0x0202), status)
        self.assertEqual(regs[0x0206], 3)
        self.assertTrue(math.isclose(value(0x0208), latest["unbalance_u2_pct"], rel_tol=1e-6))

    def test_registers_follow_a_newer_reading(self):
        self.srv.upload(self.srv.secrets["m1"], {
            "device_id": "m1", "seq": 2, "ts": int(time.time() * 1000), "voltage": 225.25,
            "current": 4.0, "power_w": 900.0, "energy_wh": 2100}, check=True)
        one = self.latest("m1")["latest"]
        self.assertEqual(one["voltage"], 225.25)
        (r,) = self.pymodbus("1:4:0x0000:2")
        self.assertEqual(f32(*r["registers"]), 225.25)
        (r,) = self.pymodbus("1:4:0x0048:2")
        self.assertTrue(math.isclose(f32(*r["registers"]), 2.1, rel_tol=1e-6))

    def test_bad_requests_answer_modbus_exceptions(self):
        answers = self.pymodbus(
            "3:4:0x0300:2",   # past the map: illegal data address
            "3:4:0x0216:4",   # runs past the map's last register
            "3:4:0x0000:126",  # more than 125 registers: illegal data value
            "3:6:0x0000:1",   # a write: illegal function
            "3:3:0x0000:2",   # holding registers: illegal function (the map is input registers)
            "9:4:0x0000:2",   # no device on unit 9: gateway target failed to respond
            "0:4:0x0000:2",   # nor on unit 0
        )
        self.assertEqual([a.get("exception") for a in answers], [2, 2, 3, 1, 1, 0x0B, 0x0B])
        # m9 has a reading but no modbus_unit: no unit answers with it.
        _, r = self.mbpoll(9, 0, 2, check=False)
        self.assertIn("Target device failed to respond", r.stderr)
        _, r = self.mbpoll(3, 0x0300, 2, check=False)
        self.assertIn("Illegal data address", r.stderr)
        # Counted in /api/stats: the nine answers above were exceptions.
        r = self.get("/api/stats", who="op")
        self.assertEqual(r.status, 200, r)
        mb = r.json()["modbus"]
        self.assertTrue(mb["listening"])
        self.assertGreaterEqual(mb["exceptions"], 9)
        self.assertGreaterEqual(mb["requests"], mb["exceptions"])

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.mb_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def ask(self, sock, tid, unit=3, addr=0, count=2):
        sock.sendall(mbap(tid, unit, 4, addr, count))
        head = recv_exactly(sock, 9)
        self.assertEqual(len(head), 9, "no answer")
        tid_back, protocol, length, unit_back, function, nbytes = struct.unpack(">HHHBBB", head)
        self.assertEqual((tid_back, protocol, unit_back, function), (tid, 0, unit, 4))
        body = recv_exactly(sock, nbytes)
        return struct.unpack(f">{nbytes // 2}H", body)

    def test_malformed_frames_close_only_their_connection(self):
        good = self.connect()
        self.ask(good, 1)
        bad_frames = [
            mbap(7, 3, 4, 0, 2, protocol=1),     # protocol id not 0
            mbap(8, 3, 4, 0, 2, length=200),     # length field longer than the request
            mbap(9, 3, 4, 0, 2, length=1),       # length field too short to hold a PDU
        ]
        for frame in bad_frames:
            bad = self.connect()
            bad.sendall(frame)
            self.assertTrue(closed_by_peer(bad), f"{frame.hex()} did not close its connection")
            self.assertEqual(len(self.ask(good, 2)), 2)
        # A function this server does not know, with a body: exception 01, the connection kept.
        odd = self.connect()
        odd.sendall(struct.pack(">HHHBBBBB", 5, 0, 5, 3, 0x2B, 0x0E, 0x01, 0x00))
        self.assertEqual(recv_exactly(odd, 9), struct.pack(">HHHBBB", 5, 0, 3, 3, 0xAB, 0x01))
        self.assertEqual(len(self.ask(odd, 6)), 2)
        # Garbage that stops mid-frame: closed after the frame stalls, the other still served.
        stall = self.connect()
        stall.sendall(b"\x00\x01\x00")
        self.assertTrue(closed_by_peer(stall, timeout=10))
        self.assertEqual(len(self.ask(good, 3)), 2)
        r = self.get("/api/stats", who="op")
        self.assertEqual(r.status, 200, r)
        mb = r.json()["modbus"]
        self.assertGreaterEqual(mb["malformed"], 3)
        self.assertGreaterEqual(mb["timeouts"], 1)

    def test_connections_past_the_cap_are_closed_and_idle_ones_too(self):
        time.sleep(0.5)  # connections of earlier tests end
        held = [self.connect() for _ in range(MAX_CONNECTIONS)]
        for k, s in enumerate(held):
            self.ask(s, 10 + k)
        extra = self.connect()
        self.assertTrue(closed_by_peer(extra), "a connection past the cap was served")
        for k, s in enumerate(held):
            self.ask(s, 20 + k)
        # Silent longer than modbus_idle_s: closed, and its place is free again.
        time.sleep(IDLE_S + 1.5)
        self.assertTrue(all(closed_by_peer(s, timeout=2) for s in held))
        fresh = self.connect()
        self.assertEqual(len(self.ask(fresh, 30)), 2)


if __name__ == "__main__":
    main()
