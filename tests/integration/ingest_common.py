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


def stored_seqs(server, token, device):
    r = http("GET", server.url(f"/api/device/data/{device}?limit=10000"), token=token)
    assert r.status == 200, r
    return [row["seq"] for row in r.json()]


def stats(server, token):
    r = http("GET", server.url("/api/stats"), token=token)
    assert r.status == 200, r
    return r.json()
