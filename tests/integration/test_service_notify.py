"""meter-server and meterd as systemd runs them (Type=notify, NotifyAccess=main, WatchdogSec=).

The test plays the service manager: it binds the AF_UNIX datagram socket $NOTIFY_SOCKET
names, with SO_PASSCRED so that each datagram carries its sender's pid (NotifyAccess=main
accepts only the main pid's), and sets $WATCHDOG_USEC. Each daemon must send READY=1 (with
a STATUS= line) once it really serves: the server when its API answers /api/health, meterd
once it samples; then WATCHDOG=1 at about half the interval, from its own pid; and
STOPPING=1 on SIGTERM, then exit 0. A $WATCHDOG_PID naming another process turns the pings
off. Only the environment variables of sd_notify(3) and the datagrams are used.

The watchdog watches work, not only the process: with the readings table locked by another
MariaDB session, the server's writer hangs on its insert while a meter's readings queue up;
the pings must stop within the stall time (STATUS= names the writer) and resume once the
lock is gone.
"""
import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
import urllib.parse

from harness import IntegrationTest, Meter, db_rows, http, main, new_database, wait_until

SERVER_WATCHDOG_USEC = 2_000_000  # pings each second; the main loop turns each second
METER_WATCHDOG_USEC = 1_000_000   # pings each half second


class Notifier:
    """The manager's side: the socket, and every datagram it got as (monotonic time, pid, text)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.got = []

    def close(self):
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def receive(self, timeout):
        """Takes what arrives within timeout s into self.got."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                return
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid, _, _ = struct.unpack("iII", payload[:12])
            self.got.append((time.monotonic(), pid, data.decode()))

    def wait_for(self, line, timeout):
        """Receives until a datagram has line as one of its lines; returns that datagram."""
        end = time.monotonic() + timeout
        while True:
            for entry in self.got:
                if line in entry[2].split("\n"):
                    return entry
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {line} within {timeout} s; got {self.got}")
            self.receive(min(left, 0.2))

    def pings(self, since=0.0):
        return [e for e in self.got if e[2] == "WATCHDOG=1" and e[0] >= since]


@contextlib.contextmanager
def service_env(**env):
    """The manager's environment for a daemon spawned inside the block (Popen inherits it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ServiceNotifyTest(IntegrationTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        broker = cls.private_broker()
        cls.srv = cls.new_server(new_database("sqlite", "notify", cls.workdir), broker)
        cls.srv.provision({"admin": "admin"}, {"dev-notify-1": "admin"})

    def check_stop(self, daemon, note, what):
        pid = daemon.proc.pid
        daemon.proc.send_signal(signal.SIGTERM)
        _, sender, _ = note.wait_for("STOPPING=1", 20)
        self.assertEqual(sender, pid, f"{what}: STOPPING=1 from another process")
        daemon.proc.wait(timeout=30)  # one SIGTERM, as the manager sends
        self.assertEqual(daemon.stop(), 0, f"{what}: exit status; log {daemon.log()}")

    def test_server_ready_once_it_serves_then_pings_then_stopping(self):
        note = Notifier(self.path("server.notify"))
        self.addCleanup(note.close)
        with service_env(NOTIFY_SOCKET=note.path, WATCHDOG_USEC=SERVER_WATCHDOG_USEC):
            self.srv.start_nowait()
        pid = self.srv.proc.pid
        t_ready, sender, text = note.wait_for("READY=1", 60)
        # Ready means serving: the API answers at once, no retry.
        self.assertEqual(http("GET", self.srv.url("/api/health"), timeout=5).status, 200)
        self.assertEqual(sender, pid, "READY=1 must come from the main pid (NotifyAccess=main)")
        status = [ln for ln in text.split("\n") if ln.startswith("STATUS=")]
        self.assertEqual(len(status), 1, text)
        self.assertIn(f"port {self.srv.port}", status[0])
        self.assertIn("sqlite", status[0])

        note.receive(4.5)
        pings = note.pings(since=t_ready)
        # One a second: 4 or 5 in 4.5 s; 3 on a loaded machine; more would not be half the interval.
        self.assertGreaterEqual(len(pings), 3, note.got)
        self.assertLessEqual(len(pings), 7, note.got)
        self.assertTrue(all(p[1] == pid for p in pings), pings)
        gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), SERVER_WATCHDOG_USEC / 1e6, f"ping gaps {gaps}")

        self.check_stop(self.srv, note, "meter-server")
        print(f"\nservice_notify: meter-server READY {text!r}; {len(pings)} pings in 4.5 s, "
              f"gaps {min(gaps):.2f}..{max(gaps):.2f} s", flush=True)

    def test_meterd_ready_once_it_samples_then_pings_then_stopping(self):
        note = Notifier(self.path("meterd.notify"))
        self.addCleanup(note.close)
        meter = self.track(Meter(self.workdir, "dev-notify-1", self.srv.mqtt,
                                 state_dir=self.subdir("meterd-a")))
        with service_env(NOTIFY_SOCKET=note.path, WATCHDOG_USEC=METER_WATCHDOG_USEC):
            meter.start()
        pid = meter.proc.pid
        t_ready, sender, text = note.wait_for("READY=1", 30)
        self.assertEqual(sender, pid)
        self.assertIn("sampling with sim", meter.log(), "READY=1 before the sampler ran")
        self.assertIn("STATUS=device dev-notify-1: sim at", text)

        note.receive(3.0)
        pings = note.pings(since=t_ready)
        self.assertGreaterEqual(len(pings), 4, note.got)  # one each 0.5 s: about 6
        self.assertLessEqual(len(pings), 9, note.got)
        self.assertTrue(all(p[1] == pid for p in pings), pings)
        self.check_stop(meter, note, "meterd")
        print(f"\nservice_notify: meterd READY {text!r}; {len(pings)} pings in 3 s", flush=True)

    def test_watchdog_pid_of_another_process_means_no_pings(self):
        note = Notifier(self.path("meterd-other.notify"))
        self.addCleanup(note.close)
        meter = self.track(Meter(self.workdir, "dev-notify-1", self.srv.mqtt,
                                 state_dir=self.subdir("meterd-b")))
        with service_env(NOTIFY_SOCKET=note.path, WATCHDOG_USEC=METER_WATCHDOG_USEC,
                         WATCHDOG_PID=1):
            meter.start()
        note.wait_for("READY=1", 30)
        note.receive(2.0)
        self.assertEqual(note.pings(), [], "pinged for a watchdog meant for pid 1")
        self.check_stop(meter, note, "meterd")


class WriterHangTest(IntegrationTest):

    def lock_readings(self, db_url):
        """A MariaDB session holding LOCK TABLES readings WRITE until its stdin closes."""
        u = urllib.parse.urlparse(db_url)
        env = dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or ""))
        p = subprocess.Popen(["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port),
                              "-u", urllib.parse.unquote(u.username), "-N", "-B", "--unbuffered",
                              u.path.lstrip("/")],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write("LOCK TABLES readings WRITE; SELECT 'locked';\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline().strip(), "locked")
        return p

    def test_pings_stop_while_the_writer_hangs_and_resume_after(self):
        db = new_database("mysql", self.db_name(), self.workdir)
        broker = self.private_broker()
        srv = self.new_server(db, broker)
        srv.provision({"admin": "admin"}, {"dev-hang-1": "admin"})
        note = Notifier(self.path("server.notify"))
        self.addCleanup(note.close)
        with service_env(NOTIFY_SOCKET=note.path, WATCHDOG_USEC=SERVER_WATCHDOG_USEC):
            srv.start_nowait()
        note.wait_for("READY=1", 60)
        srv.wait_mqtt()
        meter = self.track(Meter(self.workdir, "dev-hang-1", broker, interval="0.5")).start()

        def stored():
            return int(db_rows(db, "SELECT COUNT(*) FROM readings")[0][0])
        wait_until(lambda: stored() > 0, 60, what="the meter's readings stored")
        t = time.monotonic()
        note.receive(2.5)
        self.assertGreaterEqual(len(note.pings(since=t)), 2, "no pings while healthy")

        lock = self.lock_readings(db)
        # Stale after 2 s standing still with readings queued (the next reading comes within
        # 0.5 s); the last ping may be up to 2.5 s old by then.
        note.receive(3.0)
        t_stale = time.monotonic()
        note.receive(4.0)
        self.assertEqual(note.pings(since=t_stale), [], "pinged while the writer hung")
        stalls = [e[2] for e in note.got if e[2].startswith("STATUS=watchdog: the database writer")]
        self.assertTrue(stalls, note.got)
        self.assertIn("the database writer has made no progress", srv.log_since_start())

        lock.stdin.write("UNLOCK TABLES;\n")
        lock.stdin.close()
        lock.wait(timeout=30)
        t_unlocked = time.monotonic()
        n_before = stored()
        note.receive(3.0)
        self.assertGreaterEqual(len(note.pings(since=t_unlocked)), 1, "no pings after the unlock")
        self.assertGreater(stored(), n_before, "the held readings were not stored after the unlock")
        self.assertEqual(meter.stop(), 0)
        srv.proc.send_signal(signal.SIGTERM)
        note.wait_for("STOPPING=1", 20)
        srv.proc.wait(timeout=30)
        self.assertEqual(srv.stop(), 0, srv.log())
        print(f"\nservice_notify: readings locked {t_unlocked - t_stale + 3.0:.1f} s; no pings "
              f"for the last {t_unlocked - t_stale:.1f} s of it; {stalls[0]!r}; pings again after "
              f"the unlock", flush=True)


if __name__ == "__main__":
    main()
