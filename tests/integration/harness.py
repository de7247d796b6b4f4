"""Integration-test harness: real meter-server, meterd, mosquitto and MariaDB.

Only the standard library is used. Binaries come from $METER_SERVER and
$METERD; the shared MariaDB and mosquitto from $SERVICES_DIR/env (started by
the ctest fixture "services"). Tests that restart a broker or a database start
their own (Broker, PrivateMariaDB).

Every broker runs with authentication, as docs/security.md deploys it
(tests/lib/mqtt_accounts.py): the dynamic-security plugin, no anonymous
client. Each broker has a server account, which meter-server is started with
(it then gives every device its account), and a tools account, which the
tests' own mosquitto_pub and mosquitto_sub use unless told otherwise. meterd
gets --secret-file with the secret its device was given (Server.add_device,
or provision_device() where no server runs). A server fixture gets a broker of
the class's own: a broker's device accounts belong to one database.

A test class derives from IntegrationTest and gets:
  - its work dir, cls.workdir (cls.path, cls.subdir, cls.write_file): removed at the end
    unless a test failed or a daemon exited badly; then it is kept and named on stderr;
  - the broker+server fixture, cls.server_fixture(): the shared broker or one of the
    class's own (cls.broker), a migrated database of either backend, users and devices
    created (srv.secrets), the server started and connected, tokens (srv.tokens);
  - cls.new_server(): another server on the same database and broker;
  - cls.call() and cls.get(): one API call as a user of cls.tok.
ingest_common.IngestTest adds the ingest fixture (a server ready to ingest) on top.
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
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mqtt_accounts  # noqa: E402
METER_SERVER = os.environ.get("METER_SERVER", "meter-server")
METERD = os.environ.get("METERD", "meterd")
ARTIFACTS = os.environ.get("TEST_ARTIFACTS", tempfile.gettempdir())

# The operator most tests provision, as server_fixture's users take it.
OPERATOR = {"op": "operator"}


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


# Brokers with accounts, by URL, and the newest secret each device id was given.
BROKER_ACCOUNTS = {}
DEVICE_SECRETS = {}


def broker_accounts(url):
    """The accounts of the broker at url (mqtt_accounts.Accounts), or None (a broker without
    accounts, or none at all)."""
    if url in BROKER_ACCOUNTS:
        return BROKER_ACCOUNTS[url]
    d = os.environ.get("SERVICES_DIR")
    if d and os.path.exists(os.path.join(d, "env")):
        env = services_env()
        if env.get("MQTT_URL") == url and env.get("MQTT_SERVER_PASSWORD_FILE"):
            BROKER_ACCOUNTS[url] = mqtt_accounts.Accounts(
                os.path.dirname(env["MQTT_SERVER_PASSWORD_FILE"]))
            return BROKER_ACCOUNTS[url]
    return None


def client_args(url, auth=None):
    """mosquitto_pub/mosquitto_sub arguments for the broker at url. auth: None (the tools
    account, where the broker has accounts), "anonymous" (no credentials), or (user,
    password) or (user, password, client id)."""
    args = ["-h", "127.0.0.1", "-p", broker_port(url)]
    if auth is None:
        acc = broker_accounts(url)
        if acc:
            args += ["-u", acc.tools_user, "-P", acc.tools_password]
    elif auth != "anonymous":
        args += ["-u", auth[0], "-P", auth[1]]
        if len(auth) > 2:
            args += ["-i", auth[2]]
    return args


def device_auth(device_id, secret=None):
    """The credentials meterd of device_id logs in with: (user, password, client id)."""
    secret = secret or DEVICE_SECRETS[device_id]
    return (device_id, mqtt_accounts.broker_password(secret), f"meterd-{device_id}")


def provision_device(url, device_id, secret=None):
    """Where no server runs: gives device_id an account on the broker at url (as a server
    would) and remembers its secret for meterd. Returns the secret."""
    acc = broker_accounts(url)
    secret = secret or secrets.token_hex(32)
    if acc:
        mqtt_accounts.Dynsec(broker_port(url), acc.server_user,
                             acc.server_password).add_device(device_id, secret)
    DEVICE_SECRETS[device_id] = secret
    return secret


def write_device_secret(workdir, device_id, secret):
    """A device's secret in a file only its owner may read, in a folder only its owner may enter."""
    d = os.path.join(workdir, "secrets")
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    path = os.path.join(d, f"{device_id}.secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- waiting --------------------------------------------------------------------------------

def wait_until(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_until_none_left(left, timeout, interval=0.1, what="condition", failure=None):
    """Polls left(), which names what is still missing (None while it cannot tell), until it
    names nothing. On timeout raises AssertionError(failure(its last answer)) when failure
    is given, else wait_until's."""
    last = [None]

    def done():
        last[0] = left()
        return last[0] is not None and not last[0]

    try:
        wait_until(done, timeout, interval=interval, what=what)
    except AssertionError:
        if failure is None:
            raise
        raise AssertionError(failure(last[0])) from None


# --- files ----------------------------------------------------------------------------------

def make_dir(*parts):
    path = os.path.join(*parts)
    os.makedirs(path, exist_ok=True)
    return path


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def write_secret_file(path, text):
    """A file of secrets the server reads: readable by its owner only, as the server insists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def read_text(path, tail=None):
    """A log file's text (its last tail characters), or "" while it does not exist."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return text[-tail:] if tail else text


def sqlite_path(db_url):
    """The file of a sqlite: database URL."""
    return db_url[len("sqlite:"):]


def db_rows(db_url, query):
    """The rows (lists of strings; NULL is None) of a read-only query on the database of
    db_url, either backend, over a connection of its own (the server may be running or dead)."""
    if db_url.startswith("sqlite:"):
        import sqlite3
        con = sqlite3.connect(f"file:{sqlite_path(db_url)}?mode=ro", uri=True, timeout=30)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(query)]
        finally:
            con.close()
    import urllib.parse
    u = urllib.parse.urlparse(db_url)
    env = dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or ""))
    r = subprocess.run(["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port or 3306),
                        "-u", urllib.parse.unquote(u.username or ""), "-N", "-B",
                        "--connect-timeout=5", "-e", query, u.path.lstrip("/")],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise AssertionError(f"mariadb: {r.stderr.strip()}")
    return [[None if v == "NULL" else v for v in line.split("\t")]
            for line in r.stdout.splitlines()]


def state_file(state_dir, device_id):
    """meterd's state file in its --state-dir."""
    return os.path.join(state_dir, f"meterd-{device_id}.state")


def spool_dir(state_dir, device_id):
    """meterd's spool in its --state-dir."""
    return os.path.join(state_dir, f"meterd-{device_id}.spool")


def new_database(backend, name, workdir):
    """A fresh, empty database URL for backend 'sqlite' or 'mysql'."""
    if backend == "sqlite":
        return f"sqlite:{workdir}/{name}.db"
    env = services_env()
    subprocess.run([SERVICES_SH, "newdb", os.environ["SERVICES_DIR"], name], check=True)
    return f"{env['MYSQL_URL_BASE']}/{name}"


# --- processes ------------------------------------------------------------------------------

class Daemon:
    """A process of ours: output to log_path (None: nowhere), stopped with its exit code, or
    killed."""

    log_path = None
    proc = None

    def spawn(self, args, note=None):
        """Starts args; note, when given, is written to the log as "--- note" first."""
        if self.log_path is None:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            return self.proc
        with open(self.log_path, "ab") as log:
            if note:
                log.write(f"--- {note}\n".encode())
                log.flush()
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        return self.proc

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Sends sig (SIGKILL after timeout s); returns the exit code (None: not started)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def kill(self):
        """kill -9, as a crash or a power cut would."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def log(self, tail=4000):
        return read_text(self.log_path, tail) if self.log_path else ""


class Broker(Daemon):
    """A mosquitto of our own, for tests that stop and restart the broker."""

    def __init__(self, workdir, port=None):
        self.dir = make_dir(workdir, "mosquitto")
        self.port = port or free_port()
        # The dynamic-security plugin, no anonymous clients; a server and a tools account.
        self.conf, self.accounts = mqtt_accounts.write_broker(self.dir, self.port)
        BROKER_ACCOUNTS[self.url] = self.accounts

    @property
    def url(self):
        return f"tcp://127.0.0.1:{self.port}"

    def start(self):
        self.spawn(["mosquitto", "-c", self.conf])
        wait_until(lambda: port_open(self.port), 10, what=f"mosquitto on {self.port}")
        return self


class PrivateMariaDB(Daemon):
    """A MariaDB of the test's own in workdir/mariadb, which it may kill (-9) and start again.
    install() creates it, starts it and adds the user the server connects as."""

    def __init__(self, workdir, buffer_pool="64M", max_connections=None):
        self.dir = os.path.join(workdir, "mariadb")
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.tmp = os.path.join(self.dir, "tmp")  # not $TMPDIR: the mysql user may not write there
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.options = [f"--innodb-buffer-pool-size={buffer_pool}"]
        if max_connections:
            self.options.append(f"--max-connections={max_connections}")
        self.as_user = ["--user=mysql"] if os.getuid() == 0 else []

    def install(self):
        make_dir(self.data)
        make_dir(self.tmp)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "mysql:mysql", self.dir], check=True)
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                            f"--tmpdir={self.tmp}", "--auth-root-authentication-method=normal",
                            "--skip-test-db", *self.as_user],
                           capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise AssertionError(f"mariadb-install-db failed: {r.stdout}{r.stderr}")
        self.start()
        self.sql(f"CREATE USER 'smartmeter'@'127.0.0.1' IDENTIFIED BY '{self.password}';"
                 "GRANT ALL ON *.* TO 'smartmeter'@'127.0.0.1'")
        return self

    def start(self):
        self.spawn(["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
                    "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--tmpdir={self.tmp}",
                    f"--pid-file={self.dir}/mysqld.pid", "--skip-name-resolve", *self.options,
                    f"--log-error={self.dir}/error.log", *self.as_user])
        wait_until(self._up, 60, interval=0.2, what=f"mariadbd on {self.port}")

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"mariadbd exited with {self.proc.returncode}; see {self.dir}")
        return self.try_sql("SELECT 1") is not None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        return super().stop(sig, timeout)

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


# --- HTTP -----------------------------------------------------------------------------------

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


def bearer(secret):
    """The header a device (its secret) or a user (a token) authenticates with."""
    return {"Authorization": f"Bearer {secret}"}


def password_for(name):
    """The password the fixtures give a user unless told otherwise."""
    return f"{name}-password"


class Server(Daemon):
    """meter-server on a free port with a fresh database and a generated JWT secret."""

    def __init__(self, workdir, db_url, mqtt_url, extra_args=(), client_id=None):
        self.workdir = workdir
        self.db = db_url
        self.mqtt = mqtt_url
        self.port = free_port()
        self.secret_file = os.path.join(workdir, "jwt.secret")
        if not os.path.exists(self.secret_file):
            write_secret_file(self.secret_file, secrets.token_hex(32) + "\n")
        self.extra = list(extra_args)
        self.client_id = client_id or f"meter-server-{os.getpid()}-{self.port}"
        self.log_mark = 0  # where the log of the current run starts
        self.log_path = os.path.join(workdir, f"meter-server-{self.port}.log")
        self.base = f"http://127.0.0.1:{self.port}"
        self.migrations = []  # what each migrate() answered
        self.passwords = {}   # user -> password, of the users add_user() created
        self.secrets = {}     # device -> secret, of the devices add_device() created
        self.tokens = {}      # user -> token, of the users login_all() logged in

    def cli(self, *args, stdin=None, check=True):
        r = subprocess.run([METER_SERVER, *args, "--db", self.db], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"meter-server {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def migrate(self):
        r = self.cli("migrate")
        self.migrations.append(r)
        return r

    def add_user(self, name, role, password):
        self.passwords[name] = password
        return self.cli("user", "add", name, "--role", role, stdin=password + "\n")

    def add_device(self, device_id, owner):
        r = self.cli("device", "add", device_id, "--owner", owner)
        secret = r.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{64}", secret), f"device secret not alone on stdout: {r.stdout!r}"
        self.secrets[device_id] = secret
        DEVICE_SECRETS[device_id] = secret
        return secret

    def provision(self, users, devices, migrations=1):
        """migrate (migrations times), then users {name: role or (role, password)}, the
        password password_for(name) unless given, and devices {device: owner}."""
        for _ in range(migrations):
            self.migrate()
        for name, role in users.items():
            role, password = role if isinstance(role, tuple) else (role, password_for(name))
            self.add_user(name, role, password)
        for device, owner in devices.items():
            self.add_device(device, owner)
        return self

    @property
    def provisions(self):
        """The server keeps the broker's device accounts (it has the broker's server account)."""
        return broker_accounts(self.mqtt) is not None and "false" not in [
            self.extra[i + 1] for i, a in enumerate(self.extra[:-1]) if a == "--mqtt-provision"]

    def start(self):
        acc = broker_accounts(self.mqtt)
        login = ["--mqtt-username", acc.server_user,
                 "--mqtt-password-file", acc.server_password_file] if acc else []
        self.log_mark = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.spawn([METER_SERVER, "--db", self.db, "--mqtt", self.mqtt,
                    "--listen", f"127.0.0.1:{self.port}", "--jwt-secret-file", self.secret_file,
                    "--mqtt-client-id", self.client_id, *login, *self.extra])
        wait_until(self._healthy, 20, what="meter-server health")
        return self

    def start_nowait(self):
        """Starts the server as start() does but returns once the process runs, without
        waiting for its health: for a test that kills it again within its first moments."""
        acc = broker_accounts(self.mqtt)
        login = ["--mqtt-username", acc.server_user,
                 "--mqtt-password-file", acc.server_password_file] if acc else []
        self.log_mark = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.spawn([METER_SERVER, "--db", self.db, "--mqtt", self.mqtt,
                    "--listen", f"127.0.0.1:{self.port}", "--jwt-secret-file", self.secret_file,
                    "--mqtt-client-id", self.client_id, *login, *self.extra])
        return self

    def log_since_start(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_mark)
            return f.read().decode(errors="replace")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"meter-server exited with {self.proc.returncode}: {self.log()}")
        try:
            return http("GET", self.base + "/api/health", timeout=2).status == 200
        except OSError:
            return False

    def wait_mqtt(self, timeout=20):
        """Connected to the broker, and (when it provisions) every device has its account."""
        wait_until(lambda: http("GET", self.base + "/api/health").json()["mqtt"] == "connected",
                   timeout, what="server connected to the broker")
        if self.provisions:
            wait_until(lambda: re.search(r"broker: \d+ device accounts in step",
                                         self.log_since_start()), timeout,
                       what="the broker's device accounts in step")

    def url(self, path):
        return self.base + path

    def request(self, method, path, body=None, token=None, **kw):
        return http(method, self.url(path), body, token=token, **kw)

    def login(self, user, password=None, timeout=None):
        """user's token. password: the one add_user() gave, else password_for(user). With
        timeout, polls (a database just restarted answers 503 for a while) instead of
        asserting that the first answer is 200."""
        body = {"username": user,
                "password": password or self.passwords.get(user) or password_for(user)}
        if timeout is None:
            r = self.request("POST", "/api/login", body)
            assert r.status == 200, r
            return r.json()["token"]

        def attempt():
            r = self.request("POST", "/api/login", body)
            return r.json()["token"] if r.status == 200 else None
        return wait_until(attempt, timeout, interval=0.5, what=f"login at {self.client_id}")

    def login_all(self, users):
        """Logs each of users in; srv.tokens (returned) maps them to their tokens."""
        for user in users:
            self.tokens[user] = self.login(user)
        return self.tokens

    def upload(self, secret, body, check=False, **kw):
        """POST /api/device/data as the device of secret; check: assert that it was stored."""
        r = self.request("POST", "/api/device/data", body, headers=bearer(secret), **kw)
        if check:
            assert r.status == 200, r
        return r


def api_get(server, token, path, timeout=15, interval=0.1, request_timeout=30, what=None):
    """GET's JSON, waiting out a 503: after a database restart the API's pooled connection
    notices the loss on its first use and reconnects on the next."""
    def attempt():
        r = server.request("GET", path, token=token, timeout=request_timeout)
        assert r.status in (200, 503), r
        return r if r.status == 200 else None
    return wait_until(attempt, timeout, interval=interval, what=what or f"GET {path}").json()


class Meter(Daemon):
    """meterd with the built-in signal generator; by default its state in workdir/meterd-state
    and its log in workdir/meterd-<device>.log. It logs in with --secret-file: secret, else the
    newest secret its device was given (DEVICE_SECRETS) when it starts, else none."""

    def __init__(self, workdir, device_id, mqtt_url, interval="1", adc="sim", extra=(),
                 state_dir=None, log_path=None, secret=None):
        self.workdir = workdir
        self.device_id = device_id
        self.secret = secret
        self.state_dir = state_dir or os.path.join(workdir, "meterd-state")
        self.args = [METERD, "--device-id", device_id, "--mqtt", mqtt_url, "--adc", adc,
                     "--interval", interval, "--state-dir", self.state_dir, *extra]
        self.log_path = log_path or os.path.join(workdir, f"meterd-{device_id}.log")

    def start(self, note=None):
        secret = self.secret or DEVICE_SECRETS.get(self.device_id)
        login = ["--secret-file", write_device_secret(self.workdir, self.device_id, secret)] \
            if secret else []
        self.spawn(self.args + login, note)
        return self

    @property
    def state_file(self):
        return state_file(self.state_dir, self.device_id)

    @property
    def spool_dir(self):
        return spool_dir(self.state_dir, self.device_id)


# --- MQTT -----------------------------------------------------------------------------------

def broker_port(url):
    return url.rsplit(":", 1)[1]


def mqtt_publish(url, topic, payload, qos=1, retain=False, auth=None, check=True):
    """payload on topic, as the tools account unless auth says otherwise (client_args);
    returns mosquitto_pub's exit code (check: it must be 0)."""
    args = ["mosquitto_pub", *client_args(url, auth), "-t", topic, "-q", str(qos), "-s"]
    if retain:
        args.append("-r")
    return subprocess.run(args, input=payload.encode(), check=check, timeout=20,
                          capture_output=not check).returncode


def mqtt_publish_lines(url, topic, lines, wait=True):
    """Each of lines as one QoS 1 message on topic (mosquitto_pub -l), in order. Waits until
    it is done and checks that it worked; wait=False returns it running, every line handed
    over (the broker may take them as slowly as it likes)."""
    args = ["mosquitto_pub", *client_args(url), "-q", "1", "-l", "-t", topic]
    data = "".join(line + "\n" for line in lines).encode()
    if wait:
        subprocess.run(args, input=data, check=True, timeout=60)
        return None
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    p.stdin.write(data)
    p.stdin.close()
    return p


def mosquitto_sub(url, topics, *options, auth=None, **popen):
    """mosquitto_sub at QoS 1 on topics, as the tools account unless auth says otherwise
    (client_args); popen says where its output goes."""
    args = ["mosquitto_sub", *client_args(url, auth), "-q", "1", *options]
    for topic in topics:
        args += ["-t", topic]
    return subprocess.Popen(args, **popen)


def wait_subscribed(url, probe_topic, seen, interval=0.1, what="mosquitto_sub subscribed"):
    """mosquitto_sub says nothing when its subscription stands: publishes a probe on
    probe_topic until seen() says one came back."""
    def probed():
        mqtt_publish(url, probe_topic, "probe", qos=0)
        time.sleep(0.1)
        return seen()
    wait_until(probed, 15, interval=interval, what=what)


# --- the test class -------------------------------------------------------------------------

class IntegrationTest(unittest.TestCase):
    """Gives each test class a work dir that is removed unless a test failed, and the
    processes it tracks stopped at its end."""

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

    def run(self, result=None):
        result = super().run(result)
        if result and (result.failures or result.errors):
            type(self)._failed = True
        return result

    # --- the work dir ---

    @classmethod
    def path(cls, *parts):
        """A path in the work dir."""
        return os.path.join(cls.workdir, *parts)

    @classmethod
    def subdir(cls, *parts):
        """A folder in the work dir, created if need be."""
        return make_dir(cls.workdir, *parts)

    @classmethod
    def write_file(cls, name, text):
        """Writes text to the work dir's file name; returns its path."""
        return write_file(cls.path(name), text)

    @classmethod
    def track(cls, proc):
        cls._procs.append(proc)
        return proc

    @classmethod
    def db_name(cls, suffix=""):
        return re.sub(r"[^a-z0-9_]", "_", f"it_{cls.__name__}{suffix}".lower())[:60]

    # --- broker and servers ---

    @classmethod
    def private_broker(cls, broker_class=Broker):
        """A mosquitto of the class's own, cls.broker, started; returns its URL."""
        cls.broker = cls.track(broker_class(cls.workdir)).start()
        return cls.broker.url

    @classmethod
    def server_fixture(cls, users, devices=None, login=(), broker="private", db=None,
                       extra_args=(), client_id=None, migrations=1, connect=True):
        """The broker+server fixture: a started (and, with connect, broker-connected) server.

        broker: "private" (cls.private_broker(), the default: the server keeps the broker's
        device accounts in step with its database, so two classes' servers with databases of
        their own cannot share one), "shared" (the services' mosquitto) or a URL. db: a database URL (default: a fresh database of cls.backend named after the
        class). users and devices as Server.provision takes them; srv.secrets holds the
        devices' secrets and srv.tokens the tokens of the users in login."""
        if broker == "shared":
            broker = services_env()["MQTT_URL"]
        elif broker == "private":
            broker = cls.private_broker()
        srv = cls.new_server(db or new_database(cls.backend, cls.db_name(), cls.workdir), broker,
                             extra_args, client_id)
        srv.provision(users, devices or {}, migrations).start()
        if connect:
            srv.wait_mqtt()
        srv.login_all(login)
        return srv

    @classmethod
    def new_server(cls, db=None, mqtt=None, extra_args=(), client_id=None):
        """A server (tracked, not started) on db and mqtt, by default those of cls.srv."""
        return cls.track(Server(cls.workdir, db or cls.srv.db, mqtt or cls.srv.mqtt,
                                extra_args=extra_args, client_id=client_id))

    # --- API calls ---

    @classmethod
    def call(cls, method, path, body=None, who=None, token=None, srv=None, **kw):
        """One request to srv (default cls.srv) with token, or as user who of cls.tok."""
        token = token or (cls.tok[who] if who else None)
        return (srv or cls.srv).request(method, path, body, token=token, **kw)

    @classmethod
    def get(cls, path, who=None, **kw):
        return cls.call("GET", path, who=who, **kw)


def main():
    """Runs the calling module's tests; --backend sqlite|mysql picks the database."""
    argv = list(sys.argv)
    if "--backend" in argv:
        i = argv.index("--backend")
        os.environ["TEST_BACKEND"] = argv[i + 1]
        IntegrationTest.backend = argv[i + 1]
        del argv[i:i + 2]
    unittest.main(argv=argv, verbosity=2)
