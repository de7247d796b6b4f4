"""Standard meters behind 4G DTUs (SPEC "Grid ports", docs/modbus.md "Meters behind 4G DTUs").

meter-server runs with --dtu-listen. A DTU simulator (dtu_simulator.py under /usr/bin/python3:
a socket that registers, sends heartbeats and bridges to an SDM630 served by python3-pymodbus
with its RTU framer) is polled; the device bound to it with PATCH {"dtu_id", "modbus_unit",
"poll_interval_s"} gets readings with the meter's values, a bad CRC and a lost answer are
retried and counted, a heartbeat between the parts of an answer is dropped, a silent device's polls are counted missed and store nothing, a second
DTU with the same registration replaces the first, and a connection without a usable
registration packet is closed.
"""
import json
import math
import os
import re
import socket
import subprocess
import time

from harness import IntegrationTest, free_port, main, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"
REG = "864000000000001"
IDLE_S = 5
VALUES = {"voltage": 230.25, "current": 10.5, "voltage_a": 229.5, "voltage_b": 230.75, "voltage_c": 231.0, "current_a": 10.25,
          "current_b": 10.5, "current_c": 10.75, "power_w": 6300.875, "pf": 0.875,
          "freq_hz": 50.0625, "energy_wh": 123456.0, "energy_export_wh": 500.0}


class Dtu(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dtu_port = free_port()
        cls.srv = cls.server_fixture(
            {"op": "operator", "alice": "user"}, {"d3": "alice", "d5": "alice", "d9": "alice"},
            login=("op", "alice"),
            extra_args=["--dtu-listen", f"127.0.0.1:{cls.dtu_port}", "--dtu-heartbeat", "HB",
                        "--dtu-response-timeout-ms", "300", "--dtu-idle-s", str(IDLE_S)])
        cls.tok = cls.srv.tokens
        for device, unit in (("d3", 3), ("d5", 5)):  # d5: nothing answers on unit 5
            r = cls.call("PATCH", f"/api/devices/{device}",
                         {"dtu_id": REG, "modbus_unit": unit, "poll_interval_s": 1}, who="op")
            assert r.status == 200, r
        r = cls.call("PATCH", "/api/devices/d9",
                     {"dtu_id": "DTU-SILENT", "modbus_unit": 9, "poll_interval_s": 1}, who="op")
        assert r.status == 200, r

    def simulate(self, duration, registration=REG, **kw):
        args = [DEBIAN_PYTHON, os.path.join(HERE, "dtu_simulator.py"),
                "--server-port", str(self.dtu_port), "--registration", registration,
                "--values", json.dumps(VALUES), "--duration", str(duration)]
        for k, v in kw.items():
            args += [f"--{k}", str(v)]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def result(proc, timeout=60):
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def counters(self):
        lines = re.findall(r"link closed \(gateway so far: (.*)\)", self.srv.log_since_start())
        self.assertTrue(lines, "no link closed yet")
        return {name.replace(" ", "_"): int(value)
                for name, value in (part.rsplit(" ", 1) for part in lines[-1].split(", "))}

    def latest(self, device):
        r = self.get(f"/api/devices/{device}", who="alice")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_a_polled_meter_gets_readings_with_its_values(self):
        sim = self.simulate(5, corrupt=1, drop=1, **{"heartbeat-inside": 2})
        wait_until(lambda: self.latest("d3")["status"] == "online", 15, what="d3 online")
        stats = self.result(sim)
        self.assertEqual((stats["corrupted"], stats["dropped"], stats["split"]), (1, 1, 2))
        detail = self.latest("d3")
        latest = detail["latest"]
        self.assertIsNotNone(latest, "no reading stored")
        for field, value in VALUES.items():
            self.assertTrue(math.isclose(latest[field], value, rel_tol=1e-6),
                            f"{field}: {latest[field]} != {value}")
        r = self.get("/api/device/data/d3?limit=100", who="alice")
        self.assertEqual(r.status, 200, r)
        rows = r.json()
        self.assertGreaterEqual(len(rows), 3)  # polled every second
        self.assertEqual(sorted(x["seq"] for x in rows), list(range(1, len(rows) + 1)))
        # The silent meter: nothing stored, its polls missed.
        self.assertIsNone(self.latest("d5")["latest"])
        wait_until(lambda: self.latest("d3")["status"] == "offline", 15, what="d3 offline")
        k = wait_until(lambda: self.counters(), 10)
        # The corrupted answer only: the heartbeats inside two answers were dropped.
        self.assertEqual(k["bad_CRC"], 1)
        self.assertGreaterEqual(k["timeouts"], 2)
        self.assertGreaterEqual(k["missed"], 3)
        self.assertGreaterEqual(k["readings"], 3)
        # The same counts in /api/stats.
        r = self.get("/api/stats", who="op")
        self.assertEqual(r.status, 200, r)
        dtu = r.json()["dtu"]
        self.assertTrue(dtu["listening"])
        self.assertEqual(dtu["bad_crc"], k["bad_CRC"])
        self.assertGreaterEqual(dtu["timeouts"], k["timeouts"])
        self.assertGreaterEqual(dtu["readings"], k["readings"])
        self.assertGreaterEqual(dtu["registered"], 1)

    def test_the_same_registration_replaces_the_older_link(self):
        def registrations():
            return self.srv.log_since_start().count(f"dtu {REG}: registered\n")
        before = registrations()
        first = self.simulate(20)
        wait_until(lambda: registrations() > before, 15, what="the first DTU registered")
        second = self.simulate(3)
        stats = self.result(first, timeout=15)
        self.assertTrue(stats["closed_by_server"], stats)
        self.result(second)
        self.assertIn(f"dtu {REG}: registered again, the older link closed",
                      self.srv.log_since_start())

    def test_a_dtu_that_stays_silent_is_closed_when_idle(self):
        s = socket.create_connection(("127.0.0.1", self.dtu_port), timeout=3 * IDLE_S)
        s.sendall(b"DTU-SILENT\r\n")
        start = time.monotonic()
        requests = b""
        while True:  # the polls of d9 arrive, never answered; then the server closes
            try:
                data = s.recv(512)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            requests += data
        s.close()
        self.assertGreaterEqual(time.monotonic() - start, IDLE_S - 0.5)
        self.assertTrue(requests.startswith(bytes([9, 4])), requests[:16].hex())
        self.assertIn("dtu DTU-SILENT: silent for", self.srv.log_since_start())

    def test_a_connection_without_a_usable_registration_is_closed(self):
        for packet in (b"\x01\x02\x03", b"x" * 80):
            s = socket.create_connection(("127.0.0.1", self.dtu_port), timeout=15)
            s.sendall(packet)
            try:
                self.assertEqual(s.recv(1), b"")
            except ConnectionResetError:
                pass
            s.close()


if __name__ == "__main__":
    main()
