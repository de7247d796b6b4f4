"""Integration-test harness: real meter-server, meterd, mosquitto and MariaDB.

Only the standard library is used. Binaries come from $METER_SERVER and
$METERD; the shared MariaDB and mosquitto from $SERVICES_DIR/env (started by
the ctest fixture "services"). Tests that restart a broker start their own.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES_SH = os.path.join(HERE, "..", "lib", "services.sh")
METER_SERVER = os.environ.get("METER_SERVER", "meter-server")
METERD = os.environ.get("METERD", "meterd")
ARTIFACTS = os.environ.get("TEST_ARTIFACTS", tempfile.gettempdir())


def services_env():
    """The shared services' addresses (MQTT_URL, MYSQL_URL_BASE, ...)."""
    d = os.environ.get("SERVICES_DIR")
    if not d or not os.path.exists(os.path.join(d, "env")):
        raise unittest.SkipTest("test services are not running (SERVICES_DIR)")
    env = {}
    with open(os.path.join(d, "env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def new_database(backend, name, workdir):
    """A fresh, empty database URL for backend 'sqlite' or 'mysql'."""
    if backend == "sqlite":
        return f"sqlite:{workdir}/{name}.db"
    env = services_env()
    subprocess.run([SERVICES_SH, "newdb", os.environ["SERVICES_DIR"], name], check=True)
    return f"{env['MYSQL_URL_BASE']}/{name}"


class Broker:
    """A mosquitto of our own, for tests that stop and restart the broker."""

    def __init__(self, workdir, port=None):
        self.dir = os.path.join(workdir, "mosquitto")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence true\npersistence_location {self.dir}/\n"
                    f"log_dest file {self.dir}/mosquitto.log\n")
            if os.getuid() == 0:
                f.write("user root\n")
        self.proc = None

    @property
    def url(self):
        return f"tcp://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _port_open(self.port), 10, what=f"mosquitto on {self.port}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


class HttpResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def http(method, url, body=None, token=None, headers=None, raw=None, timeout=30):
    """One HTTP request; returns HttpResult for every status (never raises on 4xx/5xx)."""
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return HttpResult(r.status, dict(r.headers), r.read().decode())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, dict(e.headers), e.read().decode())


class Server:
    """meter-server on a free port with a fresh database and a generated JWT secret."""

    def __init__(self, workdir, db_url, mqtt_url, extra_args=(), client_id=None):
        self.workdir = workdir
        self.db = db_url
        self.mqtt = mqtt_url
        self.port = free_port()
        self.secret_file = os.path.join(workdir, "jwt.secret")
        if not os.path.exists(self.secret_file):
            with open(self.secret_file, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        self.extra = list(extra_args)
        self.client_id = client_id or f"meter-server-{os.getpid()}-{self.port}"
        self.log_path = os.path.join(workdir, f"meter-server-{self.port}.log")
        self.proc = None
        self.base = f"http://127.0.0.1:{self.port}"

    def cli(self, *args, stdin=None, check=True):
        r = subprocess.run([METER_SERVER, *args, "--db", self.db], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"meter-server {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def migrate(self):
        return self.cli("migrate")

    def add_user(self, name, role, password):
        return self.cli("user", "add", name, "--role", role, stdin=password + "\n")

    def add_device(self, device_id, owner):
        r = self.cli("device", "add", device_id, "--owner", owner)
        secret = r.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{64}", secret), f"device secret not alone on stdout: {r.stdout!r}"
        return secret

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [METER_SERVER, "--db", self.db, "--mqtt", self.mqtt,
             "--listen", f"127.0.0.1:{self.port}", "--jwt-secret-file", self.secret_file,
             "--mqtt-client-id", self.client_id, *self.extra],
            stdout=self.logf, stderr=subprocess.STDOUT)
        wait_until(self._healthy, 20, what="meter-server health")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"meter-server exited with {self.proc.returncode}: {self.log()}")
        try:
            return http("GET", self.base + "/api/health", timeout=2).status == 200
        except OSError:
            return False

    def wait_mqtt(self, timeout=20):
        wait_until(lambda: http("GET", self.base + "/api/health").json()["mqtt"] == "connected",
                   timeout, what="server connected to the broker")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def url(self, path):
        return self.base + path

    def login(self, user, password):
        r = http("POST", self.url("/api/login"), {"username": user, "password": password})
        assert r.status == 200, r
        return r.json()["token"]


class Meter:
    """meterd with the built-in signal generator."""

    def __init__(self, workdir, device_id, mqtt_url, interval="1", adc="sim", extra=()):
        self.device_id = device_id
        self.state_dir = os.path.join(workdir, "meterd-state")
        self.args = [METERD, "--device-id", device_id, "--mqtt", mqtt_url, "--adc", adc,
                     "--interval", interval, "--state-dir", self.state_dir, *extra]
        self.log_path = os.path.join(workdir, f"meterd-{device_id}.log")
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code


def mqtt_publish(url, topic, payload, qos=1, retain=False):
    port = url.rsplit(":", 1)[1]
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", topic, "-q", str(qos), "-s"]
    if retain:
        args.append("-r")
    subprocess.run(args, input=payload.encode(), check=True, timeout=20)


class IntegrationTest(unittest.TestCase):
    """Gives each test class a work dir that is removed unless a test failed."""

    backend = os.environ.get("TEST_BACKEND", "sqlite")

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix=f"smartmeter-{cls.__name__}-")
        os.chmod(cls.workdir, 0o755)
        cls._procs = []

    @classmethod
    def tearDownClass(cls):
        bad_exits = []
        for p in reversed(cls._procs):
            try:
                code = p.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                code = f"stop failed: {e}"
            # A daemon that exits non-zero on SIGTERM (a sanitizer report, a crash) fails the class.
            if isinstance(p, (Server, Meter)) and code not in (0, None):
                bad_exits.append(f"{type(p).__name__} exited with {code}; log {p.log_path}")
                cls._failed = True
        if not getattr(cls, "_failed", False):
            shutil.rmtree(cls.workdir, ignore_errors=True)
        else:
            print(f"kept {cls.workdir} for inspection", file=sys.stderr)
        if bad_exits:
            raise AssertionError("; ".join(bad_exits))

    @classmethod
    def track(cls, proc):
        cls._procs.append(proc)
        return proc

    def run(self, result=None):
        result = super().run(result)
        if result and (result.failures or result.errors):
            type(self)._failed = True
        return result

    @classmethod
    def db_name(cls, suffix=""):
        return re.sub(r"[^a-z0-9_]", "_", f"it_{cls.__name__}{suffix}".lower())[:60]


def main():
    """Runs the calling module's tests; --backend sqlite|mysql picks the database."""
    argv = list(sys.argv)
    if "--backend" in argv:
        i = argv.index("--backend")
        os.environ["TEST_BACKEND"] = argv[i + 1]
        IntegrationTest.backend = argv[i + 1]
        del argv[i:i + 2]
    unittest.main(argv=argv, verbosity=2)
