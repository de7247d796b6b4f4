"""Device metadata and remote operations end to end: PATCH /api/devices/:id validated and
audited, read back in the device and the list; read_status, sync_clock and set_interval queued
through the API -> meter-server (commands table) -> mosquitto -> meterd -> its reply with a
result -> GET .../commands/:cid. set_interval changes the rate of readings and survives a
meterd restart; operations queued while the meter is away survive a server restart and are
delivered when it returns.
"""
import os
import sys
import time

from harness import IntegrationTest, Meter, main, wait_until

DEV = "ops-1"


class Operations(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.server_fixture({"admin": "admin", "op": "operator", "alice": "user"},
                                     {DEV: "alice", "ops-2": "alice", "ops-3": "admin"},
                                     login=("admin", "op", "alice"), broker="private")
        cls.tok = cls.srv.tokens
        cls.meter = cls.track(Meter(cls.workdir, DEV, cls.broker.url,
                                    adc="sim:v=230,i=10,realtime=1"))
        cls.meter.start()
        wait_until(lambda: cls.device(DEV)["status"] == "online", 20, what=f"{DEV} online")

    @classmethod
    def device(cls, dev, who="op"):
        r = cls.get(f"/api/devices/{dev}", who)
        assert r.status == 200, r
        return r.json()

    def patch(self, dev, body, who="op"):
        return self.call("PATCH", f"/api/devices/{dev}", body, who=who)

    def operation(self, body, dev=DEV, who="op"):
        return self.call("POST", f"/api/devices/{dev}/operations", body, who=who)

    def command(self, cid, dev=DEV, who="op"):
        r = self.get(f"/api/devices/{dev}/commands/{cid}", who)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def run_op(self, body, dev=DEV, timeout=20):
        """Queues body, checks the 202, waits until it is done; returns the command."""
        r = self.operation(body, dev)
        self.assertEqual(r.status, 202, r)
        b = r.json()
        self.assertEqual((b["state"], b["op"], b["device_id"]), ("queued", body["op"], dev))
        self.assertRegex(b["command_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(r.headers.get("Location"), f"/api/devices/{dev}/commands/{b['command_id']}")
        return self.wait_state(b["command_id"], dev, timeout)

    def wait_state(self, cid, dev=DEV, timeout=20, states=("done",)):
        c = wait_until(lambda: (lambda c: c if c["state"] in states + ("failed", "expired")
                                else None)(self.command(cid, dev)),
                       timeout, interval=0.2, what=f"command {cid} {states}")
        self.assertIn(c["state"], states, c)
        return c

    def seq(self):
        latest = self.device(DEV)["latest"]
        return latest["seq"] if latest else 0

    def readings_per_s(self, seconds):
        """Readings the server stored per second over a window of seconds."""
        first = self.seq()
        t0 = time.monotonic()
        time.sleep(seconds)
        rate = (self.seq() - first) / (time.monotonic() - t0)
        print(f"\n  {rate:.2f} readings/s over {seconds} s", file=sys.stderr)
        return rate

    # --- metadata ---

    def test_1_metadata_is_set_read_cleared_and_listed(self):
        body = {"name": "1号配变", "site": "North park", "address": "Plant 3, bay 2",
                "latitude": 31.2304, "longitude": 121.4737, "nominal_voltage": 10000,
                "nominal_hz": 50, "rated_current": 36.4, "rated_kva": 630, "ct_ratio": 40,
                "pt_ratio": 100, "modbus_unit": 7, "dtu_id": "860000000000001",
                "poll_interval_s": 60, "register_map": "sdm630"}
        r = self.patch(DEV, body)
        self.assertEqual(r.status, 200, r)
        for k, v in body.items():
            self.assertEqual(r.json()[k], v, k)
        d = self.device(DEV)
        for k, v in body.items():
            self.assertEqual(d[k], v, k)
        self.assertEqual(d["metadata_updated_by"], "op")
        # a user bound to it reads them too, and the list carries name and site
        self.assertEqual(self.device(DEV, "alice")["nominal_voltage"], 10000)
        listed = {x["device_id"]: x for x in self.get("/api/devices", "op").json()["devices"]}
        self.assertEqual((listed[DEV]["name"], listed[DEV]["site"]), ("1号配变", "North park"))
        self.assertIsNone(listed["ops-2"]["name"])
        # a partial change keeps the rest; null clears
        r = self.patch(DEV, {"rated_kva": 800, "address": None}, who="admin")
        self.assertEqual(r.status, 200, r)
        d = self.device(DEV)
        self.assertEqual((d["rated_kva"], d["address"], d["ct_ratio"]), (800, None, 40))
        self.assertEqual(d["metadata_updated_by"], "admin")
        # audited, naming the fields
        entries = self.get("/api/audit?limit=50", "admin").json()["entries"]
        meta = [e for e in entries if e["action"] == "device.metadata" and e["target"] == DEV]
        self.assertEqual(len(meta), 2, entries)
        self.assertIn("address=null", meta[0]["detail"])

    def test_2_bad_metadata_is_refused_and_changes_nothing(self):
        before = self.device("ops-2")
        for body, needle in (({"nominal_hz": 55}, "50 or 60"),
                             ({"latitude": 91}, "latitude"),
                             ({"longitude": -180.5}, "longitude"),
                             ({"nominal_voltage": 0}, "nominal_voltage"),
                             ({"nominal_voltage": 1000001}, "nominal_voltage"),
                             ({"ct_ratio": 0.5}, "ct_ratio"),
                             ({"modbus_unit": 248}, "modbus_unit"),
                             ({"modbus_unit": 1.5}, "modbus_unit"),
                             ({"poll_interval_s": 0}, "poll_interval_s"),
                             ({"rated_current": "10"}, "rated_current must be a number"),
                             ({"name": 5}, "name must be a string"),
                             ({"name": "x" * 65}, "name must be 1 to 64"),
                             ({"name": ""}, "name must be 1 to 64"),
                             ({"site": "a\u0007b"}, "printable"),
                             ({"dtu_id": "has space"}, "dtu_id"),
                             ({"register_map": "SDM 630"}, "register_map"),
                             ({"colour": "red"}, "unknown field"),
                             ({}, "nothing to change"),
                             ({"name": "ok", "nominal_hz": 61}, "50 or 60")):
            r = self.patch("ops-2", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(needle, r.json()["message"], body)
        self.assertEqual(self.device("ops-2"), before)
        self.assertEqual(self.patch("ops-2", {"name": "x"}, who="alice").status, 403)
        self.assertEqual(self.patch("ops-3", {"name": "x"}, who="alice").status, 404)
        self.assertEqual(self.patch("nope", {"name": "x"}).status, 404)
        # one device per DTU bus address
        self.assertEqual(self.patch("ops-2", {"dtu_id": "DTU-9", "modbus_unit": 1}).status, 200)
        r = self.patch("ops-3", {"dtu_id": "DTU-9", "modbus_unit": 1})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.patch("ops-3", {"dtu_id": "DTU-9", "modbus_unit": 2}).status, 200)

    # --- operations ---

    def test_3_read_status_answers_the_meter_state(self):
        wait_until(lambda: self.seq() > 0, 10, what="a first reading")
        c = self.run_op({"op": "read_status"})
        self.assertEqual(c["cmd"], "read_status")
        self.assertEqual((c["actor"], c["reason"]), ("op", "read the meter's status"))
        res = c["result"]
        self.assertGreaterEqual(res["uptime_s"], 0)
        self.assertEqual(res["version"], "0.1.0")
        self.assertLess(abs(res["clock_offset_ms"]), 5000)  # one machine: transit only
        self.assertEqual(res["adc"]["driver"], "sim")
        self.assertTrue(res["adc"]["ok"])
        self.assertGreater(res["adc"]["samples"], 0)
        self.assertGreaterEqual(res["overruns"], 0)
        self.assertGreaterEqual(res["spool_depth"], 0)
        self.assertEqual(res["relay"], "on")
        self.assertEqual(res["link"], {"kind": "mqtt", "connected": True})
        self.assertEqual(res["interval_s"], 1)
        self.assertGreater(res["seq"], 0, res)
        # in the commands list too; a user sees the result but not who asked
        listed = self.get(f"/api/devices/{DEV}/commands", "alice").json()["commands"]
        mine = [x for x in listed if x["command_id"] == c["command_id"]]
        self.assertEqual(mine[0]["result"]["adc"]["driver"], "sim")
        self.assertNotIn("actor", mine[0])

    def test_4_sync_clock_reports_the_offset(self):
        c = self.run_op({"op": "sync_clock", "reason": "after the modem swap"})
        self.assertEqual(c["reason"], "after the modem swap")
        res = c["result"]
        self.assertLess(abs(res["offset_ms"]), 5000)
        # clock_set is off by default: the meter only reports (docs/protocol.md)
        self.assertEqual(res["action"], "reported")
        self.assertIn("clock_set", res["note"])

    def test_5_requests_are_checked(self):
        self.assertEqual(self.operation({"op": "read_status"}, who="alice").status, 403)
        self.assertEqual(self.operation({"op": "read_status"}, dev="ops-3", who="alice").status,
                         404)
        for body, needle in (({"op": "reboot"}, "op must be"), ({}, "op must be"),
                             ({"op": "set_interval"}, "interval_s must be"),
                             ({"op": "set_interval", "interval_s": 0.05}, "interval_s must be"),
                             ({"op": "set_interval", "interval_s": 3601}, "interval_s must be"),
                             ({"op": "set_interval", "interval_s": 1.0005}, "interval_s must be"),
                             ({"op": "set_interval", "interval_s": "5"}, "interval_s must be"),
                             ({"op": "read_status", "reason": 5}, "reason")):
            r = self.operation(body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(needle, r.json()["message"], body)

    def test_6_set_interval_changes_the_rate_and_survives_a_restart(self):
        self.assertLess(self.readings_per_s(4), 1.4)  # one a second
        c = self.run_op({"op": "set_interval", "interval_s": 0.25})
        self.assertEqual(c["interval_s"], 0.25)
        self.assertEqual(c["result"], {"interval_s": 0.25, "previous_s": 1, "persisted": True})
        rate = self.readings_per_s(4)
        self.assertGreater(rate, 3.0, f"{rate:.2f} readings/s after set_interval 0.25 s")
        with open(os.path.join(self.meter.state_dir, f"{DEV}.interval")) as f:
            self.assertEqual(f.readline().strip(), "250")
        # meterd restarts with --interval 1 still on its command line: the server's wins
        self.meter.stop()
        self.meter.start()
        wait_until(lambda: self.device(DEV)["status"] == "online", 20, what=f"{DEV} back")
        time.sleep(1)
        rate = self.readings_per_s(4)
        self.assertGreater(rate, 3.0, f"{rate:.2f} readings/s after the restart")
        res = self.run_op({"op": "read_status"})["result"]
        self.assertEqual(res["interval_s"], 0.25)
        c = self.run_op({"op": "set_interval", "interval_s": 1})
        self.assertEqual(c["result"]["previous_s"], 0.25)

    def test_7_operations_queued_while_away_survive_a_server_restart(self):
        self.meter.stop()
        wait_until(lambda: self.device(DEV)["status"] == "offline", 20, what=f"{DEV} offline")
        ids = []
        for body in ({"op": "read_status"}, {"op": "set_interval", "interval_s": 2},
                     {"op": "sync_clock"}):
            r = self.operation(body)
            self.assertEqual(r.status, 202, r)
            ids.append(r.json()["command_id"])
        time.sleep(1.5)
        self.assertEqual([self.command(i)["state"] for i in ids], ["queued"] * 3)
        self.srv.stop()
        self.srv.start()
        self.srv.wait_mqtt()
        type(self).tok = {u: self.srv.login(u) for u in ("admin", "op", "alice")}
        self.assertEqual([self.command(i)["state"] for i in ids], ["queued"] * 3)
        self.meter.start()
        done = [self.wait_state(i, timeout=30) for i in ids]
        self.assertEqual(done[0]["result"]["link"]["connected"], True)
        self.assertEqual(done[1]["result"]["interval_s"], 2)
        self.assertEqual(done[2]["result"]["action"], "reported")
        for c in done:
            self.assertGreaterEqual(c["sends"], 1)
        # each acted once: one log line for the interval change, whatever the resends
        with open(self.meter.log_path) as f:
            self.assertEqual(f.read().count(f"(command {ids[1]})"), 1)


if __name__ == "__main__":
    main()
