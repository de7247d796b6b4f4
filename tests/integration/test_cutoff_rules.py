"""The cut-off rules end to end, billed for real: meterd's simulated load -> mosquitto ->
meter-server bills it at a (very dear) tariff -> the balance falls through the cut-off level ->
the rules hold the cut while the device's no-cut-off time (a holiday of the site calendar,
its quiet hours) lasts or while it is protected, and cut as soon as none of those applies;
the relay goes off at the meter and the readings show no current; a recharge restores it.
What the rules did is visible through the API: the device's commands and events.
"""
import datetime
import time
import zoneinfo

from harness import IntegrationTest, Meter, main, wait_until

INTERVAL_S = 1.0
ZONE = "Asia/Shanghai"
HOLD_S = 4  # how long a held cut is watched not to happen (two rounds of the rules and more)


class CutoffRules(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user"}, {"cut-1": "alice", "cut-2": "alice"},
                                     login=("op", "alice"), broker="private",
                                     extra_args=("--timezone", ZONE))
        cls.tok = cls.srv.tokens

    def device(self, dev="cut-1"):
        r = self.get(f"/api/devices/{dev}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def put(self, path, body, who="op"):
        return self.call("PUT", path, body, who=who)

    def local_now(self):
        return datetime.datetime.now(zoneinfo.ZoneInfo(ZONE))

    def test_1_the_site_calendar_and_the_park_tariff_are_checked(self):
        for body, what in (({"holidays": "2027-01-01"}, "must be an array"),
                           ({"holidays": ["2027-02-30"]}, "not a date"),
                           ({"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}, "twice"),
                           ({"holidays": [20270101]}, "must be a date"),
                           ({"weekends": []}, "unknown field")):
            r = self.put("/api/site/calendar", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(what, r.json()["message"])
        self.assertEqual(self.put("/api/site/calendar", {"holidays": []}, who="alice").status, 403)
        r = self.put("/api/site/calendar", {"holidays": ["2027-10-01", "2027-01-01"],
                                            "workdays": ["2027-02-07"]})
        self.assertEqual(r.status, 200, r)
        got = self.get("/api/site/calendar", "op").json()
        self.assertEqual(got["holidays"], ["2027-01-01", "2027-10-01"])
        self.assertEqual(got["workdays"], ["2027-02-07"])

        self.assertEqual(self.get("/api/site/tariff", "op").status, 404)
        r = self.put("/api/site/tariff", {"periods": [{"from": "00:00", "price": "0.5000"}],
                                          "effective_from": "2026-01-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        # A device without a tariff of its own is billed at the park's.
        t = self.get("/api/devices/cut-1/tariff", "op").json()
        self.assertEqual(t["periods"][0]["price"], "0.5000")
        self.assertEqual(self.get("/api/site/tariff", "alice").status, 403)

    def test_2_billing_settings_take_the_no_cutoff_time(self):
        # (cut-2: settings of its own make a device prepaid, and cut-1 must not be cut early)
        r = self.put("/api/devices/cut-2/billing", {"no_cutoff_hours": "22:00-08:00",
                                                    "no_cutoff_weekends": True})
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["no_cutoff_hours"], "22:00-08:00")
        self.assertTrue(b["no_cutoff_weekends"])
        self.assertFalse(b["no_cutoff_holidays"])
        for body in ({"no_cutoff_hours": "22:00"}, {"no_cutoff_hours": "25:00-08:00"},
                     {"no_cutoff_hours": 2200}, {"no_cutoff_weekends": "yes"}):
            r = self.put("/api/devices/cut-2/billing", body)
            self.assertEqual(r.status, 400, (body, r))
        r = self.put("/api/devices/cut-2/billing", {"no_cutoff_hours": "", "no_cutoff_weekends": False})
        self.assertEqual(r.json()["no_cutoff_hours"], "")
        self.assertEqual(self.get("/api/devices/cut-2/billing", "op").json()["no_cutoff_hours"], "")
        self.assertEqual(self.put("/api/devices/cut-2/billing", {"protected": True},
                                  who="alice").status, 403)

    def assert_not_cut(self, why):
        """The balance is at or below the cut-off level, and for HOLD_S the relay stays on and no
        cut-off command is asked for."""
        wait_until(lambda: self.device()["balance"] <= 0, 30, interval=0.2,
                   what=f"balance at or below 0.00 ({why})")
        end = time.monotonic() + HOLD_S
        while time.monotonic() < end:
            d = self.device()
            self.assertEqual(d["relay"], "on", why)
            time.sleep(0.3)
        cmds = self.get("/api/devices/cut-1/commands", "op").json()["commands"]
        self.assertFalse([c for c in cmds if c["state"] in ("queued", "sent", "acknowledged")
                          and c["relay"] == "off"], why)

    def test_3_a_due_cutoff_waits_for_the_no_cutoff_time_then_happens(self):
        meter = self.track(Meter(self.workdir, "cut-1", self.broker.url,
                                 adc="sim:v=230,i=40,realtime=1"))
        meter.start()
        wait_until(lambda: (self.device()["latest"] or {}).get("relay") == "on", 20,
                   what="cut-1 reading")
        # 100 yuan/kWh (the dearest price taken) at 9.2 kW: about 26 fen a second.
        r = self.put("/api/devices/cut-1/tariff", {"periods": [{"from": "00:00", "price": "100"}]})
        self.assertEqual(r.status, 200, r)
        today = self.local_now().date().isoformat()
        self.assertEqual(self.put("/api/site/calendar", {"holidays": [today]}).status, 200)
        self.assertEqual(self.put("/api/devices/cut-1/billing",
                                  {"no_cutoff_holidays": True}).status, 200)
        r = self.call("POST", "/api/device/recharge/cut-1", {"amount": "1.50"}, who="op")
        self.assertEqual(r.status, 200, r)

        # Today is a holiday of the site calendar: held.
        self.assert_not_cut("a holiday")
        # Protected (保电): held, whatever the calendar says.
        self.assertEqual(self.put("/api/devices/cut-1/billing", {"protected": True}).status, 200)
        self.assertEqual(self.put("/api/site/calendar", {"holidays": []}).status, 200)
        self.assert_not_cut("a protected device")
        # Quiet hours around the present (the night, as far as the rules can tell): held.
        now = self.local_now()
        start = (now - datetime.timedelta(minutes=5)).strftime("%H:%M")
        end = (now + datetime.timedelta(minutes=30)).strftime("%H:%M")
        self.assertEqual(self.put("/api/devices/cut-1/billing",
                                  {"protected": False, "no_cutoff_hours": f"{start}-{end}"}).status,
                         200)
        self.assert_not_cut("no-cut-off hours")

        # The morning: the quiet hours end, and the load is cut within 3 intervals of the rules'
        # next round (every 2 s).
        self.assertEqual(self.put("/api/devices/cut-1/billing", {"no_cutoff_hours": ""}).status, 200)
        t0 = time.monotonic()
        wait_until(lambda: (lambda d: d if d["relay"] == "off" and d["latest"]["relay"] == "off"
                            and d["latest"]["current"] == 0 else None)(self.device()),
                   2 + 3 * INTERVAL_S + 2, interval=0.1, what="cut off at the meter")
        cut_s = time.monotonic() - t0
        self.assertLessEqual(cut_s, 2 + 3 * INTERVAL_S + 2)
        cmds = self.get("/api/devices/cut-1/commands", "op").json()["commands"]
        cut = [c for c in cmds if c["actor"] == "rule:cutoff" and c["relay"] == "off"]
        self.assertEqual(len(cut), 1, cmds)
        self.assertIn("at or below the cut-off level 0.00", cut[0]["reason"])
        # The balance went into credit while held: a recharge that lifts it above 0.00 + 1.00
        # restores the load.
        owed = -self.device()["balance"]
        r = self.call("POST", "/api/device/recharge/cut-1", {"amount": f"{owed + 20:.2f}"}, who="op")
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: (lambda d: d if d["relay"] == "on" and d["latest"]["relay"] == "on"
                            and d["latest"]["current"] > 30 else None)(self.device()),
                   2 + 3 * INTERVAL_S + 2, interval=0.1, what="restored at the meter")
        meter.stop()

        # What the rules noticed, through the API: the low balance, raised once.
        ev = self.get("/api/devices/cut-1/events", "op").json()["events"]
        self.assertEqual([e["kind"] for e in ev if e["kind"] == "balance.low"], ["balance.low"], ev)
        self.assertEqual(self.get("/api/devices/cut-1/events?limit=0", "op").status, 400)
        # The tenant sees their meter's commands, not who asked or why.
        mine = self.get("/api/devices/cut-1/commands", "alice").json()["commands"]
        self.assertTrue(mine)
        self.assertNotIn("actor", mine[0])
        print(f"cut at the meter {cut_s:.1f} s after the no-cut-off hours ended")


if __name__ == "__main__":
    main()
