"""TLS end to end, on a throwaway CA made with openssl and a mosquitto of the test's own.

meterd -> mosquitto -> meter-server over ssl://, both daemons presenting client
certificates, readings stored and acknowledged; the API over HTTPS (curl --cacert and
python's ssl module), uploads whose answers are deferred included; what is refused: a
certificate from another CA, a certificate for another name (MQTT and HTTPS clients), a
private key other users can read, TLS below 1.2, plain HTTP on the HTTPS port; and the
trusted-proxy rule: X-Forwarded-For names the client (seen through the login throttle)
only when the TCP peer is a trusted proxy.
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import unittest
import warnings

from harness import (METER_SERVER, METERD, Broker, HttpResult, IntegrationTest, Meter, Server,
                     free_port, main, make_dir, new_database, wait_until, write_file)

# The TLS broker takes anonymous clients: the certificates are what this test is about. A
# broker login is these two lines: mosquitto's lines (password_file ..., allow_anonymous
# false) and the clients' flags (--mqtt-username ..., --mqtt-password-file ...).
BROKER_AUTH = ["allow_anonymous true"]
CLIENT_LOGIN = []

OPERATOR = "op"
TENANT = "alice"


class Pki:
    """A throwaway CA (and a second, unrelated one) and certificates signed by it, in dir."""

    def __init__(self, workdir):
        self.dir = make_dir(workdir, "pki")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True, text=True,
                           timeout=60)
        if r.returncode:
            raise AssertionError(f"openssl {' '.join(args)}: {r.stderr}")

    def ca(self, name):
        """A self-signed CA: name.crt, name.key."""
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
                      "-subj", f"/CN=smartmeter test {name}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return self.path(f"{name}.crt")

    def leaf(self, name, ca, san, usage):
        """name.crt (signed by ca, for the subjectAltName san) and name.key (mode 0600)."""
        write_file(self.path(f"{name}.ext"),
                   f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   f"keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
                      f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
                      "-extfile", f"{name}.ext")
        os.chmod(self.path(f"{name}.key"), 0o600)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")


class TlsBroker(Broker):
    """mosquitto with two TLS listeners that both ask for a client certificate from the CA:
    port presents a certificate for 127.0.0.1, wrong_name_port one for wrong.example."""

    def __init__(self, workdir, pki):
        self.dir = make_dir(workdir, "mosquitto")
        self.port = free_port()
        self.wrong_name_port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [*BROKER_AUTH, "persistence false", f"log_dest file {self.dir}/mosquitto.log"]
        if os.getuid() == 0:
            lines.append("user root")
        for port, cert in ((self.port, "broker"), (self.wrong_name_port, "wrong-name")):
            lines += [f"listener {port} 127.0.0.1", f"cafile {pki.path('ca.crt')}",
                      f"certfile {pki.path(cert + '.crt')}", f"keyfile {pki.path(cert + '.key')}",
                      "require_certificate true", "tls_version tlsv1.2"]
        write_file(self.conf, "\n".join(lines) + "\n")

    @property
    def url(self):
        return f"ssl://127.0.0.1:{self.port}"

    @property
    def wrong_name_url(self):
        return f"ssl://127.0.0.1:{self.wrong_name_port}"


def client_context(cafile, minimum=None, maximum=None, ciphers=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def https(ctx, port, method, path, body=None, token=None, headers=None, source=None, conn=None):
    """One request over HTTPS (on conn when given, which stays open); HttpResult for every
    status. source: the local address to connect from (another loopback address)."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30,
                                           source_address=(source, 0) if source else None)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return HttpResult(r.status, dict(r.getheaders()), r.read().decode())
    finally:
        if own:
            conn.close()


class TlsServer(Server):
    """meter-server serving HTTPS; requests go through python's ssl module with the test CA."""

    def __init__(self, workdir, db_url, mqtt_url, pki, extra_args=()):
        super().__init__(workdir, db_url, mqtt_url, extra_args=[
            "--tls-cert-file", pki.path("https.crt"), "--tls-key-file", pki.path("https.key"),
            *extra_args])
        self.base = f"https://127.0.0.1:{self.port}"
        self.ctx = client_context(pki.path("ca.crt"))

    def request(self, method, path, body=None, token=None, headers=None, timeout=None, **kw):
        return https(self.ctx, self.port, method, path, body, token, headers, **kw)

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"meter-server exited with {self.proc.returncode}: {self.log()}")
        try:
            return self.request("GET", "/api/health").status == 200
        except OSError:
            return False

    def wait_mqtt(self, timeout=20):
        wait_until(lambda: self.request("GET", "/api/health").json()["mqtt"] == "connected",
                   timeout, what="server connected to the broker")


def handshake(ctx, port, server_hostname="127.0.0.1"):
    """A TLS handshake with the server on port; returns the version agreed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return s.version()


def stopped_counters(log):
    """meterd's counters at its clean stop: {"depth": ..., "spooled": ..., "acked": ...}."""
    m = re.search(r"spool at stop: depth (\d+), spooled (\d+), acked (\d+)", log)
    if not m:
        raise AssertionError(f"no counters at stop in meterd's log: {log[-2000:]}")
    return dict(zip(("depth", "spooled", "acked"), map(int, m.groups())))


class Tls(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        for tool in ("openssl", "curl", "mosquitto"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is not installed")
        super().setUpClass()
        pki = cls.pki = Pki(cls.workdir)
        pki.ca("ca")
        pki.ca("rogue-ca")
        pki.leaf("broker", "ca", "IP:127.0.0.1", "serverAuth")
        pki.leaf("wrong-name", "ca", "DNS:wrong.example", "serverAuth")
        pki.leaf("https", "ca", "IP:127.0.0.1", "serverAuth")
        pki.leaf("meter", "ca", "DNS:meter", "clientAuth")
        pki.leaf("server-client", "ca", "DNS:meter-server", "clientAuth")
        cls.broker = cls.track(TlsBroker(cls.workdir, pki)).start()

        cls.srv = cls.track(TlsServer(cls.workdir, new_database("sqlite", "tls", cls.workdir),
                                      cls.broker.url, pki, extra_args=[
                                          *cls.server_mqtt_tls("ca.crt"),
                                          "--trusted-proxies", "127.0.0.2, 10.0.0.0/8",
                                          "--login-max-failures", "3"]))
        cls.srv.provision({OPERATOR: "operator", TENANT: "user"},
                          {"m-tls": OPERATOR, "m-upload": OPERATOR, "m-rogue-ca": OPERATOR,
                           "m-wrong-name": OPERATOR}).start()
        cls.srv.wait_mqtt()
        cls.token = cls.srv.login(OPERATOR)
        cls.meter = cls.track(cls.new_meter("m-tls", "ca.crt", cls.broker.url)).start()

    @classmethod
    def server_mqtt_tls(cls, cafile):
        return ["--mqtt-cafile", cls.pki.path(cafile), "--mqtt-certfile",
                cls.pki.path("server-client.crt"), "--mqtt-keyfile",
                cls.pki.path("server-client.key"), *CLIENT_LOGIN]

    @classmethod
    def new_meter(cls, device, cafile, url, keyfile="meter.key"):
        return Meter(cls.workdir, device, url, interval="0.5", extra=[
            "--mqtt-cafile", cls.pki.path(cafile), "--mqtt-certfile", cls.pki.path("meter.crt"),
            "--mqtt-keyfile", cls.pki.path(keyfile), *CLIENT_LOGIN])

    def stored(self, device):
        r = self.srv.request("GET", f"/api/device/data/{device}?limit=1000", token=self.token)
        self.assertEqual(r.status, 200, r)
        return sorted(row["seq"] for row in r.json())

    def curl(self, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True,
                              text=True, timeout=30)

    # --- MQTT over ssl:// ---

    def test_1_readings_flow_over_ssl_and_are_acknowledged(self):
        wait_until(lambda: len(self.stored("m-tls")) >= 6, 60, what="readings over ssl://")
        self.assertIn(f"mqtt: connected to {self.broker.url}", self.srv.log(tail=None))
        self.assertEqual(self.meter.stop(), 0)
        counters = stopped_counters(self.meter.log(tail=None))
        seqs = self.stored("m-tls")
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "stored seqs are contiguous")
        # Acks came back over the server's and the meter's TLS links: only the last readings,
        # sent as the meter stopped, may still wait in its spool.
        self.assertGreaterEqual(counters["acked"], 5, counters)
        self.assertEqual(counters["acked"] + counters["depth"], counters["spooled"], counters)
        self.assertLessEqual(counters["depth"], 2, counters)
        self.assertIn(f"connected to {self.broker.url} as meterd-m-tls", self.meter.log(tail=None))

    def test_2_mqtt_clients_refuse_another_ca_and_another_name(self):
        meters = {
            "m-rogue-ca": self.track(self.new_meter("m-rogue-ca", "rogue-ca.crt",
                                                    self.broker.url)).start(),
            "m-wrong-name": self.track(self.new_meter("m-wrong-name", "ca.crt",
                                                      self.broker.wrong_name_url)).start(),
        }
        servers = {
            "another CA": self.new_server(new_database("sqlite", "rogue", self.workdir),
                                          self.broker.url,
                                          extra_args=self.server_mqtt_tls("rogue-ca.crt")),
            "another name": self.new_server(new_database("sqlite", "wrong", self.workdir),
                                            self.broker.wrong_name_url,
                                            extra_args=self.server_mqtt_tls("ca.crt")),
        }
        for s in servers.values():
            s.migrate()
            s.start()
        # Every client is refused, and again when it retries: paho retries meterd's first
        # connection by itself after about 3 s (without telling), the server after 1, then 2 s.
        for name, p in (*meters.items(), *servers.items()):
            wait_until(lambda: "cannot connect to ssl://" in p.log(tail=None), 30,
                       what=f"{name} refused")
        time.sleep(5)
        for device, meter in meters.items():
            self.assertNotIn("connected to ssl://", meter.log(tail=None).replace(
                "cannot connect to ssl://", ""), device)
            self.assertEqual(self.stored(device), [], device)
        for name, s in servers.items():
            self.assertNotIn("mqtt: connected to", s.log(tail=None), name)
            self.assertEqual(s.request("GET", "/api/health").json()["mqtt"], "disconnected", name)
        # OpenSSL says why the chain was refused; a wrong name has no OpenSSL reason to log.
        self.assertIn("certificate verify failed", meters["m-rogue-ca"].log(tail=None))
        self.assertIn("certificate verify failed", servers["another CA"].log(tail=None))
        for p in (*meters.values(), *servers.values()):
            self.assertEqual(p.stop(), 0)

    # --- HTTPS ---

    def test_3_the_api_answers_over_https_to_curl_and_python(self):
        ca = self.pki.path("ca.crt")
        r = self.curl("--cacert", ca, f"{self.srv.base}/api/health")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["mqtt"], "connected")
        r = self.curl("--cacert", ca, "-X", "POST", f"{self.srv.base}/api/login", "-d",
                      json.dumps({"username": OPERATOR, "password": f"{OPERATOR}-password"}))
        self.assertEqual(r.returncode, 0, r.stderr)
        token = json.loads(r.stdout)["token"]
        r = self.curl("--cacert", ca, "-H", f"Authorization: Bearer {token}",
                      f"{self.srv.base}/api/devices/m-upload")
        self.assertEqual(json.loads(r.stdout)["device_id"], "m-upload", r.stdout)

        # Uploads answer after their commit (a suspended connection, then resumed): five on one
        # kept-alive TLS connection, then twelve at once on connections of their own.
        secret = self.srv.secrets["m-upload"]
        auth = {"Authorization": f"Bearer {secret}"}
        conn = http.client.HTTPSConnection("127.0.0.1", self.srv.port, context=self.srv.ctx,
                                           timeout=30)
        try:
            for seq in range(1, 6):
                r = https(self.srv.ctx, self.srv.port, "POST", "/api/device/data",
                          {"device_id": "m-upload", "seq": seq, "voltage": 230, "current": 1},
                          headers=auth, conn=conn)
                self.assertEqual((r.status, r.json().get("stored")), (200, 1), r)
        finally:
            conn.close()

        def upload(seq):
            return https(self.srv.ctx, self.srv.port, "POST", "/api/device/data",
                         {"device_id": "m-upload", "seq": seq, "voltage": 230, "current": 1},
                         headers=auth)
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(upload, range(6, 18)))
        self.assertEqual([a.status for a in answers], [200] * 12, answers)
        self.assertEqual(self.stored("m-upload"), list(range(1, 18)))

    def test_4_the_https_port_speaks_nothing_else(self):
        # Plain HTTP gets no HTTP answer.
        r = self.curl(f"http://127.0.0.1:{self.srv.port}/api/health")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertNotIn("status", r.stdout)
        # TLS 1.2 and 1.3 are served, 1.1 is not (even to a client that would accept it).
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(self.pki.path("ca.crt"), version, version)
            self.assertEqual(handshake(ctx, self.srv.port), version.name.replace("_", "."))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 itself
            old = ssl.TLSVersion.TLSv1_1
            ctx = client_context(self.pki.path("ca.crt"), old, old, "DEFAULT:@SECLEVEL=0")
        with self.assertRaises(ssl.SSLError):
            handshake(ctx, self.srv.port)

    def test_5_https_clients_refuse_another_ca_and_another_name(self):
        port = self.srv.port
        r = self.curl("--cacert", self.pki.path("rogue-ca.crt"), f"{self.srv.base}/api/health")
        self.assertEqual(r.returncode, 60, r.stderr)  # peer certificate cannot be authenticated
        r = self.curl("--cacert", self.pki.path("ca.crt"), "--resolve",
                      f"wrong.example:{port}:127.0.0.1", f"https://wrong.example:{port}/api/health")
        self.assertEqual(r.returncode, 60, r.stderr)
        self.assertIn("wrong.example", r.stderr)
        rogue = client_context(self.pki.path("rogue-ca.crt"))
        with self.assertRaises(ssl.SSLCertVerificationError) as e:
            https(rogue, port, "GET", "/api/health")
        self.assertIn("unable to get local issuer certificate", str(e.exception))
        with self.assertRaises(ssl.SSLCertVerificationError) as e:
            handshake(self.srv.ctx, port, server_hostname="wrong.example")
        self.assertIn("mismatch", str(e.exception))
        self.assertEqual(handshake(self.srv.ctx, port)[:4], "TLSv")  # the same, by its name

    # --- private keys and the start-up checks ---

    def run_until_exit(self, args):
        return subprocess.run(args, capture_output=True, text=True, timeout=60)

    def test_6_keys_other_users_can_read_stop_both_daemons(self):
        pki = self.pki
        shared = pki.path("shared.key")
        shutil.copy(pki.path("https.key"), shared)
        os.chmod(shared, 0o640)
        other = pki.leaf("other", "ca", "IP:127.0.0.1", "serverAuth")[1]
        server = [METER_SERVER, "--db", new_database("sqlite", "never", self.workdir), "--listen",
                  "127.0.0.1:0", "--jwt-secret-file", self.srv.secret_file, "--mqtt",
                  self.broker.url]
        https_cert = ["--tls-cert-file", pki.path("https.crt")]
        cases = [
            ("HTTPS key mode", [*server, *https_cert, "--tls-key-file", shared],
             ["tls_key_file", shared, "(mode 0640)", "chmod 600"]),
            ("HTTPS key of another certificate", [*server, *https_cert, "--tls-key-file", other],
             ["tls_cert_file", "tls_key_file", "do not match"]),
            ("HTTPS certificate alone", [*server, *https_cert], ["go together"]),
            ("server's MQTT key mode", [*server, "--mqtt-cafile", pki.path("ca.crt"),
                                        "--mqtt-certfile", pki.path("server-client.crt"),
                                        "--mqtt-keyfile", shared], ["mqtt_keyfile", "chmod 600"]),
            ("meterd's MQTT key mode", [METERD, "--device-id", "m-key", "--mqtt", self.broker.url,
                                        "--state-dir", self.path("never"), "--mqtt-cafile",
                                        pki.path("ca.crt"), "--mqtt-certfile",
                                        pki.path("meter.crt"), "--mqtt-keyfile", shared],
             ["mqtt_keyfile", shared, "chmod 600"]),
        ]
        for what, args, words in cases:
            r = self.run_until_exit(args)
            self.assertEqual(r.returncode, 2, f"{what}: {r.stderr}")
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, f"{what}: {r.stderr}")
            for word in words:
                self.assertIn(word, lines[0], what)
        self.assertFalse(os.path.exists(self.path("never")), "meterd stopped before its state")

    # --- the reverse proxy ---

    def login_from(self, source, forwarded, password):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return self.srv.request("POST", "/api/login", {"username": TENANT, "password": password},
                                headers=headers, source=source).status

    def test_7_x_forwarded_for_counts_only_from_a_trusted_proxy(self):
        good = f"{TENANT}-password"
        # From the trusted proxy 127.0.0.2: three failures of the client it names...
        for guess in ("guess-1", "guess-2", "guess-3"):
            self.assertEqual(self.login_from("127.0.0.2", "198.51.100.7", guess), 401)
        # ...block that client, whatever it writes left of what the proxies add, and behind a
        # chain of trusted proxies too...
        self.assertEqual(self.login_from("127.0.0.2", "198.51.100.7", good), 429)
        self.assertEqual(self.login_from("127.0.0.2", "198.51.100.8, 198.51.100.7", good), 429)
        self.assertEqual(self.login_from("127.0.0.2", "198.51.100.7, 10.1.2.3", good), 429)
        # ...while another client behind the same proxy still logs in.
        self.assertEqual(self.login_from("127.0.0.2", "198.51.100.8", good), 200)
        self.assertIn(f"failed login for user name '{TENANT}' from 198.51.100.7",
                      self.srv.log(tail=None))

        # From a peer that is no trusted proxy the header counts for nothing: its own address
        # is blocked, whichever client it claims to forward.
        for n, guess in enumerate(("guess-4", "guess-5", "guess-6")):
            self.assertEqual(self.login_from("127.0.0.3", f"203.0.113.{n + 1}", guess), 401)
        self.assertEqual(self.login_from("127.0.0.3", "203.0.113.9", good), 429)
        self.assertEqual(self.login_from("127.0.0.3", None, good), 429)
        self.assertEqual(self.login_from("127.0.0.4", "203.0.113.1", good), 200)
        log = self.srv.log(tail=None)
        self.assertIn(f"failed login for user name '{TENANT}' from 127.0.0.3", log)
        self.assertNotIn("from 203.0.113.", log)


if __name__ == "__main__":
    main()
