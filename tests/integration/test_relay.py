"""The load relay end to end: an operator's relay command -> meter-server (kept in the
commands table) -> mosquitto -> meterd (the relay, its state file, the sim's load) -> the
readings, and back. A command queued while the meter is away and the server restarts is
delivered when both are back; a meter cut off stays off through a power cut.
"""
import sqlite3
import time
import unittest

from harness import IntegrationTest, Meter, main, sqlite_path, wait_until

INTERVAL_S = 1.0


class Relay(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user"},
                                     {"rel-1": "alice", "rel-2": "alice", "rel-3": "alice"},
                                     login=("op", "alice"), broker="private")
        cls.tok = cls.srv.tokens
        cls.meter = cls.track(Meter(cls.workdir, "rel-1", cls.broker.url,
                                    adc="sim:v=230,i=10,realtime=1"))
        cls.meter.start()
        wait_until(lambda: cls.device("rel-1")["status"] == "online", 20, what="rel-1 online")

    @classmethod
    def device(cls, dev):
        r = cls.get(f"/api/devices/{dev}", "op")
        assert r.status == 200, r
        return r.json()

    def relay(self, dev, state, reason="test", who="op"):
        return self.call("POST", f"/api/devices/{dev}/relay", {"state": state, "reason": reason},
                         who=who)

    def command(self, dev, cid, who="op"):
        r = self.get(f"/api/devices/{dev}/commands/{cid}", who)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_state(self, dev, cid, states, timeout=20):
        return wait_until(lambda: (lambda c: c if c["state"] in states else None)(
            self.command(dev, cid)), timeout, interval=0.2, what=f"command {cid} {states}")

    def switch_and_see(self, state):
        """Asks for state; the command completes and the readings show it within 3 intervals
        of the meter's acknowledgement."""
        r = self.relay("rel-1", state, reason=f"integration test: relay {state}")
        self.assertEqual(r.status, 202, r)
        body = r.json()
        self.assertEqual(body["state"], "queued")
        self.assertRegex(body["command_id"], r"^[0-9a-f]{32}$")
        cid = body["command_id"]
        self.wait_state("rel-1", cid, ("acknowledged", "done"))
        acked = time.monotonic()

        # The interval the switch falls in is a mix; the one after it is all off (or on).
        def shows():
            d = self.device("rel-1")
            latest = d["latest"] or {}
            if d["relay"] != state or latest.get("relay") != state:
                return None
            if state == "off":
                return d if latest["current"] == 0 and latest.get("power_w", 0) == 0 else None
            return d if abs(latest["current"] - 10) < 0.1 else None
        wait_until(shows, 3 * INTERVAL_S + 1, interval=0.1,
                   what=f"readings show relay {state} within 3 intervals")
        self.assertLessEqual(time.monotonic() - acked, 3 * INTERVAL_S + 1)
        c = self.wait_state("rel-1", cid, ("done",))
        self.assertEqual(c["relay"], state)
        self.assertEqual(c["actor"], "op")
        self.assertEqual(c["reason"], f"integration test: relay {state}")
        self.assertGreaterEqual(c["sends"], 1)
        return cid

    def test_1_an_operator_cuts_and_restores_the_load(self):
        self.switch_and_see("off")
        # The meter's state file says off: a power cut keeps the load off.
        with open(self.meter.state_dir + "/rel-1.relay") as f:
            self.assertEqual(f.readline().strip(), "off")
        self.switch_and_see("on")
        self.assertEqual(self.device("rel-1")["relay"], "on")

    def test_2_requests_are_checked(self):
        self.assertEqual(self.relay("rel-1", "off", who="alice").status, 403)
        r = self.relay("rel-1", "open")
        self.assertEqual(r.status, 400, r)
        self.assertIn("state must be", r.json()["message"])
        r = self.call("POST", "/api/devices/rel-1/relay", {"state": "off"}, who="op")
        self.assertEqual(r.status, 400, r)
        self.assertIn("reason is required", r.json()["message"])
        r = self.relay("rel-1", "off", reason="")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.relay("nope", "off").status, 404)
        self.assertEqual(self.get("/api/devices/rel-1/commands/" + "0" * 32, "op").status, 404)
        # A user sees what happens to their meter, not who asked or why.
        r = self.relay("rel-2", "on", reason="check")
        self.assertEqual(r.status, 202, r)
        c = self.command("rel-2", r.json()["command_id"], who="alice")
        self.assertNotIn("actor", c)
        self.assertNotIn("reason", c)
        self.assertEqual(c["state"], "queued")  # rel-2 never came online

    def test_3_the_newest_intent_wins(self):
        a = self.relay("rel-2", "off", reason="first").json()["command_id"]
        b = self.relay("rel-2", "on", reason="second").json()["command_id"]
        ca, cb = self.command("rel-2", a), self.command("rel-2", b)
        self.assertEqual(ca["state"], "failed")
        self.assertEqual(ca["message"], f"superseded by {b}")
        self.assertEqual(cb["state"], "queued")

    def test_4_a_command_queued_while_meter_and_server_are_away_is_delivered(self):
        self.meter.stop()
        wait_until(lambda: self.device("rel-1")["status"] == "offline", 20, what="rel-1 offline")
        r = self.relay("rel-1", "off", reason="queued while away")
        self.assertEqual(r.status, 202, r)
        cid = r.json()["command_id"]
        time.sleep(1.5)
        self.assertEqual(self.command("rel-1", cid)["state"], "queued")
        self.srv.stop()
        self.srv.start()
        self.srv.wait_mqtt()
        type(self).tok = {u: self.srv.login(u) for u in ("op", "alice")}
        self.assertEqual(self.command("rel-1", cid)["state"], "queued")
        self.meter.start()
        c = self.wait_state("rel-1", cid, ("done",), timeout=30)
        self.assertGreaterEqual(c["sends"], 1)
        wait_until(lambda: (self.device("rel-1")["latest"] or {}).get("current") == 0, 5,
                   what="no current after the queued off")
        # A power cut: the meter comes back with its load still off.
        self.meter.kill()
        self.meter.start()
        time.sleep(3 * INTERVAL_S)
        d = self.device("rel-1")
        self.assertEqual(d["latest"]["relay"], "off")
        self.assertEqual(d["latest"]["current"], 0)
        self.switch_and_see("on")

    # --- the cut-off rules (default settings: cut at 0.00, low balance at 20.00) ---

    def charge(self, dev, fen):
        """What a billing run writes: a 'charge' ledger entry and the balance, in one
        transaction (balance = sum(ledger) holds at the commit)."""
        db = sqlite3.connect(sqlite_path(self.srv.db), timeout=10)
        try:
            with db:
                pk, bal = db.execute("SELECT id, balance FROM devices WHERE device_id = ?",
                                     (dev,)).fetchone()
                db.execute("INSERT INTO ledger (device_pk, kind, amount, balance_after, created_ms)"
                           " VALUES (?, 'charge', ?, ?, ?)",
                           (pk, -fen, bal - fen, int(time.time() * 1000)))
                db.execute("UPDATE devices SET balance = ? WHERE id = ?", (bal - fen, pk))
        finally:
            db.close()

    def events(self, dev):
        db = sqlite3.connect(sqlite_path(self.srv.db), timeout=10)
        try:
            return db.execute("SELECT kind, detail FROM device_events WHERE device_id = ? "
                              "ORDER BY id", (dev,)).fetchall()
        finally:
            db.close()

    def reading(self, dev, pred, what, timeout=3 * INTERVAL_S + 2):
        return wait_until(lambda: (lambda d: d if d["latest"] and pred(d) else None)(
            self.device(dev)), timeout, interval=0.1, what=what)

    def test_5_the_balance_cuts_and_a_recharge_restores_the_load(self):
        if self.backend != "sqlite":
            raise unittest.SkipTest("the stand-in for a billing run writes SQLite")
        meter = self.track(Meter(self.workdir, "rel-3", self.broker.url,
                                 adc="sim:v=230,i=10,realtime=1"))
        meter.start()
        self.reading("rel-3", lambda d: d["latest"].get("relay") == "on", "rel-3 reading", 20)
        r = self.call("POST", "/api/device/recharge/rel-3", {"amount": "5.00"}, who="op")
        self.assertEqual(r.status, 200, r)
        # A prepaid device now; 5.00 is under the low-balance level: one event.
        wait_until(lambda: self.events("rel-3"), 5, what="low-balance event")
        self.assertEqual(self.events("rel-3")[0][0], "balance.low")
        time.sleep(1)
        self.assertEqual(self.device("rel-3")["relay"], "on")

        self.charge("rel-3", 500)  # down to 0.00, the cut-off level
        self.reading("rel-3", lambda d: d["relay"] == "off" and d["latest"]["current"] == 0,
                     "rel-3 cut off", timeout=10)
        # A recharge that leaves it at or under 0.00 + 1.00 keeps the load off ...
        self.call("POST", "/api/device/recharge/rel-3", {"amount": "0.50"}, who="op")
        time.sleep(3 * INTERVAL_S)
        self.assertEqual(self.device("rel-3")["relay"], "off")
        # ... one above it restores it.
        self.call("POST", "/api/device/recharge/rel-3", {"amount": "1.00"}, who="op")
        self.reading("rel-3", lambda d: d["relay"] == "on" and abs(d["latest"]["current"] - 10) < 0.1,
                     "rel-3 restored", timeout=10)
        self.assertEqual(len(self.events("rel-3")), 1)  # never above 21.00: no second alert
        meter.stop()


if __name__ == "__main__":
    main()
