"""Device identity on MQTT, against a real mosquitto with the dynamic-security plugin
(docs/security.md): the audit of 2026-12-07's F1 and F2 reproduced with another meter's
credentials or none, and nothing forged is stored, deleted or run.

The server keeps the broker's accounts (one per device, from its database); meters log in
with --secret-file and take only the server's signed acks and commands. "auth-x" is a
registered device whose credentials the attacker holds (no meterd runs for it); "auth-c"
never runs a meter (its capture requests stay open to a forger, as meter-b2 in the audit).
"""
import json
import subprocess
import time

import os

from harness import (DEVICE_SECRETS, OPERATOR, IntegrationTest, Meter, api_get, client_args,
                     device_auth, http, main, mosquitto_sub, mqtt_publish, new_database,
                     wait_until)
from mqtt_accounts import broker_password, sign

DEVICES = {"auth-a": "op", "auth-b": "op", "auth-c": "op", "auth-x": "op", "auth-del": "op"}
INTERVAL = "0.5"


def now_ms():
    return int(time.time() * 1000)


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class MqttAuth(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = cls.server_fixture(OPERATOR, DEVICES, login=("op",))
        cls.token = cls.srv.tokens["op"]
        cls.url = cls.broker.url
        cls.secrets = dict(cls.srv.secrets)
        cls.attacker = device_auth("auth-x", cls.secrets["auth-x"])
        # Unacknowledged readings are resent after 5 s (not 30): the tests wait less.
        cls.meters = {d: cls.track(Meter(cls.workdir, d, cls.url, interval=INTERVAL,
                                         adc="sim:v=230,i=10", extra=["--ack-timeout", "5"]))
                      for d in ("auth-a", "auth-b", "auth-del")}
        for m in cls.meters.values():
            m.start()
        for d in cls.meters:
            wait_until(lambda: cls.status(d) == "online", 20, what=f"{d} online")

    # --- helpers ------------------------------------------------------------------------

    @classmethod
    def status(cls, device):
        r = http("GET", cls.srv.url(f"/api/devices/{device}"), token=cls.token)
        return r.json().get("status") if r.status == 200 else None

    def rows(self, device, limit=10000):
        return api_get(self.srv, self.token, f"/api/device/data/{device}?limit={limit}")

    def max_seq(self, device):
        rows = self.rows(device, 1)
        return rows[0]["seq"] if rows else 0

    def assert_contiguous(self, device):
        seqs = sorted(r["seq"] for r in self.rows(device))
        self.assertEqual(seqs, list(range(1, seqs[-1] + 1)), f"{device}: gaps in {seqs}")

    def connect(self, auth, topic, seconds=2):
        """mosquitto_sub as auth on topic for seconds: (exit code, messages, stderr). Exit 5 is
        a refused connection; 27 (time out) one that was let in."""
        r = subprocess.run(["mosquitto_sub", *client_args(self.url, auth), "-t", topic, "-v",
                            "-W", str(seconds)], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout.splitlines(), r.stderr

    def watch(self, topics, auth=None):
        """A mosquitto_sub on topics (the tools account: it sees what a meter answers)."""
        p = self.track_sub(mosquitto_sub(self.url, topics, "-v", auth=auth,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True))
        time.sleep(0.5)  # subscribed
        return p

    def track_sub(self, p):
        def stop():
            if p.poll() is None:
                p.kill()
            if p.stdout and not p.stdout.closed:
                p.communicate()
        self.addCleanup(stop)
        return p

    @staticmethod
    def lines_of(p, seconds):
        """What p printed within seconds (it is stopped)."""
        time.sleep(seconds)
        p.kill()
        out, _ = p.communicate()
        return out.splitlines()

    def meter_log(self, device):
        return self.meters[device].log(200000)

    def watermark(self, device):
        """Every seq up to this the meter took as acknowledged (its spool's "acked" file)."""
        with open(os.path.join(self.meters[device].spool_dir, "acked")) as f:
            for line in f:
                if line.startswith("watermark "):
                    return int(line.split()[1])
        raise AssertionError("no watermark")

    # --- anonymous clients and other meters' credentials ----------------------------------

    def test_01_no_credentials_or_wrong_ones_are_refused(self):
        code, _, err = self.connect("anonymous", "meters/#")
        self.assertEqual(code, 5, err)
        self.assertIn("not authorised", err)
        self.assertNotEqual(mqtt_publish(self.url, "meters/auth-a/telemetry", "{}",
                                         auth="anonymous", check=False), 0)
        # Another device's password, or the right one with another client id.
        code, _, _ = self.connect(("auth-a", broker_password(self.secrets["auth-b"]),
                                   "meterd-auth-a"), "meters/auth-a/cmd")
        self.assertEqual(code, 5)
        code, _, _ = self.connect(("auth-x", self.attacker[1], "meterd-auth-a"),
                                  "meters/auth-x/cmd")
        self.assertEqual(code, 5)
        # The attacker's own credentials are good for its own topics only.
        code, _, err = self.connect(self.attacker, "meters/auth-x/cmd", seconds=1)
        self.assertEqual(code, 27, err)

    def test_02_F2d_eavesdropping_is_refused(self):
        # The audit's `mosquitto_sub -t 'meters/#' -v`, as another meter: nothing comes.
        for topic in ("meters/#", "meters/+/telemetry", "meters/auth-a/telemetry",
                      "meters/auth-a/cmd", "meters/+/ack", "$CONTROL/dynamic-security/#",
                      "$share/g/meters/+/telemetry"):
            code, msgs, err = self.connect(self.attacker, topic, seconds=2)
            self.assertEqual(msgs, [], topic)
            self.assertIn("denied", err, topic)
        code, msgs, err = self.connect("anonymous", "meters/#")
        self.assertEqual((code, msgs), (5, []), err)

    def test_03_F1a_forged_future_seqs_store_nothing(self):
        cur = self.max_seq("auth-b")
        start = cur + 15
        forged = json.dumps([{"seq": s, "ts": iso_now(), "voltage": 1, "current": 99999,
                              "power_w": 9e9, "energy_wh": 1e12} for s in range(start, start + 10)])
        mqtt_publish(self.url, "meters/auth-b/telemetry", forged, auth=self.attacker)
        mqtt_publish(self.url, "meters/auth-b/telemetry", forged, auth="anonymous", check=False)
        # The real meter goes past them: every one of them is its own reading.
        wait_until(lambda: self.max_seq("auth-b") >= start + 12, 30, what="auth-b past the range")
        rows = {r["seq"]: r for r in self.rows("auth-b")}
        for s in range(start, start + 10):
            self.assertAlmostEqual(rows[s]["voltage"], 230, delta=1, msg=rows[s])
        self.assertFalse([r for r in rows.values() if r["current"] > 1000])
        self.assert_contiguous("auth-b")

    def test_04_F1b_a_forged_retained_status_is_refused(self):
        mqtt_publish(self.url, "meters/auth-a/status",
                     json.dumps({"status": "offline", "boot": 1, "ts": iso_now()}), retain=True,
                     auth=self.attacker)
        time.sleep(2)
        self.assertEqual(self.status("auth-a"), "online")
        # The broker keeps the meter's own retained status, not the forged one.
        code, msgs, _ = self.connect(None, "meters/auth-a/status", seconds=1)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertIn('"status":"online"', msgs[0])

    def test_05_F1c_a_forged_capture_answer_completes_nothing(self):
        # The command service sends to meters that are online: auth-c says it is, with its own
        # credentials (it runs no meterd here).
        mqtt_publish(self.url, "meters/auth-c/status",
                     json.dumps({"status": "online", "boot": 1, "ts": iso_now()}),
                     auth=device_auth("auth-c", self.secrets["auth-c"]))
        wait_until(lambda: self.status("auth-c") == "online", 10, what="auth-c online")
        # The request id leaks (read by the tools account, standing for anything that shows
        # it); the answer comes from another meter's credentials.
        cmds = self.watch(["meters/auth-c/cmd"])
        r = http("POST", self.srv.url("/api/devices/auth-c/captures"), {"duration_ms": 500},
                 token=self.token)
        self.assertEqual(r.status, 202, r)
        capture_id = r.json()["capture_id"]
        line = wait_until(lambda: cmds.stdout.readline(), 10, what="the capture command")
        cmd = json.loads(line.split(" ", 1)[1])
        self.assertIn("sig", cmd)  # the server signs its commands
        # The attacker cannot even subscribe to auth-c's commands.
        code, msgs, err = self.connect(self.attacker, "meters/auth-c/cmd", seconds=1)
        self.assertIn("denied", err)
        forged = {"id": cmd["id"], "rate_hz": 6400, "start": iso_now(), "samples": 1,
                  "encoding": "f32le-base64", "v": "AAAAAA==", "i": "AAAAAA=="}
        mqtt_publish(self.url, "meters/auth-c/capture", json.dumps(forged), auth=self.attacker)
        mqtt_publish(self.url, "meters/auth-c/reply",
                     json.dumps({"id": cmd["id"], "cmd": "capture", "status": "ok"}),
                     auth=self.attacker)
        time.sleep(2)
        cap = api_get(self.srv, self.token, f"/api/devices/auth-c/captures/{capture_id}")
        self.assertEqual(cap["state"], "pending", cap)

    def test_06_F2c_the_servers_client_id_cannot_be_taken_over(self):
        mark = len(self.srv.log_since_start())
        for auth in ((self.attacker[0], self.attacker[1], self.srv.client_id),
                     ("auth-x", "wrong", self.srv.client_id)):
            code, msgs, err = self.connect(auth, "meters/+/telemetry", seconds=2)
            self.assertEqual((code, msgs), (5, []), err)
        code, msgs, err = self.connect("anonymous", "meters/+/telemetry")
        self.assertEqual((code, msgs), (5, []), err)
        time.sleep(1)
        self.assertNotIn("connection lost", self.srv.log_since_start()[mark:])
        self.assertEqual(http("GET", self.srv.url("/api/health")).json()["mqtt"], "connected")

    # --- acks and commands: the broker's ACL, then the meter's signature check --------------

    def test_07_F2a_forged_acks_delete_nothing_from_a_meter(self):
        self.assertEqual(self.srv.stop(), 0, self.srv.log())
        time.sleep(3)  # readings wait unacknowledged in the meters' spools
        before = self.watermark("auth-b")
        ack = json.dumps({"seqs": [[1, 1000000]]}, separators=(",", ":"))
        topic = "meters/auth-b/ack"
        # Another meter's credentials (the ACL drops it); the tools account, which the ACL lets
        # through, unsigned and signed with another device's key (the meter refuses both).
        mqtt_publish(self.url, topic, ack, qos=0, auth=self.attacker)
        mqtt_publish(self.url, topic, ack, qos=0)
        mqtt_publish(self.url, topic, sign(self.secrets["auth-a"], topic, ack), qos=0)
        mqtt_publish(self.url, topic, sign(self.secrets["auth-b"], "meters/auth-a/ack", ack),
                     qos=0)
        time.sleep(2)
        # The meter still holds everything the server has not acknowledged.
        self.assertEqual(self.watermark("auth-b"), before)
        self.srv.start()
        self.srv.wait_mqtt()
        last = self.max_seq("auth-b")
        wait_until(lambda: self.max_seq("auth-b") > last + 6, 30, what="auth-b flowing again")
        self.assert_contiguous("auth-b")
        log = self.meter_log("auth-b")
        self.assertIn("ack refused", log)

    def test_08_F2b_commands_from_others_are_not_run(self):
        replies = self.watch(["meters/auth-a/reply", "meters/auth-a/capture"])
        cmd = json.dumps({"id": "attacker1", "cmd": "capture", "duration_ms": 10000,
                          "ts": iso_now()})
        mqtt_publish(self.url, "meters/auth-a/cmd", cmd, auth=self.attacker)
        mqtt_publish(self.url, "meters/auth-a/cmd", cmd.replace("attacker1", "attacker2"))
        self.assertEqual(self.lines_of(replies, 3), [])
        wait_until(lambda: "commands refused unanswered: 1 without the server's signature"
                   in self.meter_log("auth-a"), 70, what="the refusal logged")

    def test_09_F7_forged_replayed_and_badly_dated_commands_are_refused(self):
        secret, topic = self.secrets["auth-a"], "meters/auth-a/cmd"

        def command(cid, ts):
            return sign(secret, topic, f'{{"id":"{cid}","cmd":"capture","duration_ms":100,'
                                       f'"ts":{ts}}}')

        replies = self.watch(["meters/auth-a/reply"])
        fresh = command("signed-1", now_ms())
        mqtt_publish(self.url, topic, fresh)
        mqtt_publish(self.url, topic, fresh)  # replayed: no second answer
        mqtt_publish(self.url, topic, command("ahead-1", '"2099-01-01T00:00:00Z"'))
        mqtt_publish(self.url, topic, command("min-1", "-9223372036854775808"))
        mqtt_publish(self.url, topic, command("forged-1", now_ms())[:-5] + '00"}')
        answers = {}
        for line in self.lines_of(replies, 4):
            body = json.loads(line.split(" ", 1)[1])
            answers.setdefault(body["id"], []).append(body)
        self.assertEqual([a["status"] for a in answers["signed-1"]], ["ok"])
        self.assertEqual(answers["ahead-1"][0]["status"], "error")
        self.assertIn("ahead of the meter's clock", answers["ahead-1"][0]["message"])
        self.assertIn("command expired", answers["min-1"][0]["message"])
        self.assertNotIn("forged-1", answers)
        self.assertEqual(len(answers), 3, answers)

    def test_10_a_second_server_with_another_database_cannot_ack(self):
        """The audit's accidental F2a: a second server (another database, in which auth-b has
        another secret) stores and acks what it receives; the meter refuses its acks and keeps
        the readings for the real server, which misses none."""
        db2 = new_database(self.backend, self.db_name("_other"), self.workdir)
        other = self.new_server(db2, self.url, extra_args=("--mqtt-provision", "false"))
        other.provision(OPERATOR, {"auth-b": "op"})
        DEVICE_SECRETS["auth-b"] = self.secrets["auth-b"]  # the meter keeps its own
        self.assertEqual(self.srv.stop(), 0, self.srv.log())
        time.sleep(2)  # the last acks of the real server are in
        before = self.watermark("auth-b")
        other.start()
        other.wait_mqtt()
        tok = other.login("op")
        wait_until(lambda: api_get(other, tok, "/api/stats")["writer"]["acks_sent"] >= 5, 30,
                   what="the other server acking")
        stored_there = api_get(other, tok, "/api/stats")["mqtt"]["readings_stored"]
        self.assertGreater(stored_there, 0)
        time.sleep(2)
        self.assertEqual(self.watermark("auth-b"), before, "the meter took the other's acks")
        self.assertEqual(other.stop(), 0, other.log())
        self.srv.start()
        self.srv.wait_mqtt()
        last = self.max_seq("auth-b")
        wait_until(lambda: self.max_seq("auth-b") > last + 6, 40, what="auth-b flowing again")
        self.assert_contiguous("auth-b")
        wait_until(lambda: self.watermark("auth-b") > last, 30, what="the real server's acks")

    # --- accounts follow the database -----------------------------------------------------

    def test_11_a_device_added_while_running_connects_within_seconds(self):
        # Through the API (this process nudges its provisioning) ...
        r = http("POST", self.srv.url("/api/devices"), {"device_id": "auth-new", "owner": "op"},
                 token=self.token)
        self.assertEqual(r.status, 201, r)
        t0 = time.monotonic()
        m = self.track(Meter(self.workdir, "auth-new", self.url, interval=INTERVAL,
                             secret=r.json()["secret"]))
        m.start()
        wait_until(lambda: self.status("auth-new") == "online", 10, what="auth-new online")
        self.assertLess(time.monotonic() - t0, 10)
        # ... and through the CLI of another process (the change log).
        secret = self.srv.add_device("auth-cli", "op")
        auth = device_auth("auth-cli", secret)
        wait_until(lambda: self.connect(auth, "meters/auth-cli/cmd", seconds=1)[0] == 27, 10,
                   interval=0.2, what="auth-cli's account")

    def test_12_a_deleted_device_is_refused(self):
        auth = device_auth("auth-del", self.secrets["auth-del"])
        self.assertEqual(self.status("auth-del"), "online")
        before = self.lines_of(self.watch(["meters/auth-del/telemetry"]), 2)
        self.assertGreaterEqual(len(before), 2, "auth-del publishing")
        t0 = time.monotonic()
        self.srv.cli("device", "delete", "auth-del")
        wait_until(lambda: "delete account auth-del" in self.srv.log_since_start(), 10,
                   interval=0.2, what="the account deleted")
        self.assertLess(time.monotonic() - t0, 5)
        # Its credentials let no one in (asked only now: a login that still worked would take
        # the running meter's session over) ...
        self.assertEqual(self.connect(auth, "meters/auth-del/cmd", seconds=1)[0], 5)
        # ... and the running meter was put off and cannot come back: nothing more from it.
        time.sleep(1)
        self.assertEqual(self.lines_of(self.watch(["meters/auth-del/telemetry"]), 5), [])
        self.assertIn("lost; reconnecting", self.meter_log("auth-del"))
        r = http("GET", self.srv.url("/api/devices/auth-del"), token=self.token)
        self.assertEqual(r.status, 404)
        stats = api_get(self.srv, self.token, "/api/stats")["broker"]
        self.assertTrue(stats["provisioning"])
        self.assertGreaterEqual(stats["deleted"], 1)
        self.assertEqual(stats["errors"], 0)

    def test_13_nothing_forged_reached_the_database(self):
        s = api_get(self.srv, self.token, "/api/stats")["mqtt"]
        self.assertEqual((s["invalid"], s["bad_topic"]), (0, 0), s)
        for d in ("auth-a", "auth-b"):
            self.assertFalse([r for r in self.rows(d) if r["voltage"] < 200], d)
        # The meters took every ack of the real server: in their logs, none refused but the
        # forgeries above (each meter's counters line shows them).
        stop_lines = [l for l in self.meter_log("auth-a").splitlines() if "refused_acks" in l]
        self.assertTrue(stop_lines)
        self.assertRegex(stop_lines[-1], r"refused_acks 0\b")


if __name__ == "__main__":
    main()
