"""Fault run: nothing a meter measured is lost or stored twice, whatever fails.

Real binaries on loopback: meterd (sim ADC, one state dir each; some over MQTT,
some over the TCP terminal link, meterd --link), a private mosquitto with
persistence, a private MariaDB and meter-server (with its terminal gateway). Each part is
killed in turn (kill -9) and restarted while the meters keep measuring, and
the broker is frozen (SIGSTOP) for 10 s. Then the meters stop cleanly and,
once the server has stored everything, the database must hold for every
device exactly the seqs 1..N, N being the last seq in the meter's state
file, with energy counters that never decrease along seq. A second run puts
two meter-servers on one shared subscription and kills one of them.

The mosquitto and MariaDB here are this test's own (the fixture's are shared
with other tests and cannot be killed). See docs/faults.md.
"""
import os
import re
import signal
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from harness import (OPERATOR, Broker, IntegrationTest, Meter, PrivateMariaDB,  # noqa: E402
                     api_get, free_port, main, wait_until, wait_until_none_left)

METERS = 20                # meters in the single-server run
LINK_METERS = 4            # of them, over the TCP terminal link (meterd --link) instead of MQTT
SHARED_METERS = 10         # meters in the shared-subscription run
INTERVAL = "0.2"           # seconds per reading
ACK_TIMEOUT = "2"          # seconds before a meter resends what was not acknowledged
OUTAGE_S = 3               # how long a killed part stays down
BROKER_OUTAGE_S = 25       # the broker longer: each meter's backlog outgrows one resend batch
FREEZE_S = 10              # how long the broker is frozen (SIGSTOP)
CATCH_UP_S = 60            # deadline for the pipeline to get past a fault
DRAIN_S = 60               # deadline for the server to store everything at the end
SHARE_GROUP = "fault"


class FaultBroker(Broker):
    """The harness's private mosquitto, with room for a long outage's messages."""

    def __init__(self, workdir):
        super().__init__(workdir)
        with open(self.conf, "a") as f:
            f.write("max_queued_messages 200000\nmax_inflight_messages 200\n")

    def freeze(self, seconds):
        """SIGSTOP for seconds, then SIGCONT: unreachable, with every socket left open."""
        self.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a failure left it frozen
        return super().stop(sig)


def read_state_seq(path, device_id):
    """The last seq meterd handed out, from its state file (format: meter/state.h)."""
    with open(path, "rb") as f:
        text = f.read().decode("ascii")
    body, _, last = text.rstrip("\n").rpartition("\n")
    body += "\n"
    assert last.startswith("crc32 "), f"{path}: no CRC line"
    assert int(last[6:], 16) == zlib.crc32(body.encode()), f"{path}: CRC mismatch"
    fields = dict(line.partition(" ")[::2] for line in body.splitlines()[1:])
    assert fields.get("device_id") == device_id, f"{path}: {fields.get('device_id')!r}"
    return int(fields["seq"])


class Fleet:
    """meterd processes, each with its own state dir, publishing every INTERVAL."""

    def __init__(self, test, prefix, count, mqtt_url, link_url=None, link_count=0):
        """The last link_count meters reach the server over the terminal link at link_url."""
        self.meters = {}
        for i in range(count):
            device = f"{prefix}-{i:02d}"
            d = test.subdir(device)
            adc = f"sim:rate=2000,v=230,i={5 + i % 7},phase={(i * 37) % 360 - 180},seed={i + 1}"
            m = test.track(Meter(d, device, mqtt_url, interval=INTERVAL, adc=adc,
                                 extra=["--ack-timeout", ACK_TIMEOUT]))
            if i >= count - link_count:
                m.args[m.args.index("--mqtt"):m.args.index("--mqtt") + 2] = ["--link", link_url]
            self.meters[device] = m

    @property
    def devices(self):
        return list(self.meters)

    def start(self):
        for m in self.meters.values():
            m.start()

    def kill(self, device):
        self.meters[device].kill()

    def state_seq(self, device):
        try:
            return read_state_seq(self.meters[device].state_file, device)
        except FileNotFoundError:
            return 0

    def sampled(self):
        return {d: self.state_seq(d) for d in self.meters}

    def watermark(self, device):
        """Every seq <= this is acknowledged, from the spool's "acked" file (meter/spool.h)."""
        path = os.path.join(self.meters[device].spool_dir, "acked")
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "watermark":
                        return int(value)
        except FileNotFoundError:
            pass
        return 0

    def stopped_at(self, device):
        """The seq meterd logged at its last clean stop ("stopped at seq N"), or None."""
        found = None
        with open(self.meters[device].log_path, errors="replace") as f:
            for line in f:
                m = re.search(r"stopped at seq (\d+)", line)
                if m:
                    found = int(m.group(1))
        return found

    def stop_quietly(self):
        for m in self.meters.values():
            if m.proc:
                m.stop()

    def stop_all(self):
        """Stops every meter cleanly; returns {device: last seq} (state file and log agree)."""
        codes = {d: m.stop() for d, m in self.meters.items()}
        bad = {d: c for d, c in codes.items() if c != 0}
        assert not bad, f"meters did not stop cleanly: {bad}"
        last = self.sampled()
        logged = {d: self.stopped_at(d) for d in self.meters}
        assert logged == last, f"'stopped at seq' in the logs {logged} vs the state files {last}"
        return last


class FaultRun(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = cls.track(PrivateMariaDB(cls.workdir, buffer_pool="128M", max_connections=200))
        cls.db.install()
        cls.private_broker(FaultBroker)
        cls.t0 = time.monotonic()

    def log_step(self, what):
        print(f"[{time.monotonic() - self.t0:6.1f}s] {what}", file=sys.stderr, flush=True)

    def fresh_server(self, dbname, devices, extra=(), client_id=None):
        """A server on a fresh database dbname where op owns devices, started and connected."""
        return self.server_fixture(OPERATOR, dict.fromkeys(devices, "op"),
                                   broker=self.broker.url, db=self.db.new_database(dbname),
                                   extra_args=extra, client_id=client_id)

    # --- what the database holds --------------------------------------------------------

    def stored(self, dbname):
        """{device: (count, min seq, max seq)}, or None while the database is unreachable."""
        rows = self.db.try_sql(
            "SELECT d.device_id, COUNT(*), MIN(r.seq), MAX(r.seq) FROM readings r "
            "JOIN devices d ON d.id = r.device_pk GROUP BY d.device_id", dbname)
        if rows is None:
            return None
        return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def wait_past(self, dbname, marks, what, timeout=CATCH_UP_S):
        """Polls until every device has a stored seq >= its mark (the pipeline got past a fault)."""
        def behind():
            s = self.stored(dbname)
            if s is None:
                return None
            return {d: (s.get(d, (0, 0, 0))[2], m) for d, m in marks.items()
                    if s.get(d, (0, 0, 0))[2] < m}

        wait_until_none_left(behind, timeout, interval=0.5, what=what, failure=lambda v: (
            f"{what}: after {timeout}s still behind (device: (stored max, wanted)): {v}"))
        self.log_step(f"past: {what}")

    def wait_acked(self, fleet, marks):
        """Polls until every meter's spool holds acks for all its seqs up to its mark."""
        def missing():
            return {d: (fleet.watermark(d), m) for d, m in marks.items()
                    if fleet.watermark(d) < m}

        wait_until_none_left(missing, CATCH_UP_S, interval=0.5, what="acks", failure=lambda v: (
            f"acks missing after {CATCH_UP_S}s (device: (acked watermark, wanted)): {v}"))
        self.log_step("acks reached every meter")

    def wait_all_stored(self, dbname, last_seqs):
        """Polls until every device holds exactly 1..last seq (count, min and max agree)."""
        want = {d: (n, 1, n) for d, n in last_seqs.items()}

        def wrong():
            s = self.stored(dbname)
            if s is None:
                return None
            return {d: (s.get(d), w) for d, w in want.items() if s.get(d) != w}

        wait_until_none_left(wrong, DRAIN_S, interval=0.5, what="everything stored",
                             failure=lambda v: (
                                 f"not everything stored exactly once after {DRAIN_S}s "
                                 f"(device: ((count, min, max) stored, wanted)): {v}"))

    def check_database(self, dbname, last_seqs):
        """The final checks: contiguity, nothing beyond the meter's last seq, counters grow."""
        s = self.stored(dbname)
        self.assertIsNotNone(s, "database unreachable")
        self.assertEqual(sorted(s), sorted(last_seqs), "devices with readings")
        for d, (count, lo, hi) in s.items():
            self.assertEqual(lo, 1, f"{d}: first stored seq")
            self.assertEqual(count, hi - lo + 1, f"{d}: {count} readings in seqs {lo}..{hi}")
            self.assertEqual(hi, last_seqs[d], f"{d}: last stored seq vs the meter's state")
        nulls = self.db.sql("SELECT COUNT(*) FROM readings WHERE energy_import_mwh IS NULL "
                            "OR energy_export_mwh IS NULL", dbname)
        self.assertEqual(nulls[0][0], "0", "readings without energy counters")
        backwards = self.db.sql(
            "SELECT d.device_id, x.seq, x.ei, x.pei, x.ee, x.pee FROM ("
            " SELECT device_pk, seq, energy_import_mwh AS ei, energy_export_mwh AS ee,"
            "  LAG(energy_import_mwh) OVER (PARTITION BY device_pk ORDER BY seq) AS pei,"
            "  LAG(energy_export_mwh) OVER (PARTITION BY device_pk ORDER BY seq) AS pee"
            " FROM readings) x JOIN devices d ON d.id = x.device_pk"
            " WHERE x.ei < x.pei OR x.ee < x.pee LIMIT 20", dbname)
        self.assertEqual(backwards, [], "energy counters decreasing along seq "
                                        "(device, seq, import, previous, export, previous)")
        still = self.db.sql(
            "SELECT d.device_id FROM readings r JOIN devices d ON d.id = r.device_pk"
            " GROUP BY d.device_id HAVING MAX(r.energy_import_mwh) + MAX(r.energy_export_mwh)"
            " = MIN(r.energy_import_mwh) + MIN(r.energy_export_mwh)", dbname)
        self.assertEqual(still, [], "devices whose energy never grew (the check above is moot)")
        total = sum(c for c, _, _ in s.values())
        self.log_step(f"{dbname}: {len(s)} devices, {total} readings, all contiguous")

    # --- the runs -----------------------------------------------------------------------

    def test_1_each_part_killed_in_turn(self):
        dbname = "fault_single"
        port = free_port()
        fleet = Fleet(self, "f", METERS, self.broker.url, f"tcp://127.0.0.1:{port}", LINK_METERS)
        self.addCleanup(fleet.stop_quietly)
        srv = self.fresh_server(dbname, fleet.devices,
                                extra=["--terminal-listen", f"127.0.0.1:{port}"])
        fleet.start()
        self.log_step(f"{METERS} meters ({LINK_METERS} over the TCP terminal link) and one server "
                      "running")
        self.wait_past(dbname, {d: 3 for d in fleet.devices}, "first readings stored")

        self.log_step("kill -9 meter-server")
        srv.stop(signal.SIGKILL)
        time.sleep(OUTAGE_S)  # the meters keep measuring while the server is away
        srv.start()
        self.wait_past(dbname, fleet.sampled(), "meter-server restarted")

        self.log_step("kill -9 mosquitto")
        self.broker.kill()
        time.sleep(BROKER_OUTAGE_S)
        self.broker.start()
        self.wait_past(dbname, fleet.sampled(), "mosquitto restarted")

        self.log_step("kill -9 mariadbd")
        self.db.stop(signal.SIGKILL)
        time.sleep(OUTAGE_S)
        self.db.start()
        self.wait_past(dbname, fleet.sampled(), "mariadbd restarted")

        victims = fleet.devices[:2] + fleet.devices[-1:]  # one over the terminal link
        self.log_step(f"kill -9 meters {victims}")
        for d in victims:
            fleet.kill(d)
        time.sleep(OUTAGE_S / 2)
        for d in victims:
            fleet.meters[d].start()
        self.wait_past(dbname, fleet.sampled(), "meters restarted")

        self.log_step(f"mosquitto frozen (SIGSTOP) for {FREEZE_S}s")
        self.broker.freeze(FREEZE_S)
        self.wait_past(dbname, fleet.sampled(), "mosquitto thawed")
        self.wait_acked(fleet, fleet.sampled())

        self.log_step("stopping the meters")
        last = fleet.stop_all()
        self.wait_all_stored(dbname, last)
        self.check_database(dbname, last)
        self.assert_nothing_refused(srv, self.token(srv))
        self.assertEqual(srv.stop(), 0, srv.log())

    def test_2_shared_subscription_one_server_killed(self):
        dbname = "fault_shared"
        fleet = Fleet(self, "s", SHARED_METERS, self.broker.url)
        self.addCleanup(fleet.stop_quietly)
        share = ["--mqtt-share-group", SHARE_GROUP]
        a = self.fresh_server(dbname, fleet.devices, share, client_id=f"fault-a-{os.getpid()}")
        b = self.new_server(a.db, a.mqtt, share, client_id=f"fault-b-{os.getpid()}").start()
        b.wait_mqtt()
        token = self.token(a)
        fleet.start()
        self.log_step(f"{SHARED_METERS} meters and two servers in share group {SHARE_GROUP}")
        self.wait_past(dbname, {d: 3 for d in fleet.devices}, "first readings stored")
        # Both take part: each instance gets a share of the telemetry messages.
        for srv in (a, b):
            wait_until(lambda: self.messages(srv, token) > 0, CATCH_UP_S, interval=0.5,
                       what=f"telemetry at {srv.client_id}")
        self.wait_past(dbname, {d: s + 10 for d, s in fleet.sampled().items()},
                       "both servers storing")

        # While the killed instance is away, the broker still routes a share of the messages
        # to its session: b gets them only through the meters' resends. When it comes back
        # (same client id, as a supervisor restarts it) the held messages are replayed to it:
        # duplicates by then, which must not be stored twice.
        self.log_step("kill -9 one of the two servers")
        a.stop(signal.SIGKILL)
        time.sleep(2 * OUTAGE_S)
        self.wait_past(dbname, {d: s + 10 for d, s in fleet.sampled().items()},
                       "one server left")
        self.wait_acked(fleet, fleet.sampled())
        self.log_step("the killed server restarts")
        a.start()
        a.wait_mqtt()
        self.wait_past(dbname, {d: s + 10 for d, s in fleet.sampled().items()},
                       "both servers again")
        self.wait_acked(fleet, fleet.sampled())

        self.log_step("stopping the meters")
        last = fleet.stop_all()
        self.wait_all_stored(dbname, last)
        self.check_database(dbname, last)
        for srv in (a, b):
            self.assert_nothing_refused(srv, token)
            self.assertEqual(srv.stop(), 0, srv.log())

    @staticmethod
    def token(srv):
        """The operator's token. Polls: after a database restart each idle pooled connection
        answers one request with 503 (try again) before it is replaced."""
        return srv.login("op", "op-password", timeout=CATCH_UP_S)

    @staticmethod
    def stats(srv, token):
        """This server instance's counters since it started (GET /api/stats; polls past 503)."""
        return api_get(srv, token, "/api/stats", timeout=CATCH_UP_S, interval=0.5,
                       request_timeout=5, what=f"stats of {srv.client_id}")

    def messages(self, srv, token):
        """MQTT messages this server instance received."""
        return self.stats(srv, token)["mqtt"]["messages"]

    def assert_nothing_refused(self, srv, token):
        """A meter's readings are all valid: the server refused none since it started."""
        mqtt = self.stats(srv, token)["mqtt"]
        refused = {k: mqtt[k] for k in ("invalid", "bad_topic", "too_large")}
        self.assertEqual(refused, dict.fromkeys(refused, 0), f"{srv.client_id} refused messages")

if __name__ == "__main__":
    main()
