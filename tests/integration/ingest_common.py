"""Helpers for the ingest tests: the ingest fixture, watching meters/+/ack and reading what
is stored."""
import json
import subprocess
import threading
import time

from harness import (OPERATOR, IntegrationTest, api_get, mosquitto_sub, mqtt_publish,
                     wait_subscribed)


def seqs_in(ranges):
    """Every seq of [[first, last], ...], as a set."""
    seqs = set()
    for first, last in ranges:
        seqs.update(range(first, last + 1))
    return seqs


class AckWatcher:
    """mosquitto_sub on meters/+/ack; calls on_ack(device, payload) as each ack arrives."""

    def __init__(self, broker_url, on_ack=None):
        self.on_ack = on_ack
        self.acks = []  # (device, payload dict)
        self.lock = threading.Lock()
        self.proc = mosquitto_sub(broker_url, ["meters/+/ack"], "-v", stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        wait_subscribed(broker_url, "meters/probe-ack-watcher/ack", self._probed,
                        what="ack watcher subscribed")

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

    def _probed(self):
        with self.lock:
            return any(d == "probe-ack-watcher" for d, _ in self.acks)

    def for_device(self, device):
        with self.lock:
            return [body for d, body in self.acks if d == device]

    def acked(self, device):
        """Every seq acknowledged to device, and the rejected ones."""
        seqs, rejected = set(), set()
        for body in self.for_device(device):
            seqs |= seqs_in(body["seqs"])
            rejected |= seqs_in(body.get("rejected", []))
        return seqs, rejected

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return 0


class IngestTest(IntegrationTest):
    """An IntegrationTest with the ingest fixture."""

    @classmethod
    def ingest_fixture(cls, devices, extra_args=(), **kw):
        """A server ready to ingest: a broker of the class's own (cls.broker), a fresh
        database (SQLite unless the run says --backend mysql; db= another), the operator op
        owning devices, the server started and connected to the broker. Sets cls.srv (also
        returned) and cls.token (op's); kw goes to server_fixture."""
        cls.srv = cls.server_fixture(OPERATOR, dict.fromkeys(devices, "op"), login=("op",),
                                     broker="private", extra_args=extra_args, **kw)
        cls.token = cls.srv.tokens["op"]
        return cls.srv

    @classmethod
    def watch_acks(cls, on_ack=None):
        """cls.watcher: an AckWatcher on the class's broker, subscribed when this returns."""
        cls.watcher = cls.track(AckWatcher(cls.broker.url, on_ack=on_ack))
        return cls.watcher


def reading(seq, **extra):
    r = {"seq": seq, "ts": int(time.time() * 1000), "voltage": 230.0, "current": 5.0}
    r.update(extra)
    return r


def publish_readings(broker_url, device, readings):
    payload = readings[0] if len(readings) == 1 else readings
    mqtt_publish(broker_url, f"meters/{device}/telemetry", json.dumps(payload))


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
