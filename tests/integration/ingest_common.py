"""Helpers for the ingest tests: watching meters/+/ack and reading what is stored."""
import json
import subprocess
import threading
import time

from harness import http, mqtt_publish, wait_until


class AckWatcher:
    """mosquitto_sub on meters/+/ack; calls on_ack(device, payload) as each ack arrives."""

    def __init__(self, broker_url, on_ack=None):
        self.port = broker_url.rsplit(":", 1)[1]
        self.on_ack = on_ack
        self.acks = []  # (device, payload dict)
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", self.port, "-t", "meters/+/ack", "-q", "1",
             "-v"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self._wait_subscribed(broker_url)

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.strip().partition(" ")
            device = topic.split("/")[1]
            if device == "probe-ack-watcher":
                with self.lock:
                    self.acks.append((device, None))
                continue
            body = json.loads(payload)
            if self.on_ack:
                self.on_ack(device, body)
            with self.lock:
                self.acks.append((device, body))

    def _wait_subscribed(self, broker_url):
        # mosquitto_sub says nothing when its subscription stands: probe until a probe comes back.
        def seen():
            mqtt_publish(broker_url, "meters/probe-ack-watcher/ack", "probe", qos=0)
            time.sleep(0.1)
            with self.lock:
                return any(d == "probe-ack-watcher" for d, _ in self.acks)
        wait_until(seen, 15, what="ack watcher subscribed")

    def for_device(self, device):
        with self.lock:
            return [body for d, body in self.acks if d == device]

    def acked(self, device):
        """Every seq acknowledged to device, and the rejected ones."""
        seqs, rejected = set(), set()
        for body in self.for_device(device):
            for first, last in body["seqs"]:
                seqs.update(range(first, last + 1))
            for first, last in body.get("rejected", []):
                rejected.update(range(first, last + 1))
        return seqs, rejected

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return 0


def reading(seq, **extra):
    r = {"seq": seq, "ts": int(time.time() * 1000), "voltage": 230.0, "current": 5.0}
    r.update(extra)
    return r


def publish_readings(broker_url, device, readings):
    payload = readings[0] if len(readings) == 1 else readings
    mqtt_publish(broker_url, f"meters/{device}/telemetry", json.dumps(payload))


def api_get(server, token, path):
    """GET that waits out a 503: after a database restart the API's pooled connection
    notices the loss on its first use and reconnects on the next."""
    def attempt():
        r = http("GET", server.url(path), token=token)
        assert r.status in (200, 503), r
        return r if r.status == 200 else None
    return wait_until(attempt, 15, what=f"GET {path}").json()


def stored_seqs(server, token, device):
    return [row["seq"] for row in api_get(server, token, f"/api/device/data/{device}?limit=10000")]


def stats(server, token):
    return api_get(server, token, "/api/stats")


def rss_kib(pid):
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class PrivateMariaDB:
    """A MariaDB of the test's own, so the test may kill it (-9) and start it again."""

    def __init__(self, workdir):
        import os
        import secrets as _secrets
        from harness import free_port
        self.dir = os.path.join(workdir, "mariadb")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.port = free_port()
        self.password = _secrets.token_hex(12)
        self.proc = None
        os.makedirs(self.data, exist_ok=True)
        self.as_user = []
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "mysql:mysql", self.dir], check=True)
            self.as_user = ["--user=mysql"]
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                        "--auth-root-authentication-method=normal", "--skip-test-db",
                        *self.as_user], check=True, capture_output=True, timeout=120)

    def start(self):
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.sock}", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M", f"--log-error={self.dir}/error.log", *self.as_user],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(
            ["mariadb-admin", "--no-defaults", "-uroot", "-S", self.sock, "ping"],
            capture_output=True).returncode == 0, 60, what="private mariadbd")

    def sql(self, statement):
        subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", self.sock, "-e", statement],
                       check=True, capture_output=True, timeout=30)

    def create(self, name):
        self.sql(f"CREATE USER IF NOT EXISTS 'smartmeter'@'127.0.0.1' IDENTIFIED BY "
                 f"'{self.password}'; GRANT ALL ON *.* TO 'smartmeter'@'127.0.0.1'; "
                 f"CREATE DATABASE `{name}`")
        return f"mysql://smartmeter:{self.password}@127.0.0.1:{self.port}/{name}"

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.proc = None
        return 0
