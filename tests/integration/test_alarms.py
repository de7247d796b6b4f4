"""Alarms end to end: a real meterd whose simulated voltage swells (sim:v=250) -> mosquitto ->
meter-server (committed readings judged by the alarm service) -> an over-voltage alarm in
GET /api/alarms and on the live stream (server-sent events), sent to the bound user as a
WeChat subscribe message (a local stand-in that checks the body by WeChat's rules, busy once
so the message is tried again), acknowledged by an operator with a note, and cleared when the
meter comes back with normal values. A meter that goes silent is offline until it returns.
Users see only their devices' alarms, on the list and on the stream.
"""
import http.client
import json
import os
import secrets
import threading
import time

from harness import IntegrationTest, Meter, main, wait_until, write_secret_file
from wechat_standin import code_for
from wechat_subscribe_standin import SubscribeStandin

os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

APPID = "wxa1b2c3d4e5f60719"
TEMPLATE = "TPL_alarm_" + secrets.token_hex(4)
OFFLINE_MIN = 0.1  # 6 s without a reading


class Stream:
    """GET /api/alarms/stream read on a thread: its events (parsed) and comments."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/alarms/stream", headers={"Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        self.events, self.comments, self.lock = [], [], threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        event = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                with self.lock:
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif line.startswith("event: "):
                        event["event"] = line[7:]
                    elif line.startswith("id: "):
                        event["id"] = line[4:]
                    elif line == "" and event:
                        self.events.append(event)
                        event = {}
        except (OSError, ValueError, AttributeError):  # AttributeError: closed under us
            return

    def find(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]

    def close(self):
        self.conn.close()


class Alarms(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        secret = "appsecret" + secrets.token_hex(16)
        cls.wx = SubscribeStandin(APPID, secret, templates=[TEMPLATE],
                                  subscribed=["oAliceAlarm01"]).start()
        wechat = ["--wechat-appid", APPID, "--wechat-secret-file",
                  write_secret_file(cls.path("wechat.secret"), secret + "\n"),
                  "--wechat-api-base", cls.wx.base]
        cls.srv = cls.server_fixture(
            {"op": "operator", "alice": "user", "bob": "user"}, {"alm-1": "alice", "alm-2": "bob"},
            login=("op", "alice", "bob"),
            extra_args=wechat + ["--alarm-wechat-template", TEMPLATE,
                                 "--alarm-wechat-state", "developer",
                                 "--alarm-sweep-ms", "200", "--alarm-keepalive-s", "1",
                                 "--alarm-offline-min", str(OFFLINE_MIN),
                                 "--alarm-min-duration-s", "3"])
        cls.tok = cls.srv.tokens
        r = cls.call("POST", "/api/me/wechat", {"code": code_for("oAliceAlarm01")}, who="alice")
        assert r.status in (200, 201), r
        cls.streams = {who: Stream(cls.srv.port, cls.tok[who]) for who in ("op", "bob")}
        # A client that goes away at once: the server notices when it next writes to it.
        Stream(cls.srv.port, cls.tok["op"]).close()
        cls.meter = None

    @classmethod
    def tearDownClass(cls):
        # The server stops (and must exit 0) with its streams still open: they end first.
        super().tearDownClass()
        for s in cls.streams.values():
            s.close()
        cls.wx.stop()

    @classmethod
    def start_meter(cls, volts):
        if cls.meter:
            cls.meter.stop()
        cls.meter = cls.track(Meter(cls.workdir, "alm-1", cls.broker.url,
                                    adc=f"sim:v={volts},i=5,realtime=1"))
        cls.meter.start()

    def alarms(self, who, query=""):
        r = self.get(f"/api/alarms{query}", who)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "success")
        return body["alarms"]

    def one(self, kind, state, who="op", device="alm-1", timeout=40):
        def found():
            for a in self.alarms(who, f"?device={device}"):
                if a["kind"] == kind and a["state"] == state:
                    return a
            return None
        return wait_until(found, timeout, interval=0.3, what=f"{kind} {state} on {device}")

    def test_1_rules_of_a_device_can_be_read_and_set(self):
        r = self.get("/api/devices/alm-1/alarm-rules", "alice")
        self.assertEqual(r.status, 200, r)
        rules = {x["kind"]: x for x in r.json()["rules"]}
        self.assertAlmostEqual(rules["voltage.over"]["limit"], 235.4)  # 220 V + 7 %
        self.assertAlmostEqual(rules["voltage.under"]["limit"], 198.0)  # 220 V - 10 %
        self.assertEqual(rules["voltage.over"]["min_duration_s"], 3)
        self.assertIs(rules["current.over"]["enabled"], False)  # no rated current
        self.assertIsNone(rules["voltage.over"]["override"])
        body = {"rules": {"voltage.over": {"min_duration_s": 2, "hysteresis": 3}}}
        self.assertEqual(self.call("PUT", "/api/devices/alm-1/alarm-rules", body,
                                   who="alice").status, 403)
        self.assertEqual(self.call("PUT", "/api/devices/alm-2/alarm-rules", body,
                                   who="alice").status, 404)
        for bad in ({"rules": {"nope": {}}}, {"rules": {"voltage.over": {"limit": "x"}}},
                    {"rules": {"voltage.over": {"min_duration_s": -1}}}, {"other": 1}):
            r = self.call("PUT", "/api/devices/alm-1/alarm-rules", bad, who="op")
            self.assertEqual(r.status, 400, (bad, r))
        r = self.call("PUT", "/api/devices/alm-1/alarm-rules", body, who="op")
        self.assertEqual(r.status, 200, r)
        rules = {x["kind"]: x for x in r.json()["rules"]}
        self.assertEqual(rules["voltage.over"]["min_duration_s"], 2)
        self.assertEqual(rules["voltage.over"]["hysteresis"], 3)
        self.assertEqual(rules["voltage.over"]["override"], {"min_duration_s": 2, "hysteresis": 3})

    def test_2_a_swell_raises_an_over_voltage_alarm_seen_live_and_on_wechat(self):
        self.wx.busy_next = 1  # WeChat busy once: the message is tried again
        self.start_meter(250)
        a = self.one("voltage.over", "raised")
        self.assertEqual(a["severity"], "major")
        self.assertAlmostEqual(a["limit"], 235.4, places=3)
        self.assertGreater(a["value"], 245)
        self.assertLess(a["value"], 255)
        self.assertEqual(a["unit"], "V")
        self.assertIsNone(a["cleared_at"])
        self.assertIsNone(a["acknowledged_by"])
        type(self).alarm = a
        # The owner sees it; the other user does not, nor may look it up.
        self.assertIn(a["id"], [x["id"] for x in self.alarms("alice", "?state=raised")])
        self.assertNotIn(a["id"], [x["id"] for x in self.alarms("bob")])
        self.assertEqual(self.get(f"/api/alarms/{a['id']}", "bob").status, 404)
        self.assertEqual(self.get("/api/alarms?device=alm-1", "bob").status, 404)
        self.assertEqual(self.get(f"/api/alarms/{a['id']}", "alice").json()["alarm"]["id"], a["id"])
        # The live stream of staff carried it.
        ev = wait_until(lambda: self.streams["op"].find(
            lambda e: e["data"]["id"] == a["id"] and e["data"]["state"] == "raised"), 10,
            what="raised on the stream")
        self.assertEqual(ev[0]["event"], "alarm")
        self.assertEqual(ev[0]["id"], str(a["id"]))
        # WeChat: a token from the app's id and secret, then the message to alice's openid.
        msgs = wait_until(lambda: [m for m in self.wx.messages
                                   if m["page"] == f"pages/alarms/alarms?id={a['id']}"], 20,
                          what="the subscribe message")
        m = msgs[0]
        self.assertEqual(m["touser"], "oAliceAlarm01")
        self.assertEqual(m["template_id"], TEMPLATE)
        self.assertEqual(m["miniprogram_state"], "developer")
        self.assertEqual(m["data"]["thing1"]["value"], "alm-1")
        self.assertEqual(m["data"]["thing2"]["value"], "over-voltage")
        self.assertRegex(m["data"]["time3"]["value"], r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
        self.assertRegex(m["data"]["thing4"]["value"], r"^2[45]\d\.\dV > 235\.4V$")
        self.assertGreaterEqual(len(self.wx.tokens), 1)
        self.assertTrue(any(code == -1 for code, _ in self.wx.refused), self.wx.refused)
        self.assertFalse([r for r in self.wx.refused if r[0] != -1], self.wx.refused)

    def test_3_an_operator_acknowledges_with_a_note(self):
        a = self.alarm
        path = f"/api/alarms/{a['id']}/ack"
        self.assertEqual(self.call("POST", path, {"note": "x"}, who="alice").status, 403)
        self.assertEqual(self.call("POST", path, {"bogus": 1}, who="op").status, 400)
        r = self.call("POST", path, {"note": "crew on the way"}, who="op")
        self.assertEqual(r.status, 200, r)
        got = r.json()["alarm"]
        self.assertEqual(got["state"], "acknowledged")
        self.assertEqual(got["acknowledged_by"], "op")
        self.assertEqual(got["note"], "crew on the way")
        self.assertIsNotNone(got["acknowledged_at"])
        self.assertEqual(self.call("POST", path, {}, who="op").status, 409)
        self.assertEqual(self.call("POST", "/api/alarms/999999/ack", {}, who="op").status, 404)
        wait_until(lambda: self.streams["op"].find(
            lambda e: e["data"]["id"] == a["id"] and e["data"]["state"] == "acknowledged"), 10,
            what="acknowledged on the stream")

    def test_4_normal_values_clear_it(self):
        self.start_meter(220)
        c = self.one("voltage.over", "cleared")
        self.assertEqual(c["id"], self.alarm["id"])
        self.assertEqual(c["acknowledged_by"], "op")
        self.assertIsNotNone(c["cleared_at"])
        wait_until(lambda: self.streams["op"].find(
            lambda e: e["data"]["id"] == c["id"] and e["data"]["state"] == "cleared"), 10,
            what="cleared on the stream")
        still_open = self.alarms("op", "?device=alm-1&state=raised,acknowledged&"
                                           "since=2000-01-01T00:00:00Z")
        self.assertEqual([x for x in still_open if x["kind"] == "voltage.over"], [])
        self.assertEqual([x for x in self.alarms("op", "?device=alm-1&state=open")
                          if x["kind"] == "voltage.over"], [])

    def test_5_a_silent_meter_is_offline_until_it_returns(self):
        self.meter.stop()
        a = self.one("offline", "raised", timeout=OFFLINE_MIN * 60 + 20)
        self.assertEqual(a["severity"], "critical")
        self.start_meter(220)
        c = self.one("offline", "cleared", timeout=30)
        self.assertEqual(c["id"], a["id"])

    def test_6_filters_and_the_streams_visibility(self):
        for q in ("?state=bogus", "?severity=huge", "?since=yesterday", "?limit=0",
                  "?limit=5000", "?before=x"):
            self.assertEqual(self.get(f"/api/alarms{q}", "op").status, 400, q)
        page = self.alarms("op", "?limit=1")
        self.assertEqual(len(page), 1)
        r = self.get("/api/alarms?limit=1", "op").json()
        rest = self.alarms("op", f"?before={r['next_before']}&limit=1000")
        self.assertNotIn(page[0]["id"], [x["id"] for x in rest])
        # The total counts every page; a filter counts only what passes it, and a user only
        # the alarms of their own devices.
        self.assertEqual(r["total"], 1 + len(rest))
        crit = self.get("/api/alarms?severity=critical&limit=1", "op").json()
        self.assertEqual(crit["total"], len(self.alarms("op", "?severity=critical&limit=1000")))
        self.assertLess(crit["total"], r["total"] + 1)
        mine = self.get("/api/alarms?limit=1", "bob").json()
        self.assertEqual(mine["total"], len(self.alarms("bob", "?limit=1000")))
        self.assertTrue(self.alarms("op", "?severity=critical"))
        self.assertFalse([x for x in self.alarms("op", "?severity=major")
                          if x["severity"] != "major"])
        self.assertEqual(self.alarms("op", "?since=2999-01-01T00:00:00Z"), [])
        # bob's stream opened at once and carried nothing of alice's device.
        self.assertFalse(self.streams["bob"].find(lambda e: e["data"]["device_id"] == "alm-1"))
        self.assertTrue(self.streams["op"].find(lambda e: e["data"]["device_id"] == "alm-1"))
        stats = self.get("/api/stats", "op").json()["alarms"]
        self.assertIs(stats["running"], True)
        self.assertGreaterEqual(stats["raised"], 2)  # over-voltage (and swell), offline
        self.assertGreaterEqual(stats["cleared"], 2)
        self.assertGreater(stats["readings_judged"], 5)
        self.assertEqual(stats["streams"], 2)  # op's and bob's; the one that left is gone
        self.assertGreaterEqual(stats["wechat_sent"], 1)
        self.assertEqual(stats["wechat_dropped"], 0)
        # A user without a token gets no stream; quiet streams get keep-alives.
        self.assertEqual(self.get("/api/alarms/stream").status, 401)
        wait_until(lambda: ": keep-alive" in self.streams["bob"].comments, 5, what="keep-alive")
        self.assertEqual(self.streams["op"].resp.getheader("Content-Type"), "text/event-stream")


if __name__ == "__main__":
    main()
