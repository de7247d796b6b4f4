"""Fault run: nothing a meter measured is lost or stored twice, whatever fails.

Real binaries on loopback: meterd (sim ADC, one state dir each), a private
mosquitto with persistence, a private MariaDB and meter-server. Each part is
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
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from harness import (Broker, IntegrationTest, Meter, Server, free_port, http,  # noqa: E402
                     main, wait_until)

METERS = 20                # meters in the single-server run
SHARED_METERS = 10         # meters in the shared-subscription run
INTERVAL = "0.2"           # seconds per reading
ACK_TIMEOUT = "2"          # seconds before a meter resends what was not acknowledged
OUTAGE_S = 3               # how long a killed part stays down
BROKER_OUTAGE_S = 25       # the broker longer: each meter's backlog outgrows one resend batch
FREEZE_S = 10              # how long the broker is frozen (SIGSTOP)
CATCH_UP_S = 60            # deadline for the pipeline to get past a fault
DRAIN_S = 60               # deadline for the server to store everything at the end
SHARE_GROUP = "fault"


class Database:
    """A MariaDB of our own in workdir/mysql, which the test may kill and restart."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "mysql")
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.tmp = os.path.join(self.dir, "tmp")  # not $TMPDIR: the mysql user may not write there
        self.port = free_port()
        self.password = os.urandom(12).hex()
        self.as_user = ["--user=mysql"] if os.getuid() == 0 else []
        self.proc = None
        self.log = None

    def install(self):
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "mysql:mysql", self.dir], check=True)
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                            f"--tmpdir={self.tmp}", "--auth-root-authentication-method=normal",
                            "--skip-test-db",
                            *self.as_user], capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise AssertionError(f"mariadb-install-db failed: {r.stdout}{r.stderr}")
        self.start()
        self.sql(f"CREATE USER 'smartmeter'@'127.0.0.1' IDENTIFIED BY '{self.password}';"
                 "GRANT ALL ON *.* TO 'smartmeter'@'127.0.0.1'")

    def start(self):
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--tmpdir={self.tmp}",
             f"--pid-file={self.dir}/mysqld.pid", "--skip-name-resolve",
             "--innodb-buffer-pool-size=128M", "--max-connections=200",
             f"--log-error={self.dir}/error.log", *self.as_user],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._up, 60, interval=0.2, what=f"mariadbd on {self.port}")

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"mariadbd exited with {self.proc.returncode}; see {self.dir}")
        return self.try_sql("SELECT 1") is not None

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, name):
        return f"mysql://smartmeter:{self.password}@127.0.0.1:{self.port}/{name}"

    def new_database(self, name):
        self.sql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")
        return self.url(name)

    def sql(self, query, db=None):
        """Rows (tuples of strings) of query as root over the socket; raises on failure."""
        args = ["mariadb", "--no-defaults", "-uroot", "-S", self.socket, "-N", "-B",
                "--connect-timeout=2", "-e", query]
        if db:
            args.append(db)
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if r.returncode:
            raise RuntimeError(f"mariadb: {r.stderr.strip()}")
        return [tuple(line.split("\t")) for line in r.stdout.splitlines()]

    def try_sql(self, query, db=None):
        try:
            return self.sql(query, db)
        except (RuntimeError, subprocess.TimeoutExpired):
            return None


class FaultBroker(Broker):
    """The harness's private mosquitto, with room for a long outage's messages."""

    def __init__(self, workdir):
        super().__init__(workdir)
        with open(self.conf, "a") as f:
            f.write("max_queued_messages 200000\nmax_inflight_messages 200\n")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.proc = None

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
        super().stop(sig)


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

    def __init__(self, test, workdir, prefix, count, mqtt_url):
        self.meters = {}
        for i in range(count):
            device = f"{prefix}-{i:02d}"
            d = os.path.join(workdir, device)
            os.makedirs(d, exist_ok=True)
            adc = f"sim:rate=2000,v=230,i={5 + i % 7},phase={(i * 37) % 360 - 180},seed={i + 1}"
            self.meters[device] = test.track(Meter(d, device, mqtt_url, interval=INTERVAL,
                                                   adc=adc, extra=["--ack-timeout", ACK_TIMEOUT]))

    @property
    def devices(self):
        return list(self.meters)

    def start(self):
        for m in self.meters.values():
            m.start()

    def kill(self, device):
        m = self.meters[device]
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait(timeout=20)
        m.proc = None
        m.logf.close()

    def state_seq(self, device):
        m = self.meters[device]
        path = os.path.join(m.state_dir, f"meterd-{device}.state")
        try:
            return read_state_seq(path, device)
        except FileNotFoundError:
            return 0

    def sampled(self):
        return {d: self.state_seq(d) for d in self.meters}

    def watermark(self, device):
        """Every seq <= this is acknowledged, from the spool's "acked" file (meter/spool.h)."""
        m = self.meters[device]
        path = os.path.join(m.state_dir, f"meterd-{device}.spool", "acked")
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
        cls.db = cls.track(Database(cls.workdir))
        cls.db.install()
        cls.broker = cls.track(FaultBroker(cls.workdir))
        cls.broker.start()
        cls.t0 = time.monotonic()

    def log_step(self, what):
        print(f"[{time.monotonic() - self.t0:6.1f}s] {what}", file=sys.stderr, flush=True)

    def new_server(self, dbname, extra=(), client_id=None, fresh=True):
        url = self.db.new_database(dbname) if fresh else self.db.url(dbname)
        return self.track(Server(self.workdir, url, self.broker.url, extra_args=extra,
                                 client_id=client_id))

    def register(self, srv, devices):
        srv.migrate()
        srv.add_user("op", "operator", "op-password")
        for d in devices:
            srv.add_device(d, "op")

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
            late = {d: (s.get(d, (0, 0, 0))[2], m) for d, m in marks.items()
                    if s.get(d, (0, 0, 0))[2] < m}
            return late or "ok"

        last = {}

        def done():
            last["v"] = behind()
            return last["v"] == "ok"

        try:
            wait_until(done, timeout, interval=0.5, what=what)
        except AssertionError:
            raise AssertionError(f"{what}: after {timeout}s still behind "
                                 f"(device: (stored max, wanted)): {last.get('v')}") from None
        self.log_step(f"past: {what}")

    def wait_acked(self, fleet, marks):
        """Polls until every meter's spool holds acks for all its seqs up to its mark."""
        last = {}

        def done():
            last["v"] = {d: (fleet.watermark(d), m) for d, m in marks.items()
                         if fleet.watermark(d) < m}
            return not last["v"]

        try:
            wait_until(done, CATCH_UP_S, interval=0.5, what="acks")
        except AssertionError:
            raise AssertionError(f"acks missing after {CATCH_UP_S}s (device: (acked watermark, "
                                 f"wanted)): {last.get('v')}") from None
        self.log_step("acks reached every meter")

    def wait_all_stored(self, dbname, last_seqs):
        """Polls until every device holds exactly 1..last seq (count, min and max agree)."""
        want = {d: (n, 1, n) for d, n in last_seqs.items()}
        last = {}

        def done():
            s = self.stored(dbname)
            if s is None:
                return False
            last["v"] = {d: (s.get(d), w) for d, w in want.items() if s.get(d) != w}
            return not last["v"]

        try:
            wait_until(done, DRAIN_S, interval=0.5, what="everything stored")
        except AssertionError:
            raise AssertionError("not everything stored exactly once after "
                                 f"{DRAIN_S}s (device: ((count, min, max) stored, wanted)): "
                                 f"{last.get('v')}") from None

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
        fleet = Fleet(self, self.workdir, "f", METERS, self.broker.url)
        self.addCleanup(fleet.stop_quietly)
        srv = self.new_server(dbname)
        self.register(srv, fleet.devices)
        srv.start()
        srv.wait_mqtt()
        fleet.start()
        self.log_step(f"{METERS} meters and one server running")
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

        victims = fleet.devices[:3]
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
        fleet = Fleet(self, self.workdir, "s", SHARED_METERS, self.broker.url)
        self.addCleanup(fleet.stop_quietly)
        share = ["--mqtt-share-group", SHARE_GROUP]
        a = self.new_server(dbname, share, client_id=f"fault-a-{os.getpid()}")
        b = self.new_server(dbname, share, client_id=f"fault-b-{os.getpid()}", fresh=False)
        self.register(a, fleet.devices)
        for srv in (a, b):
            srv.start()
            srv.wait_mqtt()
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
        def login():
            r = http("POST", srv.url("/api/login"), {"username": "op", "password": "op-password"})
            return r.json()["token"] if r.status == 200 else None
        return wait_until(login, CATCH_UP_S, interval=0.5, what=f"login at {srv.client_id}")

    @staticmethod
    def stats(srv, token):
        """This server instance's counters since it started (GET /api/stats; polls past 503)."""
        def get():
            r = http("GET", srv.url("/api/stats"), token=token, timeout=5)
            assert r.status in (200, 503), r
            return r.json() if r.status == 200 else None
        return wait_until(get, CATCH_UP_S, interval=0.5, what=f"stats of {srv.client_id}")

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
